package enroll_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scepgate/scepgate/admin"
	"github.com/scepgate/scepgate/internal/testenv"

	"github.com/scepgate/scepgate/internal/testclock"

	"github.com/scepgate/scepgate/enroll"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki"
	"github.com/scepgate/scepgate/store"
)

// ndesFixture is a service over a real SQLite file with a CA, the
// reference's NDES and pre-registration procedures, two challenge handlers
// and two NDES request handlers.
type ndesFixture struct {
	db    *store.DB
	mk    *pki.MasterKey
	svc   *enroll.Service
	admin *admin.Service
	clock *testclock.Clock
	snap  *enroll.Snapshot
	// transactions numbers the transaction IDs of enroll.
	transactions atomic.Int64
}

func newNDESFixture(t *testing.T) *ndesFixture {
	t.Helper()
	certProc := func(name string, f model.CertificateFormat) model.CertificateProcedure {
		return model.CertificateProcedure{Name: name, Format: f, KeyUsageMode: model.KeyUsageFromCSR,
			KeyUsages: "digitalSignature,keyEncipherment", ExtKeyUsages: "clientAuth", ValidityDays: 30, MinRSABits: 2048}
	}
	tokenProc := func(name, cert string) store.SeedTokenProcedure {
		return store.SeedTokenProcedure{TokenProcedure: model.TokenProcedure{Name: name, StorageProfile: model.StorageProfilePKCS10,
			IssuerCertificates: model.IssuerCertsStoreAll, InputView: model.InputViewSCEPRegistrations}, CertificateProcedures: []string{cert}}
	}
	challenge := func(name, validity string) store.SeedHandler {
		return store.SeedHandler{Handler: model.Handler{Name: name, Filter: name + "/", Format: model.HandlerNDES, Enabled: true,
			NDESUsername: "ndesadmin", NDESPasswordHash: "$2a$10$unused", NDESChallengeValidity: validity,
			NDESPasswordLength: model.DefaultNDESPasswordLength, NDESPasswordCap: model.DefaultNDESPasswordCap}}
	}
	request := func(name, tp string) store.SeedHandler {
		return store.SeedHandler{Handler: model.Handler{Name: name, Filter: name, Format: model.HandlerSCEP, Enabled: true}, TokenProcedure: tp}
	}
	seed := &store.Seed{
		CertificateProcedures: []model.CertificateProcedure{certProc("ndes cert", model.FormatNDESDynamic), certProc("pre cert", model.FormatSCEP)},
		TokenProcedures:       []store.SeedTokenProcedure{tokenProc("ndes token", "ndes cert"), tokenProc("pre token", "pre cert")},
		Handlers: []store.SeedHandler{
			challenge("ndeschallenge", "PT15M"), challenge("ndeschallenge2", "PT1H"),
			request("ndesrequest", "ndes token"), request("ndesrequest2", "ndes token"), request("scep", "pre token"),
		},
	}
	env := testenv.New(t, testenv.Options{Start: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC), Seed: seed})
	snap, err := env.Enroll.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return &ndesFixture{db: env.DB, mk: env.MasterKey, svc: env.Enroll, admin: env.Admin, clock: env.Clock, snap: snap}
}

func (f *ndesFixture) handler(t *testing.T, name string) *model.Handler {
	t.Helper()
	for i := range f.snap.Config.Handlers {
		if h := &f.snap.Config.Handlers[i]; h.Name == name {
			return h
		}
	}
	t.Fatalf("no handler %q", name)
	return nil
}

func (f *ndesFixture) issue(t *testing.T, handler string) *enroll.Challenge {
	t.Helper()
	ch, err := f.svc.IssueChallenge(context.Background(), f.snap, enroll.ChallengeRequest{Handler: f.handler(t, handler), RequestedBy: "ndesadmin", ClientAddr: "192.0.2.7"})
	if err != nil {
		t.Fatalf("IssueChallenge: %v", err)
	}
	return ch
}

var ndesCSRKey = sync.OnceValues(func() (*ecdsa.PrivateKey, error) { return ecdsa.GenerateKey(elliptic.P256(), rand.Reader) })

