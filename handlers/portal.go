package handlers

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/scepgate/scepgate/admin"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/views"
)

// Viewer is the person signed in to the portal for one request.
type Viewer struct {
	UserID      int64
	Username    string
	Role        string
	CSRFToken   string
	SessionHash string
}

const (
	viewerKey   = "scepgate.viewer"
	csrfKey     = "scepgate.csrf"
	flashKey    = "scepgate.flash"
	flashCookie = "scepgate_flash"
)

// ViewerFrom returns the person signed in, or nil.
func ViewerFrom(c echo.Context) *Viewer {
	v, _ := c.Get(viewerKey).(*Viewer)
	return v
}

// CSRFToken returns the token the forms of this request carry.
func CSRFToken(c echo.Context) string {
	s, _ := c.Get(csrfKey).(string)
	return s
}

// PageFor returns the frame facts of a portal page titled title, with nav
// the navigation entry to highlight.
func PageFor(c echo.Context, title, nav string) views.Page {
	p := views.Page{Title: title, Nav: nav, CSRF: CSRFToken(c)}
	p.Flash, _ = c.Get(flashKey).(string)
	if v := ViewerFrom(c); v != nil {
		p.Username, p.Role = v.Username, v.Role
	}
	return p
}

// actor names the signed-in person for the audit log.
func actor(c echo.Context) string {
	if v := ViewerFrom(c); v != nil {
		return v.Username
	}
	return "anonymous"
}

// seeOther answers a successful POST.
func seeOther(c echo.Context, to string) error {
	return c.Redirect(http.StatusSeeOther, to)
}

// isHTTPS reports whether the browser reached the server over HTTPS,
// directly or through a TLS-terminating proxy, so that cookies are sent
// back only over HTTPS. Echo's SchemeExtractor, which web sets, believes
// X-Forwarded-Proto only from a trusted proxy.
func isHTTPS(c echo.Context) bool { return c.Scheme() == "https" }

// done answers a successful POST: it redirects to to, whose page then
// says message once.
func done(c echo.Context, to, message string) error {
	c.SetCookie(&http.Cookie{Name: flashCookie, Value: base64.RawURLEncoding.EncodeToString([]byte(message)), Path: "/", MaxAge: 60,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: isHTTPS(c)})
	return seeOther(c, to)
}

// takeFlash moves the message left by done into the request, once.
func takeFlash(c echo.Context) {
	ck, err := c.Cookie(flashCookie)
	if err != nil {
		return
	}
	if b, err := base64.RawURLEncoding.DecodeString(ck.Value); err == nil && len(b) <= 500 {
		c.Set(flashKey, string(b))
	}
	c.SetCookie(&http.Cookie{Name: flashCookie, Value: "", Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: isHTTPS(c)})
}

// pathID reads the numeric :id of the route.
func pathID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, model.Errorf(model.ENOTFOUND, "There is nothing at this address.")
	}
	return id, nil
}

// pageNumber reads the page query parameter (1 when missing or bad).
func pageNumber(c echo.Context) int {
	n, err := strconv.Atoi(c.QueryParam("page"))
	if err != nil || n < 1 || n > 1_000_000 {
		return 1
	}
	return n
}

// pager returns the pagination links of a list.
func pager(c echo.Context, page, perPage int, total int64) views.Pager {
	p := views.Pager{Page: page, Total: total, PerPage: perPage}
	q := c.QueryParams()
	link := func(n int) string {
		v := url.Values{}
		for k, vs := range q {
			v[k] = vs
		}
		v.Set("page", strconv.Itoa(n))
		return c.Request().URL.Path + "?" + v.Encode()
	}
	if page > 1 {
		p.PrevURL = link(page - 1)
	}
	if int64(page*perPage) < total {
		p.NextURL = link(page + 1)
	}
	return p
}

// formValue returns the trimmed value of a form field.
func formValue(c echo.Context, name string) string {
	return strings.TrimSpace(c.FormValue(name))
}

// safeNext returns next when it is a path on this site, else "/".
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	return next
}

func itoa(n int) string { return strconv.Itoa(n) }

// adminActor names the signed-in person to the admin operations.
func adminActor(c echo.Context) admin.Actor {
	a := admin.Actor{Name: actor(c), ClientAddr: c.RealIP()}
	if v := ViewerFrom(c); v != nil {
		a.UserID = v.UserID
	}
	return a
}

// formErrors returns what a form shows for err when it is the person's to
// fix: the message of each field, or the message on top of the form.
// ok is false for every other error, which the error page answers.
func formErrors(err error) (fe views.FieldErrors, ok bool) {
	switch model.ErrorCode(err) {
	case model.EINVALID, model.ECONFLICT:
		if f := model.ErrorFields(err); f != nil {
			return views.FieldErrors(f), true
		}
		return views.FieldErrors{"": model.ErrorMessage(err)}, true
	}
	return nil, false
}

// formInt reads a whole number typed into field, recording in errs when
// it is not one; the range is the admin operation's to check.
func formInt(errs views.FieldErrors, field, v string) int {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		errs[field] = "Enter a whole number."
	}
	return n
}

// formInt64 reads an id chosen in a select; 0 for none.
func formInt64(v string) int64 {
	n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	return n
}
