package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scepgate/scepgate/admin"
	"github.com/scepgate/scepgate/handlers"
	"github.com/scepgate/scepgate/internal/testenv"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/store"
)

// apiSeed is a pre-registration handler, an NDES challenge handler and an
// NDES request handler.
func apiSeed(t testing.TB) *store.Seed {
	return &store.Seed{
		CertificateProcedures: []model.CertificateProcedure{
			{Name: "Device", Format: model.FormatSCEP, KeyUsageMode: model.KeyUsageFromCSR,
				KeyUsages: "digitalSignature,keyEncipherment", ExtKeyUsages: "clientAuth", ValidityDays: 365, MinRSABits: 2048},
			{Name: "NDES device", Format: model.FormatNDESDynamic, KeyUsageMode: model.KeyUsageFromCSR,
				KeyUsages: "digitalSignature,keyEncipherment", ExtKeyUsages: "clientAuth", ValidityDays: 365, MinRSABits: 2048},
		},
		TokenProcedures: []store.SeedTokenProcedure{
			{TokenProcedure: model.TokenProcedure{Name: "Device enroll", StorageProfile: model.StorageProfilePKCS10,
				IssuerCertificates: model.IssuerCertsStoreAll, InputView: model.InputViewSCEPRegistrations}, CertificateProcedures: []string{"Device"}},
			{TokenProcedure: model.TokenProcedure{Name: "NDES enroll", StorageProfile: model.StorageProfilePKCS10,
				IssuerCertificates: model.IssuerCertsStoreAll, InputView: model.InputViewSCEPRegistrations}, CertificateProcedures: []string{"NDES device"}},
		},
		Handlers: []store.SeedHandler{
			{Handler: model.Handler{Name: "scep", Format: model.HandlerSCEP, Enabled: true}, TokenProcedure: "Device enroll"},
			{Handler: model.Handler{Name: "ndesrequest", Filter: "ndesrequest", Format: model.HandlerSCEP, Enabled: true}, TokenProcedure: "NDES enroll"},
			{Handler: model.Handler{Name: "ndeschallenge", Filter: "ndeschallenge/", Format: model.HandlerNDES, Enabled: true,
				NDESUsername: "ndesadmin", NDESPasswordHash: testenv.Hash(t, "ndespassword"), NDESChallengeValidity: "PT15M", NDESPasswordCap: 2}},
		},
	}
}

// apiClient calls the JSON API with one token.
type apiClient struct {
	t     testing.TB
	env   *testenv.Env
	token string
}

// newToken makes a token through the operation the CLI and the portal use.
func newToken(t testing.TB, env *testenv.Env, name, role string, expires time.Duration) *apiClient {
	t.Helper()
	_, secret, err := env.Admin.CreateToken(context.Background(), admin.CLI, admin.TokenInput{Name: name, Role: role, ExpiresIn: expires})
	if err != nil {
		t.Fatal(err)
	}
	return &apiClient{t: t, env: env, token: secret}
}

type apiAnswer struct {
	status int
	header http.Header
	raw    []byte
	body   map[string]any
}

// errorOf returns the "error" object of an error answer, failing the test
// when the answer lacks one.
func (a apiAnswer) errorOf(t testing.TB) map[string]any {
	t.Helper()
	e, ok := a.body["error"].(map[string]any)
	if !ok || e["code"] == nil || e["message"] == nil {
		t.Fatalf("answer %d %s: want {\"error\": {\"code\", \"message\"}}", a.status, a.raw)
	}
	return e
}

func (c *apiClient) do(method, path string, body any) apiAnswer {
	c.t.Helper()
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		r = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		r = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, c.env.URL(path), r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	a := apiAnswer{status: res.StatusCode, header: res.Header, raw: raw}
	if strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &a.body); err != nil {
			c.t.Fatalf("%s %s: %v in %s", method, path, err, raw)
		}
	}
	return a
}

