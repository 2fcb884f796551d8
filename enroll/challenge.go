package enroll

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki"
)

// ChallengeRequest asks for one NDES one-time challenge password.
type ChallengeRequest struct {
	// Handler is the NDES challenge handler (format scep-ndes) whose
	// settings apply: validity, password length and the cap of unused
	// passwords.
	Handler *model.Handler
	// RequestedBy is who asked: the handler's NDES user, or the portal user.
	RequestedBy string
	ClientAddr  string
}

// Challenge is a one-time password just handed out. Password is shown once
// and stored only as a keyed hash.
type Challenge struct {
	Password     string
	ExpiresAt    time.Time
	Validity     time.Duration
	CAThumbprint string // as NDES prints it: pki.NDESThumbprint
	Registration *model.Registration
}

// ErrPasswordCacheFull is returned by IssueChallenge when the handler has as
// many unused, unexpired passwords out as its cap allows.
var ErrPasswordCacheFull = model.Errorf(model.ECONFLICT,
	"The password cache is full. Wait until unused passwords are used or expire, or raise the handler's cap of unused passwords.")

// IssueChallenge hands out a new one-time password at req.Handler: random
// upper-case hex of the handler's password length, valid for the handler's
// ISO-8601 validity, recorded as an open NDES registration (keyed hash
// only, with who asked and from where) in the same transaction that checks
// the handler's cap. A password from any challenge handler is good at any
// NDES request handler, once.
func (s *Service) IssueChallenge(ctx context.Context, snap *Snapshot, req ChallengeRequest) (*Challenge, error) {
	h := req.Handler
	if h == nil || h.Format != model.HandlerNDES {
		return nil, model.Errorf(model.EINVALID, "Challenge passwords come from NDES challenge handlers (format scep-ndes). Choose one of those.")
	}
	if !h.Enabled {
		return nil, model.Errorf(model.EINVALID, "Handler %q is disabled. Enable it, or choose another NDES challenge handler.", h.Name)
	}
	validity, err := h.NDESValidity()
	if err != nil {
		return nil, err
	}
	length := h.NDESLength()
	if length < model.MinNDESPasswordLength || length > model.MaxNDESPasswordLength {
		return nil, model.Errorf(model.EINVALID, "Handler %q: the password length must be between %d and %d characters.", h.Name, model.MinNDESPasswordLength, model.MaxNDESPasswordLength)
	}
	password, err := hexPassword(s.rand, length)
	if err != nil {
		return nil, fmt.Errorf("generate challenge password: %w", err)
	}
	now := s.now().UTC().Truncate(time.Microsecond)
	reg := &model.Registration{
		Kind:          model.RegistrationNDES,
		State:         model.StateOpen,
		HandlerID:     &h.ID,
		ChallengeHash: s.mk.ChallengeHash(password),
		RequestedBy:   req.RequestedBy,
		ClientAddr:    req.ClientAddr,
		CreatedAt:     now,
		ExpiresAt:     now.Add(validity),
	}
	audit := &model.AuditEvent{
		Actor: req.RequestedBy, Action: "ndes.challenge.issue", ClientAddr: req.ClientAddr,
		Detail: fmt.Sprintf("one-time password from handler %q, expires %s", h.Name, reg.ExpiresAt.Format(time.RFC3339)),
	}
	created, err := s.store.CreateNDESRegistration(ctx, reg, h.NDESCap(), audit)
	if err != nil {
		return nil, err
	}
	if !created {
		s.log.Warn("ndes password cache full", "handler", h.Name, "cap", h.NDESCap(), "requested_by", req.RequestedBy, "client", req.ClientAddr)
		return nil, ErrPasswordCacheFull
	}
	s.log.Info("ndes password issued", "handler", h.Name, "registration", reg.ID, "requested_by", req.RequestedBy,
		"client", req.ClientAddr, "expires_at", reg.ExpiresAt.Format(time.RFC3339))
	return &Challenge{
		Password:     password,
		ExpiresAt:    reg.ExpiresAt,
		Validity:     validity,
		CAThumbprint: pki.NDESThumbprint(snap.Authority.CA),
		Registration: reg,
	}, nil
}

// hexPassword returns n upper-case hex characters read from r.
func hexPassword(r io.Reader, n int) (string, error) {
	b := make([]byte, (n+1)/2)
	if _, err := io.ReadFull(r, b); err != nil {
		return "", err
	}
	return strings.ToUpper(hex.EncodeToString(b))[:n], nil
}

// ExpiryInterval is how often RunExpirySweeper looks for expired
// registrations.
const ExpiryInterval = 30 * time.Second

// RunExpirySweeper marks open registrations whose time has passed as
// expired, at once and then every interval until ctx ends, so that the
// registration list tells the truth without anyone asking.
func (s *Service) RunExpirySweeper(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		s.ExpireRegistrations(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// AttemptRetention is how long the sweep keeps the count of wrong
// passwords of an address or name that holds no lock: longer than any
// policy's window, so that only counts that no longer matter go.
const AttemptRetention = 24 * time.Hour

// ExpireRegistrations runs one sweep of RunExpirySweeper and returns how
// many registrations it marked expired; failures are logged. The sweep
// also forgets stale counts of wrong passwords (see AttemptRetention), so
// that guessing with many names or addresses cannot grow them without
// bound.
func (s *Service) ExpireRegistrations(ctx context.Context) int64 {
	if _, err := s.store.DeleteStaleAttempts(ctx, s.now().Add(-AttemptRetention)); err != nil && ctx.Err() == nil {
		s.log.Error("delete stale attempts", "err", err)
	}
	n, err := s.store.ExpireRegistrations(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.log.Error("expire registrations", "err", err)
		}
		return 0
	}
	if n > 0 {
		s.log.Info("registrations expired", "count", n)
	}
	return n
}
