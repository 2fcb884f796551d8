package enroll

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki"
)

// lifecycleStore is what renewal, approval, retries and revocation need.
type lifecycleStore interface {
	FindCertificate(ctx context.Context, id int64) (*model.Certificate, error)
	FindCertificateBySerial(ctx context.Context, serial string) (*model.Certificate, error)
	FindCertificatesByTransaction(ctx context.Context, transactionID string) ([]model.Certificate, error)
	FindRegistration(ctx context.Context, id int64) (*model.Registration, error)
	FindRegistrationByTransaction(ctx context.Context, transactionID string) (*model.Registration, error)
	MarkPending(ctx context.Context, regID, handlerID int64, transactionID, pubKeySHA256 string, csr []byte, audit *model.AuditEvent) error
	ApproveRegistration(ctx context.Context, regID int64, cert *model.Certificate, supersede []string, audit *model.AuditEvent) error
	RejectRegistration(ctx context.Context, regID int64, reason string, audit *model.AuditEvent) error
	IssueWithoutRegistration(ctx context.Context, cert *model.Certificate, supersede []string, audit *model.AuditEvent) error
	ActiveSerialsForSubject(ctx context.Context, subject, except string) ([]model.Certificate, error)
	RevokeCertificate(ctx context.Context, serial string, reason int, audit *model.AuditEvent) (*model.Certificate, error)
	RevokedCertificates(ctx context.Context, authorityID int64, includeUnattributed bool) ([]model.Certificate, error)
	LastRevocation(ctx context.Context) (time.Time, error)
	LatestCRL(ctx context.Context, authorityID int64) (*model.CRL, error)
	SaveCRL(ctx context.Context, c *model.CRL) (*model.CRL, error)
	FindAuthority(ctx context.Context, id int64) (*model.Authority, error)
}

// ErrUnknownTransaction answers a CertPoll or GetCert about nothing we know
// (failInfo badCertId).
var ErrUnknownTransaction = errors.New("no request or certificate is known by that identifier")

