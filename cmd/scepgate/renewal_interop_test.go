package main

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scepgate/scepgate/admin"
	"github.com/scepgate/scepgate/internal/proctest"
	"github.com/scepgate/scepgate/pki"
	"github.com/scepgate/scepgate/store"
)

var (
	scepclientOnce sync.Once
	scepclientBin  string
	scepclientErr  error
)

// ourScepclient builds cmd/scepclient once for the tests that run it.
func ourScepclient(t *testing.T) string {
	t.Helper()
	scepclientOnce.Do(func() {
		scepclientBin, scepclientErr = proctest.Build("github.com/scepgate/scepgate/cmd/scepclient", filepath.Dir(scepgateBin), false)
	})
	if scepclientErr != nil {
		t.Fatal(scepclientErr)
	}
	return scepclientBin
}

// shortLivedHandler makes, as an administrator would, a certificate
// procedure issuing for 10 days, a token procedure renewing within 30 days
// (so that a fresh certificate is renewable at once), and a SCEP handler at
// /pgwy/scep/FILTER running them; it waits until the server serves it.
func shortLivedHandler(t *testing.T, srv *server, filter string) (tokenProcedure string) {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(srv.Data, "scepgate.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mk, err := pki.ReadMasterKey(srv.Data, "")
	if err != nil {
		t.Fatal(err)
	}
	ops := admin.New(db, nil, mk, admin.Options{})
	cpIn := admin.NewCertificateProcedureInput()
	cpIn.Name, cpIn.ValidityDays = "Ten days", 10
	cp, err := ops.SaveCertificateProcedure(ctx, admin.CLI, 0, cpIn)
	if err != nil {
		t.Fatalf("save certificate procedure: %v", err)
	}
	tpIn := admin.NewTokenProcedureInput()
	tpIn.Name, tpIn.RenewalWindowDays, tpIn.CertificateProcedureIDs = "Ten days, renew within 30", 30, []int64{cp.ID}
	tp, err := ops.SaveTokenProcedure(ctx, admin.CLI, 0, tpIn)
	if err != nil {
		t.Fatalf("save token procedure: %v", err)
	}
	props := filepath.Join(t.TempDir(), "handlers.properties")
	_ = os.WriteFile(props, []byte("handler.9.filter = "+filter+"\nhandler.9.format = scep\nhandler.9.tokenprocedure = "+tp.Name+"\n"), 0o600)
	if code, out, errOut := srv.run(t, "handlers", "import", props); code != 0 {
		t.Fatalf("handlers import (%d): %s%s", code, out, errOut)
	}
	for deadline := time.Now().Add(10 * time.Second); ; {
		if b := httpGet(t, srv.URL+"/pgwy/scep/"+filter+"?operation=GetCACaps"); bytes.Contains(b, []byte("Renewal\n")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/pgwy/scep/%s does not offer Renewal 10 s after the handler was made", filter)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return tp.Name
}

func readPEMCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatalf("%s holds no PEM certificate", path)
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// wantRenewed checks that renewed is a new certificate for old's subject
// and for the key in newKeyPEM, and that it chains to the server's CA.
func wantRenewed(t *testing.T, srv *server, old, renewed string, newKeyPEM []byte) {
	t.Helper()
	o, n := readPEMCert(t, old), readPEMCert(t, renewed)
	if o.SerialNumber.Cmp(n.SerialNumber) == 0 || !bytes.Equal(o.RawSubject, n.RawSubject) {
		t.Errorf("renewed certificate: serial %x (old %x), subject %q (old %q); want a new serial for the same subject",
			n.SerialNumber, o.SerialNumber, n.Subject, o.Subject)
	}
	if n.NotAfter.Sub(n.NotBefore) > 11*24*time.Hour {
		t.Errorf("renewed certificate valid %s to %s; want the procedure's 10 days", n.NotBefore, n.NotAfter)
	}
	pub, err := publicKeyOfPEM(newKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	if !n.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(pub) {
		t.Errorf("the renewed certificate is not for the new key")
	}
	opensslVerify(t, srv.URL, renewed)
}

// publicKeyOfPEM reads the public key of a PEM private key (PKCS#1 or
// PKCS#8).
func publicKeyOfPEM(b []byte) (crypto.PublicKey, error) {
	block, _ := pem.Decode(b)
	if block == nil {
		return nil, os.ErrInvalid
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return k.Public(), nil
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	return k.(crypto.Signer).Public(), nil
}

// TestRenewalByRealClients: certificates from a procedure short enough to
// be renewable at once are renewed, each with a new key, by strongSwan's
// pki --scep --cert/--key and by our scepclient renew, against a real
// scepgate serve.
func TestRenewalByRealClients(t *testing.T) {
	proctest.RequireTool(t, "openssl", "openssl")
	data := filepath.Join(t.TempDir(), "data")
	srv := startServer(t, data, nil)
	tp := shortLivedHandler(t, srv, "renew")
	url := srv.URL + "/pgwy/scep/renew"

	t.Run("ok/strongSwan", func(t *testing.T) {
		sw := newStrongswan(t, url)
		if code, out, errOut := srv.run(t, "registration", "add", "--token-procedure", tp, "--password", "renew-sw-pw"); code != 0 {
			t.Fatalf("registration add (%d): %s%s", code, out, errOut)
		}
		old, out := sw.enroll(t, sw.key(t, "old.key"), "CN=renew-strongswan", "--password", "renew-sw-pw")
		if old == "" {
			t.Fatalf("pki --scep did not enroll:\n%s\nserver log:\n%s", out, srv.Logs())
		}
		renewed, out := sw.enroll(t, sw.key(t, "new.key"), "CN=renew-strongswan", "--cert", old, "--key", "old.key")
		if renewed == "" {
			t.Fatalf("pki --scep --cert --key did not renew:\n%s\nserver log:\n%s", out, srv.Logs())
		}
		newKey, _ := os.ReadFile(filepath.Join(sw.dir, "new.key"))
		wantRenewed(t, srv, old, renewed, newKey)
	})

	t.Run("ok/scepclient", func(t *testing.T) {
		bin := ourScepclient(t)
		if code, out, errOut := srv.run(t, "registration", "add", "--token-procedure", tp, "--password", "renew-ours-pw"); code != 0 {
			t.Fatalf("registration add (%d): %s%s", code, out, errOut)
		}
		dir := t.TempDir()
		conf := "caCertUrl = " + url + "?operation=GetCACert\ncertRequestUrl = " + url + "\nraCert = temp/ra.cer\nworkdir = temp\n" +
			"p12.certFile = temp/scep.cer\np12.keyToken.keyFile = temp/scep.p12\np12.keyToken.password = abcd1234\n" +
			"p12.keyLength = 2048\nscep.cipherAlg = aes\np10.subject = cn={0},o=Company\n"
		client := func(withPassword bool, args ...string) string {
			t.Helper()
			c := conf
			if withPassword {
				c += "p10.password = renew-ours-pw\n"
			}
			_ = os.WriteFile(filepath.Join(dir, "client.conf"), []byte(c), 0o600)
			cmd := exec.Command(bin, append([]string{"-config", "client.conf"}, args...)...)
			cmd.Dir = dir
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("scepclient %s: %v\n%s\nserver log:\n%s", strings.Join(args, " "), err, out, srv.Logs())
			}
			return string(out)
		}
		client(true, "enroll", "renew-ours")
		certFile := filepath.Join(dir, "temp", "scep.cer")
		old := filepath.Join(dir, "old.pem")
		b, _ := os.ReadFile(certFile)
		_ = os.WriteFile(old, b, 0o644)
		client(false, "renew")
		newKey, err := os.ReadFile(filepath.Join(dir, "temp", "request-key.pem"))
		if err != nil {
			t.Fatal(err)
		}
		wantRenewed(t, srv, old, certFile, newKey)
	})
	if strings.Contains(srv.Logs(), "level=ERROR") {
		t.Errorf("server logged errors:\n%s", srv.Logs())
	}
}
