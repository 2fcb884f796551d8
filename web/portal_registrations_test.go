package web_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scepgate/scepgate/admin"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/store"
)

// enrolled creates a pre-registration for cn and completes it with a
// certificate, as an enrollment would; it returns both ids.
func (p *portal) enrolled(cn string) (regID, certID int64) {
	p.t.Helper()
	ctx := context.Background()
	reg, err := p.admin.AddPreRegistration(ctx, admin.Actor{Name: "admin"}, admin.PreRegistrationInput{TokenProcedure: "Device enroll", Password: "password-" + cn, SubjectCN: cn,
		ValidFor: time.Hour})
	if err != nil {
		p.t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	serial := big.NewInt(time.Now().UnixNano())
	now := p.clock.Now()
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn}, DNSNames: []string{cn + ".example"},
		NotBefore: now, NotAfter: now.Add(20 * 24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		p.t.Fatal(err)
	}
	cert := &model.Certificate{Serial: serial.Text(16), Subject: "CN=" + cn, DNSNames: cn + ".example", NotBefore: now, NotAfter: tmpl.NotAfter,
		DER: der, State: model.CertActive, TransactionID: "tx-" + cn}
	if err := p.db.RecordIssue(ctx, store.Issue{Cert: cert, ConsumeRegistrationID: reg.ID}); err != nil {
		p.t.Fatal(err)
	}
	return reg.ID, cert.ID
}

