package enroll

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki"
	"github.com/scepgate/scepgate/pki/cms"
)

// Enrollment is one certificate request arriving at a SCEP handler.
type Enrollment struct {
	Handler *model.Handler
	// SignerCert signed the request; Renewal says it was a RenewalReq. The
	// certificate is sent back encrypted to its key, so when it is set
	// and a reply cannot be encrypted to it, the enrollment is refused
	// (BadAlg) before anything is issued or consumed.
	SignerCert    *x509.Certificate
	Renewal       bool
	CSR           *x509.CertificateRequest
	Challenge     string
	TransactionID string
	ClientAddr    string
}

// Enroll answers a PKCSReq or RenewalReq. A transaction seen before gets
// what its first attempt got. Otherwise a RenewalReq (or a PKCSReq without
// challenge signed with a certificate this CA issued) renews, and any
// other request is authorised by its challenge password. The certificate
// is issued and recorded, with the registration it consumes, in one
// transaction. It returns the certificate followed, when the token
// procedure stores all issuer certificates, by the CA chain. A *Refusal
// error is answered with FAILURE, ErrPending with PENDING.
func (s *Service) Enroll(ctx context.Context, snap *Snapshot, e *Enrollment) ([]*x509.Certificate, error) {
	if e.SignerCert != nil {
		if err := pki.CheckReplyRecipient(e.SignerCert, cms.Algorithm{Cipher: cms.AES256CBC}); err != nil {
			return nil, &Refusal{Code: BadAlg, Reason: err.Error()}
		}
	}
	tp, cp, err := snap.Procedures(e.Handler)
	if err != nil {
		return nil, refuse("%s", model.ErrorMessage(err))
	}
	key := publicKeyHash(e.CSR)
	p, err := s.lookupPrior(ctx, e.TransactionID, key)
	if err != nil {
		return nil, err
	}
	if p.kind != priorNone {
		return s.repeat(snap, tp, e.TransactionID, p)
	}
	// A PKCSReq with a challenge is an enrollment whatever signed it, such
	// as a proxy certificate.
	if e.Renewal || (e.Challenge == "" && snap.IssuerOf(e.SignerCert) != nil) {
		return s.renew(ctx, snap, e, tp, cp, key)
	}
	reg, err := s.authoriseOrAsk(ctx, e, tp, cp, key)
	var again *retried
	if errors.As(err, &again) {
		return s.repeat(snap, tp, e.TransactionID, again.prior)
	} else if err != nil {
		return nil, err
	}
	if tp.RequireApproval {
		return nil, s.hold(ctx, snap, e, tp, cp, reg, key)
	}
	cert, rec, err := s.issueAndRecord(ctx, snap, issuance{
		handler: e.Handler, cp: cp, csr: e.CSR, transactionID: e.TransactionID, consume: reg.ID,
		audit: func(rec *model.Certificate) *model.AuditEvent {
			return &model.AuditEvent{Actor: "scep:" + e.Handler.Name, Action: "certificate.issue", ClientAddr: e.ClientAddr,
				Target: "certificate " + rec.Serial,
				Detail: fmt.Sprintf("subject %q, registration %d, transaction %s", rec.Subject, reg.ID, e.TransactionID)}
		},
	})
	var refusal *Refusal
	switch {
	case errors.As(err, &refusal):
		return nil, s.fail(ctx, reg, e, refusal.Reason)
	case model.ErrorCode(err) == model.ECONFLICT:
		return s.lostRace(ctx, snap, tp, e, key, err)
	case err != nil:
		return nil, err
	}
	s.log.Info("certificate issued", "serial", rec.Serial, "subject", rec.Subject,
		"handler", e.Handler.Name, "registration", reg.ID, "transaction", e.TransactionID)
	return withChain(snap, tp, cert), nil
}

// publicKeyHash is the hex SHA-256 of the key csr certifies, by which a
// retried transaction is recognised.
func publicKeyHash(csr *x509.CertificateRequest) string {
	sum := sha256.Sum256(csr.RawSubjectPublicKeyInfo)
	return hex.EncodeToString(sum[:])
}

