package handlers_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/scepgate/scepgate/handlers"
	"github.com/scepgate/scepgate/internal/testenv"

	"github.com/scepgate/scepgate/internal/testclock"

	"github.com/labstack/echo/v4"
	"github.com/scepgate/scepgate/enroll"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki"
	"github.com/scepgate/scepgate/store"
	"github.com/smallstep/scep"
	"github.com/smallstep/scep/x509util"
	"golang.org/x/crypto/bcrypt"
)

// The expressions MDMs scrape the NDES page with.
var (
	ndesFleetRegexp   = regexp.MustCompile(`(?i)The enrollment challenge password is: <B> (?P<password>\S*)`)
	ndesZentralRegexp = regexp.MustCompile(`challenge password is: <B> ([A-Z0-9]{16,32}) </B>`)
	ndesThumbRegexp   = regexp.MustCompile(`The thumbprint \(hash value\) for the CA certificate is: <B> ([0-9A-F]{8} [0-9A-F]{8} [0-9A-F]{8} [0-9A-F]{8}) </B>`)
)

// ndesEnv serves the SCEP and NDES routes of a real service over a real
// SQLite file.
type ndesEnv struct {
	db     *store.DB
	mk     *pki.MasterKey
	svc    *enroll.Service
	echo   *echo.Echo
	clock  *testclock.Clock
	logs   *ndesLogBuffer
	checks atomic.Int32 // bcrypt comparisons
}

type ndesLogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *ndesLogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *ndesLogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

const (
	ndesTestUser     = "ndesadmin"
	ndesTestPassword = "ndespassword"
)

func newNDESEnv(t *testing.T, policy model.AttemptPolicy) *ndesEnv {
	t.Helper()
	return newNDESEnvChecking(t, policy, handlers.PasswordCheckerConfig{})
}

// newNDESEnvChecking is newNDESEnv with the password checks of checks;
// its Compare (bcrypt by default) is counted in ndesEnv.checks.
func newNDESEnvChecking(t *testing.T, policy model.AttemptPolicy, checks handlers.PasswordCheckerConfig) *ndesEnv {
	t.Helper()
	return newNDESEnvWith(t, policy, checks, nil)
}

// newNDESEnvWith is newNDESEnvChecking that tells observer what the
// handlers decide.
func newNDESEnvWith(t *testing.T, policy model.AttemptPolicy, checks handlers.PasswordCheckerConfig, observer handlers.Observer) *ndesEnv {
	t.Helper()
	hash := func(pw string) string {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		return string(h)
	}
	challenge := func(name, user, pw string, cap int, bom bool) store.SeedHandler {
		return store.SeedHandler{Handler: model.Handler{Name: name, Filter: name + "/", Format: model.HandlerNDES, Enabled: true,
			NDESUsername: user, NDESPasswordHash: hash(pw), NDESChallengeValidity: "PT15M",
			NDESPasswordLength: model.DefaultNDESPasswordLength, NDESPasswordCap: cap, NDESByteOrderMark: bom}}
	}
	seed := &store.Seed{
		CertificateProcedures: []model.CertificateProcedure{{Name: "ndes cert", Format: model.FormatNDESDynamic, KeyUsageMode: model.KeyUsageFromCSR,
			KeyUsages: "digitalSignature,keyEncipherment", ExtKeyUsages: "clientAuth", ValidityDays: 30, MinRSABits: 2048}},
		TokenProcedures: []store.SeedTokenProcedure{{TokenProcedure: model.TokenProcedure{Name: "ndes token", StorageProfile: model.StorageProfilePKCS10,
			IssuerCertificates: model.IssuerCertsStoreAll, InputView: model.InputViewSCEPRegistrations}, CertificateProcedures: []string{"ndes cert"}}},
		Handlers: []store.SeedHandler{
			challenge("ndeschallenge", ndesTestUser, ndesTestPassword, model.DefaultNDESPasswordCap, false),
			challenge("ndeschallenge2", "other", "otherpassword", model.DefaultNDESPasswordCap, true),
			challenge("tiny", ndesTestUser, ndesTestPassword, 2, false),
			{Handler: model.Handler{Name: "ndesrequest", Filter: "ndesrequest", Format: model.HandlerSCEP, Enabled: true, AllowLegacyCiphers: true}, TokenProcedure: "ndes token"},
			{Handler: model.Handler{Name: "ndesrequest2", Filter: "ndesrequest2", Format: model.HandlerSCEP, Enabled: true, AllowLegacyCiphers: true}, TokenProcedure: "ndes token"},
		},
	}
	env := &ndesEnv{logs: &ndesLogBuffer{}}
	compare := checks.Compare
	if compare == nil {
		compare = bcrypt.CompareHashAndPassword
	}
	checks.Compare = func(hash, pw []byte) error {
		env.checks.Add(1)
		return compare(hash, pw)
	}
	te := testenv.New(t, testenv.Options{
		// One clock for the store, the service and the handlers, starting
		// now (the CA is made now), moved by the tests.
		Start:     time.Now().UTC().Truncate(time.Microsecond),
		Seed:      seed,
		Logger:    slog.New(slog.NewTextHandler(env.logs, nil)),
		Attempts:  model.AttemptPolicies{NDES: policy},
		Passwords: handlers.NewPasswordChecker(checks),
		Observer:  observer,
	})
	env.db, env.mk, env.svc, env.clock, env.echo = te.DB, te.MasterKey, te.Enroll, te.Clock, te.Echo
	return env
}

