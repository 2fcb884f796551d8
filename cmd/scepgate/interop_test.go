package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/scepgate/scepgate/internal/proctest"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki"
	"github.com/scepgate/scepgate/store"
	"software.sslmate.com/src/go-pkcs12"
)

// scepgateBin is the scepgate binary built once for the tests that run it
// as a user would.
var scepgateBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "scepgate-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if scepgateBin, err = proctest.Build("github.com/scepgate/scepgate/cmd/scepgate", dir, true); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

// server is a running scepgate process.
type server struct {
	*proctest.Scepgate
	env []string
}

// Logs returns what the server printed so far.
func (s *server) Logs() string { return s.Output() }

// run runs `scepgate COMMAND SUBCOMMAND --data DIR REST...` on the
// server's data folder and environment, args being COMMAND SUBCOMMAND
// REST..., and returns its exit code and output.
func (s *server) run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	full := append(append(append([]string{}, args[:2]...), "--data", s.Data), args[2:]...)
	return scepgate(t, s.env, full...)
}

// startServer runs `scepgate serve` on a free loopback port with data in
// dataDir, and waits until it answers.
func startServer(t *testing.T, dataDir string, env []string, args ...string) *server {
	t.Helper()
	return &server{Scepgate: proctest.StartScepgate(t, scepgateBin, dataDir, env, args...), env: env}
}

