package web_test

import (
	"encoding/pem"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/scepgate/scepgate/admin"
	"github.com/scepgate/scepgate/internal/testclock"
	"github.com/scepgate/scepgate/internal/testenv"

	"github.com/scepgate/scepgate/enroll"
	"github.com/scepgate/scepgate/handlers"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/store"
)

// portal is a scepgate server with a real SQLite database in t.TempDir().
type portal struct {
	t     *testing.T
	db    *store.DB
	svc   *enroll.Service
	clock *testclock.Clock
	srv   *httptest.Server
	admin *admin.Service
	env   *testenv.Env
}

const testPassword = "correct horse battery"

// newPortal starts the portal's test server; options, when given, change
// the environment's options before it starts.
func newPortal(t *testing.T, options ...func(*testenv.Options)) *portal {
	t.Helper()
	var o testenv.Options
	for _, change := range options {
		change(&o)
	}
	return newPortalWith(t, o)
}

// newPortalWith is newPortal with o's choices; the seed is newPortal's.
func newPortalWith(t *testing.T, o testenv.Options) *portal {
	t.Helper()
	hash := testenv.Hash(t, testPassword)
	seed := &store.Seed{
		CertificateProcedures: []model.CertificateProcedure{{Name: "Device", Format: model.FormatSCEP, KeyUsageMode: model.KeyUsageFromCSR,
			KeyUsages: "digitalSignature", ExtKeyUsages: "clientAuth", ValidityDays: 365, MinRSABits: 2048}},
		TokenProcedures: []store.SeedTokenProcedure{{TokenProcedure: model.TokenProcedure{Name: "Device enroll", StorageProfile: model.StorageProfilePKCS10,
			IssuerCertificates: model.IssuerCertsStoreAll, InputView: model.InputViewSCEPRegistrations}, CertificateProcedures: []string{"Device"}}},
		Handlers: []store.SeedHandler{{Handler: model.Handler{Name: "scep", Format: model.HandlerSCEP, Enabled: true}, TokenProcedure: "Device enroll"}},
	}
	for _, u := range []struct{ name, role string }{{"admin", model.RoleAdmin}, {"helpdesk", model.RoleHelpdesk}, {"auditor", model.RoleAuditor}} {
		seed.Users = append(seed.Users, model.User{Username: u.name, PasswordHash: hash, Role: u.role})
	}
	o.Seed = seed
	env := testenv.New(t, o)
	return &portal{t: t, db: env.DB, svc: env.Enroll, clock: env.Clock, srv: env.Server, admin: env.Admin, env: env}
}

// browser is one cookie jar that does not follow redirects.
type browser struct {
	p      *portal
	client *http.Client
}

func (p *portal) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{p: p, client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status   int
	body     string
	location string
	header   http.Header
}

func (b *browser) do(req *http.Request) page {
	b.p.t.Helper()
	res, err := b.client.Do(req)
	if err != nil {
		b.p.t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return page{status: res.StatusCode, body: string(body), location: res.Header.Get("Location"), header: res.Header}
}

func (b *browser) get(path string) page {
	b.p.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, b.p.srv.URL+path, nil)
	return b.do(req)
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// post sends form to path with the form token of the page at from.
func (b *browser) post(from, path string, form url.Values) page {
	b.p.t.Helper()
	m := csrfRE.FindStringSubmatch(b.get(from).body)
	if m == nil {
		b.p.t.Fatalf("no form token on %s", from)
	}
	form.Set("csrf", m[1])
	return b.postRaw(path, form)
}

func (b *browser) postRaw(path string, form url.Values) page {
	b.p.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, b.p.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

func (b *browser) signIn(user string) {
	b.p.t.Helper()
	got := b.post("/signin", "/signin", url.Values{"username": {user}, "password": {testPassword}})
	if got.status != http.StatusSeeOther {
		b.p.t.Fatalf("sign in %s: status %d, want 303; body %s", user, got.status, got.body)
	}
}

func (b *browser) cookie(name string) *http.Cookie {
	u, _ := url.Parse(b.p.srv.URL)
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func TestSignIn(t *testing.T) {
	p := newPortal(t)
	b := p.browser()

	if got := b.get("/"); got.status != http.StatusSeeOther || got.location != "/signin" {
		t.Fatalf("fail/signed out: GET / = %d %q, want 303 /signin", got.status, got.location)
	}
	if got := b.get("/ca"); got.location != "/signin?next=%2Fca" {
		t.Errorf("fail/signed out: GET /ca location %q, want /signin?next=%%2Fca", got.location)
	}
	if got := b.postRaw("/signin", url.Values{"username": {"admin"}, "password": {testPassword}}); got.status != http.StatusForbidden {
		t.Errorf("fail/no form token: status %d, want 403", got.status)
	}
	got := b.post("/signin", "/signin", url.Values{"username": {"admin"}, "password": {"wrong"}})
	if got.status != http.StatusUnprocessableEntity || !strings.Contains(got.body, "The user name or password is wrong.") || !strings.Contains(got.body, `value="admin"`) {
		t.Errorf("fail/wrong password: status %d, want 422 with message and the user name kept; body %s", got.status, got.body)
	}

	got = b.post("/signin?next=/ca", "/signin", url.Values{"username": {"admin"}, "password": {testPassword}, "next": {"/ca"}})
	if got.status != http.StatusSeeOther || got.location != "/ca" {
		t.Fatalf("ok/sign in: %d %q, want 303 /ca", got.status, got.location)
	}
	var sc string
	for _, line := range got.header.Values("Set-Cookie") {
		if strings.HasPrefix(line, handlers.SessionCookie+"=") {
			sc = line
		}
	}
	for _, want := range []string{"HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(sc, want) {
			t.Errorf("ok/session cookie %q lacks %s", sc, want)
		}
	}
	if strings.Contains(sc, "Secure") {
		t.Errorf("ok/session cookie over plain HTTP is Secure: %q", sc)
	}
	first := b.cookie(handlers.SessionCookie).Value
	if len(first) != 43 {
		t.Errorf("ok/session id %q is %d characters, want 43 (32 bytes base64url)", first, len(first))
	}

	home := b.get("/")
	if home.status != http.StatusOK || !strings.Contains(home.body, `data-testid="count-active"`) {
		t.Fatalf("ok/dashboard: status %d, want 200 with counts; body %s", home.status, home.body)
	}
	if cc := home.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("ok/dashboard Cache-Control %q, want no-store", cc)
	}
	for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy"} {
		if home.header.Get(h) == "" {
			t.Errorf("ok/dashboard lacks header %s", h)
		}
	}

	// Signing in again gives a new session id and ends the old session.
	b.signIn("admin")
	second := b.cookie(handlers.SessionCookie).Value
	if second == first {
		t.Errorf("ok/second sign-in kept session id %q, want a new one", first)
	}
	other := p.browser()
	other.client.Jar.SetCookies(mustURL(p.srv.URL), []*http.Cookie{{Name: handlers.SessionCookie, Value: first}})
	if got := other.get("/"); got.status != http.StatusSeeOther {
		t.Errorf("fail/replaced session still works: status %d, want 303", got.status)
	}

	// Sign out ends the session in the database, not only in the browser.
	if got := b.post("/", "/signout", url.Values{}); got.status != http.StatusSeeOther || got.location != "/signin" {
		t.Errorf("ok/sign out: %d %q, want 303 /signin", got.status, got.location)
	}
	other.client.Jar.SetCookies(mustURL(p.srv.URL), []*http.Cookie{{Name: handlers.SessionCookie, Value: second}})
	if got := other.get("/"); got.status != http.StatusSeeOther {
		t.Errorf("fail/signed-out session still works: status %d, want 303", got.status)
	}
}