func TestAPIAuthentication(t *testing.T) {
	env := testenv.New(t, testenv.Options{Seed: apiSeed(t)})
	good := newToken(t, env, "jamf", model.RoleHelpdesk, 0)
	expiring := newToken(t, env, "short", model.RoleAdmin, time.Hour)
	revoked := newToken(t, env, "old", model.RoleAdmin, 0)
	if _, err := env.Admin.RevokeToken(context.Background(), admin.CLI, "old"); err != nil {
		t.Fatal(err)
	}
	env.Clock.Add(2 * time.Hour)

	for _, tc := range []struct {
		name   string
		client *apiClient
		status int
		code   string
	}{
		{"ok/helpdesk", good, http.StatusOK, ""},
		{"fail/missing", &apiClient{t: t, env: env}, http.StatusUnauthorized, model.EUNAUTHORIZED},
		{"fail/wrong", &apiClient{t: t, env: env, token: admin.TokenPrefix + "nope"}, http.StatusUnauthorized, model.EUNAUTHORIZED},
		{"fail/not-ours", &apiClient{t: t, env: env, token: "abc"}, http.StatusUnauthorized, model.EUNAUTHORIZED},
		{"fail/expired", expiring, http.StatusUnauthorized, model.EUNAUTHORIZED},
		{"fail/revoked", revoked, http.StatusUnauthorized, model.EUNAUTHORIZED},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.client.t = t
			a := tc.client.do(http.MethodGet, "/api/v1/registrations", nil)
			if a.status != tc.status {
				t.Fatalf("status: got %d, want %d (%s)", a.status, tc.status, a.raw)
			}
			if tc.code == "" {
				return
			}
			if got := a.errorOf(t)["code"]; got != tc.code {
				t.Errorf("code: got %v, want %s", got, tc.code)
			}
			if got := a.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
				t.Errorf("WWW-Authenticate: got %q, want Bearer", got)
			}
		})
	}

	// The last use is recorded.
	ts, err := env.Admin.Tokens(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range ts {
		if tok.Name == "jamf" && tok.LastUsedAt == nil {
			t.Errorf("token jamf: got no last use, want one")
		}
	}
}

func TestAPIRoles(t *testing.T) {
	env := testenv.New(t, testenv.Options{Seed: apiSeed(t)})
	clients := map[string]*apiClient{}
	for _, role := range []string{model.RoleAdmin, model.RoleHelpdesk, model.RoleAuditor} {
		clients[role] = newToken(t, env, role+"-token", role, 0)
	}
	for _, tc := range []struct {
		method, path string
		body         any
		allowed      []string
	}{
		{http.MethodPost, "/api/v1/handlers/ndeschallenge/challenges", nil, []string{model.RoleAdmin, model.RoleHelpdesk}},
		{http.MethodGet, "/api/v1/registrations", nil, []string{model.RoleAdmin, model.RoleHelpdesk, model.RoleAuditor}},
		{http.MethodGet, "/api/v1/certificates", nil, []string{model.RoleAdmin, model.RoleAuditor}},
		{http.MethodGet, "/api/v1/handlers", nil, []string{model.RoleAdmin, model.RoleAuditor}},
		{http.MethodGet, "/api/v1/ca", nil, []string{model.RoleAdmin, model.RoleHelpdesk, model.RoleAuditor}},
		{http.MethodPost, "/api/v1/certificates/999/revoke", map[string]string{"reason": "keyCompromise"}, []string{model.RoleAdmin}},
		{http.MethodPost, "/api/v1/registrations/999/cancel", nil, []string{model.RoleAdmin}},
	} {
		for role, c := range clients {
			allowed := false
			for _, r := range tc.allowed {
				allowed = allowed || r == role
			}
			t.Run(role+tc.path, func(t *testing.T) {
				c.t = t
				a := c.do(tc.method, tc.path, tc.body)
				if forbidden := a.status == http.StatusForbidden; forbidden == allowed {
					t.Fatalf("%s %s as %s: got %d, want allowed=%v (%s)", tc.method, tc.path, role, a.status, allowed, a.raw)
				}
				if !allowed && a.errorOf(t)["code"] != model.EFORBIDDEN {
					t.Errorf("code: got %v, want forbidden", a.errorOf(t)["code"])
				}
			})
		}
	}
}

