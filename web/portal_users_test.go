package web_test

import (
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/scepgate/scepgate/model"
)

func TestUsers(t *testing.T) {
	p := newPortal(t)
	ctx := context.Background()
	admin := p.browser()
	admin.signIn("admin")

	form := url.Values{"username": {"dave"}, "role": {"helpdesk"}, "password": {"short"}, "password2": {"short"}}
	got := admin.post("/users/new", "/users", form)
	if got.status != http.StatusUnprocessableEntity || !strings.Contains(got.body, `data-testid="error-password"`) || !strings.Contains(got.body, `value="dave"`) {
		t.Errorf("fail/short password: status %d, want 422 with the message and the name kept", got.status)
	}
	form.Set("password", "dave-long-password")
	form.Set("password2", "dave-long-password")
	got = admin.post("/users/new", "/users", form)
	if got.status != http.StatusSeeOther {
		t.Fatalf("ok/create: status %d, want 303; body %s", got.status, got.body)
	}
	if got := admin.post("/users/new", "/users", form); got.status != http.StatusUnprocessableEntity || !strings.Contains(got.body, "already a user named") {
		t.Errorf("fail/duplicate: status %d, want 422", got.status)
	}
	daveURL := got.location
	dave := p.browser()
	if got := dave.post("/signin", "/signin", url.Values{"username": {"dave"}, "password": {"dave-long-password"}}); got.status != http.StatusSeeOther {
		t.Fatalf("ok/new user signs in: status %d", got.status)
	}

	// Role change takes effect on the next request.
	if got := admin.post(daveURL, daveURL+"/role", url.Values{"role": {"auditor"}}); got.status != http.StatusSeeOther {
		t.Fatalf("ok/change role: status %d", got.status)
	}
	if got := dave.get("/audit"); got.status != http.StatusOK {
		t.Errorf("ok/auditor dave reads the audit log: status %d", got.status)
	}
	// Disabling ends dave's session.
	if got := admin.post(daveURL, daveURL+"/disable", url.Values{"confirm": {"yes"}}); got.status != http.StatusSeeOther {
		t.Fatalf("ok/disable: status %d", got.status)
	}
	if got := dave.get("/audit"); got.status != http.StatusSeeOther {
		t.Errorf("fail/disabled user's session: status %d, want 303 to sign in", got.status)
	}
	if got := dave.post("/signin", "/signin", url.Values{"username": {"dave"}, "password": {"dave-long-password"}}); got.status != http.StatusUnprocessableEntity {
		t.Errorf("fail/disabled user signs in: status %d, want 422", got.status)
	}

	// The last administrator stays.
	me, _ := p.db.FindUserByUsername(ctx, "admin")
	meURL := "/users/" + strconv.FormatInt(me.ID, 10)
	if got := admin.post(meURL, meURL+"/role", url.Values{"role": {"auditor"}}); got.status != http.StatusConflict || !strings.Contains(got.body, "last enabled administrator") {
		t.Errorf("fail/demote last admin: status %d, want 409", got.status)
	}
	if got := admin.post(meURL, meURL+"/password", url.Values{"password": {"a-new-admin-password"}, "password2": {"a-new-admin-password"}}); got.status != http.StatusSeeOther {
		t.Errorf("ok/reset password: status %d", got.status)
	}
	if u, _ := p.db.FindUserByUsername(ctx, "admin"); u.PasswordHash == me.PasswordHash {
		t.Errorf("password hash unchanged")
	}
}

func TestAuditLog(t *testing.T) {
	p := newPortal(t)
	ctx := context.Background()
	_ = p.db.AddAuditEvent(ctx, &model.AuditEvent{Actor: "=cmd|' /C calc'!A0", Action: "test.inject", Detail: "a, \"quoted\" detail"})
	aud := p.browser()
	aud.signIn("auditor")
	got := aud.get("/audit?q=inject")
	if got.status != http.StatusOK || !strings.Contains(got.body, "test.inject") || strings.Contains(got.body, "user.signin<") {
		t.Errorf("ok/search: status %d, want only the matching event", got.status)
	}
	got = aud.get("/audit.csv?q=inject")
	if got.status != http.StatusOK || !strings.HasPrefix(got.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("ok/csv: status %d type %q", got.status, got.header.Get("Content-Type"))
	}
	rows, err := csv.NewReader(strings.NewReader(got.body)).ReadAll()
	if err != nil || len(rows) != 2 {
		t.Fatalf("csv rows %v, %v; want header and one event", rows, err)
	}
	if rows[1][2] != "'=cmd|' /C calc'!A0" || rows[1][5] != `a, "quoted" detail` {
		t.Errorf("csv row %q, want the formula neutralised and the detail intact", rows[1])
	}
	if got := aud.get("/audit?q=no-such-thing"); !strings.Contains(got.body, "No event matches.") {
		t.Errorf("ok/empty: no empty-state message")
	}
	help := p.browser()
	help.signIn("helpdesk")
	if got := help.get("/audit.csv"); got.status != http.StatusForbidden {
		t.Errorf("fail/helpdesk exports: status %d, want 403", got.status)
	}
}