// ndesRequest describes one HTTP request to the test server.
type ndesRequest struct {
	method, path string
	user, pass   string // Basic credentials unless both are empty
	accept       string
	client       string // remote address, 192.0.2.1 by default
}

func (env *ndesEnv) do(t *testing.T, r ndesRequest) *httptest.ResponseRecorder {
	t.Helper()
	if r.method == "" {
		r.method = http.MethodGet
	}
	req := httptest.NewRequest(r.method, r.path, nil)
	if r.user != "" || r.pass != "" {
		req.SetBasicAuth(r.user, r.pass)
	}
	if r.accept != "" {
		req.Header.Set("Accept", r.accept)
	}
	req.RemoteAddr = "192.0.2.1:40000"
	if r.client != "" {
		req.RemoteAddr = r.client + ":40000"
	}
	rec := httptest.NewRecorder()
	env.echo.ServeHTTP(rec, req)
	return rec
}

// ndesDecodeUTF16LE decodes an NDES page, skipping a byte-order mark.
func ndesDecodeUTF16LE(t *testing.T, b []byte) string {
	t.Helper()
	b = bytes.TrimPrefix(b, []byte{0xFF, 0xFE})
	if len(b)%2 != 0 {
		t.Fatalf("body has %d bytes; want an even number for UTF-16", len(b))
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

func TestNDESChallengePage(t *testing.T) {
	env := newNDESEnv(t, model.DefaultNDESAttempts)
	rec := env.do(t, ndesRequest{path: "/pgwy/scep/ndeschallenge/", user: ndesTestUser, pass: ndesTestPassword, client: "198.51.100.4"})
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d; want 200 (body %q)", rec.Code, rec.Body.String())
	}
	if got := rec.Header().Get("Content-Type"); got != "text/html" {
		t.Errorf("Content-Type = %q; want exactly %q", got, "text/html")
	}
	if got := rec.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q; want no-store", got)
	}
	body := rec.Body.Bytes()
	if bytes.HasPrefix(body, []byte{0xFF, 0xFE}) {
		t.Error("body starts with a byte-order mark; want none by default")
	}
	if bytes.Contains(body, []byte("password")) {
		t.Error("body contains ASCII text; want UTF-16LE")
	}
	page := ndesDecodeUTF16LE(t, body)
	for _, want := range []string{"<HTML>", "<Head><Title>Network Device Enrollment Service</Title></Head>", "<Body", "</Body></HTML>",
		"This password can be used only once and will expire within 15 minutes."} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q:\n%s", want, page)
		}
	}
	m := ndesFleetRegexp.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("Fleet's expression finds no password in:\n%s", page)
	}
	password := m[ndesFleetRegexp.SubexpIndex("password")]
	if z := ndesZentralRegexp.FindStringSubmatch(page); z == nil || z[1] != password {
		t.Errorf("Zentral's expression finds %q; want %q", z, password)
	}
	if !regexp.MustCompile(`^[0-9A-F]{16}$`).MatchString(password) {
		t.Errorf("password = %q; want 16 upper-case hex characters", password)
	}
	if !strings.Contains(page, "<B> "+password+" </B> <P> This password can be used only once") {
		t.Errorf("page does not space the password as NDES does:\n%s", page)
	}
	snap, err := env.svc.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if tm := ndesThumbRegexp.FindStringSubmatch(page); tm == nil || tm[1] != pki.NDESThumbprint(snap.Authority.CA) {
		t.Errorf("thumbprint = %q; want %q", tm, pki.NDESThumbprint(snap.Authority.CA))
	}
	regs, err := env.db.FindRegistrationsByChallenge(context.Background(), env.mk.ChallengeHash(password))
	if err != nil || len(regs) != 1 {
		t.Fatalf("registrations for the password = %d, %v; want 1", len(regs), err)
	}
	if r := regs[0]; r.Kind != model.RegistrationNDES || r.State != model.StateOpen || r.RequestedBy != ndesTestUser || r.ClientAddr != "198.51.100.4" {
		t.Errorf("registration = %+v; want an open NDES registration requested by %s from 198.51.100.4", r, ndesTestUser)
	}
}

