package main

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scepgate/scepgate/internal/proctest"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/store"
)

// TestBackupRestoreEndToEnd runs the real binary through a disaster: a
// server enrolls a device and revokes its certificate, the database is
// backed up while the server runs, then lost; restore brings it back, and
// the restarted server knows the old certificates and registrations and
// its CA still signs.
func TestBackupRestoreEndToEnd(t *testing.T) {
	proctest.RequireTool(t, "scepclient", "scep")
	proctest.RequireTool(t, "openssl", "openssl")
	ctx := context.Background()
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	s := startServer(t, data, nil)

	register := func(cn, password string) {
		t.Helper()
		code, out, errOut := scepgate(t, nil, "registration", "add", "--data", data,
			"--token-procedure", preTokenProcedure, "--password", password, "--subject-cn", cn)
		if code != 0 {
			t.Fatalf("registration add %s (%d): %s%s", cn, code, out, errOut)
		}
	}
	register("device-1", "device-1-secret")
	register("device-2", "device-2-secret") // used only after the restore
	certPath, ok, clientOut := runScepclient(t, s.URL+"/pgwy/scep", "device-1-secret", "device-1")
	if !ok {
		t.Fatalf("scepclient device-1:\n%s", clientOut)
	}
	serial := serialOf(t, certPath)
	if code, out, errOut := scepgate(t, nil, "cert", "revoke", "--data", data, "--serial", serial, "--reason", "keyCompromise"); code != 0 {
		t.Fatalf("cert revoke (%d): %s%s", code, out, errOut)
	}
	chainBefore := filepath.Join(dir, "chain-before.pem")
	caChainPEM(t, s.URL, chainBefore)

	// The backup, while the server runs.
	backup := filepath.Join(dir, "backups", "scepgate.db")
	_ = os.MkdirAll(filepath.Dir(backup), 0o700)
	code, out, errOut := scepgate(t, nil, "backup", backup, "--data", data)
	if code != 0 || !strings.Contains(out, backup) || !strings.Contains(out, filepath.Join(data, "master.key")) || !strings.Contains(out, "NOT in it") {
		t.Fatalf("backup (%d): %s%s; want the path and the reminder about the master key", code, out, errOut)
	}
	if fi, err := os.Stat(backup); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
	if code, _, errOut := scepgate(t, nil, "backup", backup, "--data", data); code != 1 || !strings.Contains(errOut, "exists already") {
		t.Errorf("backup onto the same file: exit %d, %q; want 1 and a refusal", code, errOut)
	}
	register("device-3", "device-3-secret") // after the backup: gone after the restore

	s.Stop()
	for _, suffix := range []string{"", "-wal", "-shm"} {
		_ = os.Remove(filepath.Join(data, "scepgate.db"+suffix))
	}
	code, out, errOut = scepgate(t, nil, "restore", backup, "--data", data)
	if code != 0 || !strings.Contains(out, "Restored "+backup) || !strings.Contains(out, "CN=scepgate SCEP CA") {
		t.Fatalf("restore (%d): %s%s", code, out, errOut)
	}

	// The old certificate and registrations are there, as they were at
	// the backup.
	db, err := store.OpenWith(ctx, filepath.Join(data, "scepgate.db"), store.Options{Migrate: store.MigrateRefuse})
	if err != nil {
		t.Fatal(err)
	}
	c, err := db.FindCertificateBySerial(ctx, serial)
	if err != nil || c.State != model.CertRevoked || !strings.Contains(c.Subject, "device-1") {
		t.Errorf("certificate %s after restore: %+v, %v; want device-1's, revoked", serial, c, err)
	}
	regs, _, err := db.ListRegistrations(ctx, model.RegistrationFilter{}, 1, 50)
	if err != nil {
		t.Fatal(err)
	}
	states := map[string]string{}
	for _, r := range regs {
		states[r.SubjectCN] = r.State
	}
	if states["device-1"] != model.StateUsed || states["device-2"] != model.StateOpen || states["device-3"] != "" {
		t.Errorf("registrations after restore: %v; want device-1 used, device-2 open, no device-3", states)
	}
	_ = db.Close()

	// The restarted server has the same CA, and it signs.
	s2 := startServer(t, data, nil)
	chainAfter := filepath.Join(dir, "chain-after.pem")
	caChainPEM(t, s2.URL, chainAfter)
	if a, b := readFile(t, chainBefore), readFile(t, chainAfter); a != b {
		t.Error("the CA after the restore differs from the one before")
	}
	cert2, ok, clientOut := runScepclient(t, s2.URL+"/pgwy/scep", "device-2-secret", "device-2")
	if !ok {
		t.Fatalf("scepclient device-2 after restore:\n%s\nserver log:\n%s", clientOut, s2.Logs())
	}
	if b, err := exec.Command("openssl", "verify", "-CAfile", chainBefore, cert2).CombinedOutput(); err != nil || !strings.Contains(string(b), ": OK") {
		t.Errorf("openssl verify of device-2's certificate against the CA: %v\n%s", err, b)
	}
	if _, ok, _ := runScepclient(t, s2.URL+"/pgwy/scep", "device-3-secret", "device-3"); ok {
		t.Error("device-3, registered after the backup, enrolled after the restore")
	}
}

// serialOf returns the serial number, in hex, of the PEM certificate at path.
func serialOf(t *testing.T, path string) string {
	t.Helper()
	block, _ := pem.Decode([]byte(readFile(t, path)))
	if block == nil {
		t.Fatalf("%s holds no PEM", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c.SerialNumber.Text(16)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
