// Command scepgate runs the SCEP gateway and administers its data folder.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/scepgate/scepgate/store"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes the command in args and returns the process exit code:
// 0 when it succeeded, 2 for a mistake in the command line, 1 for any
// other error.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if args == nil {
		args = []string{} // cobra reads os.Args when given nil
	}
	root := newRootCmd(&cli{getenv: getenv, stdout: stdout, stderr: stderr})
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0
	}
	if cmd == nil {
		cmd = root
	}
	var ue usageError
	if errors.As(err, &ue) {
		if ue.msg != "" {
			fmt.Fprintf(stderr, "scepgate: %s\n", ue.msg)
			fmt.Fprintf(stderr, "Run %q for usage.\n", cmd.CommandPath()+" --help")
		}
		return 2
	}
	fmt.Fprintf(stderr, "scepgate: %s\n", message(err))
	return 1
}

// cli is what every command works with: the process's environment and
// output, and the flags all commands share.
type cli struct {
	getenv         func(string) string
	stdout, stderr io.Writer
	common         commonFlags
	logging        logFlags
}

// commonFlags are the flags every command takes.
type commonFlags struct {
	data        string
	database    string
	synchronous string // SQLite's PRAGMA synchronous: full or normal
}

// open opens the initialised data folder the common flags name (see
// open), and logs to standard error as the log flags say.
func (cl *cli) open(ctx context.Context) (*env, error) {
	return cl.openMode(ctx, store.MigrateApply)
}

// openMode opens the data folder as open does, migrating as mode says.
func (cl *cli) openMode(ctx context.Context, mode store.MigrateMode) (*env, error) {
	log, err := logger(cl.stderr, cl.logging)
	if err != nil {
		return nil, err
	}
	if _, err := storeOptions(cl.common, mode); err != nil {
		return nil, err
	}
	return open(ctx, cl.folder(), mode, log)
}

const rootLong = `scepgate is a SCEP gateway with a built-in certificate authority,
Microsoft NDES-compatible one-time challenge passwords and an admin portal.

Every command works on a data folder (--data, env SCEPGATE_DATA, default
./data) and its database (--database, env SCEPGATE_DATABASE: a SQLite file,
by default DATA/scepgate.db, or a postgres:// URL), and works while the
server runs. "scepgate init" (or "scepgate serve --init") creates a data
folder: the master key file that encrypts the CA and RA keys (or set
SCEPGATE_MASTER_KEY), the database, the CA and RA, and the reference's
procedures, handlers and admin user. Every other command refuses a data
folder that is missing, empty, incomplete or not scepgate's, and says what
to run.

Flags take two dashes (--data, not -data) and may come before or after
the command and its arguments.`

// newRootCmd returns the scepgate command with all its subcommands.
func newRootCmd(cl *cli) *cobra.Command {
	root := &cobra.Command{
		Use:     "scepgate",
		Short:   "A SCEP gateway with NDES-compatible one-time passwords",
		Long:    rootLong,
		Version: version(),
		// run prints errors and decides when usage helps.
		SilenceErrors: true,
		SilenceUsage:  true,
		CompletionOptions: cobra.CompletionOptions{
			DisableDefaultCmd: true,
		},
	}
	group(root)
	root.SetVersionTemplate("{{.Version}}")
	root.SetOut(cl.stdout)
	root.SetErr(cl.stderr)
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return usageError{err.Error()}
	})
	pf := root.PersistentFlags()
	cl.envString(pf, &cl.common.data, envFlag{name: "data", env: "SCEPGATE_DATA", def: "./data",
		help: "data folder"})
	cl.envString(pf, &cl.common.database, envFlag{name: "database", env: "SCEPGATE_DATABASE", shownDef: "the SQLite file DATA/scepgate.db",
		help: "database: a SQLite file path or a postgres:// URL"})
	cl.addLogFlags(pf)
	cl.addStoreFlags(pf)
	root.AddCommand(
		newInitCmd(cl),
		newServeCmd(cl),
		newCACmd(cl),
		newRegistrationCmd(cl),
		newHandlersCmd(cl),
		newCertCmd(cl),
		newTokenCmd(cl),
		newVersionCmd(cl),
		newBackupCmd(cl),
		newRestoreCmd(cl),
		newMigrateCmd(cl),
	)
	return root
}

