package enroll

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki"
)

// Revoke revokes a certificate by serial (hex) with an RFC 5280 reason and
// makes a new CRL at once.
func (s *Service) Revoke(ctx context.Context, serial string, reason int, actor, clientAddr string) (*model.Certificate, error) {
	audit := &model.AuditEvent{Actor: actor, Action: "certificate.revoke", ClientAddr: clientAddr,
		Target: "certificate " + strings.ToLower(serial), Detail: fmt.Sprintf("reason %d", reason)}
	c, err := s.store.RevokeCertificate(ctx, serial, reason, audit)
	if err != nil {
		return nil, err
	}
	snap, err := s.Snapshot(ctx)
	if err != nil {
		return c, err
	}
	s.revokedEvent(snap, c)
	_, err = s.CurrentCRL(ctx, snap)
	return c, err
}

// crlMargin is how long before its nextUpdate a CRL is replaced.
const crlMargin = 6 * time.Hour

// crlAttempts bounds how often CurrentCRL signs again because another
// process stored a CRL of the same number first, and one older than its
// own.
const crlAttempts = 10

// CurrentCRL returns the CA's CRL, signing a new one when there is none, a
// certificate was revoked since the newest was built, or the newest nears
// its nextUpdate. A revocation is in every CRL returned after its
// transaction committed: the newest CRL counts as current only while the
// revocation sequence it was built at is still the current one, which
// every revoking transaction moves before it commits.
func (s *Service) CurrentCRL(ctx context.Context, snap *Snapshot) (*model.CRL, error) {
	return s.crlOf(ctx, snap.Authority, true)
}

// crlOf returns CA a's CRL, signing a new one when needed (see CurrentCRL);
// a certificate recorded without its CA counts as the current CA's
// (unattributed).
func (s *Service) crlOf(ctx context.Context, a *pki.Authority, unattributed bool) (*model.CRL, error) {
	s.crlMu.Lock()
	defer s.crlMu.Unlock()
	for attempt := 1; ; attempt++ {
		// The newest CRL first, then the sequence: a CRL that another
		// process stores in between is only found stale, never current
		// when it is not.
		latest, err := s.store.LatestCRL(ctx, a.ID)
		if err != nil && model.ErrorCode(err) != model.ENOTFOUND {
			return nil, err
		}
		seq, err := s.store.RevocationSequence(ctx)
		if err != nil {
			return nil, err
		}
		now := s.now()
		if latest != nil && latest.RevocationSequence == seq && now.Before(latest.NextUpdate.Add(-crlMargin)) {
			return latest, nil
		}
		crl, err := s.signCRL(ctx, a, latest, now, unattributed)
		if model.ErrorCode(err) == model.ECONFLICT && attempt < crlAttempts {
			continue // another process stored this number first: look again
		}
		return crl, err
	}
}

// signCRL signs and stores the CRL that follows latest (nil: the first),
// from the revocations as they are now. Its number is latest's plus one, so
// numbers rise. When another process stored that number first, its CRL is
// returned if it was built from at least the same revocations; otherwise
// the error is ECONFLICT.
func (s *Service) signCRL(ctx context.Context, a *pki.Authority, latest *model.CRL, now time.Time, unattributed bool) (*model.CRL, error) {
	list, err := s.store.RevocationList(ctx, a.ID, unattributed)
	if err != nil {
		return nil, err
	}
	var number int64 = 1
	if latest != nil {
		number = latest.Number + 1
	}
	crl, err := a.CRL(list.Revoked, number, now, s.rand)
	if err != nil {
		return nil, err
	}
	rec := &model.CRL{AuthorityID: a.ID, Number: number, ThisUpdate: now.UTC().Truncate(time.Microsecond),
		NextUpdate: crl.NextUpdate.UTC(), DER: crl.Raw, RevocationSequence: list.Sequence}
	if err := s.store.SaveCRL(ctx, rec); model.ErrorCode(err) == model.ECONFLICT {
		// Another process was quicker. Its CRL lists every revocation ours
		// would when it was built at our sequence or later.
		other, lerr := s.store.LatestCRL(ctx, a.ID)
		if lerr == nil && other.RevocationSequence >= list.Sequence {
			return other, nil
		}
		return nil, err
	} else if err != nil {
		return nil, err
	}
	s.log.Info("CRL signed", "number", rec.Number, "revoked", len(list.Revoked), "next_update", rec.NextUpdate.Format(time.RFC3339))
	return rec, nil
}

// RunCRLUpdater keeps the CRL fresh until ctx ends.
func (s *Service) RunCRLUpdater(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if snap, err := s.Snapshot(ctx); err == nil {
			if _, err := s.CurrentCRL(ctx, snap); err != nil && ctx.Err() == nil {
				s.log.Error("update CRL", "err", err)
			}
			s.updatePreviousCRLs(ctx, snap)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// CAPublication returns the certificate (DER) and newest CRL of CA id, the
// current one or one retired: what the URLs in issued certificates serve.
func (s *Service) CAPublication(ctx context.Context, id int64) (certDER []byte, crl *model.CRL, err error) {
	snap, err := s.Snapshot(ctx)
	if err != nil {
		return nil, nil, err
	}
	if id == snap.Authority.ID {
		crl, err = s.CurrentCRL(ctx, snap)
		return snap.Authority.CA.Raw, crl, err
	}
	if prev := snap.PreviousCA(id); prev != nil && s.now().Before(prev.CA.NotAfter) {
		crl, err = s.crlOf(ctx, prev, false)
		return prev.CA.Raw, crl, err
	}
	a, err := s.store.FindAuthority(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	if a.Kind != model.AuthorityCA {
		return nil, nil, model.Errorf(model.ENOTFOUND, "There is no CA with id %d.", id)
	}
	crl, err = s.store.LatestCRL(ctx, id)
	if model.ErrorCode(err) == model.ENOTFOUND {
		return a.CertDER, nil, nil
	}
	return a.CertDER, crl, err
}

// updatePreviousCRLs keeps the CRL of each retired CA fresh while its CA
// certificate, and so any certificate it issued, is unexpired.
func (s *Service) updatePreviousCRLs(ctx context.Context, snap *Snapshot) {
	for _, a := range snap.Previous {
		if !s.now().Before(a.CA.NotAfter) {
			continue
		}
		if _, err := s.crlOf(ctx, a, false); err != nil && ctx.Err() == nil {
			s.log.Error("update CRL of a retired CA", "ca", a.ID, "err", err)
		}
	}
}
