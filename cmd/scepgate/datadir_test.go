package main

import (
	"bytes"
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// tree lists what lies under dir (relative paths), or "missing".
func tree(t *testing.T, dir string) string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		names = append(names, rel)
		return nil
	})
	if os.IsNotExist(err) {
		return "missing"
	} else if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	return strings.Join(names, " ")
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestDataFolderRefused: every command but init, and serve without
// --init, refuses a data folder that is missing (a typo), empty,
// incomplete or not scepgate's; it creates nothing there, and says which
// folder and what to run.
func TestDataFolderRefused(t *testing.T) {
	root := t.TempDir()
	good := filepath.Join(root, "good")
	initData(t, nil, good)

	empty := filepath.Join(root, "empty")
	foreign := filepath.Join(root, "foreign")
	dbOnly := filepath.Join(root, "db-only")
	keyOnly := filepath.Join(root, "key-only")
	for _, d := range []string{empty, foreign, dbOnly, keyOnly} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(foreign, "holiday.jpg"), []byte("not ours"), 0o600); err != nil {
		t.Fatal(err)
	}
	copyFile(t, filepath.Join(good, "scepgate.db"), filepath.Join(dbOnly, "scepgate.db"))
	copyFile(t, filepath.Join(good, "master.key"), filepath.Join(keyOnly, "master.key"))

	folders := []struct {
		name, dir string
		want      []string // in the message, besides the folder's name
	}{
		{"typo", filepath.Join(root, "scepgte"), []string{"does not exist", "scepgate init --data " + filepath.Join(root, "scepgte")}},
		{"empty", empty, []string{"is empty", "scepgate init --data " + empty}},
		{"foreign", foreign, []string{"is not a scepgate data folder", "holiday.jpg", "scepgate init --data"}},
		{"database-without-master-key", dbOnly, []string{"no master.key", "SCEPGATE_MASTER_KEY", "Restore master.key"}},
		{"master-key-without-database", keyOnly, []string{"holds master.key but no database", "scepgate init --data"}},
	}
	commands := [][]string{
		{"ca", "show"},
		{"handlers", "list"},
		{"registration", "pending"},
		{"registration", "add", "--token-procedure", preTokenProcedure, "--password", "pw-1234567"},
		{"cert", "revoke", "--serial", "01"},
		{"serve", "--listen", "127.0.0.1:0"},
	}
	for _, f := range folders {
		for _, args := range commands {
			t.Run("fail/"+f.name+"/"+strings.Join(args[:2], "-"), func(t *testing.T) {
				before := tree(t, f.dir)
				code, stdout, stderr := runCLI(t, nil, append(args, "--data", f.dir)...)
				if code != 1 {
					t.Errorf("exit code %d; want 1\nstdout: %s\nstderr: %s", code, stdout, stderr)
				}
				for _, w := range append([]string{"The data folder " + f.dir + " "}, f.want...) {
					if !strings.Contains(stderr, w) {
						t.Errorf("stderr = %q; want it to contain %q", stderr, w)
					}
				}
				if after := tree(t, f.dir); after != before {
					t.Errorf("folder after the refusal holds %q; want it unchanged, %q", after, before)
				}
			})
		}
	}

	// init refuses what is not new, and never writes a master key beside
	// a database; serve --init then behaves as serve.
	for _, tt := range []struct{ name, dir, wantInit, wantServe string }{
		{"initialised", good, "is already initialised; nothing was changed", ""},
		{"foreign", foreign, "is not empty and is not a scepgate data folder (it holds holiday.jpg)", "is not a scepgate data folder"},
		{"database-without-master-key", dbOnly, "no master.key", "no master.key"},
		{"master-key-without-database", keyOnly, "init does not overwrite a master key", "holds master.key but no database"},
	} {
		for _, args := range [][]string{{"init"}, {"serve", "--init", "--listen", "127.0.0.1:0"}} {
			want := tt.wantInit
			if args[0] == "serve" {
				want = tt.wantServe
			}
			if want == "" {
				continue // serve --init serves; see TestFirstStartCreatesThenReuses
			}
			t.Run("fail/"+args[0]+"/"+tt.name, func(t *testing.T) {
				key, _ := os.ReadFile(filepath.Join(tt.dir, "master.key"))
				before := tree(t, tt.dir)
				code, _, stderr := runCLI(t, nil, append(args, "--data", tt.dir)...)
				if code != 1 || !strings.Contains(stderr, tt.dir) || !strings.Contains(stderr, want) {
					t.Errorf("exit %d, stderr %q; want 1 naming %s and saying %q", code, stderr, tt.dir, want)
				}
				if after := tree(t, tt.dir); after != before {
					t.Errorf("folder after the refusal holds %q; want it unchanged, %q", after, before)
				}
				if after, _ := os.ReadFile(filepath.Join(tt.dir, "master.key")); string(after) != string(key) {
					t.Errorf("master.key changed from %q to %q; want it untouched", key, after)
				}
			})
		}
	}
}

