package handlers

import (
	"context"
	"log/slog"

	"github.com/scepgate/scepgate/pki"
	"github.com/smallstep/scep"
)

// Observer is told what the SCEP, NDES and sign-in handlers decide, so that
// it can count it; web.Metrics counts for Prometheus. Its methods run on the
// request path: they must be quick and safe for concurrent use. Every label
// it is given comes from a fixed set or from the administrators' own
// handler names, never from what a client sent.
type Observer interface {
	// Enrollment is a PKIOperation answered at handler: messageType is
	// one of the names MessageTypeName returns, result one of
	// EnrollmentResult's.
	Enrollment(handler, messageType, result string)
	// NDESIssued is a one-time password handed out by challenge handler
	// handler, to an MDM or on the portal's NDES page.
	NDESIssued(handler string)
	// NDESCacheFull is a password refused because handler's cap of
	// unused passwords was reached.
	NDESCacheFull(handler string)
	// AuthFailure is a wrong password of kind AuthNDES, AuthPortal or
	// AuthSCEP.
	AuthFailure(kind string)
	// Lockout is a client address (AuthNDES, AuthSCEP) or a user name,
	// from one address or from all (AuthPortal), locked out after
	// repeated failures.
	Lockout(kind string)
}

// Kinds of sign-in that AuthFailure and Lockout count.
const (
	AuthNDES   = "ndes"   // HTTP Basic credentials at an NDES challenge handler
	AuthPortal = "portal" // the portal's sign-in form
	AuthSCEP   = "scep"   // challenge passwords at SCEP handlers
	AuthAPI    = "api"    // bearer tokens of the JSON API
)

// NopObserver observes nothing; it stands in when no Observer is set.
type NopObserver struct{}

func (NopObserver) Enrollment(handler, messageType, result string) {}
func (NopObserver) NDESIssued(handler string)                      {}
func (NopObserver) NDESCacheFull(handler string)                   {}
func (NopObserver) AuthFailure(kind string)                        {}
func (NopObserver) Lockout(kind string)                            {}

// observer returns o, or NopObserver when o is nil.
func observer(o Observer) Observer {
	if o == nil {
		return NopObserver{}
	}
	return o
}

// MessageTypeName names a request's messageType for metrics: the RFC 8894
// name, or "unknown" for anything else a client may have put there.
func MessageTypeName(t scep.MessageType) string {
	switch t {
	case scep.PKCSReq:
		return "PKCSReq"
	case scep.RenewalReq:
		return "RenewalReq"
	case scep.UpdateReq:
		return "UpdateReq"
	case scep.CertPoll:
		return "CertPoll"
	case scep.GetCert:
		return "GetCert"
	case scep.GetCRL:
		return "GetCRL"
	}
	return "unknown"
}

// EnrollmentResult names how reply answers a PKIOperation: success,
// pending, the failInfo of a FAILURE (badAlg, badMessageCheck, badRequest,
// badTime, badCertId), or error for a reply that could not be made (an
// internal error: the client got HTTP 500).
func EnrollmentResult(reply pki.Reply) string {
	switch reply.Status {
	case scep.SUCCESS:
		return "success"
	case scep.PENDING:
		return "pending"
	case scep.FAILURE:
		if name := pki.FailInfoName(reply.FailInfo); name != "" {
			return name
		}
	}
	return "error"
}

// observeEnrollment tells s's Observer how a PKIOperation at handler was
// answered.
func (s *SCEP) observeEnrollment(handler string, req *pki.Request, reply pki.Reply) {
	observer(s.Observer).Enrollment(handler, MessageTypeName(req.MessageType), EnrollmentResult(reply))
}

type logKey struct{}

// WithLog returns ctx carrying the logger of its request (web puts one
// there with the request id), for LogFrom.
func WithLog(ctx context.Context, log *slog.Logger) context.Context {
	return context.WithValue(ctx, logKey{}, log)
}

// LogFrom returns the logger ctx carries, or else fallback (a logger that
// discards everything when fallback is nil too). Handlers log through it
// so that every line about a request carries the request's id.
func LogFrom(ctx context.Context, fallback *slog.Logger) *slog.Logger {
	if l, ok := ctx.Value(logKey{}).(*slog.Logger); ok && l != nil {
		return l
	}
	if fallback == nil {
		return slog.New(slog.DiscardHandler)
	}
	return fallback
}
