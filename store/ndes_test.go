package store_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scepgate/scepgate/internal/testclock"

	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/store"
)

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

func TestCreateNDESRegistrationCap(t *testing.T) {
	ctx := context.Background()
	clock := testclock.New(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	db, cfg := ndesDB(t, clock)
	h1, h2 := ndesHandlerID(t, cfg, "ndeschallenge"), ndesHandlerID(t, cfg, "ndeschallenge2")

	// Two passwords out at h1; a third one was used and a fourth expired:
	// neither of those counts against the cap.
	for i := range 2 {
		ok, err := db.CreateNDESRegistration(ctx, ndesReg(h1, fmt.Sprintf("open%d", i), clock.Now(), 15*time.Minute), 3, nil)
		if err != nil || !ok {
			t.Fatalf("CreateNDESRegistration %d = %v, %v; want true, nil", i, ok, err)
		}
	}
	used := ndesReg(h1, "used", clock.Now(), 15*time.Minute)
	if ok, err := db.CreateNDESRegistration(ctx, used, 3, nil); err != nil || !ok {
		t.Fatalf("CreateNDESRegistration used = %v, %v", ok, err)
	}
	if err := db.CompleteEnrollment(ctx, used.ID, &model.Certificate{Serial: "01", Subject: "CN=x", DER: []byte{1}, State: model.CertActive, NotBefore: clock.Now(), NotAfter: clock.Now()}, nil); err != nil {
		t.Fatal(err)
	}
	if ok, err := db.CreateNDESRegistration(ctx, ndesReg(h1, "expired", clock.Now().Add(-time.Hour), 15*time.Minute), 3, nil); err != nil || !ok {
		t.Fatalf("CreateNDESRegistration expired = %v, %v", ok, err)
	}

	tests := []struct {
		name    string
		handler int64
		limit   int
		want    bool
	}{
		{"ok/under the cap", h1, 3, true},
		{"fail/cap reached", h1, 3, false},
		{"ok/other handler has its own cap", h2, 1, true},
		{"fail/other handler at its cap", h2, 1, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			audit := &model.AuditEvent{Actor: "ndesadmin", Action: "ndes.challenge.issue"}
			r := ndesReg(tt.handler, "h-"+tt.name, clock.Now(), 15*time.Minute)
			got, err := db.CreateNDESRegistration(ctx, r, tt.limit, audit)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("created = %v; want %v", got, tt.want)
			}
			rs, err := db.FindRegistrationsByChallenge(ctx, r.ChallengeHash)
			if err != nil {
				t.Fatal(err)
			}
			if want := map[bool]int{true: 1, false: 0}[tt.want]; len(rs) != want {
				t.Fatalf("stored %d registrations; want %d", len(rs), want)
			}
			if tt.want && audit.Target != fmt.Sprintf("registration %d", r.ID) {
				t.Errorf("audit target = %q; want %q", audit.Target, fmt.Sprintf("registration %d", r.ID))
			}
		})
	}

	t.Run("ok/an expired password frees its place", func(t *testing.T) {
		clock.Add(16 * time.Minute)
		n, err := db.CountOpenNDESPasswords(ctx, h1)
		if err != nil || n != 0 {
			t.Fatalf("CountOpenNDESPasswords = %d, %v; want 0", n, err)
		}
		ok, err := db.CreateNDESRegistration(ctx, ndesReg(h1, "later", clock.Now(), 15*time.Minute), 3, nil)
		if err != nil || !ok {
			t.Fatalf("CreateNDESRegistration = %v, %v; want true", ok, err)
		}
	})
	t.Run("fail/unknown handler", func(t *testing.T) {
		_, err := db.CreateNDESRegistration(ctx, ndesReg(9999, "x", clock.Now(), time.Minute), 3, nil)
		if got := model.ErrorCode(err); got != model.ENOTFOUND {
			t.Errorf("error code = %q (%v); want %q", got, err, model.ENOTFOUND)
		}
	})
}

