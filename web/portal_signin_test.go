package web_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scepgate/scepgate/handlers"
	"github.com/scepgate/scepgate/internal/testenv"
	"github.com/scepgate/scepgate/model"
	"golang.org/x/crypto/bcrypt"
)

// signInFrom signs in as user with password from the client address addr,
// on a fresh browser, and returns the answer.
func (p *portal) signInFrom(addr, user, password string) page {
	p.t.Helper()
	get := httptest.NewRequest(http.MethodGet, "/signin", nil)
	get.RemoteAddr = addr + ":50000"
	rec := httptest.NewRecorder()
	p.env.Echo.ServeHTTP(rec, get)
	m := csrfRE.FindStringSubmatch(rec.Body.String())
	if m == nil {
		p.t.Fatalf("no form token on /signin: %s", rec.Body.String())
	}
	form := url.Values{"username": {user}, "password": {password}, "csrf": {m[1]}}
	post := httptest.NewRequest(http.MethodPost, "/signin", strings.NewReader(form.Encode()))
	post.RemoteAddr = addr + ":50000"
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range rec.Result().Cookies() {
		post.AddCookie(c)
	}
	rec = httptest.NewRecorder()
	p.env.Echo.ServeHTTP(rec, post)
	return page{status: rec.Code, body: rec.Body.String(), location: rec.Header().Get("Location"), header: rec.Header()}
}

func TestSignInSlowsThenLocks(t *testing.T) {
	pol := model.AttemptPolicy{FreeFailures: 2, Delay: 60 * time.Millisecond, MaxDelay: 100 * time.Millisecond, LockAfter: 5, LockFor: 15 * time.Minute, Window: time.Hour}
	p := newPortalWith(t, testenv.Options{Attempts: model.AttemptPolicies{Portal: pol}})
	b := p.browser()
	wrong := url.Values{"username": {"admin"}, "password": {"nope"}}
	for i := 1; i < pol.LockAfter; i++ {
		start := time.Now()
		if got := b.post("/signin", "/signin", wrong); got.status != http.StatusUnprocessableEntity || strings.Contains(got.body, "locked") {
			t.Fatalf("failure %d: status %d, want 422 without a lock; body %s", i, got.status, got.body)
		}
		if want := min(time.Duration(i-pol.FreeFailures)*pol.Delay, pol.MaxDelay); i > pol.FreeFailures && time.Since(start) < want {
			t.Errorf("fail/slowed: failure %d answered after %s, want at least %s", i, time.Since(start), want)
		}
	}
	if got := b.post("/signin", "/signin", wrong); got.status != http.StatusUnprocessableEntity || !strings.Contains(got.body, "locked there for 15 minutes") {
		t.Fatalf("failure %d: status %d, want 422 saying it is locked for 15 minutes; body %s", pol.LockAfter, got.status, got.body)
	}
	p.clock.Add(time.Minute)
	got := b.post("/signin", "/signin", url.Values{"username": {"admin"}, "password": {testPassword}})
	if got.status != http.StatusTooManyRequests || !strings.Contains(got.body, "locked there for 14 minutes") {
		t.Errorf("fail/locked: the right password got %d, want 429 saying locked for 14 minutes; body %s", got.status, got.body)
	}
	p.clock.Add(pol.LockFor)
	b.signIn("admin")
	// The sign-in cleared the count: the next failure is a first one again.
	start := time.Now()
	if got := b.post("/signin", "/signin", wrong); got.status != http.StatusUnprocessableEntity || time.Since(start) > time.Second {
		t.Errorf("after a sign-in: status %d after %s, want 422 at once", got.status, time.Since(start))
	}
	events, _, err := p.db.SearchAuditEvents(context.Background(), model.AuditFilter{Query: "user.signin.lockout"}, 1, 10)
	if err != nil || len(events) != 1 || events[0].Actor != "admin" || !strings.Contains(events[0].Detail, "5 failed sign-ins") {
		t.Errorf("lockout audit: %+v, %v; want one event for admin with the count", events, err)
	}
}

