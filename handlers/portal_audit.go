package handlers

import (
	"context"
	"encoding/csv"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/views"
)

// AuditStore is what the audit log pages need from storage.
type AuditStore interface {
	SearchAuditEvents(ctx context.Context, f model.AuditFilter, page, perPage int) ([]model.AuditEvent, int64, error)
	EachAuditEvent(ctx context.Context, f model.AuditFilter, fn func(*model.AuditEvent) error) error
}

// AuditLog serves the audit log and its CSV export.
type AuditLog struct {
	Store AuditStore
	// Procedures, when set, names the certificate procedures that old
	// events recorded by id.
	Procedures interface {
		AllCertificateProcedures(ctx context.Context) ([]model.CertificateProcedure, error)
	}
	Now func() time.Time
}

const auditPerPage = 50

func auditFilter(c echo.Context) (model.AuditFilter, views.AuditQuery) {
	q := views.AuditQuery{Text: formValue(c, "q"), From: formValue(c, "from"), To: formValue(c, "to")}
	f := model.AuditFilter{Query: q.Text}
	if t, err := time.Parse(time.DateOnly, q.From); err == nil {
		f.From = t
	}
	if t, err := time.Parse(time.DateOnly, q.To); err == nil {
		f.To = t.AddDate(0, 0, 1)
	}
	return f, q
}

// List handles "GET /audit".
func (h *AuditLog) List(c echo.Context) error {
	f, q := auditFilter(c)
	page := pageNumber(c)
	es, n, err := h.Store.SearchAuditEvents(c.Request().Context(), f, page, auditPerPage)
	if err != nil {
		return err
	}
	p := views.AuditProps{Page: PageFor(c, "Audit log", "audit"), Query: q, Rows: es, Pager: pager(c, page, auditPerPage, n), ProcedureNames: map[int64]string{}}
	if h.Procedures != nil {
		if cps, err := h.Procedures.AllCertificateProcedures(c.Request().Context()); err == nil {
			for _, cp := range cps {
				p.ProcedureNames[cp.ID] = cp.Name
			}
		}
	}
	p.CSVURL = "/audit.csv?" + c.QueryParams().Encode()
	return Render(c, http.StatusOK, views.Audit(p))
}

// CSV handles "GET /audit.csv": the events the same search selects, all
// of them, as CSV.
func (h *AuditLog) CSV(c echo.Context) error {
	f, _ := auditFilter(c)
	res := c.Response()
	res.Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	res.Header().Set(echo.HeaderContentDisposition, `attachment; filename="scepgate-audit-`+h.Now().UTC().Format("20060102-150405")+`.csv"`)
	res.WriteHeader(http.StatusOK)
	w := csv.NewWriter(res)
	if err := w.Write([]string{"id", "time", "actor", "action", "target", "detail", "client"}); err != nil {
		return err
	}
	err := h.Store.EachAuditEvent(c.Request().Context(), f, func(e *model.AuditEvent) error {
		return w.Write([]string{strconv.FormatInt(e.ID, 10), e.At.UTC().Format(time.RFC3339), csvCell(e.Actor), csvCell(e.Action),
			csvCell(e.Target), csvCell(e.Detail), csvCell(e.ClientAddr)})
	})
	w.Flush()
	if err != nil {
		return err
	}
	return w.Error()
}

// csvCell keeps a spreadsheet from reading a cell as a formula.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}
