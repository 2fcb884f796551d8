// Command scepclient is the SCEP test client of the reference's Protocol
// Gateway, reading its configuration file, and a load generator for any
// SCEP server.
//
// The enrollment runs as steps sharing the configuration's workdir, each a
// separate invocation: getcacert, getndeschallenge, create VALUE, send,
// verify; or all of them with enroll VALUE. renew and poll continue an
// enrollment; bench and bench-floor measure servers.
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
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `scepclient: the SCEP test client and load generator.

Usage:
  scepclient -config FILE getcacert          fetch the CA chain and the RA certificate
  scepclient -config FILE getnextcacert      fetch the CA and RA that follow (CA rollover)
  scepclient -config FILE getndeschallenge   fetch an NDES one-time challenge password
  scepclient -config FILE create VALUE       new key and CSR; VALUE replaces {0}
  scepclient -config FILE send               send the CSR (PKCSReq) and save the certificate
  scepclient -config FILE verify             check the certificate and print it
  scepclient -config FILE enroll VALUE       all of the above
  scepclient -config FILE renew [VALUE]      new key, RenewalReq signed with the current certificate
  scepclient -config FILE poll               ask again for a PENDING request (CertPoll)
  scepclient bench -url URL -n N -c C ...    load test a SCEP server (bench -h for flags)
  scepclient bench-floor                     time RSA-2048 private-key operations
  scepclient bench-report -floor F -results F   write BENCHMARKS.md from their -json output

The configuration file has the reference's "key = value" format (";" and
"#" start comments): caCertUrl, certRequestUrl, ndesChallengeUrl, raCert,
workdir, p12.*, scep.cipherAlg, p10.*, ndesAdmin*, useProxyCert, proxyCert.*.
Relative paths are relative to the current directory.

Flags before the command: -config FILE, -timeout 60s (each HTTP request),
-json-challenge (ask the NDES challenge page for JSON instead of HTML).

Exit codes: 0 success; 1 failure, or PENDING (run poll later); 2 usage error.
`

// run executes the command in args and returns the process exit code.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("scepclient", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	configPath := fs.String("config", "", "configuration file in the reference's format")
	timeout := fs.Duration("timeout", 60*time.Second, "timeout of each HTTP request")
	jsonChallenge := fs.Bool("json-challenge", false, "ask the NDES challenge page for JSON instead of its HTML")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, cmdArgs := rest[0], rest[1:]
	var err error
	switch cmd {
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	case "bench":
		err = runBench(ctx, cmdArgs, stdout, stderr)
	case "bench-floor":
		err = runBenchFloor(cmdArgs, stdout, stderr)
	case "bench-report":
		err = runBenchReport(cmdArgs, stdout, stderr)
	case "getcacert", "getnextcacert", "getndeschallenge", "create", "send", "verify", "enroll", "renew", "poll":
		err = runStep(ctx, cmd, cmdArgs, *configPath, *timeout, *jsonChallenge, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "scepclient: unknown command %q. Run \"scepclient help\" for the list.\n", cmd)
		return 2
	}
	return exitCode(err, stderr)
}

// exitCode reports err on stderr and maps it to an exit code.
func exitCode(err error, stderr io.Writer) int {
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "scepclient: %s\n", ue.msg)
		return 2
	}
	fmt.Fprintf(stderr, "scepclient: %s\n", message(err))
	return 1
}

// runStep runs one enrollment step with the configuration at path.
func runStep(ctx context.Context, cmd string, args []string, path string, timeout time.Duration, jsonChallenge bool, stdout, stderr io.Writer) error {
	if path == "" {
		return usageError{fmt.Sprintf("%s needs a configuration file: scepclient -config FILE %s", cmd, cmd)}
	}
	var value string
	switch cmd {
	case "create", "enroll":
		if len(args) != 1 {
			return usageError{fmt.Sprintf("%s needs one VALUE for {0} in p10.subject, such as: scepclient -config FILE %s device1", cmd, cmd)}
		}
		value = args[0]
	case "renew":
		if len(args) > 1 {
			return usageError{"renew takes at most one VALUE for {0}: scepclient -config FILE renew [VALUE]"}
		}
		if len(args) == 1 {
			value = args[0]
		}
	default:
		if len(args) != 0 {
			return usageError{fmt.Sprintf("%s takes no arguments, got %q", cmd, args)}
		}
	}
	cfg, err := LoadConfig(path, stderr)
	if err != nil {
		return err
	}
	s := &Session{Config: cfg, Client: NewClient(timeout, 1), Out: stdout, Now: time.Now, JSONChallenge: jsonChallenge}
	switch cmd {
	case "getcacert":
		return s.GetCACert(ctx)
	case "getnextcacert":
		return s.GetNextCACert(ctx)
	case "getndeschallenge":
		return s.GetNDESChallenge(ctx)
	case "create":
		return s.Create(value)
	case "send":
		return s.Send(ctx)
	case "verify":
		return s.Verify()
	case "enroll":
		return s.Enroll(ctx, value)
	case "renew":
		return s.Renew(ctx, value)
	case "poll":
		return s.Poll(ctx)
	}
	return usageError{"unknown step " + cmd}
}

// usageError is a mistake in the command line (exit code 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// Problem is a failure explained for people: what happened and what to do
// next, in sentences.
type Problem struct{ Msg string }

func (p *Problem) Error() string { return p.Msg }

// problemf returns a *Problem with the formatted message.
func problemf(format string, args ...any) error {
	return &Problem{Msg: fmt.Sprintf(format, args...)}
}

// message returns what a person should read for err.
func message(err error) string {
	var p *Problem
	if errors.As(err, &p) {
		return p.Msg
	}
	return fmt.Sprintf("Internal error: %v. Please report it with the command you ran.", err)
}
