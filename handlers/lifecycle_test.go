package handlers_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scepgate/scepgate/internal/sceptest"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki"
	"github.com/smallstep/scep"
	"github.com/smallstep/scep/x509util"
)

// exchange sends msg to path and reads the reply with d's key.
func (f *fixture) exchange(d *sceptest.Device, path string, r sceptest.Request) (*sceptest.Message, *sceptest.CertRep) {
	f.t.Helper()
	msg, err := d.Build(f.auth.RA, r)
	if err != nil {
		f.t.Fatal(err)
	}
	status, _, body := f.post(path, msg.DER)
	if status != 200 {
		f.t.Fatalf("status %d (%s); want 200", status, body)
	}
	rep, err := d.ReadCertRep(body, f.auth.RA)
	if err != nil {
		f.t.Fatal(err)
	}
	if rep.TransactionID != msg.TransactionID {
		f.t.Errorf("transactionID %q; want %q echoed", rep.TransactionID, msg.TransactionID)
	}
	return msg, rep
}

// enrolled is a device holding a certificate from the fixture's CA.
func (f *fixture) enrolled(cn string) *sceptest.Device {
	f.t.Helper()
	pw := "enroll-" + cn
	f.preRegister(pw, "")
	d := newDevice(f.t, cn)
	_, rep := f.exchange(d, "/pgwy/scep", sceptest.Request{Subject: pkix.Name{CommonName: cn}, Challenge: pw})
	if rep.Status != scep.SUCCESS {
		f.t.Fatalf("enroll %s: %s; want SUCCESS", cn, rep.Status)
	}
	return &sceptest.Device{Key: d.Key, Cert: rep.Certs[0]}
}

func (f *fixture) certState(serial *big.Int) *model.Certificate {
	f.t.Helper()
	c, err := f.db.FindCertificateBySerial(context.Background(), strings.ToLower(serial.Text(16)))
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

func TestRenewal(t *testing.T) {
	tests := []struct {
		name    string
		path    string
		msgType scep.MessageType
		prepare func(f *fixture, d *sceptest.Device)
		want    scep.PKIStatus
		reason  string
	}{
		{"ok/renewalreq", "/pgwy/scep", scep.RenewalReq, nil, scep.SUCCESS, ""},
		{"ok/pkcsreq-signed-with-issued-cert", "/pgwy/scep", scep.PKCSReq, nil, scep.SUCCESS, ""},
		{"fail/revoked", "/pgwy/scep", scep.RenewalReq, func(f *fixture, d *sceptest.Device) {
			if _, err := f.svc.Revoke(context.Background(), d.Cert.SerialNumber.Text(16), model.ReasonKeyCompromise, "test", ""); err != nil {
				t.Fatal(err)
			}
		}, scep.FAILURE, "is revoked"},
		{"fail/expired", "/pgwy/scep", scep.RenewalReq, func(f *fixture, d *sceptest.Device) { f.clock.Add(31 * 24 * time.Hour) }, scep.FAILURE, "expired on"},
		{"fail/outside-window", "/pgwy/scep/short", scep.RenewalReq, nil, scep.FAILURE, "can be renewed from"},
		{"fail/self-signed-renewalreq", "/pgwy/scep", scep.RenewalReq, func(f *fixture, d *sceptest.Device) {
			self, err := sceptest.DeviceFromKey(d.Key, "self")
			if err != nil {
				t.Fatal(err)
			}
			d.Cert = self.Cert
		}, scep.FAILURE, "signed with a certificate this CA issued"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			d := f.enrolled("renew-me")
			old := d.Cert
			if tt.prepare != nil {
				tt.prepare(f, d)
			}
			next := newDevice(t, "next")
			before := f.certCount()
			_, rep := f.exchange(d, tt.path,
				sceptest.Request{MessageType: tt.msgType, Subject: pkix.Name{CommonName: "renew-me"}, CSRKey: next.Key})
			if rep.Status != tt.want {
				t.Fatalf("pkiStatus %s failInfo %q; want %s", rep.Status, string(rep.FailInfo), tt.want)
			}
			if tt.want != scep.SUCCESS {
				if rep.FailInfo != scep.BadRequest {
					t.Errorf("failInfo %q; want badRequest", string(rep.FailInfo))
				}
				if got := f.certCount(); got != before {
					t.Errorf("certificates %d -> %d; want none issued", before, got)
				}
				events, _, err := f.db.SearchAuditEvents(context.Background(), model.AuditFilter{}, 1, 1)
				if err != nil || len(events) != 1 || events[0].Action != "renewal.refuse" || !strings.Contains(events[0].Detail, tt.reason) {
					t.Errorf("last audit event %+v, %v; want renewal.refuse naming %q", events, err, tt.reason)
				}
				return
			}
			renewed := rep.Certs[0]
			if !renewed.PublicKey.(interface{ Equal(crypto.PublicKey) bool }).Equal(&next.Key.PublicKey) {
				t.Error("the renewed certificate does not certify the new key")
			}
			if renewed.Subject.String() != old.Subject.String() || renewed.SerialNumber.Cmp(old.SerialNumber) == 0 {
				t.Errorf("renewed subject %q serial %s; want the old subject %q and a new serial", renewed.Subject, renewed.SerialNumber, old.Subject)
			}
			if got := f.certState(old.SerialNumber); got.State != model.CertRevoked || got.RevocationReason != model.ReasonSuperseded {
				t.Errorf("old certificate: state %s reason %d; want revoked as superseded", got.State, got.RevocationReason)
			}
		})
	}
}

