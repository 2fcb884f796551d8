package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/scepgate/scepgate/internal/proctest"
	"github.com/scepgate/scepgate/pki"
	"github.com/scepgate/scepgate/store"
)

// startServe runs `scepgate serve ARGS` with the extra environment env
// and waits for its "listening" log line.
func startServe(t *testing.T, env []string, args ...string) *proctest.Process {
	t.Helper()
	p := proctest.Start(t, env, scepgateBin, append([]string{"serve"}, args...)...)
	for deadline := time.Now().Add(60 * time.Second); !strings.Contains(p.Output(), "msg=listening"); {
		if p.Exited() || time.Now().After(deadline) {
			t.Fatalf("scepgate serve %s did not start:\n%s", strings.Join(args, " "), p.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return p
}

// waitLog waits until the process has logged a line matching re.
func waitLog(t *testing.T, p *proctest.Process, re string) {
	t.Helper()
	r := regexp.MustCompile(re)
	for deadline := time.Now().Add(10 * time.Second); !r.MatchString(p.Output()); {
		if time.Now().After(deadline) {
			t.Fatalf("no log line matching %q within 10 s:\n%s", re, p.Output())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tlsCA is a CA of the test's own that issues the server's TLS
// certificates.
type tlsCA struct {
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	pemPath string
}

func newTLSCA(t *testing.T, dir string) *tlsCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "TLS test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &tlsCA{cert: cert, key: key, pemPath: filepath.Join(dir, "tls-ca.pem")}
	if err := os.WriteFile(ca.pemPath, pemCert(cert), 0o644); err != nil {
		t.Fatal(err)
	}
	return ca
}

// issue writes a server certificate for 127.0.0.1 and localhost with
// serial to certPath and its key to keyPath.
func (ca *tlsCA) issue(t *testing.T, certPath, keyPath string, serial int64) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certPath, pemCert(cert), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert
}

// tlsClient trusts only the CA in pemPath and follows no redirects.
func tlsClient(t *testing.T, pemPath string) *http.Client {
	t.Helper()
	b, err := os.ReadFile(pemPath)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		t.Fatalf("no certificate in %s", pemPath)
	}
	return &http.Client{
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// servedLeaf returns the certificate the server at addr presents now.
func servedLeaf(t *testing.T, addr string) *x509.Certificate {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) // the test compares the certificate itself
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0]
}

// curlHeaders fetches url with curl, trusting only caFile, and returns the
// response's status line and headers, lower-cased.
func curlHeaders(t *testing.T, caFile, url string) string {
	t.Helper()
	curl := proctest.RequireTool(t, "curl", "curl")
	out, err := exec.Command(curl, "-sS", "--fail-with-body", "--cacert", caFile, "-D", "-", "-o", os.DevNull, url).CombinedOutput()
	if err != nil {
		t.Fatalf("curl --cacert %s %s: %v\n%s", caFile, url, err, out)
	}
	return strings.ToLower(string(out))
}

func do(t *testing.T, c *http.Client, method, url string, header http.Header, user, pass string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if user != "" {
		req.SetBasicAuth(user, pass)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

// challengeJSON fetches an NDES one-time password as JSON.
func challengeJSON(t *testing.T, c *http.Client, url, user, pass string, header http.Header) string {
	t.Helper()
	h := http.Header{"Accept": {"application/json"}}
	for k, v := range header {
		h[k] = v
	}
	resp, body := do(t, c, http.MethodGet, url, h, user, pass)
	m := regexp.MustCompile(`"challenge":"([0-9A-F]+)"`).FindSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("GET %s: status %d, %s; want 200 with a challenge", url, resp.StatusCode, body)
	}
	return string(m[1])
}

var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// TestHTTPSWithCertificateFiles runs the server with a certificate of our
// own: the portal over HTTPS only (HSTS, Secure cookies), SCEP over plain
// HTTP on --listen-scep, enrollments with micromdm's scepclient over both,
// and the certificate reloaded on SIGHUP and when its files change.
func TestHTTPSWithCertificateFiles(t *testing.T) {
	proctest.RequireTool(t, "scepclient", "scep")
	dir := t.TempDir()
	ca := newTLSCA(t, dir)
	certFile, keyFile := filepath.Join(dir, "tls.pem"), filepath.Join(dir, "tls.key")
	first := ca.issue(t, certFile, keyFile, 1001)
	data := filepath.Join(dir, "data")
	addr, scepAddr := proctest.FreeAddr(t), proctest.FreeAddr(t)
	const ndesPW = "https-ndes-password"
	env := []string{"SCEPGATE_ADMIN_PASSWORD=https-admin-password", "SCEPGATE_NDES_PASSWORD=" + ndesPW,
		"SCEPGATE_TLS_CERT=" + certFile, "SCEPGATE_TLS_KEY=" + keyFile} // the files from the environment
	p := startServe(t, env, "--init", "--data", data, "--listen", addr, "--listen-scep", scepAddr)
	base, plain := "https://"+addr, "http://"+scepAddr
	client := tlsClient(t, ca.pemPath)

	t.Run("ok/portal over HTTPS with HSTS and Secure cookies (curl)", func(t *testing.T) {
		h := curlHeaders(t, ca.pemPath, base+"/signin")
		for _, want := range []string{" 200", "strict-transport-security: max-age=31536000\r\n", "set-cookie: scepgate_csrf="} {
			if !strings.Contains(h, want) {
				t.Errorf("curl %s/signin: headers\n%s\nwant %q", base, h, want)
			}
		}
		if !regexp.MustCompile(`set-cookie: scepgate_csrf=[^\r\n]*; secure`).MatchString(h) {
			t.Errorf("curl %s/signin: headers\n%s\nwant the form cookie Secure", base, h)
		}
	})
	t.Run("ok/sign in over HTTPS gets a Secure session cookie", func(t *testing.T) {
		resp, body := do(t, client, http.MethodGet, base+"/signin", nil, "", "")
		m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindSubmatch(body)
		if m == nil {
			t.Fatalf("no form token on /signin: %d %s", resp.StatusCode, body)
		}
		form := url.Values{"username": {"admin"}, "password": {"https-admin-password"}, "csrf": {string(m[1])}}
		req, _ := http.NewRequest(http.MethodPost, base+"/signin", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		for _, c := range resp.Cookies() {
			req.AddCookie(c)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		var session *http.Cookie
		for _, c := range resp.Cookies() {
			if c.Name == "scepgate_session" {
				session = c
			}
		}
		if resp.StatusCode != http.StatusSeeOther || session == nil || !session.Secure || !session.HttpOnly {
			t.Errorf("POST /signin: status %d, session cookie %+v; want 303 and a Secure, HttpOnly session cookie", resp.StatusCode, session)
		}
	})
	t.Run("fail/the HTTPS port does not answer plain HTTP", func(t *testing.T) {
		if resp, _ := do(t, noFollow, http.MethodGet, "http://"+addr+"/signin", nil, "", ""); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("GET http://%s/signin: status %d; want 400 (an HTTP request to an HTTPS server)", addr, resp.StatusCode)
		}
	})
	t.Run("ok/the plain listener serves GetCACaps and redirects the rest", func(t *testing.T) {
		resp, body := do(t, noFollow, http.MethodGet, plain+"/pgwy/scep?operation=GetCACaps", nil, "", "")
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "POSTPKIOperation") {
			t.Errorf("GetCACaps over plain HTTP: status %d, %q; want 200 with the capabilities", resp.StatusCode, body)
		}
		for _, path := range []string{"/", "/signin", "/ndes", "/pgwy/scep/ndeschallenge/", "/certsrv/mscep_admin/"} {
			resp, _ := do(t, noFollow, http.MethodGet, plain+path, nil, "ndesadmin", ndesPW)
			if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != base+path {
				t.Errorf("GET %s over plain HTTP: status %d, Location %q; want 301 to %s", path, resp.StatusCode, resp.Header.Get("Location"), base+path)
			}
		}
		if resp, _ := do(t, noFollow, http.MethodPost, plain+"/signin", nil, "", ""); resp.StatusCode != http.StatusPermanentRedirect {
			t.Errorf("POST /signin over plain HTTP: status %d; want 308", resp.StatusCode)
		}
	})
	t.Run("ok/scepclient enrolls over HTTPS and over plain HTTP", func(t *testing.T) {
		pw := challengeJSON(t, client, base+"/pgwy/scep/ndeschallenge/", "ndesadmin", ndesPW, nil)
		if _, ok, out := runScepclientEnv(t, []string{"SSL_CERT_FILE=" + ca.pemPath}, base+"/pgwy/scep/ndesrequest", pw, "over-https"); !ok {
			t.Fatalf("scepclient over HTTPS did not enroll:\n%s\nserver log:\n%s", out, p.Output())
		}
		pw = challengeJSON(t, client, base+"/certsrv/mscep_admin/", "ndesadmin", ndesPW, nil)
		certPath, ok, out := runScepclient(t, plain+"/certsrv/mscep/mscep.dll", pw, "over-http")
		if !ok {
			t.Fatalf("scepclient over plain HTTP did not enroll:\n%s\nserver log:\n%s", out, p.Output())
		}
		// Its CRL is at the plain listener, where the certificate says.
		crlURL := ndesReadCert(t, certPath).CRLDistributionPoints[0]
		if !strings.HasPrefix(crlURL, "http://localhost:"+portOf(scepAddr)+"/pgwy/ca/") {
			t.Errorf("CRL distribution point %q; want it on the plain listener, http://localhost:%s/pgwy/ca/...", crlURL, portOf(scepAddr))
		}
		if resp, body := do(t, noFollow, http.MethodGet, plain+crlURL[strings.Index(crlURL, "/pgwy/"):], nil, "", ""); resp.StatusCode != http.StatusOK {
			t.Errorf("CRL over plain HTTP: status %d %q; want 200", resp.StatusCode, body)
		}
	})
	t.Run("ok/SIGHUP reloads the certificate", func(t *testing.T) {
		if got := servedLeaf(t, addr); got.SerialNumber.Cmp(first.SerialNumber) != 0 {
			t.Fatalf("served serial %v; want %v", got.SerialNumber, first.SerialNumber)
		}
		second := ca.issue(t, certFile, keyFile, 1002)
		if err := p.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		// Reloaded by the signal, before any handshake asks.
		waitLog(t, p, `msg="loaded TLS certificate".*sha256=`+regexp.QuoteMeta(pki.SHA256Fingerprint(second)))
		if got := servedLeaf(t, addr); got.SerialNumber.Cmp(second.SerialNumber) != 0 {
			t.Errorf("served serial after SIGHUP %v; want %v", got.SerialNumber, second.SerialNumber)
		}
		h := curlHeaders(t, ca.pemPath, base+"/healthz")
		if !strings.Contains(h, " 200") {
			t.Errorf("curl after the reload: %s", h)
		}

		// A broken pair is refused, and the last good one kept.
		if err := os.WriteFile(keyFile, []byte("not a key\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := p.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		waitLog(t, p, `SIGHUP: still serving the previous TLS certificate`)
		if got := servedLeaf(t, addr); got.SerialNumber.Cmp(second.SerialNumber) != 0 {
			t.Errorf("served serial after a broken reload %v; want still %v", got.SerialNumber, second.SerialNumber)
		}
	})
	t.Run("ok/changed files are read again without a signal", func(t *testing.T) {
		third := ca.issue(t, certFile, keyFile, 1003)
		time.Sleep(1100 * time.Millisecond) // the files are looked at once a second at most
		if got := servedLeaf(t, addr); got.SerialNumber.Cmp(third.SerialNumber) != 0 {
			t.Errorf("served serial after the files changed %v; want %v", got.SerialNumber, third.SerialNumber)
		}
	})
	if strings.Contains(p.Output(), "level=ERROR") && !strings.Contains(p.Output(), "still serving the previous") {
		t.Errorf("server logged errors:\n%s", p.Output())
	}
}

// TestHTTPSWithTheRA serves HTTPS with the RA certificate, which clients
// that trust the CA accept, and which follows a CA import.
func TestHTTPSWithTheRA(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	addr := proctest.FreeAddr(t)
	startServe(t, []string{"SCEPGATE_TLS_RA=true"}, "--init", "--data", data, "--listen", addr)
	insecure := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // only to fetch the CA
	resp, der := do(t, insecure, http.MethodGet, "https://"+addr+"/pgwy/scep?operation=GetCACert", nil, "", "")
	certs, err := pki.ParseDegenerate(der)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GetCACert: %d %v", resp.StatusCode, err)
	}
	var ra, ca *x509.Certificate
	for _, c := range certs {
		if c.IsCA {
			ca = c
		} else {
			ra = c
		}
	}
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, pemCert(ca), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := servedLeaf(t, addr); !got.Equal(ra) {
		t.Errorf("served certificate %q; want the RA %q", got.Subject, ra.Subject)
	}
	if h := curlHeaders(t, caFile, "https://"+addr+"/signin"); !strings.Contains(h, " 200") || !strings.Contains(h, "strict-transport-security: max-age=31536000") {
		t.Errorf("curl --cacert CA https://%s/signin:\n%s\nwant 200 with HSTS", addr, h)
	}

	// After a CA import, the new RA.
	imported, err := pki.NewAuthority("rsa2048", "Imported", time.Now(), rand.Reader, "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	pwFile := filepath.Join(dir, "pw.txt")
	_ = os.WriteFile(pwFile, []byte("p12-secret\n"), 0o600)
	caP12, raP12 := filepath.Join(dir, "ca.p12"), filepath.Join(dir, "ra.p12")
	p12(t, caP12, imported.CAKey, imported.CA, nil, "p12-secret")
	p12(t, raP12, imported.RAKey, imported.RA, []*x509.Certificate{imported.CA}, "p12-secret")
	if code, out, errOut := scepgate(t, nil, "ca", "import", "--data", data, "--ca", caP12, "--ra", raP12, "--password-file", pwFile); code != 0 {
		t.Fatalf("ca import: exit %d %s%s", code, out, errOut)
	}
	for deadline := time.Now().Add(10 * time.Second); !servedLeaf(t, addr).Equal(imported.RA); {
		if time.Now().After(deadline) {
			t.Fatal("the server still presents the old RA 10 s after ca import")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestServeRefusesToStart: a port in use fails before anything is
// created, and a second server on one data folder refuses, while other
// commands work beside the first.
func TestServeRefusesToStart(t *testing.T) {
	dir := t.TempDir()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyAddr := busy.Addr().String()

	t.Run("fail/port in use, new folder", func(t *testing.T) {
		data := filepath.Join(dir, "new")
		code, stdout, stderr := scepgate(t, nil, "serve", "--init", "--data", data, "--listen", busyAddr)
		if code != 1 || !strings.Contains(stderr, "Cannot listen on "+busyAddr+": another program uses that port.") || stdout != "" {
			t.Errorf("exit %d, stdout %q, stderr %q; want 1 naming the address and nothing created", code, stdout, stderr)
		}
		if got := tree(t, data); got != "missing" {
			t.Errorf("data folder after the failed start: %q; want missing", got)
		}
	})

	data := filepath.Join(dir, "data")
	s := startServer(t, data, nil)
	t.Run("fail/port in use, existing folder", func(t *testing.T) {
		before := tree(t, data)
		code, _, stderr := scepgate(t, nil, "serve", "--data", data, "--listen", proctest.FreeAddr(t), "--tls-ra", "--listen-scep", busyAddr)
		if code != 1 || !strings.Contains(stderr, "Cannot listen on "+busyAddr+": another program uses that port. Stop it, or choose another address with --listen-scep.") {
			t.Errorf("exit %d, stderr %q; want 1 naming --listen-scep", code, stderr)
		}
		if after := tree(t, data); after != before {
			t.Errorf("data folder %q after the failed start; want %q", after, before)
		}
	})
	t.Run("fail/a second server on the same folder", func(t *testing.T) {
		code, _, stderr := scepgate(t, nil, "serve", "--init", "--data", data, "--listen", proctest.FreeAddr(t))
		want := fmt.Sprintf("Another scepgate server (process %d) is running on the data folder %s.", s.Cmd.Process.Pid, data)
		if code != 1 || !strings.Contains(stderr, want) {
			t.Errorf("exit %d, stderr %q; want 1 saying %q", code, stderr, want)
		}
		if s.Exited() {
			t.Fatal("the first server ended")
		}
	})
	t.Run("ok/commands beside the server", func(t *testing.T) {
		if code, out, errOut := scepgate(t, nil, "registration", "pending", "--data", data); code != 0 {
			t.Errorf("registration pending beside the server: exit %d %s%s", code, out, errOut)
		}
	})
	t.Run("ok/a server on another folder", func(t *testing.T) {
		startServer(t, filepath.Join(dir, "other"), nil)
	})
}

// TestBehindAProxy: from a trusted proxy, X-Forwarded-For names the
// client (in the registration and the audit log) and X-Forwarded-Proto:
// https makes cookies Secure; the server warns about a public URL that
// only this machine can reach.
func TestBehindAProxy(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	const ndesPW = "proxy-ndes-password"
	addr := proctest.FreeAddr(t)
	_, port, _ := net.SplitHostPort(addr)
	// 0.0.0.0: on the network, with the default public URL http://localhost:PORT.
	p := startServe(t, []string{"SCEPGATE_NDES_PASSWORD=" + ndesPW, "SCEPGATE_TRUSTED_PROXIES=192.0.2.0/24,127.0.0.1"},
		"--init", "--data", data, "--listen", "0.0.0.0:"+port)
	base := "http://" + addr

	pw := challengeJSON(t, noFollow, base+"/pgwy/scep/ndeschallenge/", "ndesadmin", ndesPW,
		http.Header{"X-Forwarded-For": {"198.51.100.23, 192.0.2.9"}})
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(data, "scepgate.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mk, err := pki.ReadMasterKey(data, "")
	if err != nil {
		t.Fatal(err)
	}
	regs, err := db.FindRegistrationsByChallenge(ctx, mk.ChallengeHash(pw))
	if err != nil || len(regs) != 1 || regs[0].ClientAddr != "198.51.100.23" {
		t.Errorf("registration of the password: %+v, %v; want one from 198.51.100.23, the client before the trusted proxies", regs, err)
	}
	resp, _ := do(t, noFollow, http.MethodGet, base+"/signin", http.Header{"X-Forwarded-Proto": {"https"}}, "", "")
	if c := resp.Header.Get("Set-Cookie"); !strings.Contains(c, "; Secure") || resp.Header.Get("Strict-Transport-Security") == "" {
		t.Errorf("GET /signin from the trusted proxy with X-Forwarded-Proto: https: Set-Cookie %q, HSTS %q; want Secure and HSTS", c, resp.Header.Get("Strict-Transport-Security"))
	}
	if !strings.Contains(p.Output(), "Set --public-url (or SCEPGATE_PUBLIC_URL) to the URL devices reach this server at") {
		t.Errorf("the server did not warn about the public URL http://localhost:%s while listening on 0.0.0.0:\n%s", port, p.Output())
	}
	if strings.Contains(p.Output(), "travel in clear text") {
		t.Errorf("the server warned about plain HTTP behind a trusted proxy:\n%s", p.Output())
	}
}

// TestServeFlagsUsage: flags that do not go together are usage errors,
// found before anything happens.
func TestServeFlagsUsage(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"fail/cert-without-key", nil, []string{"--tls-cert", "a.pem"}, "--tls-cert and --tls-key go together"},
		{"fail/cert-and-ra", nil, []string{"--tls-cert", "a.pem", "--tls-key", "a.key", "--tls-ra"}, "choose one"},
		{"fail/scep-listener-without-tls", nil, []string{"--listen-scep", ":8080"}, "--listen-scep is the plain-HTTP listener beside HTTPS"},
		{"fail/bad-proxy", nil, []string{"--trusted-proxy", "10.0.0.0/8,proxy.example"}, `--trusted-proxy "proxy.example" is not an IP address or CIDR range`},
		{"fail/bad-proxy-from-env", map[string]string{"SCEPGATE_TRUSTED_PROXIES": "10.0.0.0/33"}, nil, `--trusted-proxy "10.0.0.0/33"`},
		{"fail/bad-bool-from-env", map[string]string{"SCEPGATE_TLS_RA": "maybe"}, nil, `SCEPGATE_TLS_RA="maybe" is not true or false`},
		{"fail/bad-public-url", nil, []string{"--public-url", "scep.example.com"}, `--public-url "scep.example.com" is not an http:// or https:// URL`},
		{"fail/bad-ca-key", nil, []string{"--init", "--ca-key", "rsa1024"}, `--ca-key "rsa1024" is not a key type`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := runCLI(t, tt.env, append([]string{"serve", "--data", data, "--listen", "127.0.0.1:0"}, tt.args...)...)
			if code != 2 || !strings.Contains(stderr, tt.want) {
				t.Errorf("exit %d, stderr %q; want 2 saying %q", code, stderr, tt.want)
			}
			if got := tree(t, data); got != "missing" {
				t.Errorf("data folder: %q; want missing", got)
			}
		})
	}
}
