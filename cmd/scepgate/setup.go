package main

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"errors"
	"fmt"
	"io"
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
	"golang.org/x/crypto/bcrypt"
)

// env holds what every command works with once the data folder is open.
type env struct {
	db  *store.DB
	mk  *pki.MasterKey
	log *slog.Logger
	// authority is the active CA and RA, opened with mk; nil only when
	// open was told to skip creating one and there is none.
	authority *pki.Authority
}

// setupOptions say what open may create.
type setupOptions struct {
	caKeyType string // key type for a new CA; "" means rsa2048
	skipCA    bool   // do not create a CA (ca import brings its own)
}

// open opens the data folder, creating on first use whatever is missing:
// the folder, the master key file, the database and its schema, the CA and
// RA, and the reference's procedures, handlers and admin user. It says in
// the log what it created; on a second start it changes nothing.
func open(ctx context.Context, c commonFlags, o setupOptions, getenv func(string) string, stdout io.Writer, log *slog.Logger) (*env, error) {
	so, err := storeOptions(c, store.MigrateApply)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(c.data, 0o700); err != nil {
		return nil, fmt.Errorf("create data folder: %w", err)
	}
	mk, created, err := pki.LoadMasterKey(c.data, getenv("SCEPGATE_MASTER_KEY"))
	if err != nil {
		return nil, err
	}
	if created {
		log.Info("created master key file; keep it safe, or set SCEPGATE_MASTER_KEY instead", "path", filepath.Join(c.data, pki.MasterKeyFile))
	}
	dsn := c.database
	if dsn == "" {
		dsn = filepath.Join(c.data, "scepgate.db")
		if _, err := os.Stat(dsn); errors.Is(err, os.ErrNotExist) {
			log.Info("creating SQLite database", "path", dsn)
		}
	}
	db, err := store.OpenWith(ctx, dsn, so)
	if err != nil {
		return nil, err
	}
	for _, m := range db.Migrated() {
		log.Info("applied migration", "name", m.Name)
	}
	e := &env{db: db, mk: mk, log: log}
	if err := e.ensureAuthority(ctx, o); err != nil {
		_ = db.Close()
		return nil, err
	}
	if err := e.ensureSeed(ctx, getenv, stdout); err != nil {
		_ = db.Close()
		return nil, err
	}
	return e, nil
}

func (e *env) close() { _ = e.db.Close() }

// service returns the enrollment workflow over e's database and keys.
func (e *env) service() *enroll.Service {
	return enroll.NewService(e.db, e.mk, enroll.Options{Logger: e.log})
}

// admin returns the administrators' operations over e, with svc as the
// enrollment workflow they approve and revoke through.
func (e *env) admin(svc *enroll.Service) *admin.Service {
	return admin.New(e.db, svc, e.mk, admin.Options{})
}

// ensureAuthority creates the CA and RA when the database has none, and
// otherwise checks that the master key opens the stored keys.
func (e *env) ensureAuthority(ctx context.Context, o setupOptions) error {
	caRow, raRow, err := e.db.ActiveAuthorities(ctx)
	switch {
	case err == nil:
		e.authority, err = pki.OpenAuthority(caRow, raRow, e.mk)
		return err
	case model.ErrorCode(err) != model.ENOTFOUND:
		return err
	case o.skipCA:
		return nil
	}
	keyType := o.caKeyType
	if keyType == "" {
		keyType = "rsa2048"
	}
	a, err := pki.NewAuthority(keyType, "scepgate", time.Now(), rand.Reader)
	if err != nil {
		return err
	}
	caRow, raRow, err = pki.SealAuthority(a, e.mk)
	if err != nil {
		return err
	}
	audit := &model.AuditEvent{Actor: "system", Action: "ca.create", Target: a.CA.Subject.String(), Detail: "created CA (" + keyType + ") and RA"}
	if err := e.db.ReplaceAuthorities(ctx, caRow, raRow, audit); err != nil {
		return err
	}
	e.log.Info("created CA", "subject", a.CA.Subject.String(), "key", keyType, "not_after", a.CA.NotAfter.Format(time.RFC3339), "sha256", pki.SHA256Fingerprint(a.CA))
	e.log.Info("created RA certificate", "subject", a.RA.Subject.String(), "not_after", a.RA.NotAfter.Format(time.RFC3339), "sha256", pki.SHA256Fingerprint(a.RA))
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

func (e *env) ensureSeed(ctx context.Context, getenv func(string) string, stdout io.Writer) error {
	seeded, err := e.db.Seeded(ctx)
	if err != nil || seeded {
		return err
	}
	adminPW, adminGenerated := getenv("SCEPGATE_ADMIN_PASSWORD"), false
	if adminPW == "" {
		adminPW, adminGenerated = randomPassword(), true
	}
	ndesPW, ndesGenerated := getenv("SCEPGATE_NDES_PASSWORD"), false
	if ndesPW == "" {
		ndesPW, ndesGenerated = randomPassword(), true
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
		if model.ErrorCode(err) == model.ECONFLICT {
			return nil // another process seeded it first
		}
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
