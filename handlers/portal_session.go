package handlers

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/views"
	"golang.org/x/crypto/bcrypt"
)

// Cookie names of the portal.
const (
	SessionCookie = "scepgate_session"
	csrfCookie    = "scepgate_csrf"
)

// Session lifetimes.
const (
	SessionIdle     = 30 * time.Minute
	SessionAbsolute = 12 * time.Hour
	// touchEvery limits how often a session's last use is written.
	touchEvery = time.Minute
)

// SessionStore is what sign-in and sessions need from storage.
type SessionStore interface {
	FindUserByUsername(ctx context.Context, username string) (*model.User, error)
	StartSession(ctx context.Context, s *model.Session, username, replaces string, audit *model.AuditEvent) error
	FindSession(ctx context.Context, idHash string) (*model.SessionUser, error)
	TouchSession(ctx context.Context, idHash string, at time.Time) error
	EndSession(ctx context.Context, idHash string, audit *model.AuditEvent) error
	DeleteStaleSessions(ctx context.Context, idleBefore, createdBefore time.Time) (int64, error)
	LoginThrottle(ctx context.Context, username string) (*model.LoginThrottle, error)
	RecordLoginFailure(ctx context.Context, username string, fail func(*model.LoginThrottle), audit *model.AuditEvent) (*model.LoginThrottle, error)
}

// Sessions signs people in and out and recognises them on each request.
type Sessions struct {
	Store    SessionStore
	Now      func() time.Time
	Rand     io.Reader
	Log      *slog.Logger // when the request carries no logger (see LogFrom)
	Throttle model.ThrottlePolicy
	// Observer counts failed sign-ins and lockouts; nil counts nothing.
	Observer Observer
}

// randomToken returns n random bytes, base64url encoded.
func (s *Sessions) randomToken(n int) (string, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(s.Rand, b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func hashSessionID(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

func (s *Sessions) cookie(c echo.Context, name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{
		Name: name, Value: value, Path: "/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: c.Request().TLS != nil,
	}
}

// Load is middleware: it recognises the session cookie, checks the
// session's idle and absolute expiry, and makes the person and the form
// token of the request known to the handlers.
func (s *Sessions) Load(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if c.Request().Method == http.MethodGet {
			takeFlash(c)
		}
		if v := s.viewer(c); v != nil {
			c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
			c.Set(viewerKey, v)
			c.Set(csrfKey, v.CSRFToken)
		} else if ck, err := c.Cookie(csrfCookie); err == nil && len(ck.Value) >= 32 {
			c.Set(csrfKey, ck.Value)
		} else {
			tok, err := s.randomToken(32)
			if err != nil {
				return err
			}
			c.SetCookie(s.cookie(c, csrfCookie, tok, 0))
			c.Set(csrfKey, tok)
		}
		return next(c)
	}
}

func (s *Sessions) viewer(c echo.Context) *Viewer {
	ck, err := c.Cookie(SessionCookie)
	if err != nil || ck.Value == "" {
		return nil
	}
	ctx := c.Request().Context()
	hash := hashSessionID(ck.Value)
	su, err := s.Store.FindSession(ctx, hash)
	if err != nil {
		if model.ErrorCode(err) != model.ENOTFOUND {
			LogFrom(ctx, s.Log).Error("find session", "err", err)
		}
		return nil
	}
	now := s.Now()
	if su.User.Disabled || now.Sub(su.Session.LastSeenAt) >= SessionIdle || now.Sub(su.Session.CreatedAt) >= SessionAbsolute {
		if err := s.Store.EndSession(ctx, hash, nil); err != nil {
			LogFrom(ctx, s.Log).Error("end stale session", "err", err)
		}
		return nil
	}
	if now.Sub(su.Session.LastSeenAt) > touchEvery {
		if err := s.Store.TouchSession(ctx, hash, now); err != nil {
			LogFrom(ctx, s.Log).Error("touch session", "err", err)
		}
	}
	return &Viewer{UserID: su.User.ID, Username: su.User.Username, Role: su.User.Role, CSRFToken: su.Session.CSRFToken, SessionHash: hash}
}

// CheckCSRF is middleware: a form sent with POST must carry the token of
// the session (or, before sign-in, of the browser's form cookie).
func (s *Sessions) CheckCSRF(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		switch c.Request().Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			return next(c)
		}
		want, got := CSRFToken(c), c.FormValue("csrf")
		if want == "" || subtle.ConstantTimeCompare([]byte(want), []byte(got)) != 1 {
			return Render(c, http.StatusForbidden, views.FormExpiredPage(PageFor(c, "The form expired", "")))
		}
		return next(c)
	}
}

// dummyHash is compared against when the user name is unknown, so that a
// wrong name takes as long as a wrong password.
var dummyHash = sync.OnceValue(func() []byte {
	h, _ := bcrypt.GenerateFromPassword([]byte("scepgate-dummy-password"), bcrypt.DefaultCost)
	return h
})

// ShowSignIn handles "GET /signin".
func (s *Sessions) ShowSignIn(c echo.Context) error {
	return Render(c, http.StatusOK, views.SignIn(views.SignInProps{Page: PageFor(c, "Sign in", ""), Next: safeNext(c.QueryParam("next"))}))
}

