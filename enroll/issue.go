package enroll

import (
	"context"
	"crypto/x509"
	"fmt"
	"math/big"
	"strings"

	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki"
	"github.com/scepgate/scepgate/store"
)

// priorKind says what became of a transaction ID before.
type priorKind int

const (
	priorNone     priorKind = iota // the transaction is new
	priorIssued                    // a certificate was issued for it
	priorPending                   // it waits for an administrator's approval
	priorRejected                  // an administrator rejected it
	priorOtherKey                  // it was used with another key
)

// prior is the earlier outcome of a transaction.
type prior struct {
	kind   priorKind
	cert   *x509.Certificate // priorIssued
	serial string            // priorIssued
	reason string            // priorRejected: why
}

// lookupPrior returns what became of transactionID before. key, when not
// empty, is the public key (publicKeyHash) asking now: a transaction
// belongs to the key it was first used with.
func (s *Service) lookupPrior(ctx context.Context, transactionID, key string) (prior, error) {
	t, err := s.store.FindTransaction(ctx, transactionID)
	switch {
	case model.ErrorCode(err) == model.ENOTFOUND:
		return prior{kind: priorNone}, nil
	case err != nil:
		return prior{}, err
	case t.Certificate != nil:
		c := t.Certificate
		if key != "" && c.PublicKeySHA256 != key {
			return prior{kind: priorOtherKey}, nil
		}
		cert, err := x509.ParseCertificate(c.DER)
		if err != nil {
			return prior{}, fmt.Errorf("certificate %s of transaction %s: %w", c.Serial, transactionID, err)
		}
		return prior{kind: priorIssued, cert: cert, serial: c.Serial}, nil
	}
	r := t.Registration
	switch {
	case key != "" && r.PublicKeySHA256 != "" && r.PublicKeySHA256 != key:
		return prior{kind: priorOtherKey}, nil
	case r.State == model.StatePending:
		return prior{kind: priorPending}, nil
	case r.State == model.StateRejected:
		return prior{kind: priorRejected, reason: r.LastFailure}, nil
	}
	return prior{kind: priorNone}, nil
}

// repeat answers a request about a transaction as its outcome p says:
// the certificate it was issued, ErrPending, a refusal, or
// ErrUnknownTransaction for a transaction never seen.
func (s *Service) repeat(snap *Snapshot, tp *model.TokenProcedure, transactionID string, p prior) ([]*x509.Certificate, error) {
	switch p.kind {
	case priorIssued:
		s.log.Info("transaction answered with its certificate", "transaction", transactionID, "serial", p.serial)
		return withChain(snap, tp, p.cert), nil
	case priorPending:
		return nil, ErrPending
	case priorRejected:
		return nil, refuse("The request was rejected: %s", p.reason)
	case priorOtherKey:
		return nil, refuse("The transaction ID %s was used before with another key. Start a new transaction.", transactionID)
	}
	return nil, ErrUnknownTransaction
}

// issuance is one certificate to sign and record: for an enrollment, a
// renewal or an approval.
type issuance struct {
	handler       *model.Handler
	cp            *model.CertificateProcedure
	csr           *x509.CertificateRequest
	transactionID string
	opts          pki.IssueOptions
	// consume or approve names the registration the certificate settles
	// (store.Issue); neither for a renewal.
	consume, approve int64
	// supersede lists the serials the certificate replaces, besides those
	// of the procedure's one-key-per-subject rule.
	supersede []string
	// audit describes the issue, given the new certificate's record.
	audit func(rec *model.Certificate) *model.AuditEvent
}

// issueAndRecord signs the certificate is asks for and records it, with
// the registration it settles, the certificates it supersedes and its
// audit event, in one store transaction. A CSR its procedure does not
// allow is a *Refusal; a registration taken meanwhile, or a transaction ID
// that got a certificate meanwhile, an ECONFLICT error.
func (s *Service) issueAndRecord(ctx context.Context, snap *Snapshot, is issuance) (*x509.Certificate, *model.Certificate, error) {
	o := is.opts
	if base := strings.TrimRight(snap.Config.PublicURL, "/"); base != "" && snap.Authority.ID != 0 {
		o.CRLURL = fmt.Sprintf("%s/pgwy/ca/%d/crl", base, snap.Authority.ID)
		o.CAIssuersURL = fmt.Sprintf("%s/pgwy/ca/%d/cert", base, snap.Authority.ID)
	}
	cert, err := snap.Authority.Issue(is.csr, is.cp, o, s.now(), s.rand)
	if model.ErrorCode(err) == model.EINVALID {
		return nil, nil, refuse("%s", model.ErrorMessage(err))
	} else if err != nil {
		return nil, nil, err
	}
	rec := &model.Certificate{
		Serial:                 serialHex(cert.SerialNumber),
		Subject:                cert.Subject.String(),
		DNSNames:               strings.Join(cert.DNSNames, ","),
		NotBefore:              cert.NotBefore.UTC(),
		NotAfter:               cert.NotAfter.UTC(),
		DER:                    cert.Raw,
		CSR:                    is.csr.Raw,
		State:                  model.CertActive,
		HandlerID:              &is.handler.ID,
		CertificateProcedureID: &is.cp.ID,
		TransactionID:          is.transactionID,
		PublicKeySHA256:        publicKeyHash(is.csr),
	}
	if snap.Authority.ID != 0 {
		rec.AuthorityID = &snap.Authority.ID
	}
	supersede, err := s.oneKeyPerSubject(ctx, is.cp, cert, rec)
	if err != nil {
		return nil, nil, err
	}
	audit := is.audit(rec)
	err = s.store.RecordIssue(ctx, store.Issue{
		Cert:                  rec,
		ConsumeRegistrationID: is.consume,
		ApproveRegistrationID: is.approve,
		Supersede:             append(supersede, is.supersede...),
		Audit:                 audit,
	})
	if err != nil {
		return nil, nil, err
	}
	s.hooks.CertificateEvent(is.handler, certificateEvent(audit.Action), rec)
	return cert, rec, nil
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

// withChain returns cert, followed by the CA chain when the token procedure
// stores all issuer certificates.
func withChain(snap *Snapshot, tp *model.TokenProcedure, cert *x509.Certificate) []*x509.Certificate {
	certs := []*x509.Certificate{cert}
	if tp.IssuerCertificates == model.IssuerCertsStoreAll {
		certs = append(certs, snap.Authority.CAChain()...)
	}
	return certs
}

func serialHex(n *big.Int) string { return strings.ToLower(n.Text(16)) }
