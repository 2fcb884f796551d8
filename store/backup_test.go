package store_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/store"
)

// TestBackup copies a SQLite database while another goroutine writes to
// it, and opens the copy.
func TestBackup(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := store.Open(ctx, filepath.Join(dir, "scepgate.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.ApplySeed(ctx, testSeed()); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if err := db.AddAuditEvent(ctx, &model.AuditEvent{Actor: "test", Action: "write"}); err != nil {
				t.Error(err)
				return
			}
		}
	})
	path := filepath.Join(dir, "backup.db")
	time.Sleep(20 * time.Millisecond)
	err = db.Backup(ctx, path)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatalf("Backup: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("backup file: %v, mode %v; want mode 0600", err, fi.Mode().Perm())
	}
	copyDB, err := store.OpenWith(ctx, path, store.Options{Migrate: store.MigrateRefuse})
	if err != nil {
		t.Fatalf("open the backup: %v", err)
	}
	defer copyDB.Close()
	if err := copyDB.IntegrityCheck(ctx); err != nil {
		t.Errorf("IntegrityCheck of the backup: %v", err)
	}
	if seeded, err := copyDB.Seeded(ctx); err != nil || !seeded {
		t.Errorf("backup Seeded = %v, %v; want the data in it", seeded, err)
	}

	if err := db.Backup(ctx, path); model.ErrorCode(err) != model.ECONFLICT {
		t.Errorf("Backup onto an existing file: %v; want a conflict", err)
	}
	if fi2, err := os.Stat(path); err != nil || fi2.Size() != fi.Size() {
		t.Errorf("the refused backup changed the existing file")
	}
}

func TestBackupPostgresRefused(t *testing.T) {
	if os.Getenv("SCEPGATE_TEST_POSTGRES") == "" {
		t.Skip("needs SCEPGATE_TEST_POSTGRES")
	}
	now := time.Now()
	db := openTestDB(t, &now)
	if err := db.Backup(context.Background(), filepath.Join(t.TempDir(), "b.db")); model.ErrorCode(err) != model.EINVALID {
		t.Errorf("Backup on PostgreSQL: %v; want invalid (use pg_dump)", err)
	}
}

// TestReplaceSQLite puts a staged database in place of one, keeping the
// one it replaces, and in place of a removed one whose -wal and -shm files
// were left behind.
func TestReplaceSQLite(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	target := filepath.Join(dir, "scepgate.db")
	old, err := store.Open(ctx, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := old.AddAuditEvent(ctx, &model.AuditEvent{Actor: "test", Action: "old"}); err != nil {
		t.Fatal(err)
	}
	_ = old.Close()

	src := filepath.Join(t.TempDir(), "new.db")
	newDB, err := store.Open(ctx, src, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := newDB.ApplySeed(ctx, testSeed()); err != nil {
		t.Fatal(err)
	}
	_ = newDB.Close()

	replace := func(keep string) bool {
		t.Helper()
		staged, err := store.StageSQLite(src, dir)
		if err != nil {
			t.Fatal(err)
		}
		kept, err := store.ReplaceSQLite(ctx, target, staged, keep)
		if err != nil {
			t.Fatalf("ReplaceSQLite: %v", err)
		}
		if _, err := os.Stat(staged); !os.IsNotExist(err) {
			t.Errorf("the staged file %s is still there", staged)
		}
		return kept
	}
	keep := target + ".before-restore-1"
	if !replace(keep) {
		t.Error("kept = false; want the replaced database kept")
	}
	db, err := store.Open(ctx, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	if seeded, err := db.Seeded(ctx); err != nil || !seeded {
		t.Errorf("after replace Seeded = %v, %v; want the staged database", seeded, err)
	}
	_ = db.Close()
	kdb, err := store.Open(ctx, keep, nil)
	if err != nil {
		t.Fatal(err)
	}
	if seeded, _ := kdb.Seeded(ctx); seeded {
		t.Error("the kept database is the new one")
	}
	if events, _, err := kdb.SearchAuditEvents(ctx, model.AuditFilter{}, 1, 10); err != nil || len(events) != 1 || events[0].Action != "old" {
		t.Errorf("kept database's audit = %+v, %v; want the old event", events, err)
	}
	_ = kdb.Close()

	// A database removed by hand, with its -wal (commits not yet in the
	// file) and -shm left behind: they are not read as the restored
	// database's. (The log comes from the kept database, so that its pages
	// would show.)
	wal := staleWAL(t, keep)
	for _, p := range []string{target, target + "-wal", target + "-shm"} {
		_ = os.Remove(p)
	}
	if err := os.WriteFile(target+"-wal", wal, 0o600); err != nil {
		t.Fatal(err)
	}
	if replace(target + ".before-restore-2") {
		t.Error("kept = true with no database to keep")
	}
	db, err = store.Open(ctx, target, nil)
	if err != nil {
		t.Fatalf("open after replacing a removed database: %v", err)
	}
	defer db.Close()
	if err := db.IntegrityCheck(ctx); err != nil {
		t.Error(err)
	}
	if seeded, err := db.Seeded(ctx); err != nil || !seeded {
		t.Errorf("Seeded = %v, %v; want the staged database", seeded, err)
	}
	if tableExists(t, target, "filler") {
		t.Error("the restored database has the table filler, from the stale write-ahead log")
	}
}

// staleWAL writes to the SQLite database at path without checkpointing and
// returns its write-ahead log as it is then.
func staleWAL(t *testing.T, path string) []byte {
	t.Helper()
	raw := rawDB(t, path)
	raw.SetMaxOpenConns(1)
	for _, q := range []string{`PRAGMA wal_autocheckpoint=0`, `CREATE TABLE filler (b BLOB)`,
		`INSERT INTO filler SELECT randomblob(4000) FROM (SELECT 1 UNION SELECT 2 UNION SELECT 3 UNION SELECT 4)`,
		`DELETE FROM audit_events`} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	b, err := os.ReadFile(path + "-wal")
	if err != nil || len(b) < 8192 {
		t.Fatalf("write-ahead log: %d bytes, %v", len(b), err)
	}
	return b
}
