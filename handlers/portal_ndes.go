package handlers

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/scepgate/scepgate/enroll"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/views"
)

// ChallengeIssuer hands out NDES one-time passwords.
type ChallengeIssuer interface {
	Snapshot(ctx context.Context) (*enroll.Snapshot, error)
	IssueChallenge(ctx context.Context, snap *enroll.Snapshot, req enroll.ChallengeRequest) (*enroll.Challenge, error)
}

// NDESPassword is the help desk's "Get NDES password" page.
type NDESPassword struct {
	Service ChallengeIssuer
	Now     func() time.Time
	// Observer counts the passwords handed out; nil counts nothing.
	Observer Observer
}

// ndesHandlers returns the enabled challenge handlers of snap.
func ndesHandlers(snap *enroll.Snapshot) []model.Handler {
	var hs []model.Handler
	for _, h := range snap.Config.Handlers {
		if h.Format == model.HandlerNDES && h.Enabled {
			hs = append(hs, h)
		}
	}
	return hs
}

func (h *NDESPassword) props(c echo.Context, snap *enroll.Snapshot) views.NDESProps {
	p := views.NDESProps{Page: PageFor(c, "NDES password", "ndes")}
	for _, hd := range ndesHandlers(snap) {
		p.Handlers = append(p.Handlers, views.Option{Value: strconv.FormatInt(hd.ID, 10), Label: hd.Name + " (" + hd.NDESChallengeValidity + ")"})
	}
	return p
}

// Show handles "GET /ndes".
func (h *NDESPassword) Show(c echo.Context) error {
	snap, err := h.Service.Snapshot(c.Request().Context())
	if err != nil {
		return err
	}
	return Render(c, http.StatusOK, views.NDES(h.props(c, snap)))
}

// Issue handles "POST /ndes": it hands out one password and shows it this
// once.
func (h *NDESPassword) Issue(c echo.Context) error {
	ctx := c.Request().Context()
	snap, err := h.Service.Snapshot(ctx)
	if err != nil {
		return err
	}
	p := h.props(c, snap)
	p.Selected = c.FormValue("handler")
	var handler *model.Handler
	for _, hd := range ndesHandlers(snap) {
		if strconv.FormatInt(hd.ID, 10) == p.Selected || (p.Selected == "" && len(p.Handlers) == 1) {
			handler = &hd
			break
		}
	}
	if handler == nil {
		p.Error = "Choose the NDES challenge handler to take the password from."
		return Render(c, http.StatusUnprocessableEntity, views.NDES(p))
	}
	ch, err := h.Service.IssueChallenge(ctx, snap, enroll.ChallengeRequest{Handler: handler, RequestedBy: actor(c), ClientAddr: c.RealIP()})
	if errors.Is(err, enroll.ErrPasswordCacheFull) {
		observer(h.Observer).NDESCacheFull(handler.Name)
	}
	if err != nil {
		if code := model.ErrorCode(err); code == model.ECONFLICT || code == model.EINVALID {
			p.Error = model.ErrorMessage(err)
			return Render(c, http.StatusConflict, views.NDES(p))
		}
		return err
	}
	observer(h.Observer).NDESIssued(handler.Name)
	p.Issued = &views.IssuedPassword{
		Password: ch.Password, ExpiresAt: ch.ExpiresAt, Validity: ch.Validity, CAThumbprint: ch.CAThumbprint,
		Handler: handler.Name, RegistrationID: ch.Registration.ID,
	}
	return Render(c, http.StatusOK, views.NDES(p))
}