func mustURL(s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		panic(err)
	}
	return u
}

func TestSessionExpiry(t *testing.T) {
	p := newPortal(t)

	b := p.browser()
	b.signIn("admin")
	p.clock.Add(29 * time.Minute)
	if got := b.get("/ca"); got.status != http.StatusOK {
		t.Fatalf("ok/within idle time: status %d, want 200", got.status)
	}
	p.clock.Add(29 * time.Minute)
	if got := b.get("/ca"); got.status != http.StatusOK {
		t.Fatalf("ok/used again within idle time: status %d, want 200", got.status)
	}
	p.clock.Add(31 * time.Minute)
	if got := b.get("/ca"); got.status != http.StatusSeeOther {
		t.Errorf("fail/idle 31 minutes: status %d, want 303 to sign in", got.status)
	}

	b = p.browser()
	b.signIn("admin")
	for range 12 * 3 {
		p.clock.Add(20 * time.Minute)
		if got := b.get("/ca"); got.status != http.StatusOK {
			if got.status == http.StatusSeeOther {
				break
			}
			t.Fatalf("status %d", got.status)
		}
	}
	if got := b.get("/ca"); got.status != http.StatusSeeOther {
		t.Errorf("fail/absolute 12 hours: status %d, want 303 to sign in", got.status)
	}
}

func TestRolesAndErrorPages(t *testing.T) {
	p := newPortal(t)
	help := p.browser()
	help.signIn("helpdesk")
	if got := help.get("/ca"); got.status != http.StatusForbidden || !strings.Contains(got.body, `data-testid="forbidden"`) {
		t.Errorf("fail/helpdesk opens /ca: status %d, want 403 forbidden page", got.status)
	}
	if got := help.get("/"); got.status != http.StatusSeeOther || got.location != "/ndes" {
		t.Errorf("ok/helpdesk start: %d %q, want 303 /ndes", got.status, got.location)
	}
	if got := help.get("/no/such/page"); got.status != http.StatusNotFound || !strings.Contains(got.body, `data-testid="not-found"`) {
		t.Errorf("fail/unknown page: status %d, want 404 not-found page", got.status)
	}
	audit := p.browser()
	audit.signIn("auditor")
	got := audit.get("/")
	if got.status != http.StatusOK || strings.Contains(got.body, `data-testid="nav-users"`) || !strings.Contains(got.body, `data-testid="nav-audit"`) {
		t.Errorf("ok/auditor navigation: status %d, want 200 with audit and without users", got.status)
	}
}

func TestCAPage(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	b.signIn("auditor")
	got := b.get("/ca")
	if got.status != http.StatusOK || !strings.Contains(got.body, `data-testid="ndes-thumbprint"`) || !strings.Contains(got.body, "CN=scepgate test") {
		t.Fatalf("ok/CA page: status %d; body %s", got.status, got.body)
	}
	for _, f := range []string{"ca.pem", "ra.pem", "chain.pem"} {
		got := b.get("/ca/" + f)
		if blk, _ := pem.Decode([]byte(got.body)); got.status != http.StatusOK || blk == nil || blk.Type != "CERTIFICATE" {
			t.Errorf("ok/download %s: status %d, want 200 with a PEM certificate", f, got.status)
		}
	}
	for _, f := range []string{"ca.der", "chain.p7b"} {
		if got := b.get("/ca/" + f); got.status != http.StatusOK || len(got.body) < 100 || got.body[0] != 0x30 {
			t.Errorf("ok/download %s: status %d, want 200 with DER", f, got.status)
		}
	}
	if got := b.get("/ca/key.pem"); got.status != http.StatusNotFound {
		t.Errorf("fail/unknown download: status %d, want 404", got.status)
	}
}
