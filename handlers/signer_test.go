package handlers_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"testing"
	"time"

	"github.com/scepgate/scepgate/internal/sceptest"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki"
	"github.com/scepgate/scepgate/pki/cms"
	"github.com/smallstep/scep"
	"github.com/smallstep/scep/x509util"
)

// TestSignerKeyCannotBeEncryptedTo: a request signed with an EC key cannot
// be answered with certificates (a CertRep's content is encrypted to the
// signer's key by RSA key transport), so it is refused with FAILURE badAlg
// before anything is issued or consumed; the password still works from a
// device that can read the answer.
func TestSignerKeyCannotBeEncryptedTo(t *testing.T) {
	f := newFixture(t)
	const password = "ecdsa-signer-password"
	f.preRegister(password, "")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "ec device"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	build := func(mt scep.MessageType, content []byte) *pki.ClientMessage {
		t.Helper()
		m, err := pki.NewClientMessage(mt, content, pki.ClientParams{TransactionID: "ec-" + string(mt), RA: f.auth.RA,
			Cipher: cms.Algorithm{Cipher: cms.AES256CBC}, Signer: signer, Key: key})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	csr, err := x509util.CreateCertificateRequest(rand.Reader, &x509util.CertificateRequest{
		CertificateRequest: x509.CertificateRequest{Subject: pkix.Name{CommonName: "ec device"}}, ChallengePassword: password}, key)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		msg  *pki.ClientMessage
	}{
		{"fail/PKCSReq", build(scep.PKCSReq, csr)},
		{"fail/PKCSReq again", build(scep.PKCSReq, csr)},
		{"fail/GetCRL", build(scep.GetCRL, sceptest.IssuerAndSerial(f.auth.CA, big.NewInt(1)))},
		{"fail/GetCert", build(scep.GetCert, sceptest.IssuerAndSerial(f.auth.CA, big.NewInt(1)))},
		{"fail/CertPoll", build(scep.CertPoll, sceptest.IssuerAndSubject(f.auth.CA, pkix.Name{CommonName: "ec device"}))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := f.certCount()
			status, ctype, body := f.post("/pgwy/scep", tt.msg.Raw)
			if status != 200 || ctype != "application/x-pki-message" {
				t.Fatalf("status %d, Content-Type %q (%s); want 200 with a CertRep", status, ctype, body)
			}
			rep, err := pki.ParseCertRep(body, []*x509.Certificate{f.auth.RA})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Status != scep.FAILURE || rep.FailInfo != scep.BadAlg {
				t.Errorf("pkiStatus %s failInfo %q; want FAILURE badAlg", rep.Status, rep.FailInfo)
			}
			if err := rep.Check(tt.msg); err != nil {
				t.Errorf("CertRep does not answer the request: %v", err)
			}
			if got := f.certCount(); got != before {
				t.Errorf("certificates stored %d -> %d; want none", before, got)
			}
		})
	}
	regs, err := f.db.FindRegistrationsByChallenge(context.Background(), mustHash(t, password))
	if err != nil || len(regs) != 1 {
		t.Fatalf("registrations of the password: %d, %v; want 1", len(regs), err)
	}
	if regs[0].State != model.StateOpen || regs[0].UsedAt != nil {
		t.Errorf("registration after the refusals: state %s, used %v; want open and unused", regs[0].State, regs[0].UsedAt)
	}
	d := newDevice(t, "rsa device")
	if _, rep := f.exchange(d, "/pgwy/scep", sceptest.Request{Subject: pkix.Name{CommonName: "rsa device"}, Challenge: password}); rep.Status != scep.SUCCESS {
		t.Errorf("the same password from an RSA device: %s %q; want SUCCESS", rep.Status, rep.FailInfo)
	}
}