func TestNDESChallengeByteOrderMark(t *testing.T) {
	env := newNDESEnv(t, model.DefaultNDESAttempts)
	rec := env.do(t, ndesRequest{path: "/pgwy/scep/ndeschallenge2/", user: "other", pass: "otherpassword"})
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d; want 200", rec.Code)
	}
	if got := rec.Body.Bytes()[:2]; !bytes.Equal(got, []byte{0xFF, 0xFE}) {
		t.Errorf("first bytes = % x; want the UTF-16LE byte-order mark ff fe", got)
	}
	if page := ndesDecodeUTF16LE(t, rec.Body.Bytes()); ndesZentralRegexp.FindString(page) == "" {
		t.Errorf("no password in:\n%s", page)
	}
}

func TestNDESChallengeJSON(t *testing.T) {
	env := newNDESEnv(t, model.DefaultNDESAttempts)
	rec := env.do(t, ndesRequest{path: "/pgwy/scep/ndeschallenge/", user: ndesTestUser, pass: ndesTestPassword, accept: "application/json"})
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d; want 200", rec.Code)
	}
	var got struct {
		Challenge    string    `json:"challenge"`
		ExpiresAt    time.Time `json:"expires_at"`
		CAThumbprint string    `json:"ca_thumbprint"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &got); err != nil {
		t.Fatalf("body %q is not JSON: %v", rec.Body.String(), err)
	}
	if !regexp.MustCompile(`^[0-9A-F]{16}$`).MatchString(got.Challenge) {
		t.Errorf("challenge = %q; want 16 upper-case hex characters", got.Challenge)
	}
	if want := env.clock.Now().Add(15 * time.Minute); !got.ExpiresAt.Equal(want) {
		t.Errorf("expires_at = %s; want %s", got.ExpiresAt, want)
	}
	if !regexp.MustCompile(`^[0-9A-F]{8}( [0-9A-F]{8}){3}$`).MatchString(got.CAThumbprint) {
		t.Errorf("ca_thumbprint = %q; want four groups of eight hex digits", got.CAThumbprint)
	}
}

func TestNDESChallengeCredentials(t *testing.T) {
	env := newNDESEnv(t, model.AttemptPolicy{FreeFailures: 100, LockAfter: 100, LockFor: time.Minute, Window: time.Minute})
	tests := []struct {
		name       string
		req        ndesRequest
		wantStatus int
	}{
		{"ok/right credentials", ndesRequest{user: ndesTestUser, pass: ndesTestPassword}, http.StatusOK},
		{"fail/no credentials", ndesRequest{}, http.StatusUnauthorized},
		{"fail/wrong password", ndesRequest{user: ndesTestUser, pass: "wrong-password"}, http.StatusUnauthorized},
		{"fail/wrong user", ndesRequest{user: "admin", pass: ndesTestPassword}, http.StatusUnauthorized},
		{"fail/another handler's credentials", ndesRequest{user: "other", pass: "otherpassword"}, http.StatusUnauthorized},
		{"fail/json client", ndesRequest{user: ndesTestUser, pass: "nope", accept: "application/json"}, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.path = "/pgwy/scep/ndeschallenge/"
			rec := env.do(t, tt.req)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d; want %d", rec.Code, tt.wantStatus)
			}
			if tt.wantStatus != http.StatusUnauthorized {
				return
			}
			if got, want := rec.Header().Get("WWW-Authenticate"), `Basic realm="Network Device Enrollment Service"`; got != want {
				t.Errorf("WWW-Authenticate = %q; want %q", got, want)
			}
			if strings.Contains(rec.Body.String(), "challenge password is") {
				t.Errorf("a refused request got a password: %q", rec.Body.String())
			}
		})
	}
	if !strings.Contains(env.logs.String(), "ndes credentials refused") {
		t.Error("failed sign-ins are not logged")
	}
}

func TestNDESChallengeMethod(t *testing.T) {
	env := newNDESEnv(t, model.DefaultNDESAttempts)
	rec := env.do(t, ndesRequest{method: http.MethodPost, path: "/pgwy/scep/ndeschallenge/", user: ndesTestUser, pass: ndesTestPassword})
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != http.MethodGet {
		t.Errorf("POST: status %d, Allow %q; want 405, GET", rec.Code, rec.Header().Get("Allow"))
	}
}

// TestNDESChallengeAuthCache checks that repeated sign-ins cost one bcrypt
// comparison, and that a changed password is checked afresh.
func TestNDESChallengeAuthCache(t *testing.T) {
	env := newNDESEnv(t, model.DefaultNDESAttempts)
	for range 5 {
		if rec := env.do(t, ndesRequest{path: "/pgwy/scep/ndeschallenge/", user: ndesTestUser, pass: ndesTestPassword}); rec.Code != http.StatusOK {
			t.Fatalf("status = %d; want 200", rec.Code)
		}
	}
	if got := env.checks.Load(); got != 1 {
		t.Errorf("bcrypt comparisons for 5 sign-ins = %d; want 1", got)
	}
	// A new password for the handler: the old one no longer works.
	ctx := context.Background()
	cfg, err := env.db.LoadConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range cfg.Handlers {
		if h.Name != "ndeschallenge" {
			continue
		}
		hash, _ := bcrypt.GenerateFromPassword([]byte("a-new-password"), bcrypt.MinCost)
		h.NDESPasswordHash = string(hash)
		if err := env.db.SaveHandlers(ctx, []model.Handler{h}, nil); err != nil {
			t.Fatal(err)
		}
	}
	env.svc.ConfigChanged()
	if rec := env.do(t, ndesRequest{path: "/pgwy/scep/ndeschallenge/", user: ndesTestUser, pass: ndesTestPassword}); rec.Code != http.StatusUnauthorized {
		t.Errorf("old password after the change: status %d; want 401", rec.Code)
	}
	if rec := env.do(t, ndesRequest{path: "/pgwy/scep/ndeschallenge/", user: ndesTestUser, pass: "a-new-password"}); rec.Code != http.StatusOK {
		t.Errorf("new password: status %d; want 200", rec.Code)
	}
}

func TestNDESChallengeLockout(t *testing.T) {
	limits := model.AttemptPolicy{FreeFailures: 1, Delay: 20 * time.Millisecond, MaxDelay: 50 * time.Millisecond, LockAfter: 5, LockFor: 5 * time.Minute, Window: 10 * time.Minute}
	env := newNDESEnv(t, limits)
	bad := ndesRequest{path: "/pgwy/scep/ndeschallenge/", user: ndesTestUser, pass: "guess", client: "203.0.113.9"}
	// Requests without credentials ask for the challenge; they do not count.
	for range 2 * limits.LockAfter {
		if rec := env.do(t, ndesRequest{path: bad.path, client: bad.client}); rec.Code != http.StatusUnauthorized {
			t.Fatalf("no credentials: status %d; want 401", rec.Code)
		}
	}
	for i := 1; i < limits.LockAfter; i++ {
		start := time.Now()
		rec := env.do(t, bad)
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("failure %d: status %d; want 401", i, rec.Code)
		}
		if i > limits.FreeFailures {
			want := min(time.Duration(i-limits.FreeFailures)*limits.Delay, limits.MaxDelay)
			if got := time.Since(start); got < want {
				t.Errorf("failure %d answered after %s; want at least %s", i, got, want)
			}
		}
	}
	rec := env.do(t, bad)
	if rec.Code != http.StatusTooManyRequests {
		t.Fatalf("failure %d: status %d; want 429", limits.LockAfter, rec.Code)
	}
	if got := rec.Header().Get("Retry-After"); got != "300" {
		t.Errorf("Retry-After = %q; want 300", got)
	}
	good := bad
	good.pass = ndesTestPassword
	env.clock.Add(time.Minute)
	rec = env.do(t, good)
	if rec.Code != http.StatusTooManyRequests {
		t.Errorf("right credentials while locked out: status %d; want 429", rec.Code)
	}
	if got := rec.Header().Get("Retry-After"); got != "240" {
		t.Errorf("Retry-After a minute later = %q; want 240", got)
	}
	other := good
	other.client = "203.0.113.10"
	if rec := env.do(t, other); rec.Code != http.StatusOK {
		t.Errorf("another client address: status %d; want 200", rec.Code)
	}
	env.clock.Add(4 * time.Minute)
	if rec := env.do(t, good); rec.Code != http.StatusOK {
		t.Errorf("after the lock ends: status %d; want 200", rec.Code)
	}
	if !strings.Contains(env.logs.String(), "locked out") {
		t.Error("the lockout is not logged")
	}
}

func TestNDESChallengeCacheFull(t *testing.T) {
	env := newNDESEnv(t, model.DefaultNDESAttempts)
	req := ndesRequest{path: "/pgwy/scep/tiny/", user: ndesTestUser, pass: ndesTestPassword}
	for i := range 2 {
		if rec := env.do(t, req); rec.Code != http.StatusOK {
			t.Fatalf("password %d: status %d; want 200", i+1, rec.Code)
		}
	}
	t.Run("ok/html as NDES says it", func(t *testing.T) {
		rec := env.do(t, req)
		if rec.Code != http.StatusOK || rec.Header().Get("Content-Type") != "text/html" {
			t.Fatalf("status %d, Content-Type %q; want 200, text/html", rec.Code, rec.Header().Get("Content-Type"))
		}
		page := ndesDecodeUTF16LE(t, rec.Body.Bytes())
		if !strings.Contains(page, "The password cache is full.") {
			t.Errorf("page lacks %q:\n%s", "The password cache is full.", page)
		}
		if ndesFleetRegexp.MatchString(page) {
			t.Errorf("page offers a password:\n%s", page)
		}
	})
	t.Run("ok/json error", func(t *testing.T) {
		json := req
		json.accept = "application/json"
		rec := env.do(t, json)
		if rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("status = %d; want 503", rec.Code)
		}
		if !strings.Contains(rec.Body.String(), `"error":"The password cache is full."`) {
			t.Errorf("body = %q; want the error %q", rec.Body.String(), "The password cache is full.")
		}
	})
	t.Run("ok/other handlers are not affected", func(t *testing.T) {
		if rec := env.do(t, ndesRequest{path: "/pgwy/scep/ndeschallenge/", user: ndesTestUser, pass: ndesTestPassword}); rec.Code != http.StatusOK {
			t.Errorf("status = %d; want 200", rec.Code)
		}
	})
}

func TestNDESAliases(t *testing.T) {
	env := newNDESEnv(t, model.DefaultNDESAttempts)
	tests := []struct {
		name       string
		req        ndesRequest
		wantStatus int
		wantType   string
	}{
		{"ok/mscep_admin", ndesRequest{path: "/certsrv/mscep_admin/", user: ndesTestUser, pass: ndesTestPassword}, http.StatusOK, "text/html"},
		{"ok/mscep_admin without the slash", ndesRequest{path: "/certsrv/mscep_admin", user: ndesTestUser, pass: ndesTestPassword}, http.StatusOK, "text/html"},
		{"fail/mscep_admin without credentials", ndesRequest{path: "/certsrv/mscep_admin/"}, http.StatusUnauthorized, ""},
		{"ok/mscep.dll GetCACaps", ndesRequest{path: "/certsrv/mscep/mscep.dll?operation=GetCACaps"}, http.StatusOK, "text/plain"},
		{"ok/mscep.dll/pkiclient.exe GetCACert", ndesRequest{path: "/certsrv/mscep/mscep.dll/pkiclient.exe?operation=GetCACert"}, http.StatusOK, "application/x-x509-ca-ra-cert"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := env.do(t, tt.req)
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d; want %d (body %q)", rec.Code, tt.wantStatus, rec.Body.String())
			}
			if tt.wantType != "" && rec.Header().Get("Content-Type") != tt.wantType {
				t.Errorf("Content-Type = %q; want %q", rec.Header().Get("Content-Type"), tt.wantType)
			}
		})
	}

	t.Run("ok/remapped", func(t *testing.T) {
		if err := env.db.SetAliases(context.Background(), model.Aliases{MSCEPAdmin: "ndeschallenge2", MSCEP: "ndesrequest2"}, nil); err != nil {
			t.Fatal(err)
		}
		env.svc.ConfigChanged() // as the admin operations do after a change
		if rec := env.do(t, ndesRequest{path: "/certsrv/mscep_admin/", user: ndesTestUser, pass: ndesTestPassword}); rec.Code != http.StatusUnauthorized {
			t.Errorf("old handler's credentials: status %d; want 401", rec.Code)
		}
		if rec := env.do(t, ndesRequest{path: "/certsrv/mscep_admin/", user: "other", pass: "otherpassword"}); rec.Code != http.StatusOK {
			t.Errorf("new handler's credentials: status %d; want 200", rec.Code)
		}
	})
	t.Run("fail/alias to a disabled handler", func(t *testing.T) {
		ctx := context.Background()
		cfg, err := env.db.LoadConfig(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range cfg.Handlers {
			if h.Name == "ndesrequest2" {
				h.Enabled = false
				if err := env.db.SaveHandlers(ctx, []model.Handler{h}, nil); err != nil {
					t.Fatal(err)
				}
			}
		}
		env.svc.ConfigChanged()
		rec := env.do(t, ndesRequest{path: "/certsrv/mscep/mscep.dll?operation=GetCACaps"})
		if rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "scepgate handlers alias --mscep") {
			t.Errorf("status %d, body %q; want 404 saying how to map a handler", rec.Code, rec.Body.String())
		}
	})
}

// TestNDESEnrollRaceOverHTTP fetches one password and sends 64 SCEP
// enrollments with it at once: exactly one gets a certificate.
func TestNDESEnrollRaceOverHTTP(t *testing.T) {
	env := newNDESEnv(t, model.DefaultNDESAttempts)
	srv := httptest.NewServer(env.echo)
	defer srv.Close()
	page := env.do(t, ndesRequest{path: "/pgwy/scep/ndeschallenge/", user: ndesTestUser, pass: ndesTestPassword})
	m := ndesFleetRegexp.FindStringSubmatch(ndesDecodeUTF16LE(t, page.Body.Bytes()))
	if m == nil {
		t.Fatal("no password on the challenge page")
	}
	password := m[1]

	resp, err := http.Get(srv.URL + "/pgwy/scep/ndesrequest?operation=GetCACert")
	if err != nil {
		t.Fatal(err)
	}
	der, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	caCerts, err := scep.CACerts(der)
	if err != nil {
		t.Fatal(err)
	}
	var ra []*x509.Certificate
	for _, c := range caCerts {
		if !c.IsCA {
			ra = append(ra, c)
		}
	}
	// 64 devices, each with its own key (and so its own transaction), race
	// with the one password.
	type racer struct {
		key    *rsa.PrivateKey
		signer *x509.Certificate
		csr    *x509.CertificateRequest
	}
	racers := make([]racer, 64)
	for i := range racers {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		self := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "racer"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
		selfDER, err := x509.CreateCertificate(rand.Reader, self, self, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		signer, _ := x509.ParseCertificate(selfDER)
		csrDER, err := x509util.CreateCertificateRequest(rand.Reader, &x509util.CertificateRequest{
			CertificateRequest: x509.CertificateRequest{Subject: pkix.Name{CommonName: "racer"}}, ChallengePassword: password}, key)
		if err != nil {
			t.Fatal(err)
		}
		csr, err := x509.ParseCertificateRequest(csrDER)
		if err != nil {
			t.Fatal(err)
		}
		racers[i] = racer{key, signer, csr}
	}

	var wg sync.WaitGroup
	var mu sync.Mutex
	status := map[scep.PKIStatus]int{}
	for _, r := range racers {
		wg.Go(func() {
			msg, err := scep.NewCSRRequest(r.csr, &scep.PKIMessage{MessageType: scep.PKCSReq, Recipients: ra, SignerKey: r.key, SignerCert: r.signer})
			if err != nil {
				t.Error(err)
				return
			}
			resp, err := http.Post(srv.URL+"/pgwy/scep/ndesrequest?operation=PKIOperation", "application/x-pki-message", bytes.NewReader(msg.Raw))
			if err != nil {
				t.Error(err)
				return
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("status = %d (%q); want 200", resp.StatusCode, body)
				return
			}
			rep, err := scep.ParsePKIMessage(body, scep.WithCACerts(caCerts))
			if err != nil || rep.CertRepMessage == nil {
				t.Errorf("CertRep: %v", err)
				return
			}
			mu.Lock()
			status[rep.PKIStatus]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if status[scep.SUCCESS] != 1 || status[scep.FAILURE] != 63 {
		t.Errorf("CertRep statuses = %v; want 1 SUCCESS and 63 FAILURE", status)
	}
	if _, n, err := env.db.SearchCertificates(context.Background(), model.CertificateFilter{}, 1, 1); err != nil || n != 1 {
		t.Errorf("certificates = %d, %v; want 1", n, err)
	}
	regs, _ := env.db.FindRegistrationsByChallenge(context.Background(), env.mk.ChallengeHash(password))
	if len(regs) != 1 || regs[0].State != model.StateUsed || regs[0].CertificateID == nil {
		t.Errorf("registration = %+v; want one, used, with its certificate", regs)
	}
}

// TestNDESWrongCredentialsBoundBcrypt sends wrong credentials from many
// clients at once: no more bcrypt comparisons run at a time than the
// password checker has slots, and those finding no slot are told to come
// back (503 with Retry-After) without their attempt counting.
func TestNDESWrongCredentialsBoundBcrypt(t *testing.T) {
	var running, most atomic.Int32
	slow := func(hash, pw []byte) error {
		n := running.Add(1)
		defer running.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		time.Sleep(50 * time.Millisecond) // what bcrypt costs
		return bcrypt.CompareHashAndPassword(hash, pw)
	}
	const slots, clients = 2, 16
	env := newNDESEnvChecking(t, model.DefaultNDESAttempts, handlers.PasswordCheckerConfig{Slots: slots, Wait: 10 * time.Millisecond, Compare: slow})
	var wg sync.WaitGroup
	var unauthorized, busy atomic.Int32
	for i := range clients {
		wg.Go(func() {
			client := fmt.Sprintf("198.51.100.%d", i+1)
			rec := env.do(t, ndesRequest{path: "/pgwy/scep/ndeschallenge/", user: ndesTestUser, pass: "wrong", client: client})
			switch rec.Code {
			case http.StatusUnauthorized:
				unauthorized.Add(1)
			case http.StatusServiceUnavailable:
				busy.Add(1)
				if rec.Header().Get("Retry-After") == "" {
					t.Errorf("503 without Retry-After")
				}
				if v, err := env.db.LookupAttempts(context.Background(), model.AttemptNDES, client); err != nil || v.Count != 0 {
					t.Errorf("%s was busy, yet its attempt counts %d (%v), want 0", client, v.Count, err)
				}
			default:
				t.Errorf("status %d; want 401 or 503", rec.Code)
			}
		})
	}
	wg.Wait()
	if got := most.Load(); got > slots {
		t.Errorf("%d bcrypt comparisons at once; want at most %d", got, slots)
	}
	if busy.Load() == 0 || unauthorized.Load() == 0 || busy.Load()+unauthorized.Load() != clients {
		t.Errorf("%d answered 401, %d 503; want both, %d in all", unauthorized.Load(), busy.Load(), clients)
	}
	// Once the burst is over, the right credentials work.
	if rec := env.do(t, ndesRequest{path: "/pgwy/scep/ndeschallenge/", user: ndesTestUser, pass: ndesTestPassword}); rec.Code != http.StatusOK {
		t.Errorf("right credentials after the burst: status %d; want 200", rec.Code)
	}
}

// TestNDESConcurrentGuesses sends many wrong passwords at once from one
// address: only LockAfter of them get checked.
func TestNDESConcurrentGuesses(t *testing.T) {
	policy := model.AttemptPolicy{FreeFailures: 100, LockAfter: 10, LockFor: 5 * time.Minute, Window: 15 * time.Minute}
	env := newNDESEnvChecking(t, policy, handlers.PasswordCheckerConfig{Slots: 4, Wait: 10 * time.Second})
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			env.do(t, ndesRequest{path: "/pgwy/scep/ndeschallenge/", user: ndesTestUser, pass: fmt.Sprintf("guess-%d", i), client: "203.0.113.50"})
		})
	}
	wg.Wait()
	if got := env.checks.Load(); got > int32(policy.LockAfter) {
		t.Errorf("%d passwords checked; want at most %d", got, policy.LockAfter)
	}
	if rec := env.do(t, ndesRequest{path: "/pgwy/scep/ndeschallenge/", user: ndesTestUser, pass: ndesTestPassword, client: "203.0.113.50"}); rec.Code != http.StatusTooManyRequests {
		t.Errorf("right credentials after the guesses: status %d; want 429", rec.Code)
	}
}
