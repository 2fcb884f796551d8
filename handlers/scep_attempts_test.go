package handlers_test

import (
	"bytes"
	"context"
	"crypto/x509/pkix"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scepgate/scepgate/internal/sceptest"
	"github.com/scepgate/scepgate/internal/testenv"
	"github.com/scepgate/scepgate/model"
	"github.com/smallstep/scep"
)

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// exchangeFrom is exchange from the client address addr.
func (f *fixture) exchangeFrom(addr string, d *sceptest.Device, r sceptest.Request) *sceptest.CertRep {
	f.t.Helper()
	msg, err := d.Build(f.auth.RA, r)
	if err != nil {
		f.t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodPost, "/pgwy/scep?operation=PKIOperation", bytes.NewReader(msg.DER))
	req.RemoteAddr = addr + ":40000"
	req.Header.Set("Content-Type", "application/x-pki-message")
	rec := httptest.NewRecorder()
	f.env.Echo.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		f.t.Fatalf("status %d (%s); want 200", rec.Code, rec.Body.String())
	}
	rep, err := d.ReadCertRep(rec.Body.Bytes(), f.auth.RA)
	if err != nil {
		f.t.Fatal(err)
	}
	return rep
}

// TestSCEPChallengeGuessing: an address that keeps sending wrong challenge
// passwords is slowed, then refused with a signed FAILURE even with the
// right password until its lock ends; other addresses and renewals go on;
// the lock is logged and audited once.
func TestSCEPChallengeGuessing(t *testing.T) {
	pol := model.AttemptPolicy{FreeFailures: 2, Delay: 30 * time.Millisecond, MaxDelay: 50 * time.Millisecond, LockAfter: 5, LockFor: 15 * time.Minute, Window: 15 * time.Minute}
	logs := &syncBuffer{}
	f := newFixtureWith(t, testenv.Options{Attempts: model.AttemptPolicies{SCEP: pol}, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	ctx := context.Background()
	const guesser, other = "203.0.113.66", "198.51.100.20"
	f.preRegister("right-for-guesser", "")
	f.preRegister("right-for-other", "")
	f.preRegister("right-after-lock", "")
	enroll := func(addr, cn, challenge string) *sceptest.CertRep {
		t.Helper()
		return f.exchangeFrom(addr, newDevice(t, cn), sceptest.Request{Subject: pkix.Name{CommonName: cn}, Challenge: challenge})
	}
	for i := 1; i <= pol.LockAfter; i++ {
		start := time.Now()
		if rep := enroll(guesser, "guess", "guess-"+string(rune('a'+i))); rep.Status != scep.FAILURE || rep.FailInfo != scep.BadRequest {
			t.Fatalf("wrong challenge %d: %s %q; want FAILURE badRequest", i, rep.Status, rep.FailInfo)
		}
		if want := min(time.Duration(i-pol.FreeFailures)*pol.Delay, pol.MaxDelay); i > pol.FreeFailures && time.Since(start) < want {
			t.Errorf("wrong challenge %d answered after %s; want at least %s", i, time.Since(start), want)
		}
	}
	before := f.certCount()
	// Locked: even the right password is refused, before it is looked up.
	for range 3 {
		if rep := enroll(guesser, "dev", "right-for-guesser"); rep.Status != scep.FAILURE || rep.FailInfo != scep.BadRequest {
			t.Fatalf("fail/locked: the right password got %s %q; want FAILURE badRequest", rep.Status, rep.FailInfo)
		}
	}
	if !strings.Contains(logs.String(), "Too many wrong challenge passwords from this address; try again in 15 minutes.") {
		t.Errorf("the refusal does not say why; logs:\n%s", logs.String())
	}
	if got := f.certCount(); got != before {
		t.Errorf("certificates %d -> %d while locked; want none", before, got)
	}
	regs, _ := f.db.FindRegistrationsByChallenge(ctx, mustHash(t, "right-for-guesser"))
	if len(regs) != 1 || regs[0].State != model.StateOpen || regs[0].LastFailure != "" {
		t.Errorf("the guesser's registration: %+v; want open and untouched", regs)
	}
	if rep := enroll(other, "other", "right-for-other"); rep.Status != scep.SUCCESS {
		t.Errorf("ok/another address: %s %q; want SUCCESS", rep.Status, rep.FailInfo)
	}
	// A renewal, signed by a certificate this CA issued, is no guess: it
	// goes through from the locked address.
	d := f.enrolledFrom(other, "renewer")
	if rep := f.exchangeFrom(guesser, d, sceptest.Request{MessageType: scep.RenewalReq, Subject: pkix.Name{CommonName: "renewer"}, CSRKey: newDevice(t, "n").Key}); rep.Status != scep.SUCCESS {
		t.Errorf("ok/renewal from the locked address: %s %q; want SUCCESS", rep.Status, rep.FailInfo)
	}

	events, _, err := f.db.SearchAuditEvents(ctx, model.AuditFilter{Query: "scep.lockout"}, 1, 10)
	if err != nil || len(events) != 1 {
		t.Fatalf("scep.lockout events: %d, %v; want 1", len(events), err)
	}
	if e := events[0]; e.ClientAddr != guesser || !strings.Contains(e.Detail, "5 wrong challenge passwords") {
		t.Errorf("lockout event %+v; want the guesser's address and the count", e)
	}
	if n := strings.Count(logs.String(), "scep client locked out"); n != 1 {
		t.Errorf("%d lockout log lines; want 1", n)
	}

	f.clock.Add(pol.LockFor)
	if rep := enroll(guesser, "dev", "right-after-lock"); rep.Status != scep.SUCCESS {
		t.Errorf("ok/lock over: %s %q; want SUCCESS", rep.Status, rep.FailInfo)
	}
	if v, err := f.db.LookupAttempts(ctx, model.AttemptSCEP, guesser); err != nil || v.Count != 0 {
		t.Errorf("count after a success: %+v, %v; want cleared", v, err)
	}
}

// enrolledFrom is enrolled, from the client address addr.
func (f *fixture) enrolledFrom(addr, cn string) *sceptest.Device {
	f.t.Helper()
	pw := "enroll-" + cn
	f.preRegister(pw, "")
	d := newDevice(f.t, cn)
	rep := f.exchangeFrom(addr, d, sceptest.Request{Subject: pkix.Name{CommonName: cn}, Challenge: pw})
	if rep.Status != scep.SUCCESS {
		f.t.Fatalf("enroll %s: %s; want SUCCESS", cn, rep.Status)
	}
	return &sceptest.Device{Key: d.Key, Cert: rep.Certs[0]}
}
