package main

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scepgate/scepgate/internal/proctest"
	"github.com/scepgate/scepgate/pki"
)

// TestCARollover runs a CA rollover as RFC 8894 describes against a real
// scepgate serve: prepare, GetNextCACert (checked by our scepclient and
// by openssl), activate; a certificate of the old CA then renews into the
// new CA, and the old CA's CRL stays published.
func TestCARollover(t *testing.T) {
	proctest.RequireTool(t, "openssl", "openssl")
	bin := ourScepclient(t)
	data := filepath.Join(t.TempDir(), "data")
	srv := startServer(t, data, nil)
	tp := shortLivedHandler(t, srv, "renew")
	url := srv.URL + "/pgwy/scep/renew"
	capsURL := url + "?operation=GetCACaps"

	if code, out, errOut := srv.run(t, "registration", "add", "--token-procedure", tp, "--password", "rollover-pw"); code != 0 {
		t.Fatalf("registration add (%d): %s%s", code, out, errOut)
	}
	dir := t.TempDir()
	conf := "caCertUrl = " + url + "?operation=GetCACert\ncertRequestUrl = " + url + "\nraCert = temp/ra.cer\nworkdir = temp\n" +
		"p12.certFile = temp/scep.cer\np12.keyToken.keyFile = temp/scep.p12\np12.keyToken.password = abcd1234\n" +
		"p12.keyLength = 2048\nscep.cipherAlg = aes\np10.subject = cn={0},o=Company\n"
	client := func(pw string, args ...string) (string, error) {
		t.Helper()
		c := conf
		if pw != "" {
			c += "p10.password = " + pw + "\n"
		}
		_ = os.WriteFile(filepath.Join(dir, "client.conf"), []byte(c), 0o600)
		cmd := exec.Command(bin, append([]string{"-config", "client.conf"}, args...)...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	mustClient := func(pw string, args ...string) string {
		t.Helper()
		out, err := client(pw, args...)
		if err != nil {
			t.Fatalf("scepclient %s: %v\n%s\nserver log:\n%s", strings.Join(args, " "), err, out, srv.Logs())
		}
		return out
	}
	temp := filepath.Join(dir, "temp")
	mustClient("rollover-pw", "enroll", "rollover-device")
	oldCert := readPEMCert(t, filepath.Join(temp, "scep.cer"))
	oldChain := filepath.Join(t.TempDir(), "old-chain.pem")
	caChainPEM(t, srv.URL, oldChain)

	if b := httpGet(t, capsURL); bytes.Contains(b, []byte("GetNextCACert")) {
		t.Errorf("GetCACaps before prepare = %q; want no GetNextCACert", b)
	}
	if out, err := client("", "getnextcacert"); err == nil {
		t.Errorf("scepclient getnextcacert with no next CA succeeded:\n%s", out)
	}

	code, out, errOut := srv.run(t, "ca", "rollover", "prepare")
	if code != 0 || !strings.Contains(out, "Next CA:") {
		t.Fatalf("ca rollover prepare (%d): %s%s", code, out, errOut)
	}
	waitFor(t, "GetCACaps to list GetNextCACert", func() bool { return bytes.Contains(httpGet(t, capsURL), []byte("GetNextCACert\n")) })
	if _, show, _ := srv.run(t, "ca", "show"); !strings.Contains(show, "Next CA (prepared") {
		t.Errorf("ca show after prepare lacks the next CA:\n%s", show)
	}

	// Our scepclient checks the signature against the CA it knows.
	if out := mustClient("", "getnextcacert"); !strings.Contains(out, "Next CA: ") {
		t.Errorf("scepclient getnextcacert printed:\n%s", out)
	}
	nextCerts := readPEMCerts(t, filepath.Join(temp, "next-ca-chain.pem"))
	if len(nextCerts) != 1 || bytes.Equal(nextCerts[0].Raw, readPEMCerts(t, oldChain)[0].Raw) {
		t.Fatalf("next CA chain: %d certificates; want the new CA alone", len(nextCerts))
	}
	nextCA := nextCerts[0]
	if nextCA.CheckSignatureFrom(nextCA) != nil {
		t.Errorf("the next CA is not self-signed")
	}

	// openssl verifies GetNextCACert against the current CA, and its
	// content holds the next RA and CA.
	work := t.TempDir()
	raw := filepath.Join(work, "next.der")
	_ = os.WriteFile(raw, httpGet(t, url+"?operation=GetNextCACert"), 0o644)
	content := filepath.Join(work, "content.der")
	if b, err := exec.Command("openssl", "cms", "-verify", "-inform", "DER", "-in", raw, "-CAfile", oldChain,
		"-purpose", "any", "-out", content).CombinedOutput(); err != nil || !strings.Contains(string(b), "Verification successful") {
		t.Fatalf("openssl cms -verify GetNextCACert: %v\n%s", err, b)
	}
	b, err := exec.Command("openssl", "pkcs7", "-inform", "DER", "-in", content, "-print_certs", "-noout").CombinedOutput()
	if err != nil || !strings.Contains(string(b), nextCA.Subject.CommonName) || !strings.Contains(string(b), "SCEP RA") {
		t.Errorf("openssl pkcs7 -print_certs of the content: %v\n%s\nwant the next CA %q and its RA", err, b, nextCA.Subject.CommonName)
	}

	// Until activation the current CA goes on.
	if certs, _ := pki.ParseDegenerate(httpGet(t, url+"?operation=GetCACert")); len(certs) != 2 || certs[1].Equal(nextCA) {
		t.Errorf("GetCACert before activation serves the next CA")
	}
	if code, out, errOut := srv.run(t, "ca", "rollover", "activate"); code != 0 {
		t.Fatalf("ca rollover activate (%d): %s%s", code, out, errOut)
	}
	waitFor(t, "GetCACert to serve the new CA", func() bool {
		certs, err := pki.ParseDegenerate(httpGet(t, url+"?operation=GetCACert"))
		return err == nil && len(certs) == 2 && certs[1].Equal(nextCA)
	})
	if b := httpGet(t, capsURL); bytes.Contains(b, []byte("GetNextCACert")) {
		t.Errorf("GetCACaps after activation = %q; want no GetNextCACert", b)
	}
	if code, _, _ := srv.run(t, "ca", "rollover", "activate"); code == 0 {
		t.Errorf("a second activate with nothing prepared succeeded")
	}

	// The old CA's certificate renews into the new CA.
	mustClient("", "getcacert")
	mustClient("", "renew")
	renewedPath := filepath.Join(temp, "scep.cer")
	renewed := readPEMCert(t, renewedPath)
	if renewed.CheckSignatureFrom(nextCA) != nil || renewed.SerialNumber.Cmp(oldCert.SerialNumber) == 0 {
		t.Errorf("renewed certificate issued by %q; want a new certificate from the new CA %q", renewed.Issuer, nextCA.Subject)
	}
	opensslVerify(t, srv.URL, renewedPath)

	// The old CA's CRL is still published, and signed by the old CA.
	if len(oldCert.CRLDistributionPoints) != 1 {
		t.Fatalf("old certificate CRL distribution points %v; want one", oldCert.CRLDistributionPoints)
	}
	u := oldCert.CRLDistributionPoints[0]
	crlPath := filepath.Join(work, "old.crl")
	_ = os.WriteFile(crlPath, httpGet(t, srv.URL+u[strings.Index(u, "/pgwy/"):]), 0o644)
	if b, err := exec.Command("openssl", "crl", "-inform", "DER", "-in", crlPath, "-CAfile", oldChain, "-noout").CombinedOutput(); err != nil || !strings.Contains(string(b), "verify OK") {
		t.Errorf("openssl crl of the old CA after activation: %v\n%s", err, b)
	}
	if strings.Contains(srv.Logs(), "level=ERROR") {
		t.Errorf("server logged errors:\n%s", srv.Logs())
	}
}

// waitFor polls cond for up to 10 seconds (the server reloads settings
// within a second).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// readPEMCerts reads every PEM certificate in path.
func readPEMCerts(t *testing.T, path string) []*x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		if block, b = pem.Decode(b); block == nil {
			return certs
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, c)
	}
}
