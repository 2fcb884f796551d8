package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/store"
	"golang.org/x/crypto/bcrypt"
)

// TestHandlersImportCommand imports the reference example into a new data
// folder twice: the first time changes the ndesadmin password, the second
// changes nothing; each change bumps the configuration version and is
// audited.
func TestHandlersImportCommand(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	env := map[string]string{"SCEPGATE_NDES_PASSWORD": "first-ndes-password", "SCEPGATE_ADMIN_PASSWORD": "admin-password-1"}
	getenv := func(k string) string { return env[k] }
	initData(t, env, data)
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
		!strings.Contains(stderr.String(), `needs a handler of format scep-ndes`) {
		t.Errorf("alias to a SCEP handler: exit %d, stderr %q; want 1 and the reason", code, stderr.String())
	}
}
