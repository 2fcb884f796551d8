package handlers

import (
	"context"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
	"github.com/scepgate/scepgate/admin"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/views"
)

// Decider approves, rejects and cancels registrations.
type Decider interface {
	Approve(ctx context.Context, actor admin.Actor, regID int64) (*model.Certificate, error)
	Reject(ctx context.Context, actor admin.Actor, regID int64, reason string) error
	CancelRegistration(ctx context.Context, actor admin.Actor, regID int64) error
}

// Approve handles "POST /registrations/:id/approve".
func (h *Registrations) Approve(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	cert, err := h.Decider.Approve(c.Request().Context(), adminActor(c), id)
	if code := model.ErrorCode(err); code == model.ECONFLICT || code == model.EINVALID {
		return h.show(c, http.StatusConflict, model.ErrorMessage(err))
	} else if err != nil {
		return err
	}
	return done(c, "/registrations/"+strconv.FormatInt(id, 10),
		"Approved: certificate "+cert.Serial+" is issued; the device gets it at its next poll.")
}

// Reject handles "POST /registrations/:id/reject".
func (h *Registrations) Reject(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if ok, err := confirmed(c, views.Confirmation{Page: views.Page{Nav: "registrations"},
		Title:   "Reject registration " + strconv.FormatInt(id, 10),
		Message: "The enrollment waiting in registration " + strconv.FormatInt(id, 10) + " will be rejected: the device gets no certificate and its next poll fails. This cannot be undone.",
		Button:  "Reject", Cancel: "/registrations/" + strconv.FormatInt(id, 10)}); !ok {
		return err
	}
	err = h.Decider.Reject(c.Request().Context(), adminActor(c), id, formValue(c, "reason"))
	if code := model.ErrorCode(err); code == model.ECONFLICT || code == model.EINVALID {
		return h.show(c, http.StatusConflict, model.ErrorMessage(err))
	} else if err != nil {
		return err
	}
	return done(c, "/registrations/"+strconv.FormatInt(id, 10), "Rejected: the device's next poll gets a failure.")
}
