package enroll_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"testing"
	"time"

	"github.com/scepgate/scepgate/enroll"
	"github.com/scepgate/scepgate/model"
)

// TestEnrollRefusesUnanswerableSigner: an enrollment whose signer's key a
// reply cannot be encrypted to is refused (BadAlg) before its password is
// consumed.
func TestEnrollRefusesUnanswerableSigner(t *testing.T) {
	f := newNDESFixture(t)
	ctx := context.Background()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ec"}, NotBefore: f.clock.Now(), NotAfter: f.clock.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	ch := f.issue(t, "ndeschallenge")
	h := f.handler(t, "ndesrequest")
	_, err = f.svc.Enroll(ctx, f.snap, &enroll.Enrollment{Handler: h, SignerCert: signer, CSR: ndesCSR(t, "ec"), Challenge: ch.Password, TransactionID: "tx-ec"})
	var refusal *enroll.Refusal
	if !errors.As(err, &refusal) || refusal.Code != enroll.BadAlg {
		t.Fatalf("fail/EC signer: Enroll = %v; want a BadAlg refusal", err)
	}
	reg, err := f.db.FindRegistration(ctx, ch.Registration.ID)
	if err != nil {
		t.Fatal(err)
	}
	if reg.State != model.StateOpen || reg.UsedAt != nil {
		t.Errorf("registration after the refusal: %s, used %v; want open", reg.State, reg.UsedAt)
	}
	if _, err := f.svc.Enroll(ctx, f.snap, &enroll.Enrollment{Handler: h, CSR: ndesCSR(t, "ec"), Challenge: ch.Password, TransactionID: "tx-ec"}); err != nil {
		t.Errorf("ok/then without that signer: %v; want a certificate", err)
	}
}
