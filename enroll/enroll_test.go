package enroll_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/scepgate/scepgate/enroll"
	"github.com/scepgate/scepgate/model"
)

// TestEnrollRetry: a transaction seen before gets what its first attempt
// got, one at a time or many at once.
func TestEnrollRetry(t *testing.T) {
	f := newNDESFixture(t)
	ctx := context.Background()
	h := f.handler(t, "ndesrequest")
	csr := ndesCSR(t, "retry")
	send := func(transactionID, password string, csr *x509.CertificateRequest) ([]*x509.Certificate, error) {
		return f.svc.Enroll(ctx, f.snap, &enroll.Enrollment{Handler: h, CSR: csr, Challenge: password, TransactionID: transactionID})
	}
	first, err := send("tx-retry", f.issue(t, "ndeschallenge").Password, csr)
	if err != nil {
		t.Fatal(err)
	}

	t.Run("ok/same transaction, same key", func(t *testing.T) {
		certs, err := send("tx-retry", "", csr)
		if err != nil || !certs[0].Equal(first[0]) {
			t.Fatalf("retry = %v; want the first certificate again", err)
		}
	})
	t.Run("fail/same transaction, other key", func(t *testing.T) {
		_, err := send("tx-retry", f.issue(t, "ndeschallenge").Password, csrWithNewKey(t, "retry"))
		var refusal *enroll.Refusal
		if !errors.As(err, &refusal) || refusal.Code != enroll.BadRequest || !strings.Contains(refusal.Reason, "another key") {
			t.Fatalf("retry with another key = %v; want a badRequest refusal naming the other key", err)
		}
	})
	t.Run("ok/many attempts at once", func(t *testing.T) {
		password := f.issue(t, "ndeschallenge").Password
		csr := ndesCSR(t, "many")
		var wg sync.WaitGroup
		got := make([][]*x509.Certificate, 16)
		errs := make([]error, 16)
		for i := range got {
			wg.Go(func() { got[i], errs[i] = send("tx-many", password, csr) })
		}
		wg.Wait()
		for i := range got {
			if errs[i] != nil || !got[i][0].Equal(got[0][0]) {
				t.Fatalf("attempt %d: %v; want the one certificate of the transaction", i, errs[i])
			}
		}
	})
	t.Run("fail/poll for an unknown transaction", func(t *testing.T) {
		_, err := f.svc.CertPoll(ctx, f.snap, h, "tx-never")
		var refusal *enroll.Refusal
		if !errors.As(err, &refusal) || refusal.Code != enroll.BadCertID {
			t.Fatalf("CertPoll = %v; want a badCertId refusal", err)
		}
	})
	t.Run("ok/poll for an issued transaction", func(t *testing.T) {
		certs, err := f.svc.CertPoll(ctx, f.snap, h, "tx-retry")
		if err != nil || !certs[0].Equal(first[0]) {
			t.Fatalf("CertPoll = %v; want the transaction's certificate", err)
		}
	})
	if _, n, err := f.db.SearchCertificates(ctx, model.CertificateFilter{}, 1, 1); err != nil || n != 2 {
		t.Errorf("certificates = %d, %v; want 2, one per transaction", n, err)
	}
}

// csrWithNewKey returns a CSR for cn with a key of its own.
func csrWithNewKey(t *testing.T, cn string) *x509.CertificateRequest {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
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
