package store_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/scepgate/scepgate/migrations"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/store"
)

// dialectOf returns the migrations folder for dsn.
func dialectOf(dsn string) string {
	if store.IsPostgres(dsn) {
		return "postgres"
	}
	return "sqlite"
}

// rawDB opens dsn with database/sql alone, to build databases as other
// versions of scepgate left them.
func rawDB(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	driver, name := "sqlite3", "file:"+dsn
	if store.IsPostgres(dsn) {
		driver, name = "pgx", dsn
	}
	db, err := sql.Open(driver, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// embeddedNames returns this binary's migration files for dsn, oldest first.
func embeddedNames(t *testing.T, dsn string) []string {
	t.Helper()
	names, err := fs.Glob(migrations.FS, dialectOf(dsn)+"/*.sql")
	if err != nil || len(names) < 2 {
		t.Fatalf("embedded migrations: %v, %v", names, err)
	}
	return names
}

// legacyDB builds, at a new dsn, the database the runner before goose made
// with the first n migrations: each file run whole and its name recorded
// in schema_migrations.
func legacyDB(t *testing.T, n int, extra ...string) string {
	t.Helper()
	dsn := testDSN(t)
	raw := rawDB(t, dsn)
	if _, err := raw.Exec(`CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	insert := `INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)`
	if store.IsPostgres(dsn) {
		insert = `INSERT INTO schema_migrations (name, applied_at) VALUES ($1, $2)`
	}
	for _, name := range embeddedNames(t, dsn)[:n] {
		b, err := fs.ReadFile(migrations.FS, name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Exec(string(b)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := raw.Exec(insert, filepath.Base(name), "2026-01-02T03:04:05Z"); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range extra {
		if _, err := raw.Exec(insert, name, "2026-01-02T03:04:05Z"); err != nil {
			t.Fatal(err)
		}
	}
	if n > 0 {
		if _, err := raw.Exec(`INSERT INTO meta (key, value) VALUES ('legacy', 'kept')`); err != nil {
			t.Fatal(err)
		}
	}
	return dsn
}

// gooseDB builds, at a new dsn, a database migrated by goose up to version.
func gooseDB(t *testing.T, version int64) string {
	t.Helper()
	dsn := testDSN(t)
	fsys, err := fs.Sub(migrations.FS, dialectOf(dsn))
	if err != nil {
		t.Fatal(err)
	}
	d := goose.DialectSQLite3
	if store.IsPostgres(dsn) {
		d = goose.DialectPostgres
	}
	p, err := goose.NewProvider(d, rawDB(t, dsn), fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(context.Background(), version); err != nil {
		t.Fatal(err)
	}
	return dsn
}

func tableExists(t *testing.T, dsn, table string) bool {
	t.Helper()
	q := `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`
	if store.IsPostgres(dsn) {
		q = `SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = $1`
	}
	var n int
	if err := rawDB(t, dsn).QueryRow(q, table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n > 0
}

func gooseVersions(t *testing.T, dsn string) []int64 {
	t.Helper()
	rows, err := rawDB(t, dsn).Query(`SELECT version_id FROM goose_db_version ORDER BY version_id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var vs []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	return vs
}

func upTo(n int64) []int64 {
	vs := []int64{}
	for v := int64(0); v <= n; v++ {
		vs = append(vs, v)
	}
	return vs
}

func openWith(t *testing.T, dsn string, mode store.MigrateMode) (*store.DB, error) {
	t.Helper()
	db, err := store.OpenWith(context.Background(), dsn, store.Options{Migrate: mode})
	if err == nil {
		t.Cleanup(func() { _ = db.Close() })
	}
	return db, err
}

// TestMigrateAdoptsSchemaMigrations upgrades databases that the runner
// before goose made, current and one behind: goose's table takes over the
// record, schema_migrations goes, the data stays.
func TestMigrateAdoptsSchemaMigrations(t *testing.T) {
	ctx := context.Background()
	known := int64(len(embeddedNames(t, testDSN(t))))
	for _, tt := range []struct {
		name        string
		applied     int
		wantApplied []int64
	}{
		{"ok/current", int(known), nil},
		{"ok/one-behind", int(known) - 1, []int64{known}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dsn := legacyDB(t, tt.applied)

			// Reading first changes nothing, and sees the old record.
			if db, err := openWith(t, dsn, store.MigrateNone); err != nil {
				t.Fatalf("open without migrating: %v", err)
			} else {
				s, err := db.Schema(ctx)
				if err != nil || !s.Legacy || s.Version != int64(tt.applied) || s.Known != known {
					t.Fatalf("Schema = %+v, %v; want legacy, version %d of %d", s, err, tt.applied, known)
				}
				if s.Migrations[0].AppliedAt != time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) {
					t.Errorf("applied at %v; want the time schema_migrations recorded", s.Migrations[0].AppliedAt)
				}
				_ = db.Close()
			}
			if !tableExists(t, dsn, "schema_migrations") || tableExists(t, dsn, "goose_db_version") {
				t.Fatal("opening without migrating changed the record")
			}

			db, err := openWith(t, dsn, store.MigrateApply)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			var got []int64
			for _, m := range db.Migrated() {
				got = append(got, m.Version)
			}
			if fmt.Sprint(got) != fmt.Sprint(tt.wantApplied) {
				t.Errorf("Migrated = %v; want %v", got, tt.wantApplied)
			}
			if v := gooseVersions(t, dsn); fmt.Sprint(v) != fmt.Sprint(upTo(known)) {
				t.Errorf("goose_db_version = %v; want %v", v, upTo(known))
			}
			if tableExists(t, dsn, "schema_migrations") {
				t.Error("schema_migrations is still there; want it dropped")
			}
			var v string
			if err := rawDB(t, dsn).QueryRow(`SELECT value FROM meta WHERE key = 'legacy'`).Scan(&v); err != nil || v != "kept" {
				t.Errorf("meta legacy = %q, %v; want the data kept", v, err)
			}
			s, err := db.Schema(ctx)
			if err != nil || s.Legacy || s.Version != known || len(s.Pending()) != 0 {
				t.Errorf("Schema after = %+v, %v; want goose's record at %d, nothing pending", s, err, known)
			}
			_ = db.Close()
			if _, err := openWith(t, dsn, store.MigrateApply); err != nil {
				t.Errorf("second Open: %v", err)
			}
		})
	}
}

