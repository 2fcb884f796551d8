package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/scepgate/scepgate/enroll"
)

func runRegistration(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "add" {
		return usageError{"usage: scepgate registration add --token-procedure NAME --password PW [--subject-cn CN] [--dns NAME] [--valid-for DURATION]"}
	}
	var c commonFlags
	fs := newFlagSet("registration add", getenv, stderr, &c)
	tokenProc := fs.String("token-procedure", "", "token procedure whose handlers accept the enrollment (required)")
	password := fs.String("password", "", "challenge password the device puts in its CSR (required, at least 8 characters)")
	cn := fs.String("subject-cn", "", "common name the CSR must carry (optional)")
	dns := fs.String("dns", "", "DNS name the CSR must carry (optional)")
	validFor := fs.Duration("valid-for", 7*24*time.Hour, "how long the registration stays open")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *tokenProc == "" || *password == "" {
		return usageError{"registration add needs --token-procedure and --password"}
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	e, err := open(ctx, c, setupOptions{}, getenv, stdout, log)
	if err != nil {
		return err
	}
	defer e.close()
	svc := enroll.NewService(e.db, e.mk, enroll.Options{Logger: log})
	r, err := svc.AddPreRegistration(ctx, enroll.PreRegistration{
		TokenProcedure: *tokenProc, Password: *password, SubjectCN: *cn, DNSName: *dns,
		ValidFor: *validFor, RequestedBy: "cli", ClientAddr: "local",
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Registration %d is open until %s for token procedure %q.\n", r.ID, r.ExpiresAt.Format(time.RFC3339), *tokenProc)
	return nil
}
