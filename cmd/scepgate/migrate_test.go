package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scepgate/scepgate/migrations"
	"github.com/scepgate/scepgate/store"
)

// testEnv is the environment of the in-process command tests: chosen
// passwords, so that nothing is printed, and a master key in the
// environment, so that databases built by hand can be opened.
var testEnv = map[string]string{
	"SCEPGATE_ADMIN_PASSWORD": "admin-password-1",
	"SCEPGATE_NDES_PASSWORD":  "ndes-password-1",
	"SCEPGATE_MASTER_KEY":     "a master key of more than thirty-two characters",
}

// newDataFolder makes a data folder with a command that changes something,
// and returns it.
func newDataFolder(t *testing.T) string {
	t.Helper()
	data := filepath.Join(t.TempDir(), "data")
	if code, _, stderr := runCLI(t, testEnv, "init", "--data", data, "--ca-key", "p256"); code != 0 {
		t.Fatalf("init: exit %d, %s", code, stderr)
	}
	return data
}

// sqliteExec runs statements on data's database with database/sql alone.
func sqliteExec(t *testing.T, data string, stmts ...string) {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(data, "scepgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
}

// schemaOf reads data's schema without changing it.
func schemaOf(t *testing.T, data string) *store.Schema {
	t.Helper()
	ctx := context.Background()
	db, err := store.OpenWith(ctx, filepath.Join(data, "scepgate.db"), store.Options{Migrate: store.MigrateNone})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := db.Schema(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func knownSchema(t *testing.T) int64 {
	t.Helper()
	names, err := fs.Glob(migrations.FS, "sqlite/*.sql")
	if err != nil || len(names) < 2 {
		t.Fatalf("embedded migrations: %v, %v", names, err)
	}
	return int64(len(names))
}

// behindDataFolder returns a data folder whose database goose migrated to
// the newest schema but one, and that holds nothing else.
func behindDataFolder(t *testing.T) string {
	t.Helper()
	data := newDataFolder(t)
	// Undo the newest migration by hand, as a database of the release before
	// it would be. When a migration is added, this must follow it.
	names, err := fs.Glob(migrations.FS, "sqlite/*.sql")
	if err != nil || len(names) == 0 {
		t.Fatalf("embedded migrations: %v", err)
	}
	if newest := names[len(names)-1]; newest != "sqlite/0008_next_authority.sql" {
		t.Fatalf("the newest migration is %s: teach behindDataFolder to undo it", newest)
	}
	raw, err := sql.Open("sqlite3", "file:"+filepath.Join(data, "scepgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, q := range []string{`ALTER TABLE authorities DROP COLUMN next`,
		`DELETE FROM goose_db_version WHERE version_id = (SELECT MAX(version_id) FROM goose_db_version)`} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return data
}

// TestReadOnlyCommandsDoNotMigrate gives the commands a database one
// migration behind: the read-only ones refuse it and leave it so; migrate
// status lists what is pending; a command that changes something migrates.
func TestReadOnlyCommandsDoNotMigrate(t *testing.T) {
	known := knownSchema(t)
	data := behindDataFolder(t)
	want := fmt.Sprintf("scepgate: This database is at schema %d; this scepgate needs schema %d. Run scepgate migrate up (or serve) first.\n", known-1, known)
	for _, args := range [][]string{{"ca", "show"}, {"handlers", "list"}, {"registration", "pending"}} {
		code, stdout, stderr := runCLI(t, testEnv, append(args, "--data", data)...)
		if code != 1 || stderr != want {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want 1 and %q", strings.Join(args, " "), code, stdout, stderr, want)
		}
	}
	if s := schemaOf(t, data); s.Version != known-1 {
		t.Fatalf("after the read-only commands the schema is %d; want %d still", s.Version, known-1)
	}

	code, stdout, stderr := runCLI(t, testEnv, "migrate", "status", "--data", data)
	if code != 0 || !strings.Contains(stdout, fmt.Sprintf("schema %d; this scepgate knows schema %d", known-1, known)) ||
		!strings.Contains(stdout, "1 migration pending") || strings.Count(stdout, " pending\n") != 1 || strings.Count(stdout, " applied ") != int(known-1) {
		t.Errorf("migrate status: exit %d, stdout %q, stderr %q; want %d applied and 1 pending", code, stdout, stderr, known-1)
	}

	code, stdout, stderr = runCLI(t, testEnv, "registration", "add", "--data", data,
		"--token-procedure", preTokenProcedure, "--password", "device-secret-1")
	if code != 0 || !strings.Contains(stdout, "is open until") || !strings.Contains(stderr, "applied migration") {
		t.Fatalf("registration add: exit %d, stdout %q, stderr %q; want it to migrate and add", code, stdout, stderr)
	}
	if s := schemaOf(t, data); s.Version != known || len(s.Pending()) != 0 {
		t.Errorf("after registration add the schema is %d with %d pending; want %d", s.Version, len(s.Pending()), known)
	}
	if code, stdout, stderr := runCLI(t, testEnv, "ca", "show", "--data", data); code != 0 || !strings.Contains(stdout, "NDES thumbprint") {
		t.Errorf("ca show on the migrated database: exit %d, %q %q", code, stdout, stderr)
	}
	if code, stdout, _ := runCLI(t, testEnv, "migrate", "up", "--data", data); code != 0 || !strings.Contains(stdout, "Nothing to apply") {
		t.Errorf("migrate up with nothing pending: exit %d, %q", code, stdout)
	}
}

// TestMigrateUp applies what is pending and says so; it needs no master
// key, and makes no database.
func TestMigrateUp(t *testing.T) {
	known := knownSchema(t)
	data := behindDataFolder(t)
	code, stdout, stderr := runCLI(t, nil, "migrate", "up", "--data", data)
	name := filepath.Base(mustGlob(t, fmt.Sprintf("sqlite/%04d_*.sql", known)))
	if code != 0 || !strings.Contains(stdout, "Applied "+name+".\n") || !strings.Contains(stdout, fmt.Sprintf("The database is at schema %d.", known)) {
		t.Errorf("migrate up: exit %d, stdout %q, stderr %q; want it to apply %s", code, stdout, stderr, name)
	}
	if s := schemaOf(t, data); s.Version != known {
		t.Errorf("after migrate up the schema is %d; want %d", s.Version, known)
	}
	for _, cmd := range []string{"status", "up"} {
		none := filepath.Join(t.TempDir(), "none")
		if code, _, stderr := runCLI(t, nil, "migrate", cmd, "--data", none); code != 1 || !strings.Contains(stderr, "There is no SQLite database at") {
			t.Errorf("migrate %s on a missing database: exit %d, %q; want 1 and the reason", cmd, code, stderr)
		}
		if _, err := os.Stat(none); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("migrate %s made %s", cmd, none)
		}
	}
}

func mustGlob(t *testing.T, pattern string) string {
	t.Helper()
	m, err := fs.Glob(migrations.FS, pattern)
	if err != nil || len(m) != 1 {
		t.Fatalf("%s: %v, %v", pattern, m, err)
	}
	return m[0]
}

// TestNewerSchemaRefusedByEveryCommand records a migration from the
// future: every command that opens the database refuses it with the same
// message and changes nothing.
func TestNewerSchemaRefusedByEveryCommand(t *testing.T) {
	known := knownSchema(t)
	data := newDataFolder(t)
	dir := t.TempDir()
	backup := filepath.Join(dir, "future.db")
	if code, _, stderr := runCLI(t, testEnv, "backup", backup, "--data", data); code != 0 {
		t.Fatalf("backup: %s", stderr)
	}
	sqliteExec(t, data, `INSERT INTO goose_db_version (version_id, is_applied) VALUES (9, 1)`)
	// The backup, from the future too.
	bdb, err := sql.Open("sqlite3", "file:"+backup)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bdb.Exec(`INSERT INTO goose_db_version (version_id, is_applied) VALUES (9, 1)`); err != nil {
		t.Fatal(err)
	}
	_ = bdb.Close()
	props := filepath.Join(dir, "handlers.properties")
	_ = os.WriteFile(props, []byte("handler.1.filter = ndesrequest\n"), 0o600)
	before := dumpDB(t, data)

	want := fmt.Sprintf("This database was upgraded by a newer scepgate (schema 9); this binary knows schema %d. Run the newer scepgate, or restore a backup made for this one.", known)
	for _, args := range [][]string{
		{"serve", "--listen", "127.0.0.1:0"},
		{"ca", "show"},
		{"handlers", "list"},
		{"handlers", "alias"},
		{"handlers", "import", props},
		{"registration", "add", "--token-procedure", preTokenProcedure, "--password", "device-secret-1"},
		{"registration", "pending"},
		{"registration", "approve", "1"},
		{"registration", "reject", "1"},
		{"cert", "revoke", "--serial", "01"},
		{"backup", filepath.Join(dir, "b.db")},
		{"migrate", "status"},
		{"migrate", "up"},
	} {
		code, stdout, stderr := runCLI(t, testEnv, append(args, "--data", data)...)
		if code != 1 || stderr != "scepgate: "+want+"\n" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want 1 and %q", strings.Join(args, " "), code, stdout, stderr, want)
		}
	}
	if after := dumpDB(t, data); after != before {
		t.Error("a refused command changed the database")
	}
	if _, err := os.Stat(filepath.Join(dir, "b.db")); !errors.Is(err, fs.ErrNotExist) {
		t.Error("backup of a refused database made a file")
	}
	// A backup from the future is not restored.
	other := newDataFolder(t)
	code, _, stderr := runCLI(t, testEnv, "restore", backup, "--data", other)
	if code != 1 || !strings.Contains(stderr, want) || !strings.Contains(stderr, "Nothing was changed.") {
		t.Errorf("restore of a backup from the future: exit %d, %q; want 1 and %q", code, stderr, want)
	}
}

// dumpDB returns the rows of data's goose_db_version, meta and audit
// tables, to see that nothing changed.
func dumpDB(t *testing.T, data string) string {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(data, "scepgate.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var sb strings.Builder
	for _, q := range []string{`SELECT version_id FROM goose_db_version ORDER BY id`, `SELECT key || '=' || value FROM meta ORDER BY key`,
		`SELECT action FROM audit_events ORDER BY id`, `SELECT state FROM registrations ORDER BY id`} {
		rows, err := db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var s string
			_ = rows.Scan(&s)
			sb.WriteString(s + "\n")
		}
		_ = rows.Close()
	}
	return sb.String()
}

// TestLegacyDataFolderUpgrades turns a data folder's record back into the
// one the runner before goose kept: read-only commands work on it and leave
// it; the first command that changes something moves it into goose's table.
func TestLegacyDataFolderUpgrades(t *testing.T) {
	data := newDataFolder(t)
	stmts := []string{`DROP TABLE goose_db_version`, `CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)`}
	names, _ := fs.Glob(migrations.FS, "sqlite/*.sql")
	for _, n := range names {
		stmts = append(stmts, fmt.Sprintf(`INSERT INTO schema_migrations VALUES ('%s', '2026-01-02T03:04:05Z')`, filepath.Base(n)))
	}
	sqliteExec(t, data, stmts...)

	if code, stdout, stderr := runCLI(t, testEnv, "ca", "show", "--data", data); code != 0 || !strings.Contains(stdout, "NDES thumbprint") {
		t.Fatalf("ca show on a database from before goose: exit %d, %q %q", code, stdout, stderr)
	}
	code, stdout, _ := runCLI(t, testEnv, "migrate", "status", "--data", data)
	if code != 0 || !strings.Contains(stdout, "applied 2026-01-02T03:04:05Z") || !strings.Contains(stdout, "from before goose") || !strings.Contains(stdout, "Up to date.") {
		t.Errorf("migrate status: exit %d, %q; want the old record, up to date", code, stdout)
	}
	if s := schemaOf(t, data); !s.Legacy {
		t.Fatal("a read-only command moved the record")
	}
	if code, _, stderr := runCLI(t, testEnv, "registration", "add", "--data", data,
		"--token-procedure", preTokenProcedure, "--password", "device-secret-1"); code != 0 {
		t.Fatalf("registration add: %s", stderr)
	}
	if s := schemaOf(t, data); s.Legacy || s.Version != knownSchema(t) {
		t.Errorf("after registration add: legacy %v, schema %d; want goose's record at %d", s.Legacy, s.Version, knownSchema(t))
	}
}

// TestSQLiteSynchronousFlag checks the flag's help and that a value it
// does not know stops a command before it creates anything.
func TestSQLiteSynchronousFlag(t *testing.T) {
	_, help, _ := runCLI(t, nil, "serve", "--help")
	if !strings.Contains(help, "--sqlite-synchronous") || !strings.Contains(help, "env SCEPGATE_SQLITE_SYNCHRONOUS, default full") {
		t.Errorf("serve --help lacks --sqlite-synchronous:\n%s", help)
	}
	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string
	}{
		{"ok/normal-from-env", map[string]string{"SCEPGATE_SQLITE_SYNCHRONOUS": "normal"}, nil, 0, ""},
		{"ok/full", nil, []string{"--sqlite-synchronous", "full"}, 0, ""},
		{"fail/flag", nil, []string{"--sqlite-synchronous", "off"}, 2, `--sqlite-synchronous (or SCEPGATE_SQLITE_SYNCHRONOUS) is "off": use full or normal.`},
		{"fail/env", map[string]string{"SCEPGATE_SQLITE_SYNCHRONOUS": "extra"}, nil, 2, `is "extra": use full or normal.`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			env := map[string]string{}
			for k, v := range testEnv {
				env[k] = v
			}
			for k, v := range tt.env {
				env[k] = v
			}
			code, _, stderr := runCLI(t, env, append([]string{"init", "--ca-key", "p256", "--data", data}, tt.args...)...)
			if code != tt.code || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, stderr, tt.code, tt.want)
			}
			if _, err := os.Stat(data); tt.code != 0 && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("a bad --sqlite-synchronous created the data folder (stat: %v)", err)
			}
		})
	}
}
