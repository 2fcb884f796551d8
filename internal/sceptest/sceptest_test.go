package sceptest

import (
	"bytes"
	"crypto/rand"
	"crypto/x509/pkix"
	"strings"
	"testing"
	"time"

	"github.com/scepgate/scepgate/pki"
	"github.com/smallstep/scep"
)

// TestDevice plays the device against the server's own pki code.
func TestDevice(t *testing.T) {
	a, err := pki.NewAuthority("rsa2048", "sceptest", time.Now(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	d, err := NewDevice("device")
	if err != nil {
		t.Fatal(err)
	}
	answer := func(t *testing.T, r Request, reply pki.Reply) (*Message, []byte) {
		t.Helper()
		msg, err := d.Build(a.RA, r)
		if err != nil {
			t.Fatalf("Build: %v", err)
		}
		req, err := pki.ParseRequest(msg.DER)
		if err != nil {
			t.Fatalf("server ParseRequest: %v", err)
		}
		if err := req.Decrypt(a, false); err != nil {
			t.Fatalf("server Decrypt: %v", err)
		}
		der, err := a.CertRep(req, reply, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return msg, der
	}

	t.Run("ok/success", func(t *testing.T) {
		msg, der := answer(t, Request{Subject: pkix.Name{CommonName: "device"}, Challenge: "pw"},
			pki.Reply{Status: scep.SUCCESS, Certs: a.CAChain()})
		rep, err := d.ReadCertRep(der, a.RA)
		if err != nil {
			t.Fatalf("ReadCertRep: got %v, want no error", err)
		}
		if rep.TransactionID != msg.TransactionID || !bytes.Equal(rep.RecipientNonce, msg.SenderNonce) || len(rep.Certs) != 1 {
			t.Errorf("got transaction %q nonce %x with %d certificates; want %q, %x and the CA", rep.TransactionID, rep.RecipientNonce, len(rep.Certs), msg.TransactionID, msg.SenderNonce)
		}
	})
	t.Run("ok/certpoll-pending", func(t *testing.T) {
		_, der := answer(t, Request{MessageType: scep.CertPoll, Payload: IssuerAndSubject(a.CA, pkix.Name{CommonName: "device"})},
			pki.Reply{Status: scep.PENDING})
		if rep, err := d.ReadCertRep(der, a.RA); err != nil || rep.Status != scep.PENDING {
			t.Errorf("got %v, want PENDING", err)
		}
	})
	t.Run("fail/failure-without-failinfo", func(t *testing.T) {
		_, der := answer(t, Request{MessageType: scep.GetCert, Payload: IssuerAndSerial(a.CA, a.RA.SerialNumber)},
			pki.Reply{Status: scep.FAILURE})
		if _, err := d.ReadCertRep(der, a.RA); err == nil || !strings.Contains(err.Error(), "without a failInfo") {
			t.Errorf("got %v, want an error about the missing failInfo", err)
		}
	})
	t.Run("fail/not-the-ra", func(t *testing.T) {
		_, der := answer(t, Request{Subject: pkix.Name{CommonName: "device"}}, pki.Reply{Status: scep.PENDING})
		if _, err := d.ReadCertRep(der, a.CA); err == nil || !strings.Contains(err.Error(), "not a trusted RA or CA") {
			t.Errorf("got %v, want an error about the signer", err)
		}
	})
}