// authorise finds the open registration that e's challenge password
// unlocks at its handler. The password is counted against the client's
// address before it is looked up, so that concurrent guesses cannot all be
// looked up: past the policy's free attempts each waits longer, and an
// address that has sent LockAfter wrong ones is refused before any lookup
// until its lock ends. A password that unlocks a registration clears the
// count, whatever the CSR then says. key is the hash of the CSR's key; a
// *retried error says the same transaction, sent at the same time, took
// the password meanwhile.
func (s *Service) authorise(ctx context.Context, e *Enrollment, tp *model.TokenProcedure, cp *model.CertificateProcedure, key string) (*model.Registration, error) {
	if e.Challenge == "" {
		return nil, refuse("The request carries no challenge password.")
	}
	v, err := s.store.CountAttempt(ctx, model.AttemptSCEP, e.ClientAddr, s.attempts)
	if err != nil {
		return nil, err
	}
	if v.Refused {
		return nil, refuse("Too many wrong challenge passwords from this address; try again in %s.", inMinutes(v.RetryAfter))
	}
	if err := sleep(ctx, v.Delay); err != nil {
		return nil, refuse("The client went away while its request waited.")
	}
	reg, err := s.openRegistration(ctx, e, tp, cp)
	var refusal *Refusal
	if errors.As(err, &refusal) {
		// A device sending its request again before the first got its
		// answer finds its own password used: that is no wrong password.
		// (With another key it is, as repeat says.)
		p, perr := s.lookupPrior(ctx, e.TransactionID, key)
		if perr != nil {
			return nil, perr
		}
		if p.kind != priorNone && p.kind != priorOtherKey {
			if err := s.store.ClearAttempts(ctx, model.AttemptSCEP, e.ClientAddr); err != nil {
				return nil, err
			}
			return nil, &retried{prior: p}
		}
		return nil, s.wrongChallenge(ctx, e, v, refusal)
	} else if err != nil {
		return nil, err
	}
	if err := s.store.ClearAttempts(ctx, model.AttemptSCEP, e.ClientAddr); err != nil {
		return nil, err
	}
	if reg.SubjectCN != "" && e.CSR.Subject.CommonName != reg.SubjectCN {
		return nil, s.fail(ctx, reg, e, fmt.Sprintf("The CSR's common name %q is not the registered %q.", e.CSR.Subject.CommonName, reg.SubjectCN))
	}
	if reg.DNSName != "" && !slices.Contains(e.CSR.DNSNames, reg.DNSName) {
		return nil, s.fail(ctx, reg, e, fmt.Sprintf("The CSR does not name the registered DNS name %q.", reg.DNSName))
	}
	return reg, nil
}

// retried is authorise's answer for a request whose transaction another
// attempt of it completed meanwhile: it gets what that one got.
type retried struct{ prior prior }

func (r *retried) Error() string { return "the transaction was completed by another attempt" }

// wrongChallenge marks r as a wrong challenge password counted against
// e's address. When it is the one that locks the address, the lock is
// logged and audited, once, with the count: a guesser's every attempt is
// not worth an audit entry.
func (s *Service) wrongChallenge(ctx context.Context, e *Enrollment, v model.AttemptVerdict, r *Refusal) *Refusal {
	r.WrongChallenge = true
	if !v.Locks {
		return r
	}
	r.Locks = true
	s.log.Warn("scep client locked out after repeated wrong challenge passwords", "client", e.ClientAddr, "handler", e.Handler.Name,
		"failures", v.Count, "retry_after_s", int(v.RetryAfter.Round(time.Second).Seconds()))
	audit := &model.AuditEvent{Actor: "scep:" + e.Handler.Name, Action: "scep.lockout", ClientAddr: e.ClientAddr,
		Target: "address " + e.ClientAddr,
		Detail: fmt.Sprintf("%d wrong challenge passwords since %s; the address is refused for %s", v.Count,
			v.Since.UTC().Format(time.RFC3339), inMinutes(v.RetryAfter))}
	if err := s.store.AddAuditEvent(ctx, audit); err != nil {
		s.log.Error("audit scep lockout", "err", err)
	}
	return r
}