func TestApprovalAndPoll(t *testing.T) {
	for _, decision := range []string{"approve", "reject"} {
		t.Run("ok/"+decision, func(t *testing.T) {
			f := newFixture(t)
			ctx := context.Background()
			f.preRegisterFor("approval", "needs-approval", "")
			d := newDevice(t, "waiting")
			subject := pkix.Name{CommonName: "waiting"}
			msg, rep := f.exchange(d, "/pgwy/scep/approve", sceptest.Request{Subject: subject, Challenge: "needs-approval"})
			if rep.Status != scep.PENDING {
				t.Fatalf("PKCSReq: %s; want PENDING", rep.Status)
			}
			poll := sceptest.Request{MessageType: scep.CertPoll, TransactionID: msg.TransactionID, Payload: sceptest.IssuerAndSubject(f.auth.CA, subject)}
			if _, rep := f.exchange(d, "/pgwy/scep/approve", poll); rep.Status != scep.PENDING {
				t.Fatalf("CertPoll before the decision: %s; want PENDING", rep.Status)
			}
			// The same PKCSReq again also waits, and consumes nothing.
			if _, rep := f.exchange(d, "/pgwy/scep/approve", sceptest.Request{Subject: subject, Challenge: "needs-approval", TransactionID: msg.TransactionID}); rep.Status != scep.PENDING {
				t.Fatalf("retried PKCSReq: %s; want PENDING", rep.Status)
			}
			pending, err := f.db.ListPendingRegistrations(ctx)
			if err != nil || len(pending) != 1 {
				t.Fatalf("pending registrations: %d, %v; want 1", len(pending), err)
			}
			if decision == "reject" {
				if err := f.svc.Reject(ctx, pending[0].ID, "unknown device", "test"); err != nil {
					t.Fatal(err)
				}
				_, rep := f.exchange(d, "/pgwy/scep/approve", poll)
				if rep.Status != scep.FAILURE || rep.FailInfo != scep.BadRequest {
					t.Errorf("CertPoll after rejection: %s %q; want FAILURE badRequest", rep.Status, string(rep.FailInfo))
				}
				return
			}
			cert, err := f.svc.Approve(ctx, pending[0].ID, "test")
			if err != nil {
				t.Fatal(err)
			}
			_, rep = f.exchange(d, "/pgwy/scep/approve", poll)
			if rep.Status != scep.SUCCESS || strings.ToLower(rep.Certs[0].SerialNumber.Text(16)) != cert.Serial {
				t.Fatalf("CertPoll after approval: %s; want SUCCESS with certificate %s", rep.Status, cert.Serial)
			}
			if _, err := f.svc.Approve(ctx, pending[0].ID, "test"); model.ErrorCode(err) != model.ECONFLICT {
				t.Errorf("second approval: %v; want ECONFLICT", err)
			}
		})
	}
	t.Run("fail/unknown-transaction", func(t *testing.T) {
		f := newFixture(t)
		d := newDevice(t, "x")
		_, rep := f.exchange(d, "/pgwy/scep", sceptest.Request{MessageType: scep.CertPoll, TransactionID: "never-seen",
			Payload: sceptest.IssuerAndSubject(f.auth.CA, pkix.Name{CommonName: "x"})})
		if rep.Status != scep.FAILURE || rep.FailInfo != scep.BadCertID {
			t.Errorf("CertPoll for an unknown transaction: %s %q; want FAILURE badCertId", rep.Status, string(rep.FailInfo))
		}
	})
}

