package main

import (
	"context"
	"fmt"
	"time"

	"log/slog"

	"github.com/scepgate/scepgate/admin"
	"github.com/scepgate/scepgate/enroll"
	"github.com/scepgate/scepgate/handlers"
	"github.com/scepgate/scepgate/model"
	"github.com/spf13/cobra"
)

func newTokenCmd(cl *cli) *cobra.Command {
	tok := group(&cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke bearer tokens of the JSON API",
		Long: `The token commands manage the bearer tokens that MDMs and scripts send to
the JSON API (/api/v1/) as "Authorization: Bearer TOKEN". Each token has a
name, the role of a portal user (admin, helpdesk or auditor), and may expire.
The token is printed once, when it is made: only its keyed hash is stored.`,
	})
	var cf tokenCreateFlags
	create := &cobra.Command{
		Use:   "create",
		Short: "Make a token and print it once",
		Long: `Create makes a token named --name with the role --role and prints it once.
Keep it in the MDM's or script's secret store; it cannot be shown again.
With --expires the token stops working after that long.`,
		Example: `  scepgate token create --name jamf-prod --role helpdesk --expires 720h`,
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runTokenCreate(cmd.Context(), cl, cf)
		},
	}
	fs := create.Flags()
	fs.StringVar(&cf.name, "name", "", "the token's name, as the audit log shows it: token:NAME (required)")
	fs.StringVar(&cf.role, "role", "", "admin, helpdesk or auditor, as for portal users (required)")
	fs.DurationVar(&cf.expires, "expires", 0, "how long the token works, such as 720h (default: it does not expire)")

	list := &cobra.Command{
		Use:   "list",
		Short: "List the tokens",
		Long: `List prints one token a line: name, role, state (active, expired or
revoked), when it expires and when it was last used. Tokens themselves are
never shown.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runTokenList(cmd.Context(), cl)
		},
	}
	revoke := &cobra.Command{
		Use:     "revoke NAME",
		Short:   "Revoke a token at once",
		Long:    `Revoke ends the token named NAME: the next call that sends it gets 401.`,
		Example: `  scepgate token revoke jamf-prod`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runTokenRevoke(cmd.Context(), cl, args[0])
		},
	}
	tok.AddCommand(create, list, revoke)
	return tok
}

// tokenCreateFlags are the flags of token create.
type tokenCreateFlags struct {
	name, role string
	expires    time.Duration
}

func runTokenCreate(ctx context.Context, cl *cli, f tokenCreateFlags) error {
	if f.name == "" || f.role == "" {
		return usageError{"token create needs --name and --role"}
	}
	e, err := cl.open(ctx)
	if err != nil {
		return err
	}
	defer e.close()
	t, secret, err := e.admin(e.service()).CreateToken(ctx, admin.CLI, admin.TokenInput{Name: f.name, Role: f.role, ExpiresIn: f.expires})
	if err != nil {
		return err
	}
	fmt.Fprintf(cl.stdout, "Token %q (role %s, %s). It is shown only this once:\n%s\n", t.Name, t.Role, tokenExpiry(t), secret)
	return nil
}

func runTokenList(ctx context.Context, cl *cli) error {
	e, err := cl.open(ctx)
	if err != nil {
		return err
	}
	defer e.close()
	ts, err := e.admin(e.service()).Tokens(ctx)
	if err != nil {
		return err
	}
	if len(ts) == 0 {
		fmt.Fprintln(cl.stdout, `No API token yet. Make one with "scepgate token create --name NAME --role ROLE".`)
		return nil
	}
	now := time.Now()
	for _, t := range ts {
		used := "never used"
		if t.LastUsedAt != nil {
			used = "last used " + t.LastUsedAt.UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(cl.stdout, "%s\t%s\t%s\t%s\t%s\n", t.Name, t.Role, tokenState(&t, now), tokenExpiry(&t), used)
	}
	return nil
}

func runTokenRevoke(ctx context.Context, cl *cli, name string) error {
	e, err := cl.open(ctx)
	if err != nil {
		return err
	}
	defer e.close()
	if _, err := e.admin(e.service()).RevokeToken(ctx, admin.CLI, name); err != nil {
		return err
	}
	fmt.Fprintf(cl.stdout, "Token %q is revoked; calls that send it get 401 from now on.\n", name)
	return nil
}

func tokenState(t *model.Token, now time.Time) string {
	switch {
	case t.RevokedAt != nil:
		return "revoked"
	case !t.Usable(now):
		return "expired"
	}
	return "active"
}

func tokenExpiry(t *model.Token) string {
	if t.ExpiresAt == nil {
		return "does not expire"
	}
	return "expires " + t.ExpiresAt.UTC().Format(time.RFC3339)
}

// newAPI wires the JSON API to the database and the enrollment service;
// obs (nil: none) counts wrong tokens and NDES passwords.
func newAPI(e *env, svc *enroll.Service, log *slog.Logger, obs handlers.Observer) *handlers.API {
	return &handlers.API{Admin: e.admin(svc), Store: e.db, Service: svc, Limiter: &handlers.TokenLimiter{Store: e.db},
		Now: time.Now, Log: log, Observer: obs}
}
