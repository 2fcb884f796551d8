package handlers_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"flag"
	"io"
	mathrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scepgate/scepgate/internal/testclock"

	"github.com/scepgate/scepgate/admin"
	"github.com/scepgate/scepgate/enroll"
	"github.com/scepgate/scepgate/handlers"
	"github.com/scepgate/scepgate/internal/sceptest"
	"github.com/scepgate/scepgate/internal/testenv"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki"
	"github.com/scepgate/scepgate/pki/cms"
	"github.com/scepgate/scepgate/store"
	"github.com/smallstep/pkcs7"
	"github.com/smallstep/scep"
)

var update = flag.Bool("update", false, "rewrite the golden messages in testdata/")

const preToken = "pre"

// fixture is a scepgate handler stack over a real SQLite file, with the CA
// and RA of testdata/ so that recorded messages can be replayed.
type fixture struct {
	t     testing.TB
	db    *store.DB
	svc   *enroll.Service
	auth  *pki.Authority
	srv   *httptest.Server
	clock *testclock.Clock
	admin *admin.Service
	env   *testenv.Env
	dsn   string       // the SQLite file
	h     http.Handler // the Echo instance, for requests in process
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	return newFixtureWith(t, testenv.Options{})
}

// newFixtureWith is newFixture with o's choices; the start, the authority
// and the seed are newFixture's.
func newFixtureWith(t testing.TB, o testenv.Options) *fixture {
	t.Helper()
	ctx := context.Background()
	cp := func(name string, f model.CertificateFormat) model.CertificateProcedure {
		return model.CertificateProcedure{Name: name, Format: f, KeyUsageMode: model.KeyUsageFromCSR,
			KeyUsages: "digitalSignature,keyEncipherment", ExtKeyUsages: "clientAuth", ValidityDays: 30, MinRSABits: 2048}
	}
	tp := func(name, cert, issuers string) store.SeedTokenProcedure {
		return store.SeedTokenProcedure{TokenProcedure: model.TokenProcedure{Name: name, StorageProfile: model.StorageProfilePKCS10,
			IssuerCertificates: issuers, InputView: 16, RenewalWindowDays: 30, SupersedeOnRenewal: true}, CertificateProcedures: []string{cert}}
	}
	approval := tp("approval", "pre-cert", model.IssuerCertsStoreAll)
	approval.RequireApproval = true
	shortWindow := tp("short-window", "pre-cert", model.IssuerCertsStoreAll)
	shortWindow.RenewalWindowDays = 1
	seed := &store.Seed{
		CertificateProcedures: []model.CertificateProcedure{cp("pre-cert", model.FormatSCEP), cp("ndes-cert", model.FormatNDESDynamic)},
		TokenProcedures: []store.SeedTokenProcedure{
			tp(preToken, "pre-cert", model.IssuerCertsStoreAll),
			tp("leaf-only", "pre-cert", model.IssuerCertsNone),
			tp("ndes", "ndes-cert", model.IssuerCertsStoreAll),
			approval,
			shortWindow,
		},
		Handlers: []store.SeedHandler{
			{Handler: model.Handler{Name: "scep", Filter: "", Format: model.HandlerSCEP, Enabled: true, AllowLegacyCiphers: true}, TokenProcedure: preToken},
			{Handler: model.Handler{Name: "strict", Filter: "strict", Format: model.HandlerSCEP, Enabled: true}, TokenProcedure: preToken},
			{Handler: model.Handler{Name: "leaf", Filter: "leaf/only", Format: model.HandlerSCEP, Enabled: true}, TokenProcedure: "leaf-only"},
			{Handler: model.Handler{Name: "off", Filter: "off", Format: model.HandlerSCEP, Enabled: false}, TokenProcedure: preToken},
			{Handler: model.Handler{Name: "ndesrequest", Filter: "ndesrequest", Format: model.HandlerSCEP, Enabled: true}, TokenProcedure: "ndes"},
			{Handler: model.Handler{Name: "approve", Filter: "approve", Format: model.HandlerSCEP, Enabled: true}, TokenProcedure: "approval"},
			{Handler: model.Handler{Name: "short", Filter: "short", Format: model.HandlerSCEP, Enabled: true}, TokenProcedure: "short-window"},
		},
	}
	o.Start, o.Authority, o.Seed = time.Now(), testAuthority(t), seed
	if o.DSN == "" {
		o.DSN = filepath.Join(t.TempDir(), "scepgate.db")
	}
	env := testenv.New(t, o)
	if err := env.DB.SetPublicURL(ctx, env.Server.URL); err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, db: env.DB, svc: env.Enroll, auth: env.Authority, srv: env.Server, clock: env.Clock, admin: env.Admin, env: env,
		dsn: o.DSN, h: env.Echo}
}

