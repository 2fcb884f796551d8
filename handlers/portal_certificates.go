package handlers

import (
	"context"
	"crypto/x509"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/scepgate/scepgate/admin"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/views"
)

// CertificateStore is what the certificate pages need from storage.
type CertificateStore interface {
	SearchCertificates(ctx context.Context, f model.CertificateFilter, page, perPage int) ([]model.Certificate, int64, error)
	FindCertificate(ctx context.Context, id int64) (*model.Certificate, error)
	CertificateDetailStore
}

// Revoker revokes certificates and publishes the revocation.
type Revoker interface {
	RevokeCertificate(ctx context.Context, actor admin.Actor, id int64, reason int) (*model.Certificate, error)
}

// Certificates serves the issued-certificate pages.
type Certificates struct {
	Store   CertificateStore
	Revoker Revoker
	Bulk    BulkRevoker
	Now     func() time.Time
}

// BulkRevoker revokes many certificates at once.
type BulkRevoker interface {
	RevokeCertificates(ctx context.Context, actor admin.Actor, ids []int64, reason int) (admin.BulkResult, error)
}

const certificatesPerPage = 25

// List handles "GET /certificates".
func (h *Certificates) List(c echo.Context) error {
	now := h.Now()
	f, q, state := certificateFilter(c, now)
	page := pageNumber(c)
	cs, n, err := h.Store.SearchCertificates(c.Request().Context(), f, page, certificatesPerPage)
	if err != nil {
		return err
	}
	return Render(c, http.StatusOK, views.Certificates(views.CertificatesProps{
		Page: PageFor(c, "Certificates", "certificates"), Query: q, State: state, Rows: cs, Now: now, Pager: pager(c, page, certificatesPerPage, n),
		CSVURL: "/certificates.csv?" + filterQuery(c, "q", "state")}))
}

// certificateFilter reads the search of the certificate list: from the
// query string of a GET, or the fields of a bulk action's form.
func certificateFilter(c echo.Context, now time.Time) (f model.CertificateFilter, q, state string) {
	q, state = formValue(c, "q"), formValue(c, "state")
	return model.CertificateFilter{Query: searchText(q), State: state, Now: now, ExpiringBefore: now.Add(expiringWindow)}, q, state
}

// Show handles "GET /certificates/:id".
func (h *Certificates) Show(c echo.Context) error {
	return h.show(c, http.StatusOK, nil)
}

func (h *Certificates) show(c echo.Context, status int, errs views.FieldErrors) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	cert, err := h.Store.FindCertificate(c.Request().Context(), id)
	if err != nil {
		return err
	}
	p := views.CertificateProps{Page: PageFor(c, "Certificate "+views.Serial(cert.Serial), "certificates"), Cert: *cert, Errors: errs, Now: h.Now()}
	parsed, err := x509.ParseCertificate(cert.DER)
	if err == nil {
		p.Issuer = parsed.Issuer.String()
	} else {
		parsed = nil
	}
	p.Details = certificateDetails(c.Request().Context(), h.Store, cert, parsed)
	return Render(c, status, views.CertificatePage(p))
}

// Download handles "GET /certificates/:id/:file" (cert.pem or cert.der).
func (h *Certificates) Download(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	cert, err := h.Store.FindCertificate(c.Request().Context(), id)
	if err != nil {
		return err
	}
	parsed, err := x509.ParseCertificate(cert.DER)
	if err != nil {
		return err
	}
	switch c.Param("file") {
	case "cert.pem":
		return sendCerts(c, views.Serial(cert.Serial)+".pem", []*x509.Certificate{parsed})
	case "cert.der":
		return sendCerts(c, views.Serial(cert.Serial)+".der", []*x509.Certificate{parsed})
	}
	return model.Errorf(model.ENOTFOUND, "There is no such download.")
}

// Revoke handles "POST /certificates/:id/revoke": it revokes the
// certificate, which the next CRL lists, and records who did it.
func (h *Certificates) Revoke(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	reason, err := strconv.Atoi(c.FormValue("reason"))
	if err != nil {
		return h.show(c, http.StatusUnprocessableEntity, views.FieldErrors{"reason": "Choose a reason."})
	}
	cert, err := h.Store.FindCertificate(c.Request().Context(), id)
	if err != nil {
		return err
	}
	// Only what can be done asks first; the rest gets its message from
	// the operation.
	if cert.State == model.CertActive && views.RevocationReason(reason) != "" {
		if ok, err := confirmed(c, views.Confirmation{Page: views.Page{Nav: "certificates"},
			Title:   "Revoke certificate " + views.Serial(cert.Serial),
			Message: "Certificate " + views.Serial(cert.Serial) + " (" + cert.Subject + ") will be revoked for the reason “" + views.RevocationReason(reason) + "”. The CRL lists it from now on and relying parties stop trusting it. This cannot be undone.",
			Button:  "Revoke the certificate", Cancel: "/certificates/" + strconv.FormatInt(id, 10)}); !ok {
			return err
		}
	}
	if _, err := h.Revoker.RevokeCertificate(c.Request().Context(), adminActor(c), id, reason); err != nil {
		if fe, ok := formErrors(err); ok {
			status := http.StatusUnprocessableEntity
			if model.ErrorCode(err) == model.ECONFLICT {
				status = http.StatusConflict
			}
			return h.show(c, status, fe)
		}
		return err
	}
	return done(c, "/certificates/"+strconv.FormatInt(id, 10), "The certificate is marked revoked.")
}

// searchText is what the certificate search looks for when q is typed:
// a query that looks like a serial (hex of 8 digits or more, or hex
// bytes with colons or spaces, as openssl and browsers print them) is
// read as one, so that it finds the stored lower-case hex without leading
// zeros; anything else is searched as typed.
func searchText(q string) string {
	compact := strings.NewReplacer(":", "", " ", "").Replace(q)
	if len(compact) < 8 && !strings.ContainsAny(q, ": ") {
		return q
	}
	if strings.ContainsAny(q, " ") && !strings.Contains(q, ":") {
		// "04 A6 03 D7" is a serial; "web server" is not.
		for _, f := range strings.Fields(q) {
			if len(f) != 2 {
				return q
			}
		}
	}
	if s, err := admin.NormalizeSerial(q); err == nil && !strings.Contains(q, "-") {
		return s
	}
	return q
}
