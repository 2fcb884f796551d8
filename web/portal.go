package web

import (
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/scepgate/scepgate/admin"
	"github.com/scepgate/scepgate/enroll"
	"github.com/scepgate/scepgate/handlers"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/views"
)

// Portal holds the handlers of the admin portal.
type Portal struct {
	Sessions      *handlers.Sessions
	Dashboard     *handlers.Dashboard
	CA            *handlers.CAPage
	CAImport      *handlers.CAImport
	Procedures    *handlers.Procedures
	Handlers      *handlers.Handlers
	NDES          *handlers.NDESPassword
	Registrations *handlers.Registrations
	PreRegs       *handlers.PreRegistrations
	Certificates  *handlers.Certificates
	Users         *handlers.Users
	Audit         *handlers.AuditLog
	Tokens        *handlers.Tokens
	Profiles      *handlers.Profiles
}

// PortalStore is everything the portal needs from storage.
type PortalStore interface {
	handlers.SessionStore
	handlers.DashboardStore
	handlers.ProcedureStore
	handlers.HandlerStore
	handlers.RegistrationStore
	handlers.CertificateStore
	handlers.UserStore
	handlers.AuditStore
	handlers.TokenProcedureLister
}

// PortalDeps are what NewPortal wires the portal's handlers to.
type PortalDeps struct {
	Store   PortalStore
	Service *enroll.Service
	// Admin performs what administrators change.
	Admin    *admin.Service
	Now      func() time.Time
	Rand     io.Reader
	Log      *slog.Logger
	Attempts model.AttemptPolicies // wrong sign-in passwords: Portal and PortalUser (zero: the defaults)
	// Passwords checks sign-in passwords, a few at a time; share it with
	// the NDES handlers (nil: one of the portal's own).
	Passwords *handlers.PasswordChecker
	// Keys hash the user names sign-in attempts are counted under.
	Keys handlers.KeyedHasher
	// Observer counts sign-in failures, lockouts and NDES passwords.
	Observer handlers.Observer
}

// NewPortal returns the portal's handlers over d.
func NewPortal(d PortalDeps) *Portal {
	ca := &handlers.CAPage{Snapshot: d.Service, CRLs: d.Service, Now: d.Now}
	if d.Passwords == nil {
		d.Passwords = handlers.NewPasswordChecker(handlers.PasswordCheckerConfig{})
	}
	return &Portal{
		Sessions:      &handlers.Sessions{Store: d.Store, Now: d.Now, Rand: d.Rand, Log: d.Log, Attempts: d.Attempts.OrDefaults(), Passwords: d.Passwords, Keys: d.Keys, Observer: d.Observer},
		Dashboard:     &handlers.Dashboard{Store: d.Store, Snapshot: d.Service, Now: d.Now},
		CA:            ca,
		CAImport:      &handlers.CAImport{Admin: d.Admin, Page: ca},
		Procedures:    &handlers.Procedures{Store: d.Store, Admin: d.Admin},
		Handlers:      &handlers.Handlers{Store: d.Store, Admin: d.Admin},
		NDES:          &handlers.NDESPassword{Service: d.Service, Now: d.Now, Observer: d.Observer},
		Registrations: &handlers.Registrations{Store: d.Store, Decider: d.Admin, Bulk: d.Admin, Now: d.Now},
		PreRegs:       &handlers.PreRegistrations{Admin: d.Admin, Store: d.Store},
		Certificates:  &handlers.Certificates{Store: d.Store, Revoker: d.Admin, Bulk: d.Admin, Now: d.Now},
		Users:         &handlers.Users{Store: d.Store, Admin: d.Admin, Now: d.Now},
		Audit:         &handlers.AuditLog{Store: d.Store, Procedures: d.Store, Now: d.Now},
		Tokens:        &handlers.Tokens{Admin: d.Admin, Now: d.Now},
		Profiles:      &handlers.Profiles{Service: d.Service, Rand: d.Rand},
	}
}

// Role sets of the portal.
var (
	everyone   = []string{model.RoleAdmin, model.RoleHelpdesk, model.RoleAuditor}
	readers    = []string{model.RoleAdmin, model.RoleAuditor}
	adminsOnly = []string{model.RoleAdmin}
)

// portalPath reports whether path belongs to the portal rather than to
// SCEP clients, MDMs or static files.
func portalPath(path string) bool {
	if isProtocolPath(path) {
		return false
	}
	for _, p := range []string{"/static/", "/api/", "/healthz", "/readyz", "/metrics"} {
		if strings.HasPrefix(path, p) || path == strings.TrimSuffix(p, "/") {
			return false
		}
	}
	return true
}

