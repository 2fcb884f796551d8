package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

func TestHandlers(t *testing.T) {
	p := newPortal(t)
	ctx := context.Background()
	admin := p.browser()
	admin.signIn("admin")

	ndes := url.Values{"name": {"mdm"}, "filter": {"/mdmchallenge/"}, "format": {"scep-ndes"}, "enabled": {"on"},
		"ndes_username": {"intune"}, "ndes_password": {"short"}, "ndes_challenge_validity": {"15 minutes"},
		"ndes_password_length": {"16"}, "ndes_password_cap": {"100"}}
	got := admin.post("/handlers/new", "/handlers", ndes)
	if got.status != http.StatusUnprocessableEntity {
		t.Fatalf("fail/invalid NDES handler: status %d, want 422", got.status)
	}
	for _, want := range []string{`data-testid="error-ndes_password"`, `data-testid="error-ndes_challenge_validity"`, `value="15 minutes"`, `value="intune"`} {
		if !strings.Contains(got.body, want) {
			t.Errorf("fail/invalid NDES handler: page lacks %s", want)
		}
	}
	ndes.Set("ndes_password", "mdm-secret-1")
	ndes.Set("ndes_challenge_validity", "PT15M")
	if got := admin.post("/handlers/new", "/handlers", ndes); got.status != http.StatusSeeOther {
		t.Fatalf("ok/create NDES handler: status %d, want 303; body %s", got.status, got.body)
	}
	hs, _, err := p.db.ListHandlers(ctx, "mdm", 1, 10)
	if err != nil || len(hs) != 1 {
		t.Fatalf("stored handlers %v, %v; want one", hs, err)
	}
	h := hs[0]
	if h.Filter != "mdmchallenge/" || bcrypt.CompareHashAndPassword([]byte(h.NDESPasswordHash), []byte("mdm-secret-1")) != nil {
		t.Errorf("stored handler: filter %q and a hash of the password, want mdmchallenge/ and a match", h.Filter)
	}
	id := strconv.FormatInt(h.ID, 10)

	list := admin.get("/handlers")
	if !strings.Contains(list.body, p.srv.URL+"/pgwy/scep/mdmchallenge/") || !strings.Contains(list.body, "Many MDMs assume 60 minutes") {
		t.Errorf("ok/list: lacks the full URL or the short-validity warning; body %s", list.body)
	}

	// Editing without a password keeps the password.
	ndes.Del("ndes_password")
	ndes.Set("ndes_challenge_validity", "PT60M")
	if got := admin.post("/handlers/"+id, "/handlers/"+id, ndes); got.status != http.StatusSeeOther {
		t.Fatalf("ok/edit: status %d, want 303; body %s", got.status, got.body)
	}
	after, _ := p.db.FindHandler(ctx, h.ID)
	if after.NDESPasswordHash != h.NDESPasswordHash || after.NDESChallengeValidity != "PT60M" {
		t.Errorf("after edit: validity %q, password changed %t; want PT60M, unchanged", after.NDESChallengeValidity, after.NDESPasswordHash != h.NDESPasswordHash)
	}

	if got := admin.post("/handlers", "/handlers/"+id+"/toggle", url.Values{}); got.status != http.StatusOK || !strings.Contains(got.body, `data-testid="confirm-page"`) {
		t.Errorf("ok/disable asks first: status %d, want 200 with the confirmation page", got.status)
	}
	if after, _ = p.db.FindHandler(ctx, h.ID); !after.Enabled {
		t.Errorf("after the unconfirmed toggle: disabled, want still enabled")
	}
	if got := admin.post("/handlers", "/handlers/"+id+"/toggle", url.Values{"confirm": {"yes"}}); got.status != http.StatusSeeOther {
		t.Fatalf("ok/disable: status %d", got.status)
	}
	if after, _ = p.db.FindHandler(ctx, h.ID); after.Enabled {
		t.Errorf("after toggle: enabled, want disabled")
	}

	scep := url.Values{"name": {"mdm"}, "filter": {"other"}, "format": {"scep"}, "token_procedure": {""}}
	got = admin.post("/handlers/new", "/handlers", scep)
	if got.status != http.StatusUnprocessableEntity || !strings.Contains(got.body, `data-testid="error-token_procedure"`) {
		t.Errorf("fail/SCEP handler without token procedure: status %d, want 422 with a message", got.status)
	}
	tps, _ := p.db.AllTokenProcedures(ctx)
	scep.Set("token_procedure", strconv.FormatInt(tps[0].ID, 10))
	if got := admin.post("/handlers/new", "/handlers", scep); got.status != http.StatusUnprocessableEntity || !strings.Contains(got.body, "already exists") {
		t.Errorf("fail/duplicate name: status %d, want 422 saying it exists", got.status)
	}
}

// TestHandlerAliasesForm maps Microsoft's NDES paths from the handlers
// page, and is refused a SCEP handler for the challenge page.
func TestHandlerAliasesForm(t *testing.T) {
	p := newPortal(t)
	ctx := context.Background()
	admin := p.browser()
	admin.signIn("admin")
	ndes := url.Values{"name": {"mdm"}, "filter": {"mdm/"}, "format": {"scep-ndes"}, "enabled": {"on"},
		"ndes_username": {"intune"}, "ndes_password": {"mdm-secret-1"}, "ndes_challenge_validity": {"PT60M"},
		"ndes_password_length": {"16"}, "ndes_password_cap": {"100"}}
	if got := admin.post("/handlers/new", "/handlers", ndes); got.status != http.StatusSeeOther {
		t.Fatalf("create NDES handler: status %d; body %s", got.status, got.body)
	}
	page := admin.get("/handlers")
	if !strings.Contains(page.body, `data-testid="aliases-form"`) || !strings.Contains(page.body, `<option value="mdm"`) {
		t.Fatalf("ok/handlers page: no alias form offering mdm; body %s", page.body)
	}
	got := admin.post("/handlers", "/handlers/aliases", url.Values{"mscep_admin": {"scep"}, "mscep": {"scep"}})
	if got.status != http.StatusUnprocessableEntity || !strings.Contains(got.body, `data-testid="error-mscep_admin"`) {
		t.Errorf("fail/scep handler for the challenge page: status %d; want 422 with the field's message", got.status)
	}
	if got := admin.post("/handlers", "/handlers/aliases", url.Values{"mscep_admin": {"mdm"}, "mscep": {"scep"}}); got.status != http.StatusSeeOther {
		t.Fatalf("ok/map: status %d; body %s", got.status, got.body)
	}
	a, err := p.db.Aliases(ctx)
	if err != nil || a.MSCEPAdmin != "mdm" || a.MSCEP != "scep" {
		t.Errorf("stored aliases %+v, %v; want mdm and scep", a, err)
	}
	helpdesk := p.browser()
	helpdesk.signIn("helpdesk")
	if got := helpdesk.post("/registrations", "/handlers/aliases", url.Values{"mscep_admin": {"mdm"}}); got.status != http.StatusForbidden {
		t.Errorf("fail/help desk maps aliases: status %d; want 403", got.status)
	}
}
