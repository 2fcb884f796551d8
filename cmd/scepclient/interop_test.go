package main

import (
	"bytes"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scepgate/scepgate/internal/proctest"
	"software.sslmate.com/src/go-pkcs12"
)

// Binaries built once by TestMain.
var (
	binDir        string
	scepgateBin   string
	scepclientBin string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "scepclient-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	scepgateBin = filepath.Join(dir, "scepgate")
	scepclientBin = filepath.Join(dir, "scepclient")
	for bin, pkg := range map[string]string{scepgateBin: "github.com/scepgate/scepgate/cmd/scepgate", scepclientBin: "github.com/scepgate/scepgate/cmd/scepclient"} {
		cmd := exec.Command("go", "build", "-o", bin, pkg)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n", pkg, err)
			os.RemoveAll(dir)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// portFree reports whether port can be listened on at all addresses.
func portFree(port int) bool {
	ln, err := net.Listen("tcp", ":"+strconv.Itoa(port))
	if err != nil {
		return false
	}
	ln.Close()
	return true
}

// process is a server started for a test.
type process struct {
	*proctest.Process
	base string // http://127.0.0.1:PORT
	data string
}

// start runs name with args; see proctest.Start.
func start(t *testing.T, env []string, name string, args ...string) *process {
	t.Helper()
	return &process{Process: proctest.Start(t, env, name, args...)}
}

// startScepgate starts scepgate on port (0: a free one) with temp data
// and the given ndesadmin password. It waits for scepgate's own "listening"
// log line, so that another server that took the port is never mistaken
// for it; a free port that got taken meanwhile is replaced.
func startScepgate(t *testing.T, port int, ndesPassword string) *process {
	t.Helper()
	p, err := tryStartScepgate(t, port, ndesPassword)
	for try := 0; err != nil && port == 0 && try < 3; try++ {
		p, err = tryStartScepgate(t, 0, ndesPassword)
	}
	if err != nil {
		t.Fatalf("scepgate did not start: %v\n%s", err, p.Output())
	}
	return p
}

func tryStartScepgate(t *testing.T, port int, ndesPassword string) (*process, error) {
	t.Helper()
	if port == 0 {
		port = freePort(t)
	}
	data := t.TempDir()
	p := start(t, []string{"SCEPGATE_NDES_PASSWORD=" + ndesPassword, "SCEPGATE_ADMIN_PASSWORD=admin-password-for-tests"},
		scepgateBin, "serve", "--init", "--data", data, "--listen", "127.0.0.1:"+strconv.Itoa(port))
	p.base = fmt.Sprintf("http://127.0.0.1:%d", port)
	p.data = data
	return p, p.WaitHTTP(p.base+"/healthz", "msg=listening", 30*time.Second)
}

// register adds a pre-registration with password at scepgate.
func register(t *testing.T, g *process, password string) {
	t.Helper()
	out, err := exec.Command(scepgateBin, "registration", "add", "--data", g.data,
		"--token-procedure", "SCEP Registration and Enroll Procedure", "--password", password).CombinedOutput()
	if err != nil {
		t.Fatalf("registration add: %v\n%s", err, out)
	}
}

// startScepserver starts micromdm's scepserver with a new RSA-2048 CA and a
// static challenge.
func startScepserver(t *testing.T, challenge string, extra ...string) *process {
	t.Helper()
	bin := proctest.RequireTool(t, "scepserver", "scep")
	depot := filepath.Join(t.TempDir(), "depot")
	if out, err := exec.Command(bin, "ca", "-init", "-depot", depot, "-keySize", "2048").CombinedOutput(); err != nil {
		t.Fatalf("scepserver ca -init: %v\n%s", err, out)
	}
	port := freePort(t)
	p := start(t, nil, bin, append([]string{"-depot", depot, "-port", strconv.Itoa(port), "-challenge", challenge}, extra...)...)
	p.base = fmt.Sprintf("http://127.0.0.1:%d", port)
	if err := p.WaitHTTP(p.base+"/scep?operation=GetCACaps", "", 30*time.Second); err != nil {
		t.Fatalf("scepserver did not start: %v", err)
	}
	return p
}

// result is what one scepclient invocation did.
type result struct {
	code           int
	stdout, stderr string
}

// client runs scepclient in dir.
func client(t *testing.T, dir string, args ...string) result {
	t.Helper()
	cmd := exec.Command(scepclientBin, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("run scepclient: %v", err)
	}
	return r
}

// mustClient runs scepclient and fails the test unless it exits 0.
func mustClient(t *testing.T, dir string, args ...string) result {
	t.Helper()
	r := client(t, dir, args...)
	if r.code != 0 {
		t.Fatalf("scepclient %s: exit code %d, want 0\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r
}

// writeConf writes a configuration file in dir from key/value pairs.
func writeConf(t *testing.T, dir string, kv ...string) string {
	t.Helper()
	var b strings.Builder
	b.WriteString("; written by the scepclient tests\n")
	for i := 0; i+1 < len(kv); i += 2 {
		fmt.Fprintf(&b, "%s = %s\n", kv[i], kv[i+1])
	}
	path := filepath.Join(dir, "client.conf")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// baseConf is the reference example's settings for a SCEP URL.
func baseConf(caURL, reqURL, cipher string) []string {
	return []string{
		"caCertUrl", caURL,
		"certRequestUrl", reqURL,
		"raCert", "temp/ra.cer",
		"workdir", "temp",
		"p12.certFile", "temp/scep.cer",
		"p12.keyLength", "2048",
		"p12.keyToken.keyFile", "temp/scep.p12",
		"p12.keyToken.password", "abcd1234",
		"scep.cipherAlg", cipher,
		"p10.subject", "cn={0} SEG,o=Company",
		"p10.dns", "{0}",
		"p10.keyusage", "digitalSignature, keyEncipherment; critical",
	}
}

// checkP12 checks with openssl that the PKCS #12 opens with password and
// holds a certificate for subject and a key.
func checkP12(t *testing.T, path, password, subject string) {
	t.Helper()
	openssl := proctest.RequireTool(t, "openssl", "openssl")
	out, err := exec.Command(openssl, "pkcs12", "-in", path, "-passin", "pass:"+password, "-nodes").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl pkcs12 %s: %v\n%s", path, err, out)
	}
	s := string(out)
	if !strings.Contains(s, "BEGIN PRIVATE KEY") || !strings.Contains(s, "BEGIN CERTIFICATE") || !strings.Contains(s, subject) {
		t.Errorf("openssl pkcs12 output: got\n%s\nwant a key and a certificate for %q", s, subject)
	}
}

func TestInteropScepgateNDES(t *testing.T) {
	g := startScepgate(t, 0, "ndes-test-password")
	for _, tt := range []struct {
		name, cipher string
		json         bool
	}{{"ok/rc2", "rc2", false}, {"ok/aes", "aes", false}, {"ok/des3-json-challenge", "des3", true}} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			kv := append(baseConf(g.base+"/pgwy/scep?operation=GetCaCert&message=none", g.base+"/pgwy/scep/ndesrequest?operation=PKIOperation&message=", tt.cipher),
				"ndesChallengeUrl", g.base+"/pgwy/scep/ndeschallenge/", "ndesAdminUsername", "ndesadmin", "ndesAdminPassword", "ndes-test-password",
				"p10.password", "not-the-one")
			conf := writeConf(t, dir, kv...)
			args := []string{"-config", conf, "enroll", "dev-" + tt.cipher}
			if tt.json {
				args = append([]string{"-json-challenge"}, args...)
			}
			r := mustClient(t, dir, args...)
			for _, want := range []string{"The challenge password is ", "Challenge password: the NDES challenge", "The certificate is valid", "Subject:    CN=dev-" + tt.cipher + " SEG,O=Company"} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("stdout: got\n%s\nwant it to contain %q", r.stdout, want)
				}
			}
			checkP12(t, filepath.Join(dir, "temp/scep.p12"), "abcd1234", "dev-"+tt.cipher+" SEG")
		})
	}
}

