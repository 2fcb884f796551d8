package handlers

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf16"

	"github.com/labstack/echo/v4"
	"github.com/scepgate/scepgate/enroll"
	"github.com/scepgate/scepgate/model"
)

// NDESService is what the NDES challenge handler needs from the enrollment
// workflow.
type NDESService interface {
	Snapshot(ctx context.Context) (*enroll.Snapshot, error)
	IssueChallenge(ctx context.Context, snap *enroll.Snapshot, req enroll.ChallengeRequest) (*enroll.Challenge, error)
}

// AuthCacheTTL is how long a successful check of a handler's NDES password
// is remembered, so that an MDM asking for many passwords does not pay for
// a bcrypt comparison each time.
const AuthCacheTTL = time.Minute

// ndesPasswordCacheFull is what NDES says when it has handed out as many
// unused passwords as it keeps.
const ndesPasswordCacheFull = "The password cache is full."

// NDES serves NDES challenge handlers (format scep-ndes); Protocol picks
// the handler, for Microsoft's mscep_admin path too.
type NDES struct {
	service   NDESService
	attempts  AttemptStore
	policy    model.AttemptPolicy
	passwords *PasswordChecker
	log       *slog.Logger
	observe   Observer
	now       func() time.Time

	auth authCache
}

// NDESConfig holds what NewNDES needs; zero values take the defaults, but
// Service and Attempts are required.
type NDESConfig struct {
	Service NDESService
	// Attempts counts wrong credentials per client address, in the
	// database that every instance shares.
	Attempts AttemptStore
	// Policy slows down and then refuses an address that keeps sending
	// wrong credentials (model.DefaultNDESAttempts by default).
	Policy model.AttemptPolicy
	// Passwords checks the handlers' passwords, a few at a time; share it
	// with the portal (nil: one of the handler's own).
	Passwords *PasswordChecker
	Log       *slog.Logger
	Now       func() time.Time
	// Observer counts passwords and failures; nil counts nothing.
	Observer Observer
}

// NewNDES returns the NDES challenge handler.
func NewNDES(cfg NDESConfig) *NDES {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Passwords == nil {
		cfg.Passwords = NewPasswordChecker(PasswordCheckerConfig{})
	}
	return &NDES{
		service: cfg.Service, attempts: cfg.Attempts, policy: cfg.Policy.OrDefault(model.DefaultNDESAttempts),
		passwords: cfg.Passwords, log: cfg.Log, now: cfg.Now, observe: observer(cfg.Observer),
		auth: authCache{entries: map[[32]byte]time.Time{}},
	}
}

// Challenge handles "GET /pgwy/scep/<filter>" for a handler h of format
// scep-ndes (the seeded one is /pgwy/scep/ndeschallenge/): with the
// handler's NDES user and password as HTTP Basic credentials it hands out a
// one-time challenge password, as Microsoft's mscep_admin page does.
func (n *NDES) Challenge(c echo.Context, snap *enroll.Snapshot, h *model.Handler) error {
	req := c.Request()
	if req.Method != http.MethodGet {
		c.Response().Header().Set("Allow", http.MethodGet)
		return c.String(http.StatusMethodNotAllowed, "Ask for a challenge password with GET.\n")
	}
	wantJSON := acceptsJSON(req)
	c.Response().Header().Set("Cache-Control", "no-store")
	client := c.RealIP()
	log := LogFrom(req.Context(), n.log).With("handler", h.Name, "client", client)

	user, password, ok := req.BasicAuth()
	if !ok {
		// Not a failure: clients such as PowerShell's Invoke-WebRequest
		// send credentials only when challenged.
		return n.unauthorized(c, wantJSON)
	}
	if n.remembered(h, user, password) {
		// Known to be right: no bcrypt and nothing to count, but a locked
		// address stays locked whatever it sends.
		v, err := n.attempts.LookupAttempts(req.Context(), model.AttemptNDES, client)
		if err != nil {
			return err
		}
		if v.Refused {
			log.Warn("ndes credentials refused: client locked out", "retry_after_s", seconds(v.RetryAfter))
			return n.tooMany(c, v.RetryAfter, wantJSON)
		}
		if v.Count > 0 {
			if err := n.attempts.ClearAttempts(req.Context(), model.AttemptNDES, client); err != nil {
				return err
			}
		}
	} else if ok, err := n.check(c, h, user, password, log, wantJSON); !ok {
		return err
	}

	ch, err := n.service.IssueChallenge(req.Context(), snap, enroll.ChallengeRequest{Handler: h, RequestedBy: user, ClientAddr: client})
	if errors.Is(err, enroll.ErrPasswordCacheFull) {
		n.observe.NDESCacheFull(h.Name)
		if wantJSON {
			return c.JSON(http.StatusServiceUnavailable, jsonError{Error: ndesPasswordCacheFull, Detail: model.ErrorMessage(err)})
		}
		validity, _ := h.NDESValidity()
		return ndesPage(c, h, cacheFullBody(validity))
	} else if err != nil {
		return err
	}
	n.observe.NDESIssued(h.Name)
	if wantJSON {
		return c.JSON(http.StatusOK, challengeJSON{Challenge: ch.Password, ExpiresAt: ch.ExpiresAt.UTC(), CAThumbprint: ch.CAThumbprint})
	}
	return ndesPage(c, h, passwordBody(ch))
}

