package web_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/scepgate/scepgate/admin"
	"github.com/scepgate/scepgate/model"
)

// pending makes a registration that waits for approval, as a PKCSReq at a
// token procedure requiring approval leaves it.
func (p *portal) pending(cn string) int64 {
	p.t.Helper()
	ctx := context.Background()
	reg, err := p.admin.AddPreRegistration(ctx, admin.Actor{Name: "admin"}, admin.PreRegistrationInput{TokenProcedure: "Device enroll", Password: "password-" + cn,
		ValidFor: time.Hour})
	if err != nil {
		p.t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}, key)
	if err != nil {
		p.t.Fatal(err)
	}
	snap, err := p.svc.Snapshot(ctx)
	if err != nil {
		p.t.Fatal(err)
	}
	h, ok := snap.Route("")
	if !ok {
		p.t.Fatal("no base handler")
	}
	if err := p.db.MarkPending(ctx, reg.ID, h.ID, "tx-"+cn, "hash-"+cn, csr, nil); err != nil {
		p.t.Fatal(err)
	}
	return reg.ID
}

func TestApproveAndReject(t *testing.T) {
	p := newPortal(t)
	ctx := context.Background()
	approveID, rejectID := p.pending("waits-1"), p.pending("waits-2")
	admin := p.browser()
	admin.signIn("admin")
	aid, rid := strconv.FormatInt(approveID, 10), strconv.FormatInt(rejectID, 10)

	if got := admin.get("/registrations?state=pending"); !strings.Contains(got.body, `data-testid="registration-`+aid+`"`) {
		t.Errorf("ok/pending list: registration %s not listed", aid)
	}
	if got := admin.get("/registrations/" + aid); !strings.Contains(got.body, `data-testid="approve"`) || !strings.Contains(got.body, `data-testid="reject"`) {
		t.Errorf("ok/pending page: no approve and reject buttons")
	}
	if got := admin.post("/registrations/"+aid, "/registrations/"+aid+"/approve", url.Values{}); got.status != http.StatusSeeOther {
		t.Fatalf("ok/approve: status %d, want 303; body %s", got.status, got.body)
	}
	r, _ := p.db.FindRegistration(ctx, approveID)
	if r.State != model.StateUsed || r.CertificateID == nil {
		t.Errorf("after approve: state %s certificate %v; want used with a certificate", r.State, r.CertificateID)
	}
	if got := admin.post("/registrations/"+aid, "/registrations/"+aid+"/approve", url.Values{}); got.status != http.StatusConflict {
		t.Errorf("fail/approve twice: status %d, want 409", got.status)
	}
	if got := admin.post("/registrations/"+rid, "/registrations/"+rid+"/reject", url.Values{"reason": {"unknown device"}, "confirm": {"yes"}}); got.status != http.StatusSeeOther {
		t.Fatalf("ok/reject: status %d, want 303", got.status)
	}
	if r, _ := p.db.FindRegistration(ctx, rejectID); r.State != model.StateRejected || r.LastFailure != "unknown device" {
		t.Errorf("after reject: state %s reason %q; want rejected, unknown device", r.State, r.LastFailure)
	}

	help := p.browser()
	help.signIn("helpdesk")
	if got := help.post("/registrations", "/registrations/"+aid+"/approve", url.Values{}); got.status != http.StatusForbidden {
		t.Errorf("fail/helpdesk approves: status %d, want 403", got.status)
	}
}