func TestInteropScepgatePreRegistration(t *testing.T) {
	g := startScepgate(t, 0, "ndes-test-password")
	for _, cipher := range []string{"rc2", "aes", "des3"} {
		t.Run("ok/"+cipher, func(t *testing.T) {
			dir := t.TempDir()
			pw := "prereg-" + cipher + "-secret"
			register(t, g, pw)
			kv := append(baseConf(g.base+"/pgwy/scep?operation=GetCACert", g.base+"/pgwy/scep", cipher), "p10.password", pw)
			conf := writeConf(t, dir, kv...)
			r := mustClient(t, dir, "-config", conf, "enroll", "pre-"+cipher)
			if !strings.Contains(r.stdout, "Challenge password: p10.password") || !strings.Contains(r.stdout, "The certificate is valid") {
				t.Errorf("stdout: got\n%s\nwant p10.password used and a valid certificate", r.stdout)
			}
			// Renewing a brand-new certificate: scepgate either renews it or
			// refuses outside its renewal window; either way scepclient
			// says what happened.
			before := mustClient(t, dir, "-config", conf, "verify")
			r = client(t, dir, "-config", conf, "renew")
			switch {
			case r.code == 0:
				after := mustClient(t, dir, "-config", conf, "verify")
				if serialLine(before.stdout) == serialLine(after.stdout) {
					t.Errorf("renew: got the same %q, want a new certificate", serialLine(after.stdout))
				}
			case r.code != 1 || !(strings.Contains(r.stderr, "did not accept the renewal") || strings.Contains(r.stderr, "does not advertise Renewal")):
				t.Errorf("renew: got exit %d, stderr %q; want success, or 1 and the refused renewal explained", r.code, r.stderr)
			}
			// The pre-registration is used up: a second enrollment is refused.
			mustClient(t, dir, "-config", conf, "create", "pre-"+cipher)
			r = client(t, dir, "-config", conf, "send")
			if r.code != 1 || !strings.Contains(r.stderr, "failInfo badRequest (2)") {
				t.Errorf("second send: got exit %d, stderr %q; want 1 and badRequest explained", r.code, r.stderr)
			}
		})
	}
}