// testAuthority loads the CA and RA of testdata/, creating them in update mode.
func testAuthority(t testing.TB) *pki.Authority {
	t.Helper()
	path := filepath.Join("testdata", "authority.pem")
	if *update {
		if _, err := os.Stat(path); err != nil {
			a, err := pki.NewAuthority("rsa2048", "scepgate test", time.Now(), rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			for _, b := range []struct {
				typ string
				der []byte
			}{{"CERTIFICATE", a.CA.Raw}, {"PRIVATE KEY", mustPKCS8(t, a.CAKey)}, {"CERTIFICATE", a.RA.Raw}, {"PRIVATE KEY", mustPKCS8(t, a.RAKey)}} {
				_ = pem.Encode(&buf, &pem.Block{Type: b.typ, Bytes: b.der})
			}
			if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var blocks [][]byte
	for {
		var p *pem.Block
		p, b = pem.Decode(b)
		if p == nil {
			break
		}
		blocks = append(blocks, p.Bytes)
	}
	if len(blocks) != 4 {
		t.Fatalf("%s has %d PEM blocks; want CA cert, CA key, RA cert, RA key", path, len(blocks))
	}
	ca, _ := x509.ParseCertificate(blocks[0])
	caKey, _ := x509.ParsePKCS8PrivateKey(blocks[1])
	ra, _ := x509.ParseCertificate(blocks[2])
	raKey, _ := x509.ParsePKCS8PrivateKey(blocks[3])
	return &pki.Authority{CA: ca, CAKey: caKey.(*rsa.PrivateKey), RA: ra, RAKey: raKey.(*rsa.PrivateKey)}
}

func mustPKCS8(t testing.TB, key any) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func (f *fixture) preRegister(password, cn string) *model.Registration {
	f.t.Helper()
	return f.preRegisterFor(preToken, password, cn)
}

func (f *fixture) preRegisterFor(tokenProcedure, password, cn string) *model.Registration {
	f.t.Helper()
	r, err := f.admin.AddPreRegistration(context.Background(), admin.Actor{Name: "test"}, admin.PreRegistrationInput{
		TokenProcedure: tokenProcedure, Password: password, SubjectCN: cn, ValidFor: time.Hour})
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

func (f *fixture) certCount() int64 {
	_, n, err := f.db.SearchCertificates(context.Background(), model.CertificateFilter{}, 1, 1)
	if err != nil {
		f.t.Fatal(err)
	}
	return n
}

// post sends a PKIOperation by POST and returns status, content type, body.
func (f *fixture) post(path string, body []byte) (int, string, []byte) {
	f.t.Helper()
	resp, err := http.Post(f.srv.URL+path+"?operation=PKIOperation", "application/x-pki-message", bytes.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), b
}

func (f *fixture) get(pathAndQuery string) (int, string, []byte) {
	f.t.Helper()
	resp, err := http.Get(f.srv.URL + pathAndQuery)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), b
}

func newDevice(t testing.TB, cn string) *sceptest.Device {
	t.Helper()
	d, err := sceptest.NewDevice(cn)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestGetCACapsAndCert(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, path, wantType string
		wantStatus           int
	}{
		{"ok/caps", "/pgwy/scep?operation=GetCACaps", "text/plain", 200},
		{"ok/caps-any-case", "/pgwy/scep/strict?OPERATION=getcacaps", "text/plain", 200},
		{"ok/cacert-reference-spelling", "/pgwy/scep?operation=GetCaCert&message=none", "application/x-x509-ca-ra-cert", 200},
		{"ok/cacert-pkiclient-suffix", "/pgwy/scep/pkiclient.exe?operation=GetCACert", "application/x-x509-ca-ra-cert", 200},
		{"ok/cacert-handler-suffix", "/pgwy/scep/ndesrequest/pkiclient.exe?operation=GetCACert", "application/x-x509-ca-ra-cert", 200},
		{"fail/unknown-operation", "/pgwy/scep?operation=GetNothing", "text/plain; charset=UTF-8", 400},
		{"fail/no-operation", "/pgwy/scep", "text/plain; charset=UTF-8", 400},
		{"fail/disabled-handler", "/pgwy/scep/off?operation=GetCACaps", "text/plain; charset=UTF-8", 404},
		{"fail/disabled-handler-suffix", "/pgwy/scep/off/pkiclient.exe?operation=GetCACaps", "text/plain; charset=UTF-8", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, ctype, body := f.get(tt.path)
			if status != tt.wantStatus {
				t.Fatalf("status = %d; want %d (body %q)", status, tt.wantStatus, body)
			}
			if tt.wantType != "" && ctype != tt.wantType {
				t.Errorf("Content-Type = %q; want %q", ctype, tt.wantType)
			}
			switch {
			case tt.wantStatus != 200:
			case strings.Contains(tt.path, "GetCACaps") || strings.Contains(tt.path, "getcacaps"):
				for _, c := range []string{"POSTPKIOperation", "SHA-256", "AES", "DES3"} {
					if !strings.Contains(string(body), c+"\n") {
						t.Errorf("GetCACaps = %q; want it to list %s", body, c)
					}
				}
			case tt.wantType == "application/x-x509-ca-ra-cert":
				certs, err := scep.CACerts(body)
				if err != nil {
					t.Fatal(err)
				}
				if len(certs) != 2 || !certs[0].Equal(f.auth.RA) || !certs[1].Equal(f.auth.CA) {
					t.Errorf("GetCACert gave %d certificates; want the RA then the CA", len(certs))
				}
			}
		})
	}
}

func TestEnrollCiphersAndDigests(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name   string
		path   string
		cipher cms.Cipher
		digest string
		want   scep.PKIStatus
		fail   scep.FailInfo
	}{
		{"ok/aes128-sha256", "/pgwy/scep", cms.AES128CBC, "sha256", scep.SUCCESS, ""},
		{"ok/aes256-sha512", "/pgwy/scep/strict", cms.AES256CBC, "sha512", scep.SUCCESS, ""},
		{"ok/des3-sha1", "/pgwy/scep/strict", cms.DES3CBC, "sha1", scep.SUCCESS, ""},
		{"ok/des-legacy-allowed", "/pgwy/scep", cms.DESCBC, "sha1", scep.SUCCESS, ""},
		{"ok/rc2-legacy-allowed", "/pgwy/scep/pkiclient.exe", cms.RC2CBC, "sha256", scep.SUCCESS, ""},
		{"fail/des-not-allowed", "/pgwy/scep/strict", cms.DESCBC, "sha1", scep.FAILURE, scep.BadAlg},
		{"fail/rc2-not-allowed", "/pgwy/scep/strict", cms.RC2CBC, "sha1", scep.FAILURE, scep.BadAlg},
	}
	digests := map[string][]int{"sha1": pkcs7.OIDDigestAlgorithmSHA1, "sha256": pkcs7.OIDDigestAlgorithmSHA256, "sha512": pkcs7.OIDDigestAlgorithmSHA512}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pw := "password-" + tt.name
			f.preRegister(pw, "")
			d := newDevice(t, "device")
			before := f.certCount()
			msg, err := d.Build(f.auth.RA, sceptest.Request{Subject: pkix.Name{CommonName: "device " + string(rune('a'+i))},
				Challenge: pw, Cipher: cms.Algorithm{Cipher: tt.cipher}, Digest: digests[tt.digest]})
			if err != nil {
				t.Fatal(err)
			}
			status, ctype, body := f.post(tt.path, msg.DER)
			if status != 200 || ctype != "application/x-pki-message" {
				t.Fatalf("status %d, Content-Type %q; want 200 application/x-pki-message (body %q)", status, ctype, body)
			}
			rep, err := d.ReadCertRep(body, f.auth.RA)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Status != tt.want || rep.FailInfo != tt.fail {
				t.Fatalf("pkiStatus %s failInfo %q; want %s %q", rep.Status, rep.FailInfo, tt.want, tt.fail)
			}
			if rep.TransactionID != msg.TransactionID || !bytes.Equal(rep.RecipientNonce, msg.SenderNonce) {
				t.Errorf("transactionID %q recipientNonce %x; want %q and %x echoed", rep.TransactionID, rep.RecipientNonce, msg.TransactionID, msg.SenderNonce)
			}
			if !rep.Digest.Equal(digests[tt.digest]) {
				t.Errorf("reply digest %v; want the request's %v", rep.Digest, digests[tt.digest])
			}
			if tt.want != scep.SUCCESS {
				if got := f.certCount(); got != before {
					t.Errorf("certificates stored %d -> %d; want none stored on failure", before, got)
				}
				return
			}
			if rep.Cipher.Cipher != tt.cipher {
				t.Errorf("reply cipher %s; want the request's %s", rep.Cipher.Cipher, tt.cipher)
			}
			if len(rep.Certs) != 2 || !rep.Certs[1].Equal(f.auth.CA) {
				t.Fatalf("reply holds %d certificates; want the leaf and the CA (Store all)", len(rep.Certs))
			}
			leaf := rep.Certs[0]
			if err := leaf.CheckSignatureFrom(f.auth.CA); err != nil {
				t.Errorf("leaf not issued by the CA: %v", err)
			}
			if !leaf.PublicKey.(*rsa.PublicKey).Equal(&d.Key.PublicKey) {
				t.Error("leaf certifies another key than the device's")
			}
			if got := f.certCount(); got != before+1 {
				t.Errorf("certificates stored %d -> %d; want one more", before, got)
			}
		})
	}
}

