package handlers

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/scepgate/scepgate/admin"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/views"
)

// HandlerStore is what the handler pages read from storage.
type HandlerStore interface {
	ListHandlers(ctx context.Context, q string, page, perPage int) ([]model.Handler, int64, error)
	FindHandler(ctx context.Context, id int64) (*model.Handler, error)
	LoadConfig(ctx context.Context) (*model.Config, error)
}

// HandlerAdmin changes handlers.
type HandlerAdmin interface {
	SaveHandler(ctx context.Context, actor admin.Actor, id int64, in admin.HandlerInput) (*model.Handler, error)
	SetHandlerEnabled(ctx context.Context, actor admin.Actor, id int64, enabled bool) (*model.Handler, error)
	SetAliases(ctx context.Context, actor admin.Actor, a model.Aliases) error
}

// Handlers serves the SCEP handler pages.
type Handlers struct {
	Store HandlerStore
	Admin HandlerAdmin
}

const handlersPerPage = 50

// shortValidity is the NDES password validity below which the portal
// warns: MDMs commonly expect passwords to last 60 minutes.
const shortValidity = 60 * time.Minute

// List handles "GET /handlers".
func (h *Handlers) List(c echo.Context) error {
	return h.list(c, http.StatusOK, nil, nil)
}

func (h *Handlers) list(c echo.Context, status int, aliases *model.Aliases, errs views.FieldErrors) error {
	ctx := c.Request().Context()
	q, page := formValue(c, "q"), pageNumber(c)
	hs, n, err := h.Store.ListHandlers(ctx, q, page, handlersPerPage)
	if err != nil {
		return err
	}
	cfg, err := h.Store.LoadConfig(ctx)
	if err != nil {
		return err
	}
	p := views.HandlersProps{Page: PageFor(c, "Handlers", "handlers"), Query: q, Pager: pager(c, page, handlersPerPage, n),
		Aliases: cfg.Aliases, AliasErrors: errs}
	if aliases != nil {
		p.Aliases = *aliases
	}
	for _, hd := range cfg.Handlers {
		o := views.Option{Value: hd.Name, Label: hd.Name + " (" + hd.Path() + ")"}
		if hd.Format == model.HandlerNDES {
			p.NDESChoices = append(p.NDESChoices, o)
		} else {
			p.SCEPChoices = append(p.SCEPChoices, o)
		}
	}
	base := c.Scheme() + "://" + c.Request().Host
	for _, hd := range hs {
		row := views.HandlerRow{Handler: hd, URL: base + hd.Path(), Warning: validityWarning(&hd),
			Accepts: admin.HandlerAccepts(cfg, &hd).Describe()}
		if tp := tokenProcedureOf(cfg, &hd); tp != nil {
			row.TokenProcedure = tp.Name
		}
		p.Rows = append(p.Rows, row)
	}
	return Render(c, status, views.Handlers(p))
}

// Aliases handles "POST /handlers/aliases": it maps Microsoft's NDES paths
// to the handlers chosen.
func (h *Handlers) Aliases(c echo.Context) error {
	a := model.Aliases{MSCEPAdmin: formValue(c, "mscep_admin"), MSCEP: formValue(c, "mscep")}
	err := h.Admin.SetAliases(c.Request().Context(), adminActor(c), a)
	if fe, ok := formErrors(err); ok {
		return h.list(c, http.StatusUnprocessableEntity, &a, fe)
	} else if err != nil {
		return err
	}
	return done(c, "/handlers", "Microsoft's NDES paths are mapped: /certsrv/mscep_admin/ to "+a.MSCEPAdmin+", /certsrv/mscep/mscep.dll to "+a.MSCEP+".")
}

func tokenProcedureOf(cfg *model.Config, h *model.Handler) *model.TokenProcedure {
	if h.TokenProcedureID == nil {
		return nil
	}
	for i := range cfg.TokenProcedures {
		if cfg.TokenProcedures[i].ID == *h.TokenProcedureID {
			return &cfg.TokenProcedures[i]
		}
	}
	return nil
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
	return h.render(c, http.StatusOK, 0, handlerForm(admin.NewHandlerInput()), nil)
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
	f := handlerForm(admin.HandlerInputOf(hd))
	f.ID, f.HasPassword = hd.ID, hd.NDESPasswordHash != ""
	return h.render(c, http.StatusOK, id, f, nil)
}

// handlerForm shows in as the form's fields.
func handlerForm(in admin.HandlerInput) views.HandlerForm {
	f := views.HandlerForm{Name: in.Name, Filter: in.Filter, Format: in.Format, Enabled: in.Enabled, AllowLegacyCiphers: in.AllowLegacyCiphers,
		NDESUsername: in.NDESUsername, NDESChallengeValidity: in.NDESChallengeValidity, NDESByteOrderMark: in.NDESByteOrderMark,
		NDESPasswordLength: strconv.Itoa(in.NDESPasswordLength), NDESPasswordCap: strconv.Itoa(in.NDESPasswordCap)}
	if in.TokenProcedureID != 0 {
		f.TokenProcedure = strconv.FormatInt(in.TokenProcedureID, 10)
	}
	return f
}

