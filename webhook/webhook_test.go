package webhook_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/scepgate/scepgate/enroll"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki"
	"github.com/scepgate/scepgate/webhook"
)

func TestAuthorizeChallenge(t *testing.T) {
	mk, err := pki.NewMasterKey("webhook-test-master-key-0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	const secret = "whsec_test"
	sealed, err := mk.Seal(pki.WebhookSecretPurpose, []byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := webhook.Verify(secret, r.Header, body, time.Now(), time.Minute); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/allow":
			_, _ = io.WriteString(w, `{"allow": true}`)
		case "/deny":
			_, _ = io.WriteString(w, `{"allow": false, "reason": "unknown device"}`)
		case "/slow":
			time.Sleep(300 * time.Millisecond)
			_, _ = io.WriteString(w, `{"allow": true}`)
		case "/broken":
			http.Error(w, "no", http.StatusInternalServerError)
		default:
			_, _ = io.WriteString(w, `allow`)
		}
	}))
	defer srv.Close()
	c := &webhook.Client{MasterKey: mk, HTTP: srv.Client(), Timeout: 100 * time.Millisecond}
	for _, tc := range []struct {
		name, path string
		sealed     []byte
		allow      bool
		refusal    string
	}{
		{"ok/allow", "/allow", sealed, true, ""},
		{"fail/deny", "/deny", sealed, false, "It said: unknown device"},
		{"fail/timeout", "/slow", sealed, false, ""},
		{"fail/status", "/broken", sealed, false, ""},
		{"fail/not-json", "/garbage", sealed, false, ""},
		{"fail/wrong-secret", "/allow", func() []byte { b, _ := mk.Seal(pki.WebhookSecretPurpose, []byte("other")); return b }(), false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &model.Handler{Name: "scep", ChallengeHookURL: srv.URL + tc.path, ChallengeHookSecret: tc.sealed}
			err := c.AuthorizeChallenge(context.Background(), h, enroll.ChallengeCheck{Challenge: "c", TransactionID: "tx"})
			if (err == nil) != tc.allow {
				t.Fatalf("got %v, want allow=%v", err, tc.allow)
			}
			var r *enroll.Refusal
			if tc.refusal != "" && (!errors.As(err, &r) || !strings.Contains(r.Reason, tc.refusal)) {
				t.Errorf("got %v, want a refusal saying %q", err, tc.refusal)
			}
		})
	}
}

func TestVerify(t *testing.T) {
	now := time.Unix(1767312000, 0)
	body := []byte(`{"event":"certificate.issued"}`)
	h := http.Header{}
	h.Set(webhook.HeaderTimestamp, "1767312000")
	h.Set(webhook.HeaderSignature, webhook.Sign("s", "1767312000", body))
	if err := webhook.Verify("s", h, body, now, time.Minute); err != nil {
		t.Errorf("ok: got %v", err)
	}
	if err := webhook.Verify("s", h, append(body, ' '), now, time.Minute); err == nil {
		t.Errorf("fail/body changed: got nil, want an error")
	}
	if err := webhook.Verify("s", h, body, now.Add(time.Hour), time.Minute); err == nil {
		t.Errorf("fail/replayed later: got nil, want an error")
	}
}
