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
func testCert(t *testing.T, db *store.DB, serial, subject string, notAfter time.Time) int64 {
	t.Helper()
	ctx := context.Background()
	r := &model.Registration{Kind: model.RegistrationNDES, State: model.StateOpen, ChallengeHash: "h-" + serial, SubjectCN: subject,
		RequestedBy: "helpdesk", ExpiresAt: notAfter}
	if err := db.CreateRegistration(ctx, r); err != nil {
		t.Fatal(err)
	}
	c := &model.Certificate{Serial: serial, Subject: "CN=" + subject, DNSNames: subject + ".example", NotBefore: notAfter.Add(-time.Hour),
		NotAfter: notAfter, DER: []byte{0x30}, State: model.CertActive}
	if err := db.RecordIssue(ctx, store.Issue{Cert: c, ConsumeRegistrationID: r.ID}); err != nil {
		t.Fatal(err)
	}
	return c.ID
}

// countCertificates returns how many certificates db holds.
func countCertificates(t *testing.T, db *store.DB) int64 {
	t.Helper()
	_, n, err := db.SearchCertificates(context.Background(), model.CertificateFilter{}, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRecordIssueConsumesOnce(t *testing.T) {
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
			errs[i] = db.RecordIssue(ctx, store.Issue{Cert: cert, ConsumeRegistrationID: reg.ID})
		}(i)
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case err != store.ErrRegistrationTaken:
			t.Errorf("RecordIssue: %v; want nil or ErrRegistrationTaken", err)
		}
	}
	if ok != 1 {
		t.Errorf("%d enrollments succeeded; want exactly 1", ok)
	}
	if got := countCertificates(t, db); got != 1 {
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

// TestRecordIssueNDESRace consumes one password from 64 goroutines:
// exactly one certificate is recorded.
func TestRecordIssueNDESRace(t *testing.T) {
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
			err := db.RecordIssue(ctx, store.Issue{Cert: cert, ConsumeRegistrationID: r.ID})
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
	if n := countCertificates(t, db); n != 1 {
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

func TestRecordIssueRefusesExpired(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	db := openTestDB(t, &now)
	reg := &model.Registration{Kind: model.RegistrationNDES, State: model.StateOpen, ChallengeHash: "h", ExpiresAt: now.Add(time.Minute)}
	if err := db.CreateRegistration(ctx, reg); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Minute)
	cert := &model.Certificate{Serial: "01", Subject: "CN=x", DER: []byte{1}, State: model.CertActive, NotBefore: now, NotAfter: now}
	if err := db.RecordIssue(ctx, store.Issue{Cert: cert, ConsumeRegistrationID: reg.ID}); err != store.ErrRegistrationTaken {
		t.Errorf("RecordIssue after expiry = %v; want ErrRegistrationTaken", err)
	}
	if got := countCertificates(t, db); got != 0 {
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
		err := db.RecordIssue(ctx, store.Issue{Cert: cert, ConsumeRegistrationID: reg.ID})
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

// TestRecordIssueSettles records certificates the three ways they are
// issued: by consuming a registration, by approving a pending one, and by
// renewal, which no registration authorises and which supersedes the
// certificate it renews.
func TestRecordIssueSettles(t *testing.T) {
	ctx := context.Background()
	clock := testclock.New(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	db, cfg := ndesDB(t, clock)
	h := ndesHandlerID(t, cfg, "ndesrequest")
	cert := func(serial, transactionID string) *model.Certificate {
		return &model.Certificate{Serial: serial, Subject: "CN=dev", DER: []byte{1}, State: model.CertActive, HandlerID: &h,
			NotBefore: clock.Now(), NotAfter: clock.Now().Add(time.Hour), TransactionID: transactionID}
	}
	reg := func(hash string) *model.Registration {
		r := ndesReg(ndesHandlerID(t, cfg, "ndeschallenge"), hash, clock.Now(), time.Hour)
		if ok, err := db.CreateNDESRegistration(ctx, r, 100, nil); err != nil || !ok {
			t.Fatal(ok, err)
		}
		return r
	}

	open := reg("open")
	first := cert("a1", "t-consume")
	if err := db.RecordIssue(ctx, store.Issue{Cert: first, ConsumeRegistrationID: open.ID,
		Audit: &model.AuditEvent{Actor: "test", Action: "certificate.issue"}}); err != nil {
		t.Fatalf("ok/consume: %v", err)
	}
	if got, _ := db.FindRegistration(ctx, open.ID); got.State != model.StateUsed || got.CertificateID == nil || *got.CertificateID != first.ID ||
		got.HandlerUsedID == nil || *got.HandlerUsedID != h || got.TransactionID != "t-consume" {
		t.Errorf("consumed registration = %+v; want used by t-consume at handler %d with certificate %d", got, h, first.ID)
	}

	pending := reg("pending")
	if err := db.MarkPending(ctx, pending.ID, h, "t-approve", "key", testCSR(t, "pending", ""), nil); err != nil {
		t.Fatal(err)
	}
	approved := cert("a2", "t-approve")
	if err := db.RecordIssue(ctx, store.Issue{Cert: approved, ApproveRegistrationID: pending.ID}); err != nil {
		t.Fatalf("ok/approve: %v", err)
	}
	if got, _ := db.FindRegistration(ctx, pending.ID); got.State != model.StateUsed || got.CertificateID == nil || *got.CertificateID != approved.ID {
		t.Errorf("approved registration = state %s certificate %v; want used with certificate %d", got.State, got.CertificateID, approved.ID)
	}
	if err := db.RecordIssue(ctx, store.Issue{Cert: cert("a3", "t-approve-again"), ApproveRegistrationID: pending.ID}); err != store.ErrNotPending {
		t.Errorf("fail/approve twice: %v; want ErrNotPending", err)
	}

	renewed := cert("a4", "t-renew")
	if err := db.RecordIssue(ctx, store.Issue{Cert: renewed, Supersede: []string{first.Serial}}); err != nil {
		t.Fatalf("ok/renew: %v", err)
	}
	if got, _ := db.FindCertificateBySerial(ctx, first.Serial); got.State != model.CertRevoked || got.RevocationReason != model.ReasonSuperseded {
		t.Errorf("renewed certificate: state %s reason %d; want revoked as superseded", got.State, got.RevocationReason)
	}
	if got, _ := db.FindCertificateBySerial(ctx, renewed.Serial); got.RegistrationID != nil {
		t.Errorf("renewal names registration %d; want none", *got.RegistrationID)
	}

	for _, tt := range []struct {
		name string
		is   store.Issue
		code string
	}{
		{"fail/transaction ID taken", store.Issue{Cert: cert("b1", "t-renew")}, model.ECONFLICT},
		{"fail/serial taken", store.Issue{Cert: cert("a4", "t-new")}, model.ECONFLICT},
		{"fail/consume and approve", store.Issue{Cert: cert("b2", "t-both"), ConsumeRegistrationID: reg("both").ID, ApproveRegistrationID: pending.ID}, model.EINVALID},
	} {
		if err := db.RecordIssue(ctx, tt.is); model.ErrorCode(err) != tt.code {
			t.Errorf("%s: %v; want %s", tt.name, err, tt.code)
		}
	}
}

func TestFindTransaction(t *testing.T) {
	ctx := context.Background()
	clock := testclock.New(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	db, cfg := ndesDB(t, clock)
	h := ndesHandlerID(t, cfg, "ndesrequest")
	challenge := ndesHandlerID(t, cfg, "ndeschallenge")
	for i, transactionID := range []string{"t-pending", "t-pending", "t-issued"} {
		r := ndesReg(challenge, fmt.Sprint("h", i), clock.Now(), time.Hour)
		if ok, err := db.CreateNDESRegistration(ctx, r, 100, nil); err != nil || !ok {
			t.Fatal(ok, err)
		}
		if err := db.MarkPending(ctx, r.ID, h, transactionID, fmt.Sprint("key", i), testCSR(t, "pending", ""), nil); err != nil {
			t.Fatal(err)
		}
		if transactionID == "t-issued" {
			c := &model.Certificate{Serial: "c1", Subject: "CN=dev", DER: []byte{1}, State: model.CertActive, HandlerID: &h,
				NotBefore: clock.Now(), NotAfter: clock.Now().Add(time.Hour), TransactionID: transactionID}
			if err := db.RecordIssue(ctx, store.Issue{Cert: c, ApproveRegistrationID: r.ID}); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, tt := range []struct {
		name, transactionID, wantSerial, wantKey, wantCode string
	}{
		{name: "ok/issued", transactionID: "t-issued", wantSerial: "c1"},
		{name: "ok/newest registration", transactionID: "t-pending", wantKey: "key1"},
		{name: "fail/unknown", transactionID: "t-never", wantCode: model.ENOTFOUND},
		{name: "fail/empty", transactionID: "", wantCode: model.ENOTFOUND},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := db.FindTransaction(ctx, tt.transactionID)
			if code := model.ErrorCode(err); code != tt.wantCode {
				t.Fatalf("error %v; want code %q", err, tt.wantCode)
			}
			switch {
			case tt.wantSerial != "" && (got.Certificate == nil || got.Certificate.Serial != tt.wantSerial || got.Registration != nil):
				t.Errorf("got %+v; want certificate %s only", got, tt.wantSerial)
			case tt.wantKey != "" && (got.Registration == nil || got.Registration.PublicKeySHA256 != tt.wantKey || got.Certificate != nil):
				t.Errorf("got %+v; want the registration with key %s only", got, tt.wantKey)
			}
		})
	}
}
