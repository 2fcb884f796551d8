package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"strconv"
	"time"

	"github.com/scepgate/scepgate/admin"
	"github.com/scepgate/scepgate/model"
	"github.com/spf13/cobra"
)

func newRegistrationCmd(cl *cli) *cobra.Command {
	reg := group(&cobra.Command{
		Use:   "registration",
		Short: "Pre-register enrollments and approve or reject pending ones",
		Long: `The registration commands work on enrollment registrations: the records
that authorise an enrollment and then document it. Add pre-registers a
device with a static challenge password; pending, approve and reject decide
the enrollments that wait for an administrator.`,
	})
	var af registrationAddFlags
	add := &cobra.Command{
		Use:   "add",
		Short: "Pre-register one enrollment",
		Long: `Add opens a registration that authorises one enrollment: a device that
enrolls through a handler of --token-procedure with --password as its
challenge password gets a certificate, once, within --valid-for. With
--subject-cn or --dns, the CSR must also carry that common name or DNS name.`,
		Example: `  scepgate registration add --token-procedure "SCEP Registration and Enroll Procedure" \
      --password 'device-secret' --subject-cn router-7 --valid-for 24h`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRegistrationAdd(cmd.Context(), cl, af)
		},
	}
	fs := add.Flags()
	fs.StringVar(&af.tokenProc, "token-procedure", "", "token procedure whose handlers accept the enrollment (required)")
	fs.StringVar(&af.password, "password", "", "challenge password the device puts in its CSR (required, at least 8 characters)")
	fs.StringVar(&af.cn, "subject-cn", "", "common name the CSR must carry (optional)")
	fs.StringVar(&af.dns, "dns", "", "DNS name the CSR must carry (optional)")
	fs.DurationVar(&af.validFor, "valid-for", 7*24*time.Hour, "how long the registration stays open")

	pending := &cobra.Command{
		Use:   "pending",
		Short: "List enrollments waiting for approval",
		Long: `Pending lists the enrollments that wait for an administrator, one a line:
registration ID, when the device asked, the subject of its CSR, the SCEP
transaction ID and the device's address. Approve or reject them by ID.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRegistrationPending(cmd.Context(), cl)
		},
	}

	approve := &cobra.Command{
		Use:   "approve ID",
		Short: "Approve a pending enrollment and issue its certificate",
		Long: `Approve issues the certificate a pending enrollment asked for; the device
gets it at its next poll. ID is the registration ID that "scepgate
registration pending" lists.`,
		Example: `  scepgate registration approve 7`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := registrationID(args[0])
			if err != nil {
				return err
			}
			return runRegistrationDecide(cmd.Context(), cl, "approve", id, "")
		},
	}
	// Approve once shared its flags with reject; --reason stays accepted,
	// and hidden, so that scripts that pass it keep working.
	approve.Flags().String("reason", "", "ignored")
	_ = approve.Flags().MarkHidden("reason")

	var reason string
	reject := &cobra.Command{
		Use:   "reject ID",
		Short: "Reject a pending enrollment",
		Long: `Reject refuses a pending enrollment; the device's next poll gets FAILURE.
ID is the registration ID that "scepgate registration pending" lists; the
reason goes into the registration and the audit log.`,
		Example: `  scepgate registration reject 7 --reason "not one of our devices"`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := registrationID(args[0])
			if err != nil {
				return err
			}
			return runRegistrationDecide(cmd.Context(), cl, "reject", id, reason)
		},
	}
	reject.Flags().StringVar(&reason, "reason", "", "why the request is rejected")

	reg.AddCommand(add, pending, approve, reject)
	return reg
}

// registrationID parses the ID argument of approve and reject.
func registrationID(arg string) (int64, error) {
	id, err := strconv.ParseInt(arg, 10, 64)
	if err != nil {
		return 0, usageError{fmt.Sprintf("%q is not a registration ID. Run \"scepgate registration pending\" to see the IDs.", arg)}
	}
	return id, nil
}

// registrationAddFlags are the flags of registration add.
type registrationAddFlags struct {
	tokenProc, password, cn, dns string
	validFor                     time.Duration
}

func runRegistrationAdd(ctx context.Context, cl *cli, f registrationAddFlags) error {
	if f.tokenProc == "" || f.password == "" {
		return usageError{"registration add needs --token-procedure and --password"}
	}
	e, err := cl.open(ctx)
	if err != nil {
		return err
	}
	defer e.close()
	r, err := e.admin(e.service()).AddPreRegistration(ctx, admin.CLI, admin.PreRegistrationInput{
		TokenProcedure: f.tokenProc, Password: f.password, SubjectCN: f.cn, DNSName: f.dns, ValidFor: f.validFor,
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(cl.stdout, "Registration %d is open until %s for token procedure %q.\n", r.ID, r.ExpiresAt.Format(time.RFC3339), f.tokenProc)
	return nil
}

func runRegistrationPending(ctx context.Context, cl *cli) error {
	e, err := cl.openReadOnly(ctx)
	if err != nil {
		return err
	}
	defer e.close()
	regs, err := e.db.ListPendingRegistrations(ctx)
	if err != nil {
		return err
	}
	if len(regs) == 0 {
		fmt.Fprintln(cl.stdout, "No enrollment waits for approval.")
		return nil
	}
	for _, r := range regs {
		subject := ""
		if csr, err := x509.ParseCertificateRequest(r.CSR); err == nil {
			subject = csr.Subject.String()
		}
		fmt.Fprintf(cl.stdout, "%d\t%s\t%q\ttransaction %s\tfrom %s\n", r.ID, r.UsedAt.Format(time.RFC3339), subject, r.TransactionID, r.ClientAddr)
	}
	return nil
}

func runRegistrationDecide(ctx context.Context, cl *cli, verb string, id int64, reason string) error {
	e, err := cl.open(ctx)
	if err != nil {
		return err
	}
	defer e.close()
	ops := e.admin(e.service())
	if verb == "reject" {
		if err := ops.Reject(ctx, admin.CLI, id, reason); err != nil {
			return err
		}
		fmt.Fprintf(cl.stdout, "Registration %d is rejected; the device's next poll gets FAILURE.\n", id)
		return nil
	}
	cert, err := ops.Approve(ctx, admin.CLI, id)
	if err != nil {
		return err
	}
	fmt.Fprintf(cl.stdout, "Registration %d is approved: certificate %s for %s; the device gets it at its next poll.\n", id, model.SerialOpenSSL(cert.Serial), cert.Subject)
	return nil
}
