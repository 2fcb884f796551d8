package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
)

func TestProcedures(t *testing.T) {
	p := newPortal(t)
	ctx := context.Background()
	admin := p.browser()
	admin.signIn("admin")

	// A form with mistakes comes back with the input and a message per field.
	bad := url.Values{"name": {"Wi-Fi"}, "format": {"bogus"}, "key_usage_mode": {"csr"}, "key_usages": {"digitalSignature"}, "validity_days": {"0"}, "min_rsa_bits": {"2048"}}
	got := admin.post("/procedures/certificate/new", "/procedures/certificate", bad)
	if got.status != http.StatusUnprocessableEntity {
		t.Fatalf("fail/invalid form: status %d, want 422", got.status)
	}
	for _, want := range []string{`data-testid="error-format"`, `data-testid="error-validity_days"`, `value="Wi-Fi"`, `value="0"`} {
		if !strings.Contains(got.body, want) {
			t.Errorf("fail/invalid form: page lacks %s", want)
		}
	}
	if strings.Contains(got.body, `data-testid="error-name"`) {
		t.Errorf("fail/invalid form: name marked wrong, want only format and validity")
	}

	good := url.Values{"name": {"Wi-Fi"}, "format": {"scepndesdynamicenroll"}, "key_usage_mode": {"csr"}, "key_usages": {"digitalSignature", "keyEncipherment"},
		"ext_key_usages": {"clientAuth"}, "validity_days": {"90"}, "min_rsa_bits": {"2048"}}
	if got := admin.post("/procedures/certificate/new", "/procedures/certificate", good); got.status != http.StatusSeeOther || got.location != "/procedures" {
		t.Fatalf("ok/create certificate procedure: %d %q, want 303 /procedures; body %s", got.status, got.location, got.body)
	}
	if got := admin.get("/procedures"); !strings.Contains(got.body, `data-testid="flash">Certificate procedure Wi-Fi was saved.<`) {
		t.Errorf("ok/after create: no message saying it was saved")
	}
	if got := admin.get("/procedures"); strings.Contains(got.body, `data-testid="flash"`) {
		t.Errorf("ok/message shown twice")
	}
	if got := admin.post("/procedures/certificate/new", "/procedures/certificate", good); got.status != http.StatusUnprocessableEntity || !strings.Contains(got.body, "already exists") {
		t.Errorf("fail/duplicate name: status %d, want 422 saying it exists", got.status)
	}
	cps, _, err := p.db.ListCertificateProcedures(ctx, "wi-fi", 1, 10)
	if err != nil || len(cps) != 1 || cps[0].KeyUsages != "digitalSignature,keyEncipherment" || cps[0].ValidityDays != 90 {
		t.Fatalf("stored: %+v, %v; want one Wi-Fi procedure of 90 days", cps, err)
	}
	cpID := strconv.FormatInt(cps[0].ID, 10)

	tok := url.Values{"name": {"Wi-Fi enroll"}, "storage_profile": {"PKCS10"}, "issuer_certificates": {"store_all"}, "input_view": {"16"}, "certificate_procedures": {cpID}, "renewal_window_days": {"30"}, "supersede_on_renewal": {"on"}}
	if got := admin.post("/procedures/token/new", "/procedures/token", tok); got.status != http.StatusSeeOther {
		t.Fatalf("ok/create token procedure: status %d, want 303; body %s", got.status, got.body)
	}
	list := admin.get("/procedures?q=wi-fi")
	if !strings.Contains(list.body, ">Wi-Fi enroll</a>") || !strings.Contains(list.body, " Wi-Fi</td>") {
		t.Errorf("ok/list: the token procedure does not show with its certificate procedure; body %s", list.body)
	}
	if got := admin.get("/procedures?q=nothing-like-this"); !strings.Contains(got.body, "No certificate procedure matches") {
		t.Errorf("ok/empty search: no empty-state message")
	}

	// In use: deleting is refused with the reason.
	got = admin.post("/procedures/certificate/"+cpID, "/procedures/certificate/"+cpID+"/delete", url.Values{"confirm": {"yes"}})
	if got.status != http.StatusConflict || !strings.Contains(got.body, "is used by the token procedure") {
		t.Errorf("fail/delete in use: status %d, want 409 with the reason", got.status)
	}

	// Edit keeps the id and changes the fields.
	good.Set("validity_days", "30")
	if got := admin.post("/procedures/certificate/"+cpID, "/procedures/certificate/"+cpID, good); got.status != http.StatusSeeOther {
		t.Fatalf("ok/edit: status %d, want 303", got.status)
	}
	if cp, err := p.db.FindCertificateProcedure(ctx, cps[0].ID); err != nil || cp.ValidityDays != 30 {
		t.Errorf("after edit: %+v, %v; want 30 days", cp, err)
	}
	good.Set("subject_template", "CN={cn},O")
	if got := admin.post("/procedures/certificate/"+cpID, "/procedures/certificate/"+cpID, good); got.status != http.StatusUnprocessableEntity || !strings.Contains(got.body, `data-testid="error-subject_template"`) {
		t.Errorf("fail/bad subject template: status %d, want 422 with a message", got.status)
	}
	tps, _, _ := p.db.ListTokenProcedures(ctx, "wi-fi", 1, 10)
	if len(tps) != 1 || tps[0].RenewalWindowDays != 30 || !tps[0].SupersedeOnRenewal {
		t.Errorf("token procedure %+v, want renewal window 30 and supersede", tps)
	}

	// Auditors read, but cannot change; help desk cannot even read.
	aud := p.browser()
	aud.signIn("auditor")
	if got := aud.get("/procedures/certificate/" + cpID); got.status != http.StatusOK || !strings.Contains(got.body, "disabled") || strings.Contains(got.body, `data-testid="save"`) {
		t.Errorf("ok/auditor reads: status %d, want 200 with a disabled form and no save button", got.status)
	}
	if got := aud.post("/procedures", "/procedures/certificate/"+cpID+"/delete", url.Values{}); got.status != http.StatusForbidden {
		t.Errorf("fail/auditor deletes: status %d, want 403", got.status)
	}
	help := p.browser()
	help.signIn("helpdesk")
	if got := help.get("/procedures"); got.status != http.StatusForbidden {
		t.Errorf("fail/helpdesk opens procedures: status %d, want 403", got.status)
	}
}
