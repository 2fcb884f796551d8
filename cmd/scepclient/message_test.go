package main

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"strings"
	"testing"
	"time"

	"github.com/scepgate/scepgate/pki"
	"github.com/scepgate/scepgate/pki/cms"
	"github.com/smallstep/pkcs7"
	"github.com/smallstep/scep"
)

// newTestCSR makes a CSR for key as create does.
func newTestCSR(t *testing.T, key crypto.Signer, cn, challenge string) *x509.CertificateRequest {
	t.Helper()
	subject, err := ParseDN("cn=" + cn + ",o=Company")
	if err != nil {
		t.Fatal(err)
	}
	der, err := NewCSR(CSRTemplate{Subject: subject, DNSNames: []string{cn}, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, Critical: true, Challenge: challenge}, key)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	return csr
}

// TestPKCSReqRoundTrip sends a PKCSReq through the server's own parser
// and CertRep builder, in every cipher and both digests.
func TestPKCSReqRoundTrip(t *testing.T) {
	a := testAuthority(t)
	key := testKey(t, 1)
	tests := []struct {
		name   string
		cipher string
		digest asn1.ObjectIdentifier
	}{
		{"ok/aes-sha256", "aes", pkcs7.OIDDigestAlgorithmSHA256},
		{"ok/aes128-sha256", "aes128", pkcs7.OIDDigestAlgorithmSHA256},
		{"ok/des3-sha1", "des3", pkcs7.OIDDigestAlgorithmSHA1},
		{"ok/des-sha256", "des", pkcs7.OIDDigestAlgorithmSHA256},
		{"ok/rc2-sha256", "rc2", pkcs7.OIDDigestAlgorithmSHA256},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			alg, err := parseCipher(tt.cipher)
			if err != nil {
				t.Fatal(err)
			}
			csr := newTestCSR(t, key, "dev1", "s3cret")
			signer, err := SelfSigned(csr, key, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			tid, _ := pki.TransactionID(key.Public())
			req, err := pki.NewClientMessage(scep.PKCSReq, csr.Raw, pki.ClientParams{TransactionID: tid, RA: a.RA, Cipher: alg, Signer: signer, Key: key, Digest: tt.digest})
			if err != nil {
				t.Fatalf("NewClientMessage: %v", err)
			}

			srv, err := pki.ParseRequest(req.Raw)
			if err != nil {
				t.Fatalf("server ParseRequest: %v", err)
			}
			if srv.MessageType != scep.PKCSReq || srv.TransactionID != tid || !bytes.Equal(srv.SenderNonce, req.SenderNonce) {
				t.Errorf("server read type %s, tid %q; want PKCSReq, %q", srv.MessageType, srv.TransactionID, tid)
			}
			if !srv.Digest.Equal(tt.digest) {
				t.Errorf("digest: got %v, want %v", srv.Digest, tt.digest)
			}
			if err := srv.Decrypt(a, true); err != nil {
				t.Fatalf("server Decrypt: %v", err)
			}
			if srv.Cipher.Cipher != alg.Cipher {
				t.Errorf("cipher: got %v, want %v", srv.Cipher.Cipher, alg.Cipher)
			}
			if srv.ChallengePassword != "s3cret" || !bytes.Equal(srv.CSR.Raw, csr.Raw) {
				t.Errorf("challenge: got %q, want s3cret; CSR equal: %v", srv.ChallengePassword, bytes.Equal(srv.CSR.Raw, csr.Raw))
			}

			leaf := issue(t, a, "dev1", key)
			der, err := a.CertRep(srv, pki.Reply{Status: scep.SUCCESS, Certs: []*x509.Certificate{leaf, a.CA}}, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := pki.ReadCertRep(der, req, []*x509.Certificate{a.RA, a.CA})
			if err != nil {
				t.Fatalf("ReadCertRep: %v", err)
			}
			if err := rep.Decrypt(signer, key); err != nil {
				t.Fatalf("Decrypt: %v", err)
			}
			got, chain := splitLeaf(rep.Certs, key.Public())
			if got == nil || !bytes.Equal(got.Raw, leaf.Raw) || len(chain) != 1 {
				t.Errorf("got leaf %v and %d chain certificates, want the issued one and 1", got != nil, len(chain))
			}
			if rep.Cipher.Cipher != alg.Cipher {
				t.Errorf("reply cipher: got %v, want %v", rep.Cipher.Cipher, alg.Cipher)
			}
		})
	}
}

