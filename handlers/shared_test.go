package handlers_test

import (
	"bytes"
	"crypto/x509/pkix"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/scepgate/scepgate/admin"
	"github.com/scepgate/scepgate/internal/sceptest"
	"github.com/scepgate/scepgate/internal/testenv"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/store"
	"github.com/smallstep/scep"
)

// TestAttemptsSharedByInstances runs two instances over one database, as
// behind a load balancer, on SQLite and (with SCEPGATE_TEST_POSTGRES) on
// PostgreSQL: wrong passwords sent to either count for both, so that a
// guesser cannot double its attempts by spreading them, and a restart
// forgets nothing.
func TestAttemptsSharedByInstances(t *testing.T) {
	for _, db := range []struct {
		name string
		dsn  func(t *testing.T) string
	}{
		{"sqlite", func(t *testing.T) string { return filepath.Join(t.TempDir(), "shared.db") }},
		{"postgres", func(t *testing.T) string { return testenv.PostgresDSN(t) }},
	} {
		t.Run(db.name, func(t *testing.T) {
			const ndesUser, ndesPassword = "ndesadmin", "ndes-password"
			cp := model.CertificateProcedure{Name: "pre-cert", Format: model.FormatSCEP, KeyUsageMode: model.KeyUsageFromCSR,
				KeyUsages: "digitalSignature,keyEncipherment", ExtKeyUsages: "clientAuth", ValidityDays: 30, MinRSABits: 2048}
			seed := &store.Seed{
				CertificateProcedures: []model.CertificateProcedure{cp},
				TokenProcedures: []store.SeedTokenProcedure{{TokenProcedure: model.TokenProcedure{Name: preToken, StorageProfile: model.StorageProfilePKCS10,
					IssuerCertificates: model.IssuerCertsStoreAll, InputView: 16}, CertificateProcedures: []string{"pre-cert"}}},
				Handlers: []store.SeedHandler{
					{Handler: model.Handler{Name: "scep", Format: model.HandlerSCEP, Enabled: true}, TokenProcedure: preToken},
					{Handler: model.Handler{Name: "ndeschallenge", Filter: "ndeschallenge/", Format: model.HandlerNDES, Enabled: true,
						NDESUsername: ndesUser, NDESPasswordHash: testenv.Hash(t, ndesPassword), NDESChallengeValidity: "PT15M",
						NDESPasswordLength: model.DefaultNDESPasswordLength, NDESPasswordCap: model.DefaultNDESPasswordCap}},
				},
			}
			fast := func(lockAfter int) model.AttemptPolicy {
				return model.AttemptPolicy{FreeFailures: 3, Delay: time.Millisecond, MaxDelay: 2 * time.Millisecond,
					LockAfter: lockAfter, LockFor: 5 * time.Minute, Window: 15 * time.Minute}
			}
			one := testenv.New(t, testenv.Options{DSN: db.dsn(t), Authority: testAuthority(t), Seed: seed,
				Attempts: model.AttemptPolicies{NDES: fast(10), SCEP: fast(6)}})
			two := one.Twin(t)
			envs := []*testenv.Env{one, two}

			const client = "192.0.2.99"
			ndes := func(e *testenv.Env, password string) int {
				t.Helper()
				req := httptest.NewRequest(http.MethodGet, "/pgwy/scep/ndeschallenge/", nil)
				req.RemoteAddr = client + ":40000"
				req.SetBasicAuth(ndesUser, password)
				rec := httptest.NewRecorder()
				e.Echo.ServeHTTP(rec, req)
				return rec.Code
			}
			for i := 1; i <= 10; i++ {
				want := http.StatusUnauthorized
				if i == 10 {
					want = http.StatusTooManyRequests
				}
				if got := ndes(envs[i%2], "wrong"); got != want {
					t.Fatalf("wrong NDES password %d at instance %d: status %d; want %d", i, i%2+1, got, want)
				}
			}
			for i, e := range envs {
				if got := ndes(e, ndesPassword); got != http.StatusTooManyRequests {
					t.Errorf("fail/ndes locked: the right password at instance %d got %d; want 429", i+1, got)
				}
			}
			if got := ndes(two, "wrong"); got != http.StatusTooManyRequests {
				t.Errorf("fail/ndes locked: status %d; want 429", got)
			}

			scepAt := func(e *testenv.Env, challenge string) scep.PKIStatus {
				t.Helper()
				d := newDevice(t, "shared")
				msg, err := d.Build(e.Authority.RA, sceptest.Request{Subject: pkix.Name{CommonName: "shared"}, Challenge: challenge})
				if err != nil {
					t.Fatal(err)
				}
				req := httptest.NewRequest(http.MethodPost, "/pgwy/scep?operation=PKIOperation", bytes.NewReader(msg.DER))
				req.RemoteAddr = client + ":40000"
				rec := httptest.NewRecorder()
				e.Echo.ServeHTTP(rec, req)
				rep, err := d.ReadCertRep(rec.Body.Bytes(), e.Authority.RA)
				if rec.Code != http.StatusOK || err != nil {
					t.Fatalf("status %d, %v; want 200 and a CertRep", rec.Code, err)
				}
				return rep.Status
			}
			if _, err := one.Admin.AddPreRegistration(t.Context(), admin.Actor{Name: "test"},
				admin.PreRegistrationInput{TokenProcedure: preToken, Password: "shared-right-password", ValidFor: time.Hour}); err != nil {
				t.Fatal(err)
			}
			for i := 1; i <= 6; i++ {
				if got := scepAt(envs[i%2], "shared-guess"); got != scep.FAILURE {
					t.Fatalf("wrong challenge %d: %s; want FAILURE", i, got)
				}
			}
			for i, e := range envs {
				if got := scepAt(e, "shared-right-password"); got != scep.FAILURE {
					t.Errorf("fail/scep locked: the right challenge at instance %d got %s; want FAILURE", i+1, got)
				}
			}

			// A third instance, started after all this, knows it too.
			three := one.Twin(t)
			if got := ndes(three, ndesPassword); got != http.StatusTooManyRequests {
				t.Errorf("fail/ndes locked at a new instance: status %d; want 429", got)
			}
			one.Clock.Add(5 * time.Minute)
			if got := ndes(three, ndesPassword); got != http.StatusOK {
				t.Errorf("ok/ndes lock over: status %d; want 200", got)
			}
			if got := scepAt(two, "shared-right-password"); got != scep.SUCCESS {
				t.Errorf("ok/scep lock over: %s; want SUCCESS", got)
			}
		})
	}
}