func TestEnrollLeafOnlyAndGET(t *testing.T) {
	f := newFixture(t)
	f.preRegister("leaf-only-pw", "")
	// The leaf handler's token procedure stores no issuer certificates.
	d := newDevice(t, "leaf")
	r, err := f.admin.AddPreRegistration(context.Background(), admin.Actor{Name: "test"}, admin.PreRegistrationInput{TokenProcedure: "leaf-only", Password: "leaf-only-pw2", ValidFor: time.Hour})
	if err != nil || r.ID == 0 {
		t.Fatal(err)
	}
	msg, err := d.Build(f.auth.RA, sceptest.Request{Subject: pkix.Name{CommonName: "leaf"}, Challenge: "leaf-only-pw2"})
	if err != nil {
		t.Fatal(err)
	}
	// GET, with the '+' of base64 unescaped as macOS sends it.
	q := strings.ReplaceAll(url.QueryEscape(msg.Base64()), "%2B", "+")
	status, _, body := f.get("/pgwy/scep/leaf/only/pkiclient.exe?operation=PKIOperation&message=" + q)
	if status != 200 {
		t.Fatalf("status %d (%s); want 200", status, body)
	}
	rep, err := d.ReadCertRep(body, f.auth.RA)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != scep.SUCCESS || len(rep.Certs) != 1 {
		t.Fatalf("status %s with %d certificates; want SUCCESS with the leaf only", rep.Status, len(rep.Certs))
	}
}

