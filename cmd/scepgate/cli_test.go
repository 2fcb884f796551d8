package main

import (
	"bytes"
	"context"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/store"
)

// runCLI runs the command line args in-process with the environment env
// and returns the exit code and what it printed.
func runCLI(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, func(k string) string { return env[k] }, &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestCLIUsage covers what the command line says about itself and how it
// refuses mistakes: help, version, typos, arguments and flags.
func TestCLIUsage(t *testing.T) {
	env := map[string]string{
		"SCEPGATE_DATA": t.TempDir(), // nothing here should open it; if one does, not ./data
		// A value from the environment may be a secret; help does not print it.
		"SCEPGATE_DATABASE": "postgres://scepgate:s3cret-db-pw@db.example/scepgate",
	}
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string
		wantStderr []string
		notStdout  []string
	}{
		{"ok/help-root", []string{"--help"}, 0,
			[]string{"SCEP gateway", "Available Commands:", "registration", "version", "--data", "env SCEPGATE_DATA, default ./data", "env SCEPGATE_DATABASE"}, nil,
			[]string{"s3cret-db-pw"}},
		{"ok/help-reject", []string{"registration", "reject", "--help"}, 0,
			[]string{"Reject refuses a pending enrollment", "scepgate registration reject ID [flags]", "--reason", "env SCEPGATE_DATA"}, nil,
			[]string{"s3cret-db-pw"}},
		{"ok/help-serve", []string{"serve", "-h"}, 0,
			[]string{"Serve runs the gateway", "scepgate serve [flags]", "env SCEPGATE_LISTEN, default :8080", "env SCEPGATE_PUBLIC_URL", "env SCEPGATE_CA_KEY, default rsa2048",
				"--init", "env SCEPGATE_INIT=true", "--tls-cert", "env SCEPGATE_TLS_CERT", "--tls-key", "env SCEPGATE_TLS_KEY", "--tls-ra", "env SCEPGATE_TLS_RA=true",
				"--listen-scep", "env SCEPGATE_LISTEN_SCEP", "--trusted-proxy", "env SCEPGATE_TRUSTED_PROXIES"}, nil,
			[]string{"s3cret-db-pw"}},
		{"ok/help-init", []string{"init", "--help"}, 0,
			[]string{"Init creates a new data folder", "scepgate init [flags]", "env SCEPGATE_CA_KEY, default rsa2048", "env SCEPGATE_PUBLIC_URL", "env SCEPGATE_DATA"}, nil,
			[]string{"s3cret-db-pw"}},
		{"ok/help-command-handlers-import", []string{"help", "handlers", "import"}, 0,
			[]string{"Import reads FILE", "scepgate handlers import FILE [flags]", "Examples:"}, nil, nil},
		{"ok/help-after-args", []string{"registration", "approve", "7", "--help"}, 0,
			[]string{"Approve issues the certificate", "scepgate registration approve ID [flags]"}, nil,
			[]string{"--reason"}}, // accepted for old scripts, hidden
		{"ok/help-cert-revoke", []string{"cert", "revoke", "--help"}, 0,
			[]string{"Revoke marks the certificate", "--serial", "keyCompromise"}, nil, nil},
		{"ok/version", []string{"version"}, 0, []string{"scepgate ", "go: go1."}, nil, nil},
		{"ok/version-flag", []string{"--version"}, 0, []string{"scepgate ", "go: go1."}, nil, nil},

		{"fail/typo", []string{"regstration"}, 2, nil,
			[]string{`scepgate: unknown command "regstration" for "scepgate"`, "Did you mean this?\n\tregistration\n", `Run "scepgate --help" for usage.`}, nil},
		{"fail/typo-subcommand", []string{"handlers", "lst"}, 2, nil,
			[]string{`unknown command "lst" for "scepgate handlers"`, "Did you mean this?\n\tlist\n"}, nil},
		{"fail/no-command", nil, 2, nil, []string{"Available Commands:", "serve"}, nil},
		{"fail/group-alone", []string{"ca"}, 2, nil, []string{"scepgate ca [command]", "import", "show"}, nil},
		{"fail/missing-arg", []string{"registration", "reject"}, 2, nil,
			[]string{"scepgate registration reject needs one argument, ID, but got none.", `Run "scepgate registration reject --help" for usage.`}, nil},
		{"fail/extra-arg", []string{"handlers", "import", "a.properties", "b.properties"}, 2, nil,
			[]string{"scepgate handlers import needs one argument, FILE, but got \"a.properties b.properties\"."}, nil},
		{"fail/arg-to-command-without-args", []string{"registration", "add", "--password", "two", "words"}, 2, nil,
			[]string{`scepgate registration add takes no arguments, but got "words".`}, nil},
		{"fail/not-an-id", []string{"registration", "approve", "seven"}, 2, nil,
			[]string{`"seven" is not a registration ID. Run "scepgate registration pending" to see the IDs.`}, nil},
		{"fail/unknown-flag", []string{"ca", "show", "--nope"}, 2, nil,
			[]string{"scepgate: unknown flag: --nope", `Run "scepgate ca show --help" for usage.`}, nil},
		{"fail/flag-without-value", []string{"registration", "reject", "7", "--reason"}, 2, nil,
			[]string{"flag needs an argument: --reason"}, nil},
		{"fail/bad-flag-value", []string{"registration", "add", "--valid-for", "a week"}, 2, nil,
			[]string{`invalid argument "a week" for "--valid-for" flag`}, nil},
		{"fail/flag-of-other-command", []string{"ca", "show", "--listen", ":9"}, 2, nil,
			[]string{"unknown flag: --listen"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, env, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code = %d; want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, stdout, stderr)
			}
			for _, w := range tt.wantStdout {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout = %q; want it to contain %q", stdout, w)
				}
			}
			for _, w := range tt.wantStderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr = %q; want it to contain %q", stderr, w)
				}
			}
			for _, n := range tt.notStdout {
				if strings.Contains(stdout, n) {
					t.Errorf("stdout = %q; want no %q", stdout, n)
				}
			}
		})
	}
}

