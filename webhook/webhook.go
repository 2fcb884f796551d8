// Package webhook calls the webhooks of SCEP handlers: a challenge hook,
// asked whether to accept each enrollment's challenge (so that an MDM that
// mints its own challenges can authorise them), and an event hook, told of
// certificates issued, renewed and revoked. Each call is an HTTPS POST of
// JSON, signed with the hook's secret:
//
//	X-Scepgate-Timestamp: 1767312000
//	X-Scepgate-Signature: sha256=HEX(HMAC-SHA256(secret, timestamp + "." + body))
//
// The timestamp is signed with the body so that a receiver can refuse old
// calls replayed; Verify checks both.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/scepgate/scepgate/enroll"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki"
)

// Headers of every call.
const (
	HeaderTimestamp = "X-Scepgate-Timestamp"
	HeaderSignature = "X-Scepgate-Signature"
	HeaderEvent     = "X-Scepgate-Event"
)

// EventChallenge is the X-Scepgate-Event of challenge hook calls.
const EventChallenge = "challenge"

// DefaultTimeout bounds each call.
const DefaultTimeout = 5 * time.Second

// maxAnswer caps what is read of a hook's answer.
const maxAnswer = 64 << 10

// Client calls webhooks; it implements enroll.Hooks.
type Client struct {
	MasterKey *pki.MasterKey // opens the hooks' sealed secrets
	// HTTP makes the calls (a client with Timeout by default); tests give
	// one that trusts their server.
	HTTP    *http.Client
	Timeout time.Duration
	Now     func() time.Time
	Log     *slog.Logger

	wg sync.WaitGroup
}

var _ enroll.Hooks = (*Client)(nil)

func (c *Client) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

func (c *Client) http() *http.Client {
	if c.HTTP != nil {
		return c.HTTP
	}
	return &http.Client{Timeout: c.timeout()}
}

func (c *Client) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Client) log() *slog.Logger {
	if c.Log != nil {
		return c.Log
	}
	return slog.New(slog.DiscardHandler)
}

// SubjectAltNames are a CSR's subject alternative names.
type SubjectAltNames struct {
	DNS   []string `json:"dns"`
	Email []string `json:"email"`
	IP    []string `json:"ip"`
	URI   []string `json:"uri"`
}

// ChallengeRequest is the body of a challenge hook call.
type ChallengeRequest struct {
	Handler         string          `json:"handler"`
	TransactionID   string          `json:"transaction_id"`
	Challenge       string          `json:"challenge"`
	Subject         string          `json:"subject"`
	SubjectAltNames SubjectAltNames `json:"subject_alt_names"`
	ClientAddr      string          `json:"client_addr"`
	CSR             string          `json:"csr"` // PEM
}

// ChallengeAnswer is what a challenge hook answers, with a 2xx status.
// Anything else (another status, a body that is not this, no answer within
// the timeout) refuses.
type ChallengeAnswer struct {
	Allow  bool   `json:"allow"`
	Reason string `json:"reason,omitempty"` // why not, for the audit log
}

// Event is the body of an event hook call.
type Event struct {
	Event       string           `json:"event"`
	Handler     string           `json:"handler"`
	At          time.Time        `json:"at"`
	Certificate EventCertificate `json:"certificate"`
}

// EventCertificate is the certificate an event is about.
type EventCertificate struct {
	Serial           string     `json:"serial"`
	Subject          string     `json:"subject"`
	DNSNames         []string   `json:"dns_names"`
	NotBefore        time.Time  `json:"not_before"`
	NotAfter         time.Time  `json:"not_after"`
	TransactionID    string     `json:"transaction_id,omitempty"`
	State            string     `json:"state"`
	RevokedAt        *time.Time `json:"revoked_at,omitempty"`
	RevocationReason int        `json:"revocation_reason,omitempty"`
	PEM              string     `json:"pem"`
}

