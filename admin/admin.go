// Package admin holds the operations administrators perform, whichever
// door they come through: the portal, the CLI or the JSON API. Each
// operation checks its input once, with one set of limits (limits.go),
// answers problems as field errors (model.Error with Fields) that every
// door shows in its own way, writes its audit event, and tells running
// servers about configuration changes. It knows neither HTTP nor SQL.
package admin

import (
	"context"
	"time"

	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki"
	"golang.org/x/crypto/bcrypt"
)

// Store is what the operations need from storage.
type Store interface {
	LoadConfig(ctx context.Context) (*model.Config, error)

	FindHandler(ctx context.Context, id int64) (*model.Handler, error)
	SaveHandlers(ctx context.Context, hs []model.Handler, audit *model.AuditEvent) error
	SetAliases(ctx context.Context, a model.Aliases, audit *model.AuditEvent) error

	FindCertificateProcedure(ctx context.Context, id int64) (*model.CertificateProcedure, error)
	SaveCertificateProcedure(ctx context.Context, cp *model.CertificateProcedure, audit *model.AuditEvent) error
	DeleteCertificateProcedure(ctx context.Context, id int64, audit *model.AuditEvent) error
	FindTokenProcedure(ctx context.Context, id int64) (*model.TokenProcedure, error)
	SaveTokenProcedure(ctx context.Context, tp *model.TokenProcedure, audit *model.AuditEvent) error
	DeleteTokenProcedure(ctx context.Context, id int64, audit *model.AuditEvent) error

	CreateRegistration(ctx context.Context, r *model.Registration) error
	FindRegistration(ctx context.Context, id int64) (*model.Registration, error)
	CancelRegistration(ctx context.Context, id int64, audit *model.AuditEvent) error

	FindUser(ctx context.Context, id int64) (*model.User, error)
	LookupAttempts(ctx context.Context, kind model.AttemptKind, key string) (model.AttemptVerdict, error)
	ClearUserAttempts(ctx context.Context, nameHash string, audit *model.AuditEvent) error
	AddUser(ctx context.Context, u *model.User, audit *model.AuditEvent) error
	ChangeUser(ctx context.Context, id int64, ch model.UserChange, audit *model.AuditEvent) error

	ReplaceAuthorities(ctx context.Context, ca, ra *model.Authority, audit *model.AuditEvent) error
	ActiveAuthorities(ctx context.Context) (ca, ra *model.Authority, err error)
	PrepareNextAuthorities(ctx context.Context, ca, ra *model.Authority, audit *model.AuditEvent) error
	ActivateNextAuthorities(ctx context.Context, audit *model.AuditEvent) error
	FindCertificate(ctx context.Context, id int64) (*model.Certificate, error)
	AddAuditEvent(ctx context.Context, e *model.AuditEvent) error

	TokenStore
}

// Enroller is what the operations need from the enrollment workflow:
// issuing a certificate that waited for approval, revoking (which signs a
// new CRL), and hearing that the configuration changed.
type Enroller interface {
	Approve(ctx context.Context, regID int64, actor string) (*model.Certificate, error)
	Reject(ctx context.Context, regID int64, reason, actor string) error
	Revoke(ctx context.Context, serial string, reason int, actor, clientAddr string) (*model.Certificate, error)
	ConfigChanged()
}

// Actor is who performs an operation, for the audit log and the rules that
// depend on it (nobody disables their own account).
type Actor struct {
	Name       string // the portal user, "cli", or "token:NAME" for the API
	UserID     int64  // the portal user's id; 0 elsewhere
	ClientAddr string // the client address, "local" for the CLI
}

// CLI is the actor of commands run on the server.
var CLI = Actor{Name: "cli", ClientAddr: "local"}

func (a Actor) audit(action, target, detail string) *model.AuditEvent {
	return &model.AuditEvent{Actor: a.Name, Action: action, Target: target, Detail: detail, ClientAddr: a.ClientAddr}
}

// Service performs the administrators' operations.
type Service struct {
	store      Store
	enroll     Enroller
	mk         *pki.MasterKey
	now        func() time.Time
	bcryptCost int
}

// Options configure a Service; zero values take the defaults.
type Options struct {
	Now func() time.Time
	// BcryptCost is the cost of new password hashes (bcrypt.DefaultCost
	// when 0).
	BcryptCost int
}

// New returns the operations over store and the enrollment workflow, with
// mk to hash challenge passwords and seal imported keys.
func New(store Store, enroll Enroller, mk *pki.MasterKey, o Options) *Service {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.BcryptCost == 0 {
		o.BcryptCost = bcrypt.DefaultCost
	}
	return &Service{store: store, enroll: enroll, mk: mk, now: o.Now, bcryptCost: o.BcryptCost}
}

// changed tells running servers that handlers, procedures, aliases or the
// CA changed.
func (s *Service) changed() {
	if s.enroll != nil {
		s.enroll.ConfigChanged()
	}
}

func (s *Service) hash(password string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), s.bcryptCost)
	return string(h), err
}
