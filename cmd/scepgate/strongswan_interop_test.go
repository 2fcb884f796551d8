package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// strongswanPackages are the Debian packages `pki --scep` needs: the tool,
// and the plugins (curl among them) it fetches and enrolls with.
const strongswanPackages = "strongswan-pki libstrongswan-extra-plugins"

// requireStrongswan returns the path of strongSwan's pki. A missing one
// fails the test in CI (CI=true) and skips it elsewhere, saying what to
// install.
func requireStrongswan(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("pki")
	if err == nil {
		if _, err = os.Stat("/usr/lib/ipsec/plugins/libstrongswan-curl.so"); err == nil {
			return p
		}
	}
	msg := "strongSwan's pki with its curl plugin is not installed: run `sudo apt-get install " + strongswanPackages + "`"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// strongswan runs `pki --scep` against one SCEP URL, in its own folder
// holding the CA and RA certificates `pki --scepca` fetched.
type strongswan struct {
	pki, dir, url string
}

// newStrongswan fetches the CA and RA certificates from the handler at url
// with `pki --scepca`.
func newStrongswan(t *testing.T, url string) *strongswan {
	t.Helper()
	s := &strongswan{pki: requireStrongswan(t), dir: t.TempDir(), url: url}
	if out, err := s.run(t, "--scepca", "--url", url, "--caout", "ca.der", "--raout", "ra.der"); err != nil {
		t.Fatalf("pki --scepca: %v\n%s", err, out)
	}
	for _, f := range []string{"ca.der", "ra.der"} {
		if _, err := os.Stat(filepath.Join(s.dir, f)); err != nil {
			t.Fatalf("pki --scepca wrote no %s", f)
		}
	}
	return s
}

// run runs pki in s's folder and returns what it printed on stderr.
func (s *strongswan) run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	out, _, err := s.runOut(t, args...)
	return out, err
}

func (s *strongswan) runOut(t *testing.T, args ...string) (stderr string, stdout []byte, err error) {
	t.Helper()
	cmd := exec.Command(s.pki, args...)
	cmd.Dir = s.dir
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	return e.String(), o.Bytes(), err
}

