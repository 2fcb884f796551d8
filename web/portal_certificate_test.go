package web_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/store"
)

// issued records a certificate with serial (hex) and every extension the
// certificate page shows, issued by handler 1 under certificate procedure
// 1; renews, when set, is the serial it renews (revoked as superseded).
func (p *portal) issued(cn, serial, renews string) int64 {
	p.t.Helper()
	n, ok := new(big.Int).SetString(serial, 16)
	if !ok {
		p.t.Fatalf("serial %q is not hex", serial)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := p.clock.Now()
	u, _ := url.Parse("urn:device:" + cn)
	tmpl := &x509.Certificate{SerialNumber: n, Subject: pkix.Name{CommonName: cn}, NotBefore: now, NotAfter: now.Add(20 * 24 * time.Hour),
		DNSNames: []string{cn + ".example"}, IPAddresses: []net.IP{net.ParseIP("192.0.2.7")}, EmailAddresses: []string{cn + "@example.com"}, URIs: []*url.URL{u},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		CRLDistributionPoints: []string{"http://pki.example/crl/ca.crl"}, IssuingCertificateURL: []string{"http://pki.example/ca.cer"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		p.t.Fatal(err)
	}
	one := int64(1)
	c := &model.Certificate{Serial: n.Text(16), Subject: "CN=" + cn, DNSNames: cn + ".example", NotBefore: now, NotAfter: tmpl.NotAfter,
		DER: der, State: model.CertActive, TransactionID: "tx-" + serial, HandlerID: &one, CertificateProcedureID: &one}
	is := store.Issue{Cert: c}
	if renews != "" {
		is.Supersede = []string{renews}
		is.Audit = &model.AuditEvent{Actor: "scep:scep", Action: "certificate.renew", Target: "certificate " + c.Serial,
			Detail: "renews " + renews + `, subject "CN=` + cn + `", transaction tx-` + serial}
	}
	if err := p.db.RecordIssue(context.Background(), is); err != nil {
		p.t.Fatal(err)
	}
	return c.ID
}

func TestCertificateSerialsAndDetails(t *testing.T) {
	p := newPortal(t)
	const first, second = "4a603d7f1122334", "5b1"
	p.issued("router9", first, "")
	id := p.issued("router9", second, first)
	b := p.browser()
	b.signIn("auditor")

	list := b.get("/certificates")
	if !strings.Contains(list.body, ">04A603D7F1122334<") || !strings.Contains(list.body, ">05B1<") {
		t.Errorf("ok/list serials: want the openssl form 04A603D7F1122334 and 05B1; body %s", list.body)
	}
	for _, q := range []string{"04A603D7F1122334", "04:A6:03:D7:F1:12:23:34", "04 a6 03 d7 f1 12 23 34", "4a603d7f1122334", "04A603D7"} {
		got := b.get("/certificates?q=" + url.QueryEscape(q))
		if !strings.Contains(got.body, ">04A603D7F1122334<") || strings.Contains(got.body, ">05B1<") {
			t.Errorf("ok/search %q: want only the certificate 04A603D7F1122334", q)
		}
	}

	cid := strconv.FormatInt(id, 10)
	got := b.get("/certificates/" + cid)
	for _, want := range []string{
		`data-testid="cert-serial">05B1<`, `data-testid="cert-serial-colons">05:B1<`,
		`data-testid="cert-key">ECDSA P-256<`, `data-testid="cert-key-usage">digitalSignature<`, `data-testid="cert-eku">clientAuth<`,
		`data-testid="cert-sha256">`, `data-testid="cert-sha1">`,
		`data-testid="san-dns"><div>router9.example<`, `data-testid="san-ip"><div>192.0.2.7<`, `data-testid="san-email"><div>router9@example.com<`, `data-testid="san-uri"><div>urn:device:router9<`,
		`href="http://pki.example/crl/ca.crl"`, `href="http://pki.example/ca.cer"`,
		`data-testid="cert-handler"><a href="/handlers/1">scep</a>`, `data-testid="cert-token-procedure"><a href="/procedures/token/1">Device enroll</a>`,
		`data-testid="cert-certificate-procedure"><a href="/procedures/certificate/1">Device</a>`,
		`data-testid="cert-renews">`, "04A603D7F1122334 (revoked)",
	} {
		if !strings.Contains(got.body, want) {
			t.Errorf("ok/certificate page lacks %s", want)
		}
	}
	old, _ := p.db.FindCertificateBySerial(context.Background(), first)
	got = b.get("/certificates/" + strconv.FormatInt(old.ID, 10))
	if !strings.Contains(got.body, `data-testid="cert-renewed-by"><div><a href="/certificates/`+cid+`">05B1 (active)</a>`) {
		t.Errorf("ok/renewed certificate links to its renewal; body %s", got.body)
	}
	if !strings.Contains(got.body, "superseded") {
		t.Errorf("ok/renewed certificate: revocation reason superseded not shown")
	}
}

func TestCAPageCRLAndDashboardExpiring(t *testing.T) {
	p := newPortal(t)
	_, certID := p.enrolled("printer1")
	b := p.browser()
	b.signIn("admin")
	got := b.get("/ca")
	for _, want := range []string{`data-testid="ca-crl"`, `data-testid="crl-link">/pgwy/ca/`, `data-testid="crl-number">`, `data-testid="crl-this-update"><time datetime="`, `data-testid="crl-next-update"><time datetime="`} {
		if !strings.Contains(got.body, want) {
			t.Errorf("ok/CA page lacks %s; body %s", want, got.body)
		}
	}
	got = b.get("/")
	if !strings.Contains(got.body, `href="/certificates/`+strconv.FormatInt(certID, 10)+`" data-testid="expiring-link">CN=printer1<`) {
		t.Errorf("ok/dashboard lists the certificate ending in 20 days; body %s", got.body)
	}
}
