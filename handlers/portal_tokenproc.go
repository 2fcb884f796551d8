package handlers

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
	"github.com/scepgate/scepgate/admin"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/views"
)

// NewToken handles "GET /procedures/token/new".
func (h *Procedures) NewToken(c echo.Context) error {
	return h.renderToken(c, http.StatusOK, tokenProcForm(0, admin.NewTokenProcedureInput()), nil)
}

// EditToken handles "GET /procedures/token/:id".
func (h *Procedures) EditToken(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	tp, err := h.Store.FindTokenProcedure(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return h.renderToken(c, http.StatusOK, tokenProcForm(id, admin.TokenProcedureInputOf(tp)), nil)
}

func tokenProcForm(id int64, in admin.TokenProcedureInput) views.TokenProcForm {
	f := views.TokenProcForm{ID: id, Name: in.Name, StorageProfile: in.StorageProfile, IssuerCertificates: in.IssuerCertificates,
		InputView: strconv.Itoa(in.InputView), RequireApproval: in.RequireApproval,
		RenewalWindowDays: strconv.Itoa(in.RenewalWindowDays), SupersedeOnRenewal: in.SupersedeOnRenewal}
	for _, cpID := range in.CertificateProcedureIDs {
		f.CertificateProcedures = append(f.CertificateProcedures, strconv.FormatInt(cpID, 10))
	}
	return f
}

func (h *Procedures) renderToken(c echo.Context, status int, f views.TokenProcForm, errs views.FieldErrors) error {
	cps, err := h.Store.AllCertificateProcedures(c.Request().Context())
	if err != nil {
		return err
	}
	title := "New token procedure"
	if f.ID != 0 {
		title = "Token procedure " + f.Name
	}
	return Render(c, status, views.TokenProcedure(views.TokenProcProps{Page: PageFor(c, title, "procedures"), Form: f, Errors: errs, Choices: cps}))
}

// SaveToken handles "POST /procedures/token" (create) and
// "POST /procedures/token/:id" (update).
func (h *Procedures) SaveToken(c echo.Context) error {
	var id int64
	if c.Param("id") != "" {
		var err error
		if id, err = pathID(c); err != nil {
			return err
		}
	}
	if err := c.Request().ParseForm(); err != nil {
		return model.Errorf(model.EINVALID, "The form could not be read.")
	}
	f := views.TokenProcForm{
		ID: id, Name: formValue(c, "name"), StorageProfile: formValue(c, "storage_profile"), IssuerCertificates: formValue(c, "issuer_certificates"),
		InputView: formValue(c, "input_view"), RequireApproval: c.FormValue("require_approval") == "on",
		CertificateProcedures: c.Request().PostForm["certificate_procedures"],
		RenewalWindowDays:     formValue(c, "renewal_window_days"), SupersedeOnRenewal: c.FormValue("supersede_on_renewal") == "on",
	}
	errs := views.FieldErrors{}
	in := admin.TokenProcedureInput{Name: f.Name, StorageProfile: f.StorageProfile, IssuerCertificates: f.IssuerCertificates,
		InputView: formInt(errs, "input_view", f.InputView), RequireApproval: f.RequireApproval,
		RenewalWindowDays: formInt(errs, "renewal_window_days", f.RenewalWindowDays), SupersedeOnRenewal: f.SupersedeOnRenewal}
	for _, s := range f.CertificateProcedures {
		if cpID := formInt64(s); cpID > 0 {
			in.CertificateProcedureIDs = append(in.CertificateProcedureIDs, cpID)
		}
	}
	if len(errs) > 0 {
		return h.renderToken(c, http.StatusUnprocessableEntity, f, errs)
	}
	tp, err := h.Admin.SaveTokenProcedure(c.Request().Context(), adminActor(c), id, in)
	if fe, ok := formErrors(err); ok {
		return h.renderToken(c, http.StatusUnprocessableEntity, f, fe)
	} else if err != nil {
		return err
	}
	return done(c, "/procedures", "Token procedure "+tp.Name+" was saved.")
}

// DeleteToken handles "POST /procedures/token/:id/delete".
func (h *Procedures) DeleteToken(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	tp, err := h.Store.FindTokenProcedure(ctx, id)
	if err != nil {
		return err
	}
	if ok, err := confirmed(c, views.Confirmation{Page: views.Page{Nav: "procedures"},
		Title:   "Delete token procedure " + tp.Name,
		Message: "Token procedure " + tp.Name + " will be deleted. Certificates enrolled under it stay as they are. This cannot be undone.",
		Button:  "Delete the procedure", Cancel: "/procedures/token/" + strconv.FormatInt(id, 10)}); !ok {
		return err
	}
	if err := h.Admin.DeleteTokenProcedure(ctx, adminActor(c), id); err != nil {
		if model.ErrorCode(err) == model.ECONFLICT {
			return h.renderToken(c, http.StatusConflict, tokenProcForm(id, admin.TokenProcedureInputOf(tp)), views.FieldErrors{"": model.ErrorMessage(err)})
		}
		return err
	}
	return done(c, "/procedures", "Token procedure "+tp.Name+" was deleted.")
}
