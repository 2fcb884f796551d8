package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki"
)

// Names of what scepgate keeps in a data folder.
const (
	dbFile   = "scepgate.db"
	lockFile = "scepgate.lock"
)

// dataFolder is the data folder a command works on, and its database.
type dataFolder struct {
	dir    string
	dsn    string // the database: --database, or DIR/scepgate.db
	sqlite bool   // dsn names a SQLite file rather than a PostgreSQL server
	keyEnv string // SCEPGATE_MASTER_KEY, which replaces DIR/master.key
	// synchronous is SQLite's PRAGMA synchronous (--sqlite-synchronous).
	synchronous string
}

// folder returns the data folder and database the common flags name.
func (cl *cli) folder() dataFolder {
	d := dataFolder{dir: cl.common.data, dsn: cl.common.database, keyEnv: cl.getenv("SCEPGATE_MASTER_KEY"), synchronous: cl.common.synchronous}
	if d.dsn == "" {
		d.dsn = filepath.Join(d.dir, dbFile)
	}
	d.sqlite = !strings.HasPrefix(d.dsn, "postgres://") && !strings.HasPrefix(d.dsn, "postgresql://")
	return d
}

// folderFacts is what a data folder holds, as far as files tell.
type folderFacts struct {
	exists  bool
	keyFile bool     // DIR/master.key exists
	dbFile  bool     // the SQLite database file exists (never for PostgreSQL)
	others  []string // entries scepgate does not make
}

// fresh reports whether the folder is missing or empty: init may create
// everything in it.
func (f folderFacts) fresh() bool { return !f.keyFile && !f.dbFile && len(f.others) == 0 }

// look reads what the folder holds without changing anything.
func (d dataFolder) look() (folderFacts, error) {
	var f folderFacts
	fi, err := os.Stat(d.dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return f, nil
	case err != nil:
		return f, problem("Cannot read the data folder %s: %v.", d.dir, pathErr(err))
	case !fi.IsDir():
		return f, problem("The data folder %s is a file, not a folder. Check --data (or SCEPGATE_DATA).", d.dir)
	}
	f.exists = true
	entries, err := os.ReadDir(d.dir)
	if err != nil {
		return f, problem("Cannot read the data folder %s: %v.", d.dir, pathErr(err))
	}
	defaultDB := d.sqlite && filepath.Clean(d.dsn) == filepath.Join(filepath.Clean(d.dir), dbFile)
	for _, e := range entries {
		switch name := e.Name(); name {
		case lockFile:
		case pki.MasterKeyFile:
			f.keyFile = true
		case dbFile, dbFile + "-wal", dbFile + "-shm", dbFile + "-journal":
			if !defaultDB {
				f.others = append(f.others, name)
			}
		default:
			f.others = append(f.others, name)
		}
	}
	if d.sqlite {
		_, err := os.Stat(d.dsn)
		f.dbFile = err == nil
	}
	return f, nil
}

// keyAvailable reports whether a master key is at hand.
func (d dataFolder) keyAvailable(f folderFacts) bool { return f.keyFile || d.keyEnv != "" }

// readyErr says why a command other than init cannot work on a folder
// with facts f, and what to run; nil when it can (for PostgreSQL the
// database has the last word, see open).
func (d dataFolder) readyErr(f folderFacts) error {
	switch {
	case !f.exists:
		return problem("The data folder %s does not exist. Check --data (or SCEPGATE_DATA) for a typo; to create a new one, run: %s", d.dir, d.initCommand())
	case d.sqlite && f.dbFile && !d.keyAvailable(f):
		return d.dbWithoutKey()
	case d.sqlite && f.keyFile && !f.dbFile:
		return problem("The data folder %s holds master.key but no database %s: it is incomplete. Restore the database from your backup (or point --database at it); to start over with a new CA, move %s away and run: %s", d.dir, d.dsnText(), d.dir, d.initCommand())
	case d.sqlite && !f.dbFile && len(f.others) > 0:
		return d.foreign(f)
	case d.sqlite && !f.dbFile:
		return problem("The data folder %s is empty: it is not initialised. Run: %s", d.dir, d.initCommand())
	case !d.keyAvailable(f) && len(f.others) > 0:
		return d.foreign(f)
	case !d.keyAvailable(f):
		return problem("The data folder %s holds no master.key and SCEPGATE_MASTER_KEY is not set. For a new installation run: %s; for another server of an existing one, copy its master.key into %s (or set SCEPGATE_MASTER_KEY).", d.dir, d.initCommand(), d.dir)
	}
	return nil
}