func TestEnrollRefusals(t *testing.T) {
	f := newFixture(t)
	f.preRegister("right-password", "")
	f.preRegister("bound-password", "expected-cn")
	used := "used-password"
	f.preRegister(used, "")
	enrollWith := func(path, pw, cn string) (*sceptest.CertRep, int64) {
		d := newDevice(t, "x")
		before := f.certCount()
		msg, err := d.Build(f.auth.RA, sceptest.Request{Subject: pkix.Name{CommonName: cn}, Challenge: pw})
		if err != nil {
			t.Fatal(err)
		}
		status, _, body := f.post(path, msg.DER)
		if status != 200 {
			t.Fatalf("status %d (%s); want 200", status, body)
		}
		rep, err := d.ReadCertRep(body, f.auth.RA)
		if err != nil {
			t.Fatal(err)
		}
		return rep, f.certCount() - before
	}
	if rep, _ := enrollWith("/pgwy/scep", used, "first"); rep.Status != scep.SUCCESS {
		t.Fatalf("first use: %s; want SUCCESS", rep.Status)
	}
	tests := []struct{ name, path, pw, cn string }{
		{"fail/wrong-password", "/pgwy/scep", "wrong-password", "dev"},
		{"fail/no-password", "/pgwy/scep", "", "dev"},
		{"fail/used-password", "/pgwy/scep", used, "second"},
		{"fail/subject-mismatch", "/pgwy/scep", "bound-password", "other-cn"},
		{"fail/pre-registration-at-ndes-handler", "/pgwy/scep/ndesrequest", "right-password", "dev"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, added := enrollWith(tt.path, tt.pw, tt.cn)
			if rep.Status != scep.FAILURE || rep.FailInfo != scep.BadRequest {
				t.Errorf("pkiStatus %s failInfo %q; want FAILURE badRequest", rep.Status, rep.FailInfo)
			}
			if added != 0 {
				t.Errorf("%d certificates stored; want none", added)
			}
		})
	}
	regs, err := f.db.FindRegistrationsByChallenge(context.Background(), mustHash(t, "bound-password"))
	if err != nil || len(regs) != 1 {
		t.Fatalf("registrations for bound-password: %d, %v", len(regs), err)
	}
	if !strings.Contains(regs[0].LastFailure, "other-cn") || regs[0].State != model.StateOpen {
		t.Errorf("bound registration: state %s, last failure %q; want open with the reason recorded", regs[0].State, regs[0].LastFailure)
	}
}

