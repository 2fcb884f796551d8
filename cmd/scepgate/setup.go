package main

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/scepgate/scepgate/admin"
	"github.com/scepgate/scepgate/enroll"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki"
	"github.com/scepgate/scepgate/store"
	"github.com/scepgate/scepgate/webhook"
	"golang.org/x/crypto/bcrypt"
)

// env holds what every command works with once the data folder is open.
type env struct {
	db  *store.DB
	mk  *pki.MasterKey
	log *slog.Logger
	// authority is the active CA and RA, opened with mk.
	authority *pki.Authority
}

// open opens an initialised data folder: its master key (DIR/master.key,
// or SCEPGATE_MASTER_KEY), its database, migrated to this version as mode
// says (see store.MigrateMode), and the CA and RA. It creates nothing: a
// folder that is missing, empty, partial or not scepgate's is refused with
// a message that says what to run.
func open(ctx context.Context, d dataFolder, mode store.MigrateMode, log *slog.Logger) (*env, error) {
	f, err := d.look()
	if err != nil {
		return nil, err
	}
	if err := d.readyErr(f); err != nil {
		return nil, err
	}
	mk, err := pki.ReadMasterKey(d.dir, d.keyEnv)
	if err != nil {
		return nil, err
	}
	db, err := store.OpenWith(ctx, d.dsn, store.Options{Migrate: mode, Synchronous: d.synchronous})
	if err != nil {
		return nil, err
	}
	for _, m := range db.Migrated() {
		log.Info("applied migration", "name", m.Name)
	}
	e := &env{db: db, mk: mk, log: log}
	caRow, raRow, err := db.ActiveAuthorities(ctx)
	if err == nil {
		e.authority, err = pki.OpenAuthority(caRow, raRow, mk)
	} else if model.ErrorCode(err) == model.ENOTFOUND {
		err = problem("The database %s holds no CA: the data folder %s is not initialised. Run: %s", d.dsnText(), d.dir, d.initCommand())
	}
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	return e, nil
}

func (e *env) close() { _ = e.db.Close() }

// service returns the enrollment workflow over e's database and keys.
func (e *env) service() *enroll.Service {
	return enroll.NewService(e.db, e.mk, enroll.Options{Logger: e.log, Hooks: &webhook.Client{MasterKey: e.mk, Log: e.log}})
}

// admin returns the administrators' operations over e, with svc as the
// enrollment workflow they approve and revoke through.
func (e *env) admin(svc *enroll.Service) *admin.Service {
	return admin.New(e.db, svc, e.mk, admin.Options{})
}

// initOptions say how initialise makes a data folder.
type initOptions struct {
	caKeyType string   // key type of the CA; "" means rsa2048
	raNames   []string // host names and addresses the RA certificate names, for --tls-ra
	signInURL string   // where the portal will be
	serveHint bool     // say how to start the server (init does; serve --init starts it)
}

// initialisedError says that a folder is initialised already.
type initialisedError struct{ msg string }

func (e *initialisedError) Error() string { return e.msg }

// makeFolder creates the data folder (mode 0700) for init when it is
// missing, after checking that init may work in it.
func makeFolder(d dataFolder) error {
	f, err := d.look()
	if err != nil {
		return err
	}
	if err := d.initErr(f); err != nil {
		return err
	}
	if !f.exists {
		// The parents as usual, the folder itself private.
		if err := os.MkdirAll(filepath.Dir(d.dir), 0o755); err != nil {
			return problem("Cannot create the data folder %s: %v.", d.dir, pathErr(err))
		}
		if err := os.Mkdir(d.dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
			return problem("Cannot create the data folder %s: %v.", d.dir, pathErr(err))
		}
	}
	if err := os.Chmod(d.dir, 0o700); err != nil {
		return problem("Cannot make the data folder %s private: %v.", d.dir, pathErr(err))
	}
	return nil
}