func TestAPIChallengeAndRegistrations(t *testing.T) {
	env := testenv.New(t, testenv.Options{Seed: apiSeed(t)})
	mdm := newToken(t, env, "jamf", model.RoleHelpdesk, 0)
	a := mdm.do(http.MethodPost, "/api/v1/handlers/ndeschallenge/challenges", nil)
	if a.status != http.StatusCreated {
		t.Fatalf("challenge: got %d, want 201 (%s)", a.status, a.raw)
	}
	pw, _ := a.body["challenge"].(string)
	if len(pw) != model.DefaultNDESPasswordLength || strings.ToUpper(pw) != pw {
		t.Errorf("challenge: got %q, want 16 upper-case hex characters", pw)
	}
	if a.body["ca_thumbprint"] == "" || a.body["expires_at"] == nil {
		t.Errorf("challenge: got %s, want expires_at and ca_thumbprint", a.raw)
	}
	// The handler's cap (2) holds for the API as for the page.
	mdm.do(http.MethodPost, "/api/v1/handlers/ndeschallenge/challenges", nil)
	full := mdm.do(http.MethodPost, "/api/v1/handlers/ndeschallenge/challenges", nil)
	if full.status != http.StatusServiceUnavailable || full.errorOf(t)["code"] != "password_cache_full" {
		t.Errorf("third challenge: got %d %s, want 503 password_cache_full", full.status, full.raw)
	}
	if a := mdm.do(http.MethodPost, "/api/v1/handlers/nope/challenges", nil); a.status != http.StatusNotFound {
		t.Errorf("unknown handler: got %d, want 404", a.status)
	}
	if a := mdm.do(http.MethodPost, "/api/v1/handlers/scep/challenges", nil); a.status != http.StatusUnprocessableEntity {
		t.Errorf("SCEP handler: got %d, want 422 (%s)", a.status, a.raw)
	}

	list := mdm.do(http.MethodGet, "/api/v1/registrations?handler=ndeschallenge&state=open&per_page=1", nil)
	if list.status != http.StatusOK || list.body["total"] != 2.0 || len(list.body["items"].([]any)) != 1 {
		t.Fatalf("list: got %d %s, want total 2 and one item", list.status, list.raw)
	}
	item := list.body["items"].([]any)[0].(map[string]any)
	if item["requested_by"] != "token:jamf" || item["kind"] != model.RegistrationNDES {
		t.Errorf("registration: got %v, want an ndes registration requested by token:jamf", item)
	}
	events, _, err := env.DB.SearchAuditEvents(context.Background(), model.AuditFilter{Query: "token:jamf"}, 1, 100)
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]bool{}
	for _, e := range events {
		actions[e.Action] = true
	}
	if !actions["ndes.challenge.issue"] || !actions["api.read"] {
		t.Errorf("audit of token:jamf: got %v, want ndes.challenge.issue and api.read", actions)
	}

	// Pre-registrations, with the admin's field errors.
	adm := newToken(t, env, "automation", model.RoleAdmin, 0)
	bad := adm.do(http.MethodPost, "/api/v1/registrations", map[string]string{"token_procedure": "nope", "password": "short", "valid_for": "forever"})
	if bad.status != http.StatusUnprocessableEntity {
		t.Fatalf("bad pre-registration: got %d, want 422 (%s)", bad.status, bad.raw)
	}
	fields, _ := bad.errorOf(t)["fields"].(map[string]any)
	for _, f := range []string{"token_procedure", "password", "valid_for"} {
		if fields[f] == nil {
			t.Errorf("fields: got %v, want a message for %s", fields, f)
		}
	}
	ok := adm.do(http.MethodPost, "/api/v1/registrations", map[string]string{"token_procedure": "Device enroll", "password": "device-secret-1", "subject_cn": "router-7"})
	if ok.status != http.StatusCreated || ok.body["state"] != model.StateOpen || ok.body["requested_by"] != "token:automation" {
		t.Fatalf("pre-registration: got %d %s, want 201 open by token:automation", ok.status, ok.raw)
	}
	id := int64(ok.body["id"].(float64))
	cancel := adm.do(http.MethodPost, "/api/v1/registrations/"+itoa(id)+"/cancel", nil)
	if cancel.status != http.StatusOK || cancel.body["state"] != model.StateCancelled {
		t.Errorf("cancel: got %d %s, want 200 cancelled", cancel.status, cancel.raw)
	}
	if a := adm.do(http.MethodGet, "/api/v1/registrations?q=router-7&state=cancelled", nil); a.body["total"] != 1.0 {
		t.Errorf("search: got %s, want the cancelled registration", a.raw)
	}
}