// TestInit: init makes a private data folder, prints the passwords once
// and where to sign in; a chosen master key leaves no key file; a second
// init changes nothing.
func TestInit(t *testing.T) {
	t.Run("ok/new-folder", func(t *testing.T) {
		data := filepath.Join(t.TempDir(), "new", "data")
		code, stdout, stderr := runCLI(t, nil, "init", "--data", data, "--public-url", "https://scep.example.com")
		if code != 0 {
			t.Fatalf("init: exit %d, stderr %q", code, stderr)
		}
		for _, re := range []string{`The admin password is \S{20} `, `The ndesadmin password is \S{20} `,
			`Start the server with: scepgate serve --data ` + regexp.QuoteMeta(data) + `\n`, `Sign in at https://scep.example.com/ as admin\.\n`} {
			if !regexp.MustCompile(re).MatchString(stdout) {
				t.Errorf("stdout = %q; want it to match %q", stdout, re)
			}
		}
		for path, want := range map[string]fs.FileMode{data: 0o700, filepath.Join(data, "master.key"): 0o600, filepath.Join(data, "scepgate.db"): 0o600,
			filepath.Dir(data): 0o755} {
			if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != want {
				t.Errorf("%s: %v; want mode %o", path, err, want)
			}
		}
		code, out, _ := runCLI(t, nil, "ca", "show", "--data", data)
		if code != 0 || !strings.Contains(out, "CN=scepgate SCEP RA") {
			t.Errorf("ca show after init: exit %d, %q", code, out)
		}
		key, _ := os.ReadFile(filepath.Join(data, "master.key"))
		code, stdout, stderr = runCLI(t, nil, "init", "--data", data)
		if code != 1 || stdout != "" || !strings.Contains(stderr, "The data folder "+data+" is already initialised; nothing was changed.") {
			t.Errorf("second init: exit %d, stdout %q, stderr %q; want 1, nothing printed but the refusal", code, stdout, stderr)
		}
		if again, _ := os.ReadFile(filepath.Join(data, "master.key")); string(again) != string(key) {
			t.Error("the second init changed master.key")
		}
	})
	t.Run("ok/master-key-from-environment", func(t *testing.T) {
		data := t.TempDir() // exists, empty
		env := map[string]string{"SCEPGATE_MASTER_KEY": strings.Repeat("m", 40), "SCEPGATE_ADMIN_PASSWORD": "chosen-admin-pw", "SCEPGATE_NDES_PASSWORD": "chosen-ndes-pw"}
		code, stdout, stderr := runCLI(t, env, "init", "--data", data)
		if code != 0 || strings.Contains(stdout, "password is") {
			t.Fatalf("init: exit %d, stdout %q, stderr %q; want 0 and no password printed", code, stdout, stderr)
		}
		if _, err := os.Stat(filepath.Join(data, "master.key")); !os.IsNotExist(err) {
			t.Errorf("master.key: %v; want none with SCEPGATE_MASTER_KEY set", err)
		}
		if code, _, stderr := runCLI(t, env, "ca", "show", "--data", data); code != 0 {
			t.Errorf("ca show with the key from the environment: exit %d, %q", code, stderr)
		}
		delete(env, "SCEPGATE_MASTER_KEY")
		if code, _, stderr := runCLI(t, env, "ca", "show", "--data", data); code != 1 || !strings.Contains(stderr, "no master.key") {
			t.Errorf("ca show without the key: exit %d, %q; want 1 saying the key is missing", code, stderr)
		}
	})
	t.Run("fail/bad-ca-key", func(t *testing.T) {
		data := filepath.Join(t.TempDir(), "data")
		if code, _, stderr := runCLI(t, nil, "init", "--data", data, "--ca-key", "dsa"); code != 2 || !strings.Contains(stderr, `--ca-key "dsa" is not a key type`) {
			t.Errorf("init --ca-key dsa: exit %d, %q; want 2", code, stderr)
		}
		if got := tree(t, data); got != "missing" {
			t.Errorf("data folder after a refused init: %q; want missing", got)
		}
	})
}

// TestInitRefusesPasswordsBcryptCannotCheck: a chosen ndesadmin password
// over bcrypt's 72 bytes is refused with a message naming the variable,
// not an internal error, and init leaves no data folder behind.
func TestInitRefusesPasswordsBcryptCannotCheck(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	env := map[string]string{"SCEPGATE_ADMIN_PASSWORD": "admin-password-1", "SCEPGATE_NDES_PASSWORD": strings.Repeat("n", 80)}
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"init", "--data", data, "--ca-key", "p256"}, func(k string) string { return env[k] }, &stdout, &stderr)
	if code != 1 || !strings.Contains(stderr.String(), "SCEPGATE_NDES_PASSWORD has 80 bytes") {
		t.Fatalf("init: exit %d, stderr %q; want 1 and the variable named", code, stderr.String())
	}
	if _, err := os.Stat(filepath.Join(data, "scepgate.db")); !os.IsNotExist(err) {
		t.Errorf("init left a database behind (%v); want none", err)
	}
}
