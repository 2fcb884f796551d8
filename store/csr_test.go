package store_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/store"
	"github.com/smallstep/scep/x509util"
)

// testCSR returns a DER CSR for cn carrying challenge (none when empty).
func testCSR(t *testing.T, cn, challenge string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509util.CreateCertificateRequest(rand.Reader, &x509util.CertificateRequest{
		CertificateRequest: x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}, ChallengePassword: challenge}, key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// TestStoredCSRWithoutChallenge: the requests RecordIssue and MarkPending
// store have no challengePassword; one that is not PKCS#10 is refused.
func TestStoredCSRWithoutChallenge(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	db := openTestDB(t, &now)
	const challenge = "Stored-Challenge-4d2f1e"
	reg := &model.Registration{Kind: model.RegistrationNDES, State: model.StateOpen, ChallengeHash: "h", ExpiresAt: now.Add(time.Hour)}
	if err := db.CreateRegistration(ctx, reg); err != nil {
		t.Fatal(err)
	}
	if err := db.ApplySeed(ctx, testSeed()); err != nil {
		t.Fatal(err)
	}
	cfg, err := db.LoadConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.MarkPending(ctx, reg.ID, cfg.Handlers[0].ID, "t1", "k1", testCSR(t, "pending", challenge), nil); err != nil {
		t.Fatal(err)
	}
	cert := &model.Certificate{Serial: "a1", Subject: "CN=dev", NotBefore: now, NotAfter: now.Add(time.Hour), DER: []byte{0x30},
		CSR: testCSR(t, "dev", challenge), State: model.CertActive}
	if err := db.RecordIssue(ctx, store.Issue{Cert: cert}); err != nil {
		t.Fatal(err)
	}
	got, err := db.FindCertificate(ctx, cert.ID)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(got.CSR, []byte(challenge)) {
		t.Error("certificates.csr holds the challenge")
	}
	if csr, err := x509.ParseCertificateRequest(got.CSR); err != nil || csr.Subject.CommonName != "dev" {
		t.Errorf("stored CSR: %v; want the request for CN=dev", err)
	}
	if r, err := db.FindRegistration(ctx, reg.ID); err != nil || len(r.CSR) == 0 || bytes.Contains(r.CSR, []byte(challenge)) {
		t.Errorf("registrations.csr: %d bytes, %v; want the request without the challenge", len(r.CSR), err)
	}
	bad := &model.Certificate{Serial: "a2", Subject: "CN=dev", NotBefore: now, NotAfter: now.Add(time.Hour), DER: []byte{0x30},
		CSR: []byte("challengePassword=secret"), State: model.CertActive}
	if err := db.RecordIssue(ctx, store.Issue{Cert: bad}); model.ErrorCode(err) != model.EINVALID {
		t.Errorf("fail/not PKCS#10: RecordIssue = %v; want EINVALID", err)
	}
}

// TestOpenScrubsStoredCSRs: requests stored with their challenge (before
// they were stored without) lose it at the next Open, and keep the rest.
func TestOpenScrubsStoredCSRs(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	dsn := testDSN(t)
	db, err := store.Open(ctx, dsn, clock)
	if err != nil {
		t.Fatal(err)
	}
	const challenge = "Legacy-Challenge-9c41a0"
	var certIDs, regIDs []int64
	for i := range 3 {
		reg := &model.Registration{Kind: model.RegistrationNDES, State: model.StateOpen, ChallengeHash: "h" + string(rune('a'+i)), ExpiresAt: now.Add(time.Hour)}
		if err := db.CreateRegistration(ctx, reg); err != nil {
			t.Fatal(err)
		}
		if err := db.SetStoredCSR(ctx, "registrations", reg.ID, testCSR(t, "legacy", challenge)); err != nil {
			t.Fatal(err)
		}
		regIDs = append(regIDs, reg.ID)
		c := &model.Certificate{Serial: "b" + string(rune('0'+i)), Subject: "CN=legacy", NotBefore: now, NotAfter: now.Add(time.Hour), DER: []byte{0x30}, State: model.CertActive}
		if err := db.RecordIssue(ctx, store.Issue{Cert: c}); err != nil {
			t.Fatal(err)
		}
		if err := db.SetStoredCSR(ctx, "certificates", c.ID, testCSR(t, "legacy", challenge)); err != nil {
			t.Fatal(err)
		}
		certIDs = append(certIDs, c.ID)
	}
	// A row whose request cannot be read is left alone.
	if err := db.SetStoredCSR(ctx, "registrations", regIDs[2], []byte("not a request")); err != nil {
		t.Fatal(err)
	}
	if err := db.ForgetCSRScrub(ctx); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()

	db, err = store.Open(ctx, dsn, clock)
	if err != nil {
		t.Fatalf("Open with requests to scrub: %v", err)
	}
	defer db.Close()
	check := func(what string, csr []byte) {
		t.Helper()
		if bytes.Contains(csr, []byte(challenge)) {
			t.Errorf("%s still holds the challenge", what)
			return
		}
		if c, err := x509.ParseCertificateRequest(csr); err != nil || c.Subject.CommonName != "legacy" {
			t.Errorf("%s: %v; want the request for CN=legacy", what, err)
		}
	}
	for _, id := range certIDs {
		c, err := db.FindCertificate(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		check("certificate", c.CSR)
	}
	for _, id := range regIDs[:2] {
		r, err := db.FindRegistration(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		check("registration", r.CSR)
	}
	if r, err := db.FindRegistration(ctx, regIDs[2]); err != nil || string(r.CSR) != "not a request" {
		t.Errorf("unreadable request: %q, %v; want it unchanged", r.CSR, err)
	}
	if !strings.HasPrefix(dsn, "postgres") {
		// On SQLite the old values leave the files too.
		for _, file := range []string{dsn, dsn + "-wal"} {
			if b, err := os.ReadFile(file); err == nil && bytes.Contains(b, []byte(challenge)) {
				t.Errorf("%s still holds the challenge", file)
			}
		}
	}
}