// TestNewerSchemaRefused puts a migration this binary does not have into
// the record, goose's or the old one, and checks that every way of opening
// refuses, naming both versions, and changes nothing.
func TestNewerSchemaRefused(t *testing.T) {
	known := int64(len(embeddedNames(t, testDSN(t))))
	want := fmt.Sprintf("This database was upgraded by a newer scepgate (schema 99); this binary knows schema %d. Run the newer scepgate, or restore a backup made for this one.", known)
	for _, tt := range []struct {
		name string
		make func(t *testing.T) string
	}{
		{"fail/goose", func(t *testing.T) string {
			dsn := gooseDB(t, known)
			if _, err := rawDB(t, dsn).Exec(`INSERT INTO goose_db_version (version_id, is_applied) VALUES (99, true)`); err != nil {
				t.Fatal(err)
			}
			return dsn
		}},
		{"fail/schema_migrations", func(t *testing.T) string { return legacyDB(t, int(known), "0099_future.sql") }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dsn := tt.make(t)
			for _, mode := range []store.MigrateMode{store.MigrateApply, store.MigrateRefuse, store.MigrateNone} {
				_, err := openWith(t, dsn, mode)
				if model.ErrorMessage(err) != want {
					t.Errorf("mode %d: Open error %v; want %q", mode, err, want)
				}
			}
			if strings.HasSuffix(tt.name, "schema_migrations") && tableExists(t, dsn, "goose_db_version") {
				t.Error("a refused database got goose's table")
			}
		})
	}
}