// serialLine returns the "Serial:" line of verify's output.
func serialLine(out string) string {
	for l := range strings.SplitSeq(out, "\n") {
		if strings.HasPrefix(l, "Serial:") {
			return l
		}
	}
	return ""
}

// TestInteropScepgateProxyCert signs a request with a proxy certificate
// from another CA instead of a self-signed one. (scepgate takes a request
// signed by a certificate of its own CA for a renewal.)
func TestInteropScepgateProxyCert(t *testing.T) {
	g := startScepgate(t, 0, "ndes-test-password")
	dir := t.TempDir()
	a := testAuthority(t)
	proxyKey := testKey(t, 2)
	proxy := issue(t, a, "proxy", proxyKey)
	p12, err := pkcs12.Modern.Encode(proxyKey, proxy, []*x509.Certificate{a.CA}, "proxypw")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "proxy.p12"), p12, 0o600); err != nil {
		t.Fatal(err)
	}
	register(t, g, "proxy-secret")
	kv := append(baseConf(g.base+"/pgwy/scep?operation=GetCACert", g.base+"/pgwy/scep", "des3"), "p10.password", "proxy-secret",
		"useProxyCert", "true", "proxyCert.keyToken.keyFile", "proxy.p12", "proxyCert.keyToken.password", "proxypw")
	conf := writeConf(t, dir, kv...)
	r := mustClient(t, dir, "-config", conf, "enroll", "behind-proxy")
	if !strings.Contains(r.stdout, "Subject:    CN=behind-proxy SEG,O=Company") {
		t.Errorf("enroll: got\n%s\nwant the certificate for behind-proxy", r.stdout)
	}
}

