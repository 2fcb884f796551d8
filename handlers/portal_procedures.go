package handlers

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/views"
)

// ProcedureStore is what the procedure pages need from storage.
type ProcedureStore interface {
	ListCertificateProcedures(ctx context.Context, q string, page, perPage int) ([]model.CertificateProcedure, int64, error)
	AllCertificateProcedures(ctx context.Context) ([]model.CertificateProcedure, error)
	FindCertificateProcedure(ctx context.Context, id int64) (*model.CertificateProcedure, error)
	SaveCertificateProcedure(ctx context.Context, cp *model.CertificateProcedure, audit *model.AuditEvent) error
	DeleteCertificateProcedure(ctx context.Context, id int64, audit *model.AuditEvent) error
	ListTokenProcedures(ctx context.Context, q string, page, perPage int) ([]model.TokenProcedure, int64, error)
	FindTokenProcedure(ctx context.Context, id int64) (*model.TokenProcedure, error)
	SaveTokenProcedure(ctx context.Context, tp *model.TokenProcedure, audit *model.AuditEvent) error
	DeleteTokenProcedure(ctx context.Context, id int64, audit *model.AuditEvent) error
}

// ConfigNotifier is told when handlers or procedures change, so that the
// enrollment path reloads them at once.
type ConfigNotifier interface {
	ConfigChanged()
}

// Procedures serves the certificate and token procedure pages.
type Procedures struct {
	Store  ProcedureStore
	Config ConfigNotifier
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
	p := views.ProceduresProps{Page: PageFor(c, "Procedures", "procedures"), Query: q, Certificate: cps, CertificateNames: names, Token: tps}
	p.Pager = pager(c, page, proceduresPerPage, max(ncp, ntp))
	return Render(c, http.StatusOK, views.Procedures(p))
}

func (h *Procedures) changed() {
	if h.Config != nil {
		h.Config.ConfigChanged()
	}
}
