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

	"github.com/scepgate/scepgate/admin"
	"github.com/scepgate/scepgate/pki"
	"github.com/spf13/cobra"
)

func newCACmd(cl *cli) *cobra.Command {
	ca := group(&cobra.Command{
		Use:   "ca",
		Short: "Show or import the CA and RA certificates",
		Long: `The ca commands show the certificate authority that issues device
certificates and the RA certificate that devices encrypt their requests to,
or replace both with ones imported from PKCS#12 files.`,
	})
	show := &cobra.Command{
		Use:   "show",
		Short: "Print the CA and RA certificates",
		Long: `Show prints the active CA, its issuer chain and the RA certificate: subject,
issuer, serial, validity, key and SHA-256 fingerprint of each, the CA's
NDES thumbprint (the one the challenge page shows) and the RA's key usage.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCAShow(cmd.Context(), cl)
		},
	}
	var f caImportFlags
	imp := &cobra.Command{
		Use:   "import",
		Short: "Import a CA and RA from PKCS#12 files",
		Long: `Import replaces the active CA and RA with an existing CA and RA, each a
PKCS#12 file with its key and chain, both under the password in the first
line of --password-file. It refuses an RA that is not issued by that CA or
lacks the key usages digitalSignature and keyEncipherment or the extended
key usage serverAuth, saying which. A running server switches to them
within a second.`,
		Example: `  scepgate ca import --ca ca.p12 --ra ra.p12 --password-file pw.txt`,
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCAImport(cmd.Context(), cl, f)
		},
	}
	fs := imp.Flags()
	fs.StringVar(&f.caFile, "ca", "", "PKCS#12 file with the CA certificate, its key and its chain (required)")
	fs.StringVar(&f.raFile, "ra", "", "PKCS#12 file with the RA certificate and key, issued by that CA (required)")
	fs.StringVar(&f.pwFile, "password-file", "", "file whose first line is the password of both PKCS#12 files (required)")
	ca.AddCommand(show, imp)
	return ca
}

func runCAShow(ctx context.Context, cl *cli) error {
	e, err := cl.openReadOnly(ctx)
	if err != nil {
		return err
	}
	defer e.close()
	a := e.authority
	printCert(cl.stdout, "CA", a.CA)
	fmt.Fprintf(cl.stdout, "  NDES thumbprint: %s\n", pki.NDESThumbprint(a.CA))
	for i, c := range a.Chain {
		printCert(cl.stdout, fmt.Sprintf("Issuer %d", i+1), c)
	}
	printCert(cl.stdout, "RA", a.RA)
	fmt.Fprintf(cl.stdout, "  Key usage: %s\n", pki.KeyUsageString(a.RA.KeyUsage))
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

// caImportFlags are the flags of ca import.
type caImportFlags struct {
	caFile, raFile, pwFile string
}

func runCAImport(ctx context.Context, cl *cli, f caImportFlags) error {
	if f.caFile == "" || f.raFile == "" || f.pwFile == "" {
		return usageError{"ca import needs --ca, --ra and --password-file"}
	}
	pw, err := os.ReadFile(f.pwFile)
	if err != nil {
		return fmt.Errorf("read password file: %w", err)
	}
	password := strings.TrimRight(strings.SplitN(string(pw), "\n", 2)[0], "\r")
	caP12, err := os.ReadFile(f.caFile)
	if err != nil {
		return fmt.Errorf("read %s: %w", f.caFile, err)
	}
	raP12, err := os.ReadFile(f.raFile)
	if err != nil {
		return fmt.Errorf("read %s: %w", f.raFile, err)
	}
	checked, err := admin.CheckCAImport(admin.CAImport{CA: caP12, RA: raP12, CAName: f.caFile, RAName: f.raFile, Password: password})
	if err != nil {
		return err
	}
	e, err := cl.open(ctx, setupOptions{skipCA: true})
	if err != nil {
		return err
	}
	defer e.close()
	a, err := e.admin(e.service()).ImportCA(ctx, admin.CLI, checked)
	if err != nil {
		return err
	}
	fmt.Fprintln(cl.stdout, "Imported; a running server switches to them within a second.")
	printCert(cl.stdout, "CA", a.CA)
	printCert(cl.stdout, "RA", a.RA)
	return nil
}
