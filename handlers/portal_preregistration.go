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

// PreRegistrar creates pre-registrations.
type PreRegistrar interface {
	AddPreRegistration(ctx context.Context, actor admin.Actor, in admin.PreRegistrationInput) (*model.Registration, error)
}

// TokenProcedureLister lists token procedures.
type TokenProcedureLister interface {
	AllTokenProcedures(ctx context.Context) ([]model.TokenProcedure, error)
}

// PreRegistrations serves the form that pre-registers a device.
type PreRegistrations struct {
	Admin PreRegistrar
	Store TokenProcedureLister
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
	// A duration that does not parse is no duration: the operation says so
	// beside the other fields' messages.
	validFor, _ := time.ParseDuration(f.ValidFor)
	r, err := h.Admin.AddPreRegistration(c.Request().Context(), adminActor(c), admin.PreRegistrationInput{
		TokenProcedure: f.TokenProcedure, Password: c.FormValue("password"), SubjectCN: f.SubjectCN, DNSName: f.DNSName, ValidFor: validFor})
	if fe, ok := formErrors(err); ok {
		return h.render(c, http.StatusUnprocessableEntity, f, fe)
	} else if err != nil {
		return err
	}
	return done(c, "/registrations/"+strconv.FormatInt(r.ID, 10), "The pre-registration was created. Give the device its password.")
}
