// Package enroll is the enrollment and challenge workflow: which password
// authorises which enrollment, what gets issued, what gets recorded. It
// knows neither HTTP nor SQL.
package enroll

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync"
	"time"

	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki"
	"github.com/scepgate/scepgate/store"
)

// Store is what the workflow needs from storage.
type Store interface {
	// Settings and key material (snapshot.go).
	ConfigVersion(ctx context.Context) (int64, error)
	LoadConfig(ctx context.Context) (*model.Config, error)
	ActiveAuthorities(ctx context.Context) (ca, ra *model.Authority, err error)
	NextAuthorities(ctx context.Context) (ca, ra *model.Authority, err error)
	RetiredCAs(ctx context.Context) ([]model.Authority, error)
	FindAuthority(ctx context.Context, id int64) (*model.Authority, error)

	// Registrations: challenge passwords and requests waiting for approval.
	CreateRegistration(ctx context.Context, r *model.Registration) error
	CreateNDESRegistration(ctx context.Context, r *model.Registration, limit int, audit *model.AuditEvent) (bool, error)
	FindRegistration(ctx context.Context, id int64) (*model.Registration, error)
	FindRegistrationsByChallenge(ctx context.Context, hash string) ([]model.Registration, error)
	RecordEnrollmentFailure(ctx context.Context, id int64, reason string, audit *model.AuditEvent) error
	MarkPending(ctx context.Context, regID, handlerID int64, transactionID, pubKeySHA256 string, csr []byte, audit *model.AuditEvent) error
	RejectRegistration(ctx context.Context, regID int64, reason string, audit *model.AuditEvent) error
	ExpireRegistrations(ctx context.Context) (int64, error)

	// Certificates: issuing, retries, revocation and CRLs.
	FindTransaction(ctx context.Context, transactionID string) (*store.Transaction, error)
	RecordIssue(ctx context.Context, is store.Issue) error
	FindCertificateBySerial(ctx context.Context, serial string) (*model.Certificate, error)
	ActiveSerialsForSubject(ctx context.Context, subject, except string) ([]model.Certificate, error)
	RevokeCertificate(ctx context.Context, serial string, reason int, audit *model.AuditEvent) (*model.Certificate, error)
	RevocationList(ctx context.Context, authorityID int64, includeUnattributed bool) (*store.RevocationList, error)
	RevocationSequence(ctx context.Context) (int64, error)
	LatestCRL(ctx context.Context, authorityID int64) (*model.CRL, error)
	SaveCRL(ctx context.Context, c *model.CRL) error

	AddAuditEvent(ctx context.Context, e *model.AuditEvent) error

	// Attempts: challenge passwords counted per client address, in the
	// database every instance shares.
	CountAttempt(ctx context.Context, kind model.AttemptKind, key string, p model.AttemptPolicy) (model.AttemptVerdict, error)
	ClearAttempts(ctx context.Context, kind model.AttemptKind, key string) error
	DeleteStaleAttempts(ctx context.Context, before time.Time) (int64, error)
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

	// attempts slows down and then refuses an address that keeps sending
	// wrong challenge passwords.
	attempts model.AttemptPolicy

	// hooks calls the handlers' webhooks.
	hooks Hooks
}

// Options configure a Service; zero values take the defaults.
type Options struct {
	Now    func() time.Time
	Rand   io.Reader
	Logger *slog.Logger
	// ConfigCheckInterval is how often the settings are checked for a
	// change made elsewhere, such as on the command line; it bounds how
	// stale cached settings may be.
	ConfigCheckInterval time.Duration
	// Attempts bounds wrong challenge passwords per client address
	// (model.DefaultSCEPAttempts by default).
	Attempts model.AttemptPolicy
	// Hooks calls the handlers' webhooks (none by default).
	Hooks Hooks
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
	if o.Hooks == nil {
		o.Hooks = noHooks{}
	}
	if o.ConfigCheckInterval == 0 {
		o.ConfigCheckInterval = time.Second
	}
	snaps := &snapshots{store: store, mk: mk, interval: o.ConfigCheckInterval, log: o.Logger,
		open: pki.OpenAuthority, stop: make(chan struct{})}
	s := &Service{store: store, mk: mk, now: o.Now, rand: o.Rand, log: o.Logger, snaps: snaps,
		attempts: o.Attempts.OrDefault(model.DefaultSCEPAttempts), hooks: o.Hooks}
	// The background checks of the settings end when the Service is no
	// longer used: they hold the snapshots, never the Service.
	runtime.AddCleanup(s, func(stop chan struct{}) { close(stop) }, snaps.stop)
	return s
}

// Snapshot returns the current configuration and key material. Only the
// very first call waits for them to load; later ones get the current
// snapshot at once, which a background check replaces within
// ConfigCheckInterval of a change.
func (s *Service) Snapshot(ctx context.Context) (*Snapshot, error) {
	return s.snaps.get(ctx)
}

// Rand returns the service's source of randomness.
func (s *Service) Rand() io.Reader { return s.rand }

// ConfigChanged reloads the settings at once, so that the caller's next
// request, and everyone's, sees the change it just saved.
func (s *Service) ConfigChanged() { s.snaps.changed() }

// Refusal is a request the policy refuses: a bad, used or missing
// password, a CSR outside its procedure, a transaction or certificate
// nobody knows. Code says what kind of refusal it is; Reason is safe to
// show.
type Refusal struct {
	Code   RefusalCode
	Reason string
	// WrongChallenge: the challenge password was wrong, unknown, used or
	// otherwise unusable here, and counted against the client's address;
	// Locks: that locked the address.
	WrongChallenge, Locks bool
}

func (r *Refusal) Error() string { return r.Reason }

// RefusalCode classifies a Refusal as SCEP's failInfo tells a client why
// it was refused (RFC 8894, section 3.2.1.4.5).
type RefusalCode int

const (
	// BadRequest: the request is not granted as it stands (the zero value).
	BadRequest RefusalCode = iota
	// BadCertID: no request or certificate is known by the identifier given.
	BadCertID
	// BadAlg: the request uses an algorithm the answer cannot, such as a
	// signer's key that the reply cannot be encrypted to.
	BadAlg
)

func refuse(format string, args ...any) *Refusal {
	return &Refusal{Code: BadRequest, Reason: fmt.Sprintf(format, args...)}
}

// ErrUnknownTransaction refuses a CertPoll or GetCert about nothing this
// gateway knows (failInfo badCertId).
var ErrUnknownTransaction = &Refusal{Code: BadCertID, Reason: "No request or certificate is known by that identifier."}

// ErrPending means the request waits for an administrator's approval; the
// client is answered PENDING and polls.
var ErrPending = errors.New("the request waits for approval")
