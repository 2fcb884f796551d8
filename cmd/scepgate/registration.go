package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/scepgate/scepgate/enroll"
)

func runRegistration(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"usage: scepgate registration add|pending|approve|reject ..."}
	}
	switch args[0] {
	case "add":
	case "pending":
		return runRegistrationPending(ctx, args[1:], getenv, stdout, stderr)
	case "approve", "reject":
		return runRegistrationDecide(ctx, args[0], args[1:], getenv, stdout, stderr)
	default:
		return usageError{fmt.Sprintf("unknown registration command %q: use add, pending, approve or reject", args[0])}
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
	log := logger(stderr)
	e, err := open(ctx, c, setupOptions{}, getenv, stdout, log)
	if err != nil {
		return err
	}
	defer e.close()
	svc := e.service()
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

func runRegistrationPending(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var c commonFlags
	fs := newFlagSet("registration pending", getenv, stderr, &c)
	if err := fs.Parse(args); err != nil {
		return err
	}
	e, err := open(ctx, c, setupOptions{}, getenv, stdout, logger(stderr))
	if err != nil {
		return err
	}
	defer e.close()
	regs, err := e.db.ListPendingRegistrations(ctx)
	if err != nil {
		return err
	}
	if len(regs) == 0 {
		fmt.Fprintln(stdout, "No enrollment waits for approval.")
		return nil
	}
	for _, r := range regs {
		subject := ""
		if csr, err := x509.ParseCertificateRequest(r.CSR); err == nil {
			subject = csr.Subject.String()
		}
		fmt.Fprintf(stdout, "%d\t%s\t%q\ttransaction %s\tfrom %s\n", r.ID, r.UsedAt.Format(time.RFC3339), subject, r.TransactionID, r.ClientAddr)
	}
	return nil
}

func runRegistrationDecide(ctx context.Context, verb string, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var c commonFlags
	fs := newFlagSet("registration "+verb, getenv, stderr, &c)
	reason := fs.String("reason", "", "why the request is rejected (reject only)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return usageError{fmt.Sprintf("usage: scepgate registration %s ID", verb)}
	}
	id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
	if err != nil {
		return usageError{fmt.Sprintf("%q is not a registration ID", fs.Arg(0))}
	}
	log := logger(stderr)
	e, err := open(ctx, c, setupOptions{}, getenv, stdout, log)
	if err != nil {
		return err
	}
	defer e.close()
	svc := e.service()
	if verb == "reject" {
		if err := svc.Reject(ctx, id, *reason, "cli"); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "Registration %d is rejected; the device's next poll gets FAILURE.\n", id)
		return nil
	}
	cert, err := svc.Approve(ctx, id, "cli")
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Registration %d is approved: certificate %s for %s; the device gets it at its next poll.\n", id, cert.Serial, cert.Subject)
	return nil
}
