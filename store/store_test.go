package store_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/scepgate/scepgate/internal/testenv"

	"github.com/scepgate/scepgate/internal/testclock"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/store"

	_ "github.com/jackc/pgx/v5/stdlib" // the pgx driver for database/sql
)

// testDSN returns where a test's database lives: a new SQLite file in
// t.TempDir(); or, when SCEPGATE_TEST_POSTGRES holds the URL of a
// PostgreSQL server's maintenance database, a new database created there
// for the test and dropped after it. `make test` runs this package both
// ways, so SQLite and PostgreSQL pass the same suite.
func testDSN(t testing.TB) string {
	t.Helper()
	if os.Getenv("SCEPGATE_TEST_POSTGRES") == "" {
		return filepath.Join(t.TempDir(), "scepgate.db")
	}
	return testenv.PostgresDSN(t)
}

// openTestDB opens a fresh test database (see testDSN) with a clock the
// test controls.
func openTestDB(t *testing.T, now *time.Time) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), testDSN(t), func() time.Time { return *now })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func testSeed() *store.Seed {
	return &store.Seed{
		CertificateProcedures: []model.CertificateProcedure{{Name: "cert", Format: model.FormatSCEP, KeyUsageMode: model.KeyUsageFromCSR, ValidityDays: 30}},
		TokenProcedures: []store.SeedTokenProcedure{{
			TokenProcedure:        model.TokenProcedure{Name: "token", StorageProfile: model.StorageProfilePKCS10, IssuerCertificates: model.IssuerCertsStoreAll, InputView: 16},
			CertificateProcedures: []string{"cert"},
		}},
		Handlers: []store.SeedHandler{{Handler: model.Handler{Name: "scep", Format: model.HandlerSCEP, Enabled: true}, TokenProcedure: "token"}},
		Users:    []model.User{{Username: "admin", PasswordHash: "x", Role: model.RoleAdmin}},
	}
}

// ndesDB opens a fresh test database (see testDSN) with handlers ndeschallenge
// (scep-ndes), ndeschallenge2 (scep-ndes) and ndesrequest (scep).
func ndesDB(t *testing.T, clock *testclock.Clock) (*store.DB, *model.Config) {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, testDSN(t), clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	ndesHandler := func(name string) store.SeedHandler {
		return store.SeedHandler{Handler: model.Handler{Name: name, Filter: name + "/", Format: model.HandlerNDES, Enabled: true,
			NDESUsername: "ndesadmin", NDESPasswordHash: "$2a$10$x", NDESChallengeValidity: "PT15M"}}
	}
	seed := &store.Seed{
		CertificateProcedures: []model.CertificateProcedure{{Name: "ndes cert", Format: model.FormatNDESDynamic, KeyUsageMode: model.KeyUsageFromCSR, ValidityDays: 30}},
		TokenProcedures: []store.SeedTokenProcedure{{
			TokenProcedure:        model.TokenProcedure{Name: "ndes token", StorageProfile: model.StorageProfilePKCS10, IssuerCertificates: model.IssuerCertsStoreAll, InputView: 16},
			CertificateProcedures: []string{"ndes cert"},
		}},
		Handlers: []store.SeedHandler{
			ndesHandler("ndeschallenge"),
			ndesHandler("ndeschallenge2"),
			{Handler: model.Handler{Name: "ndesrequest", Filter: "ndesrequest", Format: model.HandlerSCEP, Enabled: true}, TokenProcedure: "ndes token"},
		},
	}
	if err := db.ApplySeed(ctx, seed); err != nil {
		t.Fatal(err)
	}
	cfg, err := db.LoadConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return db, cfg
}

func ndesHandlerID(t *testing.T, cfg *model.Config, name string) int64 {
	t.Helper()
	for _, h := range cfg.Handlers {
		if h.Name == name {
			return h.ID
		}
	}
	t.Fatalf("no handler %q", name)
	return 0
}

func ndesReg(handlerID int64, hash string, now time.Time, validity time.Duration) *model.Registration {
	return &model.Registration{Kind: model.RegistrationNDES, State: model.StateOpen, HandlerID: &handlerID,
		ChallengeHash: hash, RequestedBy: "ndesadmin", ClientAddr: "192.0.2.1", CreatedAt: now, ExpiresAt: now.Add(validity)}
}

func TestOpenTwiceKeepsData(t *testing.T) {
	ctx := context.Background()
	path := testDSN(t)
	db, err := store.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.ApplySeed(ctx, testSeed()); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	db, err = store.Open(ctx, path, nil)
	if err != nil {
		t.Fatalf("second Open: %v", err)
	}
	defer db.Close()
	seeded, err := db.Seeded(ctx)
	if err != nil || !seeded {
		t.Fatalf("Seeded = %v, %v; want true", seeded, err)
	}
	if err := db.ApplySeed(ctx, testSeed()); model.ErrorCode(err) != model.ECONFLICT {
		t.Errorf("second ApplySeed = %v; want ECONFLICT", err)
	}
	cfg, err := db.LoadConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Handlers) != 1 || len(cfg.TokenProcedures) != 1 || len(cfg.TokenProcedures[0].CertificateProcedureIDs) != 1 {
		t.Errorf("LoadConfig = %d handlers, %d token procedures; want 1 each with one step", len(cfg.Handlers), len(cfg.TokenProcedures))
	}
	if cfg.Version == 0 {
		t.Error("config version is 0 after seeding; want it bumped")
	}
}

func TestTimesRoundTrip(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 12, 0, 0, 123456789, time.FixedZone("X", 3600))
	db := openTestDB(t, &now)
	reg := &model.Registration{Kind: model.RegistrationNDES, State: model.StateOpen, ChallengeHash: "h", ExpiresAt: now.Add(time.Hour).UTC().Truncate(time.Microsecond)}
	if err := db.CreateRegistration(ctx, reg); err != nil {
		t.Fatal(err)
	}
	got, err := db.FindRegistration(ctx, reg.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.ExpiresAt.Equal(reg.ExpiresAt) || !got.CreatedAt.Equal(now.UTC().Truncate(time.Microsecond)) {
		t.Errorf("times: created %v expires %v; want %v and %v", got.CreatedAt, got.ExpiresAt, now.UTC().Truncate(time.Microsecond), reg.ExpiresAt)
	}
}

// TestOpenCreatesPrivateFiles: a new SQLite database and its -wal and -shm
// files are readable by their owner alone; an existing file keeps its mode.
func TestOpenCreatesPrivateFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "scepgate.db")
	db, err := store.Open(ctx, path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.ApplySeed(ctx, testSeed()); err != nil { // a write, so the WAL exists
		t.Fatal(err)
	}
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatalf("%s: %v", filepath.Base(f), err)
		}
		if got := fi.Mode().Perm(); got != 0o600 {
			t.Errorf("%s has mode %o; want 600", filepath.Base(f), got)
		}
	}

	existing := filepath.Join(dir, "existing.db")
	if err := os.WriteFile(existing, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	db2, err := store.Open(ctx, existing, nil)
	if err != nil {
		t.Fatalf("Open an empty existing file: %v", err)
	}
	defer db2.Close()
	if fi, err := os.Stat(existing); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("existing file: mode %v, %v; want its own 640 kept", fi.Mode().Perm(), err)
	}
}
