package handlers

import (
	"encoding/csv"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/scepgate/scepgate/views"
)

// exportPage is how many rows a CSV export reads at a time; each page is
// written out before the next is read.
const exportPage = 500

// startCSV answers with a CSV attachment named after what and now, and
// returns its writer with the header row written.
func startCSV(c echo.Context, what string, now time.Time, header []string) (*csv.Writer, error) {
	res := c.Response()
	res.Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	res.Header().Set(echo.HeaderContentDisposition, `attachment; filename="scepgate-`+what+`-`+now.UTC().Format("20060102-150405")+`.csv"`)
	res.WriteHeader(http.StatusOK)
	w := csv.NewWriter(res)
	return w, w.Write(header)
}

func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func csvTimePtr(t *time.Time) string {
	if t == nil {
		return ""
	}
	return csvTime(*t)
}

func csvID(id *int64) string {
	if id == nil {
		return ""
	}
	return strconv.FormatInt(*id, 10)
}

// CSV handles "GET /certificates.csv": every certificate the list's
// search selects, streamed a page at a time.
func (h *Certificates) CSV(c echo.Context) error {
	now := h.Now()
	f, _, _ := certificateFilter(c, now)
	w, err := startCSV(c, "certificates", now, []string{"id", "serial", "subject", "dns_names", "not_before", "not_after", "state", "revoked_at", "revocation_reason", "registration_id"})
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	for page := 1; ; page++ {
		cs, _, err := h.Store.SearchCertificates(ctx, f, page, exportPage)
		if err != nil {
			return err
		}
		for _, cert := range cs {
			reason := ""
			if cert.RevokedAt != nil {
				reason = views.RevocationReason(cert.RevocationReason)
			}
			if err := w.Write([]string{strconv.FormatInt(cert.ID, 10), views.Serial(cert.Serial), csvCell(cert.Subject), csvCell(cert.DNSNames),
				csvTime(cert.NotBefore), csvTime(cert.NotAfter), views.CertificateState(cert, now), csvTimePtr(cert.RevokedAt), reason, csvID(cert.RegistrationID)}); err != nil {
				return err
			}
		}
		w.Flush()
		if err := w.Error(); err != nil || len(cs) < exportPage {
			return err
		}
	}
}

// CSV handles "GET /registrations.csv": every registration the list's
// search selects, streamed a page at a time.
func (h *Registrations) CSV(c echo.Context) error {
	f, _ := registrationFilter(c)
	w, err := startCSV(c, "registrations", h.Now(), []string{"id", "kind", "state", "requested_by", "client", "subject_cn", "dns_name", "created", "expires", "used", "certificate_id", "last_refusal"})
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	for page := 1; ; page++ {
		rs, _, err := h.Store.ListRegistrations(ctx, f, page, exportPage)
		if err != nil {
			return err
		}
		for _, r := range rs {
			if err := w.Write([]string{strconv.FormatInt(r.ID, 10), r.Kind, r.State, csvCell(r.RequestedBy), csvCell(r.ClientAddr), csvCell(r.SubjectCN), csvCell(r.DNSName),
				csvTime(r.CreatedAt), csvTime(r.ExpiresAt), csvTimePtr(r.UsedAt), csvID(r.CertificateID), csvCell(r.LastFailure)}); err != nil {
				return err
			}
		}
		w.Flush()
		if err := w.Error(); err != nil || len(rs) < exportPage {
			return err
		}
	}
}
