package pki

import (
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/smallstep/pkcs7"
)

// TestNextCACert: the next CA is a new self-signed CA told apart by its
// name, and GetNextCACert's answer is signed by the current RA and holds
// the next RA and CA.
func TestNextCACert(t *testing.T) {
	now := time.Date(2027, 3, 4, 5, 6, 7, 0, time.UTC)
	cur := newClientFixture(t).a
	next, err := NextAuthority(cur, "p256", now, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := next.CA.Subject.CommonName, "SCEP CA 2027-03-04"; !strings.HasSuffix(got, want) {
		t.Errorf("next CA common name %q; want it to end in %q", got, want)
	}
	if err := next.CA.CheckSignatureFrom(next.CA); err != nil || next.CA.CheckSignatureFrom(cur.CA) == nil {
		t.Errorf("next CA: self-signed %v; want self-signed and not signed by the current CA", err)
	}
	if err := CheckRA(next.RA, next.CA); err != nil {
		t.Errorf("next RA: %v", err)
	}
	der, err := cur.NextCACert(next)
	if err != nil {
		t.Fatal(err)
	}
	p7, err := pkcs7.Parse(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := p7.Verify(); err != nil {
		t.Errorf("signature: %v", err)
	}
	if s := p7.GetOnlySigner(); s == nil || !s.Equal(cur.RA) {
		t.Errorf("signer is not the current RA")
	}
	if got := p7.Signers[0].DigestEncryptionAlgorithm.Algorithm; !got.Equal(pkcs7.OIDEncryptionAlgorithmRSA) {
		t.Errorf("digestEncryptionAlgorithm %v; want rsaEncryption", got)
	}
	certs, err := ParseDegenerate(p7.Content)
	if err != nil {
		t.Fatal(err)
	}
	if len(certs) != 2 || !certs[0].Equal(next.RA) || !certs[1].Equal(next.CA) {
		t.Errorf("content holds %d certificates; want the next RA, then the next CA", len(certs))
	}
}
