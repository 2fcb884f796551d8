package handlers_test

import (
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/scepgate/scepgate/admin"
	"github.com/scepgate/scepgate/internal/sceptest"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki"
	"github.com/smallstep/pkcs7"
	"github.com/smallstep/scep"
)

// TestRollover: GetNextCACert serves a prepared CA; after activation a
// certificate of the old CA renews into the new one while it is unexpired,
// and the old CA's CRL stays published and lists what is revoked later.
func TestRollover(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	old := f.auth
	d := f.enrolled("old-ca-device")
	other := f.enrolled("old-ca-revoked")
	late := f.enrolled("old-ca-late")

	if status, _, _ := f.get("/pgwy/scep?operation=GetNextCACert"); status != 404 {
		t.Errorf("GetNextCACert with no next CA: status %d; want 404", status)
	}
	next, err := f.admin.PrepareRollover(ctx, admin.CLI, "p256")
	if err != nil {
		t.Fatal(err)
	}
	status, ctype, body := f.get("/pgwy/scep?operation=GetNextCACert")
	if status != 200 || ctype != "application/x-x509-next-ca-cert" {
		t.Fatalf("GetNextCACert: status %d, type %q; want 200 application/x-x509-next-ca-cert", status, ctype)
	}
	p7, err := pkcs7.Parse(body)
	if err != nil {
		t.Fatal(err)
	}
	if err := p7.Verify(); err != nil || !p7.GetOnlySigner().Equal(old.RA) {
		t.Errorf("GetNextCACert: signature %v; want one by the current RA", err)
	}
	if certs, err := pki.ParseDegenerate(p7.Content); err != nil || len(certs) != 2 || !certs[0].Equal(next.RA) || !certs[1].Equal(next.CA) {
		t.Errorf("GetNextCACert content: %d certificates, %v; want the next RA and CA", len(certs), err)
	}
	if _, _, caps := f.get("/pgwy/scep?operation=GetCACaps"); !strings.Contains(string(caps), "GetNextCACert\n") {
		t.Errorf("GetCACaps after prepare = %q; want GetNextCACert", caps)
	}
	if err := f.admin.ActivateRollover(ctx, admin.CLI); err != nil {
		t.Fatal(err)
	}
	f.auth = next // devices now encrypt to the new RA

	t.Run("ok/old-CA certificate renews into the new CA", func(t *testing.T) {
		_, rep := f.exchange(d, "/pgwy/scep", sceptest.Request{MessageType: scep.RenewalReq,
			Subject: pkix.Name{CommonName: "old-ca-device"}, CSRKey: newDevice(t, "new-key").Key})
		if rep.Status != scep.SUCCESS {
			t.Fatalf("pkiStatus %s failInfo %q; want SUCCESS", rep.Status, string(rep.FailInfo))
		}
		if err := rep.Certs[0].CheckSignatureFrom(next.CA); err != nil {
			t.Errorf("renewed certificate is not issued by the new CA: %v", err)
		}
	})

	t.Run("ok/old CA's CRL lists a later revocation", func(t *testing.T) {
		serial := other.Cert.SerialNumber
		if _, err := f.svc.Revoke(ctx, serial.Text(16), model.ReasonKeyCompromise, "test", ""); err != nil {
			t.Fatal(err)
		}
		status, _, der := f.get(fmt.Sprintf("/pgwy/ca/%d/crl", old.ID))
		if status != 200 {
			t.Fatalf("old CA's CRL: status %d; want 200", status)
		}
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			t.Fatal(err)
		}
		if err := crl.CheckSignatureFrom(old.CA); err != nil {
			t.Errorf("old CA's CRL is not signed by the old CA: %v", err)
		}
		found := false
		for _, e := range crl.RevokedCertificateEntries {
			found = found || e.SerialNumber.Cmp(serial) == 0
		}
		if !found {
			t.Errorf("old CA's CRL does not list %x, revoked after the rollover", serial)
		}
	})

	t.Run("fail/old-CA certificate after it expired", func(t *testing.T) {
		f.clock.Add(31 * 24 * time.Hour)
		_, rep := f.exchange(late, "/pgwy/scep", sceptest.Request{MessageType: scep.RenewalReq,
			Subject: pkix.Name{CommonName: "old-ca-late"}, CSRKey: newDevice(t, "late-key").Key})
		if rep.Status != scep.FAILURE || rep.FailInfo != scep.BadRequest {
			t.Errorf("pkiStatus %s failInfo %q; want FAILURE badRequest", rep.Status, string(rep.FailInfo))
		}
		events, _, err := f.db.SearchAuditEvents(ctx, model.AuditFilter{}, 1, 1)
		if err != nil || len(events) != 1 || events[0].Action != "renewal.refuse" || !strings.Contains(events[0].Detail, "expired on") {
			t.Errorf("last audit event %+v, %v; want renewal.refuse saying it expired", events, err)
		}
	})
}
