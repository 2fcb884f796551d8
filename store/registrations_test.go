package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/scepgate/scepgate/internal/testclock"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/store"
)

func TestPreRegistrationPasswordUnique(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	db := openTestDB(t, &now)
	if err := db.ApplySeed(ctx, testSeed()); err != nil {
		t.Fatal(err)
	}
	cfg, err := db.LoadConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tp := cfg.TokenProcedures[0]
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
	if err := db.RecordIssue(ctx, store.Issue{Cert: &model.Certificate{Serial: "01", Subject: "CN=x", DER: []byte{1}, State: model.CertActive, NotBefore: clock.Now(), NotAfter: clock.Now()}, ConsumeRegistrationID: used.ID}); err != nil {
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

func TestCancelRegistration(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)
	db := openTestDB(t, &now)
	r := &model.Registration{Kind: model.RegistrationNDES, State: model.StateOpen, ChallengeHash: "c", ExpiresAt: now.Add(time.Hour)}
	if err := db.CreateRegistration(ctx, r); err != nil {
		t.Fatal(err)
	}
	if err := db.CancelRegistration(ctx, r.ID, &model.AuditEvent{Actor: "admin", Action: "registration.cancel"}); err != nil {
		t.Fatalf("ok/cancel: %v", err)
	}
	if got, _ := db.FindRegistration(ctx, r.ID); got.State != model.StateCancelled {
		t.Errorf("state %q, want cancelled", got.State)
	}
	if err := db.CancelRegistration(ctx, r.ID, nil); model.ErrorCode(err) != model.ECONFLICT {
		t.Errorf("fail/cancel twice: %v, want conflict", err)
	}
	if es, _, _ := db.SearchAuditEvents(ctx, model.AuditFilter{Query: "registration.cancel"}, 1, 10); len(es) != 1 || es[0].Target != fmt.Sprintf("registration %d", r.ID) {
		t.Errorf("audit %+v, want one cancel event naming the registration", es)
	}
}
