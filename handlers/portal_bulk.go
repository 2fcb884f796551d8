package handlers

import (
	"net/url"
	"strconv"

	"github.com/labstack/echo/v4"
	"github.com/scepgate/scepgate/admin"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/views"
)

// bulkPage is how many rows a bulk selection reads at a time.
const bulkPage = 500

// confirmListed is how many items a bulk confirmation page names.
const confirmListed = 50

// filterQuery returns the fields of a list's search, from the query
// string or a form, encoded for a URL.
func filterQuery(c echo.Context, fields ...string) string {
	v := url.Values{}
	for _, f := range fields {
		if s := formValue(c, f); s != "" {
			v.Set(f, s)
		}
	}
	return v.Encode()
}

// selectedIDs reads the rows ticked in a bulk form (its "id" fields).
func selectedIDs(c echo.Context) []int64 {
	form, _ := c.FormParams()
	var ids []int64
	seen := map[int64]bool{}
	for _, s := range form["id"] {
		if id, err := strconv.ParseInt(s, 10, 64); err == nil && id > 0 && !seen[id] {
			seen[id] = true
			ids = append(ids, id)
		}
	}
	return ids
}

// bulkFields are the hidden fields of a bulk confirmation page: the ids
// it acts on, one by one (so what was confirmed is what is done), and the
// search to return to.
func bulkFields(c echo.Context, ids []int64, keep ...string) []views.HiddenField {
	var fs []views.HiddenField
	for _, id := range ids {
		fs = append(fs, views.HiddenField{Name: "id", Value: strconv.FormatInt(id, 10)})
	}
	for _, k := range keep {
		if v := formValue(c, k); v != "" {
			fs = append(fs, views.HiddenField{Name: k, Value: v})
		}
	}
	return fs
}

func bulkMessage(res admin.BulkResult, did string) string {
	msg := strconv.Itoa(res.Done) + " " + did + "."
	if n := len(res.Skipped); n > 0 {
		msg += " " + strconv.Itoa(n) + " skipped: they had changed in the meantime."
	}
	return msg
}

// BulkRevoke handles "POST /certificates/revoke": it revokes the ticked
// certificates, or all active ones the search matches, after a
// confirmation page that says how many and which.
func (h *Certificates) BulkRevoke(c echo.Context) error {
	ctx := c.Request().Context()
	back := "/certificates?" + filterQuery(c, "q", "state")
	reason, err := strconv.Atoi(c.FormValue("reason"))
	if err != nil || views.RevocationReason(reason) == "" {
		return model.Errorf(model.EINVALID, "Choose a revocation reason, then revoke again.")
	}
	ids := selectedIDs(c)
	var certs []model.Certificate
	if c.FormValue("all") == "yes" && c.FormValue("confirm") != "yes" {
		f, _, _ := certificateFilter(c, h.Now())
		ids = nil
		for page := 1; len(ids) <= admin.MaxBulk; page++ {
			cs, _, err := h.Store.SearchCertificates(ctx, f, page, bulkPage)
			if err != nil {
				return err
			}
			for _, cert := range cs {
				if cert.State == model.CertActive {
					ids = append(ids, cert.ID)
					certs = append(certs, cert)
				}
			}
			if len(cs) < bulkPage {
				break
			}
		}
	}
	if len(ids) == 0 {
		return model.Errorf(model.EINVALID, "No active certificate is selected. Tick the certificates to revoke, or “all matching the filter”.")
	}
	if len(ids) > admin.MaxBulk {
		return model.Errorf(model.EINVALID, "That is more than %d certificates; one action revokes at most %d. Narrow the filter.", admin.MaxBulk, admin.MaxBulk)
	}
	if c.FormValue("confirm") != "yes" {
		if certs == nil {
			for _, id := range ids[:min(len(ids), confirmListed)] {
				if cert, err := h.Store.FindCertificate(ctx, id); err == nil {
					certs = append(certs, *cert)
				}
			}
		}
		q := views.Confirmation{Page: views.Page{Nav: "certificates"}, Title: "Revoke " + plural(len(ids), "certificate"),
			Message: plural(len(ids), "certificate") + " will be revoked for the reason “" + views.RevocationReason(reason) + "”. The CRL lists them from now on and relying parties stop trusting them. This cannot be undone.",
			Button:  "Revoke " + plural(len(ids), "certificate"), Cancel: back, Total: len(ids),
			Fields: bulkFields(c, ids, "reason", "q", "state")}
		for _, cert := range certs[:min(len(certs), confirmListed)] {
			q.Items = append(q.Items, views.ConfirmItem{Label: views.Serial(cert.Serial) + " " + cert.Subject, URL: "/certificates/" + strconv.FormatInt(cert.ID, 10)})
		}
		_, err := confirmed(c, q)
		return err
	}
	res, err := h.Bulk.RevokeCertificates(ctx, adminActor(c), ids, reason)
	if err != nil {
		return err
	}
	return done(c, back, bulkMessage(res, plural(res.Done, "certificate")+" revoked"))
}

