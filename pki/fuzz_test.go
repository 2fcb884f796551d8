package pki

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"

	"github.com/smallstep/scep"
)

// goldenAuthority is the CA and RA the golden requests in
// handlers/testdata were made for.
func goldenAuthority(t testing.TB) *Authority {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "handlers", "testdata", "authority.pem"))
	if err != nil {
		t.Fatal(err)
	}
	var blocks [][]byte
	for {
		var p *pem.Block
		if p, b = pem.Decode(b); p == nil {
			break
		}
		blocks = append(blocks, p.Bytes)
	}
	if len(blocks) != 4 {
		t.Fatalf("authority.pem has %d PEM blocks; want CA cert, CA key, RA cert, RA key", len(blocks))
	}
	ca, err1 := x509.ParseCertificate(blocks[0])
	caKey, err2 := x509.ParsePKCS8PrivateKey(blocks[1])
	ra, err3 := x509.ParseCertificate(blocks[2])
	raKey, err4 := x509.ParsePKCS8PrivateKey(blocks[3])
	for _, err := range []error{err1, err2, err3, err4} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return &Authority{CA: ca, CAKey: caKey.(*rsa.PrivateKey), RA: ra, RAKey: raKey.(*rsa.PrivateKey)}
}

// addGoldenRequests seeds f with the recorded requests of handlers/testdata.
func addGoldenRequests(f *testing.F) {
	names, err := filepath.Glob(filepath.Join("..", "handlers", "testdata", "*.der"))
	if err != nil || len(names) == 0 {
		f.Fatalf("no golden requests in handlers/testdata: %v", err)
	}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzParseRequest feeds arbitrary PKIOperation messages to ParseRequest
// and, when one parses, to Decrypt and CertRep: an error is fine, a panic
// is not, and a FailError is the only error Decrypt returns.
//
//	go test -run '^$' -fuzz '^FuzzParseRequest$' -fuzztime 1m ./pki/
func FuzzParseRequest(f *testing.F) {
	a := goldenAuthority(f)
	addGoldenRequests(f)
	f.Add([]byte{})
	f.Add([]byte{0x30, 0x80, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		req, err := ParseRequest(der)
		if err != nil {
			return
		}
		if req.SignerCert == nil || req.TransactionID == "" || len(req.SenderNonce) == 0 {
			t.Fatalf("parsed request lacks signer, transaction or nonce: %+v", req)
		}
		for _, legacy := range []bool{false, true} {
			err := req.Decrypt(a, legacy)
			if err == nil {
				continue
			}
			if _, ok := err.(*FailError); !ok {
				t.Fatalf("Decrypt: %T %v; want a *FailError", err, err)
			}
		}
		if _, err := a.CertRep(req, Reply{Status: scep.FAILURE, FailInfo: scep.BadRequest}, rand.Reader); err != nil {
			t.Fatalf("a FAILURE CertRep cannot be built: %v", err)
		}
	})
}
