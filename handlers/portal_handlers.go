package handlers

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/views"
	"golang.org/x/crypto/bcrypt"
)

// HandlerStore is what the handler pages need from storage.
type HandlerStore interface {
	ListHandlers(ctx context.Context, q string, page, perPage int) ([]model.Handler, int64, error)
	FindHandler(ctx context.Context, id int64) (*model.Handler, error)
	SaveHandlers(ctx context.Context, hs []model.Handler, audit *model.AuditEvent) error
	AllTokenProcedures(ctx context.Context) ([]model.TokenProcedure, error)
}

// Handlers serves the SCEP handler pages.
type Handlers struct {
	Store      HandlerStore
	Config     ConfigNotifier
	BcryptCost int
}

const handlersPerPage = 50

// shortValidity is the NDES password validity below which the portal
// warns: MDMs commonly expect passwords to last 60 minutes.
const shortValidity = 60 * time.Minute

// List handles "GET /handlers".
func (h *Handlers) List(c echo.Context) error {
	ctx := c.Request().Context()
	q, page := formValue(c, "q"), pageNumber(c)
	hs, n, err := h.Store.ListHandlers(ctx, q, page, handlersPerPage)
	if err != nil {
		return err
	}
	tps, err := h.Store.AllTokenProcedures(ctx)
	if err != nil {
		return err
	}
	names := map[int64]string{}
	for _, tp := range tps {
		names[tp.ID] = tp.Name
	}
	p := views.HandlersProps{Page: PageFor(c, "Handlers", "handlers"), Query: q, Pager: pager(c, page, handlersPerPage, n)}
	base := c.Scheme() + "://" + c.Request().Host
	for _, hd := range hs {
		row := views.HandlerRow{Handler: hd, URL: base + hd.Path(), Warning: validityWarning(&hd)}
		if hd.TokenProcedureID != nil {
			row.TokenProcedure = names[*hd.TokenProcedureID]
		}
		p.Rows = append(p.Rows, row)
	}
	return Render(c, http.StatusOK, views.Handlers(p))
}

// validityWarning says when an NDES handler's passwords expire sooner than
// MDMs expect.
func validityWarning(h *model.Handler) string {
	if h.Format != model.HandlerNDES {
		return ""
	}
	d, err := h.NDESValidity()
	if err != nil {
		return model.ErrorMessage(err)
	}
	if d < shortValidity {
		return fmt.Sprintf("Passwords expire after %s. Many MDMs assume 60 minutes and may hand devices passwords that have already expired.", humanDuration(d))
	}
	return ""
}

// New handles "GET /handlers/new".
func (h *Handlers) New(c echo.Context) error {
	f := views.HandlerForm{Format: model.HandlerSCEP, Enabled: true, NDESChallengeValidity: model.DefaultNDESValidity,
		NDESPasswordLength: strconv.Itoa(model.DefaultNDESPasswordLength), NDESPasswordCap: strconv.Itoa(model.DefaultNDESPasswordCap)}
	return h.render(c, http.StatusOK, f, nil)
}

// Edit handles "GET /handlers/:id".
func (h *Handlers) Edit(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	hd, err := h.Store.FindHandler(c.Request().Context(), id)
	if err != nil {
		return err
	}
	f := views.HandlerForm{
		ID: hd.ID, Name: hd.Name, Filter: hd.Filter, Format: hd.Format, Enabled: hd.Enabled, AllowLegacyCiphers: hd.AllowLegacyCiphers,
		NDESUsername: hd.NDESUsername, NDESChallengeValidity: hd.NDESChallengeValidity, NDESByteOrderMark: hd.NDESByteOrderMark,
		NDESPasswordLength: strconv.Itoa(hd.NDESLength()), NDESPasswordCap: strconv.Itoa(hd.NDESCap()), HasPassword: hd.NDESPasswordHash != "",
	}
	if hd.TokenProcedureID != nil {
		f.TokenProcedure = strconv.FormatInt(*hd.TokenProcedureID, 10)
	}
	return h.render(c, http.StatusOK, f, nil)
}

func (h *Handlers) render(c echo.Context, status int, f views.HandlerForm, errs views.FieldErrors) error {
	tps, err := h.Store.AllTokenProcedures(c.Request().Context())
	if err != nil {
		return err
	}
	title := "New handler"
	if f.ID != 0 {
		title = "Handler " + f.Name
	}
	p := views.HandlerProps{Page: PageFor(c, title, "handlers"), Form: f, Errors: errs, TokenProcedures: tps}
	p.URL = c.Scheme() + "://" + c.Request().Host + (&model.Handler{Filter: model.NormalizeFilter(f.Filter)}).Path()
	p.Warning = validityWarning(&model.Handler{Name: f.Name, Format: f.Format, NDESChallengeValidity: f.NDESChallengeValidity})
	return Render(c, status, views.HandlerPage(p))
}

