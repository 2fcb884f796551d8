package pki

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki/cms"
	"github.com/smallstep/pkcs7"
	"github.com/smallstep/scep"
	"github.com/smallstep/scep/x509util"
)

// clientFixture is a CA and RA made by the server's own code and a device
// that talks to them through the client codec.
type clientFixture struct {
	a, other *Authority // other signs what the client must not trust
	key      *rsa.PrivateKey
	cert     *x509.Certificate // the device's self-signed signer
}

var (
	clientOnce sync.Once
	clientFix  clientFixture
	clientErr  error
)

func newClientFixture(t *testing.T) *clientFixture {
	t.Helper()
	clientOnce.Do(func() {
		now := time.Now()
		f := &clientFix
		if f.a, clientErr = NewAuthority("rsa2048", "Client test", now, rand.Reader); clientErr != nil {
			return
		}
		if f.other, clientErr = NewAuthority("p256", "Someone else", now, rand.Reader); clientErr != nil {
			return
		}
		if f.key, clientErr = rsa.GenerateKey(rand.Reader, 2048); clientErr != nil {
			return
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1),
			Subject:      pkix.Name{CommonName: "device"},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &f.key.PublicKey, f.key)
		if err != nil {
			clientErr = err
			return
		}
		f.cert, clientErr = x509.ParseCertificate(der)
	})
	if clientErr != nil {
		t.Fatalf("client test material: %v", clientErr)
	}
	return &clientFix
}

// send builds a client message of type mt with content, has the server
// parse and decrypt it, and returns both sides.
func (f *clientFixture) send(t *testing.T, mt scep.MessageType, content []byte, alg cms.Algorithm) (*ClientMessage, *Request) {
	t.Helper()
	msg, err := NewClientMessage(mt, content, ClientParams{TransactionID: "T-" + string(mt), RA: f.a.RA, Cipher: alg, Signer: f.cert, Key: f.key})
	if err != nil {
		t.Fatalf("NewClientMessage: %v", err)
	}
	req, err := ParseRequest(msg.Raw)
	if err != nil {
		t.Fatalf("server ParseRequest: %v", err)
	}
	if err := req.Decrypt(f.a, true); err != nil {
		t.Fatalf("server Decrypt: %v", err)
	}
	return msg, req
}