// BulkCancel handles "POST /registrations/cancel": it cancels the ticked
// registrations, or all open ones the search matches, after a
// confirmation page that says how many and which.
func (h *Registrations) BulkCancel(c echo.Context) error {
	ctx := c.Request().Context()
	back := "/registrations?" + filterQuery(c, registrationFilterFields...)
	ids := selectedIDs(c)
	var regs []model.Registration
	if c.FormValue("all") == "yes" && c.FormValue("confirm") != "yes" {
		f, _ := registrationFilter(c)
		ids = nil
		for page := 1; len(ids) <= admin.MaxBulk; page++ {
			rs, _, err := h.Store.ListRegistrations(ctx, f, page, bulkPage)
			if err != nil {
				return err
			}
			for _, r := range rs {
				if r.State == model.StateOpen {
					ids = append(ids, r.ID)
					regs = append(regs, r)
				}
			}
			if len(rs) < bulkPage {
				break
			}
		}
	}
	if len(ids) == 0 {
		return model.Errorf(model.EINVALID, "No open registration is selected. Tick the registrations to cancel, or “all matching the filter”.")
	}
	if len(ids) > admin.MaxBulk {
		return model.Errorf(model.EINVALID, "That is more than %d registrations; one action cancels at most %d. Narrow the filter.", admin.MaxBulk, admin.MaxBulk)
	}
	if c.FormValue("confirm") != "yes" {
		if regs == nil {
			for _, id := range ids[:min(len(ids), confirmListed)] {
				if r, err := h.Store.FindRegistration(ctx, id); err == nil {
					regs = append(regs, *r)
				}
			}
		}
		q := views.Confirmation{Page: views.Page{Nav: "registrations"}, Title: "Cancel " + plural(len(ids), "registration"),
			Message: plural(len(ids), "registration") + " will be cancelled: their challenge passwords no longer enroll a device. This cannot be undone.",
			Button:  "Cancel " + plural(len(ids), "registration"), Cancel: back, Total: len(ids),
			Fields: bulkFields(c, ids, registrationFilterFields...)}
		for _, r := range regs[:min(len(regs), confirmListed)] {
			q.Items = append(q.Items, views.ConfirmItem{Label: "Registration " + strconv.FormatInt(r.ID, 10) + registrationLabel(&r) + ", " + r.State,
				URL: "/registrations/" + strconv.FormatInt(r.ID, 10)})
		}
		_, err := confirmed(c, q)
		return err
	}
	res, err := h.Bulk.CancelRegistrations(ctx, adminActor(c), ids)
	if err != nil {
		return err
	}
	return done(c, back, bulkMessage(res, plural(res.Done, "registration")+" cancelled"))
}

// plural says "1 certificate" or "3 certificates".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
