package main

import (
	"bytes"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/smallstep/scep"
)

// ndesFleetRegexp is how Fleet finds the password on an NDES page.
var ndesFleetRegexp = regexp.MustCompile(`(?i)The enrollment challenge password is: <B> (?P<password>\S*)`)

// ndesRequireTool fails the test when an outside program is missing and
// says which Debian package brings it.
func ndesRequireTool(t *testing.T, name, pkg string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Fatalf("%s is not installed: run `apt-get install %s` (make test does it when run as root)", name, pkg)
	}
}

// ndesBuild builds the scepgate binary into a temporary folder.
func ndesBuild(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "scepgate")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build scepgate: %v\n%s", err, out)
	}
	return bin
}

// ndesBuffer collects a process's output while the test reads it.
type ndesBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *ndesBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *ndesBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// ndesServer is a running `scepgate serve`.
type ndesServer struct {
	URL    string
	Data   string
	Log    *ndesBuffer
	bin    string
	env    []string
	cmd    *exec.Cmd
	waited chan struct{}
}

// ndesStart runs `scepgate serve` on a free loopback port with data in
// dataDir and the extra environment env, and waits until it answers.
func ndesStart(t *testing.T, bin, dataDir string, env []string) *ndesServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	s := &ndesServer{URL: "http://" + addr, Data: dataDir, Log: &ndesBuffer{}, bin: bin, env: env, waited: make(chan struct{})}
	s.cmd = exec.Command(bin, "serve", "--data", dataDir, "--listen", addr)
	s.cmd.Env = append(os.Environ(), env...)
	s.cmd.Stdout, s.cmd.Stderr = s.Log, s.Log
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.cmd.Wait(); close(s.waited) }()
	t.Cleanup(s.stop)
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(s.URL + "/healthz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case <-s.waited:
			t.Fatalf("scepgate serve exited:\n%s", s.Log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("scepgate serve did not answer within 60 s:\n%s", s.Log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *ndesServer) stop() {
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.waited:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.waited
	}
}

// run runs `scepgate COMMAND SUBCOMMAND --data DIR REST...` on the
// server's data folder, args being COMMAND SUBCOMMAND REST..., and returns
// its exit code and output.
func (s *ndesServer) run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	full := append(append(append([]string{}, args[:2]...), "--data", s.Data), args[2:]...)
	cmd := exec.Command(s.bin, full...)
	cmd.Env = append(os.Environ(), s.env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, out.String(), errOut.String()
}

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

// ndesScepclient enrolls with micromdm's scepclient in a fresh folder (it
// writes csr.pem to its working folder) and returns the certificate path.
func ndesScepclient(t *testing.T, serverURL, challenge, cn string) (certPath string, ok bool, output string) {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("scepclient", "-server-url", serverURL, "-challenge", challenge,
		"-private-key", filepath.Join(dir, "k.pem"), "-certificate", filepath.Join(dir, "c.pem"), "-cn", cn)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	certPath = filepath.Join(dir, "c.pem")
	if _, statErr := os.Stat(certPath); err != nil || statErr != nil {
		return certPath, false, string(out)
	}
	return certPath, true, string(out)
}

// ndesCAFile fetches GetCACert from url and writes the CA certificates it
// carries (not the RA) as PEM into a file for openssl verify.
func ndesCAFile(t *testing.T, url string) string {
	t.Helper()
	resp, body := ndesGet(t, url, "", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GetCACert: status %d", resp.StatusCode)
	}
	certs, err := scep.CACerts(body)
	if err != nil {
		t.Fatalf("GetCACert: %v", err)
	}
	var buf bytes.Buffer
	for _, c := range certs {
		if c.IsCA {
			_ = pem.Encode(&buf, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
		}
	}
	if buf.Len() == 0 {
		t.Fatal("GetCACert carries no CA certificate")
	}
	path := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
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
