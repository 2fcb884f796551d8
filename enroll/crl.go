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

// CurrentCRL returns the CA's CRL, signing a new one when there is none, a
// certificate was revoked since, or the newest nears its nextUpdate.
func (s *Service) CurrentCRL(ctx context.Context, snap *Snapshot) (*model.CRL, error) {
	return s.crlOf(ctx, snap.Authority, true)
}

// crlOf returns CA a's CRL, signing a new one when needed (see CurrentCRL);
// a certificate recorded without its CA counts as the current CA's
// (unattributed).
func (s *Service) crlOf(ctx context.Context, a *pki.Authority, unattributed bool) (*model.CRL, error) {
	s.crlMu.Lock()
	defer s.crlMu.Unlock()
	latest, err := s.store.LatestCRL(ctx, a.ID)
	if err != nil && model.ErrorCode(err) != model.ENOTFOUND {
		return nil, err
	}
	lastRevocation, err := s.store.LastRevocation(ctx)
	if err != nil {
		return nil, err
	}
	now := s.now()
	if latest != nil && latest.ThisUpdate.After(lastRevocation) && now.Before(latest.NextUpdate.Add(-crlMargin)) {
		return latest, nil
	}
	revoked, err := s.store.RevokedCertificates(ctx, a.ID, unattributed)
	if err != nil {
		return nil, err
	}
	var number int64 = 1
	if latest != nil {
		number = latest.Number + 1
	}
	crl, err := a.CRL(revoked, number, now, s.rand)
	if err != nil {
		return nil, err
	}
	rec := &model.CRL{AuthorityID: a.ID, Number: number, ThisUpdate: now.UTC().Truncate(time.Microsecond),
		NextUpdate: crl.NextUpdate.UTC(), DER: crl.Raw}
	saved, err := s.store.SaveCRL(ctx, rec)
	if err != nil {
		return nil, err
	}
	s.log.Info("CRL signed", "number", saved.Number, "revoked", len(revoked), "next_update", saved.NextUpdate.Format(time.RFC3339))
	return saved, nil
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
