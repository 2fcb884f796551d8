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
	"database/sql"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the pgx driver for database/sql, for PostgresDSN

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
	// Attempts bound wrong passwords at the portal's sign-in, NDES
	// credentials and SCEP challenges (zero policies take the defaults).
	Attempts model.AttemptPolicies
	// Passwords checks passwords for the portal and the NDES handlers (by
	// default a checker with the default slots).
	Passwords *handlers.PasswordChecker
	// DSN is the database (a SQLite file in a temporary folder by default).
	DSN string
	// Metrics counts what the handlers decide and serves /metrics.
	Metrics bool
	// Observer, when set, is told what the handlers decide (instead of the
	// metrics).
	Observer handlers.Observer
	// WebhookHTTP calls the handlers' webhooks (such as the client of an
	// httptest.NewTLSServer).
	WebhookHTTP *http.Client
}

// Env is one running stack.
type Env struct {
	DSN       string // the database
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

	opts Options // for Twin
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
	o.Attempts = o.Attempts.OrDefaults()
	if o.DSN == "" {
		o.DSN = filepath.Join(t.TempDir(), "scepgate.db")
	}
	clk := testclock.New(o.Start)
	db := open(t, o.DSN, clk)
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
	return start(t, o, db, mk, clk, a)
}

// Twin starts a second stack over e's database, as another instance behind
// the same load balancer: its own database handle, enrollment service,
// handlers, caches and server, with e's clock, master key, CA and options.
// It shares e's password checker only when the options named one.
func (e *Env) Twin(t testing.TB) *Env {
	t.Helper()
	return start(t, e.opts, open(t, e.DSN, e.Clock), e.MasterKey, e.Clock, e.Authority)
}

func open(t testing.TB, dsn string, clk *testclock.Clock) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), dsn, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// start builds the service, the admin operations and the Echo instance
// over db, and serves them.
func start(t testing.TB, o Options, db *store.DB, mk *pki.MasterKey, clk *testclock.Clock, a *pki.Authority) *Env {
	t.Helper()
	log := o.Logger
	passwords := o.Passwords
	if passwords == nil {
		passwords = handlers.NewPasswordChecker(handlers.PasswordCheckerConfig{})
	}
	hooks := &webhook.Client{MasterKey: mk, HTTP: o.WebhookHTTP, Now: clk.Now, Log: log}
	svc := enroll.NewService(db, mk, enroll.Options{Logger: log, Now: clk.Now, Attempts: o.Attempts.SCEP, Hooks: hooks})
	ops := admin.New(db, svc, mk, admin.Options{Now: clk.Now, BcryptCost: bcrypt.MinCost})
	var m *web.Metrics
	var observer handlers.Observer = handlers.NopObserver{}
	if o.Metrics {
		m = web.NewMetrics(web.MetricsConfig{Snapshots: svc, CRLs: db, Now: clk.Now, Log: log})
		observer = m
	}
	if o.Observer != nil {
		observer = o.Observer
	}
	api := &handlers.API{Admin: ops, Store: db, Service: svc, Limiter: &handlers.TokenLimiter{Store: db, Policy: o.Attempts.NDES}, Now: clk.Now, Log: log, Observer: observer}
	e := web.New(web.Config{
		Log: log,
		Protocol: &handlers.Protocol{Snapshots: svc, SCEP: &handlers.SCEP{Service: svc, Log: log, Observer: observer},
			NDES: handlers.NewNDES(handlers.NDESConfig{Service: svc, Attempts: db, Policy: o.Attempts.NDES, Passwords: passwords,
				Log: log, Now: clk.Now, Observer: observer})},
		Publisher: &handlers.Publisher{Service: svc},
		Portal: web.NewPortal(web.PortalDeps{Store: db, Service: svc, Admin: ops, Now: clk.Now, Rand: rand.Reader,
			Log: log, Attempts: o.Attempts, Passwords: passwords, Keys: mk, Observer: observer}),
		Metrics: m, ServeMetrics: m != nil,
		Ready: &web.Readiness{DB: db, Snapshots: svc},
		API:   api,
	})
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	return &Env{DSN: o.DSN, DB: db, MasterKey: mk, Clock: clk, Authority: a, Enroll: svc, Admin: ops, Echo: e, Server: srv,
		Log: log, Metrics: m, API: api, Webhooks: hooks, opts: o}
}

// PostgresDSN returns the URL of a new, empty PostgreSQL database, dropped
// when the test ends, on the server whose maintenance database
// SCEPGATE_TEST_POSTGRES names (scripts/test-postgres.sh prints one); it
// skips the test when that is not set.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	admin := os.Getenv("SCEPGATE_TEST_POSTGRES")
	if admin == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("SCEPGATE_TEST_POSTGRES is not set, and CI must run this test on PostgreSQL: make test sets it (scripts/test-postgres.sh)")
		}
		t.Skip("SCEPGATE_TEST_POSTGRES is not set; make test sets it, or run scripts/test-postgres.sh and set it to the URL it prints")
	}
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatalf("SCEPGATE_TEST_POSTGRES: %v", err)
	}
	conn, err := sql.Open("pgx", admin)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	name := fmt.Sprintf("scepgate_testenv_%d", time.Now().UnixNano())
	if _, err := conn.Exec("CREATE DATABASE " + name); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		if c, err := sql.Open("pgx", admin); err == nil {
			_, _ = c.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)")
			_ = c.Close()
		}
	})
	u.Path = "/" + name
	return u.String()
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
