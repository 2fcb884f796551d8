package main

import (
	"context"
	"fmt"
	"io"

	"github.com/scepgate/scepgate/model"
)

func runCert(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "revoke" {
		return usageError{"usage: scepgate cert revoke --serial HEX [--reason keyCompromise]"}
	}
	var c commonFlags
	fs := newFlagSet("cert revoke", getenv, stderr, &c)
	serial := fs.String("serial", "", "serial number of the certificate, in hex (required)")
	reasonName := fs.String("reason", "unspecified", "RFC 5280 reason: unspecified, keyCompromise, affiliationChanged, superseded, cessationOfOperation, certificateHold, privilegeWithdrawn")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *serial == "" {
		return usageError{"cert revoke needs --serial"}
	}
	reason, err := model.ParseRevocationReason(*reasonName)
	if err != nil {
		return usageError{model.ErrorMessage(err)}
	}
	log := logger(stderr)
	e, err := open(ctx, c, setupOptions{}, getenv, stdout, log)
	if err != nil {
		return err
	}
	defer e.close()
	svc := e.service()
	cert, err := svc.Revoke(ctx, *serial, reason, "cli", "local")
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Certificate %s (%s) is revoked (%s); the CRL is updated.\n", cert.Serial, cert.Subject, *reasonName)
	return nil
}
