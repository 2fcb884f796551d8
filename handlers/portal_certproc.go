package handlers

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki"
	"github.com/scepgate/scepgate/views"
)

// NewCertificate handles "GET /procedures/certificate/new".
func (h *Procedures) NewCertificate(c echo.Context) error {
	f := views.CertProcForm{Format: string(model.FormatSCEP), KeyUsageMode: model.KeyUsageFromCSR,
		KeyUsages: []string{"digitalSignature", "keyEncipherment"}, ExtKeyUsages: []string{"clientAuth"}, ValidityDays: "365", MinRSABits: "2048",
		AllowedCurves: []string{"P-256", "P-384", "P-521"}}
	return h.renderCertificate(c, http.StatusOK, f, nil)
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
	return h.renderCertificate(c, http.StatusOK, certProcForm(cp), nil)
}

func certProcForm(cp *model.CertificateProcedure) views.CertProcForm {
	return views.CertProcForm{
		ID: cp.ID, Name: cp.Name, Format: string(cp.Format), KeyUsageMode: cp.KeyUsageMode,
		KeyUsages: splitList(cp.KeyUsages), ExtKeyUsages: splitList(cp.ExtKeyUsages),
		ValidityDays: strconv.Itoa(cp.ValidityDays), MinRSABits: strconv.Itoa(cp.MinRSABits),
		AllowedCurves: splitList(cp.AllowedCurves), SubjectTemplate: cp.SubjectTemplate, DNSNamePatterns: cp.DNSNamePatterns,
		OneKeyPerSubject: cp.OneKeyPerSubject,
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
	base := &model.CertificateProcedure{}
	if c.Param("id") != "" {
		var err error
		if id, err = pathID(c); err != nil {
			return err
		}
		// Fields this form does not show keep their values.
		if base, err = h.Store.FindCertificateProcedure(c.Request().Context(), id); err != nil {
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
	cp, errs := parseCertProc(f, *base)
	if len(errs) > 0 {
		return h.renderCertificate(c, http.StatusUnprocessableEntity, f, errs)
	}
	action := "certificate_procedure.create"
	if id != 0 {
		action = "certificate_procedure.update"
	}
	audit := &model.AuditEvent{Actor: actor(c), Action: action, ClientAddr: c.RealIP(),
		Detail: fmt.Sprintf("name %q, format %s, key usage %s (%s), extended key usage %s, %d days, RSA >= %d",
			cp.Name, cp.Format, cp.KeyUsageMode, cp.KeyUsages, cp.ExtKeyUsages, cp.ValidityDays, cp.MinRSABits)}
	if err := h.Store.SaveCertificateProcedure(c.Request().Context(), cp, audit); err != nil {
		if code := model.ErrorCode(err); code == model.ECONFLICT || code == model.EINVALID {
			return h.renderCertificate(c, http.StatusUnprocessableEntity, f, views.FieldErrors{"name": model.ErrorMessage(err)})
		}
		return err
	}
	h.changed()
	return done(c, "/procedures", "Certificate procedure "+cp.Name+" was saved.")
}

// parseCertProc checks a certificate procedure form, field by field, and
// returns base with the form's fields set.
func parseCertProc(f views.CertProcForm, base model.CertificateProcedure) (*model.CertificateProcedure, views.FieldErrors) {
	errs := views.FieldErrors{}
	cp := &base
	cp.ID, cp.Name, cp.Format, cp.KeyUsageMode = f.ID, f.Name, model.CertificateFormat(f.Format), f.KeyUsageMode
	cp.KeyUsages, cp.ExtKeyUsages = strings.Join(f.KeyUsages, ","), strings.Join(f.ExtKeyUsages, ",")
	cp.SubjectTemplate, cp.DNSNamePatterns, cp.OneKeyPerSubject = f.SubjectTemplate, f.DNSNamePatterns, f.OneKeyPerSubject
	cp.AllowedCurves = strings.Join(f.AllowedCurves, ",")
	for _, curve := range f.AllowedCurves {
		if curve != "P-256" && curve != "P-384" && curve != "P-521" {
			errs["allowed_curves"] = "Choose among P-256, P-384 and P-521."
		}
	}
	if f.SubjectTemplate != "" {
		if _, err := pki.ParseDN(strings.ReplaceAll(f.SubjectTemplate, "{cn}", "cn")); err != nil {
			errs["subject_template"] = "Enter a DN such as CN={cn},O=Company: " + model.ErrorMessage(err)
		}
	}
	switch {
	case f.Name == "":
		errs["name"] = "Enter a name."
	case len(f.Name) > 200:
		errs["name"] = "Use at most 200 characters."
	}
	if !cp.Format.Valid() {
		errs["format"] = "Choose scep or scepndesdynamicenroll."
	}
	if cp.KeyUsageMode != model.KeyUsageFromCSR && cp.KeyUsageMode != model.KeyUsageFixed {
		errs["key_usage_mode"] = "Choose how the key usage is set."
	}
	if _, err := pki.ParseKeyUsages(cp.KeyUsages); err != nil {
		errs["key_usages"] = model.ErrorMessage(err)
	} else if cp.KeyUsageMode == model.KeyUsageFixed && cp.KeyUsages == "" {
		errs["key_usages"] = "A fixed key usage needs at least one key usage."
	}
	if _, err := pki.ParseExtKeyUsages(cp.ExtKeyUsages); err != nil {
		errs["ext_key_usages"] = model.ErrorMessage(err)
	}
	var err error
	if cp.ValidityDays, err = strconv.Atoi(f.ValidityDays); err != nil || cp.ValidityDays < 1 || cp.ValidityDays > 3650 {
		errs["validity_days"] = "Enter a number of days from 1 to 3650."
	}
	if cp.MinRSABits, err = strconv.Atoi(f.MinRSABits); err != nil || cp.MinRSABits < 1024 || cp.MinRSABits > 16384 {
		errs["min_rsa_bits"] = "Enter a key size from 1024 to 16384 bits, such as 2048."
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return cp, nil
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
	audit := &model.AuditEvent{Actor: actor(c), Action: "certificate_procedure.delete", ClientAddr: c.RealIP(), Detail: fmt.Sprintf("name %q", cp.Name)}
	if err := h.Store.DeleteCertificateProcedure(ctx, id, audit); err != nil {
		if model.ErrorCode(err) == model.ECONFLICT {
			return h.renderCertificate(c, http.StatusConflict, certProcForm(cp), views.FieldErrors{"": model.ErrorMessage(err)})
		}
		return err
	}
	h.changed()
	return done(c, "/procedures", "Certificate procedure "+cp.Name+" was deleted.")
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