func ndesCSR(t *testing.T, cn string) *x509.CertificateRequest {
	t.Helper()
	key, err := ndesCSRKey()
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}, key)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	return csr
}

func (f *ndesFixture) enroll(t *testing.T, handler, password string) ([]*x509.Certificate, error) {
	t.Helper()
	// Each call is a new transaction: the same ID again would be a retry.
	n := f.transactions.Add(1)
	return f.svc.Enroll(context.Background(), f.snap, &enroll.Enrollment{Handler: f.handler(t, handler), CSR: ndesCSR(t, "device"),
		Challenge: password, TransactionID: fmt.Sprintf("tx-%s-%d", password, n), ClientAddr: "192.0.2.8"})
}

func TestIssueChallenge(t *testing.T) {
	f := newNDESFixture(t)
	ctx := context.Background()
	base := f.handler(t, "ndeschallenge")
	with := func(change func(h *model.Handler)) *model.Handler {
		h := *base
		change(&h)
		return &h
	}
	tests := []struct {
		name         string
		handler      *model.Handler
		wantValidity time.Duration
		wantPattern  string
		wantCode     string
		wantMsg      string
	}{
		{name: "ok/PT15M", handler: base, wantValidity: 15 * time.Minute, wantPattern: `^[0-9A-F]{16}$`},
		{name: "ok/PT1H", handler: with(func(h *model.Handler) { h.NDESChallengeValidity = "PT1H" }), wantValidity: time.Hour, wantPattern: `^[0-9A-F]{16}$`},
		{name: "ok/P1D", handler: with(func(h *model.Handler) { h.NDESChallengeValidity = "P1D" }), wantValidity: 24 * time.Hour, wantPattern: `^[0-9A-F]{16}$`},
		{name: "ok/default validity", handler: with(func(h *model.Handler) { h.NDESChallengeValidity = "" }), wantValidity: time.Hour, wantPattern: `^[0-9A-F]{16}$`},
		{name: "ok/length 9", handler: with(func(h *model.Handler) { h.NDESPasswordLength = 9 }), wantValidity: 15 * time.Minute, wantPattern: `^[0-9A-F]{9}$`},
		{name: "ok/length 32", handler: with(func(h *model.Handler) { h.NDESPasswordLength = 32 }), wantValidity: 15 * time.Minute, wantPattern: `^[0-9A-F]{32}$`},
		{name: "fail/malformed validity", handler: with(func(h *model.Handler) { h.NDESChallengeValidity = "15m" }), wantCode: model.EINVALID, wantMsg: `"15m"`},
		{name: "fail/length too short", handler: with(func(h *model.Handler) { h.NDESPasswordLength = 4 }), wantCode: model.EINVALID, wantMsg: "between 8 and 64"},
		{name: "fail/disabled", handler: with(func(h *model.Handler) { h.Enabled = false }), wantCode: model.EINVALID, wantMsg: "disabled"},
		{name: "fail/scep handler", handler: f.handler(t, "ndesrequest"), wantCode: model.EINVALID, wantMsg: "scep-ndes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f.clock.Add(time.Second)
			now := f.clock.Now()
			ch, err := f.svc.IssueChallenge(ctx, f.snap, enroll.ChallengeRequest{Handler: tt.handler, RequestedBy: "helpdesk1", ClientAddr: "192.0.2.9"})
			if code := model.ErrorCode(err); code != tt.wantCode {
				t.Fatalf("error code = %q (%v); want %q", code, err, tt.wantCode)
			}
			if tt.wantCode != "" {
				if !strings.Contains(model.ErrorMessage(err), tt.wantMsg) {
					t.Errorf("message = %q; want it to contain %q", model.ErrorMessage(err), tt.wantMsg)
				}
				return
			}
			if !regexp.MustCompile(tt.wantPattern).MatchString(ch.Password) {
				t.Errorf("password = %q; want it to match %s", ch.Password, tt.wantPattern)
			}
			if want := now.Add(tt.wantValidity); !ch.ExpiresAt.Equal(want) || ch.Validity != tt.wantValidity {
				t.Errorf("expires at %s, validity %s; want %s, %s", ch.ExpiresAt, ch.Validity, want, tt.wantValidity)
			}
			if want := pki.NDESThumbprint(f.snap.Authority.CA); ch.CAThumbprint != want {
				t.Errorf("thumbprint = %q; want %q", ch.CAThumbprint, want)
			}
			got, err := f.db.FindRegistration(ctx, ch.Registration.ID)
			if err != nil {
				t.Fatal(err)
			}
			want := model.Registration{Kind: model.RegistrationNDES, State: model.StateOpen, ChallengeHash: f.mk.ChallengeHash(ch.Password),
				RequestedBy: "helpdesk1", ClientAddr: "192.0.2.9", CreatedAt: now, ExpiresAt: now.Add(tt.wantValidity)}
			if got.Kind != want.Kind || got.State != want.State || got.ChallengeHash != want.ChallengeHash || got.RequestedBy != want.RequestedBy ||
				got.ClientAddr != want.ClientAddr || !got.CreatedAt.Equal(want.CreatedAt) || !got.ExpiresAt.Equal(want.ExpiresAt) ||
				got.HandlerID == nil || *got.HandlerID != tt.handler.ID {
				t.Errorf("stored registration = %+v; want %+v with handler %d", got, want, tt.handler.ID)
			}
			if strings.Contains(fmt.Sprintf("%+v", got), ch.Password) {
				t.Error("the clear-text password is stored; want only its keyed hash")
			}
		})
	}
}