// scepgate runs a scepgate command and returns its exit code and output.
func scepgate(t *testing.T, env []string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(scepgateBin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return code, stdout.String(), stderr.String()
}

func httpGet(t *testing.T, url string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return b
}

// caChainPEM fetches GetCACert and writes the CA chain (without the RA) as PEM.
func caChainPEM(t *testing.T, baseURL, path string) {
	t.Helper()
	der := httpGet(t, baseURL+"/pgwy/scep?operation=GetCACert")
	certs, err := pki.ParseDegenerate(der)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for _, c := range certs {
		if c.IsCA {
			buf.Write(pemCert(c))
		}
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

func pemCert(c *x509.Certificate) []byte {
	return []byte("-----BEGIN CERTIFICATE-----\n" + wrap64(c.Raw) + "-----END CERTIFICATE-----\n")
}

func wrap64(der []byte) string {
	s := b64(der)
	var sb strings.Builder
	for len(s) > 64 {
		sb.WriteString(s[:64] + "\n")
		s = s[64:]
	}
	sb.WriteString(s + "\n")
	return sb.String()
}

// runScepclient runs micromdm's scepclient in its own folder (it writes
// csr.pem beside it) and reports whether it got a certificate.
func runScepclient(t *testing.T, url, challenge, cn string) (certPath string, ok bool, out string) {
	t.Helper()
	return runScepclientEnv(t, nil, url, challenge, cn)
}

// runScepclientEnv is runScepclient with the extra environment env (such
// as SSL_CERT_FILE, which Go programs read their trusted CAs from).
func runScepclientEnv(t *testing.T, env []string, url, challenge, cn string) (certPath string, ok bool, out string) {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("scepclient", "-server-url", url, "-challenge", challenge,
		"-private-key", "device.key", "-certificate", "device.pem", "-cn", cn)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	b, err := cmd.CombinedOutput()
	certPath = filepath.Join(dir, "device.pem")
	_, statErr := os.Stat(certPath)
	return certPath, err == nil && statErr == nil, string(b)
}

func certCount(t *testing.T, dataDir string) int64 {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(dataDir, "scepgate.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, n, err := db.SearchCertificates(context.Background(), model.CertificateFilter{}, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestFirstStartCreatesThenReuses(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, data, nil)
	s.Stop()
	log := s.Stderr.String()
	for _, want := range []string{"created master key file", "creating SQLite database", "created CA", "created RA certificate",
		"created certificate procedures", "created token procedures", "created handlers", "created user admin"} {
		if !strings.Contains(log, want) {
			t.Errorf("first start log lacks %q:\n%s", want, log)
		}
	}
	out := s.Stdout.String()
	if !regexp.MustCompile(`The admin password is \S{20} `).MatchString(out) || !strings.Contains(out, "The ndesadmin password is ") {
		t.Errorf("first start printed %q; want the admin and ndesadmin passwords once", out)
	}
	fi, err := os.Stat(filepath.Join(data, "master.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("master.key: %v, mode %v; want mode 0600", err, fi.Mode().Perm())
	}
	_, show1, _ := scepgate(t, nil, "ca", "show", "--data", data)

	s2 := startServer(t, data, nil)
	s2.Stop()
	if strings.Contains(s2.Stderr.String(), "created") || s2.Stdout.String() != "" {
		t.Errorf("second start created or printed something:\n%s%s", s2.Stdout.String(), s2.Stderr.String())
	}
	_, show2, _ := scepgate(t, nil, "ca", "show", "--data", data)
	if show1 != show2 || !strings.Contains(show1, "SHA-256: ") || !strings.Contains(show1, "CN=scepgate SCEP RA") {
		t.Errorf("ca show changed across restarts or lacks facts:\n%s\n---\n%s", show1, show2)
	}
}

func TestChosenPasswordsAreNotPrinted(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, data, []string{"SCEPGATE_ADMIN_PASSWORD=chosen-admin-pw", "SCEPGATE_NDES_PASSWORD=chosen-ndes-pw"})
	s.Stop()
	if out := s.Stdout.String() + s.Stderr.String(); strings.Contains(out, "password is") || strings.Contains(out, "chosen-") {
		t.Errorf("chosen passwords were printed or logged:\n%s", out)
	}
}

func TestCAKeyType(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, data, nil, "--ca-key", "p384")
	s.Stop()
	code, out, errOut := scepgate(t, nil, "ca", "show", "--data", data)
	if code != 0 || !strings.Contains(out, "Key: ECDSA") || !strings.Contains(out, "Key: RSA 2048") {
		t.Errorf("ca show (%d): %s%s; want an ECDSA CA and an RSA 2048 RA", code, out, errOut)
	}
}

func TestScepclientEnrolls(t *testing.T) {
	proctest.RequireTool(t, "scepclient", "scep")
	proctest.RequireTool(t, "openssl", "openssl")
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, data, nil)

	// Pre-register while the server runs.
	code, out, errOut := scepgate(t, nil, "registration", "add", "--data", data,
		"--token-procedure", "SCEP Registration and Enroll Procedure", "--password", "device-secret-1", "--subject-cn", "device-1")
	if code != 0 || !strings.Contains(out, "is open until") {
		t.Fatalf("registration add (%d): %s%s", code, out, errOut)
	}
	before := certCount(t, data)
	certPath, ok, clientOut := runScepclient(t, s.URL+"/pgwy/scep", "device-secret-1", "device-1")
	if !ok {
		t.Fatalf("scepclient did not enroll:\n%s\nserver log:\n%s", clientOut, s.Stderr.String())
	}
	chain := filepath.Join(t.TempDir(), "chain.pem")
	caChainPEM(t, s.URL, chain)
	if b, err := exec.Command("openssl", "verify", "-CAfile", chain, certPath).CombinedOutput(); err != nil || !strings.Contains(string(b), ": OK") {
		t.Errorf("openssl verify: %v\n%s", err, b)
	}
	if got := certCount(t, data); got != before+1 {
		t.Errorf("certificates stored %d -> %d; want one more", before, got)
	}

	// A wrong password gets nothing, and nothing is stored.
	before = certCount(t, data)
	if _, ok, clientOut := runScepclient(t, s.URL+"/pgwy/scep", "wrong-secret", "device-2"); ok || !strings.Contains(clientOut, "badRequest") {
		t.Errorf("scepclient with a wrong password: ok=%v, output:\n%s\nwant a badRequest failure", ok, clientOut)
	}
	// The used password again, with a new key, gets nothing either.
	if _, ok, clientOut := runScepclient(t, s.URL+"/pgwy/scep/pkiclient.exe", "device-secret-1", "device-1"); ok {
		t.Errorf("scepclient with a used password enrolled:\n%s", clientOut)
	}
	if got := certCount(t, data); got != before {
		t.Errorf("certificates stored %d -> %d after refused enrollments; want no change", before, got)
	}
	if strings.Contains(s.Stderr.String(), "level=ERROR") {
		t.Errorf("server logged errors:\n%s", s.Stderr.String())
	}
}

// p12 writes cert and key (and chain) as a PKCS#12 file protected by pw.
func p12(t *testing.T, path string, key any, cert *x509.Certificate, chain []*x509.Certificate, pw string) {
	t.Helper()
	b, err := pkcs12.Modern.Encode(key, cert, chain, pw)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func issueRA(t *testing.T, a *pki.Authority, ku x509.KeyUsage, eku []x509.ExtKeyUsage) (*rsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "Imported RA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0), KeyUsage: ku, ExtKeyUsage: eku}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.CA, &key.PublicKey, a.CAKey)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return key, c
}

func TestCAImport(t *testing.T) {
	dir := t.TempDir()
	imported, err := pki.NewAuthority("rsa2048", "Imported", time.Now(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, err := pki.NewAuthority("rsa2048", "Other", time.Now(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pwFile := filepath.Join(dir, "pw.txt")
	_ = os.WriteFile(pwFile, []byte("p12-secret\n"), 0o600)
	caP12 := filepath.Join(dir, "ca.p12")
	p12(t, caP12, imported.CAKey, imported.CA, nil, "p12-secret")
	good := filepath.Join(dir, "ra.p12")
	p12(t, good, imported.RAKey, imported.RA, []*x509.Certificate{imported.CA}, "p12-secret")
	noEnc := filepath.Join(dir, "ra-noenc.p12")
	k, c := issueRA(t, imported, x509.KeyUsageDigitalSignature, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth})
	p12(t, noEnc, k, c, nil, "p12-secret")
	foreign := filepath.Join(dir, "ra-foreign.p12")
	p12(t, foreign, other.RAKey, other.RA, nil, "p12-secret")

	data := filepath.Join(dir, "data")
	s := startServer(t, data, nil)
	tests := []struct {
		name, ra, want string
		code           int
	}{
		{"fail/ra-without-keyEncipherment", noEnc, "lacks the key usage keyEncipherment", 1},
		{"fail/ra-of-another-ca", foreign, "not issued by the CA", 1},
		{"ok/import", good, "Imported", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := scepgate(t, nil, "ca", "import", "--data", data, "--ca", caP12, "--ra", tt.ra, "--password-file", pwFile)
			if code != tt.code || !strings.Contains(out+errOut, tt.want) {
				t.Errorf("ca import: exit %d, output %q; want exit %d naming %q", code, out+errOut, tt.code, tt.want)
			}
		})
	}
	// The running server switches to the imported CA and RA.
	deadline := time.Now().Add(10 * time.Second)
	for {
		certs, err := pki.ParseDegenerate(httpGet(t, s.URL+"/pgwy/scep?operation=GetCACert"))
		if err != nil {
			t.Fatal(err)
		}
		if len(certs) == 2 && certs[0].Equal(imported.RA) && certs[1].Equal(imported.CA) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the running server still serves the old CA 10 s after ca import")
		}
		time.Sleep(200 * time.Millisecond)
	}
	if code, out, _ := scepgate(t, nil, "ca", "show", "--data", data); code != 0 || !strings.Contains(out, "CN=Imported SCEP CA") {
		t.Errorf("ca show after import: %s", out)
	}
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func TestRevokeFromCLIUpdatesCRL(t *testing.T) {
	proctest.RequireTool(t, "scepclient", "scep")
	proctest.RequireTool(t, "openssl", "openssl")
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, data, nil)
	if code, out, errOut := scepgate(t, nil, "registration", "add", "--data", data,
		"--token-procedure", "SCEP Registration and Enroll Procedure", "--password", "revoke-me-pw"); code != 0 {
		t.Fatalf("registration add: %s%s", out, errOut)
	}
	certPath, ok, clientOut := runScepclient(t, s.URL+"/pgwy/scep", "revoke-me-pw", "revoke-me")
	if !ok {
		t.Fatalf("scepclient: %s", clientOut)
	}
	pemBytes, _ := os.ReadFile(certPath)
	block, _ := pem.Decode(pemBytes)
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if len(cert.CRLDistributionPoints) != 1 {
		t.Fatalf("CRL distribution points %v; want one", cert.CRLDistributionPoints)
	}
	serial := cert.SerialNumber.Text(16)
	if code, out, errOut := scepgate(t, nil, "cert", "revoke", "--data", data, "--serial", serial, "--reason", "keyCompromise"); code != 0 || !strings.Contains(out, "is revoked") {
		t.Fatalf("cert revoke (%d): %s%s", code, out, errOut)
	}
	if code, _, errOut := scepgate(t, nil, "cert", "revoke", "--data", data, "--serial", serial, "--reason", "nonsense"); code != 2 || !strings.Contains(errOut, "Unknown revocation reason") {
		t.Errorf("cert revoke with a bad reason: exit %d, %q; want exit 2 naming the reasons", code, errOut)
	}
	// The certificate's own CRL URL names localhost:PORT; fetch it from the server.
	u := cert.CRLDistributionPoints[0]
	crlDER := httpGet(t, s.URL+u[strings.Index(u, "/pgwy/"):])
	dir := t.TempDir()
	crlPath, chain := filepath.Join(dir, "ca.crl"), filepath.Join(dir, "chain.pem")
	_ = os.WriteFile(crlPath, crlDER, 0o644)
	caChainPEM(t, s.URL, chain)
	out, err := exec.Command("openssl", "crl", "-inform", "DER", "-in", crlPath, "-CAfile", chain, "-noout", "-text").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "verify OK") || !strings.Contains(string(out), strings.ToUpper(serial)) || !strings.Contains(string(out), "Key Compromise") {
		t.Errorf("openssl crl: %v\n%s\nwant verify OK listing serial %s with Key Compromise", err, out, serial)
	}
}

// TestScepclientWaitsForApproval: micromdm's scepclient, answered PENDING,
// sends its request again every 30 seconds; once an administrator approves
// from the CLI, the retry gets the certificate.
func TestScepclientWaitsForApproval(t *testing.T) {
	proctest.RequireTool(t, "scepclient", "scep")
	ctx := context.Background()
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, data, nil)
	// Make the pre-registration token procedure require approval, as an
	// administrator would in the portal.
	db, err := store.Open(ctx, filepath.Join(data, "scepgate.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	tps, _, err := db.ListTokenProcedures(ctx, "SCEP Registration and Enroll Procedure", 1, 1)
	if err != nil || len(tps) != 1 {
		t.Fatalf("token procedures named SCEP Registration and Enroll Procedure: %d, %v; want 1", len(tps), err)
	}
	tp := &tps[0]
	tp.RequireApproval = true
	if err := db.SaveTokenProcedure(ctx, tp, nil); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := scepgate(t, nil, "registration", "add", "--data", data,
		"--token-procedure", tp.Name, "--password", "approve-me-pw"); code != 0 {
		t.Fatalf("registration add: %s%s", out, errOut)
	}
	time.Sleep(1500 * time.Millisecond) // the server reloads settings within a second

	type result struct {
		certPath string
		ok       bool
		out      string
	}
	done := make(chan result, 1)
	go func() {
		p, ok, out := runScepclient(t, s.URL+"/pgwy/scep", "approve-me-pw", "waits-for-approval")
		done <- result{p, ok, out}
	}()
	var pending []int64
	for deadline := time.Now().Add(20 * time.Second); len(pending) == 0; {
		regs, err := db.ListPendingRegistrations(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range regs {
			pending = append(pending, r.ID)
		}
		if time.Now().After(deadline) {
			t.Fatalf("no registration waits for approval:\n%s", s.Stderr.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	_ = db.Close()
	code, out, errOut := scepgate(t, nil, "registration", "pending", "--data", data)
	if code != 0 || !strings.Contains(out, "waits-for-approval") {
		t.Errorf("registration pending (%d): %s%s; want the waiting device listed", code, out, errOut)
	}
	if code, out, errOut := scepgate(t, nil, "registration", "approve", "--data", data, fmt.Sprint(pending[0])); code != 0 || !strings.Contains(out, "is approved") {
		t.Fatalf("registration approve (%d): %s%s", code, out, errOut)
	}
	select {
	case r := <-done:
		if !r.ok || !strings.Contains(r.out, "PENDING") {
			t.Fatalf("scepclient: ok=%v, output:\n%s\nwant PENDING, then a certificate", r.ok, r.out)
		}
	case <-time.After(90 * time.Second):
		t.Fatal("scepclient did not get its certificate within 90 s of the approval")
	}
}
