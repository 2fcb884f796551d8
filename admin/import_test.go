package admin_test

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/scepgate/scepgate/admin"
	"github.com/scepgate/scepgate/model"
	"golang.org/x/crypto/bcrypt"
)

// referenceHandlers is the reference's example handlers file, with the
// token procedure names of newEnv.
const referenceHandlers = `# http://<pgwy-host>:<port>/pgwy/scep/ndeschallenge/
handler.3.filter = ndeschallenge/
handler.3.format = scep-ndes
handler.3.ndesUsername = ndesadmin
handler.3.ndesPassword = ndespassword
handler.3.ndesChallengeValidity = PT15M
handler.4.filter = ndesrequest
handler.4.format = scep
handler.4.tokenprocedure = token scepndesdynamicenroll
`

// withReferenceHandlers adds the handlers the first start seeds.
func withReferenceHandlers(t *testing.T, e *env) {
	t.Helper()
	ctx := context.Background()
	base := admin.NewHandlerInput()
	base.Name, base.TokenProcedureID = "scep", e.pre.ID
	req := admin.NewHandlerInput()
	req.Name, req.Filter, req.TokenProcedureID = "ndesrequest", "ndesrequest", e.ndes.ID
	for _, in := range []admin.HandlerInput{base, ndesInput("ndeschallenge", "ndeschallenge/"), req} {
		if _, err := e.svc.SaveHandler(ctx, admin.CLI, 0, in); err != nil {
			t.Fatal(err)
		}
	}
}

func TestImportHandlers(t *testing.T) {
	tests := []struct {
		name        string
		file        string
		wantChanges []string
		wantWarn    string
		wantErr     string
	}{
		{name: "ok/the reference example changes nothing when it matches", file: referenceHandlers},
		{name: "ok/new password", file: "handler.3.filter = ndeschallenge/\nhandler.3.ndesPassword = another-password\n",
			wantChanges: []string{"Updated handler ndeschallenge: ndesPassword"}},
		{name: "ok/filter matched without its slashes", file: "handler.4.filter = /ndesrequest/\nhandler.4.allowLegacyCiphers = true\n",
			wantChanges: []string{"Updated handler ndesrequest: allowLegacyCiphers"}},
		{name: "ok/new handler", file: "handler.7.filter = fleet/\nhandler.7.format = scep-ndes\nhandler.7.ndesUsername = fleet\nhandler.7.ndesPassword = fleet-password\nhandler.7.ndesChallengeValidity = P1D\n",
			wantChanges: []string{"Created handler fleet (scep-ndes, /pgwy/scep/fleet/)"}},
		{name: "ok/unknown key warns", file: referenceHandlers + "handler.3.color = blue\nlogging.level = debug\n", wantWarn: "handler.3.color is not a handler setting"},
		{name: "fail/encrypted password", file: "handler.3.filter = ndeschallenge/\nhandler.3.ndesPassword.encrypted = AbCdEf==\n",
			wantErr: "handler.3.ndesPassword.encrypted (line 2): this value is encrypted with the reference product's own key, which scepgate cannot decrypt. Put the clear-text password in handler.3.ndesPassword instead"},
		{name: "fail/malformed validity", file: "handler.3.filter = ndeschallenge/\nhandler.3.ndesChallengeValidity = 15 minutes\n",
			wantErr: `handler.3.ndesChallengeValidity (line 2): Enter an ISO-8601 duration`},
		{name: "fail/unknown token procedure", file: "handler.4.filter = ndesrequest\nhandler.4.tokenprocedure = No Such Procedure\n",
			wantErr: `handler.4.tokenprocedure (line 2): there is no token procedure named "No Such Procedure"`},
		{name: "fail/no filter", file: "handler.9.format = scep\n", wantErr: "handler.9 (line 1) has no filter"},
		{name: "fail/new handler without format", file: "handler.9.filter = x\n", wantErr: "handler.9 (line 1) has no format"},
		{name: "fail/unknown format", file: "handler.9.filter = x\nhandler.9.format = est\n", wantErr: `handler.9.format (line 2): Choose the format scep`},
		{name: "fail/new NDES handler without password", file: "handler.9.filter = x\nhandler.9.format = scep-ndes\nhandler.9.ndesUsername = u\n", wantErr: "handler.9 (line 1): Enter the password MDMs send."},
		{name: "fail/short password", file: "handler.3.filter = ndeschallenge/\nhandler.3.ndesPassword = short\n", wantErr: "handler.3.ndesPassword (line 2): Use at least 8 characters"},
		{name: "fail/password over 72 bytes, as in the portal", file: "handler.3.filter = ndeschallenge/\nhandler.3.ndesPassword = " + strings.Repeat("p", 80) + "\n",
			wantErr: "handler.3.ndesPassword (line 2): Use at most 72 bytes"},
		{name: "fail/filter of two segments, as in the portal", file: "handler.7.filter = mdm/fleet/\nhandler.7.format = scep\nhandler.7.tokenprocedure = token scep\n",
			wantErr: "handler.7.filter (line 1): A filter is one path segment"},
		{name: "fail/not a boolean", file: "handler.4.filter = ndesrequest\nhandler.4.enabled = perhaps\n", wantErr: `handler.4.enabled (line 2): "perhaps" is not true or false`},
		{name: "fail/same filter twice", file: "handler.1.filter = a\nhandler.1.format = scep\nhandler.1.tokenprocedure = token scep" +
			"\nhandler.2.filter = a/\nhandler.2.format = scep\nhandler.2.tokenprocedure = token scep\n", wantErr: "have the same filter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t)
			withReferenceHandlers(t, e)
			before, _ := e.db.ConfigVersion(ctx)
			res, err := e.svc.ImportHandlers(ctx, admin.CLI, "handlers.properties", strings.NewReader(tt.file))
			after, _ := e.db.ConfigVersion(ctx)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(model.ErrorMessage(err), tt.wantErr) {
					t.Fatalf("error = %v; want one containing %q", err, tt.wantErr)
				}
				if after != before {
					t.Errorf("config version %d -> %d after a refused import; want nothing changed", before, after)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(res.Changes, tt.wantChanges) {
				t.Errorf("changes = %q; want %q", res.Changes, tt.wantChanges)
			}
			if (len(tt.wantChanges) > 0) != (after != before) {
				t.Errorf("config version %d -> %d; want a change exactly when something changed", before, after)
			}
			if tt.wantWarn != "" && !strings.Contains(strings.Join(res.Warnings, "\n"), tt.wantWarn) {
				t.Errorf("warnings = %q; want one containing %q", res.Warnings, tt.wantWarn)
			}
		})
	}
}

func TestImportHashesPasswords(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	withReferenceHandlers(t, e)
	file := "handler.3.filter = ndeschallenge/\nhandler.3.ndesPassword = another-password\n"
	if _, err := e.svc.ImportHandlers(ctx, admin.CLI, "h.properties", strings.NewReader(file)); err != nil {
		t.Fatal(err)
	}
	cfg, _ := e.db.LoadConfig(ctx)
	for _, h := range cfg.Handlers {
		if h.Name == "ndeschallenge" {
			if strings.Contains(h.NDESPasswordHash, "another-password") || bcrypt.CompareHashAndPassword([]byte(h.NDESPasswordHash), []byte("another-password")) != nil {
				t.Errorf("stored %q; want a bcrypt hash of the imported password", h.NDESPasswordHash)
			}
		}
	}
}
