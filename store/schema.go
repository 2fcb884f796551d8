package store

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/database"
	"github.com/pressly/goose/v3/lock"
	"github.com/scepgate/scepgate/migrations"
	"github.com/scepgate/scepgate/model"
)

// The schema is built by the embedded migrations, applied by goose, which
// records them in its table goose_db_version (to which Migrate adds a
// unique index on the version). Databases made before goose recorded them
// by name in schema_migrations; the first Migrate moves that record into
// goose's table and drops schema_migrations, so that one table says what
// the schema is (and a scepgate from before goose, which would read only
// schema_migrations, fails on the database instead of running on a schema
// it does not know).
const (
	gooseTable  = goose.DefaultTablename
	legacyTable = "schema_migrations"
	// migrationLockID is the PostgreSQL advisory lock on which instances
	// that start together take turns to migrate; the runner before goose
	// took the same one.
	migrationLockID = 8894
)

// Migration is one schema migration.
type Migration struct {
	Version int64
	// Name is its file, such as 0001_init.sql; "" for a migration the
	// database records that this binary does not have.
	Name      string
	Applied   bool
	AppliedAt time.Time // when it was applied, if the database says
}

// Schema is where a database stands against this binary's migrations.
type Schema struct {
	Version int64 // the newest migration applied; 0 for none
	Known   int64 // the newest migration this binary has
	// Migrations are this binary's migrations and any others the database
	// records, by version.
	Migrations []Migration
	// Legacy says that the record is still the one from before goose
	// (schema_migrations); the next Migrate moves it into goose's table.
	Legacy bool
}

// Pending returns the migrations this binary has that the database lacks.
func (s *Schema) Pending() []Migration {
	var p []Migration
	for _, m := range s.Migrations {
		if !m.Applied {
			p = append(p, m)
		}
	}
	return p
}

// newerErr refuses a database that a newer scepgate upgraded.
func (s *Schema) newerErr() error {
	if s.Version <= s.Known {
		return nil
	}
	return newerError(s.Version, s.Known)
}

func newerError(version, known int64) error {
	return model.Errorf(model.ECONFLICT, "This database was upgraded by a newer scepgate (schema %d); this binary knows schema %d. Run the newer scepgate, or restore a backup made for this one.", version, known)
}

// migrationFS returns this binary's migrations for the database's dialect.
func (db *DB) migrationFS() (fs.FS, error) {
	return fs.Sub(migrations.FS, db.dialect)
}

// embedded returns this binary's migrations, by version.
func (db *DB) embedded() ([]Migration, error) {
	fsys, err := db.migrationFS()
	if err != nil {
		return nil, err
	}
	names, err := fs.Glob(fsys, "*.sql")
	if err != nil {
		return nil, err
	}
	ms := make([]Migration, 0, len(names))
	for _, name := range names {
		v, err := goose.NumericComponent(name)
		if err != nil {
			return nil, fmt.Errorf("migration %s: %w", name, err)
		}
		ms = append(ms, Migration{Version: v, Name: path.Base(name)})
	}
	slices.SortFunc(ms, byVersion)
	return ms, nil
}

// Schema says which migrations the database has and lacks. It changes
// nothing.
func (db *DB) Schema(ctx context.Context) (*Schema, error) {
	sqlDB, err := db.db.DB()
	if err != nil {
		return nil, err
	}
	known, err := db.embedded()
	if err != nil {
		return nil, err
	}
	s := &Schema{Known: known[len(known)-1].Version}
	applied, legacy, err := db.appliedMigrations(ctx, sqlDB)
	if err != nil {
		return nil, err
	}
	s.Legacy = legacy
	others := make(map[int64]Migration, len(applied))
	for _, m := range applied {
		others[m.Version] = m
		s.Version = max(s.Version, m.Version)
	}
	for _, m := range known {
		if a, ok := others[m.Version]; ok {
			m.Applied, m.AppliedAt = true, a.AppliedAt
			delete(others, m.Version)
		}
		s.Migrations = append(s.Migrations, m)
	}
	for _, a := range others {
		a.Name = ""
		s.Migrations = append(s.Migrations, a)
	}
	slices.SortFunc(s.Migrations, byVersion)
	return s, nil
}