// openRegistration finds the open, unexpired registration that e's
// challenge password unlocks at its handler, or refuses.
func (s *Service) openRegistration(ctx context.Context, e *Enrollment, tp *model.TokenProcedure, cp *model.CertificateProcedure) (*model.Registration, error) {
	regs, err := s.store.FindRegistrationsByChallenge(ctx, s.mk.ChallengeHash(e.Challenge))
	if err != nil {
		return nil, err
	}
	wantKind := model.RegistrationPre
	if cp.Format == model.FormatNDESDynamic {
		wantKind = model.RegistrationNDES
	}
	now := s.now()
	var reg *model.Registration
	for i := range regs {
		r := &regs[i]
		if r.Kind != wantKind {
			continue
		}
		if wantKind == model.RegistrationPre && (r.TokenProcedureID == nil || *r.TokenProcedureID != tp.ID) {
			continue
		}
		if reg == nil || (r.Usable(now) && !reg.Usable(now)) {
			reg = r
		}
	}
	if reg == nil {
		if len(regs) > 0 {
			other := &regs[0]
			msg := "The challenge password is not valid at this handler."
			if other.Kind == model.RegistrationPre && wantKind == model.RegistrationNDES {
				msg = "A pre-registration password cannot be used at an NDES request handler. Ask the help desk for an NDES password."
			} else if other.Kind == model.RegistrationNDES && wantKind == model.RegistrationPre {
				msg = "An NDES password can only be used at an NDES request handler."
			}
			return nil, s.fail(ctx, other, e, msg)
		}
		return nil, refuse("The challenge password is not known. Check it, or ask for a new one.")
	}
	switch {
	case reg.State == model.StateUsed || reg.UsedAt != nil:
		return nil, s.fail(ctx, reg, e, "The challenge password has already been used. Ask for a new one.")
	case reg.State == model.StateCancelled:
		return nil, s.fail(ctx, reg, e, "The registration was cancelled.")
	case reg.State == model.StateExpired || !now.Before(reg.ExpiresAt):
		return nil, s.fail(ctx, reg, e, "The challenge password has expired. Ask for a new one.")
	case reg.State != model.StateOpen:
		return nil, s.fail(ctx, reg, e, fmt.Sprintf("The registration is %s.", reg.State))
	}
	return reg, nil
}

// inMinutes says d in whole minutes, rounded up: "1 minute", "15 minutes".
func inMinutes(d time.Duration) string {
	if m := int((d + time.Minute - 1) / time.Minute); m != 1 {
		return fmt.Sprintf("%d minutes", m)
	}
	return "1 minute"
}

// sleep waits d, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// fail records on reg why e was refused and returns the Refusal.
func (s *Service) fail(ctx context.Context, reg *model.Registration, e *Enrollment, reason string) error {
	audit := &model.AuditEvent{
		Actor: "scep:" + e.Handler.Name, Action: "enrollment.refuse", ClientAddr: e.ClientAddr,
		Target: fmt.Sprintf("registration %d", reg.ID), Detail: reason,
	}
	if reg.ID == 0 { // allowed by a challenge hook: no registration to record on
		audit.Target = "transaction " + e.TransactionID
		if err := s.store.AddAuditEvent(ctx, audit); err != nil {
			s.log.Error("audit enrollment failure", "err", err)
		}
	} else if err := s.store.RecordEnrollmentFailure(ctx, reg.ID, reason, audit); err != nil {
		s.log.Error("record enrollment failure", "registration", reg.ID, "err", err)
	}
	return refuse("%s", reason)
}

