package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki"
	"github.com/scepgate/scepgate/store"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

func newMigrateCmd(cl *cli) *cobra.Command {
	m := group(&cobra.Command{
		Use:   "migrate",
		Short: "Show or apply the database's schema migrations",
		Long: `The migrate commands show which schema migrations the database has and
lacks, and apply those it lacks. Serve and the commands that change
something apply them when they open the database; the commands that only
read (ca show, handlers list, registration pending, migrate status) never
do, and refuse a database that lacks some. Every command refuses a database
that a newer scepgate upgraded.`,
	})
	status := &cobra.Command{
		Use:   "status",
		Short: "List the applied and pending migrations",
		Long: `Status lists this scepgate's migrations, each applied (with when) or
pending, and the database's schema version. It changes nothing.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runMigrateStatus(cmd.Context(), cl)
		},
	}
	up := &cobra.Command{
		Use:   "up",
		Short: "Apply the pending migrations",
		Long: `Up applies the pending migrations, oldest first, each in its own
transaction, and says which. On PostgreSQL, instances that migrate at the
same time take turns. Back the database up first (scepgate backup, or
pg_dump): a schema cannot be taken back down, only restored.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runMigrateUp(cmd.Context(), cl)
		},
	}
	m.AddCommand(status, up)
	return m
}

// addStoreFlags defines the flags that say how every command opens the
// database.
func (cl *cli) addStoreFlags(fs *pflag.FlagSet) {
	cl.envString(fs, &cl.common.synchronous, envFlag{name: "sqlite-synchronous", env: "SCEPGATE_SQLITE_SYNCHRONOUS", def: "full",
		help: "SQLite durability: full syncs every commit to disk; normal saves that fsync but may lose the last commits on power loss"})
}

// storeOptions returns how to open the database the common flags name; a
// --sqlite-synchronous it does not know is a usage error.
func storeOptions(c commonFlags, mode store.MigrateMode) (store.Options, error) {
	switch strings.ToLower(c.synchronous) {
	case "", "full", "normal":
	default:
		return store.Options{}, usageError{fmt.Sprintf("--sqlite-synchronous (or SCEPGATE_SQLITE_SYNCHRONOUS) is %q: use full or normal.", c.synchronous)}
	}
	return store.Options{Migrate: mode, Synchronous: c.synchronous}, nil
}

// dsn is the database the common flags name: --database, or the SQLite
// file DATA/scepgate.db.
func (c commonFlags) dsn() string {
	if c.database != "" {
		return c.database
	}
	return filepath.Join(c.data, "scepgate.db")
}

// dsnText is the database's name for messages: a PostgreSQL URL without its
// password.
func dsnText(dsn string) string {
	if !store.IsPostgres(dsn) {
		return dsn
	}
	u, err := url.Parse(dsn)
	if err != nil {
		return "the PostgreSQL database"
	}
	return u.Redacted()
}

// openStore opens the database the common flags name as mode says, with
// no data folder around it.
func (cl *cli) openStore(ctx context.Context, mode store.MigrateMode) (*store.DB, error) {
	o, err := storeOptions(cl.common, mode)
	if err != nil {
		return nil, err
	}
	return store.OpenWith(ctx, cl.common.dsn(), o)
}

// openReadOnly opens the data folder for a command that only reads: it
// migrates nothing and refuses a database that lacks migrations.
func (cl *cli) openReadOnly(ctx context.Context) (*env, error) {
	return cl.openMode(ctx, store.MigrateRefuse)
}

// readMasterKey returns the master key from SCEPGATE_MASTER_KEY or else
// DATA/master.key, and says which; unlike open it never makes one.
func readMasterKey(data string, getenv func(string) string) (*pki.MasterKey, string, error) {
	if v := getenv("SCEPGATE_MASTER_KEY"); v != "" {
		mk, err := pki.NewMasterKey(v)
		return mk, "SCEPGATE_MASTER_KEY", err
	}
	path := filepath.Join(data, pki.MasterKeyFile)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, path, model.Errorf(model.ENOTFOUND, "There is no master key: %s does not exist and SCEPGATE_MASTER_KEY is not set. Put the master key the database was made with in %s, or set SCEPGATE_MASTER_KEY to it.", path, path)
	}
	mk, err := pki.ReadMasterKey(data, "")
	return mk, path, err
}

func runMigrateStatus(ctx context.Context, cl *cli) error {
	db, err := cl.openStore(ctx, store.MigrateNone)
	if err != nil {
		return err
	}
	defer db.Close()
	s, err := db.Schema(ctx)
	if err != nil {
		return err
	}
	w := cl.stdout
	fmt.Fprintf(w, "Database %s: schema %d; this scepgate knows schema %d.\n", dsnText(cl.common.dsn()), s.Version, s.Known)
	width := 0
	for _, m := range s.Migrations {
		width = max(width, len(m.Name))
	}
	for _, m := range s.Migrations {
		state := "pending"
		if m.Applied {
			state = "applied"
			if !m.AppliedAt.IsZero() {
				state += " " + m.AppliedAt.Format(time.RFC3339)
			}
		}
		fmt.Fprintf(w, "  %04d %-*s %s\n", m.Version, width, m.Name, state)
	}
	if s.Legacy {
		fmt.Fprintln(w, "The record is still the one from before goose (table schema_migrations); the next migrate up or serve moves it into goose_db_version.")
	}
	switch p := s.Pending(); len(p) {
	case 0:
		fmt.Fprintln(w, "Up to date.")
	case 1:
		fmt.Fprintln(w, "1 migration pending. Run scepgate migrate up (or serve) to apply it; back the database up first.")
	default:
		fmt.Fprintf(w, "%d migrations pending. Run scepgate migrate up (or serve) to apply them; back the database up first.\n", len(p))
	}
	return nil
}

func runMigrateUp(ctx context.Context, cl *cli) error {
	db, err := cl.openStore(ctx, store.MigrateNone)
	if err != nil {
		return err
	}
	defer db.Close()
	before, err := db.Schema(ctx)
	if err != nil {
		return err
	}
	applied, err := db.Migrate(ctx)
	for _, m := range applied {
		fmt.Fprintf(cl.stdout, "Applied %s.\n", m.Name)
	}
	if err != nil {
		return err
	}
	if before.Legacy {
		fmt.Fprintln(cl.stdout, "Moved the record of applied migrations from schema_migrations into goose_db_version.")
	}
	if len(applied) == 0 {
		fmt.Fprintf(cl.stdout, "Nothing to apply: the database is at schema %d, the newest this scepgate knows.\n", before.Known)
		return nil
	}
	fmt.Fprintf(cl.stdout, "The database is at schema %d.\n", applied[len(applied)-1].Version)
	return nil
}