func mustHash(t *testing.T, pw string) string {
	mk, err := pki.NewMasterKey(testenv.MasterSecret)
	if err != nil {
		t.Fatal(err)
	}
	return mk.ChallengeHash(pw)
}

func TestUnparseableRequests(t *testing.T) {
	f := newFixture(t)
	d := newDevice(t, "x")
	good, err := d.Build(f.auth.RA, sceptest.Request{Subject: pkix.Name{CommonName: "x"}, Challenge: "nothing"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		do   func() (int, string, []byte)
	}{
		{"fail/bad-base64", func() (int, string, []byte) { return f.get("/pgwy/scep?operation=PKIOperation&message=%%%") }},
		{"fail/not-base64", func() (int, string, []byte) { return f.get("/pgwy/scep?operation=PKIOperation&message=***") }},
		{"fail/missing-message", func() (int, string, []byte) { return f.get("/pgwy/scep?operation=PKIOperation") }},
		{"fail/empty-body", func() (int, string, []byte) { return f.post("/pgwy/scep", nil) }},
		{"fail/truncated-der", func() (int, string, []byte) { return f.post("/pgwy/scep", good.DER[:len(good.DER)/2]) }},
		{"fail/not-cms", func() (int, string, []byte) { return f.post("/pgwy/scep", []byte("hello, this is not CMS")) }},
		{"fail/over-2MiB", func() (int, string, []byte) {
			return f.post("/pgwy/scep", bytes.Repeat([]byte{0x30}, handlers.MaxSCEPMessage+1))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, ctype, body := tt.do()
			if status < 400 || status >= 500 {
				t.Errorf("status %d; want a 4xx", status)
			}
			if !strings.HasPrefix(ctype, "text/plain") || len(bytes.TrimSpace(body)) == 0 {
				t.Errorf("Content-Type %q body %q; want a plain-text reason", ctype, body)
			}
		})
	}
	// Garbage in the envelope is answered with a signed FAILURE, not an HTTP error.
	junk, err := d.Build(f.auth.RA, sceptest.Request{Payload: []byte("not a CSR")})
	if err != nil {
		t.Fatal(err)
	}
	status, _, body := f.post("/pgwy/scep", junk.DER)
	if status != 200 {
		t.Fatalf("junk CSR: status %d; want 200 with a CertRep", status)
	}
	if rep, err := d.ReadCertRep(body, f.auth.RA); err != nil || rep.Status != scep.FAILURE || rep.FailInfo != scep.BadRequest {
		t.Errorf("junk CSR: %v; want FAILURE badRequest", err)
	}
	// The server still serves.
	if status, _, _ := f.get("/pgwy/scep?operation=GetCACaps"); status != 200 {
		t.Errorf("GetCACaps after bad input: %d; want 200", status)
	}
}

func TestUnsupportedMessageType(t *testing.T) {
	f := newFixture(t)
	d := newDevice(t, "x")
	msg, err := d.Build(f.auth.RA, sceptest.Request{MessageType: scep.GetCRL, Payload: []byte{0x30, 0}})
	if err != nil {
		t.Fatal(err)
	}
	status, _, body := f.post("/pgwy/scep", msg.DER)
	if status != 200 {
		t.Fatalf("status %d; want 200", status)
	}
	rep, err := d.ReadCertRep(body, f.auth.RA)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Status != scep.FAILURE || rep.FailInfo != scep.BadRequest {
		t.Errorf("pkiStatus %s failInfo %q; want FAILURE badRequest", rep.Status, rep.FailInfo)
	}
}

// golden lists the recorded requests in testdata/: each was made once (with
// -update) for the CA and RA in testdata/authority.pem and is replayed here.
var golden = []struct {
	name, password string
	cipher         cms.Cipher
}{
	{"scepclient-des-sha1", "golden-pass-1", cms.DESCBC},
	{"aes256-sha256", "golden-pass-2", cms.AES256CBC},
	{"des3-sha512", "golden-pass-3", cms.DES3CBC},
	{"rc2-sha1", "golden-pass-4", cms.RC2CBC},
}

func TestGoldenRequests(t *testing.T) {
	if *update {
		recordGolden(t)
	}
	for _, g := range golden {
		t.Run("ok/"+g.name, func(t *testing.T) {
			f := newFixture(t)
			f.preRegister(g.password, "")
			der, err := os.ReadFile(filepath.Join("testdata", g.name+".der"))
			if err != nil {
				t.Fatal(err)
			}
			keyPEM, err := os.ReadFile(filepath.Join("testdata", g.name+".key"))
			if err != nil {
				t.Fatal(err)
			}
			req, err := pki.ParseRequest(der)
			if err != nil {
				t.Fatal(err)
			}
			block, _ := pem.Decode(keyPEM)
			key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			d := &sceptest.Device{Key: key, Cert: req.SignerCert}
			status, _, body := f.post("/pgwy/scep", der)
			if status != 200 {
				t.Fatalf("status %d (%s); want 200", status, body)
			}
			rep, err := d.ReadCertRep(body, f.auth.RA)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Status != scep.SUCCESS || rep.Cipher.Cipher != g.cipher || rep.TransactionID != req.TransactionID {
				t.Errorf("status %s cipher %s transaction %q; want SUCCESS %s %q", rep.Status, rep.Cipher.Cipher, rep.TransactionID, g.cipher, req.TransactionID)
			}
			// The same message again is a retry: it gets the same certificate
			// and consumes nothing more.
			before := f.certCount()
			_, _, body = f.post("/pgwy/scep", der)
			again, err := d.ReadCertRep(body, f.auth.RA)
			if err != nil || again.Status != scep.SUCCESS || !again.Certs[0].Equal(rep.Certs[0]) {
				t.Errorf("retry: %v; want SUCCESS with the first certificate", err)
			}
			if got := f.certCount(); got != before {
				t.Errorf("certificates stored %d -> %d on retry; want no change", before, got)
			}
		})
	}
}

// recordGolden writes testdata/*.der and *.key: micromdm's scepclient for
// the DES message, our own builder for the others.
func recordGolden(t *testing.T) {
	f := newFixture(t)
	for _, g := range golden {
		f.preRegister(g.password, "")
		var der, keyDER []byte
		if strings.HasPrefix(g.name, "scepclient") {
			der, keyDER = recordScepclient(t, f, g.password)
		} else {
			key, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				t.Fatal(err)
			}
			d, err := sceptest.DeviceFromKey(key, "golden")
			if err != nil {
				t.Fatal(err)
			}
			digest := map[string][]int{"sha1": pkcs7.OIDDigestAlgorithmSHA1, "sha256": pkcs7.OIDDigestAlgorithmSHA256, "sha512": pkcs7.OIDDigestAlgorithmSHA512}[g.name[strings.LastIndex(g.name, "-")+1:]]
			msg, err := d.Build(f.auth.RA, sceptest.Request{Subject: pkix.Name{CommonName: "golden " + g.name}, Challenge: g.password,
				Cipher: cms.Algorithm{Cipher: g.cipher}, Digest: digest})
			if err != nil {
				t.Fatal(err)
			}
			der, keyDER = msg.DER, x509.MarshalPKCS1PrivateKey(key)
		}
		if err := os.WriteFile(filepath.Join("testdata", g.name+".der"), der, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join("testdata", g.name+".key"), pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: keyDER}), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// recordScepclient runs micromdm's scepclient against a capturing proxy of
// the fixture and returns the PKCSReq it sent and its key.
func recordScepclient(t *testing.T, f *fixture, password string) (der, keyDER []byte) {
	var captured []byte
	target, _ := url.Parse(f.srv.URL)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			captured, _ = io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(captured))
		}
		r.URL.Scheme, r.URL.Host, r.RequestURI = target.Scheme, target.Host, ""
		resp, err := http.DefaultTransport.RoundTrip(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	defer proxy.Close()
	dir := t.TempDir()
	cmd := exec.Command("scepclient", "-server-url", proxy.URL+"/pgwy/scep", "-challenge", password,
		"-private-key", "k.pem", "-certificate", "c.pem", "-cn", "golden scepclient")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("scepclient: %v\n%s", err, out)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, "k.pem"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(keyPEM)
	return captured, block.Bytes
}

