package handlers

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
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
	StartSession(ctx context.Context, s *model.Session, replaces string, audit *model.AuditEvent) error
	FindSession(ctx context.Context, idHash string) (*model.SessionUser, error)
	TouchSession(ctx context.Context, idHash string, at time.Time) error
	EndSession(ctx context.Context, idHash string, audit *model.AuditEvent) error
	DeleteStaleSessions(ctx context.Context, idleBefore, createdBefore time.Time) (int64, error)
	AddAuditEvent(ctx context.Context, e *model.AuditEvent) error
	AttemptStore
}

// AttemptStore counts the attempts at the doors that take passwords, in
// the database that every instance shares (see store/attempts.go).
type AttemptStore interface {
	CountAttempt(ctx context.Context, kind model.AttemptKind, key string, p model.AttemptPolicy) (model.AttemptVerdict, error)
	ForgiveAttempt(ctx context.Context, kind model.AttemptKind, key string, p model.AttemptPolicy) error
	ClearAttempts(ctx context.Context, kind model.AttemptKind, key string) error
	LookupAttempts(ctx context.Context, kind model.AttemptKind, key string) (model.AttemptVerdict, error)
}

// KeyedHasher hashes a value under a named sub-key of the master key
// (pki.MasterKey does).
type KeyedHasher interface {
	KeyedHash(purpose, value string) string
}

// Sessions signs people in and out and recognises them on each request.
// Its Attempts bound wrong passwords: Portal per user name and address,
// PortalUser per user name from any address.
type Sessions struct {
	Store    SessionStore
	Now      func() time.Time
	Rand     io.Reader
	Log      *slog.Logger // when the request carries no logger (see LogFrom)
	Attempts model.AttemptPolicies
	// Passwords checks passwords, a few at a time.
	Passwords *PasswordChecker
	// Keys hash the user names attempts are counted under, so that a name
	// that is no user's (people type passwords into that field) is never
	// stored.
	Keys KeyedHasher
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
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: isHTTPS(c),
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

// SignIn handles "POST /signin". Each attempt is counted before its
// password is checked, per user name and address and per user name alone,
// so that neither concurrent nor spread-out guesses get more checks than
// Attempts allow; a success clears both counts.
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
	client := c.RealIP()
	nameHash := s.Keys.KeyedHash(model.AttemptKeyPurpose, p.Username)
	pairKey := nameHash + "|" + client
	v, err := s.Store.CountAttempt(ctx, model.AttemptPortal, pairKey, s.Attempts.Portal)
	if err != nil {
		return err
	}
	if v.Refused {
		p.Error = fmt.Sprintf("Too many failed sign-ins for this user name from your address: it is locked there for %s. Try again later.", inMinutes(v.RetryAfter))
		return Render(c, http.StatusTooManyRequests, views.SignIn(p))
	}
	uv, err := s.Store.CountAttempt(ctx, model.AttemptPortalUser, nameHash, s.Attempts.PortalUser)
	if err != nil {
		return err
	}
	// forgive takes back the counts of an attempt whose password was
	// never checked.
	forgive := func(user bool) {
		s.forgive(ctx, model.AttemptPortal, pairKey, s.Attempts.Portal)
		if user {
			s.forgive(ctx, model.AttemptPortalUser, nameHash, s.Attempts.PortalUser)
		}
	}
	if uv.Refused {
		forgive(false)
		p.Error = fmt.Sprintf("Too many failed sign-ins for this user name: it is locked for %s. Try again later.", inMinutes(uv.RetryAfter))
		return Render(c, http.StatusTooManyRequests, views.SignIn(p))
	}
	if err := sleep(ctx, max(v.Delay, uv.Delay)); err != nil {
		return nil // the browser went away
	}
	u, err := s.Store.FindUserByUsername(ctx, p.Username)
	if err != nil && model.ErrorCode(err) != model.ENOTFOUND {
		return err
	}
	hash := dummyHash()
	if u != nil {
		hash = []byte(u.PasswordHash)
	}
	ok, err := s.Passwords.Check(ctx, hash, password)
	if errors.Is(err, ErrBusy) {
		forgive(true)
		c.Response().Header().Set(echo.HeaderRetryAfter, "1")
		p.Error = "The server is busy checking other sign-ins. Try again in a moment."
		return Render(c, http.StatusServiceUnavailable, views.SignIn(p))
	} else if err != nil {
		return nil // the browser went away
	}
	if !ok || u == nil || u.Disabled {
		return s.signInFailed(c, p, u, nameHash, v, uv)
	}
	if err := s.Store.ClearAttempts(ctx, model.AttemptPortal, pairKey); err != nil {
		return err
	}
	if err := s.Store.ClearAttempts(ctx, model.AttemptPortalUser, nameHash); err != nil {
		return err
	}
	now := s.Now()
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
		ClientAddr: client, UserAgent: truncate(c.Request().UserAgent(), 200)}
	if err := s.Store.StartSession(ctx, sess, replaces,
		&model.AuditEvent{Actor: u.Username, Action: "user.signin", ClientAddr: client, Target: "user " + u.Username}); err != nil {
		return err
	}
	c.SetCookie(s.cookie(c, SessionCookie, id, 0))
	if _, err := s.Store.DeleteStaleSessions(ctx, now.Add(-SessionIdle), now.Add(-SessionAbsolute)); err != nil {
		LogFrom(ctx, s.Log).Error("delete stale sessions", "err", err)
	}
	return seeOther(c, p.Next)
}