func TestRetrySameTransactionOtherKey(t *testing.T) {
	f := newFixture(t)
	f.preRegister("retry-pw", "")
	d := newDevice(t, "retry")
	msg, rep := f.exchange(d, "/pgwy/scep", sceptest.Request{Subject: pkix.Name{CommonName: "retry"}, Challenge: "retry-pw"})
	if rep.Status != scep.SUCCESS {
		t.Fatalf("first: %s; want SUCCESS", rep.Status)
	}
	other := newDevice(t, "other")
	before := f.certCount()
	_, rep = f.exchange(other, "/pgwy/scep", sceptest.Request{Subject: pkix.Name{CommonName: "retry"}, Challenge: "retry-pw", TransactionID: msg.TransactionID})
	if rep.Status != scep.FAILURE {
		t.Errorf("same transaction, other key: %s; want FAILURE", rep.Status)
	}
	if got := f.certCount(); got != before {
		t.Errorf("certificates %d -> %d; want none issued", before, got)
	}
}

func TestRevocationCRLAndGetCert(t *testing.T) {
	requireOpenSSL(t)
	f := newFixture(t)
	ctx := context.Background()
	d := f.enrolled("to-revoke")
	keep := f.enrolled("to-keep")
	if got := d.Cert.CRLDistributionPoints; len(got) != 1 || !strings.HasPrefix(got[0], f.srv.URL+"/pgwy/ca/") {
		t.Fatalf("CRL distribution points %v; want one under %s/pgwy/ca/", got, f.srv.URL)
	}
	if got := d.Cert.IssuingCertificateURL; len(got) != 1 {
		t.Fatalf("CA issuers URL %v; want one", got)
	}
	if _, err := f.svc.Revoke(ctx, d.Cert.SerialNumber.Text(16), model.ReasonKeyCompromise, "test", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Revoke(ctx, d.Cert.SerialNumber.Text(16), model.ReasonKeyCompromise, "test", ""); model.ErrorCode(err) != model.ECONFLICT {
		t.Errorf("revoking twice: %v; want ECONFLICT", err)
	}

	// GetCRL over SCEP.
	_, rep := f.exchange(keep, "/pgwy/scep", sceptest.Request{MessageType: scep.GetCRL, Payload: sceptest.IssuerAndSerial(f.auth.CA, keep.Cert.SerialNumber)})
	if rep.Status != scep.SUCCESS || len(rep.CRLs) != 1 {
		t.Fatalf("GetCRL: %s with %d CRLs; want SUCCESS with one", rep.Status, len(rep.CRLs))
	}
	crl := rep.CRLs[0]
	if err := crl.CheckSignatureFrom(f.auth.CA); err != nil {
		t.Errorf("CRL signature: %v", err)
	}
	if len(crl.RevokedCertificateEntries) != 1 || crl.RevokedCertificateEntries[0].SerialNumber.Cmp(d.Cert.SerialNumber) != 0 ||
		crl.RevokedCertificateEntries[0].ReasonCode != model.ReasonKeyCompromise {
		t.Errorf("CRL entries %+v; want the revoked serial with reason keyCompromise", crl.RevokedCertificateEntries)
	}

	// The distribution point serves the same CRL, and openssl accepts it.
	status, ctype, der := f.get(strings.TrimPrefix(d.Cert.CRLDistributionPoints[0], f.srv.URL))
	if status != 200 || ctype != "application/pkix-crl" {
		t.Fatalf("CRL distribution point: %d %q", status, ctype)
	}
	dir := t.TempDir()
	crlPath, caPath := filepath.Join(dir, "ca.crl"), filepath.Join(dir, "ca.pem")
	_ = os.WriteFile(crlPath, der, 0o644)
	_ = os.WriteFile(caPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.auth.CA.Raw}), 0o644)
	out, err := exec.Command("openssl", "crl", "-inform", "DER", "-in", crlPath, "-CAfile", caPath, "-noout", "-text").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "verify OK") || !strings.Contains(strings.ToUpper(string(out)), strings.ToUpper(d.Cert.SerialNumber.Text(16))) {
		t.Errorf("openssl crl -verify: %v\n%s\nwant verify OK listing serial %X", err, out, d.Cert.SerialNumber)
	}
	status, ctype, caDER := f.get(strings.TrimPrefix(d.Cert.IssuingCertificateURL[0], f.srv.URL))
	if status != 200 || ctype != "application/pkix-cert" {
		t.Fatalf("CA issuers URL: %d %q", status, ctype)
	}
	if ca, err := x509.ParseCertificate(caDER); err != nil || !ca.Equal(f.auth.CA) {
		t.Errorf("CA issuers URL serves another certificate: %v", err)
	}

	// GetCert by issuer and serial.
	_, rep = f.exchange(keep, "/pgwy/scep", sceptest.Request{MessageType: scep.GetCert, Payload: sceptest.IssuerAndSerial(f.auth.CA, d.Cert.SerialNumber)})
	if rep.Status != scep.SUCCESS || len(rep.Certs) != 1 || !rep.Certs[0].Equal(d.Cert) {
		t.Errorf("GetCert: %s; want SUCCESS with the certificate", rep.Status)
	}
	_, rep = f.exchange(keep, "/pgwy/scep", sceptest.Request{MessageType: scep.GetCert, Payload: sceptest.IssuerAndSerial(f.auth.CA, big.NewInt(12345))})
	if rep.Status != scep.FAILURE || rep.FailInfo != scep.BadCertID {
		t.Errorf("GetCert of an unknown serial: %s %q; want FAILURE badCertId", rep.Status, string(rep.FailInfo))
	}
}

