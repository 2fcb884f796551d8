package web_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/scepgate/scepgate/internal/testenv"
)

var tokenSecretRE = regexp.MustCompile(`data-testid="token-secret"[^>]*>([^<]+)<`)

func TestTokensPage(t *testing.T) {
	p := newPortal(t)
	env := &testenv.Env{Server: p.srv}
	helpdesk := p.browser()
	helpdesk.signIn("helpdesk")
	if got := helpdesk.get("/tokens"); got.status != http.StatusForbidden {
		t.Errorf("helpdesk: GET /tokens got %d, want 403", got.status)
	}

	b := p.browser()
	b.signIn("admin")
	bad := b.post("/tokens", "/tokens", url.Values{"name": {"bad name"}, "role": {"root"}})
	if bad.status != http.StatusUnprocessableEntity || !strings.Contains(bad.body, "Choose the token&#39;s role") {
		t.Errorf("fail/input: got %d, want 422 with the role's message", bad.status)
	}
	got := b.post("/tokens", "/tokens", url.Values{"name": {"jamf-prod"}, "role": {"helpdesk"}, "expires_in": {"720h"}})
	m := tokenSecretRE.FindStringSubmatch(got.body)
	if got.status != http.StatusOK || m == nil {
		t.Fatalf("ok/create: got %d, want 200 with the token shown once", got.status)
	}
	api := &apiClient{t: t, env: env, token: m[1]}
	if a := api.do(http.MethodGet, "/api/v1/registrations", nil); a.status != http.StatusOK {
		t.Fatalf("the portal's token: got %d, want 200 (%s)", a.status, a.raw)
	}
	list := b.get("/tokens")
	if strings.Contains(list.body, m[1]) || !strings.Contains(list.body, "jamf-prod") {
		t.Errorf("list: want the token's name and never its secret")
	}
	if rev := b.post("/tokens", "/tokens/revoke", url.Values{"name": {"jamf-prod"}}); rev.status != http.StatusSeeOther {
		t.Fatalf("revoke: got %d, want 303", rev.status)
	}
	if a := api.do(http.MethodGet, "/api/v1/registrations", nil); a.status != http.StatusUnauthorized {
		t.Errorf("revoked token: got %d, want 401", a.status)
	}
}
