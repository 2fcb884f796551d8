package pki

import (
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/scepgate/scepgate/pki/cms"
	"github.com/smallstep/pkcs7"
	"github.com/smallstep/scep"
)

// TestParseRequestPSS reads a PKCSReq that strongSwan 5.9.8 wrote with
// `pki --scep --rsa-padding pss` (captured from the wire): its SignerInfo
// is signed with RSASSA-PSS (SHA-256, MGF1-SHA-256, salt 32), which pkcs7
// cannot check on its own.
func TestParseRequestPSS(t *testing.T) {
	der, err := os.ReadFile(filepath.Join("testdata", "strongswan-pss-request.der"))
	if err != nil {
		t.Fatal(err)
	}
	t.Run("ok/as sent", func(t *testing.T) {
		req, err := ParseRequest(der)
		if err != nil {
			t.Fatalf("ParseRequest: got %v, want no error", err)
		}
		if req.MessageType != scep.PKCSReq || req.SignerCert == nil || !req.Digest.Equal(pkcs7.OIDDigestAlgorithmSHA256) {
			t.Errorf("got message type %q, signer %v, digest %v; want a PKCSReq signed with SHA-256 by its self-signed certificate",
				req.MessageType, req.SignerCert != nil, req.Digest)
		}
	})
	// Flip one byte in the last 64 (the signature, then the end of the
	// signer info), and one in the middle (the envelope).
	for _, tt := range []struct {
		name string
		at   int
	}{{"fail/signature changed", len(der) - 10}, {"fail/content changed", len(der) / 2}} {
		t.Run(tt.name, func(t *testing.T) {
			bad := append([]byte(nil), der...)
			bad[tt.at] ^= 0x01
			if _, err := ParseRequest(bad); err == nil {
				t.Errorf("ParseRequest of a changed message: got no error, want one")
			}
		})
	}
}

// TestCertRepRSAEncryption: the CertRep's SignerInfo names its algorithm
// rsaEncryption, as strongSwan demands, and OpenSSL verifies it.
func TestCertRepRSAEncryption(t *testing.T) {
	f := newClientFixture(t)
	for name, status := range map[string]scep.PKIStatus{"SUCCESS": scep.SUCCESS, "FAILURE": scep.FAILURE} {
		t.Run("ok/"+name, func(t *testing.T) {
			_, req := f.send(t, scep.PKCSReq, f.csr(t), cms.Algorithm{Cipher: cms.AES128CBC})
			der, err := f.a.CertRep(req, Reply{Status: status, FailInfo: scep.BadRequest, Certs: []*x509.Certificate{f.leaf(t)}}, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			p7, err := pkcs7.Parse(der)
			if err != nil {
				t.Fatal(err)
			}
			if got := p7.Signers[0].DigestEncryptionAlgorithm.Algorithm; !got.Equal(pkcs7.OIDEncryptionAlgorithmRSA) {
				t.Errorf("digestEncryptionAlgorithm %v; want rsaEncryption %v", got, pkcs7.OIDEncryptionAlgorithmRSA)
			}
			if err := p7.Verify(); err != nil {
				t.Errorf("pkcs7 Verify: %v", err)
			}
			openssl, err := exec.LookPath("openssl")
			if err != nil {
				t.Fatal("openssl is not installed: run `apt-get install openssl`")
			}
			dir := t.TempDir()
			in, ca := filepath.Join(dir, "certrep.der"), filepath.Join(dir, "ca.pem")
			_ = os.WriteFile(in, der, 0o644)
			_ = os.WriteFile(ca, pemEncode(f.a.CA), 0o644)
			out, err := exec.Command(openssl, "cms", "-verify", "-inform", "DER", "-in", in, "-CAfile", ca,
				"-purpose", "any", "-out", filepath.Join(dir, "content")).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "Verification successful") {
				t.Errorf("openssl cms -verify: %v\n%s", err, out)
			}
		})
	}
}

func pemEncode(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}
