// Command scepgate runs the SCEP gateway and administers its data folder.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `scepgate: a SCEP gateway with NDES-compatible one-time passwords.

Usage:
  scepgate serve                 run the server (creates the data folder on first start)
  scepgate ca show               print the CA and RA certificates
  scepgate ca import             import a CA and RA from PKCS#12 files
  scepgate registration add      pre-register one enrollment
  scepgate handlers list         list the handlers and the Microsoft NDES path aliases
  scepgate handlers import FILE  create or update handlers from a handler.N.* properties file
  scepgate handlers alias        map /certsrv/mscep_admin/ and /certsrv/mscep/mscep.dll to handlers
  scepgate registration pending  list enrollments waiting for approval
  scepgate registration approve ID | reject ID [--reason TEXT]
  scepgate cert revoke           revoke a certificate by serial

Every command takes --data DIR (SCEPGATE_DATA, default ./data) and
--database DSN (SCEPGATE_DATABASE, default the SQLite file DIR/scepgate.db).
Run "scepgate COMMAND -h" for the flags of a command.
`

// run executes the command in args and returns the process exit code.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = runServe(ctx, args[1:], getenv, stdout, stderr)
	case "ca":
		err = runCA(ctx, args[1:], getenv, stdout, stderr)
	case "registration":
		err = runRegistration(ctx, args[1:], getenv, stdout, stderr)
	case "handlers":
		err = runHandlers(ctx, args[1:], getenv, stdout, stderr)
	case "cert":
		err = runCert(ctx, args[1:], getenv, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "scepgate: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	var ue usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(stderr, "scepgate: %s\n", ue.msg)
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "scepgate: %s\n", message(err))
		return 1
	}
	return 0
}

// usageError is a mistake in the command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// commonFlags are the flags every command takes.
type commonFlags struct {
	data     string
	database string
}

// newFlagSet returns a flag set with the common flags, whose defaults
// fall back to the environment.
func newFlagSet(name string, getenv func(string) string, stderr io.Writer, c *commonFlags) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.data, "data", envOr(getenv, "SCEPGATE_DATA", "./data"), "data folder (SCEPGATE_DATA)")
	fs.StringVar(&c.database, "database", getenv("SCEPGATE_DATABASE"), "database: a SQLite file path or a postgres:// URL (SCEPGATE_DATABASE; default DATA/scepgate.db)")
	return fs
}

func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}