// TestReadOnlyOpenDoesNotMigrate opens a database one migration behind:
// MigrateRefuse refuses it and MigrateNone opens it, neither applying
// anything; MigrateApply applies the one it lacks.
func TestReadOnlyOpenDoesNotMigrate(t *testing.T) {
	ctx := context.Background()
	known := int64(len(embeddedNames(t, testDSN(t))))
	dsn := gooseDB(t, known-1)

	_, err := openWith(t, dsn, store.MigrateRefuse)
	want := fmt.Sprintf("This database is at schema %d; this scepgate needs schema %d. Run scepgate migrate up (or serve) first.", known-1, known)
	if model.ErrorMessage(err) != want {
		t.Errorf("MigrateRefuse: error %v; want %q", err, want)
	}
	db, err := openWith(t, dsn, store.MigrateNone)
	if err != nil {
		t.Fatalf("MigrateNone: %v", err)
	}
	s, err := db.Schema(ctx)
	if err != nil || s.Version != known-1 || len(s.Pending()) != 1 || s.Pending()[0].Version != known {
		t.Errorf("Schema = %+v, %v; want version %d with %d pending", s, err, known-1, known)
	}
	_ = db.Close()
	if v := gooseVersions(t, dsn); fmt.Sprint(v) != fmt.Sprint(upTo(known-1)) {
		t.Fatalf("after read-only opens goose_db_version = %v; want %v", v, upTo(known-1))
	}

	db, err = openWith(t, dsn, store.MigrateApply)
	if err != nil {
		t.Fatalf("MigrateApply: %v", err)
	}
	if m := db.Migrated(); len(m) != 1 || m[0].Version != known || m[0].Name == "" {
		t.Errorf("Migrated = %+v; want migration %d", m, known)
	}
	if _, err := openWith(t, dsn, store.MigrateRefuse); err != nil {
		t.Errorf("MigrateRefuse on a current database: %v", err)
	}
}

func TestOpenWithoutMigratingCreatesNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "none.db")
	for _, mode := range []store.MigrateMode{store.MigrateRefuse, store.MigrateNone} {
		_, err := openWith(t, path, mode)
		if model.ErrorCode(err) != model.ENOTFOUND {
			t.Errorf("mode %d on a missing file: %v; want not found", mode, err)
		}
		if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("mode %d created %s", mode, path)
		}
	}
}

// TestMigrateConcurrently opens a new database from several goroutines at
// once, as instances starting together do: each succeeds and each
// migration is applied once.
func TestMigrateConcurrently(t *testing.T) {
	dsn := testDSN(t)
	if !store.IsPostgres(dsn) {
		// An empty database already in WAL mode: the race under test is
		// the migrations', not the switch to WAL of a file just made.
		if _, err := rawDB(t, dsn).Exec(`PRAGMA journal_mode=WAL`); err != nil {
			t.Fatal(err)
		}
	}
	known := int64(len(embeddedNames(t, dsn)))
	var wg sync.WaitGroup
	errs := make([]error, 4)
	applied := make([]int, 4)
	for i := range errs {
		wg.Go(func() {
			db, err := store.Open(context.Background(), dsn, nil)
			errs[i] = err
			if err == nil {
				applied[i] = len(db.Migrated())
				_ = db.Close()
			}
		})
	}
	wg.Wait()
	total := 0
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open %d: %v", i, err)
		}
		total += applied[i]
	}
	if v := gooseVersions(t, dsn); fmt.Sprint(v) != fmt.Sprint(upTo(known)) || total != int(known) {
		t.Errorf("goose_db_version = %v, %d applied in all; want %v, each once", v, total, upTo(known))
	}
	// What keeps it so on SQLite, which has no lock to take turns on: a
	// second record of a version fails, and with it the transaction that
	// ran the migration again.
	if _, err := rawDB(t, dsn).Exec(`INSERT INTO goose_db_version (version_id, is_applied) VALUES (1, true)`); err == nil {
		t.Error("a second record of version 1 was accepted; want the unique index to refuse it")
	}
}

// TestSQLiteSynchronous checks that each new SQLite connection syncs every
// commit (FULL, 2) unless told otherwise.
func TestSQLiteSynchronous(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name, setting string
		want          int
	}{
		{"ok/default", "", 2},
		{"ok/full", "full", 2},
		{"ok/normal", "normal", 1},
		{"ok/upper-case", "NORMAL", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db, err := store.OpenWith(ctx, filepath.Join(t.TempDir(), "s.db"), store.Options{Synchronous: tt.setting})
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			if got, err := db.SynchronousOfNewConnection(ctx); err != nil || got != tt.want {
				t.Errorf("PRAGMA synchronous = %d, %v; want %d", got, err, tt.want)
			}
		})
	}
	_, err := store.OpenWith(ctx, filepath.Join(t.TempDir(), "s.db"), store.Options{Synchronous: "off"})
	if model.ErrorCode(err) != model.EINVALID {
		t.Errorf("synchronous off: %v; want invalid", err)
	}
}