// check counts an attempt of the client's address before checking user
// and password against handler h, so that concurrent guesses cannot all be
// checked, and clears the count when they are right. Unless they are
// right it answers the request (or finds the client gone) and returns
// false with the error of answering.
func (n *NDES) check(c echo.Context, h *model.Handler, user, password string, log *slog.Logger, wantJSON bool) (bool, error) {
	ctx := c.Request().Context()
	client := c.RealIP()
	v, err := n.attempts.CountAttempt(ctx, model.AttemptNDES, client, n.policy)
	if err != nil {
		return false, err
	}
	if v.Refused {
		log.Warn("ndes credentials refused: client locked out", "retry_after_s", seconds(v.RetryAfter))
		return false, n.tooMany(c, v.RetryAfter, wantJSON)
	}
	if err := sleep(ctx, v.Delay); err != nil {
		return false, nil // the client went away
	}
	right, err := n.authenticate(ctx, h, user, password)
	if errors.Is(err, ErrBusy) {
		if err := n.attempts.ForgiveAttempt(context.WithoutCancel(ctx), model.AttemptNDES, client, n.policy); err != nil {
			log.Error("forgive attempt", "err", err)
		}
		log.Warn("ndes credentials not checked: too many password checks at once")
		return false, n.busy(c, wantJSON)
	} else if err != nil {
		return false, nil // the client went away
	}
	if !right {
		n.observe.AuthFailure(AuthNDES)
		// Not the user name itself: people type passwords into it.
		log.Warn("ndes credentials refused", "user_matches", user == h.NDESUsername, "failures", v.Count)
		if v.Locks {
			n.observe.Lockout(AuthNDES)
			log.Warn("ndes client locked out after repeated failures", "failures", v.Count, "retry_after_s", seconds(v.RetryAfter))
			return false, n.tooMany(c, v.RetryAfter, wantJSON)
		}
		return false, n.unauthorized(c, wantJSON)
	}
	return true, n.attempts.ClearAttempts(ctx, model.AttemptNDES, client)
}

type challengeJSON struct {
	Challenge    string    `json:"challenge"`
	ExpiresAt    time.Time `json:"expires_at"`
	CAThumbprint string    `json:"ca_thumbprint"`
}

type jsonError struct {
	Error  string `json:"error"`
	Detail string `json:"detail,omitempty"`
}

func acceptsJSON(r *http.Request) bool {
	return strings.Contains(strings.ToLower(r.Header.Get(echo.HeaderAccept)), echo.MIMEApplicationJSON)
}

func (n *NDES) unauthorized(c echo.Context, wantJSON bool) error {
	c.Response().Header().Set(echo.HeaderWWWAuthenticate, `Basic realm="Network Device Enrollment Service"`)
	msg := "Sign in with the NDES user name and password of this handler."
	if wantJSON {
		return c.JSON(http.StatusUnauthorized, jsonError{Error: msg})
	}
	return c.String(http.StatusUnauthorized, msg+"\n")
}

func (n *NDES) busy(c echo.Context, wantJSON bool) error {
	c.Response().Header().Set(echo.HeaderRetryAfter, "1")
	msg := "The server is busy checking other credentials. Try again in a moment."
	if wantJSON {
		return c.JSON(http.StatusServiceUnavailable, jsonError{Error: msg})
	}
	return c.String(http.StatusServiceUnavailable, msg+"\n")
}

func (n *NDES) tooMany(c echo.Context, retry time.Duration, wantJSON bool) error {
	c.Response().Header().Set(echo.HeaderRetryAfter, strconv.Itoa(seconds(retry)))
	msg := fmt.Sprintf("Too many failed sign-ins from this address. Check the NDES user name and password, and try again in %d seconds.", seconds(retry))
	if wantJSON {
		return c.JSON(http.StatusTooManyRequests, jsonError{Error: msg})
	}
	return c.String(http.StatusTooManyRequests, msg+"\n")
}

// seconds rounds d up to whole seconds, at least 1.
func seconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(s, 1)
}

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

