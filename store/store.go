// Package store keeps scepgate's data in SQLite (the embedded default) or
// PostgreSQL through gorm. Every exported method takes a context first and
// owns its transaction; gorm errors never leave this package.
package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/scepgate/scepgate/model"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// DB is the scepgate database.
type DB struct {
	db      *gorm.DB
	dialect string // "sqlite" or "postgres"
	now     func() time.Time
	// migrated lists the migrations Open applied.
	migrated []Migration
}

// Options say how OpenWith opens a database.
type Options struct {
	// Now is the clock; nil means the system clock.
	Now func() time.Time
	// Migrate says what to do with migrations the database lacks; the zero
	// value applies them.
	Migrate MigrateMode
	// Synchronous is SQLite's PRAGMA synchronous: "full" (also "", the
	// default) or "normal". FULL syncs the write-ahead log at every commit,
	// so a certificate already sent to a device survives a power loss;
	// NORMAL saves that fsync and may lose the last commits on power loss
	// (never on a crash of the process). PostgreSQL ignores it.
	Synchronous string
}

// MigrateMode says what Open does with migrations a database lacks. Every
// mode refuses a database whose schema is newer than this binary's.
type MigrateMode int

const (
	// MigrateApply applies them: serve and the commands that change data.
	MigrateApply MigrateMode = iota
	// MigrateRefuse applies none and refuses a database that lacks some:
	// read-only commands.
	MigrateRefuse
	// MigrateNone applies none and opens the database as it is, behind or
	// current: backup, restore's checks, migrate status and migrate up.
	MigrateNone
)

// Open opens the database named by dsn, applies pending migrations and,
// once per database, clears the requests stored before they were stored
// without challenge passwords (see scrubStoredCSRs). A dsn starting with
// postgres:// or postgresql:// names a PostgreSQL database; anything else
// is the path of a SQLite file, created with mode 0600 if missing (its -wal
// and -shm files take that mode).
// now is the clock (nil: the system clock); times are stored in UTC with
// microsecond precision so both databases round-trip them exactly.
func Open(ctx context.Context, dsn string, now func() time.Time) (*DB, error) {
	return OpenWith(ctx, dsn, Options{Now: now})
}

// OpenWith opens the database named by dsn as Open does, as o says. With a
// mode other than MigrateApply it creates nothing: a SQLite file must
// exist, and no table is made.
func OpenWith(ctx context.Context, dsn string, o Options) (*DB, error) {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	clock := func() time.Time { return now().UTC().Truncate(time.Microsecond) }
	var dialector gorm.Dialector
	dialect := "sqlite"
	if IsPostgres(dsn) {
		dialect = "postgres"
		dialector = postgres.Open(dsn)
	} else {
		sync, err := sqliteSynchronous(o.Synchronous)
		if err == nil && o.Migrate == MigrateApply {
			err = createPrivateFile(dsn)
		}
		if err != nil {
			return nil, err
		}
		// WAL lets readers run beside the writer; immediate transactions take
		// the write lock up front so that two writers queue on the busy
		// timeout instead of failing to upgrade a read lock.
		q := "?_journal_mode=WAL&_foreign_keys=on&_busy_timeout=15000&_txlock=immediate&_synchronous=" + sync
		if o.Migrate != MigrateApply {
			if _, err := os.Stat(dsn); err != nil {
				return nil, model.Errorf(model.ENOTFOUND, "There is no SQLite database at %s. Check --database and --data; a new one is made by a command that changes something, such as scepgate serve.", dsn)
			}
			q += "&mode=rw" // never create the file
		}
		dialector = sqlite.Open("file:" + dsn + q)
	}
	g, err := gorm.Open(dialector, &gorm.Config{
		TranslateError:         true,
		NowFunc:                clock,
		Logger:                 logger.Discard,
		SkipDefaultTransaction: true,
	})
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", dialect, err)
	}
	sqlDB, err := g.DB()
	if err != nil {
		return nil, err
	}
	if dialect == "sqlite" {
		sqlDB.SetMaxOpenConns(8)
	} else {
		sqlDB.SetMaxOpenConns(32)
	}
	sqlDB.SetMaxIdleConns(8)
	if err := sqlDB.PingContext(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, fmt.Errorf("open %s database: %w", dialect, err)
	}
	db := &DB{db: g, dialect: dialect, now: clock}
	if err := db.checkSchema(ctx, o.Migrate); err != nil {
		_ = sqlDB.Close()
		return nil, err
	}
	if o.Migrate == MigrateApply {
		if err := db.scrubStoredCSRs(ctx); err != nil {
			_ = sqlDB.Close()
			return nil, err
		}
	}
	return db, nil
}