// SignIn handles "POST /signin".
func (s *Sessions) SignIn(c echo.Context) error {
	ctx := c.Request().Context()
	p := views.SignInProps{Page: PageFor(c, "Sign in", ""), Username: formValue(c, "username"), Next: safeNext(c.FormValue("next"))}
	password := c.FormValue("password")
	if len(p.Username) > 200 {
		p.Username = p.Username[:200]
	}
	if p.Username == "" || password == "" {
		p.Error = "Enter your user name and password."
		return Render(c, http.StatusUnprocessableEntity, views.SignIn(p))
	}
	now := s.Now()
	th, err := s.Store.LoginThrottle(ctx, p.Username)
	if err != nil {
		return err
	}
	if wait, locked := s.Throttle.Wait(th, now); wait > 0 {
		if locked {
			p.Error = fmt.Sprintf("Too many failed sign-ins: this user name is locked for %s. Try again later or ask an administrator.", roundUp(wait, time.Minute))
		} else {
			p.Error = fmt.Sprintf("Too many failed sign-ins. Wait %s before trying again.", roundUp(wait, time.Second))
		}
		return Render(c, http.StatusTooManyRequests, views.SignIn(p))
	}
	u, err := s.Store.FindUserByUsername(ctx, p.Username)
	if err != nil && model.ErrorCode(err) != model.ENOTFOUND {
		return err
	}
	hash := dummyHash()
	if u != nil {
		hash = []byte(u.PasswordHash)
	}
	ok := bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil && u != nil && !u.Disabled
	if !ok {
		th, err := s.Store.RecordLoginFailure(ctx, p.Username, func(t *model.LoginThrottle) { s.Throttle.Fail(t, now) },
			&model.AuditEvent{Actor: p.Username, Action: "user.signin.fail", ClientAddr: c.RealIP(), Detail: "wrong user name or password, or account disabled"})
		if err != nil {
			return err
		}
		p.Error = "The user name or password is wrong."
		observer(s.Observer).AuthFailure(AuthPortal)
		if _, locked := s.Throttle.Wait(th, now); locked {
			observer(s.Observer).Lockout(AuthPortal)
			p.Error = fmt.Sprintf("Too many failed sign-ins: this user name is locked for %s.", roundUp(s.Throttle.LockFor, time.Minute))
		}
		return Render(c, http.StatusUnprocessableEntity, views.SignIn(p))
	}
	id, err := s.randomToken(32)
	if err != nil {
		return err
	}
	csrf, err := s.randomToken(32)
	if err != nil {
		return err
	}
	var replaces string
	if ck, err := c.Cookie(SessionCookie); err == nil && ck.Value != "" {
		replaces = hashSessionID(ck.Value)
	}
	sess := &model.Session{IDHash: hashSessionID(id), UserID: u.ID, CSRFToken: csrf, CreatedAt: now, LastSeenAt: now,
		ClientAddr: c.RealIP(), UserAgent: truncate(c.Request().UserAgent(), 200)}
	if err := s.Store.StartSession(ctx, sess, u.Username, replaces,
		&model.AuditEvent{Actor: u.Username, Action: "user.signin", ClientAddr: c.RealIP(), Target: "user " + u.Username}); err != nil {
		return err
	}
	c.SetCookie(s.cookie(c, SessionCookie, id, 0))
	if _, err := s.Store.DeleteStaleSessions(ctx, now.Add(-SessionIdle), now.Add(-SessionAbsolute)); err != nil {
		LogFrom(ctx, s.Log).Error("delete stale sessions", "err", err)
	}
	return seeOther(c, p.Next)
}

// SignOut handles "POST /signout".
func (s *Sessions) SignOut(c echo.Context) error {
	if v := ViewerFrom(c); v != nil {
		if err := s.Store.EndSession(c.Request().Context(), v.SessionHash,
			&model.AuditEvent{Actor: v.Username, Action: "user.signout", ClientAddr: c.RealIP(), Target: "user " + v.Username}); err != nil {
			return err
		}
	}
	c.SetCookie(s.cookie(c, SessionCookie, "", -1))
	return seeOther(c, "/signin")
}

// RequireSignIn is middleware: a request without a session is sent to the
// sign-in page, and comes back to where it was going after.
func RequireSignIn(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if ViewerFrom(c) == nil {
			to := "/signin"
			if r := c.Request(); r.Method == http.MethodGet && r.URL.RequestURI() != "/" {
				to += "?next=" + url.QueryEscape(r.URL.RequestURI())
			}
			return c.Redirect(http.StatusSeeOther, to)
		}
		return next(c)
	}
}

// RequireRole is middleware that lets only the given roles through.
func RequireRole(roles ...string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			v := ViewerFrom(c)
			if v == nil {
				return RequireSignIn(next)(c)
			}
			for _, r := range roles {
				if v.Role == r {
					return next(c)
				}
			}
			return model.Errorf(model.EFORBIDDEN, "Your role (%s) may not open this page.", v.Role)
		}
	}
}

func roundUp(d, unit time.Duration) time.Duration {
	return (d + unit - 1).Truncate(unit)
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