// signInFailed answers a wrong password (or an unknown or disabled user)
// and records it: each failure in the audit log, and once more when it
// locks the name. A name that is no user's appears only as its keyed hash.
func (s *Sessions) signInFailed(c echo.Context, p views.SignInProps, u *model.User, nameHash string, v, uv model.AttemptVerdict) error {
	ctx := c.Request().Context()
	client := c.RealIP()
	actor, detail := p.Username, "wrong password, or account disabled"
	if u == nil {
		actor, detail = "unknown user "+nameHash[:16], "no user has that name (it is kept only as a keyed hash)"
	}
	if err := s.Store.AddAuditEvent(ctx, &model.AuditEvent{Actor: actor, Action: "user.signin.fail", ClientAddr: client, Detail: detail}); err != nil {
		return err
	}
	observer(s.Observer).AuthFailure(AuthPortal)
	p.Error = "The user name or password is wrong."
	if !v.Locks && !uv.Locks {
		return Render(c, http.StatusUnprocessableEntity, views.SignIn(p))
	}
	observer(s.Observer).Lockout(AuthPortal)
	var retry time.Duration
	if v.Locks {
		retry = v.RetryAfter
		detail = fmt.Sprintf("%d failed sign-ins from this address since %s; refused from it for %s", v.Count, v.Since.UTC().Format(time.RFC3339), inMinutes(retry))
		p.Error = fmt.Sprintf("Too many failed sign-ins for this user name from your address: it is locked there for %s.", inMinutes(retry))
	}
	if uv.Locks {
		retry = max(retry, uv.RetryAfter)
		detail = fmt.Sprintf("%d failed sign-ins from any address since %s; refused from all for %s", uv.Count, uv.Since.UTC().Format(time.RFC3339), inMinutes(uv.RetryAfter))
		p.Error = fmt.Sprintf("Too many failed sign-ins for this user name: it is locked for %s.", inMinutes(uv.RetryAfter))
	}
	LogFrom(ctx, s.Log).Warn("portal sign-in locked after repeated failures", "user_known", u != nil, "client", client,
		"address_locked", v.Locks, "user_locked", uv.Locks, "retry_after_s", seconds(retry))
	if err := s.Store.AddAuditEvent(ctx, &model.AuditEvent{Actor: actor, Action: "user.signin.lockout", ClientAddr: client, Detail: detail}); err != nil {
		return err
	}
	return Render(c, http.StatusUnprocessableEntity, views.SignIn(p))
}

// forgive takes back an attempt that was counted but never checked; a
// failure to is only logged, since the count then errs on the safe side.
func (s *Sessions) forgive(ctx context.Context, kind model.AttemptKind, key string, p model.AttemptPolicy) {
	if err := s.Store.ForgiveAttempt(context.WithoutCancel(ctx), kind, key, p); err != nil {
		LogFrom(ctx, s.Log).Error("forgive attempt", "kind", string(kind), "err", err)
	}
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

// inMinutes says d in whole minutes, rounded up: "1 minute", "15 minutes".
func inMinutes(d time.Duration) string {
	if m := minutes(d); m != 1 {
		return fmt.Sprintf("%d minutes", m)
	}
	return "1 minute"
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