// TestSignInLocksPerAddressAndUser checks that one address cannot lock a
// user name for everyone, but a guess spread over many addresses does.
func TestSignInLocksPerAddressAndUser(t *testing.T) {
	pair := model.AttemptPolicy{FreeFailures: 100, LockAfter: 3, LockFor: 15 * time.Minute, Window: time.Hour}
	user := model.AttemptPolicy{FreeFailures: 100, LockAfter: 7, LockFor: 15 * time.Minute, Window: time.Hour}
	p := newPortalWith(t, testenv.Options{Attempts: model.AttemptPolicies{Portal: pair, PortalUser: user}})
	const a, b = "192.0.2.10", "192.0.2.20"
	for range pair.LockAfter {
		p.signInFrom(a, "admin", "guess")
	}
	if got := p.signInFrom(a, "admin", testPassword); got.status != http.StatusTooManyRequests || !strings.Contains(got.body, "from your address") {
		t.Fatalf("fail/address A locked: status %d, want 429; body %s", got.status, got.body)
	}
	if got := p.signInFrom(b, "admin", testPassword); got.status != http.StatusSeeOther {
		t.Fatalf("ok/address B: status %d, want 303 (signed in); body %s", got.status, got.body)
	}
	// One wrong password from each of many addresses: the user name's own
	// count locks it from all of them.
	for i := 1; i <= user.LockAfter; i++ {
		got := p.signInFrom("198.51.100."+strconv.Itoa(i), "admin", "guess")
		if locked := strings.Contains(got.body, "it is locked for 15 minutes"); locked != (i == user.LockAfter) {
			t.Fatalf("spread guess %d: locked %v, want %v; body %s", i, locked, i == user.LockAfter, got.body)
		}
	}
	if got := p.signInFrom("203.0.113.1", "admin", testPassword); got.status != http.StatusTooManyRequests || !strings.Contains(got.body, "locked for 15 minutes") {
		t.Errorf("fail/user locked everywhere: status %d, want 429; body %s", got.status, got.body)
	}
	// A refusal by the user's lock is not counted against the address.
	if v, err := p.db.LookupAttempts(context.Background(), model.AttemptPortal, p.env.MasterKey.KeyedHash("attempts", "admin")+"|203.0.113.1"); err != nil || v.Count != 0 {
		t.Errorf("address count after a refusal by the user lock: %+v, %v; want 0", v, err)
	}
	p.clock.Add(user.LockFor)
	if got := p.signInFrom("203.0.113.1", "admin", testPassword); got.status != http.StatusSeeOther {
		t.Errorf("ok/lock over: status %d, want 303; body %s", got.status, got.body)
	}
}

// TestSignInConcurrentGuesses sends many wrong passwords at once for one
// user from one address: only LockAfter of them may have their password
// checked, however they interleave.
func TestSignInConcurrentGuesses(t *testing.T) {
	var compares atomic.Int32
	pol := model.AttemptPolicy{FreeFailures: 100, LockAfter: 10, LockFor: 15 * time.Minute, Window: time.Hour}
	passwords := handlers.NewPasswordChecker(handlers.PasswordCheckerConfig{Slots: 4, Wait: 10 * time.Second, Compare: func(hash, pw []byte) error {
		compares.Add(1)
		return bcrypt.CompareHashAndPassword(hash, pw)
	}})
	p := newPortalWith(t, testenv.Options{Attempts: model.AttemptPolicies{Portal: pol}, Passwords: passwords})
	b := p.browser()
	m := csrfRE.FindStringSubmatch(b.get("/signin").body)
	if m == nil {
		t.Fatal("no form token on /signin")
	}
	const n = 200
	var wrong, locked atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			form := url.Values{"username": {"admin"}, "password": {"guess-" + strconv.Itoa(i)}, "csrf": {m[1]}}
			req, _ := http.NewRequest(http.MethodPost, p.srv.URL+"/signin", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			res, err := b.client.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			res.Body.Close()
			switch res.StatusCode {
			case http.StatusUnprocessableEntity:
				wrong.Add(1)
			case http.StatusTooManyRequests:
				locked.Add(1)
			default:
				t.Errorf("status %d, want 422 or 429", res.StatusCode)
			}
		})
	}
	wg.Wait()
	if got := compares.Load(); got > int32(pol.LockAfter) {
		t.Errorf("%d passwords checked, want at most %d", got, pol.LockAfter)
	}
	if wrong.Load() != int32(pol.LockAfter) || locked.Load() != n-int32(pol.LockAfter) {
		t.Errorf("%d answered wrong, %d locked; want %d and %d", wrong.Load(), locked.Load(), pol.LockAfter, n-pol.LockAfter)
	}
	if got := p.signInFrom("127.0.0.1", "admin", testPassword); got.status != http.StatusTooManyRequests {
		t.Errorf("the right password after the guesses: status %d, want 429", got.status)
	}
}

