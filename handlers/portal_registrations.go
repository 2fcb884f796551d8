package handlers

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/scepgate/scepgate/admin"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/views"
)

// RegistrationStore is what the registration pages need from storage.
type RegistrationStore interface {
	ListRegistrations(ctx context.Context, f model.RegistrationFilter, page, perPage int) ([]model.Registration, int64, error)
	FindRegistration(ctx context.Context, id int64) (*model.Registration, error)
	ListHandlers(ctx context.Context, q string, page, perPage int) ([]model.Handler, int64, error)
	FindHandler(ctx context.Context, id int64) (*model.Handler, error)
	FindTokenProcedure(ctx context.Context, id int64) (*model.TokenProcedure, error)
	FindCertificate(ctx context.Context, id int64) (*model.Certificate, error)
}

// Registrations serves the enrollment registration pages.
type Registrations struct {
	Store   RegistrationStore
	Decider Decider
	Bulk    BulkCanceller
	Now     func() time.Time
}

// BulkCanceller cancels many registrations at once.
type BulkCanceller interface {
	CancelRegistrations(ctx context.Context, actor admin.Actor, ids []int64) (admin.BulkResult, error)
}

const registrationsPerPage = 25

// List handles "GET /registrations".
func (h *Registrations) List(c echo.Context) error {
	ctx := c.Request().Context()
	f, q := registrationFilter(c)
	page := pageNumber(c)
	rs, n, err := h.Store.ListRegistrations(ctx, f, page, registrationsPerPage)
	if err != nil {
		return err
	}
	hs, _, err := h.Store.ListHandlers(ctx, "", 1, 1000)
	if err != nil {
		return err
	}
	p := views.RegistrationsProps{Page: PageFor(c, "Registrations", "registrations"), Query: q, Rows: rs, Pager: pager(c, page, registrationsPerPage, n),
		HandlerNames: map[int64]string{}, CertificateStates: map[int64]string{},
		CSVURL: "/registrations.csv?" + filterQuery(c, registrationFilterFields...)}
	for _, r := range rs {
		if r.CertificateID != nil {
			if cert, err := h.Store.FindCertificate(ctx, *r.CertificateID); err == nil {
				p.CertificateStates[cert.ID] = views.CertificateState(*cert, h.Now())
			}
		}
	}
	for _, hd := range hs {
		p.HandlerNames[hd.ID] = hd.Name
		p.Handlers = append(p.Handlers, views.Option{Value: strconv.FormatInt(hd.ID, 10), Label: hd.Name})
	}
	return Render(c, http.StatusOK, views.Registrations(p))
}

// registrationFilterFields are the fields of the registration search.
var registrationFilterFields = []string{"q", "state", "handler", "from", "to"}

// registrationFilter reads the search of the registration list: from the
// query string of a GET, or the fields of a bulk action's form.
func registrationFilter(c echo.Context) (model.RegistrationFilter, views.RegistrationQuery) {
	q := views.RegistrationQuery{Text: formValue(c, "q"), State: formValue(c, "state"), Handler: formValue(c, "handler"),
		From: formValue(c, "from"), To: formValue(c, "to")}
	f := model.RegistrationFilter{Query: q.Text, State: q.State}
	f.HandlerID, _ = strconv.ParseInt(q.Handler, 10, 64)
	if t, err := time.Parse(time.DateOnly, q.From); err == nil {
		f.From = t
	}
	if t, err := time.Parse(time.DateOnly, q.To); err == nil {
		f.To = t.AddDate(0, 0, 1)
	}
	return f, q
}

// Show handles "GET /registrations/:id".
func (h *Registrations) Show(c echo.Context) error {
	return h.show(c, http.StatusOK, "")
}

func (h *Registrations) show(c echo.Context, status int, problem string) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	r, err := h.Store.FindRegistration(ctx, id)
	if err != nil {
		return err
	}
	p := views.RegistrationProps{Page: PageFor(c, "Registration "+strconv.FormatInt(id, 10), "registrations"), Registration: *r, Problem: problem}
	if r.CertificateID != nil {
		if cert, err := h.Store.FindCertificate(ctx, *r.CertificateID); err == nil {
			p.CertificateState = views.CertificateState(*cert, h.Now())
		}
	}
	if r.HandlerID != nil {
		if hd, err := h.Store.FindHandler(ctx, *r.HandlerID); err == nil {
			p.HandlerName = hd.Name
		}
	}
	if r.TokenProcedureID != nil {
		if tp, err := h.Store.FindTokenProcedure(ctx, *r.TokenProcedureID); err == nil {
			p.TokenProcedureName = tp.Name
		}
	}
	return Render(c, status, views.RegistrationPage(p))
}

// Cancel handles "POST /registrations/:id/cancel".
func (h *Registrations) Cancel(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	r, err := h.Store.FindRegistration(c.Request().Context(), id)
	if err != nil {
		return err
	}
	if r.State == model.StateOpen {
		if ok, err := confirmed(c, views.Confirmation{Page: views.Page{Nav: "registrations"},
			Title:   "Cancel registration " + strconv.FormatInt(id, 10),
			Message: "Registration " + strconv.FormatInt(id, 10) + registrationLabel(r) + " will be cancelled: its challenge password no longer enrolls a device. This cannot be undone; hand out a new password instead.",
			Button:  "Cancel the registration", Cancel: "/registrations/" + strconv.FormatInt(id, 10)}); !ok {
			return err
		}
	}
	err = h.Decider.CancelRegistration(c.Request().Context(), adminActor(c), id)
	if model.ErrorCode(err) == model.ECONFLICT {
		return h.show(c, http.StatusConflict, model.ErrorMessage(err))
	} else if err != nil {
		return err
	}
	return done(c, "/registrations/"+strconv.FormatInt(id, 10), "The registration was cancelled.")
}

// registrationLabel names what a registration is for, as " (for CN
// laptop7)", or "".
func registrationLabel(r *model.Registration) string {
	switch {
	case r.SubjectCN != "":
		return " (for " + r.SubjectCN + ")"
	case r.DNSName != "":
		return " (for " + r.DNSName + ")"
	case r.RequestedBy != "":
		return " (asked for by " + r.RequestedBy + ")"
	}
	return ""
}