func requireOpenSSL(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Fatal("openssl is not installed: run `apt-get install openssl`")
	}
}

// TestProxySignedEnrollment: a PKCSReq that carries a challenge is an
// enrollment even when a certificate of this CA signs it (a proxy or an
// MDM's own certificate), not a renewal of that certificate.
func TestProxySignedEnrollment(t *testing.T) {
	f := newFixture(t)
	proxy := f.enrolled("mdm-proxy")
	f.preRegister("device-via-proxy", "")
	device := newDevice(t, "device")
	_, rep := f.exchange(proxy, "/pgwy/scep", sceptest.Request{Subject: pkix.Name{CommonName: "device-behind-proxy"},
		Challenge: "device-via-proxy", CSRKey: device.Key})
	if rep.Status != scep.SUCCESS {
		t.Fatalf("pkiStatus %s failInfo %q; want SUCCESS", rep.Status, string(rep.FailInfo))
	}
	if got := rep.Certs[0].Subject.CommonName; got != "device-behind-proxy" {
		t.Errorf("subject CN %q; want the CSR's device-behind-proxy", got)
	}
	if got := f.certState(proxy.Cert.SerialNumber); got.State != model.CertActive {
		t.Errorf("the proxy's certificate is %s; want it left active", got.State)
	}
}

// TestProcedureRefusalRecorded: a CSR outside its certificate procedure gets
// FAILURE, nothing is issued, and the registration records the rule and
// stays open for a corrected request.
func TestProcedureRefusalRecorded(t *testing.T) {
	f := newFixture(t)
	reg := f.preRegister("policy-pw", "")
	d := newDevice(t, "x")
	ku, err := pki.KeyUsageExtension(x509.KeyUsageDigitalSignature|x509.KeyUsageCertSign, true)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509util.CreateCertificateRequest(rand.Reader, &x509util.CertificateRequest{
		CertificateRequest: x509.CertificateRequest{Subject: pkix.Name{CommonName: "wants-a-ca"},
			ExtraExtensions: []pkix.Extension{ku}},
		ChallengePassword: "policy-pw",
	}, d.Key)
	if err != nil {
		t.Fatal(err)
	}
	before := f.certCount()
	_, rep := f.exchange(d, "/pgwy/scep", sceptest.Request{Payload: csr})
	if rep.Status != scep.FAILURE || rep.FailInfo != scep.BadRequest {
		t.Fatalf("pkiStatus %s failInfo %q; want FAILURE badRequest", rep.Status, string(rep.FailInfo))
	}
	if got := f.certCount(); got != before {
		t.Errorf("certificates %d -> %d; want none issued", before, got)
	}
	got, err := f.db.FindRegistration(context.Background(), reg.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != model.StateOpen || !strings.Contains(got.LastFailure, "keyCertSign") {
		t.Errorf("registration: state %s, last failure %q; want open, naming keyCertSign", got.State, got.LastFailure)
	}
}
