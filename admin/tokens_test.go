package admin_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/scepgate/scepgate/admin"
	"github.com/scepgate/scepgate/internal/testenv"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki"
)

func TestCreateToken(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name       string
		in         admin.TokenInput
		field, msg string
	}{
		{"fail/no name", admin.TokenInput{Role: model.RoleAdmin}, "name", "Enter a name"},
		{"fail/spaces", admin.TokenInput{Name: "jamf prod", Role: model.RoleAdmin}, "name", "Use only letters"},
		{"fail/role", admin.TokenInput{Name: "jamf", Role: "root"}, "role", "Choose the token's role"},
		{"fail/expiry", admin.TokenInput{Name: "jamf", Role: model.RoleAdmin, ExpiresIn: time.Second}, "expires_in", "at least a minute"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := e.svc.CreateToken(ctx, admin.CLI, tc.in)
			wantField(t, err, tc.field, tc.msg)
		})
	}
	tok, secret, err := e.svc.CreateToken(ctx, admin.CLI, admin.TokenInput{Name: "jamf", Role: model.RoleHelpdesk})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(secret, admin.TokenPrefix) || strings.Contains(tok.Hash, secret) || len(tok.Hash) != 64 {
		t.Errorf("token: secret %q, hash %q; want the prefix and a hex HMAC that is not the secret", secret, tok.Hash)
	}
	_, _, err = e.svc.CreateToken(ctx, admin.CLI, admin.TokenInput{Name: "jamf", Role: model.RoleAdmin})
	wantField(t, err, "name", "already a token named")
	if _, err := e.svc.AuthenticateToken(ctx, secret+"x"); model.ErrorCode(err) != model.EUNAUTHORIZED {
		t.Errorf("wrong secret: got %v, want unauthorized", err)
	}
	// A revoked name may be used again.
	if _, err := e.svc.RevokeToken(ctx, admin.CLI, "jamf"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.svc.CreateToken(ctx, admin.CLI, admin.TokenInput{Name: "jamf", Role: model.RoleAdmin}); err != nil {
		t.Errorf("name of a revoked token: got %v, want it free", err)
	}
}

func TestSetHandlerHooks(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	in := admin.NewHandlerInput()
	in.Name, in.Filter, in.TokenProcedureID = "devices", "devices", e.pre.ID
	h, err := e.svc.SaveHandler(ctx, admin.CLI, 0, in)
	if err != nil {
		t.Fatal(err)
	}
	nd, err := e.svc.SaveHandler(ctx, admin.CLI, 0, ndesInput("ndes", "ndes/"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		id         int64
		in         admin.HooksInput
		field, msg string
	}{
		{"fail/http", h.ID, admin.HooksInput{ChallengeURL: "http://mdm.example/hook"}, "challenge_hook_url", "HTTPS only"},
		{"fail/relative", h.ID, admin.HooksInput{EventURL: "/hook"}, "event_hook_url", "full URL"},
		{"fail/credentials", h.ID, admin.HooksInput{EventURL: "https://u:p@mdm.example/hook"}, "event_hook_url", "Remove the user name"},
		{"fail/long", h.ID, admin.HooksInput{EventURL: "https://mdm.example/" + strings.Repeat("a", admin.MaxHookURL)}, "event_hook_url", "at most 2048"},
		{"fail/ndes handler", nd.ID, admin.HooksInput{EventURL: "https://mdm.example/hook"}, "challenge_hook_url", "SCEP request handlers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.svc.SetHandlerHooks(ctx, admin.CLI, tc.id, tc.in)
			wantField(t, err, tc.field, tc.msg)
		})
	}
	s, err := e.svc.SetHandlerHooks(ctx, admin.CLI, h.ID, admin.HooksInput{ChallengeURL: "https://mdm.example/challenge"})
	if err != nil || s.Challenge == "" || s.Event != "" {
		t.Fatalf("ok/challenge hook: got %+v, %v; want a challenge secret only", s, err)
	}
	stored, err := e.db.FindHandler(ctx, h.ID)
	if err != nil {
		t.Fatal(err)
	}
	mk, _ := pki.NewMasterKey(testenv.MasterSecret)
	if opened, err := mk.Open(pki.WebhookSecretPurpose, stored.ChallengeHookSecret); err != nil || string(opened) != s.Challenge {
		t.Errorf("stored secret: got %q, %v; want the secret shown, sealed", opened, err)
	}
	// Saving the handler's form keeps its hooks.
	in.Enabled = false
	if _, err := e.svc.SaveHandler(ctx, admin.CLI, h.ID, in); err != nil {
		t.Fatal(err)
	}
	if stored, _ := e.db.FindHandler(ctx, h.ID); stored.ChallengeHookURL != "https://mdm.example/challenge" {
		t.Errorf("after saving the handler: hook %q, want it kept", stored.ChallengeHookURL)
	}
}