// createPrivateFile creates the SQLite file path with mode 0600 unless it
// exists, so that SQLite, which gives its -wal and -shm files the mode of
// the database file, keeps all three to their owner.
func createPrivateFile(path string) error {
	if path == ":memory:" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case errors.Is(err, fs.ErrExist):
		return nil
	case err != nil:
		return fmt.Errorf("create the SQLite database: %w", err)
	}
	return f.Close()
}

// IsPostgres reports whether dsn names a PostgreSQL database rather than a
// SQLite file.
func IsPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// sqliteSynchronous returns the PRAGMA synchronous value for setting s.
func sqliteSynchronous(s string) (string, error) {
	switch strings.ToLower(s) {
	case "", "full":
		return "FULL", nil
	case "normal":
		return "NORMAL", nil
	}
	return "", model.Errorf(model.EINVALID, "The SQLite synchronous setting must be full or normal, not %q.", s)
}

// checkSchema refuses a database newer than this binary and, as mode says,
// applies the migrations it lacks or refuses it for lacking them.
func (db *DB) checkSchema(ctx context.Context, mode MigrateMode) error {
	if mode == MigrateApply {
		applied, err := db.Migrate(ctx)
		db.migrated = applied
		return err
	}
	s, err := db.Schema(ctx)
	if err != nil {
		return err
	}
	if err := s.newerErr(); err != nil {
		return err
	}
	if p := s.Pending(); mode == MigrateRefuse && len(p) > 0 {
		return model.Errorf(model.ECONFLICT, "This database is at schema %d; this scepgate needs schema %d. Run scepgate migrate up (or serve) first.", s.Version, s.Known)
	}
	return nil
}

// Migrated returns the migrations that Open applied, oldest first.
func (db *DB) Migrated() []Migration { return db.migrated }

// Close closes the database.
func (db *DB) Close() error {
	sqlDB, err := db.db.DB()
	if err != nil {
		return err
	}
	return sqlDB.Close()
}

// Now returns the store's clock reading, as it stores it.
func (db *DB) Now() time.Time { return db.now() }

// translate turns gorm errors into model errors.
func translate(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, gorm.ErrRecordNotFound):
		return model.Errorf(model.ENOTFOUND, "%s not found.", what)
	case errors.Is(err, gorm.ErrDuplicatedKey):
		return model.Errorf(model.ECONFLICT, "%s already exists.", what)
	case errors.Is(err, gorm.ErrForeignKeyViolated):
		return model.Errorf(model.ECONFLICT, "%s is still in use or refers to something that does not exist.", what)
	default:
		var me *model.Error
		if errors.As(err, &me) {
			return err
		}
		return fmt.Errorf("%s: %w", strings.ToLower(what), err)
	}
}

// whereContains keeps the rows whose column contains q, ignoring case.
func whereContains(tx *gorm.DB, column, q string) *gorm.DB {
	r := strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`)
	return tx.Where("LOWER("+column+") LIKE ? ESCAPE '\\'", "%"+strings.ToLower(r.Replace(q))+"%")
}

func quote(s string) string { return strconv.Quote(s) }

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = quote(n)
	}
	return strings.Join(q, ", ")
}
