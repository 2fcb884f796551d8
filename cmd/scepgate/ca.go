package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki"
)

func runCA(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"usage: scepgate ca show | scepgate ca import --ca CA.p12 --ra RA.p12 --password-file FILE"}
	}
	switch args[0] {
	case "show":
		return runCAShow(ctx, args[1:], getenv, stdout, stderr)
	case "import":
		return runCAImport(ctx, args[1:], getenv, stdout, stderr)
	}
	return usageError{fmt.Sprintf("unknown ca command %q: use show or import", args[0])}
}

func runCAShow(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var c commonFlags
	fs := newFlagSet("ca show", getenv, stderr, &c)
	if err := fs.Parse(args); err != nil {
		return err
	}
	e, err := open(ctx, c, setupOptions{}, getenv, stdout, logger(stderr))
	if err != nil {
		return err
	}
	defer e.close()
	a := e.authority
	printCert(stdout, "CA", a.CA)
	fmt.Fprintf(stdout, "  NDES thumbprint: %s\n", pki.NDESThumbprint(a.CA))
	for i, c := range a.Chain {
		printCert(stdout, fmt.Sprintf("Issuer %d", i+1), c)
	}
	printCert(stdout, "RA", a.RA)
	fmt.Fprintf(stdout, "  Key usage: %s\n", pki.KeyUsageString(a.RA.KeyUsage))
	return nil
}

func printCert(w io.Writer, label string, c *x509.Certificate) {
	fmt.Fprintf(w, "%s:\n", label)
	fmt.Fprintf(w, "  Subject: %s\n", c.Subject.String())
	fmt.Fprintf(w, "  Issuer: %s\n", c.Issuer.String())
	fmt.Fprintf(w, "  Serial: %s\n", strings.ToLower(c.SerialNumber.Text(16)))
	fmt.Fprintf(w, "  Valid: %s to %s\n", c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "  Key: %s\n", keyDescription(c.PublicKey))
	fmt.Fprintf(w, "  SHA-256: %s\n", pki.SHA256Fingerprint(c))
}

func keyDescription(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d", k.N.BitLen())
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	}
	return fmt.Sprintf("%T", pub)
}

func runCAImport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var c commonFlags
	fs := newFlagSet("ca import", getenv, stderr, &c)
	caFile := fs.String("ca", "", "PKCS#12 file with the CA certificate, its key and its chain (required)")
	raFile := fs.String("ra", "", "PKCS#12 file with the RA certificate and key, issued by that CA (required)")
	pwFile := fs.String("password-file", "", "file whose first line is the password of both PKCS#12 files (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *caFile == "" || *raFile == "" || *pwFile == "" {
		return usageError{"ca import needs --ca, --ra and --password-file"}
	}
	pw, err := os.ReadFile(*pwFile)
	if err != nil {
		return fmt.Errorf("read password file: %w", err)
	}
	password := strings.TrimRight(strings.SplitN(string(pw), "\n", 2)[0], "\r")
	a, err := loadPKCS12Pair(*caFile, *raFile, password)
	if err != nil {
		return err
	}
	log := logger(stderr)
	e, err := open(ctx, c, setupOptions{skipCA: true}, getenv, stdout, log)
	if err != nil {
		return err
	}
	defer e.close()
	caRow, raRow, err := pki.SealAuthority(a, e.mk)
	if err != nil {
		return err
	}
	audit := &model.AuditEvent{Actor: "cli", Action: "ca.import", Target: a.CA.Subject.String(),
		Detail: "imported CA " + pki.SHA256Fingerprint(a.CA) + " and RA " + pki.SHA256Fingerprint(a.RA)}
	if err := e.db.ReplaceAuthorities(ctx, caRow, raRow, audit); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "Imported; a running server switches to them within a second.")
	printCert(stdout, "CA", a.CA)
	printCert(stdout, "RA", a.RA)
	return nil
}

// loadPKCS12Pair reads the CA and RA PKCS#12 files and checks that the RA
// can serve that CA.
func loadPKCS12Pair(caFile, raFile, password string) (*pki.Authority, error) {
	caP12, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", caFile, err)
	}
	raP12, err := os.ReadFile(raFile)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", raFile, err)
	}
	return pki.ParsePKCS12Pair(caP12, raP12, caFile, raFile, password)
}
