package enroll

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"strings"

	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki"
)

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
	_, rec, err := s.issueAndRecord(ctx, snap, issuance{
		handler: h, cp: cp, csr: csr, transactionID: reg.TransactionID, approve: regID,
		// The stored request has no challengePassword, and so no signature
		// that verifies; it was verified when it arrived.
		opts: pki.IssueOptions{StoredCSR: true},
		audit: func(rec *model.Certificate) *model.AuditEvent {
			return &model.AuditEvent{Actor: actor, Action: "registration.approve", Target: fmt.Sprintf("registration %d", regID),
				Detail: fmt.Sprintf("issued certificate %s for %q", rec.Serial, rec.Subject)}
		},
	})
	var refusal *Refusal
	if errors.As(err, &refusal) {
		return nil, model.Errorf(model.EINVALID, "%s", refusal.Reason)
	} else if err != nil {
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
		return nil, refuse("%s", model.ErrorMessage(err))
	}
	p, err := s.lookupPrior(ctx, transactionID, "")
	if err != nil {
		return nil, err
	}
	return s.repeat(snap, tp, transactionID, p)
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