// hold consumes reg for a request that waits for an administrator's
// approval, keeping its CSR: ErrPending when it is kept, a *Refusal when
// it cannot be.
func (s *Service) hold(ctx context.Context, snap *Snapshot, e *Enrollment, tp *model.TokenProcedure, cp *model.CertificateProcedure, reg *model.Registration, key string) error {
	// Refuse now what issuing would refuse after the approval.
	if err := pki.CheckCSR(e.CSR, cp); err != nil {
		return s.fail(ctx, reg, e, model.ErrorMessage(err))
	}
	audit := &model.AuditEvent{
		Actor: "scep:" + e.Handler.Name, Action: "enrollment.pending", ClientAddr: e.ClientAddr,
		Target: fmt.Sprintf("registration %d", reg.ID),
		Detail: fmt.Sprintf("subject %q waits for approval, transaction %s", e.CSR.Subject.String(), e.TransactionID),
	}
	err := s.store.MarkPending(ctx, reg.ID, e.Handler.ID, e.TransactionID, key, e.CSR.Raw, audit)
	if model.ErrorCode(err) == model.ECONFLICT {
		_, err = s.lostRace(ctx, snap, tp, e, key, err)
		return err
	} else if err != nil {
		return err
	}
	s.log.Info("enrollment waits for approval", "registration", reg.ID, "transaction", e.TransactionID)
	return ErrPending
}

// lostRace answers an enrollment whose outcome could not be recorded
// because of conflict: when another attempt of the same transaction came
// first, what that one got; otherwise (the password was taken by another
// transaction) a refusal.
func (s *Service) lostRace(ctx context.Context, snap *Snapshot, tp *model.TokenProcedure, e *Enrollment, key string, conflict error) ([]*x509.Certificate, error) {
	p, err := s.lookupPrior(ctx, e.TransactionID, key)
	if err != nil {
		return nil, err
	}
	if p.kind != priorNone {
		return s.repeat(snap, tp, e.TransactionID, p)
	}
	return nil, refuse("%s", model.ErrorMessage(conflict))
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
func (s *Service) renew(ctx context.Context, snap *Snapshot, e *Enrollment, tp *model.TokenProcedure, cp *model.CertificateProcedure, key string) ([]*x509.Certificate, error) {
	old := e.SignerCert
	refuseRenewal := func(format string, args ...any) error {
		reason := fmt.Sprintf(format, args...)
		_ = s.store.AddAuditEvent(ctx, &model.AuditEvent{Actor: "scep:" + e.Handler.Name, Action: "renewal.refuse",
			ClientAddr: e.ClientAddr, Target: "certificate " + serialHex(old.SerialNumber), Detail: reason})
		return refuse("%s", reason)
	}
	// A certificate of a retired CA renews too (into one of the current
	// CA), while it is unexpired and within its window.
	if snap.IssuerOf(old) == nil {
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
	var supersede []string
	if tp.SupersedeOnRenewal {
		supersede = []string{rec.Serial}
	}
	cert, newRec, err := s.issueAndRecord(ctx, snap, issuance{
		handler: e.Handler, cp: cp, csr: e.CSR, transactionID: e.TransactionID,
		opts: pki.IssueOptions{RawSubject: old.RawSubject}, supersede: supersede,
		audit: func(n *model.Certificate) *model.AuditEvent {
			return &model.AuditEvent{Actor: "scep:" + e.Handler.Name, Action: "certificate.renew", ClientAddr: e.ClientAddr,
				Target: "certificate " + n.Serial, Detail: fmt.Sprintf("renews %s, subject %q, transaction %s", rec.Serial, n.Subject, e.TransactionID)}
		},
	})
	var refusal *Refusal
	switch {
	case errors.As(err, &refusal):
		return nil, refuseRenewal("%s", refusal.Reason)
	case model.ErrorCode(err) == model.ECONFLICT:
		return s.lostRace(ctx, snap, tp, e, key, err)
	case err != nil:
		return nil, err
	}
	s.log.Info("certificate renewed", "serial", newRec.Serial, "renews", rec.Serial, "subject", newRec.Subject)
	return withChain(snap, tp, cert), nil
}
