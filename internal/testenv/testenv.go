// Package testenv is the one in-process scepgate stack for tests: a real
// SQLite file in a temporary folder, a master key, a CA and RA, the
// enrollment workflow, the admin operations and the Echo instance with
// every route, served by httptest. Each package's tests choose the seed
// (procedures, handlers, users) and the clock; everything else is built the
// way cmd/scepgate builds it.
package testenv

import (
	"context"
	"crypto/rand"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/scepgate/scepgate/admin"
	"github.com/scepgate/scepgate/enroll"
	"github.com/scepgate/scepgate/handlers"
	"github.com/scepgate/scepgate/internal/testclock"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki"
	"github.com/scepgate/scepgate/store"
	"github.com/scepgate/scepgate/web"
	"github.com/scepgate/scepgate/webhook"
	"golang.org/x/crypto/bcrypt"
)

// Options choose what differs between packages; zero values take the
// defaults.
type Options struct {
	// Start is where the clock starts (2026-05-01 12:00 UTC by default).
	Start time.Time
	// Authority is the CA and RA (by default a fresh one with a P-256 CA and
	// an RSA-2048 RA, made at Start).
	Authority *pki.Authority
	// Seed is the first configuration; nil seeds nothing.
	Seed *store.Seed
	// Logger receives the server's logs (discarded by default).
	Logger *slog.Logger
	// NDESLimits bound wrong NDES credentials (handlers.DefaultNDESLimits
	// by default).
	NDESLimits handlers.NDESLimits
	// Throttle bounds wrong portal sign-ins (model.DefaultThrottlePolicy by
	// default).
	Throttle model.ThrottlePolicy
	// DSN is the database (a SQLite file in a temporary folder by default).
	DSN string
	// Metrics counts what the handlers decide and serves /metrics.
	Metrics bool
	// WebhookHTTP calls the handlers' webhooks (such as the client of an
	// httptest.NewTLSServer).
	WebhookHTTP *http.Client
}

// Env is one running stack.
type Env struct {
	DB        *store.DB
	MasterKey *pki.MasterKey
	Clock     *testclock.Clock
	Authority *pki.Authority
	Enroll    *enroll.Service
	Admin     *admin.Service
	Echo      *echo.Echo
	Server    *httptest.Server
	Log       *slog.Logger
	Metrics   *web.Metrics // nil unless Options.Metrics
	API       *handlers.API
	Webhooks  *webhook.Client
}

// MasterSecret is the master key of every test environment.
const MasterSecret = "scepgate-test-master-key-0123456789"

// New builds and starts the stack; it is closed when the test ends.
func New(t testing.TB, o Options) *Env {
	t.Helper()
	ctx := context.Background()
	if o.Start.IsZero() {
		o.Start = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Throttle == (model.ThrottlePolicy{}) {
		o.Throttle = model.DefaultThrottlePolicy
	}
	if o.DSN == "" {
		o.DSN = filepath.Join(t.TempDir(), "scepgate.db")
	}
	clk := testclock.New(o.Start)
	db, err := store.Open(ctx, o.DSN, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	mk, err := pki.NewMasterKey(MasterSecret)
	if err != nil {
		t.Fatal(err)
	}
	a := o.Authority
	if a == nil {
		if a, err = pki.NewAuthority("p256", "scepgate test", clk.Now(), rand.Reader); err != nil {
			t.Fatal(err)
		}
	}
	caRow, raRow, err := pki.SealAuthority(a, mk)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.ReplaceAuthorities(ctx, caRow, raRow, nil); err != nil {
		t.Fatal(err)
	}
	a.ID = caRow.ID
	if o.Seed != nil {
		if err := db.ApplySeed(ctx, o.Seed); err != nil {
			t.Fatal(err)
		}
	}
	log := o.Logger
	hooks := &webhook.Client{MasterKey: mk, HTTP: o.WebhookHTTP, Now: clk.Now, Log: log}
	svc := enroll.NewService(db, mk, enroll.Options{Logger: log, Now: clk.Now, Hooks: hooks})
	ops := admin.New(db, svc, mk, admin.Options{Now: clk.Now, BcryptCost: bcrypt.MinCost})
	var m *web.Metrics
	var observer handlers.Observer = handlers.NopObserver{}
	if o.Metrics {
		m = web.NewMetrics(web.MetricsConfig{Snapshots: svc, CRLs: db, Now: clk.Now, Log: log})
		observer = m
	}
	api := &handlers.API{Admin: ops, Store: db, Service: svc, Limiter: handlers.NewTokenLimiter(o.NDESLimits), Now: clk.Now, Log: log, Observer: observer}
	e := web.New(web.Config{
		Log: log,
		Protocol: &handlers.Protocol{Snapshots: svc, SCEP: &handlers.SCEP{Service: svc, Log: log, Observer: observer},
			NDES: handlers.NewNDES(handlers.NDESConfig{Service: svc, Log: log, Now: clk.Now, Limits: o.NDESLimits, Observer: observer})},
		Publisher: &handlers.Publisher{Service: svc},
		Portal: web.NewPortal(web.PortalDeps{Store: db, Service: svc, Admin: ops, Now: clk.Now, Rand: rand.Reader,
			Log: log, Throttle: o.Throttle, Observer: observer}),
		Metrics: m, ServeMetrics: m != nil,
		Ready: &web.Readiness{DB: db, Snapshots: svc},
		API:   api,
	})
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return &Env{DB: db, MasterKey: mk, Clock: clk, Authority: a, Enroll: svc, Admin: ops, Echo: e, Server: srv, Log: log, Metrics: m, API: api, Webhooks: hooks}
}

// Hash returns a cheap bcrypt hash of password, for seeded users and NDES
// handlers.
func Hash(t testing.TB, password string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

// URL returns the server's URL for path.
func (e *Env) URL(path string) string { return e.Server.URL + "/" + strings.TrimLeft(path, "/") }