func TestAPICertificates(t *testing.T) {
	env := testenv.New(t, testenv.Options{Seed: apiSeed(t)})
	p := &portal{t: t, db: env.DB, svc: env.Enroll, clock: env.Clock, srv: env.Server, admin: env.Admin}
	_, certID := p.enrolled("laptop-1")
	adm := newToken(t, env, "automation", model.RoleAdmin, 0)
	list := adm.do(http.MethodGet, "/api/v1/certificates?q=laptop&state=active", nil)
	if list.status != http.StatusOK || list.body["total"] != 1.0 {
		t.Fatalf("list: got %d %s, want one certificate", list.status, list.raw)
	}
	one := adm.do(http.MethodGet, "/api/v1/certificates/"+itoa(certID), nil)
	if pem, _ := one.body["pem"].(string); !strings.HasPrefix(pem, "-----BEGIN CERTIFICATE-----") {
		t.Errorf("certificate: got %s, want its PEM", one.raw)
	}
	bad := adm.do(http.MethodPost, "/api/v1/certificates/"+itoa(certID)+"/revoke", map[string]string{"reason": "bored"})
	if bad.status != http.StatusUnprocessableEntity || bad.errorOf(t)["fields"] == nil {
		t.Errorf("bad reason: got %d %s, want 422 with fields", bad.status, bad.raw)
	}
	rev := adm.do(http.MethodPost, "/api/v1/certificates/"+itoa(certID)+"/revoke", map[string]string{"reason": "keyCompromise"})
	if rev.status != http.StatusOK || rev.body["state"] != model.CertRevoked || rev.body["revocation_reason"] != "keyCompromise" {
		t.Fatalf("revoke: got %d %s, want revoked for keyCompromise", rev.status, rev.raw)
	}
	again := adm.do(http.MethodPost, "/api/v1/certificates/"+itoa(certID)+"/revoke", map[string]string{"reason": "keyCompromise"})
	if again.status != http.StatusConflict {
		t.Errorf("revoke again: got %d, want 409", again.status)
	}
	if a := adm.do(http.MethodGet, "/api/v1/certificates/424242", nil); a.status != http.StatusNotFound || a.errorOf(t)["code"] != model.ENOTFOUND {
		t.Errorf("unknown certificate: got %d %s, want 404 not_found", a.status, a.raw)
	}
	ca := adm.do(http.MethodGet, "/api/v1/ca", nil)
	if pem, _ := ca.body["pem"].(string); !strings.Contains(pem, "BEGIN CERTIFICATE") || ca.body["sha256"] == "" {
		t.Errorf("ca: got %s, want the chain in PEM", ca.raw)
	}
}

func TestAPILimits(t *testing.T) {
	env := testenv.New(t, testenv.Options{Seed: apiSeed(t),
		Attempts: model.AttemptPolicies{NDES: model.AttemptPolicy{FreeFailures: 100, LockAfter: 3, LockFor: time.Minute, Window: time.Minute}}})
	adm := newToken(t, env, "automation", model.RoleAdmin, 0)

	big := append([]byte(`{"token_procedure": "Device enroll", "password": "`), bytes.Repeat([]byte("a"), handlers.MaxAPIBody)...)
	big = append(big, `"}`...)
	if a := adm.do(http.MethodPost, "/api/v1/registrations", big); a.status != http.StatusRequestEntityTooLarge || a.errorOf(t)["code"] != "too_large" {
		t.Errorf("large body: got %d %s, want 413 too_large", a.status, a.raw)
	}
	if a := adm.do(http.MethodGet, "/api/v1/nothing-here", nil); a.status != http.StatusNotFound || a.errorOf(t)["code"] != model.ENOTFOUND {
		t.Errorf("unknown path: got %d %s, want 404 not_found in JSON", a.status, a.raw)
	}

	wrong := &apiClient{t: t, env: env, token: admin.TokenPrefix + "guess"}
	for i := 1; i <= 3; i++ {
		a := wrong.do(http.MethodGet, "/api/v1/registrations", nil)
		want := http.StatusUnauthorized
		if i == 3 {
			want = http.StatusTooManyRequests
		}
		if a.status != want {
			t.Fatalf("wrong token %d: got %d, want %d", i, a.status, want)
		}
	}
	// Locked out: even a good token waits.
	if a := adm.do(http.MethodGet, "/api/v1/registrations", nil); a.status != http.StatusTooManyRequests || a.header.Get("Retry-After") == "" {
		t.Errorf("locked address: got %d, want 429 with Retry-After", a.status)
	}
	env.Clock.Add(2 * time.Minute)
	if a := adm.do(http.MethodGet, "/api/v1/registrations", nil); a.status != http.StatusOK {
		t.Errorf("after the lock: got %d, want 200", a.status)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
