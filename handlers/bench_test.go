package handlers_test

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509/pkix"
	"fmt"
	"testing"

	"github.com/scepgate/scepgate/internal/sceptest"
)

// BenchmarkEnrollment measures one PKCSReq through the whole server (HTTP,
// SQLite, three RSA-2048 private-key operations), with the devices' keys
// and messages made before the clock starts. Compare its ns/op with
// BenchmarkRSAFloor's three operations.
func BenchmarkEnrollment(b *testing.B) {
	f := newFixture(b)
	msgs := make([][]byte, b.N)
	for i := range msgs {
		pw := fmt.Sprintf("bench-password-%d", i)
		f.preRegister(pw, "")
		d := newDevice(b, "bench")
		m, err := d.Build(f.auth.RA, sceptest.Request{Subject: pkix.Name{CommonName: fmt.Sprintf("bench %d", i)}, Challenge: pw})
		if err != nil {
			b.Fatal(err)
		}
		msgs[i] = m.DER
	}
	b.ResetTimer()
	for i := range b.N {
		status, _, body := f.post("/pgwy/scep", msgs[i])
		if status != 200 || len(body) < 1000 {
			b.Fatalf("status %d, %d bytes; want a SUCCESS CertRep", status, len(body))
		}
	}
	b.StopTimer()
	if got := f.certCount(); got != int64(b.N) {
		b.Fatalf("%d certificates for %d enrollments", got, b.N)
	}
}

// BenchmarkRSAFloor is the physical bound of an enrollment: the three
// RSA-2048 private-key operations it cannot avoid (decrypt the envelope
// key with the RA key, sign the certificate with the CA key, sign the
// CertRep with the RA key), on the fixture's own keys.
func BenchmarkRSAFloor(b *testing.B) {
	f := newFixture(b)
	digest := sha256.Sum256([]byte("tbs"))
	//lint:ignore SA1019 SCEP clients wrap the envelope key with PKCS #1 v1.5; the floor must do what the server does.
	wrapped, err := rsa.EncryptPKCS1v15(rand.Reader, &f.auth.RAKey.PublicKey, make([]byte, 32))
	if err != nil {
		b.Fatal(err)
	}
	caKey := f.auth.CAKey.(*rsa.PrivateKey)
	b.ResetTimer()
	for range b.N {
		//lint:ignore SA1019 as above: the server unwraps PKCS #1 v1.5 session keys.
		if _, err := f.auth.RAKey.Decrypt(rand.Reader, wrapped, &rsa.PKCS1v15DecryptOptions{SessionKeyLen: 32}); err != nil {
			b.Fatal(err)
		}
		if _, err := rsa.SignPKCS1v15(nil, caKey, crypto.SHA256, digest[:]); err != nil {
			b.Fatal(err)
		}
		if _, err := rsa.SignPKCS1v15(nil, f.auth.RAKey, crypto.SHA256, digest[:]); err != nil {
			b.Fatal(err)
		}
	}
}