// addPortal adds the portal's middleware and routes to e. Each route says
// which roles may use it; every POST carries the form token.
func addPortal(e *echo.Echo, p *Portal) {
	s := p.Sessions
	e.Use(func(next echo.HandlerFunc) echo.HandlerFunc {
		withSession := s.Load(next)
		return func(c echo.Context) error {
			if portalPath(c.Request().URL.Path) {
				return withSession(c)
			}
			return next(c)
		}
	})
	formLimit := middleware.BodyLimit("256K")
	route := func(method, path string, h echo.HandlerFunc, roles []string) {
		e.Add(method, path, h, formLimit, s.CheckCSRF, handlers.RequireRole(roles...))
	}
	e.GET("/signin", s.ShowSignIn)
	e.POST("/signin", s.SignIn, formLimit, s.CheckCSRF)
	e.GET("/signout", s.ShowSignOut)
	e.POST("/signout", s.SignOut, formLimit, s.CheckCSRF)

	route(http.MethodGet, "/", p.Dashboard.Show, everyone)
	route(http.MethodGet, "/ca", p.CA.Show, readers)
	route(http.MethodGet, "/ca/:file", p.CA.Download, readers)
	e.Add(http.MethodPost, "/ca/import", p.CAImport.Import, middleware.BodyLimit("3M"), s.CheckCSRF, handlers.RequireRole(adminsOnly...))

	route(http.MethodGet, "/procedures", p.Procedures.List, readers)
	route(http.MethodGet, "/procedures/certificate/new", p.Procedures.NewCertificate, adminsOnly)
	route(http.MethodPost, "/procedures/certificate", p.Procedures.SaveCertificate, adminsOnly)
	route(http.MethodGet, "/procedures/certificate/:id", p.Procedures.EditCertificate, readers)
	route(http.MethodPost, "/procedures/certificate/:id", p.Procedures.SaveCertificate, adminsOnly)
	route(http.MethodPost, "/procedures/certificate/:id/delete", p.Procedures.DeleteCertificate, adminsOnly)
	route(http.MethodGet, "/procedures/token/new", p.Procedures.NewToken, adminsOnly)
	route(http.MethodPost, "/procedures/token", p.Procedures.SaveToken, adminsOnly)
	route(http.MethodGet, "/procedures/token/:id", p.Procedures.EditToken, readers)
	route(http.MethodPost, "/procedures/token/:id", p.Procedures.SaveToken, adminsOnly)
	route(http.MethodPost, "/procedures/token/:id/delete", p.Procedures.DeleteToken, adminsOnly)

	route(http.MethodGet, "/handlers", p.Handlers.List, readers)
	route(http.MethodGet, "/handlers/new", p.Handlers.New, adminsOnly)
	route(http.MethodPost, "/handlers", p.Handlers.Save, adminsOnly)
	route(http.MethodPost, "/handlers/aliases", p.Handlers.Aliases, adminsOnly)
	route(http.MethodGet, "/handlers/:id", p.Handlers.Edit, readers)
	route(http.MethodPost, "/handlers/:id", p.Handlers.Save, adminsOnly)
	route(http.MethodPost, "/handlers/:id/toggle", p.Handlers.Toggle, adminsOnly)
	route(http.MethodPost, "/handlers/:id/mobileconfig", p.Profiles.Download, adminsOnly)

	helpers := []string{model.RoleAdmin, model.RoleHelpdesk}
	route(http.MethodGet, "/ndes", p.NDES.Show, helpers)
	route(http.MethodPost, "/ndes", p.NDES.Issue, helpers)

	route(http.MethodGet, "/registrations", p.Registrations.List, everyone)
	route(http.MethodGet, "/registrations.csv", p.Registrations.CSV, readers)
	route(http.MethodPost, "/registrations/cancel", p.Registrations.BulkCancel, adminsOnly)
	route(http.MethodGet, "/registrations/new", p.PreRegs.New, adminsOnly)
	route(http.MethodPost, "/registrations", p.PreRegs.Create, adminsOnly)
	route(http.MethodGet, "/registrations/:id", p.Registrations.Show, everyone)
	route(http.MethodPost, "/registrations/:id/cancel", p.Registrations.Cancel, adminsOnly)
	route(http.MethodPost, "/registrations/:id/approve", p.Registrations.Approve, adminsOnly)
	route(http.MethodPost, "/registrations/:id/reject", p.Registrations.Reject, adminsOnly)

	route(http.MethodGet, "/certificates", p.Certificates.List, readers)
	route(http.MethodGet, "/certificates.csv", p.Certificates.CSV, readers)
	route(http.MethodPost, "/certificates/revoke", p.Certificates.BulkRevoke, adminsOnly)
	route(http.MethodGet, "/certificates/:id", p.Certificates.Show, readers)
	route(http.MethodGet, "/certificates/:id/:file", p.Certificates.Download, readers)
	route(http.MethodPost, "/certificates/:id/revoke", p.Certificates.Revoke, adminsOnly)

	route(http.MethodGet, "/users", p.Users.List, adminsOnly)
	route(http.MethodGet, "/users/new", p.Users.New, adminsOnly)
	route(http.MethodPost, "/users", p.Users.Create, adminsOnly)
	route(http.MethodGet, "/users/:id", p.Users.Show, adminsOnly)
	route(http.MethodPost, "/users/:id/unlock", p.Users.Unlock, adminsOnly)
	route(http.MethodPost, "/users/:id/:what", p.Users.Change, adminsOnly)

	route(http.MethodGet, "/tokens", p.Tokens.List, adminsOnly)
	route(http.MethodPost, "/tokens", p.Tokens.Create, adminsOnly)
	route(http.MethodPost, "/tokens/revoke", p.Tokens.Revoke, adminsOnly)

	route(http.MethodGet, "/audit", p.Audit.List, readers)
	route(http.MethodGet, "/audit.csv", p.Audit.CSV, readers)
}

// renderErrorPage shows a person what went wrong: pages of their own for
// not found and not allowed, the message for anything else.
func renderErrorPage(c echo.Context, status int, msg string) error {
	switch status {
	case http.StatusNotFound:
		return handlers.Render(c, status, views.NotFoundPage(handlers.PageFor(c, "Page not found", "")))
	case http.StatusForbidden:
		return handlers.Render(c, status, views.ForbiddenPage(handlers.PageFor(c, "Not allowed", ""), msg))
	}
	return handlers.Render(c, status, views.ErrorPage(handlers.PageFor(c, http.StatusText(status), ""), msg))
}
