package web_test

import (
	"context"
	"encoding/csv"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scepgate/scepgate/admin"
	"github.com/scepgate/scepgate/model"
)

func TestBulkRevoke(t *testing.T) {
	p := newPortal(t)
	ctx := context.Background()
	_, c1 := p.enrolled("printer1")
	_, c2 := p.enrolled("printer2")
	_, c3 := p.enrolled("laptop3")
	b := p.browser()
	b.signIn("admin")

	list := b.get("/certificates")
	if !strings.Contains(list.body, `data-testid="bulk-form"`) || !strings.Contains(list.body, `data-testid="select-`+strconv.FormatInt(c1, 10)+`"`) {
		t.Fatalf("ok/admin list has the bulk form and row checkboxes")
	}

	// Ticked rows: the confirmation names them, and only they are revoked.
	got := b.post("/certificates", "/certificates/revoke", url.Values{"id": {strconv.FormatInt(c1, 10), strconv.FormatInt(c3, 10)}, "reason": {"5"}})
	form := confirmForm(t, got.body)
	if !strings.Contains(got.body, `data-testid="confirm-count">`) || !strings.Contains(got.body, "2 items") || !strings.Contains(got.body, "CN=printer1") || !strings.Contains(got.body, "CN=laptop3") {
		t.Errorf("ok/bulk confirmation says how many and which; body %s", got.body)
	}
	if c, _ := p.db.FindCertificate(ctx, c1); c.State != model.CertActive {
		t.Fatalf("fail/revoked before confirmation")
	}
	if got := b.postRaw("/certificates/revoke", form); got.status != http.StatusSeeOther {
		t.Fatalf("ok/bulk revoke confirmed: status %d, want 303; body %s", got.status, got.body)
	}
	for id, want := range map[int64]string{c1: model.CertRevoked, c2: model.CertActive, c3: model.CertRevoked} {
		if c, _ := p.db.FindCertificate(ctx, id); c.State != want {
			t.Errorf("after bulk revoke: certificate %d is %s, want %s", id, c.State, want)
		}
	}

	// All matching the filter: the active printers only.
	_, c4 := p.enrolled("printer4")
	got = b.post("/certificates", "/certificates/revoke", url.Values{"all": {"yes"}, "q": {"printer"}, "reason": {"4"}})
	form = confirmForm(t, got.body)
	if !strings.Contains(got.body, "2 items") || strings.Contains(got.body, "CN=laptop3") {
		t.Errorf("ok/all matching: want the 2 active printers; body %s", got.body)
	}
	if ids := form["id"]; len(ids) != 2 {
		t.Errorf("ok/all matching: the confirmation posts ids %v, want 2", ids)
	}
	if got := b.postRaw("/certificates/revoke", form); got.status != http.StatusSeeOther {
		t.Fatalf("ok/all matching confirmed: status %d", got.status)
	}
	for _, id := range []int64{c2, c4} {
		if c, _ := p.db.FindCertificate(ctx, id); c.State != model.CertRevoked || c.RevocationReason != model.ReasonSuperseded {
			t.Errorf("after revoking all matching: certificate %d is %s (%d), want revoked, superseded", id, c.State, c.RevocationReason)
		}
	}

	if got := b.post("/certificates", "/certificates/revoke", url.Values{"reason": {"4"}}); got.status != http.StatusBadRequest {
		t.Errorf("fail/nothing selected: status %d, want 400", got.status)
	}
	aud := p.browser()
	aud.signIn("auditor")
	if got := aud.post("/certificates", "/certificates/revoke", url.Values{"all": {"yes"}, "reason": {"4"}}); got.status != http.StatusForbidden {
		t.Errorf("fail/auditor bulk revokes: status %d, want 403", got.status)
	}
}

