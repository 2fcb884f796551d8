package web_test

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509/pkix"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/scepgate/scepgate/handlers"
	"github.com/scepgate/scepgate/internal/sceptest"
	"github.com/scepgate/scepgate/internal/testenv"
	"github.com/scepgate/scepgate/model"
	"github.com/smallstep/pkcs7"
	"github.com/smallstep/scep"
	"howett.net/plist"
)

// appleKeys are the keys of each payload and their property list types,
// as Apple's Device Management documentation names them: string, integer,
// data, array, dict.
var appleKeys = map[string]map[string]string{
	"Configuration": {"PayloadType": "string", "PayloadVersion": "integer", "PayloadIdentifier": "string", "PayloadUUID": "string",
		"PayloadDisplayName": "string", "PayloadDescription": "string", "PayloadOrganization": "string", "PayloadContent": "array"},
	"com.apple.security.scep": {"PayloadType": "string", "PayloadVersion": "integer", "PayloadIdentifier": "string", "PayloadUUID": "string",
		"PayloadDisplayName": "string", "PayloadDescription": "string", "PayloadContent": "dict"},
	"scep content": {"URL": "string", "Name": "string", "Subject": "array", "Challenge": "string", "Keysize": "integer", "Key Type": "string",
		"Key Usage": "integer", "CAFingerprint": "data", "Retries": "integer", "RetryDelay": "integer"},
	"com.apple.security.root": {"PayloadType": "string", "PayloadVersion": "integer", "PayloadIdentifier": "string", "PayloadUUID": "string",
		"PayloadDisplayName": "string", "PayloadCertificateFileName": "string", "PayloadContent": "data"},
}

func plistType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case uint64, int64:
		return "integer"
	case []byte:
		return "data"
	case []any:
		return "array"
	case map[string]any:
		return "dict"
	}
	return reflect.TypeOf(v).String()
}

// checkKeys fails the test unless d has exactly the keys of kind, each of
// its type.
func checkKeys(t *testing.T, kind string, d map[string]any) {
	t.Helper()
	want := appleKeys[kind]
	for k, typ := range want {
		if v, ok := d[k]; !ok {
			t.Errorf("%s: key %q missing", kind, k)
		} else if got := plistType(v); got != typ {
			t.Errorf("%s: key %q is %s, want %s", kind, k, got, typ)
		}
	}
	for k := range d {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: key %q is not one Apple documents here", kind, k)
		}
	}
}