// Save handles "POST /handlers" (create) and "POST /handlers/:id" (update).
func (h *Handlers) Save(c echo.Context) error {
	ctx := c.Request().Context()
	var existing *model.Handler
	if c.Param("id") != "" {
		id, err := pathID(c)
		if err != nil {
			return err
		}
		if existing, err = h.Store.FindHandler(ctx, id); err != nil {
			return err
		}
	}
	f := views.HandlerForm{
		Name: formValue(c, "name"), Filter: formValue(c, "filter"), Format: formValue(c, "format"), TokenProcedure: formValue(c, "token_procedure"),
		Enabled: c.FormValue("enabled") == "on", AllowLegacyCiphers: c.FormValue("allow_legacy_ciphers") == "on",
		NDESUsername: formValue(c, "ndes_username"), NDESChallengeValidity: formValue(c, "ndes_challenge_validity"),
		NDESPasswordLength: formValue(c, "ndes_password_length"), NDESPasswordCap: formValue(c, "ndes_password_cap"),
		NDESByteOrderMark: c.FormValue("ndes_byte_order_mark") == "on",
	}
	password := c.FormValue("ndes_password")
	hd := &model.Handler{}
	if existing != nil {
		*hd = *existing
		f.ID, f.HasPassword = existing.ID, existing.NDESPasswordHash != ""
	}
	errs := views.FieldErrors{}
	hd.Name, hd.Filter, hd.Format = f.Name, model.NormalizeFilter(f.Filter), f.Format
	hd.Enabled, hd.AllowLegacyCiphers = f.Enabled, f.AllowLegacyCiphers
	if f.Name == "" {
		errs["name"] = "Enter a name."
	}
	hd.TokenProcedureID = nil
	switch f.Format {
	case model.HandlerSCEP:
		id, err := strconv.ParseInt(f.TokenProcedure, 10, 64)
		if err != nil {
			errs["token_procedure"] = "Choose the token procedure this handler runs."
		} else {
			hd.TokenProcedureID = &id
		}
	case model.HandlerNDES:
		hd.NDESUsername, hd.NDESChallengeValidity, hd.NDESByteOrderMark = f.NDESUsername, f.NDESChallengeValidity, f.NDESByteOrderMark
		if f.NDESUsername == "" {
			errs["ndes_username"] = "Enter the user name MDMs send."
		}
		switch {
		case password != "" && len(password) < 8:
			errs["ndes_password"] = "Use at least 8 characters."
		case password == "" && !f.HasPassword:
			errs["ndes_password"] = "Enter the password MDMs send."
		}
		if _, err := model.ParseISODuration(f.NDESChallengeValidity); err != nil {
			errs["ndes_challenge_validity"] = "Enter an ISO-8601 duration such as PT15M, PT60M or P1D."
		}
		n, err := strconv.Atoi(f.NDESPasswordLength)
		if err != nil || n < model.MinNDESPasswordLength || n > model.MaxNDESPasswordLength {
			errs["ndes_password_length"] = fmt.Sprintf("Enter a length from %d to %d.", model.MinNDESPasswordLength, model.MaxNDESPasswordLength)
		}
		hd.NDESPasswordLength = n
		if hd.NDESPasswordCap, err = strconv.Atoi(f.NDESPasswordCap); err != nil || hd.NDESPasswordCap < 1 || hd.NDESPasswordCap > 100000 {
			errs["ndes_password_cap"] = "Enter how many unused passwords may be out at once, from 1 to 100000."
		}
	default:
		errs["format"] = "Choose scep or scep-ndes."
	}
	if len(errs) > 0 {
		return h.render(c, http.StatusUnprocessableEntity, f, errs)
	}
	if hd.Format == model.HandlerNDES && password != "" {
		hash, err := bcrypt.GenerateFromPassword([]byte(password), h.BcryptCost)
		if err != nil {
			return err
		}
		hd.NDESPasswordHash = string(hash)
	}
	action, detail := "handler.create", fmt.Sprintf("name %q, filter %q, format %s, enabled %t", hd.Name, hd.Filter, hd.Format, hd.Enabled)
	if existing != nil {
		action = "handler.update"
	}
	if password != "" {
		detail += ", NDES password set"
	}
	audit := &model.AuditEvent{Actor: actor(c), Action: action, ClientAddr: c.RealIP(), Target: "handler " + hd.Name, Detail: detail}
	if err := h.Store.SaveHandlers(ctx, []model.Handler{*hd}, audit); err != nil {
		if code := model.ErrorCode(err); code == model.ECONFLICT || code == model.EINVALID {
			return h.render(c, http.StatusUnprocessableEntity, f, views.FieldErrors{"": model.ErrorMessage(err) + " Names and filters must be unique."})
		}
		return err
	}
	h.changed()
	return done(c, "/handlers", "Handler "+hd.Name+" was saved. Devices and MDMs use it within a second.")
}

// Toggle handles "POST /handlers/:id/toggle": it enables a disabled
// handler and disables an enabled one.
func (h *Handlers) Toggle(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	hd, err := h.Store.FindHandler(ctx, id)
	if err != nil {
		return err
	}
	hd.Enabled = !hd.Enabled
	action := "handler.disable"
	if hd.Enabled {
		action = "handler.enable"
	}
	if err := h.Store.SaveHandlers(ctx, []model.Handler{*hd}, &model.AuditEvent{Actor: actor(c), Action: action, ClientAddr: c.RealIP(), Target: "handler " + hd.Name}); err != nil {
		return err
	}
	h.changed()
	if hd.Enabled {
		return done(c, "/handlers", "Handler "+hd.Name+" is enabled.")
	}
	return done(c, "/handlers", "Handler "+hd.Name+" is disabled: its URL answers 404 now.")
}

func (h *Handlers) changed() {
	if h.Config != nil {
		h.Config.ConfigChanged()
	}
}

// humanDuration spells d in whole hours or minutes when it can.
func humanDuration(d time.Duration) string {
	plural := func(n int64, unit string) string {
		if n == 1 {
			return "1 " + unit
		}
		return strconv.FormatInt(n, 10) + " " + unit + "s"
	}
	switch {
	case d > 0 && d%time.Hour == 0:
		return plural(int64(d/time.Hour), "hour")
	case d > 0 && d%time.Minute == 0:
		return plural(int64(d/time.Minute), "minute")
	}
	return d.String()
}