// usageError is a mistake in the command line. One with an empty message
// has already been explained to the user.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// group makes cmd a command that only groups subcommands: run alone, it
// prints its help on standard error and fails as a usage error; run with
// an argument that is no subcommand, it says so and suggests the nearest
// names.
func group(cmd *cobra.Command) *cobra.Command {
	cmd.SuggestionsMinimumDistance = 2
	cmd.Args = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t") + "\n"
		}
		return usageError{msg}
	}
	cmd.RunE = func(cmd *cobra.Command, _ []string) error {
		cmd.SetOut(cmd.ErrOrStderr())
		_ = cmd.Help()
		return usageError{}
	}
	return cmd
}

// exactArgs is the Args of a command that takes n arguments, named in its
// Use after the command name; any other number is a usage error.
func exactArgs(n int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) == n {
			return nil
		}
		got := "none"
		if len(args) > 0 {
			got = fmt.Sprintf("%q", strings.Join(args, " "))
		}
		if n == 0 {
			return usageError{fmt.Sprintf("%s takes no arguments, but got %s. Quote flag values that contain spaces.", cmd.CommandPath(), got)}
		}
		want := "one argument"
		if n != 1 {
			want = fmt.Sprintf("%d arguments", n)
		}
		names := strings.Join(strings.Fields(cmd.Use)[1:], " ")
		return usageError{fmt.Sprintf("%s needs %s, %s, but got %s.", cmd.CommandPath(), want, names, got)}
	}
}

// envFlag describes a string flag whose default comes from the
// environment.
type envFlag struct {
	name     string
	env      string // the environment variable that sets the default
	def      string // the default when env is unset or empty
	shownDef string // how the help describes the default, when def does not say it
	help     string
}

// envString defines f on fs, storing into p. Its help names the
// environment variable and the default.
func (cl *cli) envString(fs *pflag.FlagSet, p *string, f envFlag) {
	shown := f.shownDef
	if shown == "" {
		shown = f.def
	}
	fs.StringVar(p, f.name, envOr(cl.getenv, f.env, f.def), fmt.Sprintf("%s (env %s, default %s)", f.help, f.env, shown))
	// The help says the default already; and the value taken from the
	// environment (a postgres:// URL with its password, say) is not for
	// printing.
	fs.Lookup(f.name).DefValue = ""
}

// envBool defines the boolean flag f on fs, storing into p, with its
// default from the environment (true, false, 1, 0, ...). It returns the
// problem with the environment's value, if any, for the command to report
// when it runs.
func (cl *cli) envBool(fs *pflag.FlagSet, p *bool, f envFlag) error {
	var def bool
	var problem error
	if v := cl.getenv(f.env); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			problem = fmt.Errorf("%s=%q is not true or false", f.env, v)
		}
		def = b
	}
	fs.BoolVar(p, f.name, def, fmt.Sprintf("%s (env %s=true)", f.help, f.env))
	fs.Lookup(f.name).DefValue = "false"
	return problem
}

// envStrings defines the repeatable flag f on fs, storing into p; each
// value may list several, separated by commas, and so may the
// environment variable that gives the default.
func (cl *cli) envStrings(fs *pflag.FlagSet, p *[]string, f envFlag) {
	var def []string
	for v := range strings.SplitSeq(cl.getenv(f.env), ",") {
		if v = strings.TrimSpace(v); v != "" {
			def = append(def, v)
		}
	}
	fs.StringSliceVar(p, f.name, def, fmt.Sprintf("%s; repeat the flag or separate with commas (env %s)", f.help, f.env))
	fs.Lookup(f.name).DefValue = "[]"
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}
