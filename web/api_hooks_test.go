package web_test

import (
	"bytes"
	"crypto/x509/pkix"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/scepgate/scepgate/internal/sceptest"
	"github.com/scepgate/scepgate/internal/testenv"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/webhook"
	"github.com/smallstep/scep"
)

// mdmHooks is an MDM's HTTPS server: it allows the challenges it minted
// and records the events it hears of.
type mdmHooks struct {
	mu              sync.Mutex
	challengeSecret string
	eventSecret     string
	minted          map[string]bool
	asked           []webhook.ChallengeRequest
	events          []webhook.Event
	badSignatures   int
	srv             *httptest.Server
	now             func() time.Time
}

func newMDMHooks(t *testing.T, now func() time.Time) *mdmHooks {
	m := &mdmHooks{minted: map[string]bool{"MDM-MINTED-1": true}, now: now}
	m.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		m.mu.Lock()
		defer m.mu.Unlock()
		secret := m.eventSecret
		if r.URL.Path == "/challenge" {
			secret = m.challengeSecret
		}
		if err := webhook.Verify(secret, r.Header, body, m.now(), 5*time.Minute); err != nil {
			m.badSignatures++
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/challenge":
			var req webhook.ChallengeRequest
			_ = json.Unmarshal(body, &req)
			m.asked = append(m.asked, req)
			allow := m.minted[req.Challenge]
			delete(m.minted, req.Challenge)
			_ = json.NewEncoder(w).Encode(webhook.ChallengeAnswer{Allow: allow, Reason: "not minted here"})
		case "/events":
			var ev webhook.Event
			_ = json.Unmarshal(body, &ev)
			m.events = append(m.events, ev)
		}
	}))
	t.Cleanup(m.srv.Close)
	return m
}

func TestWebhooks(t *testing.T) {
	hooks := newMDMHooks(t, time.Now)
	env := testenv.New(t, testenv.Options{Seed: apiSeed(t), WebhookHTTP: hooks.srv.Client()})
	hooks.mu.Lock()
	hooks.now = env.Clock.Now // the calls' timestamps come from the stack's clock
	hooks.mu.Unlock()
	adm := newToken(t, env, "automation", model.RoleAdmin, 0)

	bad := adm.do(http.MethodPut, "/api/v1/handlers/scep/hooks", map[string]any{"challenge_url": "http://mdm.example/hook"})
	if bad.status != http.StatusUnprocessableEntity || bad.errorOf(t)["fields"].(map[string]any)["challenge_hook_url"] == nil {
		t.Fatalf("http URL: got %d %s, want 422 on challenge_hook_url", bad.status, bad.raw)
	}
	set := adm.do(http.MethodPut, "/api/v1/handlers/scep/hooks", map[string]any{"challenge_url": hooks.srv.URL + "/challenge", "event_url": hooks.srv.URL + "/events"})
	if set.status != http.StatusOK || set.body["challenge_secret"] == nil || set.body["event_secret"] == nil {
		t.Fatalf("set hooks: got %d %s, want 200 with both secrets", set.status, set.raw)
	}
	hooks.mu.Lock()
	hooks.challengeSecret, hooks.eventSecret = set.body["challenge_secret"].(string), set.body["event_secret"].(string)
	hooks.mu.Unlock()
	// Setting the URLs again keeps the secrets.
	again := adm.do(http.MethodPut, "/api/v1/handlers/scep/hooks", map[string]any{"challenge_url": hooks.srv.URL + "/challenge", "event_url": hooks.srv.URL + "/events"})
	if again.body["challenge_secret"] != nil {
		t.Errorf("set again: got a new secret, want the old one kept")
	}
	env.Enroll.ConfigChanged()

	enrollWith := func(cn, challenge string) scep.PKIStatus {
		t.Helper()
		dev, err := sceptest.NewDevice(cn)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := dev.Build(env.Authority.RA, sceptest.Request{Subject: pkix.Name{CommonName: cn}, DNSNames: []string{cn + ".corp.example"}, Challenge: challenge})
		if err != nil {
			t.Fatal(err)
		}
		res, err := http.Post(env.URL("/pgwy/scep?operation=PKIOperation"), "application/x-pki-message", bytes.NewReader(msg.DER))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		rep, err := dev.ReadCertRep(body, env.Authority.RA)
		if err != nil {
			t.Fatal(err)
		}
		return rep.Status
	}
	// Wait for the snapshot to carry the hooks.
	deadline := time.Now().Add(5 * time.Second)
	for {
		snap, err := env.Enroll.Snapshot(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		h, _ := snap.Route("")
		if h.ChallengeHookURL != "" || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := enrollWith("mac-1", "MDM-MINTED-1"); got != scep.SUCCESS {
		t.Fatalf("minted challenge: got %s, want SUCCESS", got)
	}
	if got := enrollWith("mac-2", "MDM-MINTED-1"); got != scep.FAILURE {
		t.Errorf("the same challenge again: got %s, want FAILURE", got)
	}
	if got := enrollWith("mac-3", "guessed"); got != scep.FAILURE {
		t.Errorf("unknown challenge: got %s, want FAILURE", got)
	}
	env.Webhooks.Wait()
	hooks.mu.Lock()
	asked := append([]webhook.ChallengeRequest{}, hooks.asked...)
	hooks.mu.Unlock()
	if len(asked) != 3 || asked[0].Subject != "CN=mac-1" || len(asked[0].SubjectAltNames.DNS) != 1 || asked[0].TransactionID == "" || asked[0].Challenge != "MDM-MINTED-1" {
		t.Fatalf("challenge calls: got %+v, want 3, the first with subject, SAN, transaction and challenge", asked)
	}

	// Revocation is an event too.
	list := adm.do(http.MethodGet, "/api/v1/certificates?q=mac-1", nil)
	id := int64(list.body["items"].([]any)[0].(map[string]any)["id"].(float64))
	if a := adm.do(http.MethodPost, "/api/v1/certificates/"+itoa(id)+"/revoke", map[string]string{"reason": "keyCompromise"}); a.status != http.StatusOK {
		t.Fatalf("revoke: got %d %s", a.status, a.raw)
	}
	env.Webhooks.Wait()
	hooks.mu.Lock()
	defer hooks.mu.Unlock()
	if hooks.badSignatures != 0 {
		t.Errorf("signatures: %d calls failed verification, want none", hooks.badSignatures)
	}
	var kinds []string
	for _, ev := range hooks.events {
		kinds = append(kinds, ev.Event)
		if ev.Handler != "scep" || ev.Certificate.Subject != "CN=mac-1" || ev.Certificate.PEM == "" {
			t.Errorf("event: got %+v, want one about CN=mac-1 at scep with its PEM", ev)
		}
	}
	if len(kinds) != 2 || kinds[0] != "certificate.issued" || kinds[1] != "certificate.revoked" {
		t.Errorf("events: got %v, want certificate.issued, certificate.revoked", kinds)
	}
}
