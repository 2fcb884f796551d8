package handlers

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/views"
)

// NewToken handles "GET /procedures/token/new".
func (h *Procedures) NewToken(c echo.Context) error {
	f := views.TokenProcForm{StorageProfile: model.StorageProfilePKCS10, IssuerCertificates: model.IssuerCertsStoreAll,
		InputView: strconv.Itoa(model.InputViewSCEPRegistrations), RenewalWindowDays: "30", SupersedeOnRenewal: true}
	return h.renderToken(c, http.StatusOK, f, nil)
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
	return h.renderToken(c, http.StatusOK, tokenProcForm(tp), nil)
}

func tokenProcForm(tp *model.TokenProcedure) views.TokenProcForm {
	f := views.TokenProcForm{ID: tp.ID, Name: tp.Name, StorageProfile: tp.StorageProfile, IssuerCertificates: tp.IssuerCertificates,
		InputView: strconv.Itoa(tp.InputView), RequireApproval: tp.RequireApproval,
		RenewalWindowDays: strconv.Itoa(tp.RenewalWindowDays), SupersedeOnRenewal: tp.SupersedeOnRenewal}
	for _, id := range tp.CertificateProcedureIDs {
		f.CertificateProcedures = append(f.CertificateProcedures, strconv.FormatInt(id, 10))
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
	tp := &model.TokenProcedure{}
	if c.Param("id") != "" {
		var err error
		if id, err = pathID(c); err != nil {
			return err
		}
		// Fields this form does not show keep their values.
		if tp, err = h.Store.FindTokenProcedure(c.Request().Context(), id); err != nil {
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
	tp.ID, tp.Name, tp.StorageProfile, tp.IssuerCertificates, tp.RequireApproval = id, f.Name, f.StorageProfile, f.IssuerCertificates, f.RequireApproval
	tp.SupersedeOnRenewal, tp.CertificateProcedureIDs = f.SupersedeOnRenewal, nil
	if n, err := strconv.Atoi(f.RenewalWindowDays); err != nil || n < 0 || n > 3650 {
		errs["renewal_window_days"] = "Enter a number of days from 0 to 3650, such as 30."
	} else {
		tp.RenewalWindowDays = n
	}
	switch {
	case f.Name == "":
		errs["name"] = "Enter a name."
	case len(f.Name) > 200:
		errs["name"] = "Use at most 200 characters."
	}
	if f.StorageProfile != model.StorageProfilePKCS10 {
		errs["storage_profile"] = "Choose PKCS10: the device keeps its key and sends a CSR."
	}
	if f.IssuerCertificates != model.IssuerCertsStoreAll && f.IssuerCertificates != model.IssuerCertsNone {
		errs["issuer_certificates"] = "Choose Store all or None."
	}
	var err error
	if tp.InputView, err = strconv.Atoi(f.InputView); err != nil || tp.InputView < 0 {
		errs["input_view"] = "Enter the number of the input view, such as 16."
	}
	seen := map[int64]bool{}
	for _, s := range f.CertificateProcedures {
		cpID, err := strconv.ParseInt(s, 10, 64)
		if err != nil || seen[cpID] {
			continue
		}
		seen[cpID] = true
		tp.CertificateProcedureIDs = append(tp.CertificateProcedureIDs, cpID)
	}
	if len(tp.CertificateProcedureIDs) == 0 {
		errs["certificate_procedures"] = "Choose at least one certificate procedure."
	}
	if len(errs) > 0 {
		return h.renderToken(c, http.StatusUnprocessableEntity, f, errs)
	}
	action := "token_procedure.create"
	if id != 0 {
		action = "token_procedure.update"
	}
	audit := &model.AuditEvent{Actor: actor(c), Action: action, ClientAddr: c.RealIP(),
		Detail: fmt.Sprintf("name %q, storage %s, issuer certificates %s, certificate procedures %v, input view %d, approval %t",
			tp.Name, tp.StorageProfile, tp.IssuerCertificates, tp.CertificateProcedureIDs, tp.InputView, tp.RequireApproval)}
	if err := h.Store.SaveTokenProcedure(c.Request().Context(), tp, audit); err != nil {
		switch model.ErrorCode(err) {
		case model.ECONFLICT:
			return h.renderToken(c, http.StatusUnprocessableEntity, f, views.FieldErrors{"name": model.ErrorMessage(err)})
		case model.EINVALID:
			return h.renderToken(c, http.StatusUnprocessableEntity, f, views.FieldErrors{"certificate_procedures": model.ErrorMessage(err)})
		}
		return err
	}
	h.changed()
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
	audit := &model.AuditEvent{Actor: actor(c), Action: "token_procedure.delete", ClientAddr: c.RealIP(), Detail: fmt.Sprintf("name %q", tp.Name)}
	if err := h.Store.DeleteTokenProcedure(ctx, id, audit); err != nil {
		if model.ErrorCode(err) == model.ECONFLICT {
			return h.renderToken(c, http.StatusConflict, tokenProcForm(tp), views.FieldErrors{"": model.ErrorMessage(err)})
		}
		return err
	}
	h.changed()
	return done(c, "/procedures", "Token procedure "+tp.Name+" was deleted.")
}
