package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki"
	"github.com/scepgate/scepgate/store"
	"github.com/spf13/cobra"
)

func newBackupCmd(cl *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "backup FILE",
		Short: "Copy the SQLite database to FILE while the server runs",
		Long: `Backup writes a consistent copy of the SQLite database to FILE (a new file,
mode 0600) while the server goes on working: everything committed when the
copy starts is in it. It migrates nothing, so it is also the step before an
upgrade.

The master key (DATA/master.key, or SCEPGATE_MASTER_KEY) is NOT in the
backup, and without it the CA and RA keys in the backup cannot be used.
Back it up once, and keep it apart from the database backups: whoever holds
both holds the CA.

For PostgreSQL, use pg_dump instead.`,
		Example: `  scepgate backup /var/backups/scepgate-$(date +%F).db`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runBackup(cmd.Context(), cl, args[0])
		},
	}
}

func newRestoreCmd(cl *cli) *cobra.Command {
	return &cobra.Command{
		Use:   "restore FILE",
		Short: "Put a backup in place of the SQLite database (server stopped)",
		Long: `Restore replaces the SQLite database with FILE, a backup made by scepgate
backup. Stop the server first: restore refuses while a server holds the
data folder.

It first checks FILE: SQLite's integrity check passes, its schema is one
this scepgate knows, and the master key (DATA/master.key, or
SCEPGATE_MASTER_KEY) opens its CA and RA keys. Then it puts a copy in place
in one rename, and keeps the database it replaces as
scepgate.db.before-restore-TIMESTAMP. A backup with an older schema is
upgraded by the next serve (or scepgate migrate up).

For PostgreSQL, use pg_restore instead.`,
		Example: `  scepgate restore /var/backups/scepgate-2026-05-01.db`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRestore(cmd.Context(), cl, args[0])
		},
	}
}

// masterKeyPlace says where the master key is for messages.
func (cl *cli) masterKeyPlace() string {
	if cl.getenv("SCEPGATE_MASTER_KEY") != "" {
		return "SCEPGATE_MASTER_KEY"
	}
	return filepath.Join(cl.common.data, pki.MasterKeyFile)
}

func runBackup(ctx context.Context, cl *cli, file string) error {
	dsn := cl.common.dsn()
	if store.IsPostgres(dsn) {
		return usageError{"scepgate backup copies SQLite databases. Back up PostgreSQL with pg_dump (pg_dump --format=custom --file=FILE DATABASE-URL), and the master key apart from it."}
	}
	path, err := filepath.Abs(file)
	if err != nil {
		return err
	}
	if _, err := os.Stat(path); err == nil {
		return model.Errorf(model.ECONFLICT, "%s exists already. Choose a new file name; a backup never overwrites one.", path)
	}
	db, err := cl.openStore(ctx, store.MigrateNone)
	if err != nil {
		return err
	}
	defer db.Close()
	s, err := db.Schema(ctx)
	if err != nil {
		return err
	}
	if err := db.Backup(ctx, path); err != nil {
		return err
	}
	fmt.Fprintf(cl.stdout, "Backed up %s (schema %d) to %s\n", dsn, s.Version, path)
	fmt.Fprintf(cl.stdout, "The master key (%s) is needed to use this backup and is NOT in it: keep a copy of it, apart from the database backups.\n", cl.masterKeyPlace())
	return nil
}

func runRestore(ctx context.Context, cl *cli, file string) error {
	target := cl.common.dsn()
	if store.IsPostgres(target) {
		return usageError{"scepgate restore puts SQLite backups in place. Restore PostgreSQL with pg_restore from your pg_dump backup."}
	}
	src, err := filepath.Abs(file)
	if err != nil {
		return err
	}
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("read the backup: %w", err)
	}
	if t, err := filepath.Abs(target); err == nil && t == src {
		return model.Errorf(model.EINVALID, "%s is the database itself; name a backup file.", src)
	}
	mk, keyPlace, err := readMasterKey(cl.common.data, cl.getenv)
	if err != nil {
		return err
	}
	// The lock a running server holds: restore refuses while one runs, and
	// no server starts while it works.
	lock, err := lockFolder(cl.common.data)
	if err != nil {
		return err
	}
	defer lock.release()
	dir := filepath.Dir(target)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create the database's folder: %w", err)
	}
	staged, err := store.StageSQLite(src, dir)
	if err != nil {
		return err
	}
	defer os.Remove(staged) // gone by then when it was put in place
	facts, err := checkBackup(ctx, staged, mk)
	if errors.Is(err, pki.ErrWrongMasterKey) {
		return model.Errorf(model.EINVALID, "The master key (%s) does not open the CA and RA keys in %s: the backup was made with another master key. Put that key in %s (or set SCEPGATE_MASTER_KEY to it) and run restore again. Nothing was changed.", keyPlace, src, filepath.Join(cl.common.data, pki.MasterKeyFile))
	} else if err != nil {
		return model.Errorf(model.EINVALID, "%s cannot be restored: %s Nothing was changed.", src, message(err))
	}
	keep := target + ".before-restore-" + time.Now().UTC().Format("20060102T150405Z")
	kept, err := store.ReplaceSQLite(ctx, target, staged, keep)
	if err != nil {
		return err
	}
	w := cl.stdout
	fmt.Fprintf(w, "Restored %s into %s: schema %d, CA %s (SHA-256 %s), %d certificates.\n", src, target, facts.schema.Version, facts.ca.Subject.String(), pki.SHA256Fingerprint(facts.ca), facts.certificates)
	if kept {
		fmt.Fprintf(w, "The database it replaced is kept as %s.\n", keep)
	}
	if facts.schema.Version < facts.schema.Known {
		fmt.Fprintf(w, "It is at schema %d; serve (or scepgate migrate up) upgrades it to schema %d.\n", facts.schema.Version, facts.schema.Known)
	}
	return nil
}

// backupFacts is what checkBackup found in a backup.
type backupFacts struct {
	schema       *store.Schema
	ca           *x509.Certificate
	certificates int64
}

// checkBackup opens the SQLite file at path and checks that it is a
// scepgate database this binary can run on, whole, whose CA and RA keys mk
// opens (else the error is pki.ErrWrongMasterKey).
func checkBackup(ctx context.Context, path string, mk *pki.MasterKey) (*backupFacts, error) {
	db, err := store.OpenWith(ctx, path, store.Options{Migrate: store.MigrateNone})
	var me *model.Error
	if errors.As(err, &me) {
		return nil, err
	} else if err != nil {
		return nil, model.Errorf(model.EINVALID, "It is not a SQLite database that scepgate can read (%v).", err)
	}
	defer db.Close()
	if err := db.IntegrityCheck(ctx); err != nil {
		return nil, err
	}
	s, err := db.Schema(ctx)
	if err != nil {
		return nil, err
	}
	if s.Version == 0 {
		return nil, model.Errorf(model.EINVALID, "It is not a scepgate database: it records no scepgate migrations.")
	}
	caRow, raRow, err := db.ActiveAuthorities(ctx)
	if err != nil {
		return nil, model.Errorf(model.EINVALID, "It holds no active CA and RA (%s)", message(err))
	}
	a, err := pki.OpenAuthority(caRow, raRow, mk)
	if err != nil {
		return nil, err
	}
	_, n, err := db.SearchCertificates(ctx, model.CertificateFilter{}, 1, 1)
	if err != nil {
		return nil, err
	}
	return &backupFacts{schema: s, ca: a.CA, certificates: n}, nil
}
