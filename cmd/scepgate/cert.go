package main

import (
	"context"
	"fmt"

	"github.com/scepgate/scepgate/admin"
	"github.com/scepgate/scepgate/model"
	"github.com/spf13/cobra"
)

func newCertCmd(cl *cli) *cobra.Command {
	cert := group(&cobra.Command{
		Use:   "cert",
		Short: "Revoke issued certificates",
		Long:  `The cert commands work on the certificates the CA issued.`,
	})
	var f certRevokeFlags
	revoke := &cobra.Command{
		Use:   "revoke",
		Short: "Revoke a certificate by serial",
		Long: `Revoke marks the certificate with serial number --serial (in hex, as the
portal shows it) as revoked for --reason, and updates the CRL so that
relying parties learn of it.`,
		Example: `  scepgate cert revoke --serial 3f2a9c0d51e4b7a8 --reason keyCompromise`,
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCertRevoke(cmd.Context(), cl, f)
		},
	}
	fs := revoke.Flags()
	fs.StringVar(&f.serial, "serial", "", "serial number of the certificate, in hex (required)")
	fs.StringVar(&f.reason, "reason", "unspecified", "RFC 5280 reason: unspecified, keyCompromise, affiliationChanged, superseded, cessationOfOperation, certificateHold, privilegeWithdrawn")
	cert.AddCommand(revoke)
	return cert
}

// certRevokeFlags are the flags of cert revoke.
type certRevokeFlags struct {
	serial, reason string
}

func runCertRevoke(ctx context.Context, cl *cli, f certRevokeFlags) error {
	if f.serial == "" {
		return usageError{"cert revoke needs --serial"}
	}
	reason, err := model.ParseRevocationReason(f.reason)
	if err != nil {
		return usageError{model.ErrorMessage(err)}
	}
	e, err := cl.open(ctx)
	if err != nil {
		return err
	}
	defer e.close()
	cert, err := e.admin(e.service()).Revoke(ctx, admin.CLI, f.serial, reason)
	if err != nil {
		return err
	}
	fmt.Fprintf(cl.stdout, "Certificate %s (%s) is revoked (%s); the CRL is updated.\n", model.SerialOpenSSL(cert.Serial), cert.Subject, f.reason)
	return nil
}
