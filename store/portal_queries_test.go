package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/scepgate/scepgate/model"
)

// portalCert records a certificate issued at at through a registration,
// as an enrollment does.
func portalCert(t *testing.T, db interface {
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

func TestDashboardQueries(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)
	db := portalDB(t, &now)
	portalCert(t, db, "a1", "long", now.AddDate(1, 0, 0))
	portalCert(t, db, "a2", "soon", now.AddDate(0, 0, 10))
	portalCert(t, db, "a3", "gone", now.AddDate(1, 0, 0))
	if _, err := db.RevokeCertificate(ctx, "a3", model.ReasonKeyCompromise, nil); err != nil {
		t.Fatal(err)
	}
	now = now.Add(24 * time.Hour) // one more, the next day
	portalCert(t, db, "a4", "next", now.AddDate(1, 0, 0))
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

func TestUsersAndAudit(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)
	db := portalDB(t, &now)
	a := &model.User{Username: "root", PasswordHash: "x", Role: model.RoleAdmin}
	if err := db.AddUser(ctx, a, &model.AuditEvent{Actor: "system", Action: "user.create"}); err != nil {
		t.Fatal(err)
	}
	if err := db.AddUser(ctx, &model.User{Username: "root", PasswordHash: "x", Role: model.RoleAdmin}, nil); model.ErrorCode(err) != model.ECONFLICT {
		t.Errorf("fail/duplicate user: %v, want conflict", err)
	}
	yes := true
	if err := db.ChangeUser(ctx, a.ID, model.UserChange{Disabled: &yes}, nil); model.ErrorCode(err) != model.ECONFLICT {
		t.Errorf("fail/disable the last admin: %v, want conflict", err)
	}
	if u, _ := db.FindUser(ctx, a.ID); u.Disabled {
		t.Errorf("the refused change was kept")
	}
	if err := db.StartSession(ctx, &model.Session{IDHash: "s", UserID: a.ID, CSRFToken: "t", CreatedAt: now, LastSeenAt: now}, "root", "", nil); err != nil {
		t.Fatal(err)
	}
	if err := db.ChangeUser(ctx, a.ID, model.UserChange{PasswordHash: "y"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := db.FindSession(ctx, "s"); model.ErrorCode(err) != model.ENOTFOUND {
		t.Errorf("session after password reset: %v, want ended", err)
	}

	for i := range 1203 {
		_ = db.AddAuditEvent(ctx, &model.AuditEvent{Actor: "bulk", Action: fmt.Sprintf("bulk.%d", i)})
	}
	var n int
	var prev int64
	err := db.EachAuditEvent(ctx, model.AuditFilter{Query: "bulk"}, func(e *model.AuditEvent) error {
		if prev != 0 && e.ID >= prev {
			t.Fatalf("events out of order: %d after %d", e.ID, prev)
		}
		prev = e.ID
		n++
		return nil
	})
	if err != nil || n != 1203 {
		t.Errorf("exported %d, %v; want 1203", n, err)
	}
	if _, total, err := db.SearchAuditEvents(ctx, model.AuditFilter{Query: "user.create"}, 1, 10); err != nil || total != 1 {
		t.Errorf("search: %d, %v; want 1", total, err)
	}
}

func TestCancelRegistration(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)
	db := portalDB(t, &now)
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
