package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/scepgate/scepgate/model"
)

var testNow = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func TestMasterKey(t *testing.T) {
	mk, err := NewMasterKey(strings.Repeat("a", 32))
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := mk.Seal("ca", []byte("secret key"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := mk.Open("ca", sealed); err != nil || string(got) != "secret key" {
		t.Fatalf("Open = %q, %v; want %q", got, err, "secret key")
	}
	if _, err := mk.Open("ra", sealed); !errors.Is(err, ErrWrongMasterKey) {
		t.Errorf("Open with another purpose: got %v, want ErrWrongMasterKey", err)
	}
	other, _ := NewMasterKey(strings.Repeat("b", 32))
	if _, err := other.Open("ca", sealed); !errors.Is(err, ErrWrongMasterKey) {
		t.Errorf("Open with another key: got %v, want ErrWrongMasterKey", err)
	}
	if _, err := NewMasterKey("short"); err == nil {
		t.Error("NewMasterKey accepted a 5-character secret")
	}
	if a, b := mk.ChallengeHash("pw"), other.ChallengeHash("pw"); a == b || a != mk.ChallengeHash("pw") {
		t.Errorf("ChallengeHash must be stable per key and differ across keys: %s %s", a, b)
	}
}

func TestMasterKeyFile(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadMasterKey(dir, ""); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ReadMasterKey without a file: got %v, want an error matching os.ErrNotExist", err)
	}
	if _, err := os.Stat(filepath.Join(dir, MasterKeyFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("ReadMasterKey created a key file (stat: %v); want none", err)
	}
	mk1, err := CreateMasterKeyFile(dir)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, MasterKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("key file mode = %o, want 600", got)
	}
	mk2, err := ReadMasterKey(dir, "")
	if err != nil {
		t.Fatal(err)
	}
	if mk1.ChallengeHash("x") != mk2.ChallengeHash("x") {
		t.Error("the reloaded master key differs from the created one")
	}
	if _, err := CreateMasterKeyFile(dir); err == nil {
		t.Error("CreateMasterKeyFile replaced an existing key file; want an error")
	}
	if mk3, err := ReadMasterKey(dir, strings.Repeat("e", 32)); err != nil || mk3.ChallengeHash("x") == mk1.ChallengeHash("x") {
		t.Errorf("ReadMasterKey with the environment set: err %v; want the environment's key, not the file's", err)
	}
}

func TestNewAuthority(t *testing.T) {
	for _, keyType := range []string{"rsa2048", "p256", "p384"} {
		t.Run("ok/"+keyType, func(t *testing.T) {
			a, err := NewAuthority(keyType, "Test", testNow, rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			if !a.CA.IsCA || a.CA.KeyUsage&x509.KeyUsageCertSign == 0 {
				t.Errorf("CA: IsCA=%v KeyUsage=%v; want a CA with keyCertSign", a.CA.IsCA, a.CA.KeyUsage)
			}
			if err := CheckRA(a.RA, a.CA); err != nil {
				t.Errorf("CheckRA of a new RA: %v", err)
			}
			if got := a.RA.PublicKey.(*rsa.PublicKey).N.BitLen(); got != 2048 {
				t.Errorf("RA key bits = %d, want 2048", got)
			}
			mk, _ := NewMasterKey(strings.Repeat("k", 40))
			caRow, raRow, err := SealAuthority(a, mk)
			if err != nil {
				t.Fatal(err)
			}
			b, err := OpenAuthority(caRow, raRow, mk)
			if err != nil {
				t.Fatal(err)
			}
			if !b.RAKey.Equal(a.RAKey) || !b.CA.Equal(a.CA) {
				t.Error("OpenAuthority did not give back the sealed material")
			}
		})
	}
}

// TestRANames: the RA names the hosts it may serve TLS for.
func TestRANames(t *testing.T) {
	a, err := NewAuthority("p256", "Test", testNow, rand.Reader, "scep.example.com", "127.0.0.1", "::1", "")
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"scep.example.com", "127.0.0.1", "::1"} {
		if err := a.RA.VerifyHostname(host); err != nil {
			t.Errorf("RA VerifyHostname(%q): %v; want it named", host, err)
		}
	}
	if err := a.RA.VerifyHostname("other.example.com"); err == nil {
		t.Error("RA is valid for other.example.com; want only the names given")
	}
	if len(a.RA.DNSNames) != 1 || len(a.RA.IPAddresses) != 2 {
		t.Errorf("RA names %v %v; want one DNS name and two addresses", a.RA.DNSNames, a.RA.IPAddresses)
	}
}

func TestCheckRA(t *testing.T) {
	a, err := NewAuthority("rsa2048", "Test", testNow, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewAuthority("rsa2048", "Other", testNow, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	issue := func(ku x509.KeyUsage, eku []x509.ExtKeyUsage) *x509.Certificate {
		key, _ := rsa.GenerateKey(rand.Reader, 2048)
		tmpl := &x509.Certificate{SerialNumber: bigOne(), Subject: pkix.Name{CommonName: "ra"},
			NotBefore: testNow, NotAfter: testNow.Add(time.Hour), KeyUsage: ku, ExtKeyUsage: eku}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, a.CA, &key.PublicKey, a.CAKey)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c
	}
	serverAuth := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	tests := []struct {
		name string
		ra   *x509.Certificate
		want string
	}{
		{"fail/no-keyEncipherment", issue(x509.KeyUsageDigitalSignature, serverAuth), "keyEncipherment"},
		{"fail/no-digitalSignature", issue(x509.KeyUsageKeyEncipherment, serverAuth), "digitalSignature"},
		{"fail/no-serverAuth", issue(x509.KeyUsageDigitalSignature|x509.KeyUsageKeyEncipherment, nil), "serverAuth"},
		{"fail/other-issuer", other.RA, "not issued by the CA"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckRA(tt.ra, a.CA)
			if err == nil || !strings.Contains(model.ErrorMessage(err), tt.want) {
				t.Errorf("CheckRA = %v; want a message naming %q", err, tt.want)
			}
		})
	}
}

func TestIssue(t *testing.T) {
	a, err := NewAuthority("rsa2048", "Test", testNow, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	proc := &model.CertificateProcedure{Name: "p", Format: model.FormatSCEP, KeyUsageMode: model.KeyUsageFromCSR,
		KeyUsages: "digitalSignature,keyEncipherment", ExtKeyUsages: "clientAuth", ValidityDays: 30, MinRSABits: 2048}
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	smallKey, _ := rsa.GenerateKey(rand.Reader, 1024)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	kuExt := func(ku x509.KeyUsage) []pkix.Extension {
		ext, err := KeyUsageExtension(ku, true)
		if err != nil {
			t.Fatal(err)
		}
		return []pkix.Extension{ext}
	}
	csr := func(key any, cn string, dns []string, ext []pkix.Extension) *x509.CertificateRequest {
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
			Subject: pkix.Name{CommonName: cn}, DNSNames: dns, ExtraExtensions: ext}, key)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificateRequest(der)
		return c
	}
	tests := []struct {
		name    string
		csr     *x509.CertificateRequest
		wantKU  x509.KeyUsage
		wantErr string
	}{
		{"ok/rsa-default-usage", csr(rsaKey, "dev", []string{"dev.example"}, nil), x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, ""},
		{"ok/ec-default-usage", csr(ecKey, "dev", nil, nil), x509.KeyUsageDigitalSignature, ""},
		{"ok/requested-usage", csr(rsaKey, "dev", nil, kuExt(x509.KeyUsageDigitalSignature)), x509.KeyUsageDigitalSignature, ""},
		{"fail/usage-not-allowed", csr(rsaKey, "dev", nil, kuExt(x509.KeyUsageDigitalSignature|x509.KeyUsageCertSign)), 0, "keyCertSign"},
		{"fail/small-rsa", csr(smallKey, "dev", nil, nil), 0, "1024 bits"},
		{"fail/no-subject", csr(rsaKey, "", nil, nil), 0, "names no subject"},
		{"fail/common name over 64", csr(rsaKey, strings.Repeat("c", 65), nil, nil), 0, "RFC 5280 allows at most 64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cert, err := a.Issue(tt.csr, proc, IssueOptions{}, testNow, rand.Reader)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(model.ErrorMessage(err), tt.wantErr) {
					t.Fatalf("Issue error = %v; want one naming %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cert.KeyUsage != tt.wantKU {
				t.Errorf("KeyUsage = %s; want %s", KeyUsageString(cert.KeyUsage), KeyUsageString(tt.wantKU))
			}
			if len(cert.ExtKeyUsage) != 1 || cert.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
				t.Errorf("ExtKeyUsage = %v; want [clientAuth]", cert.ExtKeyUsage)
			}
			if got, want := cert.NotAfter, testNow.AddDate(0, 0, 30); !got.Equal(want) {
				t.Errorf("NotAfter = %v; want %v", got, want)
			}
			if err := cert.CheckSignatureFrom(a.CA); err != nil {
				t.Errorf("certificate not signed by the CA: %v", err)
			}
			if cert.SerialNumber.BitLen() < 64 {
				t.Errorf("serial has %d bits; want at least 64", cert.SerialNumber.BitLen())
			}
		})
	}
}

