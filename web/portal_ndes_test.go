package web_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/scepgate/scepgate/model"
	"golang.org/x/crypto/bcrypt"
)

func TestNDESPasswordPage(t *testing.T) {
	p := newPortal(t)
	ctx := context.Background()
	help := p.browser()
	help.signIn("helpdesk")
	if got := help.get("/ndes"); got.status != http.StatusOK || !strings.Contains(got.body, "There is no enabled NDES challenge handler") {
		t.Errorf("ok/no handler: status %d, want 200 with the empty state", got.status)
	}

	hash, _ := bcrypt.GenerateFromPassword([]byte("mdm-secret"), bcrypt.MinCost)
	h := model.Handler{Name: "ndeschallenge", Filter: "ndeschallenge/", Format: model.HandlerNDES, Enabled: true, NDESUsername: "ndesadmin",
		NDESPasswordHash: string(hash), NDESChallengeValidity: "PT60M", NDESPasswordLength: 16, NDESPasswordCap: 1}
	if err := p.db.SaveHandlers(ctx, []model.Handler{h}, nil); err != nil {
		t.Fatal(err)
	}
	p.svc.ConfigChanged()

	got := help.post("/ndes", "/ndes", url.Values{})
	if got.status != http.StatusOK {
		t.Fatalf("ok/get password: status %d, want 200; body %s", got.status, got.body)
	}
	m := regexp.MustCompile(`data-testid="ndes-password"[^>]*>([0-9A-F]{16})<`).FindStringSubmatch(got.body)
	if m == nil || !strings.Contains(got.body, `data-testid="ca-thumbprint"`) || !strings.Contains(got.body, "2026-05-01 13:00:00 UTC") {
		t.Fatalf("ok/get password: page lacks a 16-character password, the thumbprint or the expiry; body %s", got.body)
	}
	if cc := got.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("ok/password page Cache-Control %q, want no-store", cc)
	}
	regID := regexp.MustCompile(`/registrations/(\d+)`).FindStringSubmatch(got.body)
	id, _ := strconv.ParseInt(regID[1], 10, 64)
	reg, err := p.db.FindRegistration(ctx, id)
	if err != nil || reg.RequestedBy != "helpdesk" || reg.Kind != model.RegistrationNDES || strings.Contains(reg.ChallengeHash, m[1]) {
		t.Errorf("registration %+v, %v; want an NDES registration requested by helpdesk with the password hashed", reg, err)
	}

	// The cap of one unused password is reached.
	got = help.post("/ndes", "/ndes", url.Values{})
	if got.status != http.StatusConflict || !strings.Contains(got.body, "The password cache is full") {
		t.Errorf("fail/cache full: status %d, want 409 saying the cache is full", got.status)
	}
	aud := p.browser()
	aud.signIn("auditor")
	if got := aud.get("/ndes"); got.status != http.StatusForbidden {
		t.Errorf("fail/auditor gets a password: status %d, want 403", got.status)
	}
}