func TestInteropScepserver(t *testing.T) {
	s := startScepserver(t, "static-secret", "-allowrenew", "0")
	for _, cipher := range []string{"aes", "des3", "des"} {
		t.Run("ok/"+cipher, func(t *testing.T) {
			dir := t.TempDir()
			kv := append(baseConf(s.base+"/scep?operation=GetCACert", s.base+"/scep", cipher), "p10.password", "static-secret")
			conf := writeConf(t, dir, kv...)
			r := mustClient(t, dir, "-config", conf, "enroll", "mm-"+cipher)
			if !strings.Contains(r.stdout, "CA and RA:") || !strings.Contains(r.stdout, "The certificate is valid") {
				t.Errorf("stdout: got\n%s\nwant the CA used as RA and a valid certificate", r.stdout)
			}
			checkP12(t, filepath.Join(dir, "temp/scep.p12"), "abcd1234", "mm-"+cipher+" SEG")
		})
	}
	t.Run("ok/renew", func(t *testing.T) {
		dir := t.TempDir()
		conf := writeConf(t, dir, append(baseConf(s.base+"/scep?operation=GetCACert", s.base+"/scep", "aes"), "p10.password", "static-secret")...)
		mustClient(t, dir, "-config", conf, "enroll", "mm-renew")
		before := mustClient(t, dir, "-config", conf, "verify")
		r := mustClient(t, dir, "-config", conf, "renew")
		if !strings.Contains(r.stdout, "Sending RenewalReq") || !strings.Contains(r.stdout, "The server issued CN=mm-renew SEG,O=Company") {
			t.Errorf("renew stdout: got\n%s\nwant a RenewalReq answered with a certificate", r.stdout)
		}
		after := mustClient(t, dir, "-config", conf, "verify")
		if serialLine(before.stdout) == serialLine(after.stdout) {
			t.Errorf("serial: got %q before and after renew, want a new certificate", serialLine(after.stdout))
		}
	})
	t.Run("fail/wrong-challenge", func(t *testing.T) {
		dir := t.TempDir()
		conf := writeConf(t, dir, append(baseConf(s.base+"/scep?operation=GetCACert", s.base+"/scep", "aes"), "p10.password", "wrong")...)
		r := client(t, dir, "-config", conf, "enroll", "mm-wrong")
		if r.code != 1 || !strings.Contains(r.stderr, "pkiStatus FAILURE") {
			t.Errorf("got exit %d, stderr %q; want 1 and the FAILURE explained", r.code, r.stderr)
		}
	})
}

