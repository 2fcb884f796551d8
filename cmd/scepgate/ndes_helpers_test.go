package main

import (
	"bytes"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"regexp"
	"testing"
	"unicode/utf16"
)

// ndesFleetRegexp is how Fleet finds the password on an NDES page.
var ndesFleetRegexp = regexp.MustCompile(`(?i)The enrollment challenge password is: <B> (?P<password>\S*)`)

// ndesGet sends a GET with Basic credentials (when user is not empty).
func ndesGet(t *testing.T, url, user, pass string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// ndesDecodeUTF16LE decodes an NDES page, skipping a byte-order mark.
func ndesDecodeUTF16LE(t *testing.T, b []byte) string {
	t.Helper()
	b = bytes.TrimPrefix(b, []byte{0xFF, 0xFE})
	if len(b)%2 != 0 {
		t.Fatalf("body has %d bytes; want an even number for UTF-16", len(b))
	}
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = binary.LittleEndian.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}

// ndesPassword fetches a one-time password from the NDES page at url the
// way an MDM does.
func ndesPassword(t *testing.T, url, user, pass string) string {
	t.Helper()
	resp, body := ndesGet(t, url, user, pass)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d (%q); want 200", url, resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/html" {
		t.Errorf("GET %s: Content-Type %q; want exactly text/html", url, ct)
	}
	page := ndesDecodeUTF16LE(t, body)
	m := ndesFleetRegexp.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("GET %s: no password on the page:\n%s", url, page)
	}
	return m[1]
}

// ndesReadCert reads a PEM certificate file.
func ndesReadCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("%s holds no PEM block", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
