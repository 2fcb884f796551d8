package main

import (
	"bytes"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scepgate/scepgate/pki"
	"github.com/smallstep/scep"
	"software.sslmate.com/src/go-pkcs12"
)

// fakeSCEP is a SCEP server built from the server's own pki package that
// can hold requests PENDING until polled.
type fakeSCEP struct {
	t       *testing.T
	a       *pki.Authority
	pending bool // answer PKCSReq with PENDING and CertPoll with SUCCESS
	minimal bool // advertise no capabilities: clients must use GET and SHA-1

	mu      sync.Mutex
	csrs    map[string]*x509.CertificateRequest // by transaction
	signers []*x509.Certificate
	types   []scep.MessageType
	methods []string
	digests []string
}

func (f *fakeSCEP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Query().Get("operation") {
	case "GetCACaps":
		if !f.minimal {
			_, _ = io.WriteString(w, "POSTPKIOperation\nSHA-256\nAES\nRenewal\n")
		}
	case "GetCACert":
		der, err := pki.DegenerateCerts([]*x509.Certificate{f.a.RA, f.a.CA})
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "application/x-x509-ca-ra-cert")
		_, _ = w.Write(der)
	case "PKIOperation":
		body, _ := io.ReadAll(r.Body)
		if r.Method == http.MethodGet {
			body, _ = base64.StdEncoding.DecodeString(r.URL.Query().Get("message"))
		}
		req, err := pki.ParseRequest(body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		if err := req.Decrypt(f.a, true); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		f.mu.Lock()
		f.signers = append(f.signers, req.SignerCert)
		f.types = append(f.types, req.MessageType)
		f.methods = append(f.methods, r.Method)
		f.digests = append(f.digests, req.Digest.String())
		reply := pki.Reply{Status: scep.SUCCESS}
		csr := req.CSR
		switch {
		case req.MessageType == scep.CertPoll:
			csr = f.csrs[req.TransactionID]
			if csr == nil {
				reply = pki.Reply{Status: scep.FAILURE, FailInfo: scep.BadCertID}
			}
		case f.pending:
			f.csrs[req.TransactionID] = csr
			reply = pki.Reply{Status: scep.PENDING}
		}
		f.mu.Unlock()
		if reply.Status == scep.SUCCESS {
			reply.Certs = []*x509.Certificate{issueCSR(f.t, f.a, csr), f.a.CA}
		}
		der, err := f.a.CertRep(req, reply, rand.Reader)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "application/x-pki-message")
		_, _ = w.Write(der)
	default:
		http.NotFound(w, r)
	}
}

// issueCSR signs a certificate for csr with the test CA.
func issueCSR(t *testing.T, a *pki.Authority, csr *x509.CertificateRequest) *x509.Certificate {
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		RawSubject:   csr.RawSubject,
		DNSNames:     csr.DNSNames,
		NotBefore:    time.Now().Add(-time.Minute),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.CA, csr.PublicKey, a.CAKey)
	if err != nil {
		t.Error(err)
		return nil
	}
	c, _ := x509.ParseCertificate(der)
	return c
}

// newTestSession returns a Session on a temp workdir against url.
func newTestSession(t *testing.T, url string) (*Session, *bytes.Buffer) {
	dir := t.TempDir()
	cfg := defaultConfig()
	cfg.CACertURL = url + "/scep?operation=GetCACert"
	cfg.CertRequestURL = url + "/scep?operation=PKIOperation&message="
	cfg.Workdir = filepath.Join(dir, "temp")
	cfg.RACert = filepath.Join(dir, "temp", "ra.cer")
	cfg.P12File = filepath.Join(dir, "temp", "scep.p12")
	cfg.P12CertFile = filepath.Join(dir, "temp", "scep.cer")
	cfg.P12Password = "pw"
	cfg.Subject = "cn={0},o=Company"
	cfg.Password = "secret"
	var out bytes.Buffer
	return &Session{Config: cfg, Client: NewClient(10*time.Second, 1), Out: &out, Now: time.Now}, &out
}

