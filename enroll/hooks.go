package enroll

import (
	"context"
	"crypto/x509"

	"github.com/scepgate/scepgate/model"
)

// Certificate events the event hooks hear of.
const (
	EventIssued  = "certificate.issued"
	EventRenewed = "certificate.renewed"
	EventRevoked = "certificate.revoked"
)

// ChallengeCheck is what a challenge hook is asked about.
type ChallengeCheck struct {
	CSR           *x509.CertificateRequest
	Challenge     string
	TransactionID string
	ClientAddr    string
}

// Hooks lets a handler's webhooks take part in enrollments: a handler with
// a challenge hook has it decide each challenge instead of the
// registrations, and an event hook hears of its certificates.
type Hooks interface {
	// AuthorizeChallenge asks h's challenge hook about c: nil allows, a
	// *Refusal (or any error) refuses.
	AuthorizeChallenge(ctx context.Context, h *model.Handler, c ChallengeCheck) error
	// CertificateEvent tells h's event hook, if it has one, of event about
	// c. It does not wait for the hook's answer.
	CertificateEvent(h *model.Handler, event string, c *model.Certificate)
}

type noHooks struct{}

func (noHooks) AuthorizeChallenge(context.Context, *model.Handler, ChallengeCheck) error {
	return refuse("This handler's challenge hook is not available.")
}
func (noHooks) CertificateEvent(*model.Handler, string, *model.Certificate) {}

// authoriseOrAsk authorises e by its handler's challenge hook when it has
// one, else by the registration its challenge password belongs to. An
// enrollment the hook allows consumes no registration: the returned one is
// empty (ID 0).
func (s *Service) authoriseOrAsk(ctx context.Context, e *Enrollment, tp *model.TokenProcedure, cp *model.CertificateProcedure, key string) (*model.Registration, error) {
	if e.Handler.ChallengeHookURL == "" {
		return s.authorise(ctx, e, tp, cp, key)
	}
	if tp.RequireApproval {
		return nil, refuse("Handler %q has a challenge hook, and its token procedure requires approval; the two do not combine.", e.Handler.Name)
	}
	err := s.hooks.AuthorizeChallenge(ctx, e.Handler, ChallengeCheck{CSR: e.CSR, Challenge: e.Challenge, TransactionID: e.TransactionID, ClientAddr: e.ClientAddr})
	if err != nil {
		reason := "The challenge hook did not allow this enrollment."
		if r, ok := err.(*Refusal); ok {
			reason = r.Reason
		}
		s.log.Warn("challenge hook refused", "handler", e.Handler.Name, "transaction", e.TransactionID, "err", err)
		_ = s.store.AddAuditEvent(ctx, &model.AuditEvent{Actor: "scep:" + e.Handler.Name, Action: "enrollment.refuse",
			ClientAddr: e.ClientAddr, Target: "transaction " + e.TransactionID, Detail: reason})
		return nil, refuse("%s", reason)
	}
	return &model.Registration{}, nil
}

// certificateEvent is the event of an issue audited as action.
func certificateEvent(action string) string {
	if action == "certificate.renew" {
		return EventRenewed
	}
	return EventIssued
}

// revokedEvent tells the event hook of the handler that issued c that it
// was revoked.
func (s *Service) revokedEvent(snap *Snapshot, c *model.Certificate) {
	if c.HandlerID == nil {
		return
	}
	for i := range snap.Config.Handlers {
		if h := &snap.Config.Handlers[i]; h.ID == *c.HandlerID {
			s.hooks.CertificateEvent(h, EventRevoked, c)
		}
	}
}