func bigOne() *big.Int { return big.NewInt(1) }

func TestProcedureRules(t *testing.T) {
	a, err := NewAuthority("rsa2048", "Test", testNow, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	csr := func(key any, cn string, dns ...string) *x509.CertificateRequest {
		der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn, Organization: []string{"Device Org"}}, DNSNames: dns}, key)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificateRequest(der)
		return c
	}
	base := model.CertificateProcedure{Name: "rules", KeyUsageMode: model.KeyUsageFromCSR, KeyUsages: "digitalSignature,keyEncipherment", ValidityDays: 10}
	with := func(f func(p *model.CertificateProcedure)) *model.CertificateProcedure {
		p := base
		f(&p)
		return &p
	}
	tests := []struct {
		name        string
		proc        *model.CertificateProcedure
		csr         *x509.CertificateRequest
		wantErr     string
		wantSubject string
	}{
		{"ok/dns-pattern", with(func(p *model.CertificateProcedure) { p.DNSNamePatterns = "*.corp.example, vpn.example" }), csr(rsaKey, "d", "laptop.corp.example", "VPN.example"), "", "CN=d,O=Device Org"},
		{"fail/dns-outside-pattern", with(func(p *model.CertificateProcedure) { p.DNSNamePatterns = "*.corp.example" }), csr(rsaKey, "d", "a.b.corp.example"), "a.b.corp.example", ""},
		{"ok/subject-template", with(func(p *model.CertificateProcedure) { p.SubjectTemplate = "CN={cn} SEG,O=Company" }), csr(rsaKey, "dev7"), "", "CN=dev7 SEG,O=Company"},
		{"ok/subject-template-escapes-cn", with(func(p *model.CertificateProcedure) { p.SubjectTemplate = "cn={cn} SEG,o=Company" }), csr(rsaKey, "Doe, John"), "", `CN=Doe\, John SEG,O=Company`},
		{"fail/bad-template", with(func(p *model.CertificateProcedure) { p.SubjectTemplate = "XX=1" }), csr(rsaKey, "dev7"), "subject template", ""},
		{"fail/template makes the common name over 64", with(func(p *model.CertificateProcedure) { p.SubjectTemplate = "CN={cn} SEG,O=Company" }), csr(rsaKey, strings.Repeat("d", 62)), "would have 66 characters", ""},
		{"ok/curve-allowed", with(func(p *model.CertificateProcedure) { p.AllowedCurves = "P-384" }), csr(p384, "ec"), "", "CN=ec,O=Device Org"},
		{"fail/curve-not-allowed", with(func(p *model.CertificateProcedure) { p.AllowedCurves = "P-256" }), csr(p384, "ec"), "P-384 is not allowed", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cert, err := a.Issue(tt.csr, tt.proc, IssueOptions{CRLURL: "http://x/crl", CAIssuersURL: "http://x/ca"}, testNow, rand.Reader)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(model.ErrorMessage(err), tt.wantErr) {
					t.Fatalf("Issue = %v; want an error naming %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := cert.Subject.String(); got != tt.wantSubject {
				t.Errorf("subject %q; want %q", got, tt.wantSubject)
			}
			if len(cert.CRLDistributionPoints) != 1 || len(cert.IssuingCertificateURL) != 1 {
				t.Errorf("CRL DP %v, CA issuers %v; want one each", cert.CRLDistributionPoints, cert.IssuingCertificateURL)
			}
		})
	}
}