// initErr says why init may not create a data folder in a folder with
// facts f; nil when it may (for PostgreSQL the database has the last word,
// see initialise).
func (d dataFolder) initErr(f folderFacts) error {
	switch {
	case f.fresh():
		return nil
	case d.sqlite && f.dbFile && d.keyAvailable(f):
		return d.initialised()
	case d.sqlite && f.dbFile:
		return d.dbWithoutKey()
	case d.sqlite && f.keyFile:
		return problem("The data folder %s holds master.key but no database %s: it is incomplete, and init does not overwrite a master key. Restore the database from your backup (or point --database at it), or choose a new empty folder.", d.dir, d.dsnText())
	case !f.keyFile && !f.dbFile:
		return problem("The data folder %s is not empty and is not a scepgate data folder (it holds %s). Choose a new or empty folder with --data.", d.dir, listSome(f.others))
	}
	return nil // PostgreSQL with a master key file: the database decides
}

func (d dataFolder) initialised() error {
	return &initialisedError{fmt.Sprintf("The data folder %s is already initialised; nothing was changed. Start the server with: %s", d.dir, d.serveCommand())}
}

func (d dataFolder) dbWithoutKey() error {
	return problem("The data folder %s has the database %s but no master.key, and SCEPGATE_MASTER_KEY is not set: without the master key the CA and RA keys cannot be opened, and a new key would open none of them. Restore master.key from your backup into %s, or set SCEPGATE_MASTER_KEY to the key the database was created with.", d.dir, d.dsnText(), d.dir)
}

func (d dataFolder) foreign(f folderFacts) error {
	return problem("The data folder %s is not a scepgate data folder: it holds %s but no master.key or database. Check --data (or SCEPGATE_DATA); to create a new data folder, run: scepgate init --data NEW-FOLDER", d.dir, listSome(f.others))
}

// initCommand is the command that initialises d.
func (d dataFolder) initCommand() string { return "scepgate init" + d.flags() }

// serveCommand is the command that serves d.
func (d dataFolder) serveCommand() string { return "scepgate serve" + d.flags() }

// flags are the --data and --database flags that name d, without the
// password of a PostgreSQL URL.
func (d dataFolder) flags() string {
	s := " --data " + shellQuote(d.dir)
	if !d.sqlite {
		s += " --database URL"
	} else if d.dsn != filepath.Join(d.dir, dbFile) {
		s += " --database " + shellQuote(d.dsn)
	}
	return s
}

// dsnText names the database for people: a PostgreSQL URL without its
// password.
func (d dataFolder) dsnText() string {
	if d.sqlite {
		return d.dsn
	}
	if u, err := url.Parse(d.dsn); err == nil {
		return u.Redacted()
	}
	return "(the PostgreSQL database)"
}

// listSome names up to three entries of a folder.
func listSome(names []string) string {
	if len(names) > 3 {
		return strings.Join(names[:3], ", ") + fmt.Sprintf(" and %d more", len(names)-3)
	}
	return strings.Join(names, ", ")
}

// shellQuote quotes s for a POSIX shell when it needs quoting.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:@+,%") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// problem is an error whose message, a sentence for the person at the
// command line, says what is wrong and what to do.
func problem(format string, args ...any) error {
	return model.Errorf(model.EINVALID, format, args...)
}

// pathErr drops the operation and path from a file error, which the
// message around it already names.
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
