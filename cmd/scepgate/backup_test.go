package main

import (
	"database/sql"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// keptRE finds where restore says it kept the database it replaced.
var keptRE = regexp.MustCompile(`kept as (\S+)\.\n`)

// TestRestoreRefuses checks what restore refuses, and that a refused
// restore changes nothing in the data folder.
func TestRestoreRefuses(t *testing.T) {
	data := newDataFolder(t)
	dir := t.TempDir()
	good := filepath.Join(dir, "good.db")
	if code, _, stderr := runCLI(t, testEnv, "backup", good, "--data", data); code != 0 {
		t.Fatalf("backup: %s", stderr)
	}
	notDB := filepath.Join(dir, "notes.txt")
	_ = os.WriteFile(notDB, []byte(strings.Repeat("not a database\n", 400)), 0o600)
	otherDB := filepath.Join(dir, "other.db")
	if db, err := sql.Open("sqlite3", "file:"+otherDB); err != nil {
		t.Fatal(err)
	} else {
		if _, err := db.Exec(`CREATE TABLE notes (body TEXT)`); err != nil {
			t.Fatal(err)
		}
		_ = db.Close()
	}
	otherKey := map[string]string{"SCEPGATE_MASTER_KEY": "another master key of more than thirty-two characters"}
	noKey := map[string]string{"SCEPGATE_DATA": filepath.Join(t.TempDir(), "empty")}

	tests := []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string
	}{
		{"fail/wrong-master-key", otherKey, []string{"restore", good, "--data", data}, 1,
			"does not open the CA and RA keys in " + good + ": the backup was made with another master key."},
		{"fail/no-master-key", noKey, []string{"restore", good}, 1, "There is no master key"},
		{"fail/not-sqlite", testEnv, []string{"restore", notDB, "--data", data}, 1,
			notDB + " cannot be restored: It is not a SQLite database that scepgate can read"},
		{"fail/not-scepgate", testEnv, []string{"restore", otherDB, "--data", data}, 1,
			"It is not a scepgate database: it records no scepgate migrations. Nothing was changed."},
		{"fail/missing", testEnv, []string{"restore", filepath.Join(dir, "none.db"), "--data", data}, 1, "read the backup"},
		{"fail/itself", testEnv, []string{"restore", filepath.Join(data, "scepgate.db"), "--data", data}, 1, "is the database itself"},
		{"fail/postgres", testEnv, []string{"restore", good, "--database", "postgres://u:pw@db.example/scepgate"}, 2, "pg_restore"},
		{"fail/backup-postgres", testEnv, []string{"backup", filepath.Join(dir, "pg.db"), "--database", "postgres://u:pw@db.example/scepgate"}, 2, "pg_dump"},
		{"fail/backup-exists", testEnv, []string{"backup", good, "--data", data}, 1, good + " exists already."},
	}
	before := dumpDB(t, data)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tt.env, tt.args...)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d and %q", code, stdout, stderr, tt.code, tt.want)
			}
			if strings.Contains(stderr, "pw@") {
				t.Errorf("stderr %q shows the database password", stderr)
			}
		})
	}
	if after := dumpDB(t, data); after != before {
		t.Error("a refused restore changed the database")
	}
	entries, _ := os.ReadDir(data)
	for _, e := range entries {
		if n := e.Name(); strings.Contains(n, "restore") {
			t.Errorf("a refused restore left %s in the data folder", n)
		}
	}

	// A server holds the data folder's lock: restore waits for nobody.
	lock, err := lockFolder(data)
	if err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runCLI(t, testEnv, "restore", good, "--data", data)
	lock.release()
	if code != 1 || !strings.Contains(stderr, "is running on the data folder "+data) {
		t.Errorf("restore while the lock is held: exit %d, %q; want 1 and a refusal", code, stderr)
	}
	if after := dumpDB(t, data); after != before {
		t.Error("a refused restore changed the database")
	}

	// With the lock free it goes, and keeps the database it replaces.
	code, stdout, stderr := runCLI(t, testEnv, "restore", good, "--data", data)
	m := keptRE.FindStringSubmatch(stdout)
	if code != 0 || m == nil {
		t.Fatalf("restore: exit %d, stdout %q, stderr %q; want it to say where the old database is kept", code, stdout, stderr)
	}
	if !strings.HasPrefix(m[1], filepath.Join(data, "scepgate.db.before-restore-")) {
		t.Errorf("kept as %s; want DATA/scepgate.db.before-restore-TIMESTAMP", m[1])
	}
	if _, err := os.Stat(m[1]); err != nil {
		t.Errorf("the kept database: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(data, "scepgate.db")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("restored database: %v, mode %v; want 0600", err, fi.Mode().Perm())
	}
}
