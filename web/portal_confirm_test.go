package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scepgate/scepgate/admin"
	"github.com/scepgate/scepgate/internal/testenv"
	"github.com/scepgate/scepgate/model"
)

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// confirmForm reads the form of a confirmation page: its fields as the
// browser would send them again.
func confirmForm(t *testing.T, body string) url.Values {
	t.Helper()
	if !strings.Contains(body, `data-testid="confirm-page"`) {
		t.Fatalf("not a confirmation page: %s", body)
	}
	v := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(body, -1) {
		v.Add(m[1], m[2])
	}
	return v
}

// TestConfirmWithoutJavaScript walks every destructive action as a
// browser without JavaScript: the first POST only asks, the page's form
// does it, and Cancel leads back.
func TestConfirmWithoutJavaScript(t *testing.T) {
	p := newPortal(t)
	ctx := context.Background()
	_, certID := p.enrolled("printer1")
	open, err := p.admin.AddPreRegistration(ctx, admin.Actor{Name: "admin"}, admin.PreRegistrationInput{TokenProcedure: "Device enroll", Password: "another-secret", SubjectCN: "laptop7", ValidFor: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	b := p.browser()
	b.signIn("admin")
	cid, oid := strconv.FormatInt(certID, 10), strconv.FormatInt(open.ID, 10)
	cert, _ := p.db.FindCertificate(ctx, certID)

	got := b.post("/certificates/"+cid, "/certificates/"+cid+"/revoke", url.Values{"reason": {"1"}})
	if got.status != http.StatusOK {
		t.Fatalf("ok/revoke asks: status %d, want 200", got.status)
	}
	form := confirmForm(t, got.body)
	for _, want := range []string{"key compromise", "CN=printer1", "cannot be undone", `href="/certificates/` + cid + `" data-testid="confirm-cancel"`, strings.ToUpper(cert.Serial)} {
		if !strings.Contains(got.body, want) {
			t.Errorf("ok/revoke confirmation lacks %q", want)
		}
	}
	if form.Get("confirm") != "yes" || form.Get("reason") != "1" || form.Get("csrf") == "" {
		t.Errorf("ok/revoke confirmation form %v, want confirm=yes, reason=1 and the token", form)
	}
	if c, _ := p.db.FindCertificate(ctx, certID); c.State != model.CertActive {
		t.Fatalf("fail/revoked before confirmation: state %s", c.State)
	}
	if got := b.postRaw("/certificates/"+cid+"/revoke", form); got.status != http.StatusSeeOther {
		t.Fatalf("ok/revoke confirmed: status %d, want 303", got.status)
	}
	if c, _ := p.db.FindCertificate(ctx, certID); c.State != model.CertRevoked || c.RevocationReason != 1 {
		t.Errorf("after confirmation: %s reason %d, want revoked, 1", c.State, c.RevocationReason)
	}

	got = b.post("/registrations/"+oid, "/registrations/"+oid+"/cancel", url.Values{})
	form = confirmForm(t, got.body)
	if !strings.Contains(got.body, "laptop7") {
		t.Errorf("ok/cancel confirmation does not name what it cancels")
	}
	if r, _ := p.db.FindRegistration(ctx, open.ID); r.State != model.StateOpen {
		t.Fatalf("fail/cancelled before confirmation: %s", r.State)
	}
	if got := b.postRaw("/registrations/"+oid+"/cancel", form); got.status != http.StatusSeeOther {
		t.Fatalf("ok/cancel confirmed: status %d, want 303", got.status)
	}

	for _, path := range []string{"/procedures/token/1/delete", "/procedures/certificate/1/delete", "/users/2/disable"} {
		if got := b.post("/", path, url.Values{}); got.status != http.StatusOK || !strings.Contains(got.body, `data-testid="confirm-page"`) {
			t.Errorf("ok/%s asks first: status %d, want 200 with the confirmation page", path, got.status)
		}
	}
	if u, _ := p.db.FindUser(ctx, 2); u.Disabled {
		t.Errorf("fail/user disabled without confirmation")
	}

	// With JavaScript, the same forms ask in a dialog first (the browser
	// test clicks through one).
	for _, path := range []string{"/users/2", "/procedures/certificate/1", "/procedures/token/1", "/handlers", "/ca"} {
		if got := b.get(path); !strings.Contains(got.body, `data-confirm="`) {
			t.Errorf("ok/%s: no form with data-confirm for the dialog", path)
		}
	}
}

func TestSmallPortalFixes(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	b.signIn("admin")

	got := b.postRaw("/handlers/1/toggle", url.Values{"csrf": {"stale"}})
	if got.status != http.StatusForbidden || !strings.Contains(got.body, `data-testid="form-expired"`) || strings.Contains(got.body, "change your role") {
		t.Errorf("fail/stale form token: status %d, want 403 saying the form expired, not the role message; body %s", got.status, got.body)
	}

	got = b.get("/signout")
	if got.status != http.StatusOK || !strings.Contains(got.body, `data-testid="signout-confirm"`) || strings.Contains(got.body, "Method Not Allowed") {
		t.Errorf("ok/GET /signout: status %d, want 200 with a sign-out button; body %s", got.status, got.body)
	}
	if got := b.post("/signout", "/signout", url.Values{}); got.status != http.StatusSeeOther || got.location != "/signin" {
		t.Errorf("ok/sign out from that page: %d %q, want 303 /signin", got.status, got.location)
	}

	b.signIn("admin")
	got = b.get("/procedures")
	if !strings.Contains(got.body, "Certificate procedures 1–1 of 1 · token procedures 1–1 of 1") ||
		!strings.Contains(got.body, `data-testid="certificate-count">1<`) || !strings.Contains(got.body, `data-testid="token-count">1<`) {
		t.Errorf("ok/procedures pager: want counts per list; body %s", got.body)
	}

	got = b.get("/")
	if n := strings.Count(got.body, `class="tick">0</text>`); n != 1 {
		t.Errorf("ok/empty chart: the axis shows 0 %d times, want once", n)
	}
}

func TestHelpdeskSeesCertificateState(t *testing.T) {
	p := newPortal(t)
	ctx := context.Background()
	regID, certID := p.enrolled("printer1")
	if _, err := p.admin.RevokeCertificate(ctx, admin.Actor{Name: "admin"}, certID, model.ReasonKeyCompromise); err != nil {
		t.Fatal(err)
	}
	help := p.browser()
	help.signIn("helpdesk")
	for _, path := range []string{"/registrations", "/registrations/" + strconv.FormatInt(regID, 10)} {
		got := help.get(path)
		if !strings.Contains(got.body, `data-testid="certificate-state">revoked<`) || strings.Contains(got.body, ">issued<") {
			t.Errorf("ok/helpdesk %s: want the certificate's state revoked, not issued", path)
		}
	}
	aud := p.browser()
	aud.signIn("auditor")
	if got := aud.get("/audit"); !strings.Contains(got.body, "reason key compromise") {
		t.Errorf("ok/audit log names the revocation reason; body %s", got.body)
	}
}

// TestUserPageShowsLock locks a user name from one address, then sees the
// lock on the user's page, unlocks it there (audited), and signs in.
func TestUserPageShowsLock(t *testing.T) {
	fast := model.AttemptPolicy{FreeFailures: 100, LockAfter: 10, LockFor: time.Hour, Window: time.Hour}
	p := newPortalWith(t, testenv.Options{Attempts: model.AttemptPolicies{Portal: fast,
		PortalUser: model.AttemptPolicy{FreeFailures: 100, LockAfter: 4, LockFor: time.Hour, Window: time.Hour}}})
	intruder := p.browser()
	for i := 0; i < 4; i++ {
		intruder.post("/signin", "/signin", url.Values{"username": {"auditor"}, "password": {"nope"}})
	}
	b := p.browser()
	b.signIn("admin")
	got := b.get("/users/3")
	if !strings.Contains(got.body, `data-testid="locked"`) || !strings.Contains(got.body, "Locked after 4 failed sign-ins") {
		t.Fatalf("ok/locked user's page says it is locked, with the count; body %s", got.body)
	}
	if got := b.get("/users/2"); strings.Contains(got.body, `data-testid="locked"`) {
		t.Errorf("ok/unlocked user's page says it is locked")
	}
	if got := b.post("/users/3", "/users/3/unlock", url.Values{}); got.status != http.StatusSeeOther {
		t.Fatalf("ok/unlock: status %d; body %s", got.status, got.body)
	}
	if got := b.get("/users/3"); strings.Contains(got.body, `data-testid="locked"`) {
		t.Errorf("ok/after unlock the page still says locked")
	}
	intruder.signIn("auditor") // the same address: its own lock is lifted too
	events, _, err := p.db.SearchAuditEvents(context.Background(), model.AuditFilter{Query: "user.unlock"}, 1, 10)
	if err != nil || len(events) != 1 || events[0].Actor != "admin" {
		t.Errorf("audit of the unlock: %v, %v; want one event by admin", events, err)
	}

	// A password reset lifts a lock as well.
	for i := 0; i < 4; i++ {
		intruder.post("/signin", "/signin", url.Values{"username": {"helpdesk"}, "password": {"nope"}})
	}
	pw := url.Values{"password": {"a-new-password-1"}, "password2": {"a-new-password-1"}}
	if got := b.post("/users/2", "/users/2/password", pw); got.status != http.StatusSeeOther {
		t.Fatalf("ok/reset password: status %d; body %s", got.status, got.body)
	}
	if got := intruder.post("/signin", "/signin", url.Values{"username": {"helpdesk"}, "password": {"a-new-password-1"}}); got.status != http.StatusSeeOther {
		t.Errorf("ok/sign in after a reset: status %d; want 303", got.status)
	}
}