func TestIssueChallengeCacheFull(t *testing.T) {
	f := newNDESFixture(t)
	ctx := context.Background()
	h := *f.handler(t, "ndeschallenge")
	h.NDESPasswordCap = 3
	issue := func() (*enroll.Challenge, error) {
		return f.svc.IssueChallenge(ctx, f.snap, enroll.ChallengeRequest{Handler: &h, RequestedBy: "mdm"})
	}
	var first *enroll.Challenge
	for i := range 3 {
		ch, err := issue()
		if err != nil {
			t.Fatalf("IssueChallenge %d: %v", i+1, err)
		}
		if i == 0 {
			first = ch
		}
	}
	if _, err := issue(); !errors.Is(err, enroll.ErrPasswordCacheFull) {
		t.Fatalf("4th IssueChallenge error = %v; want ErrPasswordCacheFull", err)
	}
	// Another handler has its own cap.
	f.issue(t, "ndeschallenge2")
	// Using a password makes room for one more.
	if _, err := f.enroll(t, "ndesrequest", first.Password); err != nil {
		t.Fatal(err)
	}
	if _, err := issue(); err != nil {
		t.Fatalf("IssueChallenge after one password was used: %v; want a new password", err)
	}
	if _, err := issue(); !errors.Is(err, enroll.ErrPasswordCacheFull) {
		t.Fatalf("IssueChallenge at the cap again: %v; want ErrPasswordCacheFull", err)
	}
	// So does expiry.
	f.clock.Add(15 * time.Minute)
	if _, err := issue(); err != nil {
		t.Errorf("IssueChallenge after the passwords expired: %v; want a new password", err)
	}
}