// retry answers a request whose transaction ID was seen before: the same
// key gets what the first attempt got (its certificate, or PENDING), another
// key is refused. nil, nil means the transaction is new.
func (s *Service) retry(ctx context.Context, snap *Snapshot, tp *model.TokenProcedure, transactionID, pubKeyHash string) ([]*x509.Certificate, error) {
	certs, err := s.store.FindCertificatesByTransaction(ctx, transactionID)
	if err != nil {
		return nil, err
	}
	if len(certs) > 0 {
		c := certs[0]
		if c.PublicKeySHA256 != pubKeyHash {
			return nil, refuse("The transaction ID %s was used before with another key. Start a new transaction.", transactionID)
		}
		cert, err := x509.ParseCertificate(c.DER)
		if err != nil {
			return nil, err
		}
		s.log.Info("retried transaction answered with its certificate", "transaction", transactionID, "serial", c.Serial)
		return withChain(snap, tp, cert), nil
	}
	reg, err := s.store.FindRegistrationByTransaction(ctx, transactionID)
	if model.ErrorCode(err) == model.ENOTFOUND {
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	switch {
	case reg.PublicKeySHA256 != "" && reg.PublicKeySHA256 != pubKeyHash:
		return nil, refuse("The transaction ID %s was used before with another key. Start a new transaction.", transactionID)
	case reg.State == model.StatePending:
		return nil, ErrPending
	case reg.State == model.StateRejected:
		return nil, refuse("The request was rejected: %s", reg.LastFailure)
	}
	return nil, nil
}

// isIssuedBy reports whether c is a certificate ca signed (and so a request
// signed with it is a renewal), rather than a device's self-signed one.
func isIssuedBy(c, ca *x509.Certificate) bool {
	return c != nil && !bytes.Equal(c.RawIssuer, c.RawSubject) &&
		bytes.Equal(c.RawIssuer, ca.RawSubject) && c.CheckSignatureFrom(ca) == nil
}

// renew issues a new certificate for the subject of the certificate that
// signed e, without a challenge, when that certificate is ours, active and
// within the token procedure's renewal window.
func (s *Service) renew(ctx context.Context, snap *Snapshot, e *Enrollment, tp *model.TokenProcedure, cp *model.CertificateProcedure) ([]*x509.Certificate, error) {
	old := e.SignerCert
	refuseRenewal := func(format string, args ...any) error {
		reason := fmt.Sprintf(format, args...)
		_ = s.store.AddAuditEvent(ctx, &model.AuditEvent{Actor: "scep:" + e.Handler.Name, Action: "renewal.refuse",
			ClientAddr: e.ClientAddr, Target: "certificate " + serialHex(old.SerialNumber), Detail: reason})
		return &Refusal{Reason: reason}
	}
	if !isIssuedBy(old, snap.Authority.CA) {
		return nil, refuseRenewal("A renewal must be signed with a certificate this CA issued; enroll with a challenge password instead.")
	}
	rec, err := s.store.FindCertificateBySerial(ctx, serialHex(old.SerialNumber))
	if model.ErrorCode(err) == model.ENOTFOUND {
		return nil, refuseRenewal("The certificate %s is not known to this gateway.", serialHex(old.SerialNumber))
	} else if err != nil {
		return nil, err
	}
	now := s.now()
	window := time.Duration(tp.RenewalWindowDays) * 24 * time.Hour
	switch {
	case rec.State == model.CertRevoked:
		return nil, refuseRenewal("The certificate %s is revoked and cannot be renewed; enroll anew.", rec.Serial)
	case !now.Before(old.NotAfter):
		return nil, refuseRenewal("The certificate %s expired on %s and cannot be renewed; enroll anew.", rec.Serial, old.NotAfter.UTC().Format(time.DateOnly))
	case now.Before(old.NotAfter.Add(-window)):
		return nil, refuseRenewal("The certificate %s can be renewed from %s (%d days before it expires).", rec.Serial, old.NotAfter.Add(-window).UTC().Format(time.DateOnly), tp.RenewalWindowDays)
	}
	cert, newRec, err := s.issue(snap, e.CSR, cp, pki.IssueOptions{RawSubject: old.RawSubject}, e.Handler, e.TransactionID)
	if err != nil {
		var r *Refusal
		if errors.As(err, &r) {
			return nil, refuseRenewal("%s", r.Reason)
		}
		return nil, err
	}
	supersede, err := s.oneKeyPerSubject(ctx, cp, cert, newRec)
	if err != nil {
		return nil, err
	}
	if tp.SupersedeOnRenewal {
		supersede = append(supersede, rec.Serial)
	}
	audit := &model.AuditEvent{Actor: "scep:" + e.Handler.Name, Action: "certificate.renew", ClientAddr: e.ClientAddr,
		Target: "certificate " + newRec.Serial, Detail: fmt.Sprintf("renews %s, subject %q, transaction %s", rec.Serial, newRec.Subject, e.TransactionID)}
	if err := s.store.IssueWithoutRegistration(ctx, newRec, supersede, audit); err != nil {
		return nil, err
	}
	s.log.Info("certificate renewed", "serial", newRec.Serial, "renews", rec.Serial, "subject", newRec.Subject)
	return withChain(snap, tp, cert), nil
}

// oneKeyPerSubject returns the serials a new certificate supersedes when its
// procedure keeps one key pair per subject and key usage.
func (s *Service) oneKeyPerSubject(ctx context.Context, cp *model.CertificateProcedure, cert *x509.Certificate, rec *model.Certificate) ([]string, error) {
	if !cp.OneKeyPerSubject {
		return nil, nil
	}
	others, err := s.store.ActiveSerialsForSubject(ctx, rec.Subject, rec.Serial)
	if err != nil {
		return nil, err
	}
	var serials []string
	for _, o := range others {
		oc, err := x509.ParseCertificate(o.DER)
		if err == nil && oc.KeyUsage == cert.KeyUsage {
			serials = append(serials, o.Serial)
		}
	}
	return serials, nil
}

func serialHex(n *big.Int) string { return strings.ToLower(n.Text(16)) }

// Approve issues the certificate a pending registration waits for.
func (s *Service) Approve(ctx context.Context, regID int64, actor string) (*model.Certificate, error) {
	snap, err := s.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	reg, err := s.store.FindRegistration(ctx, regID)
	if err != nil {
		return nil, err
	}
	if reg.State != model.StatePending {
		return nil, model.Errorf(model.ECONFLICT, "Registration %d is %s, not waiting for approval.", regID, reg.State)
	}
	var h *model.Handler
	for i := range snap.Config.Handlers {
		if reg.HandlerUsedID != nil && snap.Config.Handlers[i].ID == *reg.HandlerUsedID {
			h = &snap.Config.Handlers[i]
		}
	}
	if h == nil {
		return nil, model.Errorf(model.EINVALID, "The handler registration %d was used at no longer exists; reject it instead.", regID)
	}
	_, cp, err := snap.Procedures(h)
	if err != nil {
		return nil, err
	}
	csr, err := x509.ParseCertificateRequest(reg.CSR)
	if err != nil {
		return nil, model.Errorf(model.EINVALID, "The stored request of registration %d cannot be read; reject it instead.", regID)
	}
	cert, rec, err := s.issue(snap, csr, cp, pki.IssueOptions{}, h, reg.TransactionID)
	if err != nil {
		var r *Refusal
		if errors.As(err, &r) {
			return nil, model.Errorf(model.EINVALID, "%s", r.Reason)
		}
		return nil, err
	}
	supersede, err := s.oneKeyPerSubject(ctx, cp, cert, rec)
	if err != nil {
		return nil, err
	}
	audit := &model.AuditEvent{Actor: actor, Action: "registration.approve", Target: fmt.Sprintf("registration %d", regID),
		Detail: fmt.Sprintf("issued certificate %s for %q", rec.Serial, rec.Subject)}
	if err := s.store.ApproveRegistration(ctx, regID, rec, supersede, audit); err != nil {
		return nil, err
	}
	return rec, nil
}

// Reject ends a pending registration without a certificate.
func (s *Service) Reject(ctx context.Context, regID int64, reason, actor string) error {
	if strings.TrimSpace(reason) == "" {
		reason = "rejected by an administrator"
	}
	audit := &model.AuditEvent{Actor: actor, Action: "registration.reject", Target: fmt.Sprintf("registration %d", regID), Detail: reason}
	return s.store.RejectRegistration(ctx, regID, reason, audit)
}

// CertPoll answers a CertPoll (GetCertInitial) for a transaction: its
// certificate once approved, ErrPending while waiting, a *Refusal when
// rejected, ErrUnknownTransaction when unknown.
func (s *Service) CertPoll(ctx context.Context, snap *Snapshot, h *model.Handler, transactionID string) ([]*x509.Certificate, error) {
	tp, _, err := snap.Procedures(h)
	if err != nil {
		return nil, &Refusal{Reason: model.ErrorMessage(err)}
	}
	reg, err := s.store.FindRegistrationByTransaction(ctx, transactionID)
	switch {
	case model.ErrorCode(err) == model.ENOTFOUND:
		certs, err := s.store.FindCertificatesByTransaction(ctx, transactionID)
		if err != nil {
			return nil, err
		}
		if len(certs) == 0 {
			return nil, ErrUnknownTransaction
		}
		cert, err := x509.ParseCertificate(certs[0].DER)
		if err != nil {
			return nil, err
		}
		return withChain(snap, tp, cert), nil
	case err != nil:
		return nil, err
	case reg.State == model.StatePending:
		return nil, ErrPending
	case reg.State == model.StateRejected:
		return nil, refuse("The request was rejected: %s", reg.LastFailure)
	case reg.CertificateID == nil:
		return nil, ErrUnknownTransaction
	}
	rec, err := s.store.FindCertificate(ctx, *reg.CertificateID)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(rec.DER)
	if err != nil {
		return nil, err
	}
	return withChain(snap, tp, cert), nil
}

// GetCert returns the certificate issuer and serial name, when this CA
// issued it; ErrUnknownTransaction otherwise.
func (s *Service) GetCert(ctx context.Context, snap *Snapshot, issuer []byte, serial *big.Int) (*x509.Certificate, error) {
	if !bytes.Equal(issuer, snap.Authority.CA.RawSubject) {
		return nil, ErrUnknownTransaction
	}
	rec, err := s.store.FindCertificateBySerial(ctx, serialHex(serial))
	if model.ErrorCode(err) == model.ENOTFOUND {
		return nil, ErrUnknownTransaction
	} else if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(rec.DER)
}

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
	_, err = s.CurrentCRL(ctx, snap)
	return c, err
}

// crlMargin is how long before its nextUpdate a CRL is replaced.
const crlMargin = 6 * time.Hour

// CurrentCRL returns the CA's CRL, signing a new one when there is none, a
// certificate was revoked since, or the newest nears its nextUpdate.
func (s *Service) CurrentCRL(ctx context.Context, snap *Snapshot) (*model.CRL, error) {
	s.crlMu.Lock()
	defer s.crlMu.Unlock()
	a := snap.Authority
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
	revoked, err := s.store.RevokedCertificates(ctx, a.ID, true)
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
