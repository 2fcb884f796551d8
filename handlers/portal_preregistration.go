package handlers

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/scepgate/scepgate/enroll"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/views"
)

// PreRegistrar creates pre-registrations.
type PreRegistrar interface {
	AddPreRegistration(ctx context.Context, p enroll.PreRegistration) (*model.Registration, error)
}

// TokenProcedureLister lists token procedures.
type TokenProcedureLister interface {
	AllTokenProcedures(ctx context.Context) ([]model.TokenProcedure, error)
}

// PreRegistrations serves the form that pre-registers a device.
type PreRegistrations struct {
	Service PreRegistrar
	Store   TokenProcedureLister
}

// New handles "GET /registrations/new".
func (h *PreRegistrations) New(c echo.Context) error {
	return h.render(c, http.StatusOK, views.PreRegForm{ValidFor: "168h"}, nil)
}

func (h *PreRegistrations) render(c echo.Context, status int, f views.PreRegForm, errs views.FieldErrors) error {
	tps, err := h.Store.AllTokenProcedures(c.Request().Context())
	if err != nil {
		return err
	}
	p := views.PreRegProps{Page: PageFor(c, "New pre-registration", "registrations"), Form: f, Errors: errs}
	for _, tp := range tps {
		p.TokenProcedures = append(p.TokenProcedures, views.Option{Value: tp.Name, Label: tp.Name})
	}
	return Render(c, status, views.PreRegistration(p))
}

// Create handles "POST /registrations".
func (h *PreRegistrations) Create(c echo.Context) error {
	f := views.PreRegForm{TokenProcedure: c.FormValue("token_procedure"), SubjectCN: formValue(c, "subject_cn"),
		DNSName: formValue(c, "dns_name"), ValidFor: formValue(c, "valid_for")}
	password := c.FormValue("password")
	errs := views.FieldErrors{}
	if f.TokenProcedure == "" {
		errs["token_procedure"] = "Choose the token procedure the device enrolls under."
	}
	if len(password) < 8 {
		errs["password"] = "Use at least 8 characters."
	}
	validFor, err := time.ParseDuration(f.ValidFor)
	if err != nil || validFor <= 0 || validFor > 366*24*time.Hour {
		errs["valid_for"] = "Enter a duration such as 24h or 168h (at most a year)."
	}
	if len(errs) > 0 {
		return h.render(c, http.StatusUnprocessableEntity, f, errs)
	}
	r, err := h.Service.AddPreRegistration(c.Request().Context(), enroll.PreRegistration{
		TokenProcedure: f.TokenProcedure, Password: password, SubjectCN: f.SubjectCN, DNSName: f.DNSName,
		ValidFor: validFor, RequestedBy: actor(c), ClientAddr: c.RealIP()})
	if err != nil {
		switch model.ErrorCode(err) {
		case model.ECONFLICT, model.EINVALID:
			return h.render(c, http.StatusUnprocessableEntity, f, views.FieldErrors{"password": model.ErrorMessage(err)})
		case model.ENOTFOUND:
			return h.render(c, http.StatusUnprocessableEntity, f, views.FieldErrors{"token_procedure": model.ErrorMessage(err)})
		}
		return err
	}
	return done(c, "/registrations/"+strconv.FormatInt(r.ID, 10), "The pre-registration was created. Give the device its password.")
}