func TestMobileconfig(t *testing.T) {
	env := testenv.New(t, testenv.Options{Seed: apiSeed(t)})
	mdm := newToken(t, env, "jamf", model.RoleHelpdesk, 0)
	a := mdm.do(http.MethodGet, "/api/v1/handlers/ndesrequest/mobileconfig?unsigned=true&subject="+url.QueryEscape("CN=mac-1,O=Company"), nil)
	if a.status != http.StatusOK || a.header.Get("Content-Type") != handlers.MobileconfigType {
		t.Fatalf("mobileconfig: got %d %s, want 200 %s (%s)", a.status, a.header.Get("Content-Type"), handlers.MobileconfigType, a.raw)
	}
	if cd := a.header.Get("Content-Disposition"); !strings.Contains(cd, "scepgate-ndesrequest.mobileconfig") {
		t.Errorf("Content-Disposition: got %q, want the file name", cd)
	}
	var profile map[string]any
	if _, err := plist.Unmarshal(a.raw, &profile); err != nil {
		t.Fatalf("not a property list: %v", err)
	}
	checkKeys(t, "Configuration", profile)
	payloads, _ := profile["PayloadContent"].([]any)
	byType := map[string]map[string]any{}
	for _, p := range payloads {
		d := p.(map[string]any)
		byType[d["PayloadType"].(string)] = d
	}
	scepPayload, root := byType["com.apple.security.scep"], byType["com.apple.security.root"]
	if scepPayload == nil || root == nil || len(payloads) != 2 {
		t.Fatalf("payloads: got %v, want a SCEP and a root payload", reflect.ValueOf(byType).MapKeys())
	}
	checkKeys(t, "com.apple.security.scep", scepPayload)
	checkKeys(t, "com.apple.security.root", root)
	content := scepPayload["PayloadContent"].(map[string]any)
	checkKeys(t, "scep content", content)
	if !bytes.Equal(root["PayloadContent"].([]byte), env.Authority.CA.Raw) {
		t.Errorf("root payload: want the CA certificate's DER")
	}
	sum := sha256.Sum256(env.Authority.CA.Raw)
	if !bytes.Equal(content["CAFingerprint"].([]byte), sum[:]) {
		t.Errorf("CAFingerprint: want the CA certificate's SHA-256")
	}
	if content["Key Type"] != "RSA" || content["Key Usage"] != uint64(5) || content["Keysize"] != uint64(2048) {
		t.Errorf("key: got %v %v %v, want RSA, 5, 2048", content["Key Type"], content["Key Usage"], content["Keysize"])
	}
	wantSubject := []any{[]any{[]any{"CN", "mac-1"}}, []any{[]any{"O", "Company"}}}
	if !reflect.DeepEqual(content["Subject"], wantSubject) {
		t.Errorf("Subject: got %v, want %v", content["Subject"], wantSubject)
	}
	u, err := url.Parse(content["URL"].(string))
	if err != nil || u.Path != "/pgwy/scep/ndesrequest" {
		t.Fatalf("URL: got %v, want the handler's", content["URL"])
	}

	// A device enrolls with the challenge the profile carries, once.
	challenge := content["Challenge"].(string)
	for i, want := range []scep.PKIStatus{scep.SUCCESS, scep.FAILURE} {
		dev, err := sceptest.NewDevice("mac-1")
		if err != nil {
			t.Fatal(err)
		}
		msg, err := dev.Build(env.Authority.RA, sceptest.Request{Subject: pkix.Name{CommonName: "mac-1", Organization: []string{"Company"}}, Challenge: challenge})
		if err != nil {
			t.Fatal(err)
		}
		res, err := http.Post(content["URL"].(string)+"?operation=PKIOperation", "application/x-pki-message", bytes.NewReader(msg.DER))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		rep, err := dev.ReadCertRep(body, env.Authority.RA)
		if err != nil {
			t.Fatal(err)
		}
		if rep.Status != want {
			t.Errorf("enrollment %d with the profile's challenge: got %s, want %s", i+1, rep.Status, want)
		}
	}

	// Signed by default, with the RA certificate.
	signed := mdm.do(http.MethodGet, "/api/v1/handlers/ndesrequest/mobileconfig", nil)
	p7, err := pkcs7.Parse(signed.raw)
	if err != nil {
		t.Fatalf("signed profile: %v", err)
	}
	if err := p7.Verify(); err != nil {
		t.Errorf("signed profile: %v", err)
	}
	if s := p7.GetOnlySigner(); s == nil || !s.Equal(env.Authority.RA) {
		t.Errorf("signed profile: want the RA as its only signer")
	}
	if _, err := plist.Unmarshal(p7.Content, &profile); err != nil {
		t.Errorf("signed profile's content: %v", err)
	}
	if openssl, err := exec.LookPath("openssl"); err == nil {
		f := filepath.Join(t.TempDir(), "p.mobileconfig")
		if err := os.WriteFile(f, signed.raw, 0o600); err != nil {
			t.Fatal(err)
		}
		if out, err := exec.Command(openssl, "smime", "-verify", "-inform", "DER", "-noverify", "-in", f).CombinedOutput(); err != nil || !bytes.Contains(out, []byte("com.apple.security.scep")) {
			t.Errorf("openssl smime -verify: %v\n%s", err, out)
		}
	} else {
		t.Log("openssl not installed: skipped openssl smime -verify")
	}

	// Only SCEP request handlers have profiles; auditors may not make one.
	if a := mdm.do(http.MethodGet, "/api/v1/handlers/ndeschallenge/mobileconfig", nil); a.status != http.StatusUnprocessableEntity {
		t.Errorf("challenge handler: got %d, want 422", a.status)
	}
	if a := newToken(t, env, "audit", model.RoleAuditor, 0).do(http.MethodGet, "/api/v1/handlers/ndesrequest/mobileconfig", nil); a.status != http.StatusForbidden {
		t.Errorf("auditor: got %d, want 403", a.status)
	}
	// A pre-registration handler's profile carries no challenge.
	pre := mdm.do(http.MethodGet, "/api/v1/handlers/scep/mobileconfig?unsigned=1", nil)
	var preProfile map[string]any
	if _, err := plist.Unmarshal(pre.raw, &preProfile); err != nil {
		t.Fatal(err)
	}
	for _, p := range preProfile["PayloadContent"].([]any) {
		if c, ok := p.(map[string]any)["PayloadContent"].(map[string]any); ok && c["Challenge"] != nil {
			t.Errorf("pre-registration handler: got a challenge, want none")
		}
	}
}

func TestMobileconfigPortal(t *testing.T) {
	env := testenv.New(t, testenv.Options{Seed: apiSeed(t)})
	p := &portal{t: t, db: env.DB, svc: env.Enroll, clock: env.Clock, srv: env.Server, admin: env.Admin}
	if err := env.DB.AddUser(t.Context(), &model.User{Username: "admin", PasswordHash: testenv.Hash(t, testPassword), Role: model.RoleAdmin}, nil); err != nil {
		t.Fatal(err)
	}
	b := p.browser()
	b.signIn("admin")
	page := b.get("/handlers/2")
	if !strings.Contains(page.body, `data-testid="download-mobileconfig"`) {
		t.Fatalf("handler page: want the download button")
	}
	got := b.post("/handlers/2", "/handlers/2/mobileconfig", url.Values{"subject": {"CN=mac-2"}})
	if got.status != http.StatusOK || got.header.Get("Content-Type") != handlers.MobileconfigType {
		t.Fatalf("download: got %d %s, want 200 %s", got.status, got.header.Get("Content-Type"), handlers.MobileconfigType)
	}
	if _, err := pkcs7.Parse([]byte(got.body)); err != nil {
		t.Errorf("download: %v, want a signed profile", err)
	}
}