// TestCLIFlagsAnywhere runs commands on a real data folder with the flags
// before the command, after it and after its arguments, and from the
// environment; and checks that errors the command meets while running are
// one line, without the usage.
func TestCLIFlagsAnywhere(t *testing.T) {
	ctx := context.Background()
	data := filepath.Join(t.TempDir(), "data")
	env := map[string]string{"SCEPGATE_ADMIN_PASSWORD": "admin-password-1", "SCEPGATE_NDES_PASSWORD": "ndes-password-1"}
	initData(t, env, data)
	pending := addPendingRegistration(t, data)
	id := strconv.FormatInt(pending, 10)
	// A data folder no command can create: taking it from the environment
	// instead of the flag fails.
	badData := filepath.Join(data, "not\x00a-folder")

	tests := []struct {
		name       string
		env        map[string]string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"ok/data-before-command", env, []string{"--data", data, "ca", "show"}, 0, "NDES thumbprint:", ""},
		{"ok/data-between-commands", env, []string{"ca", "--data=" + data, "show"}, 0, "NDES thumbprint:", ""},
		{"ok/data-after-command", env, []string{"ca", "show", "--data", data}, 0, "NDES thumbprint:", ""},
		{"ok/data-from-env", map[string]string{"SCEPGATE_DATA": data}, []string{"handlers", "list"}, 0, "/certsrv/mscep_admin/ is served by handler", ""},
		{"ok/flag-beats-env", map[string]string{"SCEPGATE_DATA": badData}, []string{"handlers", "list", "--data", data}, 0, "ndeschallenge", ""},
		{"ok/reject-reason-after-id", env, []string{"registration", "reject", id, "--reason", "not one of ours", "--data", data}, 0,
			"Registration " + id + " is rejected", ""},
		{"fail/reject-again", env, []string{"--data", data, "registration", "reject", id}, 1,
			"", "scepgate: The registration is not waiting for approval.\n"},
		{"fail/file-missing", env, []string{"handlers", "import", filepath.Join(data, "none.properties"), "--data", data}, 1,
			"", "scepgate: read the handlers file: open "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tt.env, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit code = %d; want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, stdout, stderr)
			}
			if !strings.Contains(stdout, tt.wantStdout) {
				t.Errorf("stdout = %q; want it to contain %q", stdout, tt.wantStdout)
			}
			if !strings.Contains(stderr, tt.wantStderr) {
				t.Errorf("stderr = %q; want it to contain %q", stderr, tt.wantStderr)
			}
			if code == 1 && (strings.Count(stderr, "\n") != 1 || strings.Contains(stderr, "Usage:")) {
				t.Errorf("stderr = %q; want one line and no usage for an error at run time", stderr)
			}
		})
	}

	db, err := store.Open(ctx, filepath.Join(data, "scepgate.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	r, err := db.FindRegistration(ctx, pending)
	if err != nil {
		t.Fatal(err)
	}
	if r.State != model.StateRejected || r.LastFailure != "not one of ours" {
		t.Errorf("registration after reject: state %q, reason %q; want %q and the --reason given after the ID", r.State, r.LastFailure, model.StateRejected)
	}
}

// initData runs `scepgate init` on data in-process with the environment
// env, and fails the test if it fails.
func initData(t *testing.T, env map[string]string, data string) {
	t.Helper()
	if code, _, stderr := runCLI(t, env, "init", "--data", data); code != 0 {
		t.Fatalf("init %s: exit %d, stderr %q; want 0", data, code, stderr)
	}
}

// addPendingRegistration records in data's database a pre-registration
// that waits for approval, as an enrollment under a token procedure that
// requires approval leaves it, and returns its ID.
func addPendingRegistration(t *testing.T, data string) int64 {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(data, "scepgate.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tps, _, err := db.ListTokenProcedures(ctx, preTokenProcedure, 1, 10)
	if err != nil || len(tps) == 0 {
		t.Fatalf("token procedure %q: %v", preTokenProcedure, err)
	}
	tp := tps[0]
	now := time.Now()
	r := &model.Registration{Kind: model.RegistrationPre, State: model.StatePending, TokenProcedureID: &tp.ID,
		ChallengeHash: "00", RequestedBy: "test", ClientAddr: "192.0.2.7", ExpiresAt: now.Add(time.Hour), UsedAt: &now,
		TransactionID: "cli-test"}
	if err := db.CreateRegistration(ctx, r); err != nil {
		t.Fatal(err)
	}
	return r.ID
}

// TestVersionText checks what version prints for builds with and without
// VCS information.
func TestVersionText(t *testing.T) {
	tests := []struct {
		name string
		info debug.BuildInfo
		want string
	}{
		{"ok/vcs", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "5fff9451"}, {Key: "vcs.time", Value: "2026-05-01T10:00:00Z"}, {Key: "vcs.modified", Value: "true"},
		}}, "scepgate v1.2.3\nrevision: 5fff9451\ntime: 2026-05-01T10:00:00Z\nmodified: true\ngo: go1.26.8\n"},
		{"ok/no-vcs", debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}},
			"scepgate (devel)\nrevision: unknown (the build recorded no VCS information)\ngo: go1.26.8\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := versionText(&tt.info); got != tt.want {
				t.Errorf("versionText = %q; want %q", got, tt.want)
			}
		})
	}
}