// TestInteropReferenceExample runs the reference page's example file step
// by step against scepgate on port 8080 (or, if taken, a copy adapted to a
// free port) with the example's ndesadmin password.
func TestInteropReferenceExample(t *testing.T) {
	ref, err := os.ReadFile("testdata/reference.conf")
	if err != nil {
		t.Fatal(err)
	}
	var g *process
	if portFree(8080) {
		g, err = tryStartScepgate(t, 8080, "ndespassword")
	}
	if g == nil || err != nil {
		g = startScepgate(t, 0, "ndespassword")
		port := g.base[strings.LastIndexByte(g.base, ':')+1:]
		t.Logf("port 8080 is taken; using a copy of the example for port %s", port)
		ref = bytes.ReplaceAll(ref, []byte("localhost:8080"), []byte("localhost:"+port))
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "reference.conf")
	if err := os.WriteFile(conf, ref, 0o644); err != nil {
		t.Fatal(err)
	}

	r := mustClient(t, dir, "-config", conf, "getcacert")
	if _, err := os.Stat(filepath.Join(dir, "temp/protocol-gateway-ra.cer")); err != nil {
		t.Errorf("raCert: got %v, want temp/protocol-gateway-ra.cer written", err)
	}
	if !strings.Contains(r.stdout, "RA:") {
		t.Errorf("getcacert stdout: got %q, want the RA named", r.stdout)
	}
	r = mustClient(t, dir, "-config", conf, "getndeschallenge")
	if !strings.Contains(r.stdout, "The challenge password is ") {
		t.Errorf("getndeschallenge stdout: got %q, want the password", r.stdout)
	}
	mustClient(t, dir, "-config", conf, "create", "device1")
	openssl := proctest.RequireTool(t, "openssl", "openssl")
	out, err := exec.Command(openssl, "req", "-in", filepath.Join(dir, "temp/request.csr"), "-noout", "-text", "-verify").CombinedOutput()
	if err != nil {
		t.Fatalf("openssl req: %v\n%s", err, out)
	}
	for _, want := range []string{"CN=device1 SEG", "X509v3 Key Usage: critical", "Digital Signature, Key Encipherment", "DNS:device1", "challengePassword"} {
		if !strings.Contains(strings.ReplaceAll(string(out), " = ", "="), want) {
			t.Errorf("openssl req: got\n%s\nwant %q", out, want)
		}
	}

	// The example's certRequestUrl lacks /scep/: unless the server
	// redirects, send fails with a hint naming the right URL.
	r = client(t, dir, "-config", conf, "send")
	if r.code != 0 {
		want := "The server has no SCEP handler at /pgwy/ndesrequest; did you mean /pgwy/scep/ndesrequest?"
		if r.code != 1 || !strings.Contains(r.stderr, want) {
			t.Fatalf("send with the example's URL: got exit %d, stderr %q; want success, or 1 and %q", r.code, r.stderr, want)
		}
		fixed := bytes.ReplaceAll(ref, []byte("/pgwy/ndesrequest"), []byte("/pgwy/scep/ndesrequest"))
		if err := os.WriteFile(conf, fixed, 0o644); err != nil {
			t.Fatal(err)
		}
		mustClient(t, dir, "-config", conf, "send")
	}
	r = mustClient(t, dir, "-config", conf, "verify")
	for _, want := range []string{"Subject:    CN=device1 SEG,O=Company", "Serial:", "Valid from:", "Valid to:", "DNS names:  device1"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("verify stdout: got\n%s\nwant %q", r.stdout, want)
		}
	}
	checkP12(t, filepath.Join(dir, "temp/scep.p12"), "abcd1234", "device1 SEG")
	if _, err := os.Stat(filepath.Join(dir, "temp/scep.cer")); err != nil {
		t.Errorf("p12.certFile: got %v, want temp/scep.cer written", err)
	}
}

func TestInteropFailures(t *testing.T) {
	g := startScepgate(t, 0, "right-password")
	closed := freePort(t)
	tests := []struct {
		name     string
		kv       []string
		args     []string
		wantCode int
		want     string
	}{
		{name: "fail/ndes-credentials", kv: []string{"ndesChallengeUrl", g.base + "/pgwy/scep/ndeschallenge/", "ndesAdminUsername", "ndesadmin", "ndesAdminPassword", "wrong"},
			args: []string{"getndeschallenge"}, wantCode: 1, want: "refused the credentials of \"ndesadmin\" (HTTP 401)"},
		{name: "fail/unreachable", kv: []string{"caCertUrl", fmt.Sprintf("http://127.0.0.1:%d/pgwy/scep?operation=GetCACert", closed)},
			args: []string{"getcacert"}, wantCode: 1, want: "cannot be reached"},
		{name: "fail/send-before-getcacert", args: []string{"send"}, wantCode: 1, want: "Run \"scepclient -config FILE getcacert\" first."},
		{name: "fail/verify-before-send", args: []string{"verify"}, wantCode: 1, want: "does not exist"},
		{name: "fail/poll-without-request", args: []string{"poll"}, wantCode: 1, want: "There is no request to poll for"},
		{name: "fail/create-without-value", args: []string{"create"}, wantCode: 2, want: "create needs one VALUE"},
		{name: "fail/unknown-command", args: []string{"fly"}, wantCode: 2, want: "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			conf := writeConf(t, dir, tt.kv...)
			r := client(t, dir, append([]string{"-config", conf}, tt.args...)...)
			if r.code != tt.wantCode || !strings.Contains(r.stderr, tt.want) {
				t.Errorf("got exit %d, stderr %q; want %d and %q", r.code, r.stderr, tt.wantCode, tt.want)
			}
		})
	}
	t.Run("fail/password-cache-full", func(t *testing.T) {
		// Fill the handler's cache of unused passwords, then ask once more.
		c := NewClient(10*time.Second, 1)
		url := g.base + "/pgwy/scep/ndeschallenge/"
		full := false
		for range 1000 {
			if _, err := c.FetchChallenge(t.Context(), url, "ndesadmin", "right-password", false); err != nil {
				if !strings.Contains(err.Error(), "cache is full") {
					t.Fatalf("fetching passwords: got %v, want them to end with a full cache", err)
				}
				full = true
				break
			}
		}
		if !full {
			t.Fatalf("got 1000 passwords without a full cache, want the handler's cap to stop them")
		}
		dir := t.TempDir()
		conf := writeConf(t, dir, "ndesChallengeUrl", url, "ndesAdminUsername", "ndesadmin", "ndesAdminPassword", "right-password")
		r := client(t, dir, "-config", conf, "getndeschallenge")
		if r.code != 1 || !strings.Contains(r.stderr, "NDES password cache is full") {
			t.Errorf("got exit %d, stderr %q; want 1 and the full cache explained", r.code, r.stderr)
		}
	})
	t.Run("fail/no-config", func(t *testing.T) {
		r := client(t, t.TempDir(), "getcacert")
		if r.code != 2 || !strings.Contains(r.stderr, "needs a configuration file") {
			t.Errorf("got exit %d, stderr %q; want 2 and the missing -config named", r.code, r.stderr)
		}
	})
}