func TestRegistrationsAndCertificates(t *testing.T) {
	p := newPortal(t)
	ctx := context.Background()
	regID, certID := p.enrolled("printer1")
	open, err := p.admin.AddPreRegistration(ctx, admin.Actor{Name: "admin"}, admin.PreRegistrationInput{TokenProcedure: "Device enroll", Password: "another-secret", SubjectCN: "laptop7", ValidFor: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	admin := p.browser()
	admin.signIn("admin")

	got := admin.get("/registrations?state=used")
	if !strings.Contains(got.body, `data-testid="registration-`+strconv.FormatInt(regID, 10)+`"`) || strings.Contains(got.body, `data-testid="registration-`+strconv.FormatInt(open.ID, 10)+`"`) {
		t.Errorf("ok/filter by state: want only the used registration; body %s", got.body)
	}
	if got := admin.get("/registrations?q=nobody-like-this"); !strings.Contains(got.body, "No registration matches") {
		t.Errorf("ok/empty search: no empty-state message")
	}
	if got := admin.get("/registrations?from=2026-05-02"); strings.Contains(got.body, "data-testid=\"registration-") {
		t.Errorf("ok/date range: registrations created before the range are listed")
	}
	detail := admin.get("/registrations/" + strconv.FormatInt(regID, 10))
	if !strings.Contains(detail.body, `href="/certificates/`+strconv.FormatInt(certID, 10)+`"`) || !strings.Contains(detail.body, ">used<") {
		t.Errorf("ok/used registration: lacks its state or certificate link; body %s", detail.body)
	}

	// Cancel the open one; a second cancel is refused with the reason.
	oid := strconv.FormatInt(open.ID, 10)
	if got := admin.post("/registrations/"+oid, "/registrations/"+oid+"/cancel", url.Values{"confirm": {"yes"}}); got.status != http.StatusSeeOther {
		t.Fatalf("ok/cancel: status %d, want 303", got.status)
	}
	if r, _ := p.db.FindRegistration(ctx, open.ID); r.State != model.StateCancelled {
		t.Errorf("after cancel: state %q, want cancelled", r.State)
	}
	if got := admin.post("/registrations/"+oid, "/registrations/"+oid+"/cancel", url.Values{"confirm": {"yes"}}); got.status != http.StatusConflict {
		t.Errorf("fail/cancel twice: status %d, want 409", got.status)
	}

	// Certificates: search, detail, download, revoke.
	cid := strconv.FormatInt(certID, 10)
	for q, want := range map[string]bool{"printer1": true, "PRINTER1.EXAMPLE": true, "laptop": false} {
		if got := admin.get("/certificates?q=" + url.QueryEscape(q)); strings.Contains(got.body, "CN=printer1</a>") != want {
			t.Errorf("search %q: listed %t, want %t", q, !want, want)
		}
	}
	if got := admin.get("/certificates?state=expiring"); !strings.Contains(got.body, "CN=printer1</a>") {
		t.Errorf("ok/expiring: a certificate ending in 20 days is not listed")
	}
	if got := admin.get("/certificates/" + cid + "/cert.pem"); got.status != http.StatusOK {
		t.Errorf("ok/download: status %d", got.status)
	} else if blk, _ := pem.Decode([]byte(got.body)); blk == nil {
		t.Errorf("ok/download: not PEM")
	}
	if got := admin.post("/certificates/"+cid, "/certificates/"+cid+"/revoke", url.Values{"reason": {"77"}}); got.status != http.StatusUnprocessableEntity {
		t.Errorf("fail/bad reason: status %d, want 422", got.status)
	}
	if got := admin.post("/certificates/"+cid, "/certificates/"+cid+"/revoke", url.Values{"reason": {"1"}, "confirm": {"yes"}}); got.status != http.StatusSeeOther {
		t.Fatalf("ok/revoke: status %d, want 303; body %s", got.status, got.body)
	}
	c, _ := p.db.FindCertificate(ctx, certID)
	if c.State != model.CertRevoked || c.RevocationReason != 1 || c.RevokedAt == nil {
		t.Errorf("after revoke: %s reason %d at %v, want revoked, 1, a time", c.State, c.RevocationReason, c.RevokedAt)
	}
	events, _, _ := p.db.SearchAuditEvents(ctx, model.AuditFilter{}, 1, 10)
	if len(events) == 0 || events[0].Action != "certificate.revoke" || events[0].Actor != "admin" {
		t.Errorf("audit: newest event %+v, want certificate.revoke by admin", events)
	}
	dash := admin.get("/")
	if !strings.Contains(dash.body, `data-testid="count-revoked"><span class="tile-n">1<`) {
		t.Errorf("dashboard: revoked count is not 1")
	}

	help := p.browser()
	help.signIn("helpdesk")
	if got := help.get("/registrations"); got.status != http.StatusOK || strings.Contains(got.body, `data-testid="cancel"`) {
		t.Errorf("ok/helpdesk reads registrations: status %d", got.status)
	} else if strings.Contains(got.body, `data-testid="certificate-link"`) {
		t.Errorf("ok/helpdesk: the list links to certificate pages the help desk may not open")
	}
	if got := help.post("/registrations", "/registrations/"+strconv.FormatInt(regID, 10)+"/cancel", url.Values{}); got.status != http.StatusForbidden {
		t.Errorf("fail/helpdesk cancels: status %d, want 403", got.status)
	}
}

func TestPreRegistration(t *testing.T) {
	p := newPortal(t)
	admin := p.browser()
	admin.signIn("admin")
	form := url.Values{"token_procedure": {"Device enroll"}, "password": {"short"}, "subject_cn": {"kiosk3"}, "valid_for": {"a week"}}
	got := admin.post("/registrations/new", "/registrations", form)
	if got.status != http.StatusUnprocessableEntity || !strings.Contains(got.body, `data-testid="error-password"`) ||
		!strings.Contains(got.body, `data-testid="error-valid_for"`) || !strings.Contains(got.body, `value="kiosk3"`) || strings.Contains(got.body, `value="short"`) {
		t.Errorf("fail/invalid: status %d, want 422 with messages, the input kept and the password not echoed; body %s", got.status, got.body)
	}
	form.Set("password", "kiosk-secret-3")
	form.Set("valid_for", "24h")
	got = admin.post("/registrations/new", "/registrations", form)
	if got.status != http.StatusSeeOther || !strings.HasPrefix(got.location, "/registrations/") {
		t.Fatalf("ok/create: %d %q, want 303 to the registration; body %s", got.status, got.location, got.body)
	}
	id, _ := strconv.ParseInt(strings.TrimPrefix(got.location, "/registrations/"), 10, 64)
	r, err := p.db.FindRegistration(context.Background(), id)
	if err != nil || r.SubjectCN != "kiosk3" || r.RequestedBy != "admin" || !r.ExpiresAt.Equal(p.clock.Now().Add(24*time.Hour)) {
		t.Errorf("stored %+v, %v; want kiosk3 by admin for 24h", r, err)
	}
	if got := admin.post("/registrations/new", "/registrations", form); got.status != http.StatusUnprocessableEntity || !strings.Contains(got.body, "already uses this password") {
		t.Errorf("fail/same password twice: status %d, want 422 with the reason", got.status)
	}
}
