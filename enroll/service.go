// Package enroll is the enrollment and challenge workflow: which password
// authorises which enrollment, what gets issued, what gets recorded. It
// knows neither HTTP nor SQL.
package enroll

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki"
)

// Store is what the workflow needs from storage.
type Store interface {
	ConfigVersion(ctx context.Context) (int64, error)
	LoadConfig(ctx context.Context) (*model.Config, error)
	ActiveAuthorities(ctx context.Context) (ca, ra *model.Authority, err error)
	CreateRegistration(ctx context.Context, r *model.Registration) error
	FindRegistrationsByChallenge(ctx context.Context, hash string) ([]model.Registration, error)
	RecordEnrollmentFailure(ctx context.Context, id int64, reason string, audit *model.AuditEvent) error
	CompleteEnrollment(ctx context.Context, regID int64, cert *model.Certificate, audit *model.AuditEvent, supersede ...string) error
	AddAuditEvent(ctx context.Context, e *model.AuditEvent) error
	// For NDES one-time passwords (challenge.go).
	CreateNDESRegistration(ctx context.Context, r *model.Registration, limit int, audit *model.AuditEvent) (bool, error)
	ExpireRegistrations(ctx context.Context) (int64, error)
	lifecycleStore
}

// Service runs enrollments.
type Service struct {
	store Store
	mk    *pki.MasterKey
	now   func() time.Time
	rand  io.Reader
	log   *slog.Logger
	snaps *snapshots
	crlMu sync.Mutex // one CRL signed at a time
}

// Options configure a Service; zero values take the defaults.
type Options struct {
	Now    func() time.Time
	Rand   io.Reader
	Logger *slog.Logger
	// ConfigCheckInterval bounds how stale cached settings may be.
	ConfigCheckInterval time.Duration
}