func TestInteropBench(t *testing.T) {
	g := startScepgate(t, 0, "bench-ndes-password")
	s := startScepserver(t, "bench-secret")
	dir := t.TempDir()
	var pws []string
	for i := range 4 {
		pw := fmt.Sprintf("bench-prereg-%d-secret", i)
		register(t, g, pw)
		pws = append(pws, pw)
	}
	file := filepath.Join(dir, "challenges.txt")
	if err := os.WriteFile(file, []byte(strings.Join(pws, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantKind string
		pidOf    *process
		c        string
	}{
		{"ok/scepgate-prereg", []string{"-url", g.base + "/pgwy/scep", "-challenges", file}, "file", g, "2"},
		{"ok/scepgate-ndes", []string{"-url", g.base + "/pgwy/scep/ndesrequest", "-ndes-url", g.base + "/pgwy/scep/ndeschallenge/", "-ndes-password", "bench-ndes-password", "-batch", "3"}, "ndes", g, "2"},
		// scepserver's file depot hands out duplicate serials and refuses
		// requests under concurrency (see BENCHMARKS.md), so one at a time.
		{"ok/scepserver-static", []string{"-url", s.base + "/scep", "-challenge", "bench-secret"}, "static", s, "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := append([]string{"bench", "-n", "4", "-c", tt.c, "-json", "-server-pid", strconv.Itoa(tt.pidOf.Cmd.Process.Pid)}, tt.args...)
			r := mustClient(t, dir, args...)
			var res BenchResult
			if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
				t.Fatalf("bench -json output %q: %v", r.stdout, err)
			}
			if res.OK != 4 || len(res.Failures) != 0 || res.Challenge != tt.wantKind {
				t.Errorf("got ok %d, failures %v, challenge %q; want 4, none, %q", res.OK, res.Failures, res.Challenge, tt.wantKind)
			}
			if res.Duplicates != 0 {
				t.Errorf("duplicate serials: got %d, want 0", res.Duplicates)
			}
			if res.ServerCPUms < 0 || res.P50ms <= 0 || res.PerSecond <= 0 {
				t.Errorf("got server CPU %v ms, p50 %v ms, %v/s; want all measured", res.ServerCPUms, res.P50ms, res.PerSecond)
			}
		})
	}
	t.Run("ok/floor", func(t *testing.T) {
		r := mustClient(t, dir, "bench-floor", "-d", "50ms")
		if !strings.Contains(r.stdout, "three per enrollment") {
			t.Errorf("got %q, want the per-enrollment floor", r.stdout)
		}
	})
	t.Run("fail/usage", func(t *testing.T) {
		r := client(t, dir, "bench", "-n", "1")
		if r.code != 2 || !strings.Contains(r.stderr, "bench needs -url") {
			t.Errorf("got exit %d, stderr %q; want 2 and -url asked for", r.code, r.stderr)
		}
	})
}