func TestRenewalReq(t *testing.T) {
	a := testAuthority(t)
	oldKey, newKey := testKey(t, 1), testKey(t, 2)
	current := issue(t, a, "dev1", oldKey)
	csr := newTestCSR(t, newKey, "dev1", "")
	tid, _ := pki.TransactionID(newKey.Public())
	req, err := NewRenewal(csr.Raw, current, oldKey, pki.ClientParams{TransactionID: tid, RA: a.RA, Cipher: cms.Algorithm{Cipher: cms.AES256CBC}})
	if err != nil {
		t.Fatalf("NewRenewal: %v", err)
	}
	srv, err := pki.ParseRequest(req.Raw)
	if err != nil {
		t.Fatalf("server ParseRequest: %v", err)
	}
	if srv.MessageType != scep.RenewalReq {
		t.Errorf("message type: got %s, want RenewalReq", srv.MessageType)
	}
	if !bytes.Equal(srv.SignerCert.Raw, current.Raw) {
		t.Errorf("signer: got %s, want the current certificate %s", srv.SignerCert.Subject, current.Subject)
	}
	if err := srv.Decrypt(a, false); err != nil {
		t.Fatalf("server Decrypt: %v", err)
	}
	if !samePublicKey(srv.CSR.PublicKey, newKey.Public()) {
		t.Errorf("CSR key: got another key, want the new one")
	}
	if srv.ChallengePassword != "" {
		t.Errorf("challenge: got %q, want none", srv.ChallengePassword)
	}
	// The reply is encrypted to the current certificate.
	leaf := issue(t, a, "dev1", newKey)
	der, err := a.CertRep(srv, pki.Reply{Status: scep.SUCCESS, Certs: []*x509.Certificate{leaf}}, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := pki.ReadCertRep(der, req, []*x509.Certificate{a.RA, a.CA})
	if err != nil {
		t.Fatal(err)
	}
	if err := rep.Decrypt(current, oldKey); err != nil {
		t.Fatalf("Decrypt with the current key: %v", err)
	}
	if got, _ := splitLeaf(rep.Certs, newKey.Public()); got == nil {
		t.Errorf("got no certificate for the new key, want one")
	}
}

func TestCertPoll(t *testing.T) {
	a := testAuthority(t)
	key := testKey(t, 1)
	csr := newTestCSR(t, key, "dev1", "pw")
	signer, err := SelfSigned(csr, key, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	content, err := pki.CertPollContent(a.RA.RawIssuer, csr.RawSubject)
	if err != nil {
		t.Fatal(err)
	}
	req, err := pki.NewClientMessage(scep.CertPoll, content, pki.ClientParams{TransactionID: "T1", RA: a.RA, Cipher: cms.Algorithm{Cipher: cms.DES3CBC}, Signer: signer, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := pki.ParseRequest(req.Raw)
	if err != nil {
		t.Fatalf("server ParseRequest: %v", err)
	}
	if srv.MessageType != scep.CertPoll || srv.TransactionID != "T1" {
		t.Errorf("got %s %q, want CertPoll T1", srv.MessageType, srv.TransactionID)
	}
	p7, err := pkcs7.Parse(req.Raw)
	if err != nil {
		t.Fatal(err)
	}
	plain, _, err := cms.Decrypt(p7.Content, a.RA, a.RAKey)
	if err != nil {
		t.Fatal(err)
	}
	var ias struct{ Issuer, Subject asn1.RawValue }
	if _, err := asn1.Unmarshal(plain, &ias); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(ias.Issuer.FullBytes, a.CA.RawSubject) || !bytes.Equal(ias.Subject.FullBytes, csr.RawSubject) {
		t.Errorf("IssuerAndSubject: got issuer %x subject %x, want the CA's and the CSR's", ias.Issuer.FullBytes, ias.Subject.FullBytes)
	}
}

func TestReplyStatus(t *testing.T) {
	a := testAuthority(t)
	key := testKey(t, 1)
	csr := newTestCSR(t, key, "dev1", "pw")
	signer, _ := SelfSigned(csr, key, time.Now())
	req, err := pki.NewClientMessage(scep.PKCSReq, csr.Raw, pki.ClientParams{TransactionID: "T2", RA: a.RA, Cipher: cms.Algorithm{Cipher: cms.AES128CBC}, Signer: signer, Key: key})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := pki.ParseRequest(req.Raw)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		reply pki.Reply
		want  string
	}{
		{"fail/badAlg", pki.Reply{Status: scep.FAILURE, FailInfo: scep.BadAlg}, "failInfo badAlg (0)"},
		{"fail/badMessageCheck", pki.Reply{Status: scep.FAILURE, FailInfo: scep.BadMessageCheck}, "Run getcacert again"},
		{"fail/badRequest", pki.Reply{Status: scep.FAILURE, FailInfo: scep.BadRequest}, "challenge password is wrong"},
		{"fail/badTime", pki.Reply{Status: scep.FAILURE, FailInfo: scep.BadTime}, "clock"},
		{"fail/badCertId", pki.Reply{Status: scep.FAILURE, FailInfo: scep.BadCertID}, "badCertId (4)"},
		{"fail/pending", pki.Reply{Status: scep.PENDING}, "scepclient -config FILE poll"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			der, err := a.CertRep(srv, tt.reply, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := pki.ReadCertRep(der, req, []*x509.Certificate{a.RA, a.CA})
			if err != nil {
				t.Fatalf("ReadCertRep: %v", err)
			}
			if rep.Status != tt.reply.Status || rep.FailInfo != tt.reply.FailInfo {
				t.Errorf("got %q/%q, want %q/%q", rep.Status, rep.FailInfo, tt.reply.Status, tt.reply.FailInfo)
			}
			if got := explain(rep, req.MessageType); !strings.Contains(got, tt.want) {
				t.Errorf("explain: got %q, want it to contain %q", got, tt.want)
			}
		})
	}

	t.Run("fail/unknown-signer", func(t *testing.T) {
		der, err := a.CertRep(srv, pki.Reply{Status: scep.PENDING}, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		_, err = pki.ReadCertRep(der, req, []*x509.Certificate{a.CA})
		if err = replyProblem(err); err == nil || !strings.Contains(err.Error(), "neither the RA nor the CA") {
			t.Errorf("got %v, want an error naming the unknown signer", err)
		}
	})
	t.Run("fail/other-transaction", func(t *testing.T) {
		der, err := a.CertRep(srv, pki.Reply{Status: scep.PENDING}, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		other := *req
		other.TransactionID = "T3"
		_, err = pki.ReadCertRep(der, &other, []*x509.Certificate{a.RA})
		if err = replyProblem(err); err == nil || !strings.Contains(err.Error(), "not ours") {
			t.Errorf("got %v, want a transaction mismatch", err)
		}
	})
	t.Run("fail/replayed", func(t *testing.T) {
		der, err := a.CertRep(srv, pki.Reply{Status: scep.PENDING}, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		other := *req
		other.SenderNonce = []byte("another nonce")
		_, err = pki.ReadCertRep(der, &other, []*x509.Certificate{a.RA})
		if err = replyProblem(err); err == nil || !strings.Contains(err.Error(), "may be a replay") {
			t.Errorf("got %v, want a nonce mismatch", err)
		}
	})
	t.Run("fail/not-scep", func(t *testing.T) {
		_, err := pki.ReadCertRep([]byte("<html>"), req, []*x509.Certificate{a.RA})
		if err = replyProblem(err); err == nil || !strings.Contains(err.Error(), "Check that certRequestUrl points at a SCEP server") {
			t.Errorf("got %v, want advice to check certRequestUrl", err)
		}
	})
}

func TestPickRA(t *testing.T) {
	a := testAuthority(t)
	noEnc := selfSignedWith(t, &x509.Certificate{KeyUsage: x509.KeyUsageDigitalSignature})
	tests := []struct {
		name    string
		certs   []*x509.Certificate
		want    *x509.Certificate
		wantErr string
	}{
		{"ok/ra-and-ca", []*x509.Certificate{a.CA, a.RA}, a.RA, ""},
		{"ok/ca-only", []*x509.Certificate{a.CA}, a.CA, ""},
		{"fail/ra-without-keyEncipherment", []*x509.Certificate{a.CA, noEnc}, nil, "lacks the key usage keyEncipherment"},
		{"fail/none", nil, nil, "no certificate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := pickRA(tt.certs)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error: got %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %v (%v), want %s", got.Subject, err, tt.want.Subject)
			}
		})
	}
}