// authenticate checks user and password against handler h in constant
// time. A correct password is remembered for AuthCacheTTL under a SHA-256
// of the handler, its password hash and the password, so a changed
// password is checked afresh. The error is ErrBusy, or ctx's.
func (n *NDES) authenticate(ctx context.Context, h *model.Handler, user, password string) (bool, error) {
	userOK := subtle.ConstantTimeCompare([]byte(user), []byte(h.NDESUsername)) == 1
	if h.NDESPasswordHash == "" {
		return false, nil
	}
	key := authKey(h, password)
	now := n.now()
	if n.auth.hit(key, now) {
		return userOK, nil
	}
	if ok, err := n.passwords.Check(ctx, []byte(h.NDESPasswordHash), password); !ok || err != nil {
		return false, err
	}
	n.auth.add(key, now.Add(AuthCacheTTL))
	return userOK, nil
}

// remembered reports whether user and password are right for handler h
// by the cache of successful checks alone, without bcrypt.
func (n *NDES) remembered(h *model.Handler, user, password string) bool {
	userOK := subtle.ConstantTimeCompare([]byte(user), []byte(h.NDESUsername)) == 1
	return h.NDESPasswordHash != "" && n.auth.hit(authKey(h, password), n.now()) && userOK
}

func authKey(h *model.Handler, password string) [32]byte {
	return sha256.Sum256([]byte(strconv.FormatInt(h.ID, 10) + "\x00" + h.NDESPasswordHash + "\x00" + password))
}

// authCache remembers successful password checks until they expire.
type authCache struct {
	mu      sync.Mutex
	entries map[[32]byte]time.Time // key -> expiry
}

// maxAuthCacheEntries bounds the cache; a handler has one password, so
// more entries only come from password changes within AuthCacheTTL.
const maxAuthCacheEntries = 1024

func (a *authCache) hit(key [32]byte, now time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	exp, ok := a.entries[key]
	if ok && now.Before(exp) {
		return true
	}
	if ok {
		delete(a.entries, key)
	}
	return false
}

func (a *authCache) add(key [32]byte, exp time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.entries) >= maxAuthCacheEntries {
		clear(a.entries)
	}
	a.entries[key] = exp
}

// ndesPage writes an NDES answer as Microsoft's mscep_admin does: HTTP 200,
// Content-Type text/html without a charset, the body in UTF-16LE, with a
// byte-order mark only when the handler asks for one.
func ndesPage(c echo.Context, h *model.Handler, body string) error {
	page := "<HTML><Head><Title>Network Device Enrollment Service</Title></Head><Body BgColor=#FFFFFF>" +
		"<Font ID=locPageFont Face=\"Arial\">" +
		"<Table Border=0 CellSpacing=0 CellPadding=4 Width=100% BgColor=#008080><TR><TD>" +
		"<Font ID=locPageTitleFont Face=\"Arial\" Size=-1 Color=#FFFFFF><LocID ID=locMSCertSrv>Network Device Enrollment Service</LocID></Font>" +
		"</TD></TR></Table>\r\n" +
		"<P ID=locPageTitle> Network Device Enrollment Service allows you to obtain certificates for routers or other network devices using the Simple Certificate Enrollment Protocol (SCEP). </P>\r\n" +
		body + "\r\n</Font></Body></HTML>\r\n"
	return c.Blob(http.StatusOK, "text/html", utf16LE(page, h.NDESByteOrderMark))
}

func passwordBody(ch *enroll.Challenge) string {
	return "<P> To complete certificate enrollment for your network device you will need the following information: " +
		"<P> The thumbprint (hash value) for the CA certificate is: <B> " + html.EscapeString(ch.CAThumbprint) + " </B> " +
		"<P> The enrollment challenge password is: <B> " + html.EscapeString(ch.Password) + " </B> " +
		"<P> This password can be used only once and will expire within " + strconv.Itoa(minutes(ch.Validity)) + " minutes. " +
		"<P> Each enrollment requires a new challenge password. You can refresh this web page to obtain a new challenge password. </P>"
}

func cacheFullBody(validity time.Duration) string {
	return "<P> " + ndesPasswordCacheFull + " " +
		"<P> Unused passwords are kept until they are used or expire, " + strconv.Itoa(minutes(validity)) + " minutes after they were handed out. " +
		"Use the passwords already handed out, or wait until some expire, then refresh this web page. </P>"
}

// minutes rounds d up to whole minutes, as the page states validity.
func minutes(d time.Duration) int {
	return int((d + time.Minute - 1) / time.Minute)
}

// utf16LE encodes s as UTF-16 little-endian, after a byte-order mark when
// bom is set.
func utf16LE(s string, bom bool) []byte {
	units := utf16.Encode([]rune(s))
	b := make([]byte, 0, 2*len(units)+2)
	if bom {
		b = append(b, 0xFF, 0xFE)
	}
	for _, u := range units {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	return b
}