// appliedMigrations reads the applied migrations from goose's table, or
// else from the record before goose (legacy true); none when neither
// table exists.
func (db *DB) appliedMigrations(ctx context.Context, q database.DBTxConn) (ms []Migration, legacy bool, err error) {
	hasGoose, err := db.tableExists(ctx, q, gooseTable)
	if err != nil {
		return nil, false, err
	}
	if hasGoose {
		rows, err := q.QueryContext(ctx, `SELECT version_id, tstamp FROM `+gooseTable+` WHERE is_applied AND version_id > 0 ORDER BY id`)
		if err != nil {
			return nil, false, fmt.Errorf("read %s: %w", gooseTable, err)
		}
		defer rows.Close()
		for rows.Next() {
			var m Migration
			var at sql.NullTime
			if err := rows.Scan(&m.Version, &at); err != nil {
				return nil, false, fmt.Errorf("read %s: %w", gooseTable, err)
			}
			m.Applied, m.AppliedAt = true, at.Time.UTC()
			ms = append(ms, m)
		}
		return ms, false, rows.Err()
	}
	ms, err = db.legacyMigrations(ctx, q)
	return ms, ms != nil, err
}

// legacyMigrations reads what the runner before goose recorded in
// schema_migrations; nil when there is no such table.
func (db *DB) legacyMigrations(ctx context.Context, q database.DBTxConn) ([]Migration, error) {
	has, err := db.tableExists(ctx, q, legacyTable)
	if err != nil || !has {
		return nil, err
	}
	rows, err := q.QueryContext(ctx, `SELECT name, applied_at FROM `+legacyTable+` ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", legacyTable, err)
	}
	defer rows.Close()
	ms := []Migration{}
	for rows.Next() {
		var name, at string
		if err := rows.Scan(&name, &at); err != nil {
			return nil, fmt.Errorf("read %s: %w", legacyTable, err)
		}
		v, err := goose.NumericComponent(name)
		if err != nil {
			return nil, fmt.Errorf("%s records %q, which is not a scepgate migration", legacyTable, name)
		}
		t, _ := time.Parse(time.RFC3339, at)
		ms = append(ms, Migration{Version: v, Name: name, Applied: true, AppliedAt: t.UTC()})
	}
	return ms, rows.Err()
}

func (db *DB) tableExists(ctx context.Context, q database.DBTxConn, name string) (bool, error) {
	var n int
	var err error
	if db.dialect == "postgres" {
		err = q.QueryRowContext(ctx, `SELECT COUNT(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = $1`, name).Scan(&n)
	} else {
		err = q.QueryRowContext(ctx, `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = ?`, name).Scan(&n)
	}
	if err != nil {
		return false, fmt.Errorf("look for table %s: %w", name, err)
	}
	return n > 0, nil
}

// Migrate applies the migrations the database lacks, each in its own
// transaction with its record, and returns them. It refuses a database
// newer than this binary. On PostgreSQL, instances that migrate together
// take turns on an advisory lock. On SQLite, where goose has no lock,
// processes that migrate together may both try a migration: the record of
// each version is unique, so the second one's transaction fails and rolls
// back whole, and Migrate goes on with what is still pending.
func (db *DB) Migrate(ctx context.Context) ([]Migration, error) {
	s, err := db.Schema(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.newerErr(); err != nil {
		return nil, err
	}
	if len(s.Pending()) == 0 && !s.Legacy {
		return nil, nil
	}
	if err := db.prepareRecord(ctx); err != nil {
		return nil, err
	}
	if len(s.Pending()) == 0 {
		return nil, nil
	}
	p, err := db.provider()
	if err != nil {
		return nil, err
	}
	names := make(map[int64]string)
	for _, m := range s.Migrations {
		names[m.Version] = m.Name
	}
	var applied []Migration
	record := func(rs []*goose.MigrationResult) {
		for _, r := range rs {
			applied = append(applied, Migration{Version: r.Source.Version, Name: names[r.Source.Version], Applied: true, AppliedAt: db.now()})
		}
	}
	for attempt := 0; ; attempt++ {
		rs, err := p.Up(ctx)
		record(rs)
		if err == nil {
			return applied, nil
		}
		var pe *goose.PartialError
		if !errors.As(err, &pe) {
			return applied, fmt.Errorf("migrate the database: %w", err)
		}
		record(pe.Applied)
		failed := pe.Failed.Source.Version
		if attempt < len(s.Migrations) {
			if now, err := db.Schema(ctx); err == nil && now.applied(failed) {
				continue // another process applied it meanwhile
			}
		}
		return applied, fmt.Errorf("migration %s: %w", names[failed], pe.Err)
	}
}

func (s *Schema) applied(version int64) bool {
	for _, m := range s.Migrations {
		if m.Version == version {
			return m.Applied
		}
	}
	return false
}

// provider returns goose's migrator over the embedded migrations.
func (db *DB) provider() (*goose.Provider, error) {
	sqlDB, err := db.db.DB()
	if err != nil {
		return nil, err
	}
	fsys, err := db.migrationFS()
	if err != nil {
		return nil, err
	}
	dialect := goose.DialectSQLite3
	opts := []goose.ProviderOption{goose.WithDisableGlobalRegistry(true)}
	if db.dialect == "postgres" {
		dialect = goose.DialectPostgres
		// Ask for the lock every second, for five minutes.
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(migrationLockID), lock.WithLockTimeout(1, 300))
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	return goose.NewProvider(dialect, sqlDB, fsys, opts...)
}

// prepareRecord makes goose's table, with a unique version column, before
// goose runs. On a database migrated before goose it moves the record from
// schema_migrations into it and drops schema_migrations, in the same
// transaction.
func (db *DB) prepareRecord(ctx context.Context) error {
	sqlDB, err := db.db.DB()
	if err != nil {
		return err
	}
	// On SQLite the transaction begins IMMEDIATE (see Open), so processes
	// take turns here.
	tx, err := sqlDB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if db.dialect == "postgres" {
		if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLockID); err != nil {
			return err
		}
	}
	has, err := db.tableExists(ctx, tx, gooseTable)
	if err != nil {
		return err
	}
	if !has {
		legacy, err := db.legacyMigrations(ctx, tx)
		if err != nil {
			return err
		}
		if err := db.checkLegacy(legacy); err != nil {
			return err
		}
		gs, err := database.NewStore(map[string]database.Dialect{"sqlite": database.DialectSQLite3, "postgres": database.DialectPostgres}[db.dialect], gooseTable)
		if err != nil {
			return err
		}
		if err := gs.CreateVersionTable(ctx, tx); err != nil {
			return fmt.Errorf("create %s: %w", gooseTable, err)
		}
		for _, v := range append([]int64{0}, versions(legacy)...) {
			if err := gs.Insert(ctx, tx, database.InsertRequest{Version: v}); err != nil {
				return fmt.Errorf("record migration %d in %s: %w", v, gooseTable, err)
			}
		}
		if legacy != nil {
			if _, err := tx.ExecContext(ctx, `DROP TABLE `+legacyTable); err != nil {
				return fmt.Errorf("drop %s: %w", legacyTable, err)
			}
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE UNIQUE INDEX IF NOT EXISTS `+gooseTable+`_version ON `+gooseTable+` (version_id)`); err != nil {
		return fmt.Errorf("make the versions in %s unique: %w", gooseTable, err)
	}
	return tx.Commit()
}

// checkLegacy refuses a record from before goose that names migrations
// this binary does not have.
func (db *DB) checkLegacy(legacy []Migration) error {
	known, err := db.embedded()
	if err != nil {
		return err
	}
	newest := known[len(known)-1].Version
	for _, m := range legacy {
		if m.Version > newest {
			return newerError(slices.MaxFunc(legacy, byVersion).Version, newest)
		}
		i := slices.IndexFunc(known, func(k Migration) bool { return k.Version == m.Version })
		if i < 0 || !strings.EqualFold(known[i].Name, m.Name) {
			return fmt.Errorf("%s records migration %s, which this scepgate does not have; it cannot tell what the schema is", legacyTable, m.Name)
		}
	}
	return nil
}

func byVersion(a, b Migration) int { return cmp.Compare(a.Version, b.Version) }

func versions(ms []Migration) []int64 {
	vs := make([]int64, len(ms))
	for i, m := range ms {
		vs[i] = m.Version
	}
	slices.Sort(vs)
	return vs
}
