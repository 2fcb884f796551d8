package handlers

import (
	"context"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
	"github.com/scepgate/scepgate/admin"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/views"
)

// ProcedureStore is what the procedure pages need from storage.
type ProcedureStore interface {
	ListCertificateProcedures(ctx context.Context, q string, page, perPage int) ([]model.CertificateProcedure, int64, error)
	AllCertificateProcedures(ctx context.Context) ([]model.CertificateProcedure, error)
	FindCertificateProcedure(ctx context.Context, id int64) (*model.CertificateProcedure, error)
	ListTokenProcedures(ctx context.Context, q string, page, perPage int) ([]model.TokenProcedure, int64, error)
	FindTokenProcedure(ctx context.Context, id int64) (*model.TokenProcedure, error)
}

// ProcedureAdmin changes certificate and token procedures.
type ProcedureAdmin interface {
	SaveCertificateProcedure(ctx context.Context, actor admin.Actor, id int64, in admin.CertificateProcedureInput) (*model.CertificateProcedure, error)
	DeleteCertificateProcedure(ctx context.Context, actor admin.Actor, id int64) error
	SaveTokenProcedure(ctx context.Context, actor admin.Actor, id int64, in admin.TokenProcedureInput) (*model.TokenProcedure, error)
	DeleteTokenProcedure(ctx context.Context, actor admin.Actor, id int64) error
}

// Procedures serves the certificate and token procedure pages.
type Procedures struct {
	Store ProcedureStore
	Admin ProcedureAdmin
}

const proceduresPerPage = 50

// List handles "GET /procedures".
func (h *Procedures) List(c echo.Context) error {
	ctx := c.Request().Context()
	q, page := formValue(c, "q"), pageNumber(c)
	cps, ncp, err := h.Store.ListCertificateProcedures(ctx, q, page, proceduresPerPage)
	if err != nil {
		return err
	}
	tps, ntp, err := h.Store.ListTokenProcedures(ctx, q, page, proceduresPerPage)
	if err != nil {
		return err
	}
	all, err := h.Store.AllCertificateProcedures(ctx)
	if err != nil {
		return err
	}
	names := map[int64]string{}
	for _, cp := range all {
		names[cp.ID] = cp.Name
	}
	p := views.ProceduresProps{Page: PageFor(c, "Procedures", "procedures"), Query: q, Certificate: cps, CertificateNames: names, Token: tps,
		CertificateTotal: ncp, TokenTotal: ntp}
	// One pager turns the pages of both lists, so it says where each is.
	p.Pager = pager(c, page, proceduresPerPage, max(ncp, ntp))
	p.Pager.Text = "Certificate procedures " + rangeText(page, proceduresPerPage, ncp) + " · token procedures " + rangeText(page, proceduresPerPage, ntp)
	return Render(c, http.StatusOK, views.Procedures(p))
}

// rangeText says which rows of total page shows: "1–25 of 80", or "none
// of 3" past the end.
func rangeText(page, perPage int, total int64) string {
	first := int64((page-1)*perPage) + 1
	if first > total {
		return "none of " + strconv.FormatInt(total, 10)
	}
	last := min(first+int64(perPage)-1, total)
	return strconv.FormatInt(first, 10) + "–" + strconv.FormatInt(last, 10) + " of " + strconv.FormatInt(total, 10)
}