// NewService returns a Service over store, opening keys with mk.
func NewService(store Store, mk *pki.MasterKey, o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Rand == nil {
		o.Rand = rand.Reader
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.ConfigCheckInterval == 0 {
		o.ConfigCheckInterval = time.Second
	}
	return &Service{
		store: store, mk: mk, now: o.Now, rand: o.Rand, log: o.Logger,
		snaps: &snapshots{store: store, mk: mk, now: o.Now, interval: o.ConfigCheckInterval},
	}
}

// Snapshot returns the current configuration and key material.
func (s *Service) Snapshot(ctx context.Context) (*Snapshot, error) {
	return s.snaps.get(ctx)
}

// Rand returns the service's source of randomness.
func (s *Service) Rand() io.Reader { return s.rand }

// ConfigChanged makes the next request reload settings at once.
func (s *Service) ConfigChanged() { s.snaps.invalidate() }

// Enrollment is one certificate request arriving at a SCEP handler.
type Enrollment struct {
	Handler *model.Handler
	// SignerCert signed the request; Renewal says it was a RenewalReq.
	SignerCert    *x509.Certificate
	Renewal       bool
	CSR           *x509.CertificateRequest
	Challenge     string
	TransactionID string
	ClientAddr    string
}

// Refusal is an enrollment the policy refuses: a bad, used or missing
// password, or a CSR outside its procedure. Reason is safe to show.
type Refusal struct{ Reason string }

func (r *Refusal) Error() string { return r.Reason }

func refuse(format string, args ...any) *Refusal {
	return &Refusal{Reason: fmt.Sprintf(format, args...)}
}

// ErrPending means the request waits for an administrator's approval; the
// client is answered PENDING and polls.
var ErrPending = errors.New("the request waits for approval")

// Enroll answers a PKCSReq or RenewalReq: a retry of a transaction gets
// what the first attempt got; a RenewalReq (or a PKCSReq without challenge
// signed with a certificate this CA issued) renews; any other is authorised
// by its challenge password. The
// certificate is issued and recorded, with the registration it consumes, in
// one transaction. It returns the certificate followed, when the token
// procedure stores all issuer certificates, by the CA chain. A *Refusal
// error is answered with FAILURE, ErrPending with PENDING.
func (s *Service) Enroll(ctx context.Context, snap *Snapshot, e *Enrollment) ([]*x509.Certificate, error) {
	tp, cp, err := snap.Procedures(e.Handler)
	if err != nil {
		return nil, &Refusal{Reason: model.ErrorMessage(err)}
	}
	pkSum := sha256.Sum256(e.CSR.RawSubjectPublicKeyInfo)
	pubKeyHash := hex.EncodeToString(pkSum[:])
	// A RenewalReq, or a PKCSReq without a challenge signed with a
	// certificate this CA issued, renews. (A PKCSReq with a challenge is an
	// enrollment whatever signed it, such as a proxy certificate.)
	if e.Renewal || (e.Challenge == "" && isIssuedBy(e.SignerCert, snap.Authority.CA)) {
		if certs, err := s.retry(ctx, snap, tp, e.TransactionID, pubKeyHash); err != nil || certs != nil {
			return certs, err
		}
		return s.renew(ctx, snap, e, tp, cp)
	}
	reg, err := s.authorise(ctx, e, tp, cp)
	if errors.Is(err, errSameTransaction) {
		// The password was used by this very transaction: a retry.
		if certs, err := s.retry(ctx, snap, tp, e.TransactionID, pubKeyHash); err != nil || certs != nil {
			return certs, err
		}
		return nil, s.fail(ctx, reg, e, "The challenge password has already been used. Ask for a new one.")
	} else if err != nil {
		return nil, err
	}
	if tp.RequireApproval {
		// The request is kept for later: refuse now what Issue would.
		if err := pki.CheckCSR(e.CSR, cp); err != nil {
			return nil, s.fail(ctx, reg, e, model.ErrorMessage(err))
		}
		// A new registration under a transaction ID seen before.
		if certs, err := s.retry(ctx, snap, tp, e.TransactionID, pubKeyHash); err != nil || certs != nil {
			return certs, err
		}
		audit := &model.AuditEvent{
			Actor: "scep:" + e.Handler.Name, Action: "enrollment.pending", ClientAddr: e.ClientAddr,
			Target: fmt.Sprintf("registration %d", reg.ID),
			Detail: fmt.Sprintf("subject %q waits for approval, transaction %s", e.CSR.Subject.String(), e.TransactionID),
		}
		err := s.store.MarkPending(ctx, reg.ID, e.Handler.ID, e.TransactionID, pubKeyHash, e.CSR.Raw, audit)
		if model.ErrorCode(err) == model.ECONFLICT {
			return nil, &Refusal{Reason: model.ErrorMessage(err)}
		} else if err != nil {
			return nil, err
		}
		s.log.Info("enrollment waits for approval", "registration", reg.ID, "transaction", e.TransactionID)
		return nil, ErrPending
	}
	cert, rec, err := s.issue(snap, e.CSR, cp, pki.IssueOptions{}, e.Handler, e.TransactionID)
	var refusal *Refusal
	if errors.As(err, &refusal) {
		return nil, s.fail(ctx, reg, e, refusal.Reason)
	} else if err != nil {
		return nil, err
	}
	supersede, err := s.oneKeyPerSubject(ctx, cp, cert, rec)
	if err != nil {
		return nil, err
	}
	audit := &model.AuditEvent{
		Actor: "scep:" + e.Handler.Name, Action: "certificate.issue", ClientAddr: e.ClientAddr,
		Target: "certificate " + rec.Serial,
		Detail: fmt.Sprintf("subject %q, registration %d, transaction %s", rec.Subject, reg.ID, e.TransactionID),
	}
	if err := s.store.CompleteEnrollment(ctx, reg.ID, rec, audit, supersede...); err != nil {
		if model.ErrorCode(err) != model.ECONFLICT {
			return nil, err
		}
		// The transaction ID may have a certificate already (it is unique
		// among certificates): a retry, or a reuse with another key.
		if certs, rerr := s.retry(ctx, snap, tp, e.TransactionID, pubKeyHash); rerr != nil || certs != nil {
			return certs, rerr
		}
		return nil, &Refusal{Reason: model.ErrorMessage(err)}
	}
	s.log.Info("certificate issued", "serial", rec.Serial, "subject", rec.Subject,
		"handler", e.Handler.Name, "registration", reg.ID, "transaction", e.TransactionID)
	return withChain(snap, tp, cert), nil
}

// issue signs the certificate for csr and prepares its record.
func (s *Service) issue(snap *Snapshot, csr *x509.CertificateRequest, cp *model.CertificateProcedure, o pki.IssueOptions, h *model.Handler, transactionID string) (*x509.Certificate, *model.Certificate, error) {
	if base := strings.TrimRight(snap.Config.PublicURL, "/"); base != "" && snap.Authority.ID != 0 {
		o.CRLURL = fmt.Sprintf("%s/pgwy/ca/%d/crl", base, snap.Authority.ID)
		o.CAIssuersURL = fmt.Sprintf("%s/pgwy/ca/%d/cert", base, snap.Authority.ID)
	}
	cert, err := snap.Authority.Issue(csr, cp, o, s.now(), s.rand)
	if err != nil {
		if model.ErrorCode(err) == model.EINVALID {
			return nil, nil, &Refusal{Reason: model.ErrorMessage(err)}
		}
		return nil, nil, err
	}
	pkSum := sha256.Sum256(csr.RawSubjectPublicKeyInfo)
	rec := &model.Certificate{
		Serial:                 strings.ToLower(cert.SerialNumber.Text(16)),
		Subject:                cert.Subject.String(),
		DNSNames:               strings.Join(cert.DNSNames, ","),
		NotBefore:              cert.NotBefore.UTC(),
		NotAfter:               cert.NotAfter.UTC(),
		DER:                    cert.Raw,
		CSR:                    csr.Raw,
		State:                  model.CertActive,
		HandlerID:              &h.ID,
		CertificateProcedureID: &cp.ID,
		TransactionID:          transactionID,
		PublicKeySHA256:        hex.EncodeToString(pkSum[:]),
	}
	if snap.Authority.ID != 0 {
		rec.AuthorityID = &snap.Authority.ID
	}
	return cert, rec, nil
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

// authorise finds the open registration that e's challenge password
// unlocks at its handler.
func (s *Service) authorise(ctx context.Context, e *Enrollment, tp *model.TokenProcedure, cp *model.CertificateProcedure) (*model.Registration, error) {
	if e.Challenge == "" {
		return nil, refuse("The request carries no challenge password.")
	}
	regs, err := s.store.FindRegistrationsByChallenge(ctx, s.mk.ChallengeHash(e.Challenge))
	if err != nil {
		return nil, err
	}
	wantKind := model.RegistrationPre
	if cp.Format == model.FormatNDESDynamic {
		wantKind = model.RegistrationNDES
	}
	var reg *model.Registration
	for i := range regs {
		r := &regs[i]
		if r.Kind != wantKind {
			continue
		}
		if wantKind == model.RegistrationPre && (r.TokenProcedureID == nil || *r.TokenProcedureID != tp.ID) {
			continue
		}
		if reg == nil || (r.Usable(s.now()) && !reg.Usable(s.now())) {
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
	now := s.now()
	if reg.TransactionID != "" && reg.TransactionID == e.TransactionID && !reg.Usable(now) {
		return reg, errSameTransaction
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
	if reg.SubjectCN != "" && e.CSR.Subject.CommonName != reg.SubjectCN {
		return nil, s.fail(ctx, reg, e, fmt.Sprintf("The CSR's common name %q is not the registered %q.", e.CSR.Subject.CommonName, reg.SubjectCN))
	}
	if reg.DNSName != "" && !slices.Contains(e.CSR.DNSNames, reg.DNSName) {
		return nil, s.fail(ctx, reg, e, fmt.Sprintf("The CSR does not name the registered DNS name %q.", reg.DNSName))
	}
	return reg, nil
}

// errSameTransaction: the registration was used by the transaction asking.
var errSameTransaction = errors.New("the registration was used by this transaction")

// fail records on reg why e was refused and returns the Refusal.
func (s *Service) fail(ctx context.Context, reg *model.Registration, e *Enrollment, reason string) error {
	audit := &model.AuditEvent{
		Actor: "scep:" + e.Handler.Name, Action: "enrollment.refuse", ClientAddr: e.ClientAddr,
		Target: fmt.Sprintf("registration %d", reg.ID), Detail: reason,
	}
	if err := s.store.RecordEnrollmentFailure(ctx, reg.ID, reason, audit); err != nil {
		s.log.Error("record enrollment failure", "registration", reg.ID, "err", err)
	}
	return &Refusal{Reason: reason}
}

// PreRegistration asks for a registration that authorises one enrollment
// at the handlers of a token procedure.
type PreRegistration struct {
	TokenProcedure string
	Password       string
	SubjectCN      string
	DNSName        string
	ValidFor       time.Duration
	RequestedBy    string
	ClientAddr     string
}

// AddPreRegistration creates the registration p asks for.
func (s *Service) AddPreRegistration(ctx context.Context, p PreRegistration) (*model.Registration, error) {
	snap, err := s.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	tp, ok := snap.TokenProcedureByName(p.TokenProcedure)
	if !ok {
		return nil, model.Errorf(model.ENOTFOUND, "There is no token procedure named %q.", p.TokenProcedure)
	}
	if len(p.Password) < 8 {
		return nil, model.Errorf(model.EINVALID, "The password must be at least 8 characters long.")
	}
	if p.ValidFor <= 0 {
		return nil, model.Errorf(model.EINVALID, "The validity must be positive, such as 24h or 168h.")
	}
	now := s.now().UTC()
	r := &model.Registration{
		Kind:             model.RegistrationPre,
		State:            model.StateOpen,
		TokenProcedureID: &tp.ID,
		ChallengeHash:    s.mk.ChallengeHash(p.Password),
		SubjectCN:        p.SubjectCN,
		DNSName:          p.DNSName,
		RequestedBy:      p.RequestedBy,
		ClientAddr:       p.ClientAddr,
		CreatedAt:        now,
		ExpiresAt:        now.Add(p.ValidFor),
	}
	if err := s.store.CreateRegistration(ctx, r); err != nil {
		return nil, err
	}
	err = s.store.AddAuditEvent(ctx, &model.AuditEvent{
		Actor: p.RequestedBy, Action: "registration.create", ClientAddr: p.ClientAddr,
		Target: fmt.Sprintf("registration %d", r.ID),
		Detail: fmt.Sprintf("pre-registration for token procedure %q, subject %q, expires %s", tp.Name, p.SubjectCN, r.ExpiresAt.Format(time.RFC3339)),
	})
	return r, err
}
