package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/scepgate/scepgate/internal/properties"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/store"
	"golang.org/x/crypto/bcrypt"
)

// ndesImportConfig is a configuration as the first start seeds it, with
// ndesadmin's password "ndespassword".
func ndesImportConfig(t *testing.T) *model.Config {
	t.Helper()
	hash, err := bcrypt.GenerateFromPassword([]byte("ndespassword"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	tp, preTP := int64(1), int64(2)
	return &model.Config{
		TokenProcedures: []model.TokenProcedure{{ID: 1, Name: ndesTokenProcedure}, {ID: 2, Name: preTokenProcedure}},
		Handlers: []model.Handler{
			{ID: 1, Name: "scep", Filter: "", Format: model.HandlerSCEP, Enabled: true, TokenProcedureID: &preTP},
			{ID: 2, Name: "ndeschallenge", Filter: "ndeschallenge/", Format: model.HandlerNDES, Enabled: true, NDESUsername: "ndesadmin",
				NDESPasswordHash: string(hash), NDESChallengeValidity: "PT15M", NDESPasswordLength: 16, NDESPasswordCap: 100},
			{ID: 3, Name: "ndesrequest", Filter: "ndesrequest", Format: model.HandlerSCEP, Enabled: true, TokenProcedureID: &tp},
		},
	}
}

func TestPlanImport(t *testing.T) {
	tests := []struct {
		name        string
		file        string
		wantChanges []string // summaries
		wantWarn    string
		wantErr     string
	}{
		{name: "ok/the reference example changes nothing when it matches", file: ndesReferenceHandlers},
		{name: "ok/new password", file: "handler.3.filter = ndeschallenge/\nhandler.3.ndesPassword = another-password\n",
			wantChanges: []string{"Updated handler ndeschallenge: ndesPassword"}},
		{name: "ok/filter matched without its slashes", file: "handler.4.filter = /ndesrequest/\nhandler.4.allowLegacyCiphers = true\n",
			wantChanges: []string{"Updated handler ndesrequest: allowLegacyCiphers"}},
		{name: "ok/new handler", file: "handler.7.filter = mdm/fleet/\nhandler.7.format = scep-ndes\nhandler.7.ndesUsername = fleet\nhandler.7.ndesPassword = fleet-password\nhandler.7.ndesChallengeValidity = P1D\n",
			wantChanges: []string{"Created handler mdm-fleet (scep-ndes, /pgwy/scep/mdm/fleet/)"}},
		{name: "ok/unknown key warns", file: ndesReferenceHandlers + "handler.3.color = blue\nlogging.level = debug\n", wantWarn: "handler.3.color is not a handler setting"},
		{name: "fail/encrypted password", file: "handler.3.filter = ndeschallenge/\nhandler.3.ndesPassword.encrypted = AbCdEf==\n",
			wantErr: "handler.3.ndesPassword.encrypted (line 2): this value is encrypted with the reference product's own key, which scepgate cannot decrypt. Put the clear-text password in handler.3.ndesPassword instead"},
		{name: "fail/malformed validity", file: "handler.3.filter = ndeschallenge/\nhandler.3.ndesChallengeValidity = 15 minutes\n",
			wantErr: `handler.3.ndesChallengeValidity (line 2): "15 minutes" is not an ISO-8601 duration`},
		{name: "fail/unknown token procedure", file: "handler.4.filter = ndesrequest\nhandler.4.tokenprocedure = No Such Procedure\n",
			wantErr: `handler.4.tokenprocedure (line 2): there is no token procedure named "No Such Procedure"`},
		{name: "fail/no filter", file: "handler.9.format = scep\n", wantErr: "handler.9 (line 1) has no filter"},
		{name: "fail/new handler without format", file: "handler.9.filter = x\n", wantErr: "handler.9 (line 1) has no format"},
		{name: "fail/unknown format", file: "handler.9.filter = x\nhandler.9.format = est\n", wantErr: `handler.9.format (line 2): the format "est" is unknown`},
		{name: "fail/new NDES handler without password", file: "handler.9.filter = x\nhandler.9.format = scep-ndes\nhandler.9.ndesUsername = u\n", wantErr: "needs an NDES password"},
		{name: "fail/short password", file: "handler.3.filter = ndeschallenge/\nhandler.3.ndesPassword = short\n", wantErr: "at least 8 characters"},
		{name: "fail/same filter twice", file: "handler.1.filter = a\nhandler.1.format = scep\nhandler.1.tokenprocedure = " + preTokenProcedure +
			"\nhandler.2.filter = a/\nhandler.2.format = scep\nhandler.2.tokenprocedure = " + preTokenProcedure + "\n", wantErr: "have the same filter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			props, err := properties.Parse(strings.NewReader(tt.file))
			if err != nil {
				t.Fatal(err)
			}
			var warnings []string
			plan, err := planImport(props, ndesImportConfig(t), func(format string, args ...any) {
				warnings = append(warnings, fmt.Sprintf(format, args...))
			})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(model.ErrorMessage(err), tt.wantErr) {
					t.Fatalf("error = %v; want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range plan.changes {
				got = append(got, c.summary())
			}
			if !reflect.DeepEqual(got, tt.wantChanges) {
				t.Errorf("changes = %q; want %q", got, tt.wantChanges)
			}
			if tt.wantWarn != "" && !strings.Contains(strings.Join(warnings, "\n"), tt.wantWarn) {
				t.Errorf("warnings = %q; want one containing %q", warnings, tt.wantWarn)
			}
		})
	}
}

// TestHandlersImportCommand imports the reference example into a new data
// folder twice: the first time changes the ndesadmin password, the second
// changes nothing; each change bumps the configuration version and is
// audited.
func TestHandlersImportCommand(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	env := map[string]string{"SCEPGATE_NDES_PASSWORD": "first-ndes-password", "SCEPGATE_ADMIN_PASSWORD": "admin-password-1"}
	getenv := func(k string) string { return env[k] }
	file := filepath.Join(t.TempDir(), "handlers.properties")
	if err := os.WriteFile(file, []byte(ndesReferenceHandlers+"handler.3.unknownSetting = 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	version := func() int64 {
		t.Helper()
		db, err := store.Open(ctx, filepath.Join(data, "scepgate.db"), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		v, err := db.ConfigVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	runImport := func() (int, string, string) {
		var stdout, stderr bytes.Buffer
		code := run(ctx, []string{"handlers", "import", "--data", data, file}, getenv, &stdout, &stderr)
		return code, stdout.String(), stderr.String()
	}

	code, out, errOut := runImport()
	if code != 0 || !strings.Contains(out, "Updated handler ndeschallenge: ndesPassword.") {
		t.Fatalf("first import: exit %d, stdout %q, stderr %q; want 0 and the password change", code, out, errOut)
	}
	if !strings.Contains(errOut, "handler.3.unknownSetting is not a handler setting scepgate knows; it is ignored.") {
		t.Errorf("stderr = %q; want a warning about handler.3.unknownSetting", errOut)
	}
	v1 := version()
	code, out, _ = runImport()
	if code != 0 || !strings.Contains(out, "Nothing to change") {
		t.Fatalf("second import: exit %d, stdout %q; want 0 and nothing to change", code, out)
	}
	if v2 := version(); v2 != v1 {
		t.Errorf("config version %d -> %d after an import that changed nothing; want it unchanged", v1, v2)
	}

	db, err := store.Open(ctx, filepath.Join(data, "scepgate.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cfg, err := db.LoadConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range cfg.Handlers {
		if h.Name == "ndeschallenge" && bcrypt.CompareHashAndPassword([]byte(h.NDESPasswordHash), []byte("ndespassword")) != nil {
			t.Error("ndeschallenge's stored hash does not match the imported password")
		}
	}
	events, _, err := db.SearchAuditEvents(ctx, model.AuditFilter{}, 1, 20)
	if err != nil {
		t.Fatal(err)
	}
	imports := 0
	for _, e := range events {
		if e.Action == "handlers.import" {
			imports++
		}
	}
	if imports != 1 {
		t.Errorf("handlers.import audit events = %d; want 1", imports)
	}

	var stdout, stderr bytes.Buffer
	if code := run(ctx, []string{"handlers", "list", "--data", data}, getenv, &stdout, &stderr); code != 0 ||
		!strings.Contains(stdout.String(), "/pgwy/scep/ndeschallenge/") || !strings.Contains(stdout.String(), "/certsrv/mscep_admin/ is served by handler ndeschallenge") {
		t.Errorf("handlers list: exit %d, stdout %q, stderr %q; want the handlers and the aliases", code, stdout.String(), stderr.String())
	}
	stdout.Reset()
	stderr.Reset()
	if code := run(ctx, []string{"handlers", "alias", "--data", data, "--mscep-admin", "ndesrequest"}, getenv, &stdout, &stderr); code != 1 ||
		!strings.Contains(stderr.String(), `needs a handler of format "scep-ndes"`) {
		t.Errorf("alias to a SCEP handler: exit %d, stderr %q; want 1 and the reason", code, stderr.String())
	}
}
