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

// testCert records a certificate issued at at through a registration,
// as an enrollment does.
func testCert(t *testing.T, db interface {
	CreateRegistration(context.Context, *model.Registration) error
	CompleteEnrollment(context.Context, int64, *model.Certificate, *model.AuditEvent, ...string) error
}, serial, subject string, notAfter time.Time) int64 {
	t.Helper()
	ctx := context.Background()
	r := &model.Registration{Kind: model.RegistrationNDES, State: model.StateOpen, ChallengeHash: "h-" + serial, SubjectCN: subject,
		RequestedBy: "helpdesk", ExpiresAt: notAfter}
	if err := db.CreateRegistration(ctx, r); err != nil {
		t.Fatal(err)
	}
	c := &model.Certificate{Serial: serial, Subject: "CN=" + subject, DNSNames: subject + ".example", NotBefore: notAfter.Add(-time.Hour),
		NotAfter: notAfter, DER: []byte{0x30}, State: model.CertActive}
	if err := db.CompleteEnrollment(ctx, r.ID, c, nil); err != nil {
		t.Fatal(err)
	}
	return c.ID
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

func TestDashboardQueries(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)
	db := openTestDB(t, &now)
	testCert(t, db, "a1", "long", now.AddDate(1, 0, 0))
	testCert(t, db, "a2", "soon", now.AddDate(0, 0, 10))
	testCert(t, db, "a3", "gone", now.AddDate(1, 0, 0))
	if _, err := db.RevokeCertificate(ctx, "a3", model.ReasonKeyCompromise, nil); err != nil {
		t.Fatal(err)
	}
	now = now.Add(24 * time.Hour) // one more, the next day
	testCert(t, db, "a4", "next", now.AddDate(1, 0, 0))
	if err := db.CreateRegistration(ctx, &model.Registration{Kind: model.RegistrationNDES, State: model.StateOpen, ChallengeHash: "x", ExpiresAt: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}

	c, err := db.DashboardCounts(ctx, now, 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	want := model.DashboardCounts{CertificatesActive: 3, CertificatesExpiring: 1, CertificatesRevoked: 1, RegistrationsOpen: 1}
	if *c != want {
		t.Errorf("counts %+v, want %+v", *c, want)
	}
	days, err := db.IssuedPerDay(ctx, now, 30)
	if err != nil || len(days) != 30 {
		t.Fatalf("days %d, %v; want 30", len(days), err)
	}
	if d := days[29]; d.Count != 1 || !d.Day.Equal(time.Date(2026, 5, 11, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("today %+v, want 1 on 2026-05-11", d)
	}
	if d := days[28]; d.Count != 3 {
		t.Errorf("yesterday %+v, want 3", d)
	}

	for _, tc := range []struct {
		name string
		f    model.CertificateFilter
		want int64
	}{
		{"ok/all", model.CertificateFilter{}, 4},
		{"ok/text in SAN", model.CertificateFilter{Query: "SOON.EXAMPLE"}, 1},
		{"ok/serial", model.CertificateFilter{Query: "a3"}, 1},
		{"ok/active", model.CertificateFilter{State: model.CertActive, Now: now}, 3},
		{"ok/expiring", model.CertificateFilter{State: "expiring", Now: now, ExpiringBefore: now.AddDate(0, 0, 30)}, 1},
		{"ok/revoked", model.CertificateFilter{State: model.CertRevoked}, 1},
	} {
		if _, n, err := db.SearchCertificates(ctx, tc.f, 1, 10); err != nil || n != tc.want {
			t.Errorf("%s: %d, %v; want %d", tc.name, n, err, tc.want)
		}
	}
	for _, tc := range []struct {
		name string
		f    model.RegistrationFilter
		want int64
	}{
		{"ok/all", model.RegistrationFilter{}, 5},
		{"ok/used", model.RegistrationFilter{State: model.StateUsed}, 4},
		{"ok/text", model.RegistrationFilter{Query: "soo"}, 1},
		{"ok/from", model.RegistrationFilter{From: time.Date(2026, 5, 11, 0, 0, 0, 0, time.UTC)}, 2},
		{"ok/to", model.RegistrationFilter{To: time.Date(2026, 5, 11, 0, 0, 0, 0, time.UTC)}, 3},
	} {
		if _, n, err := db.ListRegistrations(ctx, tc.f, 1, 10); err != nil || n != tc.want {
			t.Errorf("registrations %s: %d, %v; want %d", tc.name, n, err, tc.want)
		}
	}
}