// initialise makes a scepgate data folder in d, which makeFolder created
// and whose lock the caller holds: the master key file (mode 0600, unless
// SCEPGATE_MASTER_KEY is set), the database, the CA and RA, and the
// reference's procedures, handlers and admin user; and it prints the
// generated passwords once and where to sign in. It never writes a master
// key next to an existing database. On a folder that is initialised it
// returns an *initialisedError and changes nothing; when it fails, it
// removes what it made.
func initialise(ctx context.Context, d dataFolder, o initOptions, getenv func(string) string, stdout io.Writer, log *slog.Logger) (err error) {
	f, err := d.look()
	if err != nil {
		return err
	}
	if err := d.initErr(f); err != nil {
		return err
	}
	var made []string // files to remove if init fails
	var db *store.DB
	defer func() {
		if db != nil {
			_ = db.Close()
		}
		if err != nil {
			for _, p := range made {
				_ = os.Remove(p)
			}
		}
	}()
	if d.sqlite {
		log.Info("creating SQLite database", "path", d.dsn)
		made = append(made, d.dsn, d.dsn+"-wal", d.dsn+"-shm")
	}
	db, err = store.OpenWith(ctx, d.dsn, store.Options{Synchronous: d.synchronous})
	if err != nil {
		return err
	}
	if d.sqlite {
		// SQLite makes its -wal and -shm files with the database's mode.
		if err := os.Chmod(d.dsn, 0o600); err != nil {
			return problem("Cannot make the database %s private: %v.", d.dsn, pathErr(err))
		}
	}
	switch _, _, err := db.ActiveAuthorities(ctx); {
	case err == nil && d.keyAvailable(f):
		return d.initialised()
	case err == nil:
		return problem("The database %s already holds a CA, made with a master key that is not here, and init does not make a new key for an existing database. Copy master.key from the data folder of the server that created it into %s, or set SCEPGATE_MASTER_KEY.", d.dsnText(), d.dir)
	case model.ErrorCode(err) != model.ENOTFOUND:
		return err
	}
	var mk *pki.MasterKey
	switch {
	case d.keyEnv != "":
		mk, err = pki.NewMasterKey(d.keyEnv)
	case f.keyFile: // PostgreSQL, with the key put here before
		mk, err = pki.ReadMasterKey(d.dir, "")
	default:
		mk, err = pki.CreateMasterKeyFile(d.dir)
		if err == nil {
			made = append(made, filepath.Join(d.dir, pki.MasterKeyFile))
			log.Info("created master key file; keep it safe and back it up with the database, or set SCEPGATE_MASTER_KEY instead", "path", filepath.Join(d.dir, pki.MasterKeyFile))
		}
	}
	if err != nil {
		return err
	}
	e := &env{db: db, mk: mk, log: log}
	if err := e.createAuthority(ctx, o); err != nil {
		return err
	}
	if !d.sqlite {
		// The database now holds keys sealed with mk: whatever happens
		// next, the key stays.
		made = nil
	}
	if err := e.seed(ctx, getenv, stdout); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Initialised the data folder %s.\n", d.dir)
	if o.serveHint {
		fmt.Fprintf(stdout, "Start the server with: %s\n", d.serveCommand())
	}
	fmt.Fprintf(stdout, "Sign in at %s/ as admin.\n", strings.TrimRight(o.signInURL, "/"))
	return nil
}

// createAuthority creates the CA and RA.
func (e *env) createAuthority(ctx context.Context, o initOptions) error {
	keyType := o.caKeyType
	if keyType == "" {
		keyType = "rsa2048"
	}
	a, err := pki.NewAuthority(keyType, "scepgate", time.Now(), rand.Reader, o.raNames...)
	if err != nil {
		return err
	}
	caRow, raRow, err := pki.SealAuthority(a, e.mk)
	if err != nil {
		return err
	}
	audit := &model.AuditEvent{Actor: "system", Action: "ca.create", Target: a.CA.Subject.String(), Detail: "created CA (" + keyType + ") and RA"}
	if err := e.db.ReplaceAuthorities(ctx, caRow, raRow, audit); err != nil {
		return err
	}
	e.log.Info("created CA", "subject", a.CA.Subject.String(), "key", keyType, "not_after", a.CA.NotAfter.Format(time.RFC3339), "sha256", pki.SHA256Fingerprint(a.CA))
	e.log.Info("created RA certificate", "subject", a.RA.Subject.String(), "names", strings.Join(o.raNames, ","), "not_after", a.RA.NotAfter.Format(time.RFC3339), "sha256", pki.SHA256Fingerprint(a.RA))
	a.ID = caRow.ID
	e.authority = a
	return nil
}

// Names of the reference's procedures, which the first start creates.
const (
	ndesCertProcedure  = "Protocol Gateway SCEP Certificate with NDES Challenge"
	ndesTokenProcedure = "SCEP Registration and Enroll Procedure with NDES Challenge"
	preCertProcedure   = "Protocol Gateway SCEP Certificate"
	preTokenProcedure  = "SCEP Registration and Enroll Procedure"
)

// allowedKeyUsages is what "no key usage" lets a CSR ask for.
const allowedKeyUsages = "digitalSignature,keyEncipherment,dataEncipherment,keyAgreement,nonRepudiation"

