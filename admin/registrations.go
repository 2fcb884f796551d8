package admin

import (
	"context"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/scepgate/scepgate/model"
)

// PreRegistrationInput asks for a registration that authorises one
// enrollment at the handlers of a token procedure.
type PreRegistrationInput struct {
	TokenProcedure string // by name
	Password       string // the challenge password the device sends
	SubjectCN      string // when set, the CSR's common name must be this
	DNSName        string // when set, the CSR must name this DNS name
	ValidFor       time.Duration
}

// DefaultPreRegistrationValidity is how long a pre-registration stays open
// unless told otherwise.
const DefaultPreRegistrationValidity = 7 * 24 * time.Hour

// AddPreRegistration creates the registration in asks for. A token
// procedure whose certificate procedure only NDES passwords authorise
// (scepndesdynamicenroll) takes no pre-registrations.
func (s *Service) AddPreRegistration(ctx context.Context, actor Actor, in PreRegistrationInput) (*model.Registration, error) {
	cfg, err := s.store.LoadConfig(ctx)
	if err != nil {
		return nil, err
	}
	var f fieldErrors
	var tp *model.TokenProcedure
	for i := range cfg.TokenProcedures {
		if cfg.TokenProcedures[i].Name == in.TokenProcedure {
			tp = &cfg.TokenProcedures[i]
		}
	}
	switch {
	case in.TokenProcedure == "":
		f.add("token_procedure", "Choose the token procedure the device enrolls under.")
	case tp == nil:
		f.add("token_procedure", "There is no token procedure named %q.", in.TokenProcedure)
	case len(tp.CertificateProcedureIDs) == 0:
		f.add("token_procedure", "Token procedure %q runs no certificate procedure, so nothing could enroll under it.", tp.Name)
	default:
		if cp := certificateProcedureByID(cfg, tp.CertificateProcedureIDs[0]); cp != nil && cp.Format == model.FormatNDESDynamic {
			f.add("token_procedure", "Token procedure %q only takes NDES one-time passwords (its certificate procedure %q has format %s). Get an NDES password instead, or choose a token procedure of format scep.", tp.Name, cp.Name, cp.Format)
		}
	}
	switch pw := in.Password; {
	case len(pw) < MinChallenge:
		f.add("password", "Use at least %d characters for the challenge password.", MinChallenge)
	case len(pw) > MaxChallenge:
		f.add("password", "Use at most %d characters for the challenge password; SCEP clients cannot send more.", MaxChallenge)
	case !utf8.ValidString(pw) || strings.ContainsFunc(pw, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		f.add("password", "The challenge password may not contain control characters.")
	}
	in.SubjectCN = strings.TrimSpace(in.SubjectCN)
	if n := utf8.RuneCountInString(in.SubjectCN); n > MaxCommonName {
		f.add("subject_cn", "The common name has %d characters; RFC 5280 allows at most %d.", n, MaxCommonName)
	} else if strings.ContainsFunc(in.SubjectCN, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		f.add("subject_cn", "The common name may not contain control characters.")
	}
	in.DNSName = strings.TrimSpace(in.DNSName)
	if in.DNSName != "" {
		if msg := checkDNSName(in.DNSName, false); msg != "" {
			f.add("dns_name", "The DNS name %q %s.", in.DNSName, msg)
		}
	}
	if in.ValidFor <= 0 || in.ValidFor > MaxPreRegistration {
		f.add("valid_for", "Enter how long the registration stays open, such as 24h or 168h (at most a year).")
	}
	if err := f.err(); err != nil {
		return nil, err
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	r := &model.Registration{
		Kind:             model.RegistrationPre,
		State:            model.StateOpen,
		TokenProcedureID: &tp.ID,
		ChallengeHash:    s.mk.ChallengeHash(in.Password),
		SubjectCN:        in.SubjectCN,
		DNSName:          in.DNSName,
		RequestedBy:      actor.Name,
		ClientAddr:       actor.ClientAddr,
		CreatedAt:        now,
		ExpiresAt:        now.Add(in.ValidFor),
	}
	if err := s.store.CreateRegistration(ctx, r); err != nil {
		return nil, conflictOn(err, "password")
	}
	detail := fmt.Sprintf("pre-registration for token procedure %q, subject %q, expires %s", tp.Name, in.SubjectCN, r.ExpiresAt.Format(time.RFC3339))
	if err := s.store.AddAuditEvent(ctx, actor.audit("registration.create", fmt.Sprintf("registration %d", r.ID), detail)); err != nil {
		return nil, err
	}
	return r, nil
}

// CancelRegistration cancels an open registration, so its password no
// longer authorises anything.
func (s *Service) CancelRegistration(ctx context.Context, actor Actor, id int64) error {
	return s.store.CancelRegistration(ctx, id, actor.audit("registration.cancel", fmt.Sprintf("registration %d", id), ""))
}

// Approve issues the certificate a pending registration waits for; the
// device gets it at its next poll.
func (s *Service) Approve(ctx context.Context, actor Actor, id int64) (*model.Certificate, error) {
	return s.enroll.Approve(ctx, id, actor.Name)
}

// Reject ends a pending registration without a certificate; the device's
// next poll gets FAILURE with the reason.
func (s *Service) Reject(ctx context.Context, actor Actor, id int64, reason string) error {
	reason = strings.TrimSpace(reason)
	if n := utf8.RuneCountInString(reason); n > MaxReason {
		return fieldError(model.EINVALID, "reason", "Keep the reason to %d characters; it has %d.", MaxReason, n)
	}
	return s.enroll.Reject(ctx, id, reason, actor.Name)
}