func TestEnrollWithNDESPassword(t *testing.T) {
	f := newNDESFixture(t)
	ctx := context.Background()
	pre, err := f.admin.AddPreRegistration(ctx, admin.Actor{Name: "admin"}, admin.PreRegistrationInput{TokenProcedure: "pre token", Password: "pre-secret-1", ValidFor: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	used := f.issue(t, "ndeschallenge")
	if _, err := f.enroll(t, "ndesrequest", used.Password); err != nil {
		t.Fatalf("first enrollment: %v", err)
	}
	expired := f.issue(t, "ndeschallenge")
	fromOther := f.issue(t, "ndeschallenge2") // valid for PT1H
	f.clock.Add(15 * time.Minute)

	tests := []struct {
		name       string
		handler    string
		password   string
		reg        *model.Registration // where the refusal is recorded
		wantReason string
	}{
		{name: "ok/password of another challenge handler at another request handler", handler: "ndesrequest2", password: fromOther.Password},
		{name: "fail/used", handler: "ndesrequest", password: used.Password, reg: used.Registration, wantReason: "already been used"},
		{name: "fail/expired", handler: "ndesrequest", password: expired.Password, reg: expired.Registration, wantReason: "expired"},
		{name: "fail/unknown", handler: "ndesrequest", password: "0123456789ABCDEF", wantReason: "not known"},
		{name: "fail/pre-registration password", handler: "ndesrequest", password: "pre-secret-1", reg: pre, wantReason: "pre-registration"},
		{name: "fail/NDES password at a pre-registration handler", handler: "scep", password: fromOther.Password, reg: fromOther.Registration, wantReason: "NDES request handler"},
		{name: "fail/no password", handler: "ndesrequest", password: "", wantReason: "no challenge"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			certs, err := f.enroll(t, tt.handler, tt.password)
			if tt.wantReason == "" {
				if err != nil {
					t.Fatalf("Enroll: %v; want a certificate", err)
				}
				if len(certs) < 2 {
					t.Errorf("got %d certificates; want the leaf and the CA", len(certs))
				}
				return
			}
			var refusal *enroll.Refusal
			if !errors.As(err, &refusal) || !strings.Contains(refusal.Reason, tt.wantReason) {
				t.Fatalf("Enroll error = %v; want a refusal containing %q", err, tt.wantReason)
			}
			if tt.reg == nil {
				return
			}
			got, err := f.db.FindRegistration(ctx, tt.reg.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.LastFailure != refusal.Reason {
				t.Errorf("registration's last failure = %q; want %q", got.LastFailure, refusal.Reason)
			}
		})
	}
	got, err := f.db.FindRegistration(ctx, used.Registration.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != model.StateUsed || got.CertificateID == nil {
		t.Errorf("used registration = state %q, certificate %v; want used with a certificate", got.State, got.CertificateID)
	}
}

// TestEnrollNDESPasswordRace sends 64 enrollments with one password at
// once: exactly one certificate comes out.
func TestEnrollNDESPasswordRace(t *testing.T) {
	f := newNDESFixture(t)
	ctx := context.Background()
	ch := f.issue(t, "ndeschallenge")
	h := f.handler(t, "ndesrequest")
	csr := ndesCSR(t, "racer")
	var wg sync.WaitGroup
	var mu sync.Mutex
	issued, refused := 0, 0
	for i := range 64 {
		wg.Go(func() {
			_, err := f.svc.Enroll(ctx, f.snap, &enroll.Enrollment{Handler: h, CSR: csr, Challenge: ch.Password, TransactionID: fmt.Sprintf("tx%d", i)})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				issued++
			case errors.As(err, new(*enroll.Refusal)):
				refused++
			default:
				t.Errorf("Enroll: %v", err)
			}
		})
	}
	wg.Wait()
	if issued != 1 || refused != 63 {
		t.Errorf("issued, refused = %d, %d; want 1, 63", issued, refused)
	}
	if _, n, err := f.db.SearchCertificates(ctx, model.CertificateFilter{}, 1, 1); err != nil || n != 1 {
		t.Errorf("certificates in the database = %d, %v; want 1", n, err)
	}
}

func TestRunExpirySweeper(t *testing.T) {
	f := newNDESFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	short := f.issue(t, "ndeschallenge") // PT15M
	long := f.issue(t, "ndeschallenge2") // PT1H
	f.clock.Add(15*time.Minute + time.Second)
	done := make(chan struct{})
	go func() {
		f.svc.RunExpirySweeper(ctx, 10*time.Millisecond)
		close(done)
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := f.db.FindRegistration(ctx, short.Registration.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State == model.StateExpired {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("registration state = %q after 10 s of sweeping; want %q", got.State, model.StateExpired)
		}
		time.Sleep(10 * time.Millisecond)
	}
	got, err := f.db.FindRegistration(ctx, long.Registration.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != model.StateOpen {
		t.Errorf("unexpired registration state = %q; want %q", got.State, model.StateOpen)
	}
	cancel()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Error("the sweeper did not stop when its context ended")
	}
}
