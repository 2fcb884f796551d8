package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scepgate/scepgate/admin"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki"
	"github.com/scepgate/scepgate/store"
)

func TestTokenCommands(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	env := map[string]string{"SCEPGATE_ADMIN_PASSWORD": "admin-password-1", "SCEPGATE_NDES_PASSWORD": "ndes-password-1"}
	initData(t, env, data)
	code, out, stderr := runCLI(t, env, "token", "create", "--name", "jamf-prod", "--role", "helpdesk", "--expires", "720h", "--data", data)
	if code != 0 {
		t.Fatalf("token create: exit %d, stderr %q; want 0", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	secret := lines[len(lines)-1]
	if !strings.HasPrefix(secret, admin.TokenPrefix) || !strings.Contains(out, "shown only this once") {
		t.Fatalf("token create: got %q, want the token on the last line", out)
	}

	// The printed token authenticates against the same data folder.
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(data, "scepgate.db"), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mk, err := pki.ReadMasterKey(data, "")
	if err != nil {
		t.Fatal(err)
	}
	ops := admin.New(db, nil, mk, admin.Options{})
	tok, err := ops.AuthenticateToken(ctx, secret)
	if err != nil || tok.Name != "jamf-prod" || tok.Role != model.RoleHelpdesk || tok.ExpiresAt == nil {
		t.Fatalf("authenticate: got %+v, %v; want jamf-prod, helpdesk, expiring", tok, err)
	}

	for _, tc := range []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{"fail/duplicate", []string{"token", "create", "--name", "jamf-prod", "--role", "admin"}, 1, "", "already a token named"},
		{"fail/role", []string{"token", "create", "--name", "x", "--role", "root"}, 1, "", "Choose the token's role"},
		{"fail/usage", []string{"token", "create", "--name", "x"}, 2, "", "needs --name and --role"},
		{"ok/list", []string{"token", "list"}, 0, "jamf-prod\thelpdesk\tactive\texpires ", ""},
		{"ok/revoke", []string{"token", "revoke", "jamf-prod"}, 0, `Token "jamf-prod" is revoked`, ""},
		{"ok/list-revoked", []string{"token", "list"}, 0, "jamf-prod\thelpdesk\trevoked", ""},
		{"fail/revoke-again", []string{"token", "revoke", "jamf-prod"}, 1, "", "not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out, stderr := runCLI(t, env, append(tc.args, "--data", data)...)
			if code != tc.wantCode || !strings.Contains(out, tc.wantStdout) || !strings.Contains(stderr, tc.wantStderr) {
				t.Errorf("%v: exit %d, stdout %q, stderr %q; want %d, %q, %q", tc.args, code, out, stderr, tc.wantCode, tc.wantStdout, tc.wantStderr)
			}
		})
	}
	if _, err := ops.AuthenticateToken(ctx, secret); model.ErrorCode(err) != model.EUNAUTHORIZED {
		t.Errorf("revoked token: got %v, want unauthorized", err)
	}
}
