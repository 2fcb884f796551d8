package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/scepgate/scepgate/internal/proctest"
)

// TestSystemdUnit checks deploy/scepgate.service as systemd reads it
// (systemd-analyze verify, which must print nothing), that its hardening
// stays where it is (systemd-analyze security, exposure 2.0 at most), that
// scepgate accepts its command line, and that the example environment
// file sets only settings scepgate knows. Without systemd-analyze it fails,
// saying what to install; it never skips.
func TestSystemdUnit(t *testing.T) {
	analyze := proctest.RequireTool(t, "systemd-analyze", "systemd")
	unit, err := os.ReadFile("../../deploy/scepgate.service")
	if err != nil {
		t.Fatal(err)
	}
	// verify wants the programs the unit runs to exist: the one the tests
	// built stands in for /usr/local/bin/scepgate.
	const installed = "/usr/local/bin/scepgate"
	if !strings.Contains(string(unit), "ExecStart="+installed+" ") {
		t.Fatalf("the unit's ExecStart does not run %s", installed)
	}
	path := filepath.Join(t.TempDir(), "scepgate.service")
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(string(unit), installed, scepgateBin)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(analyze, "verify", path).CombinedOutput(); err != nil || len(out) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s\nwant no complaint", err, out)
	}
	if out, err := exec.Command(analyze, "security", "--offline=true", "--threshold=20", path).CombinedOutput(); err != nil {
		t.Errorf("systemd-analyze security: %v; want an exposure of 2.0 at most\n%s", err, out)
	}
	for _, want := range []string{"User=scepgate\n", "StateDirectory=scepgate\n", "StateDirectoryMode=0700\n", "ExecReload=/bin/kill -HUP $MAINPID\n",
		"NoNewPrivileges=yes\n", "ProtectSystem=strict\n", "ProtectHome=yes\n", "PrivateTmp=yes\n", "PrivateDevices=yes\n", "CapabilityBoundingSet=\n",
		"RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX\n", "SystemCallFilter=@system-service\n", "MemoryDenyWriteExecute=yes\n", "LockPersonality=yes\n"} {
		if !strings.Contains(string(unit), want) {
			t.Errorf("the unit lacks %q", want)
		}
	}

	// scepgate takes the unit's command line (and no init: the server
	// never makes a data folder on its own).
	m := regexp.MustCompile(`(?m)^ExecStart=\S+ (.*)$`).FindStringSubmatch(string(unit))
	args := strings.Fields(m[1])
	if slices.Contains(args, "--init") {
		t.Errorf("ExecStart %q initialises; want the data folder made by scepgate init, once", m[1])
	}
	if code, _, stderr := scepgate(t, nil, append(args, "--help")...); code != 0 {
		t.Errorf("scepgate %s --help: exit %d, %s; want its flags accepted", m[1], code, stderr)
	}

	// The example environment file names only settings scepgate reads.
	env, err := os.ReadFile("../../deploy/scepgate.env")
	if err != nil {
		t.Fatal(err)
	}
	_, help, _ := scepgate(t, nil, "serve", "--help")
	known := help + " SCEPGATE_MASTER_KEY SCEPGATE_ADMIN_PASSWORD SCEPGATE_NDES_PASSWORD "
	for _, name := range regexp.MustCompile(`(?m)^#?(SCEPGATE_[A-Z_]+)=`).FindAllStringSubmatch(string(env), -1) {
		if !regexp.MustCompile(`\b` + name[1] + `\b`).MatchString(known) {
			t.Errorf("deploy/scepgate.env sets %s, which scepgate serve does not read", name[1])
		}
	}
}
