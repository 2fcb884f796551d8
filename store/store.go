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
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/scepgate/scepgate/migrations"
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
}

// Open opens the database named by dsn, applies pending migrations and,
// once per database, clears the requests stored before they were stored
// without challenge passwords (see scrubStoredCSRs). A dsn starting with
// postgres:// or postgresql:// names a PostgreSQL database; anything else
// is the path of a SQLite file, created with mode 0600 if missing (its -wal
// and -shm files take that mode).
// now is the clock (nil: the system clock); times are stored in UTC with
// microsecond precision so both databases round-trip them exactly.
func Open(ctx context.Context, dsn string, now func() time.Time) (*DB, error) {
	if now == nil {
		now = time.Now
	}
	clock := func() time.Time { return now().UTC().Truncate(time.Microsecond) }
	var dialector gorm.Dialector
	dialect := "sqlite"
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		dialect = "postgres"
		dialector = postgres.Open(dsn)
	} else {
		if err := createPrivateFile(dsn); err != nil {
			return nil, err
		}
		// WAL lets readers run beside the writer; immediate transactions take
		// the write lock up front so that two writers queue on the busy
		// timeout instead of failing to upgrade a read lock.
		dialector = sqlite.Open("file:" + dsn + "?_journal_mode=WAL&_foreign_keys=on&_busy_timeout=15000&_txlock=immediate&_synchronous=NORMAL")
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
	if err := db.migrate(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, err
	}
	if err := db.scrubStoredCSRs(ctx); err != nil {
		_ = sqlDB.Close()
		return nil, err
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

// migrate applies, in order and each in its own transaction, the embedded
// migrations not yet recorded in schema_migrations.
func (db *DB) migrate(ctx context.Context) error {
	g := db.db.WithContext(ctx)
	if err := g.Exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
		name       TEXT PRIMARY KEY,
		applied_at TEXT NOT NULL
	)`).Error; err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	names, err := fs.Glob(migrations.FS, db.dialect+"/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		base := path.Base(name)
		sql, err := fs.ReadFile(migrations.FS, name)
		if err != nil {
			return err
		}
		err = g.Transaction(func(tx *gorm.DB) error {
			if db.dialect == "postgres" {
				// Instances starting together take turns.
				if err := tx.Exec(`SELECT pg_advisory_xact_lock(8894)`).Error; err != nil {
					return err
				}
			}
			var n int64
			if err := tx.Raw(`SELECT COUNT(*) FROM schema_migrations WHERE name = ?`, base).Scan(&n).Error; err != nil {
				return err
			}
			if n > 0 {
				return nil
			}
			if err := tx.Exec(string(sql)).Error; err != nil {
				return err
			}
			return tx.Exec(`INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)`,
				base, db.now().Format(time.RFC3339)).Error
		})
		if err != nil {
			return fmt.Errorf("migration %s: %w", base, err)
		}
	}
	return nil
}

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
