package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/scepgate/scepgate/admin"
	"github.com/scepgate/scepgate/model"
	"github.com/spf13/cobra"
)

func newHandlersCmd(cl *cli) *cobra.Command {
	h := group(&cobra.Command{
		Use:   "handlers",
		Short: "List, import and alias the SCEP handlers",
		Long: `The handlers commands work on handlers, the SCEP-facing URLs under
/pgwy/scep/<filter>: SCEP endpoints (format scep) bound to a token procedure
and NDES challenge endpoints (format scep-ndes). They list them, create or
update them from the reference's handler.N.* properties file, and choose
which handlers serve Microsoft's NDES paths.`,
	})
	list := &cobra.Command{
		Use:   "list",
		Short: "List the handlers and the Microsoft NDES path aliases",
		Long: `List prints each handler, one a line: name, format, enabled or disabled and
its path; then which handlers serve /certsrv/mscep_admin/ and
/certsrv/mscep/mscep.dll.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runHandlersList(cmd.Context(), cl)
		},
	}
	imp := &cobra.Command{
		Use:   "import FILE",
		Short: "Create or update handlers from a handler.N.* properties file",
		Long: `Import reads FILE, a properties file with the reference's handler.N.*
settings (filter, format, tokenprocedure, ndesUsername, ndesPassword,
ndesChallengeValidity, and scepgate's own name, enabled, allowLegacyCiphers,
ndesPasswordLength, ndesPasswordCap, ndesByteOrderMark), and creates the
handlers it describes or updates those with the same filter. It warns about
keys it does not know and skips them; if any value cannot be imported as
written, it says which and imports nothing. Running servers use the new
settings within a second.`,
		Example: `  scepgate handlers import handlers.properties`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runHandlersImport(cmd.Context(), cl, args[0])
		},
	}
	var af handlersAliasFlags
	alias := &cobra.Command{
		Use:   "alias",
		Short: "Map /certsrv/mscep_admin/ and /certsrv/mscep/mscep.dll to handlers",
		Long: `Alias chooses the handlers that serve Microsoft's NDES paths, so that MDMs
and devices set up for NDES work unchanged: --mscep-admin names an NDES
challenge handler (format scep-ndes) for /certsrv/mscep_admin/, --mscep a
SCEP handler (format scep) for /certsrv/mscep/mscep.dll. Without flags it
prints the current choice.`,
		Example: `  scepgate handlers alias --mscep-admin ndeschallenge --mscep ndesrequest`,
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runHandlersAlias(cmd.Context(), cl, af)
		},
	}
	alias.Flags().StringVar(&af.admin, "mscep-admin", "", "NDES challenge handler (format scep-ndes) that serves /certsrv/mscep_admin/")
	alias.Flags().StringVar(&af.mscep, "mscep", "", "SCEP handler (format scep) that serves /certsrv/mscep/mscep.dll")
	h.AddCommand(list, imp, alias)
	return h
}

func runHandlersList(ctx context.Context, cl *cli) error {
	e, err := cl.openReadOnly(ctx)
	if err != nil {
		return err
	}
	defer e.close()
	cfg, err := e.db.LoadConfig(ctx)
	if err != nil {
		return err
	}
	for _, h := range cfg.Handlers {
		state := "enabled"
		if !h.Enabled {
			state = "disabled"
		}
		fmt.Fprintf(cl.stdout, "%-20s %-10s %-9s %s\n", h.Name, h.Format, state, h.Path())
		if accepts := admin.HandlerAccepts(cfg, &h).Describe(); len(accepts) > 0 {
			fmt.Fprintf(cl.stdout, "%-20s accepts %s\n", "", strings.Join(accepts, "; "))
		}
	}
	printAliases(cl.stdout, cfg.Aliases)
	return nil
}

func printAliases(w io.Writer, a model.Aliases) {
	fmt.Fprintf(w, "/certsrv/mscep_admin/ is served by handler %s\n", a.MSCEPAdmin)
	fmt.Fprintf(w, "/certsrv/mscep/mscep.dll is served by handler %s\n", a.MSCEP)
}

// handlersAliasFlags are the flags of handlers alias.
type handlersAliasFlags struct {
	admin, mscep string
}

func runHandlersAlias(ctx context.Context, cl *cli, f handlersAliasFlags) error {
	e, err := cl.open(ctx)
	if err != nil {
		return err
	}
	defer e.close()
	if err := e.admin(e.service()).SetAliases(ctx, admin.CLI, model.Aliases{MSCEPAdmin: f.admin, MSCEP: f.mscep}); err != nil {
		return err
	}
	a, err := e.db.Aliases(ctx)
	if err != nil {
		return err
	}
	printAliases(cl.stdout, a)
	return nil
}

func runHandlersImport(ctx context.Context, cl *cli, file string) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("read the handlers file: %w", err)
	}
	defer f.Close()
	e, err := cl.open(ctx)
	if err != nil {
		return err
	}
	defer e.close()
	res, err := e.admin(e.service()).ImportHandlers(ctx, admin.CLI, filepath.Base(file), f)
	if err != nil {
		return err
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(cl.stderr, "scepgate: warning: %s\n", w)
	}
	if len(res.Changes) == 0 {
		fmt.Fprintf(cl.stdout, "Nothing to change: the %d handlers in %s are already set up as the file says.\n", res.Handlers, file)
		return nil
	}
	for _, s := range res.Changes {
		fmt.Fprintln(cl.stdout, s+".")
	}
	fmt.Fprintf(cl.stdout, "Imported %s: %d of %d handlers changed; running servers use them within a second.\n", file, len(res.Changes), res.Handlers)
	return nil
}