func TestBulkCancel(t *testing.T) {
	p := newPortal(t)
	ctx := context.Background()
	var ids []int64
	for _, cn := range []string{"printer1", "printer2", "laptop3"} {
		r, err := p.admin.AddPreRegistration(ctx, admin.Actor{Name: "admin"}, admin.PreRegistrationInput{TokenProcedure: "Device enroll", Password: "secret-" + cn + "-long", SubjectCN: cn, ValidFor: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	b := p.browser()
	b.signIn("admin")
	got := b.post("/registrations", "/registrations/cancel", url.Values{"all": {"yes"}, "q": {"printer"}})
	form := confirmForm(t, got.body)
	if !strings.Contains(got.body, "2 items") || !strings.Contains(got.body, "printer1") || strings.Contains(got.body, "laptop3") {
		t.Errorf("ok/cancel all matching: want printer1 and printer2; body %s", got.body)
	}
	if got := b.postRaw("/registrations/cancel", form); got.status != http.StatusSeeOther || !strings.Contains(got.location, "q=printer") {
		t.Fatalf("ok/bulk cancel confirmed: %d %q, want 303 back to the search", got.status, got.location)
	}
	for i, want := range []string{model.StateCancelled, model.StateCancelled, model.StateOpen} {
		if r, _ := p.db.FindRegistration(ctx, ids[i]); r.State != want {
			t.Errorf("after bulk cancel: registration %d is %s, want %s", ids[i], r.State, want)
		}
	}
	help := p.browser()
	help.signIn("helpdesk")
	if got := help.get("/registrations"); strings.Contains(got.body, `data-testid="bulk-form"`) || strings.Contains(got.body, `data-testid="csv"`) {
		t.Errorf("ok/helpdesk sees no bulk form and no export")
	}
	if got := help.get("/registrations.csv"); got.status != http.StatusForbidden {
		t.Errorf("fail/helpdesk exports: status %d, want 403", got.status)
	}
}

func TestCSVExports(t *testing.T) {
	p := newPortal(t)
	ctx := context.Background()
	_, c1 := p.enrolled("printer1")
	p.enrolled("laptop2")
	if _, err := p.admin.AddPreRegistration(ctx, admin.Actor{Name: "admin"}, admin.PreRegistrationInput{TokenProcedure: "Device enroll", Password: "formula-secret", SubjectCN: "=HYPERLINK(1)", ValidFor: time.Hour}); err != nil {
		t.Fatal(err)
	}
	b := p.browser()
	b.signIn("auditor")
	if got := b.get("/certificates?q=printer"); !strings.Contains(got.body, `href="/certificates.csv?q=printer"`) {
		t.Errorf("ok/certificate list links to the export of its search")
	}
	got := b.get("/certificates.csv?q=printer")
	rows, err := csv.NewReader(strings.NewReader(got.body)).ReadAll()
	if got.status != http.StatusOK || err != nil || !strings.HasPrefix(got.header.Get("Content-Type"), "text/csv") {
		t.Fatalf("ok/certificates.csv: status %d, err %v, type %q", got.status, err, got.header.Get("Content-Type"))
	}
	c, _ := p.db.FindCertificate(ctx, c1)
	if len(rows) != 2 || rows[0][1] != "serial" || rows[1][1] != model.SerialOpenSSL(c.Serial) || rows[1][2] != "CN=printer1" || rows[1][6] != "active" {
		t.Errorf("ok/certificates.csv rows %v, want the header and printer1 with its openssl serial", rows)
	}
	got = b.get("/registrations.csv")
	rows, err = csv.NewReader(strings.NewReader(got.body)).ReadAll()
	if got.status != http.StatusOK || err != nil || len(rows) != 4 {
		t.Fatalf("ok/registrations.csv: status %d, err %v, %d rows, want 4", got.status, err, len(rows))
	}
	found := false
	for _, r := range rows {
		found = found || r[5] == "'=HYPERLINK(1)"
	}
	if !found {
		t.Errorf("fail/formula cell: want '=HYPERLINK(1) escaped; rows %v", rows)
	}
	help := p.browser()
	help.signIn("helpdesk")
	if got := help.get("/certificates.csv"); got.status != http.StatusForbidden {
		t.Errorf("fail/helpdesk exports certificates: status %d, want 403", got.status)
	}
}
