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

	if got := admin.post("/handlers", "/handlers/"+id+"/toggle", url.Values{}); got.status != http.StatusSeeOther {
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