// TestSignInBusy checks that a sign-in finding every password check slot
// taken is told to come back, and that the attempt does not count.
func TestSignInBusy(t *testing.T) {
	release := make(chan struct{})
	var started sync.WaitGroup
	started.Add(1)
	var once sync.Once
	passwords := handlers.NewPasswordChecker(handlers.PasswordCheckerConfig{Slots: 1, Wait: 10 * time.Millisecond, Compare: func(hash, pw []byte) error {
		once.Do(started.Done)
		<-release
		return bcrypt.CompareHashAndPassword(hash, pw)
	}})
	p := newPortalWith(t, testenv.Options{Passwords: passwords})
	done := make(chan page)
	go func() { done <- p.signInFrom("192.0.2.1", "admin", "slow-guess") }()
	started.Wait()
	got := p.signInFrom("192.0.2.2", "admin", testPassword)
	if got.status != http.StatusServiceUnavailable || !strings.Contains(got.body, "busy") || got.header.Get("Retry-After") == "" {
		t.Errorf("fail/busy: status %d, Retry-After %q; want 503 saying busy, with Retry-After; body %s", got.status, got.header.Get("Retry-After"), got.body)
	}
	close(release)
	<-done
	ctx := context.Background()
	name := p.env.MasterKey.KeyedHash("attempts", "admin")
	if v, _ := p.db.LookupAttempts(ctx, model.AttemptPortal, name+"|192.0.2.2"); v.Count != 0 {
		t.Errorf("the busy attempt counted %d, want 0", v.Count)
	}
	if v, _ := p.db.LookupAttempts(ctx, model.AttemptPortalUser, name); v.Count != 1 {
		t.Errorf("user name count %d, want 1 (the slow guess)", v.Count)
	}
}

// TestSignInUnknownNameNotStored checks that a name that is no user's,
// which may well be a password typed in the wrong field, is stored nowhere:
// not in the attempts, not in the audit log, not anywhere in the database
// files.
func TestSignInUnknownNameNotStored(t *testing.T) {
	p := newPortal(t)
	const typed = "Tr0ub4dor&3-typed-as-name"
	if got := p.signInFrom("192.0.2.1", typed, "whatever"); got.status != http.StatusUnprocessableEntity {
		t.Fatalf("status %d, want 422", got.status)
	}
	events, _, err := p.db.SearchAuditEvents(context.Background(), model.AuditFilter{Query: "user.signin.fail"}, 1, 10)
	if err != nil || len(events) != 1 {
		t.Fatalf("audit: %d events, %v; want the failure", len(events), err)
	}
	if e := events[0]; strings.Contains(e.Actor+e.Target+e.Detail, typed) || !strings.HasPrefix(e.Actor, "unknown user ") {
		t.Errorf("audit event %+v names the typed name, want only its keyed hash", e)
	}
	if v, _ := p.db.LookupAttempts(context.Background(), model.AttemptPortalUser, p.env.MasterKey.KeyedHash("attempts", typed)); v.Count != 1 {
		t.Errorf("attempts under the keyed hash: %d, want 1", v.Count)
	}
	// Known users still appear by name.
	p.signInFrom("192.0.2.1", "admin", "wrong")
	if events, _, _ := p.db.SearchAuditEvents(context.Background(), model.AuditFilter{Query: "admin"}, 1, 10); len(events) != 1 || events[0].Actor != "admin" {
		t.Errorf("audit for a known user: %+v, want one event by admin", events)
	}
	files, _ := filepath.Glob(p.env.DSN + "*")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(typed)) {
			t.Errorf("%s holds the typed name", filepath.Base(f))
		}
	}
	if len(files) == 0 {
		t.Errorf("no database files at %s", p.env.DSN)
	}
}