func (f *clientFixture) csr(t *testing.T) []byte {
	t.Helper()
	der, err := x509util.CreateCertificateRequest(rand.Reader, &x509util.CertificateRequest{
		CertificateRequest: x509.CertificateRequest{Subject: pkix.Name{CommonName: "device"}},
		ChallengePassword:  "pw",
	}, f.key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// leaf signs a certificate for the device key with the test CA.
func (f *clientFixture) leaf(t *testing.T) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "device"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, f.a.CA, &f.key.PublicKey, f.a.CAKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (f *clientFixture) trusted() []*x509.Certificate { return []*x509.Certificate{f.a.RA, f.a.CA} }

// TestCertRepRoundTrip answers client messages with the server's CertRep
// and reads the replies with the client codec.
func TestCertRepRoundTrip(t *testing.T) {
	f := newClientFixture(t)
	for _, c := range []cms.Cipher{cms.AES128CBC, cms.AES256CBC, cms.DES3CBC, cms.DESCBC, cms.RC2CBC} {
		t.Run("ok/success-"+c.String(), func(t *testing.T) {
			msg, req := f.send(t, scep.PKCSReq, f.csr(t), cms.Algorithm{Cipher: c})
			leaf := f.leaf(t)
			der, err := f.a.CertRep(req, Reply{Status: scep.SUCCESS, Certs: []*x509.Certificate{leaf, f.a.CA}}, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := ReadCertRep(der, msg, f.trusted())
			if err != nil {
				t.Fatalf("ReadCertRep: got %v, want no error", err)
			}
			if rep.Status != scep.SUCCESS || rep.TransactionID != msg.TransactionID || !rep.Signer.Equal(f.a.RA) || len(rep.SenderNonce) == 0 {
				t.Errorf("got status %q transaction %q signer %s senderNonce %x; want SUCCESS, %q, the RA, a nonce",
					rep.Status, rep.TransactionID, rep.Signer.Subject, rep.SenderNonce, msg.TransactionID)
			}
			if !rep.Digest.Equal(pkcs7.OIDDigestAlgorithmSHA256) {
				t.Errorf("digest: got %v, want SHA-256 as the request's", rep.Digest)
			}
			if err := rep.Decrypt(f.cert, f.key); err != nil {
				t.Fatalf("Decrypt: got %v, want no error", err)
			}
			if len(rep.Certs) != 2 || !rep.Certs[0].Equal(leaf) || !rep.Certs[1].Equal(f.a.CA) {
				t.Errorf("certificates: got %d, want the leaf and the CA", len(rep.Certs))
			}
			if rep.Cipher.Cipher != c {
				t.Errorf("cipher: got %s, want the request's %s", rep.Cipher.Cipher, c)
			}
		})
	}

	t.Run("ok/crl", func(t *testing.T) {
		content, err := GetCRLContent(f.a.CA.RawSubject, big.NewInt(7))
		if err != nil {
			t.Fatal(err)
		}
		msg, req := f.send(t, scep.GetCRL, content, cms.Algorithm{Cipher: cms.AES256CBC})
		at := time.Now().Add(-time.Minute)
		crl, err := f.a.CRL([]model.Certificate{{Serial: "07", RevokedAt: &at}}, 1, time.Now(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		der, err := f.a.CertRep(req, Reply{Status: scep.SUCCESS, CRL: crl.Raw}, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := ReadCertRep(der, msg, f.trusted())
		if err != nil {
			t.Fatalf("ReadCertRep: got %v, want no error", err)
		}
		if err := rep.Decrypt(f.cert, f.key); err != nil {
			t.Fatalf("Decrypt: got %v, want no error", err)
		}
		if len(rep.CRLs) != 1 || len(rep.Certs) != 0 || !bytes.Equal(rep.CRLs[0].Raw, crl.Raw) {
			t.Errorf("got %d CRLs and %d certificates, want the CA's CRL alone", len(rep.CRLs), len(rep.Certs))
		}
	})

	for _, fi := range []scep.FailInfo{scep.BadAlg, scep.BadMessageCheck, scep.BadRequest, scep.BadTime, scep.BadCertID} {
		t.Run("ok/failure-"+FailInfoName(fi), func(t *testing.T) {
			msg, req := f.send(t, scep.PKCSReq, f.csr(t), cms.Algorithm{Cipher: cms.AES128CBC})
			der, err := f.a.CertRep(req, Reply{Status: scep.FAILURE, FailInfo: fi}, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := ReadCertRep(der, msg, f.trusted())
			if err != nil {
				t.Fatalf("ReadCertRep: got %v, want no error", err)
			}
			if rep.Status != scep.FAILURE || rep.FailInfo != fi {
				t.Errorf("got %q/%q, want FAILURE/%q", rep.Status, rep.FailInfo, fi)
			}
			var fe *FailError
			err = rep.Decrypt(f.cert, f.key)
			if !errors.As(err, &fe) || fe.Info != fi || !strings.Contains(err.Error(), FailInfoName(fi)) {
				t.Errorf("Decrypt: got %v, want a *FailError with failInfo %s", err, FailInfoName(fi))
			}
		})
	}

	t.Run("ok/pending", func(t *testing.T) {
		msg, req := f.send(t, scep.PKCSReq, f.csr(t), cms.Algorithm{Cipher: cms.AES256CBC})
		der, err := f.a.CertRep(req, Reply{Status: scep.PENDING}, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := ReadCertRep(der, msg, f.trusted())
		if err != nil {
			t.Fatalf("ReadCertRep: got %v, want no error", err)
		}
		if rep.Status != scep.PENDING {
			t.Errorf("status: got %q, want PENDING", rep.Status)
		}
		if err := rep.Decrypt(f.cert, f.key); !errors.Is(err, ErrPending) {
			t.Errorf("Decrypt: got %v, want ErrPending", err)
		}
	})
}

// TestCertRepRejected feeds the client codec replies it must refuse; each
// gives a *CertRepError with the code that says why.
func TestCertRepRejected(t *testing.T) {
	f := newClientFixture(t)
	msg, req := f.send(t, scep.PKCSReq, f.csr(t), cms.Algorithm{Cipher: cms.AES256CBC})
	success := func(t *testing.T, r *Request) []byte {
		t.Helper()
		der, err := f.a.CertRep(r, Reply{Status: scep.SUCCESS, Certs: []*x509.Certificate{f.leaf(t)}}, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	tests := []struct {
		name    string
		der     func(t *testing.T) []byte
		trusted []*x509.Certificate
		want    CertRepCode
		wantMsg string
	}{
		{name: "fail/not-cms", der: func(*testing.T) []byte { return []byte("<html>not SCEP</html>") },
			want: CertRepMalformed, wantMsg: "not CMS signed data"},
		{name: "fail/tampered-signature", der: func(t *testing.T) []byte {
			der := success(t, req)
			der[len(der)-1] ^= 0xff // the last byte of the RA's signature
			return der
		}, want: CertRepBadSignature, wantMsg: "signature does not verify"},
		{name: "fail/untrusted-signer", der: func(t *testing.T) []byte { return success(t, req) },
			trusted: []*x509.Certificate{f.other.CA}, want: CertRepUntrustedSigner, wantMsg: "not a trusted RA or CA"},
		{name: "fail/not-certrep", der: func(*testing.T) []byte { return msg.Raw },
			trusted: []*x509.Certificate{f.cert}, want: CertRepNotCertRep, wantMsg: `messageType is "19"`},
		{name: "fail/wrong-transaction", der: func(t *testing.T) []byte {
			other := *req
			other.TransactionID = "someone else's"
			return success(t, &other)
		}, want: CertRepWrongTransaction, wantMsg: `transactionID is "someone else's", not the request's "T-19"`},
		{name: "fail/wrong-recipient-nonce", der: func(t *testing.T) []byte {
			other := *req
			other.SenderNonce = bytes.Repeat([]byte{1}, 16)
			return success(t, &other)
		}, want: CertRepWrongNonce, wantMsg: "recipientNonce is not the request's senderNonce"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			trusted := tt.trusted
			if trusted == nil {
				trusted = f.trusted()
			}
			rep, err := ReadCertRep(tt.der(t), msg, trusted)
			var ce *CertRepError
			if !errors.As(err, &ce) || ce.Code != tt.want {
				t.Fatalf("got %v (%v), want a *CertRepError with code %d", rep, err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("message: got %q, want it to contain %q", err.Error(), tt.wantMsg)
			}
		})
	}

	t.Run("fail/bad-status", func(t *testing.T) {
		// A reply the server signs with a pkiStatus RFC 8894 does not define.
		der, err := f.a.CertRep(req, Reply{Status: "1"}, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		var ce *CertRepError
		if _, err := ParseCertRep(der, f.trusted()); !errors.As(err, &ce) || ce.Code != CertRepBadStatus || ce.Got != "1" {
			t.Errorf("got %v, want a *CertRepError CertRepBadStatus naming pkiStatus 1", err)
		}
	})
	t.Run("fail/someone-else's-key", func(t *testing.T) {
		rep, err := ReadCertRep(success(t, req), msg, f.trusted())
		if err != nil {
			t.Fatal(err)
		}
		var ce *CertRepError
		if err := rep.Decrypt(f.a.RA, f.a.RAKey); !errors.As(err, &ce) || ce.Code != CertRepUndecryptable {
			t.Errorf("Decrypt with the RA key: got %v, want CertRepUndecryptable", err)
		}
	})
	t.Run("fail/success-without-content", func(t *testing.T) {
		rep := &CertRep{Status: scep.SUCCESS}
		var ce *CertRepError
		if err := rep.Decrypt(f.cert, f.key); !errors.As(err, &ce) || ce.Code != CertRepNoContent {
			t.Errorf("got %v, want CertRepNoContent", err)
		}
	})
	t.Run("fail/success-with-empty-list", func(t *testing.T) {
		der, err := f.a.CertRep(req, Reply{Status: scep.SUCCESS}, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := ReadCertRep(der, msg, f.trusted())
		if err != nil {
			t.Fatal(err)
		}
		var ce *CertRepError
		if err := rep.Decrypt(f.cert, f.key); !errors.As(err, &ce) || ce.Code != CertRepBadContent {
			t.Errorf("got %v, want CertRepBadContent", err)
		}
	})
}
