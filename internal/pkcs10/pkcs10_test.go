package pkcs10

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"testing"

	"github.com/smallstep/scep/x509util"
)

func TestWithoutChallengePassword(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	const challenge = "SECRET-CHALLENGE-0123456789"
	tmpl := x509.CertificateRequest{Subject: pkix.Name{CommonName: "device", Organization: []string{"Company"}}, DNSNames: []string{"device.example"}}
	with, err := x509util.CreateCertificateRequest(rand.Reader, &x509util.CertificateRequest{CertificateRequest: tmpl, ChallengePassword: challenge}, key)
	if err != nil {
		t.Fatal(err)
	}
	without, err := x509.CreateCertificateRequest(rand.Reader, &tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(with, []byte(challenge)) {
		t.Fatal("the test CSR does not carry its challenge in clear")
	}

	t.Run("ok/removes the challenge, keeps the rest", func(t *testing.T) {
		got, changed, err := WithoutChallengePassword(with)
		if err != nil || !changed {
			t.Fatalf("= changed %v, %v; want changed", changed, err)
		}
		if bytes.Contains(got, []byte(challenge)) {
			t.Error("the challenge is still in the request")
		}
		csr, err := x509.ParseCertificateRequest(got)
		if err != nil {
			t.Fatalf("the result does not parse: %v", err)
		}
		orig, _ := x509.ParseCertificateRequest(with)
		if csr.Subject.String() != orig.Subject.String() || !bytes.Equal(csr.RawSubjectPublicKeyInfo, orig.RawSubjectPublicKeyInfo) ||
			len(csr.DNSNames) != 1 || csr.DNSNames[0] != "device.example" || !bytes.Equal(csr.Signature, orig.Signature) {
			t.Errorf("subject %q, DNS %v; want the original's subject, key, extensions and signature", csr.Subject, csr.DNSNames)
		}
		if pw, err := x509util.ParseChallengePassword(got); err != nil || pw != "" {
			t.Errorf("challengePassword = %q, %v; want none", pw, err)
		}
		if again, changed, err := WithoutChallengePassword(got); err != nil || changed || !bytes.Equal(again, got) {
			t.Errorf("second pass: changed %v, %v; want nothing to change", changed, err)
		}
	})
	t.Run("ok/no challenge: unchanged", func(t *testing.T) {
		got, changed, err := WithoutChallengePassword(without)
		if err != nil || changed || !bytes.Equal(got, without) {
			t.Errorf("= changed %v, %v; want the same bytes", changed, err)
		}
	})
	for name, in := range map[string][]byte{"empty": nil, "not DER": []byte("hello"), "truncated": with[:len(with)/2], "trailing data": append(bytes.Clone(with), 0)} {
		t.Run("fail/"+name, func(t *testing.T) {
			if _, _, err := WithoutChallengePassword(in); err == nil {
				t.Error("no error; want one")
			}
		})
	}
}

func FuzzWithoutChallengePassword(f *testing.F) {
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, in []byte) {
		out, changed, err := WithoutChallengePassword(in)
		if err != nil {
			return
		}
		if !changed && !bytes.Equal(out, in) {
			t.Fatal("unchanged but other bytes")
		}
		if again, changed2, err := WithoutChallengePassword(out); err != nil || changed2 || !bytes.Equal(again, out) {
			t.Fatalf("not idempotent: changed %v, %v", changed2, err)
		}
	})
}