// TestCreateNDESRegistrationCapRace asks for many passwords at once: the
// count and the insert share a transaction, so the cap holds exactly.
func TestCreateNDESRegistrationCapRace(t *testing.T) {
	ctx := context.Background()
	clock := testclock.New(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	db, cfg := ndesDB(t, clock)
	h := ndesHandlerID(t, cfg, "ndeschallenge")
	const limit, callers = 10, 48
	var wg sync.WaitGroup
	var mu sync.Mutex
	created := 0
	for i := range callers {
		wg.Go(func() {
			ok, err := db.CreateNDESRegistration(ctx, ndesReg(h, fmt.Sprintf("race%d", i), clock.Now(), time.Hour), limit, nil)
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				created++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if created != limit {
		t.Errorf("created %d passwords; want exactly the cap, %d", created, limit)
	}
	if n, _ := db.CountOpenNDESPasswords(ctx, h); n != limit {
		t.Errorf("open passwords in the database = %d; want %d", n, limit)
	}
}

// TestCompleteEnrollmentNDESRace consumes one password from 64 goroutines:
// exactly one certificate is recorded.
func TestCompleteEnrollmentNDESRace(t *testing.T) {
	ctx := context.Background()
	clock := testclock.New(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	db, cfg := ndesDB(t, clock)
	r := ndesReg(ndesHandlerID(t, cfg, "ndeschallenge"), "once", clock.Now(), time.Hour)
	if ok, err := db.CreateNDESRegistration(ctx, r, 100, nil); err != nil || !ok {
		t.Fatal(ok, err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, taken := 0, 0
	for i := range 64 {
		wg.Go(func() {
			cert := &model.Certificate{Serial: fmt.Sprintf("%x", 1000+i), Subject: "CN=race", DER: []byte{byte(i)}, State: model.CertActive,
				NotBefore: clock.Now(), NotAfter: clock.Now().Add(time.Hour), TransactionID: fmt.Sprint(i)}
			err := db.CompleteEnrollment(ctx, r.ID, cert, nil)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case err == store.ErrRegistrationTaken:
				taken++
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if wins != 1 || taken != 63 {
		t.Errorf("wins, refusals = %d, %d; want 1, 63", wins, taken)
	}
	if n, _ := db.CountCertificates(ctx); n != 1 {
		t.Errorf("certificates = %d; want 1", n)
	}
	got, err := db.FindRegistration(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != model.StateUsed || got.CertificateID == nil || got.UsedAt == nil {
		t.Errorf("registration = state %q, certificate %v, used %v; want used with its certificate", got.State, got.CertificateID, got.UsedAt)
	}
}

func TestExpireRegistrationsNDES(t *testing.T) {
	ctx := context.Background()
	clock := testclock.New(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	db, cfg := ndesDB(t, clock)
	h := ndesHandlerID(t, cfg, "ndeschallenge")
	short, long := ndesReg(h, "short", clock.Now(), 15*time.Minute), ndesReg(h, "long", clock.Now(), time.Hour)
	for _, r := range []*model.Registration{short, long} {
		if ok, err := db.CreateNDESRegistration(ctx, r, 100, nil); err != nil || !ok {
			t.Fatal(ok, err)
		}
	}
	clock.Add(15 * time.Minute)
	n, err := db.ExpireRegistrations(ctx)
	if err != nil || n != 1 {
		t.Fatalf("ExpireRegistrations = %d, %v; want 1", n, err)
	}
	for _, tt := range []struct {
		r    *model.Registration
		want string
	}{{short, model.StateExpired}, {long, model.StateOpen}} {
		got, err := db.FindRegistration(ctx, tt.r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != tt.want {
			t.Errorf("registration %s state = %q; want %q", tt.r.ChallengeHash, got.State, tt.want)
		}
	}
}

func TestAliases(t *testing.T) {
	ctx := context.Background()
	clock := testclock.New(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	db, _ := ndesDB(t, clock)
	got, err := db.Aliases(ctx)
	if err != nil || got != model.DefaultAliases {
		t.Fatalf("Aliases = %+v, %v; want the defaults %+v", got, err, model.DefaultAliases)
	}
	tests := []struct {
		name     string
		set      model.Aliases
		want     model.Aliases
		wantCode string
		wantMsg  string
	}{
		{name: "ok/challenge handler", set: model.Aliases{MSCEPAdmin: "ndeschallenge2"}, want: model.Aliases{MSCEPAdmin: "ndeschallenge2", MSCEP: "ndesrequest"}},
		{name: "ok/both", set: model.Aliases{MSCEPAdmin: "ndeschallenge", MSCEP: "ndesrequest"}, want: model.DefaultAliases},
		{name: "fail/scep handler as challenge page", set: model.Aliases{MSCEPAdmin: "ndesrequest"}, want: model.DefaultAliases, wantCode: model.EINVALID, wantMsg: "scep-ndes"},
		{name: "fail/challenge handler as scep endpoint", set: model.Aliases{MSCEP: "ndeschallenge"}, want: model.DefaultAliases, wantCode: model.EINVALID, wantMsg: "mscep.dll"},
		{name: "fail/unknown handler", set: model.Aliases{MSCEP: "nope"}, want: model.DefaultAliases, wantCode: model.ENOTFOUND, wantMsg: `"nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := db.ConfigVersion(ctx)
			err := db.SetAliases(ctx, tt.set, &model.AuditEvent{Actor: "test", Action: "handlers.alias"})
			if code := model.ErrorCode(err); code != tt.wantCode {
				t.Fatalf("SetAliases error code = %q (%v); want %q", code, err, tt.wantCode)
			}
			if !strings.Contains(model.ErrorMessage(err), tt.wantMsg) {
				t.Errorf("message = %q; want it to contain %q", model.ErrorMessage(err), tt.wantMsg)
			}
			got, err := db.Aliases(ctx)
			if err != nil || got != tt.want {
				t.Errorf("Aliases = %+v, %v; want %+v", got, err, tt.want)
			}
			after, _ := db.ConfigVersion(ctx)
			if tt.wantCode == "" && after == before {
				t.Errorf("config version stayed %d; want it bumped", after)
			}
		})
	}
}

func TestSaveHandlers(t *testing.T) {
	ctx := context.Background()
	clock := testclock.New(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	db, cfg := ndesDB(t, clock)
	byName := map[string]model.Handler{}
	for _, h := range cfg.Handlers {
		byName[h.Name] = h
	}
	withValidity := func(v string) model.Handler {
		h := byName["ndeschallenge"]
		h.NDESChallengeValidity = v
		return h
	}
	newNDES := model.Handler{Name: "mdm", Filter: "mdm/", Format: model.HandlerNDES, Enabled: true, NDESUsername: "mdm", NDESPasswordHash: "$2a$10$y", NDESChallengeValidity: "P1D"}
	tests := []struct {
		name     string
		save     model.Handler
		wantCode string
		wantMsg  string
	}{
		{name: "ok/update validity PT1H", save: withValidity("PT1H")},
		{name: "ok/create", save: newNDES},
		{name: "fail/malformed validity", save: withValidity("15 minutes"), wantCode: model.EINVALID, wantMsg: `"15 minutes"`},
		{name: "fail/duplicate name", save: func() model.Handler { h := newNDES; h.ID, h.Filter = 0, "other"; return h }(), wantCode: model.ECONFLICT, wantMsg: `"mdm"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := db.ConfigVersion(ctx)
			hs := []model.Handler{tt.save}
			err := db.SaveHandlers(ctx, hs, &model.AuditEvent{Actor: "test", Action: "handlers.import"})
			if code := model.ErrorCode(err); code != tt.wantCode {
				t.Fatalf("SaveHandlers error code = %q (%v); want %q", code, err, tt.wantCode)
			}
			if !strings.Contains(model.ErrorMessage(err), tt.wantMsg) {
				t.Errorf("message = %q; want it to contain %q", model.ErrorMessage(err), tt.wantMsg)
			}
			after, _ := db.ConfigVersion(ctx)
			if (tt.wantCode == "") != (after > before) {
				t.Errorf("config version %d -> %d; want a bump exactly when the save succeeds", before, after)
			}
			if tt.wantCode != "" {
				return
			}
			cfg, err := db.LoadConfig(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range cfg.Handlers {
				if h.ID == hs[0].ID && h.NDESChallengeValidity != tt.save.NDESChallengeValidity {
					t.Errorf("stored validity = %q; want %q", h.NDESChallengeValidity, tt.save.NDESChallengeValidity)
				}
			}
		})
	}
}