// TestMutatedMessagesNeverFail500 flips bytes of a valid request: whatever
// comes of it, the answer is a CertRep or a 4xx, never a server error.
func TestMutatedMessagesNeverFail500(t *testing.T) {
	f := newFixture(t)
	f.preRegister("mutation-pw", "")
	d := newDevice(t, "x")
	msg, err := d.Build(f.auth.RA, sceptest.Request{Subject: pkix.Name{CommonName: "m"}, Challenge: "mutation-pw"})
	if err != nil {
		t.Fatal(err)
	}
	rnd := mathrand.New(mathrand.NewPCG(1, 2))
	for i := 0; i < 300; i++ {
		b := bytes.Clone(msg.DER)
		for j := 0; j < 1+rnd.IntN(4); j++ {
			b[rnd.IntN(len(b))] ^= byte(1 + rnd.IntN(255))
		}
		if rnd.IntN(5) == 0 {
			b = b[:rnd.IntN(len(b))]
		}
		status, _, body := f.post("/pgwy/scep", b)
		if status >= 500 {
			t.Fatalf("mutation %d: status %d (%s); want a CertRep or a 4xx", i, status, body)
		}
	}
	if status, _, _ := f.get("/pgwy/scep?operation=GetCACaps"); status != 200 {
		t.Errorf("GetCACaps after mutations: %d; want 200", status)
	}
}

// TestHandlerWithoutScepPrefix: the reference's own example sends its
// requests to /pgwy/ndesrequest (without /scep/); handlers answer there too,
// but the base handler does not swallow every /pgwy/ URL.
func TestHandlerWithoutScepPrefix(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		name, path string
		want       int
	}{
		{"ok/filter", "/pgwy/ndesrequest?operation=GetCACaps", 200},
		{"ok/filter-with-suffix", "/pgwy/strict/pkiclient.exe?operation=GetCACaps", 200},
		{"fail/no-such-filter", "/pgwy/nothing-here?operation=GetCACaps", 404},
		{"fail/base-handler-not-reached", "/pgwy/pkiclient.exe?operation=GetCACaps", 404},
		{"fail/disabled", "/pgwy/off?operation=GetCACaps", 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if status, _, body := f.get(tt.path); status != tt.want {
				t.Errorf("GET %s: %d (%s); want %d", tt.path, status, body, tt.want)
			}
		})
	}
}
