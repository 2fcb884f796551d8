package web_test

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scepgate/scepgate/admin"
	"github.com/scepgate/scepgate/enroll"
	"github.com/scepgate/scepgate/handlers"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki"
	"github.com/scepgate/scepgate/store"
	"github.com/scepgate/scepgate/web"
	"golang.org/x/crypto/bcrypt"
)

const ndesTestPassword = "ndes-test-password"

// newGateway serves the whole gateway (SCEP, an NDES challenge handler
// "ndeschallenge/", the portal) over a real SQLite database, with cfg
// changed by configure; wrap wraps the handler (SCEPOverHTTP, say).
func newGateway(t *testing.T, configure func(*web.Config), wrap func(http.Handler) http.Handler) *httptest.Server {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "scepgate.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	mk, err := pki.NewMasterKey(strings.Repeat("k", 32))
	if err != nil {
		t.Fatal(err)
	}
	a, err := pki.NewAuthority("p256", "scepgate test", time.Now(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caRow, raRow, err := pki.SealAuthority(a, mk)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.ReplaceAuthorities(ctx, caRow, raRow, nil); err != nil {
		t.Fatal(err)
	}
	ndesHash, err := bcrypt.GenerateFromPassword([]byte(ndesTestPassword), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	seed := &store.Seed{
		CertificateProcedures: []model.CertificateProcedure{{Name: "Device", Format: model.FormatSCEP, KeyUsageMode: model.KeyUsageFromCSR,
			KeyUsages: "digitalSignature", ExtKeyUsages: "clientAuth", ValidityDays: 365, MinRSABits: 2048}},
		TokenProcedures: []store.SeedTokenProcedure{{TokenProcedure: model.TokenProcedure{Name: "Device enroll", StorageProfile: model.StorageProfilePKCS10,
			IssuerCertificates: model.IssuerCertsStoreAll, InputView: model.InputViewSCEPRegistrations}, CertificateProcedures: []string{"Device"}}},
		Handlers: []store.SeedHandler{
			{Handler: model.Handler{Name: "scep", Format: model.HandlerSCEP, Enabled: true}, TokenProcedure: "Device enroll"},
			{Handler: model.Handler{Name: "ndesrequest", Filter: "ndesrequest", Format: model.HandlerSCEP, Enabled: true}, TokenProcedure: "Device enroll"},
			{Handler: model.Handler{Name: "ndeschallenge", Filter: "ndeschallenge/", Format: model.HandlerNDES, Enabled: true,
				NDESUsername: "ndesadmin", NDESPasswordHash: string(ndesHash), NDESChallengeValidity: "PT15M",
				NDESPasswordLength: model.DefaultNDESPasswordLength, NDESPasswordCap: model.DefaultNDESPasswordCap}},
		},
		Users: []model.User{{Username: "admin", PasswordHash: string(ndesHash), Role: model.RoleAdmin}},
	}
	if err := db.ApplySeed(ctx, seed); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	svc := enroll.NewService(db, mk, enroll.Options{Logger: log})
	// Lock a client out at its 3rd wrong password, without slowing down.
	limits := model.AttemptPolicy{FreeFailures: 100, LockAfter: 3, LockFor: time.Hour, Window: time.Hour}
	cfg := web.Config{
		Log: log,
		Protocol: &handlers.Protocol{Snapshots: svc, SCEP: &handlers.SCEP{Service: svc, Log: log},
			NDES: handlers.NewNDES(handlers.NDESConfig{Service: svc, Log: log, Attempts: db, Policy: limits})},
		Publisher: &handlers.Publisher{Service: svc},
		Portal: web.NewPortal(web.PortalDeps{Store: db, Service: svc, Now: time.Now, Rand: rand.Reader, Log: log, Keys: mk,
			Admin: admin.New(db, svc, mk, admin.Options{BcryptCost: bcrypt.MinCost})}),
	}
	if configure != nil {
		configure(&cfg)
	}
	var h http.Handler = web.New(cfg)
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func cidr(t *testing.T, s string) *net.IPNet {
	t.Helper()
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// noRedirects is a client that shows redirects instead of following them.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func send(t *testing.T, method, url string, header map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := noRedirects.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// TestTrustedProxies: X-Forwarded-For and X-Forwarded-Proto count only
// when the request's peer (here 127.0.0.1) is a trusted proxy: lockouts
// then key on the forwarded client, and cookies are Secure behind a proxy
// that terminates TLS.
func TestTrustedProxies(t *testing.T) {
	tests := []struct {
		name    string
		trusted []string
		// want: the client the lockout keys on is the forwarded one, and
		// X-Forwarded-Proto: https makes the cookies Secure.
		want bool
	}{
		{"ok/peer-is-trusted", []string{"127.0.0.1/32"}, true},
		{"ok/peer-in-a-trusted-range-among-others", []string{"192.0.2.0/24", "127.0.0.0/8"}, true},
		{"fail/peer-not-trusted", []string{"192.0.2.0/24"}, false},
		{"fail/no-trusted-proxies", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newGateway(t, func(c *web.Config) {
				for _, s := range tt.trusted {
					c.TrustedProxies = append(c.TrustedProxies, cidr(t, s))
				}
			}, nil)
			challenge := srv.URL + "/pgwy/scep/ndeschallenge/"
			wrong := func(client string) int {
				req, _ := http.NewRequest(http.MethodGet, challenge, nil)
				req.SetBasicAuth("ndesadmin", "wrong")
				req.Header.Set("X-Forwarded-For", client)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			for i := range 3 {
				got := wrong("203.0.113.7")
				if want := map[bool]int{true: 429, false: 401}[i == 2]; got != want {
					t.Fatalf("wrong password %d from 203.0.113.7: status %d; want %d", i+1, got, want)
				}
			}
			// Another client behind the same proxy.
			got := wrong("203.0.113.8")
			want := http.StatusUnauthorized // not locked out: the lockout is 203.0.113.7's
			if !tt.want {
				want = http.StatusTooManyRequests // the lockout is the peer's, 127.0.0.1
			}
			if got != want {
				t.Errorf("wrong password from 203.0.113.8 after 203.0.113.7 was locked out: status %d; want %d", got, want)
			}

			resp := send(t, http.MethodGet, srv.URL+"/signin", map[string]string{"X-Forwarded-Proto": "https"})
			secure := strings.Contains(resp.Header.Get("Set-Cookie"), "; Secure")
			if secure != tt.want {
				t.Errorf("GET /signin with X-Forwarded-Proto: https: Set-Cookie %q; want Secure %v", resp.Header.Get("Set-Cookie"), tt.want)
			}
			if hsts := resp.Header.Get("Strict-Transport-Security") != ""; hsts != tt.want {
				t.Errorf("GET /signin with X-Forwarded-Proto: https: Strict-Transport-Security %q; want one %v", resp.Header.Get("Strict-Transport-Security"), tt.want)
			}
			if resp := send(t, http.MethodGet, srv.URL+"/signin", nil); strings.Contains(resp.Header.Get("Set-Cookie"), "Secure") {
				t.Errorf("GET /signin over plain HTTP without X-Forwarded-Proto: Set-Cookie %q; want no Secure", resp.Header.Get("Set-Cookie"))
			}
		})
	}
}

// TestSCEPOverHTTP: the plain-HTTP listener beside HTTPS serves SCEP and
// the CA certificates and CRLs, and redirects the rest, NDES challenge
// handlers included, to HTTPS.
func TestSCEPOverHTTP(t *testing.T) {
	srv := newGateway(t, func(c *web.Config) { c.HTTPS = web.HTTPSRedirect{Port: "8443"} }, web.SCEPOverHTTP)
	host := strings.TrimPrefix(srv.URL, "http://")
	hostOnly, _, _ := net.SplitHostPort(host)
	tests := []struct {
		name, method, path string
		wantStatus         int // 0: anything but a redirect
		wantLocation       string
	}{
		{"ok/GetCACaps", http.MethodGet, "/pgwy/scep?operation=GetCACaps", http.StatusOK, ""},
		{"ok/GetCACaps-pkiclient.exe", http.MethodGet, "/pgwy/scep/pkiclient.exe?operation=GetCACaps", http.StatusOK, ""},
		{"ok/GetCACert-of-a-handler", http.MethodGet, "/pgwy/scep/ndesrequest?operation=GetCACert", http.StatusOK, ""},
		{"ok/PKIOperation-POST", http.MethodPost, "/pgwy/scep?operation=PKIOperation", 0, ""},
		{"ok/mscep.dll", http.MethodGet, "/certsrv/mscep/mscep.dll/pkiclient.exe?operation=GetCACaps", http.StatusOK, ""},
		{"ok/crl", http.MethodGet, "/pgwy/ca/1/crl", 0, ""},
		{"ok/ca-cert", http.MethodGet, "/pgwy/ca/1/cert", 0, ""},
		{"ok/unknown-handler", http.MethodGet, "/pgwy/scep/nothing-here/x", 0, ""},
		{"redirect/portal", http.MethodGet, "/", http.StatusMovedPermanently, "https://" + hostOnly + ":8443/"},
		{"redirect/signin-with-query", http.MethodGet, "/signin?next=%2Fca", http.StatusMovedPermanently, "https://" + hostOnly + ":8443/signin?next=%2Fca"},
		{"redirect/signin-POST", http.MethodPost, "/signin", http.StatusPermanentRedirect, "https://" + hostOnly + ":8443/signin"},
		{"redirect/ndes-page", http.MethodGet, "/ndes", http.StatusMovedPermanently, "https://" + hostOnly + ":8443/ndes"},
		{"redirect/ndes-challenge-handler", http.MethodGet, "/pgwy/scep/ndeschallenge/", http.StatusMovedPermanently, "https://" + hostOnly + ":8443/pgwy/scep/ndeschallenge/"},
		{"redirect/ndes-challenge-without-scep", http.MethodGet, "/pgwy/ndeschallenge/", http.StatusMovedPermanently, "https://" + hostOnly + ":8443/pgwy/ndeschallenge/"},
		{"redirect/mscep_admin", http.MethodGet, "/certsrv/mscep_admin/", http.StatusMovedPermanently, "https://" + hostOnly + ":8443/certsrv/mscep_admin/"},
		{"redirect/static", http.MethodGet, "/static/app.css", http.StatusMovedPermanently, "https://" + hostOnly + ":8443/static/app.css"},
		{"redirect/healthz-HEAD", http.MethodHead, "/healthz", http.StatusMovedPermanently, "https://" + hostOnly + ":8443/healthz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := send(t, tt.method, srv.URL+tt.path, nil)
			isRedirect := resp.StatusCode >= 300 && resp.StatusCode < 400
			switch {
			case tt.wantStatus == 0 && isRedirect:
				t.Errorf("%s %s: status %d to %q; want it served, not redirected", tt.method, tt.path, resp.StatusCode, resp.Header.Get("Location"))
			case tt.wantStatus != 0 && resp.StatusCode != tt.wantStatus:
				t.Errorf("%s %s: status %d; want %d", tt.method, tt.path, resp.StatusCode, tt.wantStatus)
			}
			if got := resp.Header.Get("Location"); got != tt.wantLocation {
				t.Errorf("%s %s: Location %q; want %q", tt.method, tt.path, got, tt.wantLocation)
			}
			if c := resp.Header.Get("Set-Cookie"); c != "" {
				t.Errorf("%s %s: Set-Cookie %q over plain HTTP; want none", tt.method, tt.path, c)
			}
		})
	}

	// With a public HTTPS origin, redirects go there.
	srv = newGateway(t, func(c *web.Config) { c.HTTPS = web.HTTPSRedirect{Origin: "https://scep.example.com/"} }, web.SCEPOverHTTP)
	if resp := send(t, http.MethodGet, srv.URL+"/signin?next=%2F", nil); resp.Header.Get("Location") != "https://scep.example.com/signin?next=%2F" {
		t.Errorf("GET /signin: Location %q; want https://scep.example.com/signin?next=%%2F", resp.Header.Get("Location"))
	}
	// Without SCEPOverHTTP, the same server answers everything.
	srv = newGateway(t, nil, nil)
	if resp := send(t, http.MethodGet, srv.URL+"/signin", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /signin on the main listener: status %d; want 200", resp.StatusCode)
	}
}
