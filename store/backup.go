package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/scepgate/scepgate/model"
)

// Backup writes a consistent copy of the SQLite database to path, a file
// that must not exist, while others go on reading and writing it: VACUUM
// INTO copies one read transaction's view. The copy is created with mode
// 0600 and synced to disk. PostgreSQL databases are backed up with
// pg_dump instead.
func (db *DB) Backup(ctx context.Context, path string) (err error) {
	if db.dialect != "sqlite" {
		return model.Errorf(model.EINVALID, "Backup copies SQLite databases; back up PostgreSQL with pg_dump.")
	}
	// VACUUM INTO accepts an empty file: making it here refuses one that
	// exists and gives the copy its mode.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return model.Errorf(model.ECONFLICT, "%s exists already. Choose a new file name; a backup never overwrites one.", path)
	} else if err != nil {
		return fmt.Errorf("create the backup file: %w", err)
	}
	_ = f.Close()
	defer func() {
		if err != nil {
			_ = os.Remove(path)
		}
	}()
	if err := db.db.WithContext(ctx).Exec(`VACUUM INTO ?`, path).Error; err != nil {
		return fmt.Errorf("copy the database to %s: %w", path, err)
	}
	return syncFile(path)
}

// IntegrityCheck runs SQLite's integrity check and says what it found
// when it is not "ok". On PostgreSQL it does nothing.
func (db *DB) IntegrityCheck(ctx context.Context) error {
	if db.dialect != "sqlite" {
		return nil
	}
	var rows []string
	if err := db.db.WithContext(ctx).Raw(`PRAGMA integrity_check`).Scan(&rows).Error; err != nil {
		return fmt.Errorf("integrity check: %w", err)
	}
	if len(rows) == 1 && rows[0] == "ok" {
		return nil
	}
	if len(rows) > 5 {
		rows = append(rows[:5], "...")
	}
	return model.Errorf(model.EINVALID, "The database fails SQLite's integrity check: %s.", strings.Join(rows, "; "))
}

// StageSQLite copies the SQLite file src into a new temporary file in dir
// (mode 0600), synced to disk, and returns its path: the first step of
// putting a backup in place with ReplaceSQLite. The caller removes it if
// it is not put in place.
func StageSQLite(src, dir string) (path string, err error) {
	in, err := os.Open(src)
	if err != nil {
		return "", fmt.Errorf("read the backup: %w", err)
	}
	defer in.Close()
	out, err := os.CreateTemp(dir, ".scepgate.db.restore-*")
	if err != nil {
		return "", fmt.Errorf("copy the backup into %s: %w", dir, err)
	}
	path = out.Name()
	defer func() {
		if err != nil {
			_ = out.Close()
			_ = os.Remove(path)
		}
	}()
	if _, err := io.Copy(out, in); err != nil {
		return "", fmt.Errorf("copy the backup into %s: %w", dir, err)
	}
	if err := out.Sync(); err != nil {
		return "", fmt.Errorf("copy the backup into %s: %w", dir, err)
	}
	if err := out.Close(); err != nil {
		return "", fmt.Errorf("copy the backup into %s: %w", dir, err)
	}
	return path, nil
}

// ReplaceSQLite puts staged, a SQLite file in the folder of the database
// target that nothing has open, in target's place, in one rename. A
// database already at target is kept as keepAs (a second name for the same
// file), with its write-ahead log folded in first; its -wal and -shm files
// are gone before staged takes its name, so that they cannot be read as
// the new database's. It reports whether there was a database to keep.
func ReplaceSQLite(ctx context.Context, target, staged, keepAs string) (kept bool, err error) {
	for _, p := range []string{staged + "-wal", staged + "-shm"} {
		if _, err := os.Stat(p); err == nil {
			return false, fmt.Errorf("%s has a write-ahead log left (%s); it cannot be put in place as it is", staged, p)
		}
	}
	if err := syncFile(staged); err != nil {
		return false, err
	}
	_, err = os.Stat(target)
	switch {
	case err == nil:
		kept = true
		// Fold the log into the file, so that keepAs holds every commit.
		// Should it fail, the log is kept beside keepAs below.
		_ = checkpointSQLite(ctx, target)
		if err := os.Link(target, keepAs); err != nil {
			return false, fmt.Errorf("keep the current database as %s: %w", keepAs, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return false, err
	}
	wal := target + "-wal"
	if fi, err := os.Stat(wal); err == nil {
		if kept && fi.Size() > 0 {
			err = os.Rename(wal, keepAs+"-wal")
		} else {
			err = os.Remove(wal) // empty, or the log of a database that is gone
		}
		if err != nil {
			return kept, fmt.Errorf("move %s away: %w", wal, err)
		}
	}
	// The shared-memory file is only an index of the log.
	if err := os.Remove(target + "-shm"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return kept, fmt.Errorf("remove %s-shm: %w", target, err)
	}
	if err := os.Rename(staged, target); err != nil {
		return kept, fmt.Errorf("put the restored database in place: %w", err)
	}
	return kept, SyncDir(filepath.Dir(target))
}

// checkpointSQLite copies the write-ahead log of the SQLite database at
// path into the database file and empties it.
func checkpointSQLite(ctx context.Context, path string) error {
	conn, err := sql.Open("sqlite3", "file:"+path+"?mode=rw&_busy_timeout=15000")
	if err != nil {
		return err
	}
	defer conn.Close()
	_, err = conn.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
	return err
}

// syncFile flushes the file at path and the folder that holds it to disk.
func syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("sync %s: %w", path, err)
	}
	return SyncDir(filepath.Dir(path))
}

// SyncDir flushes a folder's entries (files created, renamed or removed in
// it) to disk.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync folder %s: %w", dir, err)
	}
	return nil
}