func (h *Handlers) render(c echo.Context, status int, id int64, f views.HandlerForm, errs views.FieldErrors) error {
	cfg, err := h.Store.LoadConfig(c.Request().Context())
	if err != nil {
		return err
	}
	title := "New handler"
	if f.ID != 0 {
		title = "Handler " + f.Name
	}
	p := views.HandlerProps{Page: PageFor(c, title, "handlers"), Form: f, Errors: errs, TokenProcedures: cfg.TokenProcedures}
	p.URL = c.Scheme() + "://" + c.Request().Host + (&model.Handler{Filter: model.NormalizeFilter(f.Filter)}).Path()
	p.Warning = validityWarning(&model.Handler{Name: f.Name, Format: f.Format, NDESChallengeValidity: f.NDESChallengeValidity})
	for i := range cfg.Handlers {
		if hd := &cfg.Handlers[i]; hd.ID == id && id != 0 {
			p.Accepts = admin.HandlerAccepts(cfg, hd).Describe()
		}
	}
	return Render(c, status, views.HandlerPage(p))
}

// Save handles "POST /handlers" (create) and "POST /handlers/:id" (update).
func (h *Handlers) Save(c echo.Context) error {
	var id int64
	if c.Param("id") != "" {
		var err error
		if id, err = pathID(c); err != nil {
			return err
		}
	}
	f := views.HandlerForm{
		ID: id, Name: formValue(c, "name"), Filter: formValue(c, "filter"), Format: formValue(c, "format"), TokenProcedure: formValue(c, "token_procedure"),
		Enabled: c.FormValue("enabled") == "on", AllowLegacyCiphers: c.FormValue("allow_legacy_ciphers") == "on",
		NDESUsername: formValue(c, "ndes_username"), NDESChallengeValidity: formValue(c, "ndes_challenge_validity"),
		NDESPasswordLength: formValue(c, "ndes_password_length"), NDESPasswordCap: formValue(c, "ndes_password_cap"),
		NDESByteOrderMark: c.FormValue("ndes_byte_order_mark") == "on",
	}
	in := admin.HandlerInput{Name: f.Name, Filter: f.Filter, Format: f.Format, Enabled: f.Enabled, AllowLegacyCiphers: f.AllowLegacyCiphers,
		NDESUsername: f.NDESUsername, NDESPassword: c.FormValue("ndes_password"), NDESChallengeValidity: f.NDESChallengeValidity,
		NDESByteOrderMark: f.NDESByteOrderMark}
	errs := views.FieldErrors{}
	in.TokenProcedureID = formInt64(f.TokenProcedure)
	if f.Format == model.HandlerNDES {
		in.NDESPasswordLength = formInt(errs, "ndes_password_length", f.NDESPasswordLength)
		in.NDESPasswordCap = formInt(errs, "ndes_password_cap", f.NDESPasswordCap)
	}
	if id != 0 {
		if old, err := h.Store.FindHandler(c.Request().Context(), id); err == nil {
			f.HasPassword = old.NDESPasswordHash != ""
		}
	}
	if len(errs) > 0 {
		return h.render(c, http.StatusUnprocessableEntity, id, f, errs)
	}
	hd, err := h.Admin.SaveHandler(c.Request().Context(), adminActor(c), id, in)
	if fe, ok := formErrors(err); ok {
		return h.render(c, http.StatusUnprocessableEntity, id, f, fe)
	} else if err != nil {
		return err
	}
	return done(c, "/handlers", "Handler "+hd.Name+" was saved. Devices and MDMs use it within a second.")
}

// Toggle handles "POST /handlers/:id/toggle": it enables a disabled
// handler and disables an enabled one.
func (h *Handlers) Toggle(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	hd, err := h.Store.FindHandler(c.Request().Context(), id)
	if err != nil {
		return err
	}
	if hd.Enabled {
		if ok, err := confirmed(c, views.Confirmation{Page: views.Page{Nav: "handlers"},
			Title:   "Disable handler " + hd.Name,
			Message: "Handler " + hd.Name + " (/pgwy/scep/" + hd.Filter + ") will be disabled: its URL answers 404 and devices that use it can no longer enroll or renew until it is enabled again.",
			Button:  "Disable the handler", Cancel: "/handlers/" + strconv.FormatInt(id, 10)}); !ok {
			return err
		}
	}
	if hd, err = h.Admin.SetHandlerEnabled(c.Request().Context(), adminActor(c), id, !hd.Enabled); err != nil {
		return err
	}
	if hd.Enabled {
		return done(c, "/handlers", "Handler "+hd.Name+" is enabled.")
	}
	return done(c, "/handlers", "Handler "+hd.Name+" is disabled: its URL answers 404 now.")
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