// seed creates the reference's procedures and handlers and the admin
// user, and prints the passwords it generated.
func (e *env) seed(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	adminPW, adminGenerated := getenv("SCEPGATE_ADMIN_PASSWORD"), false
	if adminPW == "" {
		adminPW, adminGenerated = randomPassword(), true
	}
	ndesPW, ndesGenerated := getenv("SCEPGATE_NDES_PASSWORD"), false
	if ndesPW == "" {
		ndesPW, ndesGenerated = randomPassword(), true
	}
	if err := admin.CheckSetupPasswords(adminPW, ndesPW); err != nil {
		return err
	}
	adminHash, err := bcrypt.GenerateFromPassword([]byte(adminPW), bcrypt.DefaultCost)
	if err != nil {
		return err
	}
	ndesHash, err := bcrypt.GenerateFromPassword([]byte(ndesPW), bcrypt.DefaultCost)
	if err != nil {
		return err
	}
	now := e.db.Now()
	certProc := func(name string, f model.CertificateFormat) model.CertificateProcedure {
		return model.CertificateProcedure{Name: name, Format: f, KeyUsageMode: model.KeyUsageFromCSR,
			KeyUsages: allowedKeyUsages, ExtKeyUsages: "clientAuth", ValidityDays: 365, MinRSABits: 2048,
			AllowedCurves: "P-256,P-384,P-521"}
	}
	tokenProc := func(name, cert string) store.SeedTokenProcedure {
		return store.SeedTokenProcedure{
			TokenProcedure: model.TokenProcedure{Name: name, StorageProfile: model.StorageProfilePKCS10,
				IssuerCertificates: model.IssuerCertsStoreAll, InputView: model.InputViewSCEPRegistrations,
				RenewalWindowDays: 30, SupersedeOnRenewal: true},
			CertificateProcedures: []string{cert},
		}
	}
	seed := &store.Seed{
		CertificateProcedures: []model.CertificateProcedure{
			certProc(ndesCertProcedure, model.FormatNDESDynamic),
			certProc(preCertProcedure, model.FormatSCEP),
		},
		TokenProcedures: []store.SeedTokenProcedure{
			tokenProc(ndesTokenProcedure, ndesCertProcedure),
			tokenProc(preTokenProcedure, preCertProcedure),
		},
		Handlers: []store.SeedHandler{
			{Handler: model.Handler{Name: "scep", Filter: "", Format: model.HandlerSCEP, Enabled: true, AllowLegacyCiphers: true},
				TokenProcedure: preTokenProcedure},
			{Handler: model.Handler{Name: "ndeschallenge", Filter: "ndeschallenge/", Format: model.HandlerNDES, Enabled: true,
				NDESUsername: "ndesadmin", NDESPasswordHash: string(ndesHash), NDESChallengeValidity: "PT15M",
				NDESPasswordLength: model.DefaultNDESPasswordLength, NDESPasswordCap: model.DefaultNDESPasswordCap}},
			{Handler: model.Handler{Name: "ndesrequest", Filter: "ndesrequest", Format: model.HandlerSCEP, Enabled: true, AllowLegacyCiphers: true},
				TokenProcedure: ndesTokenProcedure},
		},
		Users: []model.User{{Username: "admin", PasswordHash: string(adminHash), Role: model.RoleAdmin, CreatedAt: now, UpdatedAt: now}},
	}
	if err := e.db.ApplySeed(ctx, seed); err != nil {
		return err
	}
	_ = e.db.AddAuditEvent(ctx, &model.AuditEvent{Actor: "system", Action: "setup", Detail: "created the reference procedures, handlers scep, ndeschallenge/, ndesrequest and user admin"})
	e.log.Info("created certificate procedures", "names", ndesCertProcedure+"; "+preCertProcedure)
	e.log.Info("created token procedures", "names", ndesTokenProcedure+"; "+preTokenProcedure)
	e.log.Info("created handlers", "scep", "/pgwy/scep", "ndeschallenge", "/pgwy/scep/ndeschallenge/ (user ndesadmin, PT15M)", "ndesrequest", "/pgwy/scep/ndesrequest")
	e.log.Info("created user admin")
	if adminGenerated {
		fmt.Fprintf(stdout, "The admin password is %s (shown once; set SCEPGATE_ADMIN_PASSWORD to choose it).\n", adminPW)
	}
	if ndesGenerated {
		fmt.Fprintf(stdout, "The ndesadmin password is %s (shown once; set SCEPGATE_NDES_PASSWORD to choose it).\n", ndesPW)
	}
	return nil
}

// randomPassword returns 20 characters from crypto/rand (100 bits).
func randomPassword() string {
	b := make([]byte, 13)
	_, _ = rand.Read(b)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))[:20]
}

// message returns what a person should read for err.
func message(err error) string {
	var me *model.Error
	if errors.As(err, &me) {
		return me.Message
	}
	return err.Error()
}
