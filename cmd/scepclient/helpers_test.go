package main

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/scepgate/scepgate/pki"
)

var (
	testKeysOnce sync.Once
	testKeys     []*rsa.PrivateKey
	testAuth     *pki.Authority
	testAuthErr  error
)

// testKey returns the i-th of a few RSA-2048 keys made once per test run.
func testKey(t *testing.T, i int) *rsa.PrivateKey {
	t.Helper()
	loadTestMaterial(t)
	return testKeys[i]
}

// testAuthority returns a CA and RA made once per test run by the server's
// own code.
func testAuthority(t *testing.T) *pki.Authority {
	t.Helper()
	loadTestMaterial(t)
	return testAuth
}

func loadTestMaterial(t *testing.T) {
	t.Helper()
	testKeysOnce.Do(func() {
		for range 3 {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				testAuthErr = err
				return
			}
			testKeys = append(testKeys, k)
		}
		testAuth, testAuthErr = pki.NewAuthority("rsa2048", "scepclient test", time.Now(), rand.Reader)
	})
	if testAuthErr != nil {
		t.Fatalf("test material: %v", testAuthErr)
	}
}

// selfSignedWith signs tmpl with a test key and parses the result.
func selfSignedWith(t *testing.T, tmpl *x509.Certificate) *x509.Certificate {
	t.Helper()
	key := testKey(t, 0)
	tmpl.SerialNumber = big.NewInt(1)
	tmpl.Subject = pkix.Name{CommonName: "test"}
	tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// issue signs a client certificate for key with the test CA.
func issue(t *testing.T, a *pki.Authority, cn string, key crypto.Signer) *x509.Certificate {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.CA, key.Public(), a.CAKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