func TestPendingThenPoll(t *testing.T) {
	f := &fakeSCEP{t: t, a: testAuthority(t), pending: true, csrs: map[string]*x509.CertificateRequest{}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	s, out := newTestSession(t, srv.URL)
	ctx := t.Context()
	if err := s.GetCACert(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Create("dev1"); err != nil {
		t.Fatal(err)
	}
	err := s.Send(ctx)
	if err == nil || !strings.Contains(err.Error(), `PENDING`) || !strings.Contains(err.Error(), `scepclient -config FILE poll`) {
		t.Fatalf("send: got %v, want PENDING with the poll command", err)
	}
	if err := s.Poll(ctx); err != nil {
		t.Fatalf("poll: %v\n%s", err, out)
	}
	if err := s.Verify(); err != nil {
		t.Fatalf("verify: %v\n%s", err, out)
	}
	if want := []scep.MessageType{scep.PKCSReq, scep.CertPoll}; len(f.types) != 2 || f.types[0] != want[0] || f.types[1] != want[1] {
		t.Errorf("message types: got %v, want %v", f.types, want)
	}
	if !bytes.Equal(f.signers[0].Raw, f.signers[1].Raw) {
		t.Errorf("signers: the CertPoll is signed by another certificate than the PKCSReq, want the same")
	}
	if err := s.Poll(ctx); err == nil || !strings.Contains(err.Error(), "not PENDING") {
		t.Errorf("second poll: got %v, want nothing to poll for", err)
	}
}

func TestProxyCert(t *testing.T) {
	a := testAuthority(t)
	f := &fakeSCEP{t: t, a: a, csrs: map[string]*x509.CertificateRequest{}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	s, out := newTestSession(t, srv.URL)

	proxyKey := testKey(t, 2)
	proxy := issue(t, a, "proxy", proxyKey)
	p12, err := pkcs12.Modern.Encode(proxyKey, proxy, []*x509.Certificate{a.CA}, "proxypw")
	if err != nil {
		t.Fatal(err)
	}
	s.Config.UseProxyCert = true
	s.Config.ProxyFile = filepath.Join(t.TempDir(), "proxy.p12")
	s.Config.ProxyPassword = "proxypw"
	if err := os.WriteFile(s.Config.ProxyFile, p12, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if err := s.Enroll(ctx, "dev2"); err != nil {
		t.Fatalf("enroll: %v\n%s", err, out)
	}
	if len(f.signers) != 1 || !bytes.Equal(f.signers[0].Raw, proxy.Raw) {
		t.Errorf("signer: got %v, want the proxy certificate", f.signers)
	}
	_, cert, _, err := loadP12(s.Config.P12File, "pw", "p12")
	if err != nil {
		t.Fatal(err)
	}
	if cert.Subject.CommonName != "dev2" {
		t.Errorf("issued: got %s, want CN=dev2", cert.Subject)
	}
}

func TestRenewSession(t *testing.T) {
	a := testAuthority(t)
	f := &fakeSCEP{t: t, a: a, csrs: map[string]*x509.CertificateRequest{}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	s, out := newTestSession(t, srv.URL)
	ctx := t.Context()
	if err := s.Enroll(ctx, "dev3"); err != nil {
		t.Fatalf("enroll: %v\n%s", err, out)
	}
	_, first, _, err := loadP12(s.Config.P12File, "pw", "p12")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Renew(ctx, ""); err != nil {
		t.Fatalf("renew: %v\n%s", err, out)
	}
	_, second, _, err := loadP12(s.Config.P12File, "pw", "p12")
	if err != nil {
		t.Fatal(err)
	}
	if f.types[len(f.types)-1] != scep.RenewalReq || !bytes.Equal(f.signers[len(f.signers)-1].Raw, first.Raw) {
		t.Errorf("got %v signed by %s, want a RenewalReq signed by the first certificate", f.types[len(f.types)-1], f.signers[len(f.signers)-1].Subject)
	}
	if samePublicKey(first.PublicKey, second.PublicKey) || second.Subject.String() != first.Subject.String() {
		t.Errorf("renewed: got %s with the same key %v, want the same subject %s and a new key", second.Subject, samePublicKey(first.PublicKey, second.PublicKey), first.Subject)
	}
	if err := s.Verify(); err != nil {
		t.Errorf("verify: %v", err)
	}
}

func TestMinimalServer(t *testing.T) {
	f := &fakeSCEP{t: t, a: testAuthority(t), minimal: true, csrs: map[string]*x509.CertificateRequest{}}
	srv := httptest.NewServer(f)
	defer srv.Close()
	s, out := newTestSession(t, srv.URL)
	if err := s.Enroll(t.Context(), "dev4"); err != nil {
		t.Fatalf("enroll: %v\n%s", err, out)
	}
	if len(f.methods) != 1 || f.methods[0] != http.MethodGet || f.digests[0] != "1.3.14.3.2.26" {
		t.Errorf("got %v with digests %v, want one GET signed with SHA-1 (1.3.14.3.2.26)", f.methods, f.digests)
	}
}
