package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/store"
)

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

func TestCompleteEnrollmentConsumesOnce(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	db := openTestDB(t, &now)
	if err := db.ApplySeed(ctx, testSeed()); err != nil {
		t.Fatal(err)
	}
	reg := &model.Registration{Kind: model.RegistrationNDES, State: model.StateOpen, ChallengeHash: "h1", ExpiresAt: now.Add(time.Hour)}
	if err := db.CreateRegistration(ctx, reg); err != nil {
		t.Fatal(err)
	}
	const n = 16
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			cert := &model.Certificate{Serial: string(rune('a' + i)), Subject: "CN=x", DER: []byte{1}, State: model.CertActive,
				NotBefore: now, NotAfter: now.Add(time.Hour), TransactionID: "t"}
			errs[i] = db.CompleteEnrollment(ctx, reg.ID, cert, nil)
		}(i)
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case err != store.ErrRegistrationTaken:
			t.Errorf("CompleteEnrollment: %v; want nil or ErrRegistrationTaken", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d enrollments succeeded; want exactly 1", ok)
	}
	if got, _ := db.CountCertificates(ctx); got != 1 {
		t.Errorf("certificates stored = %d; want 1", got)
	}
	got, err := db.FindRegistration(ctx, reg.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != model.StateUsed || got.UsedAt == nil || got.CertificateID == nil {
		t.Errorf("registration after use: state=%s used_at=%v certificate=%v; want used with both set", got.State, got.UsedAt, got.CertificateID)
	}
}

func TestCompleteEnrollmentRefusesExpired(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	db := openTestDB(t, &now)
	reg := &model.Registration{Kind: model.RegistrationNDES, State: model.StateOpen, ChallengeHash: "h", ExpiresAt: now.Add(time.Minute)}
	if err := db.CreateRegistration(ctx, reg); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Minute)
	cert := &model.Certificate{Serial: "01", Subject: "CN=x", DER: []byte{1}, State: model.CertActive, NotBefore: now, NotAfter: now}
	if err := db.CompleteEnrollment(ctx, reg.ID, cert, nil); err != store.ErrRegistrationTaken {
		t.Errorf("CompleteEnrollment after expiry = %v; want ErrRegistrationTaken", err)
	}
	if got, _ := db.CountCertificates(ctx); got != 0 {
		t.Errorf("certificates stored = %d; want 0", got)
	}
	n, err := db.ExpireRegistrations(ctx)
	if err != nil || n != 1 {
		t.Errorf("ExpireRegistrations = %d, %v; want 1", n, err)
	}
	if got, _ := db.FindRegistration(ctx, reg.ID); got.State != model.StateExpired {
		t.Errorf("state = %s; want expired", got.State)
	}
}

func TestDuplicateSerialRefused(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	db := openTestDB(t, &now)
	for i := 0; i < 2; i++ {
		reg := &model.Registration{Kind: model.RegistrationNDES, State: model.StateOpen, ChallengeHash: "h", ExpiresAt: now.Add(time.Hour)}
		if err := db.CreateRegistration(ctx, reg); err != nil {
			t.Fatal(err)
		}
		cert := &model.Certificate{Serial: "abc", Subject: "CN=x", DER: []byte{1}, State: model.CertActive, NotBefore: now, NotAfter: now}
		err := db.CompleteEnrollment(ctx, reg.ID, cert, nil)
		if i == 1 && model.ErrorCode(err) != model.ECONFLICT {
			t.Errorf("second certificate with serial abc: %v; want ECONFLICT", err)
		}
		if i == 1 {
			if got, _ := db.FindRegistration(ctx, reg.ID); got.State != model.StateOpen {
				t.Errorf("registration state after failed insert = %s; want open (rolled back)", got.State)
			}
		}
	}
}

func TestPreRegistrationPasswordUnique(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	db := openTestDB(t, &now)
	if err := db.ApplySeed(ctx, testSeed()); err != nil {
		t.Fatal(err)
	}
	tp, err := db.FindTokenProcedureByName(ctx, "token")
	if err != nil {
		t.Fatal(err)
	}
	mk := func() *model.Registration {
		return &model.Registration{Kind: model.RegistrationPre, State: model.StateOpen, TokenProcedureID: &tp.ID, ChallengeHash: "same", ExpiresAt: now.Add(time.Hour)}
	}
	if err := db.CreateRegistration(ctx, mk()); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateRegistration(ctx, mk()); model.ErrorCode(err) != model.ECONFLICT {
		t.Errorf("second open pre-registration with the same password: %v; want ECONFLICT", err)
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