// AuthorizeChallenge asks h's challenge hook whether to accept c's
// challenge; nil means it allowed.
func (c *Client) AuthorizeChallenge(ctx context.Context, h *model.Handler, ch enroll.ChallengeCheck) error {
	req := ChallengeRequest{Handler: h.Name, TransactionID: ch.TransactionID, Challenge: ch.Challenge, ClientAddr: ch.ClientAddr}
	if csr := ch.CSR; csr != nil {
		req.Subject = csr.Subject.String()
		req.SubjectAltNames = sans(csr)
		req.CSR = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr.Raw}))
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	res, err := c.post(ctx, h.ChallengeHookURL, h.ChallengeHookSecret, EventChallenge, req)
	if err != nil {
		return fmt.Errorf("challenge hook of handler %q: %w", h.Name, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("challenge hook of handler %q: %w", h.Name, err)
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return fmt.Errorf("challenge hook of handler %q answered HTTP %d", h.Name, res.StatusCode)
	}
	var a ChallengeAnswer
	if err := json.Unmarshal(body, &a); err != nil {
		return fmt.Errorf("challenge hook of handler %q: the answer is not {\"allow\": ...}: %w", h.Name, err)
	}
	if !a.Allow {
		reason := "The challenge hook did not allow this enrollment."
		if r := strings.TrimSpace(a.Reason); r != "" {
			reason += " It said: " + truncate(r, 200)
		}
		return &enroll.Refusal{Reason: reason}
	}
	return nil
}

// CertificateEvent tells h's event hook of event about cert, in the
// background; failures are logged.
func (c *Client) CertificateEvent(h *model.Handler, event string, cert *model.Certificate) {
	if h.EventHookURL == "" {
		return
	}
	ev := Event{Event: event, Handler: h.Name, At: c.now().UTC(), Certificate: EventCertificate{
		Serial: cert.Serial, Subject: cert.Subject, DNSNames: []string{}, NotBefore: cert.NotBefore.UTC(), NotAfter: cert.NotAfter.UTC(),
		TransactionID: cert.TransactionID, State: cert.State, RevokedAt: cert.RevokedAt, RevocationReason: cert.RevocationReason,
		PEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.DER})),
	}}
	if cert.DNSNames != "" {
		ev.Certificate.DNSNames = strings.Split(cert.DNSNames, ",")
	}
	url, secret, name := h.EventHookURL, h.EventHookSecret, h.Name
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout())
		defer cancel()
		res, err := c.post(ctx, url, secret, event, ev)
		if err == nil {
			_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, maxAnswer))
			_ = res.Body.Close()
			if res.StatusCode < 200 || res.StatusCode > 299 {
				err = fmt.Errorf("answered HTTP %d", res.StatusCode)
			}
		}
		if err != nil {
			c.log().Warn("event hook failed", "handler", name, "event", event, "serial", ev.Certificate.Serial, "err", err)
		}
	}()
}

// Wait waits for the event calls in flight.
func (c *Client) Wait() { c.wg.Wait() }

func (c *Client) post(ctx context.Context, url string, sealed []byte, event string, v any) (*http.Response, error) {
	secret, err := c.MasterKey.Open(pki.WebhookSecretPurpose, sealed)
	if err != nil {
		return nil, errors.New("the hook's secret cannot be opened; set the hook again")
	}
	body, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	ts := strconv.FormatInt(c.now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "scepgate-webhook")
	req.Header.Set(HeaderEvent, event)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign(string(secret), ts, body))
	return c.http().Do(req)
}

// Sign returns the X-Scepgate-Signature of body sent at timestamp.
func Sign(secret, timestamp string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(timestamp))
	m.Write([]byte("."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify checks, as a receiver does, that a call's signature is secret's
// and that its timestamp is within tolerance of now.
func Verify(secret string, h http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	ts := h.Get(HeaderTimestamp)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errors.New("no timestamp")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return errors.New("timestamp out of tolerance")
	}
	if !hmac.Equal([]byte(h.Get(HeaderSignature)), []byte(Sign(secret, ts, body))) {
		return errors.New("wrong signature")
	}
	return nil
}

func sans(csr *x509.CertificateRequest) SubjectAltNames {
	s := SubjectAltNames{DNS: append([]string{}, csr.DNSNames...), Email: append([]string{}, csr.EmailAddresses...), IP: []string{}, URI: []string{}}
	for _, ip := range csr.IPAddresses {
		s.IP = append(s.IP, ip.String())
	}
	for _, u := range csr.URIs {
		s.URI = append(s.URI, u.String())
	}
	return s
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
