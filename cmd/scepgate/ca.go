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
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki"
	"github.com/spf13/cobra"
)

func newCACmd(cl *cli) *cobra.Command {
	ca := group(&cobra.Command{
		Use:   "ca",
		Short: "Show, import or roll over the CA and RA certificates",
		Long: `The ca commands show the certificate authority that issues device
certificates and the RA certificate that devices encrypt their requests to,
replace both with ones imported from PKCS#12 files, or roll them over to a
new CA that devices learn from GetNextCACert (ca rollover).`,
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
	ca.AddCommand(show, imp, newCARolloverCmd(cl))
	return ca
}

func newCARolloverCmd(cl *cli) *cobra.Command {
	rollover := group(&cobra.Command{
		Use:   "rollover",
		Short: "Prepare and activate the CA that follows the current one",
		Long: `The rollover commands replace the CA as RFC 8894 (section 3.5.2) describes.
prepare makes a new CA and RA; from then on GetCACaps lists GetNextCACert,
which hands devices the new RA and CA signed by the current RA, while the
current CA keeps issuing. The new CA is self-signed and NOT cross-signed
by the current one: devices trust it because the current RA signed the
GetNextCACert answer, and relying parties need the new CA certificate
beside the old one (ca show, or the portal's CA page).
activate makes the prepared CA and RA the active ones. Certificates of the
old CA keep renewing, into the new CA, while they are unexpired and within
their renewal window, and the old CA's CRL stays published at
/pgwy/ca/OLDID/crl until they have expired. A running server follows
either step within a second.`,
	})
	var keyType string
	prepare := &cobra.Command{
		Use:   "prepare",
		Short: "Make the next CA and RA, served by GetNextCACert",
		Long: `Prepare makes a new self-signed CA (with a key of --ca-key) and an RSA RA
issued by it, not cross-signed by the current CA, and keeps them as the
next CA until activate. Preparing again replaces the pair prepared before.`,
		Example: `  scepgate ca rollover prepare --ca-key p384`,
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			e, err := cl.open(cmd.Context())
			if err != nil {
				return err
			}
			defer e.close()
			next, err := e.admin(e.service()).PrepareRollover(cmd.Context(), admin.CLI, keyType)
			if err != nil {
				return err
			}
			fmt.Fprintln(cl.stdout, "Prepared the next CA and RA; GetNextCACert serves them, and they sign nothing until: scepgate ca rollover activate")
			printCert(cl.stdout, "Next CA", next.CA)
			printCert(cl.stdout, "Next RA", next.RA)
			return nil
		},
	}
	prepare.Flags().StringVar(&keyType, "ca-key", "rsa2048", "key type of the new CA: "+strings.Join(pki.KeyTypes, ", "))
	activate := &cobra.Command{
		Use:   "activate",
		Short: "Make the prepared CA and RA the active ones",
		Long: `Activate makes the CA and RA that prepare made the active ones; the old CA
is retired. Its certificates keep renewing while unexpired and within their
window, and its CRL stays published.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			e, err := cl.open(cmd.Context())
			if err != nil {
				return err
			}
			defer e.close()
			if err := e.admin(e.service()).ActivateRollover(cmd.Context(), admin.CLI); err != nil {
				return err
			}
			fmt.Fprintln(cl.stdout, "The next CA and RA are active; a running server switches to them within a second.")
			return nil
		},
	}
	rollover.AddCommand(prepare, activate)
	return rollover
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
	caRow, raRow, err := e.db.NextAuthorities(ctx)
	if model.ErrorCode(err) == model.ENOTFOUND {
		return nil
	} else if err != nil {
		return err
	}
	next, err := pki.OpenAuthority(caRow, raRow, e.mk)
	if err != nil {
		return err
	}
	printCert(cl.stdout, "Next CA (prepared, activate with: scepgate ca rollover activate)", next.CA)
	printCert(cl.stdout, "Next RA", next.RA)
	return nil
}

func printCert(w io.Writer, label string, c *x509.Certificate) {
	fmt.Fprintf(w, "%s:\n", label)
	fmt.Fprintf(w, "  Subject: %s\n", c.Subject.String())
	fmt.Fprintf(w, "  Issuer: %s\n", c.Issuer.String())
	fmt.Fprintf(w, "  Serial: %s\n", model.SerialOpenSSL(c.SerialNumber.Text(16)))
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
	e, err := cl.open(ctx)
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
