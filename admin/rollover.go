package admin

import (
	"context"
	"crypto/rand"

	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki"
)

// PrepareRollover makes the CA and RA that are to follow the active ones
// (RFC 8894, section 3.5.2): a new self-signed CA with a key of caKeyType,
// not cross-signed by the current CA, and an RA issued by it. They sign
// nothing until ActivateRollover; meanwhile GetCACaps lists GetNextCACert
// and devices fetch them, signed by the current RA. Preparing again
// replaces the pair prepared before.
func (s *Service) PrepareRollover(ctx context.Context, actor Actor, caKeyType string) (*pki.Authority, error) {
	if caKeyType == "" {
		caKeyType = "rsa2048"
	}
	caRow, raRow, err := s.store.ActiveAuthorities(ctx)
	if err != nil {
		return nil, err
	}
	cur, err := pki.OpenAuthority(caRow, raRow, s.mk)
	if err != nil {
		return nil, err
	}
	next, err := pki.NextAuthority(cur, caKeyType, s.now(), rand.Reader)
	if err != nil {
		return nil, model.Errorf(model.EINVALID, "%s.", err.Error())
	}
	nextCA, nextRA, err := pki.SealAuthority(next, s.mk)
	if err != nil {
		return nil, err
	}
	audit := actor.audit("ca.rollover.prepare", next.CA.Subject.String(),
		"next CA "+pki.SHA256Fingerprint(next.CA)+" and RA "+pki.SHA256Fingerprint(next.RA))
	if err := s.store.PrepareNextAuthorities(ctx, nextCA, nextRA, audit); err != nil {
		return nil, err
	}
	next.ID = nextCA.ID
	s.changed()
	return next, nil
}

// ActivateRollover makes the prepared CA and RA the active ones. The old
// CA is retired: its certificates keep renewing (into the new CA) while
// they are unexpired and within their window, and its CRL stays published
// and fresh until its certificates have expired.
func (s *Service) ActivateRollover(ctx context.Context, actor Actor) error {
	err := s.store.ActivateNextAuthorities(ctx, actor.audit("ca.rollover.activate", "next CA", "the next CA and RA are active"))
	if model.ErrorCode(err) == model.ENOTFOUND {
		return model.Errorf(model.ENOTFOUND, "No next CA is prepared. Prepare one first: scepgate ca rollover prepare")
	}
	if err != nil {
		return err
	}
	s.changed()
	return nil
}