// key generates an RSA-2048 key with `pki --gen` and returns its file name.
func (s *strongswan) key(t *testing.T, name string) string {
	t.Helper()
	_, out, err := s.runOut(t, "--gen", "--type", "rsa", "--size", "2048", "--outform", "pem")
	if err != nil {
		t.Fatalf("pki --gen: %v", err)
	}
	if err := os.WriteFile(filepath.Join(s.dir, name), out, 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

// enroll runs `pki --scep` for key with the subject dn and the extra
// arguments (--password, --cert/--key, --rsa-padding), and returns the path
// of the certificate it got ("" when it got none) and what it printed.
// Debian's strongSwan 5.9.8 misreads GetCACaps' AES, hence --cipher des3.
func (s *strongswan) enroll(t *testing.T, key, dn string, extra ...string) (certPath, out string) {
	t.Helper()
	args := append([]string{"--scep", "--url", s.url, "--in", key, "--dn", dn,
		"--cacert-enc", "ra.der", "--cacert-sig", "ra.der", "--cacert", "ca.der",
		"--cipher", "des3", "--outform", "pem", "--interval", "1", "--maxpolltime", "10"}, extra...)
	stderr, stdout, err := s.runOut(t, args...)
	if err != nil || !bytes.Contains(stdout, []byte("BEGIN CERTIFICATE")) {
		return "", stderr
	}
	certPath = filepath.Join(s.dir, strings.TrimSuffix(key, ".key")+".pem")
	if err := os.WriteFile(certPath, stdout, 0o644); err != nil {
		t.Fatal(err)
	}
	return certPath, stderr
}

// opensslVerify checks that cert chains to the CA chain of the server at
// baseURL.
func opensslVerify(t *testing.T, baseURL, cert string) {
	t.Helper()
	chain := filepath.Join(t.TempDir(), "chain.pem")
	caChainPEM(t, baseURL, chain)
	if b, err := exec.Command("openssl", "verify", "-CAfile", chain, cert).CombinedOutput(); err != nil || !strings.Contains(string(b), ": OK") {
		t.Errorf("openssl verify %s: %v\n%s", cert, err, b)
	}
}

// wantRefused checks that pki read a signed FAILURE with failInfo info.
func wantRefused(t *testing.T, what, certPath, out, info string) {
	t.Helper()
	if certPath != "" || !strings.Contains(out, "failInfo:     "+info) || !strings.Contains(out, "reply status is not 'SUCCESS'") {
		t.Errorf("pki --scep %s: got certificate %q, output:\n%s\nwant a FAILURE with failInfo %s it could read", what, certPath, out, info)
	}
}

// TestStrongswanEnrolls runs strongSwan's `pki --scep` against a real
// `scepgate serve`: with a pre-registration, with an NDES password (and an
// RSA-PSS signature), refused with a wrong or used password, and refused
// a renewal before its window opens.
func TestStrongswanEnrolls(t *testing.T) {
	requireStrongswan(t)
	data := filepath.Join(t.TempDir(), "data")
	const ndesPW = "strongswan-ndes-password"
	srv := startServer(t, data, []string{"SCEPGATE_NDES_PASSWORD=" + ndesPW})
	sw := newStrongswan(t, srv.URL+"/pgwy/scep")

	if code, out, errOut := srv.run(t, "registration", "add", "--token-procedure", "SCEP Registration and Enroll Procedure",
		"--password", "strongswan-secret-1", "--subject-cn", "strongswan-1"); code != 0 {
		t.Fatalf("registration add (%d): %s%s", code, out, errOut)
	}
	var first string
	t.Run("ok/pre-registration", func(t *testing.T) {
		cert, out := sw.enroll(t, sw.key(t, "first.key"), "CN=strongswan-1", "--password", "strongswan-secret-1")
		if cert == "" {
			t.Fatalf("pki --scep did not enroll:\n%s\nserver log:\n%s", out, srv.Logs())
		}
		opensslVerify(t, srv.URL, cert)
		first = cert
	})
	t.Run("fail/used password", func(t *testing.T) {
		cert, out := sw.enroll(t, sw.key(t, "again.key"), "CN=strongswan-1", "--password", "strongswan-secret-1")
		wantRefused(t, "with a used password", cert, out, "badRequest")
	})
	t.Run("fail/wrong password", func(t *testing.T) {
		cert, out := sw.enroll(t, sw.key(t, "wrong.key"), "CN=strongswan-2", "--password", "not-the-password")
		wantRefused(t, "with a wrong password", cert, out, "badRequest")
	})
	t.Run("fail/renewal before its window", func(t *testing.T) {
		if first == "" {
			t.Skip("no certificate to renew")
		}
		// The default procedures issue for 365 days and renew within 30.
		cert, out := sw.enroll(t, sw.key(t, "early.key"), "CN=strongswan-1", "--cert", first, "--key", "first.key")
		wantRefused(t, "renewing a fresh certificate", cert, out, "badRequest")
		if !strings.Contains(srv.Logs(), "can be renewed from") {
			t.Errorf("the server log does not say when the renewal window opens:\n%s", srv.Logs())
		}
	})

	ndes := newStrongswan(t, srv.URL+"/pgwy/scep/ndesrequest")
	for _, padding := range []string{"pkcs1", "pss"} {
		t.Run("ok/NDES password, "+padding, func(t *testing.T) {
			pw := ndesPassword(t, srv.URL+"/pgwy/scep/ndeschallenge/", "ndesadmin", ndesPW)
			cert, out := ndes.enroll(t, ndes.key(t, "ndes-"+padding+".key"), "CN=strongswan-ndes-"+padding, "--password", pw, "--rsa-padding", padding)
			if cert == "" {
				t.Fatalf("pki --scep --rsa-padding %s did not enroll:\n%s\nserver log:\n%s", padding, out, srv.Logs())
			}
			opensslVerify(t, srv.URL, cert)
			// The password is gone.
			cert, out = ndes.enroll(t, ndes.key(t, "ndes-"+padding+"-again.key"), "CN=strongswan-ndes-"+padding, "--password", pw, "--rsa-padding", padding)
			wantRefused(t, "with a used NDES password", cert, out, "badRequest")
		})
	}
	if strings.Contains(srv.Logs(), "level=ERROR") {
		t.Errorf("server logged errors:\n%s", srv.Logs())
	}
}