func TestCRL(t *testing.T) {
	a, err := NewAuthority("p256", "Test", testNow, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	at := testNow.Add(-time.Hour)
	crl, err := a.CRL([]model.Certificate{{Serial: "0abc", RevokedAt: &at, RevocationReason: model.ReasonKeyCompromise}}, 7, testNow, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := crl.CheckSignatureFrom(a.CA); err != nil {
		t.Errorf("CRL signature: %v", err)
	}
	if crl.Number.Int64() != 7 || !crl.NextUpdate.Equal(testNow.Add(CRLValidity)) || len(crl.RevokedCertificateEntries) != 1 ||
		crl.RevokedCertificateEntries[0].SerialNumber.Int64() != 0xabc || crl.RevokedCertificateEntries[0].ReasonCode != model.ReasonKeyCompromise {
		t.Errorf("CRL number %v next %v entries %+v; want 7, %v, serial abc keyCompromise", crl.Number, crl.NextUpdate, crl.RevokedCertificateEntries, testNow.Add(CRLValidity))
	}
}

func TestNDESThumbprint(t *testing.T) {
	a, err := NewAuthority("rsa2048", "Test", testNow, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if got := NDESThumbprint(a.CA); !regexp.MustCompile(`^[0-9A-F]{8} [0-9A-F]{8} [0-9A-F]{8} [0-9A-F]{8}$`).MatchString(got) {
		t.Errorf("NDESThumbprint = %q; want four groups of eight upper-case hex digits", got)
	}
}
