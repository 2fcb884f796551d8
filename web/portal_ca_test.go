package web_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"io"
	"mime/multipart"
	"net/http"
	"strings"
	"testing"

	"github.com/scepgate/scepgate/admin"
	"github.com/scepgate/scepgate/pki"
	"software.sslmate.com/src/go-pkcs12"
)

// postFiles sends a multipart form with the form token of the page at from.
func (b *browser) postFiles(from, path string, fields map[string]string, files map[string][]byte) page {
	b.p.t.Helper()
	m := csrfRE.FindStringSubmatch(b.get(from).body)
	if m == nil {
		b.p.t.Fatalf("no form token on %s", from)
	}
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	_ = w.WriteField("csrf", m[1])
	for k, v := range fields {
		_ = w.WriteField(k, v)
	}
	for k, v := range files {
		fw, _ := w.CreateFormFile(k, k+".p12")
		_, _ = io.Copy(fw, bytes.NewReader(v))
	}
	_ = w.Close()
	req, _ := http.NewRequest(http.MethodPost, b.p.srv.URL+path, &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	return b.do(req)
}

func TestCAImport(t *testing.T) {
	p := newPortal(t)
	admin := p.browser()
	admin.signIn("admin")
	a, err := pki.NewAuthority("rsa2048", "Imported Org", p.clock.Now(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, err := pki.NewAuthority("p256", "Other Org", p.clock.Now(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	enc := func(key any, c *x509.Certificate) []byte {
		b, err := pkcs12.Modern.Encode(key, c, nil, "pw-123456")
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	caFile, raFile, otherRA := enc(a.CAKey, a.CA), enc(a.RAKey, a.RA), enc(other.RAKey, other.RA)

	for _, tc := range []struct {
		name   string
		fields map[string]string
		files  map[string][]byte
		want   string
	}{
		{"fail/no confirmation", map[string]string{"password": "pw-123456"}, map[string][]byte{"ca_p12": caFile, "ra_p12": raFile}, `data-testid="error-confirm"`},
		{"fail/wrong password", map[string]string{"password": "nope", "confirm": "on"}, map[string][]byte{"ca_p12": caFile, "ra_p12": raFile}, "the password is wrong"},
		{"fail/RA of another CA", map[string]string{"password": "pw-123456", "confirm": "on"}, map[string][]byte{"ca_p12": caFile, "ra_p12": otherRA}, "it is not issued by the CA"},
		{"fail/missing file", map[string]string{"password": "pw-123456", "confirm": "on"}, map[string][]byte{"ca_p12": caFile}, `data-testid="error-ra_p12"`},
	} {
		got := admin.postFiles("/ca", "/ca/import", tc.fields, tc.files)
		if got.status != http.StatusUnprocessableEntity || !strings.Contains(got.body, tc.want) {
			t.Errorf("%s: status %d, want 422 with %q", tc.name, got.status, tc.want)
		}
	}
	got := admin.postFiles("/ca", "/ca/import", map[string]string{"password": "pw-123456", "confirm": "on"}, map[string][]byte{"ca_p12": caFile, "ra_p12": raFile})
	if got.status != http.StatusSeeOther {
		t.Fatalf("ok/import: status %d, want 303; body %s", got.status, got.body)
	}
	if page := admin.get("/ca"); !strings.Contains(page.body, "O=Imported Org") || !strings.Contains(page.body, pki.SHA256Fingerprint(a.CA)) {
		t.Errorf("ok/import: the CA page does not show the imported CA")
	}
	aud := p.browser()
	aud.signIn("auditor")
	if got := aud.postFiles("/ca", "/ca/import", nil, nil); got.status != http.StatusForbidden {
		t.Errorf("fail/auditor imports: status %d, want 403", got.status)
	}
}

// TestCAPageShowsNextCA: once a rollover is prepared, the CA page shows
// the next CA and RA beside the current ones.
func TestCAPageShowsNextCA(t *testing.T) {
	p := newPortal(t)
	b := p.browser()
	b.signIn("auditor")
	if page := b.get("/ca"); strings.Contains(page.body, `data-testid="cert-Next CA"`) {
		t.Errorf("the CA page shows a next CA before one is prepared")
	}
	next, err := p.admin.PrepareRollover(context.Background(), admin.CLI, "p256")
	if err != nil {
		t.Fatal(err)
	}
	page := b.get("/ca")
	for _, want := range []string{`data-testid="cert-CA"`, `data-testid="cert-Next CA"`, `data-testid="cert-Next RA"`,
		pki.SHA256Fingerprint(next.CA), pki.SHA256Fingerprint(next.RA)} {
		if !strings.Contains(page.body, want) {
			t.Errorf("the CA page after prepare lacks %q", want)
		}
	}
}
