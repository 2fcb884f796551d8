package handlers

import (
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
	"github.com/scepgate/scepgate/admin"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/views"
)

// NewCertificate handles "GET /procedures/certificate/new".
func (h *Procedures) NewCertificate(c echo.Context) error {
	return h.renderCertificate(c, http.StatusOK, certProcForm(0, admin.NewCertificateProcedureInput()), nil)
}

// EditCertificate handles "GET /procedures/certificate/:id".
func (h *Procedures) EditCertificate(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	cp, err := h.Store.FindCertificateProcedure(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return h.renderCertificate(c, http.StatusOK, certProcForm(id, admin.CertificateProcedureInputOf(cp)), nil)
}

func certProcForm(id int64, in admin.CertificateProcedureInput) views.CertProcForm {
	return views.CertProcForm{
		ID: id, Name: in.Name, Format: in.Format, KeyUsageMode: in.KeyUsageMode,
		KeyUsages: in.KeyUsages, ExtKeyUsages: in.ExtKeyUsages,
		ValidityDays: strconv.Itoa(in.ValidityDays), MinRSABits: strconv.Itoa(in.MinRSABits),
		AllowedCurves: in.AllowedCurves, SubjectTemplate: in.SubjectTemplate, DNSNamePatterns: in.DNSNamePatterns,
		OneKeyPerSubject: in.OneKeyPerSubject,
	}
}

func (h *Procedures) renderCertificate(c echo.Context, status int, f views.CertProcForm, errs views.FieldErrors) error {
	title := "New certificate procedure"
	if f.ID != 0 {
		title = "Certificate procedure " + f.Name
	}
	return Render(c, status, views.CertificateProcedure(views.CertProcProps{Page: PageFor(c, title, "procedures"), Form: f, Errors: errs}))
}

// SaveCertificate handles "POST /procedures/certificate" (create) and
// "POST /procedures/certificate/:id" (update).
func (h *Procedures) SaveCertificate(c echo.Context) error {
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
	form := c.Request().PostForm
	f := views.CertProcForm{
		ID: id, Name: formValue(c, "name"), Format: formValue(c, "format"), KeyUsageMode: formValue(c, "key_usage_mode"),
		KeyUsages: form["key_usages"], ExtKeyUsages: form["ext_key_usages"],
		ValidityDays: formValue(c, "validity_days"), MinRSABits: formValue(c, "min_rsa_bits"),
		AllowedCurves: form["allowed_curves"], SubjectTemplate: formValue(c, "subject_template"),
		DNSNamePatterns: formValue(c, "dns_name_patterns"), OneKeyPerSubject: c.FormValue("one_key_per_subject") == "on",
	}
	errs := views.FieldErrors{}
	in := admin.CertificateProcedureInput{Name: f.Name, Format: f.Format, KeyUsageMode: f.KeyUsageMode, KeyUsages: f.KeyUsages,
		ExtKeyUsages: f.ExtKeyUsages, ValidityDays: formInt(errs, "validity_days", f.ValidityDays), MinRSABits: formInt(errs, "min_rsa_bits", f.MinRSABits),
		AllowedCurves: f.AllowedCurves, SubjectTemplate: f.SubjectTemplate, DNSNamePatterns: f.DNSNamePatterns, OneKeyPerSubject: f.OneKeyPerSubject}
	if len(errs) > 0 {
		return h.renderCertificate(c, http.StatusUnprocessableEntity, f, errs)
	}
	cp, err := h.Admin.SaveCertificateProcedure(c.Request().Context(), adminActor(c), id, in)
	if fe, ok := formErrors(err); ok {
		return h.renderCertificate(c, http.StatusUnprocessableEntity, f, fe)
	} else if err != nil {
		return err
	}
	return done(c, "/procedures", "Certificate procedure "+cp.Name+" was saved.")
}

// DeleteCertificate handles "POST /procedures/certificate/:id/delete".
func (h *Procedures) DeleteCertificate(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	cp, err := h.Store.FindCertificateProcedure(ctx, id)
	if err != nil {
		return err
	}
	if ok, err := confirmed(c, views.Confirmation{Page: views.Page{Nav: "procedures"},
		Title:   "Delete certificate procedure " + cp.Name,
		Message: "Certificate procedure " + cp.Name + " will be deleted. Certificates it issued stay as they are. This cannot be undone.",
		Button:  "Delete the procedure", Cancel: "/procedures/certificate/" + strconv.FormatInt(id, 10)}); !ok {
		return err
	}
	if err := h.Admin.DeleteCertificateProcedure(ctx, adminActor(c), id); err != nil {
		if model.ErrorCode(err) == model.ECONFLICT {
			return h.renderCertificate(c, http.StatusConflict, certProcForm(id, admin.CertificateProcedureInputOf(cp)), views.FieldErrors{"": model.ErrorMessage(err)})
		}
		return err
	}
	return done(c, "/procedures", "Certificate procedure "+cp.Name+" was deleted.")
}
