package pki

import (
	"bytes"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"strings"
	"testing"

	"github.com/scepgate/scepgate/pki/cms"
	"github.com/smallstep/scep"
)

func TestClientContent(t *testing.T) {
	f := newClientFixture(t)
	alg := cms.Algorithm{Cipher: cms.AES256CBC}
	subject, err := asn1.Marshal(pkix.Name{CommonName: "device", Organization: []string{"Company"}}.ToRDNSequence())
	if err != nil {
		t.Fatal(err)
	}
	t.Run("ok/certpoll", func(t *testing.T) {
		content, err := CertPollContent(f.a.CA.RawSubject, subject)
		if err != nil {
			t.Fatal(err)
		}
		_, req := f.send(t, scep.CertPoll, content, alg) // the server's Decrypt reads it
		plain, _, err := cms.Decrypt(req.envelope, f.a.RA, f.a.RAKey)
		if err != nil {
			t.Fatal(err)
		}
		var ias issuerAndSubject
		if rest, err := asn1.Unmarshal(plain, &ias); err != nil || len(rest) > 0 {
			t.Fatalf("IssuerAndSubject: %v (%d bytes left)", err, len(rest))
		}
		if !bytes.Equal(ias.Issuer.FullBytes, f.a.CA.RawSubject) || !bytes.Equal(ias.Subject.FullBytes, subject) {
			t.Errorf("got issuer %x subject %x, want the CA's and %x", ias.Issuer.FullBytes, ias.Subject.FullBytes, subject)
		}
	})
	for _, tt := range []struct {
		name    string
		mt      scep.MessageType
		content func([]byte, *big.Int) ([]byte, error)
	}{{"ok/getcert", scep.GetCert, GetCertContent}, {"ok/getcrl", scep.GetCRL, GetCRLContent}} {
		t.Run(tt.name, func(t *testing.T) {
			content, err := tt.content(f.a.CA.RawSubject, big.NewInt(0x1234))
			if err != nil {
				t.Fatal(err)
			}
			_, req := f.send(t, tt.mt, content, alg)
			if ias := req.IssuerAndSerial; ias == nil || ias.SerialNumber.Int64() != 0x1234 || !bytes.Equal(ias.Issuer.FullBytes, f.a.CA.RawSubject) {
				t.Errorf("server read %+v, want the CA's subject and serial 1234", ias)
			}
		})
	}
	for _, tt := range []struct {
		name string
		err  func() error
		want string
	}{
		{"fail/certpoll-issuer", func() error { _, err := CertPollContent([]byte("CN=x"), subject); return err }, "issuer is not a DER distinguished name"},
		{"fail/certpoll-subject", func() error { _, err := CertPollContent(f.a.CA.RawSubject, nil); return err }, "subject is not"},
		{"fail/getcert-trailing", func() error {
			_, err := GetCertContent(append(bytes.Clone(f.a.CA.RawSubject), 0), big.NewInt(1))
			return err
		}, "issuer is not"},
		{"fail/getcrl-serial", func() error { _, err := GetCRLContent(f.a.CA.RawSubject, nil); return err }, "needs a serial number"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.err(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestTransactionID(t *testing.T) {
	f := newClientFixture(t)
	a, err := TransactionID(f.key.Public())
	if err != nil {
		t.Fatal(err)
	}
	b, _ := TransactionID(f.key.Public())
	c, _ := TransactionID(f.a.RAKey.Public())
	if a != b || a == c || len(a) != 64 || strings.ToUpper(a) != a {
		t.Errorf("got %q, %q for the same key and %q for another; want 64 upper-case hex digits, stable per key", a, b, c)
	}
}
