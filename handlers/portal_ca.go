package handlers

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/scepgate/scepgate/admin"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki"
	"github.com/scepgate/scepgate/views"
)

// CAPage shows the CA and RA certificates and offers them for download.
type CAPage struct {
	Snapshot SnapshotSource
	// CRLs, when set, gives the CA's current CRL for the page.
	CRLs interface {
		CAPublication(ctx context.Context, id int64) ([]byte, *model.CRL, error)
	}
	Now func() time.Time
}

// Show handles "GET /ca".
func (h *CAPage) Show(c echo.Context) error {
	return h.render(c, http.StatusOK, nil)
}

func (h *CAPage) render(c echo.Context, status int, errs views.FieldErrors) error {
	snap, err := h.Snapshot.Snapshot(c.Request().Context())
	if err != nil {
		return err
	}
	a, now := snap.Authority, h.Now()
	p := views.CAProps{Page: PageFor(c, "Certificate authority", "ca"), NDESThumbprint: pki.NDESThumbprint(a.CA), Errors: errs}
	p.Certs = append(p.Certs, certInfo("ca", "CA", a.CA, now))
	for i, ic := range a.Chain {
		p.Certs = append(p.Certs, certInfo("", "Issuer "+itoa(i+1), ic, now))
	}
	ra := certInfo("ra", "RA", a.RA, now)
	ra.KeyUsage = pki.KeyUsageString(a.RA.KeyUsage)
	p.Certs = append(p.Certs, ra)
	if n := snap.Next; n != nil {
		// Prepared by scepgate ca rollover prepare; devices fetch it with
		// GetNextCACert until it is activated.
		p.Certs = append(p.Certs, certInfo("", "Next CA", n.CA, now))
		nra := certInfo("", "Next RA", n.RA, now)
		nra.KeyUsage = pki.KeyUsageString(n.RA.KeyUsage)
		p.Certs = append(p.Certs, nra)
	}
	p.CRL = h.crlInfo(c.Request().Context(), a.ID)
	return Render(c, status, views.CA(p))
}

func certInfo(id, label string, c *x509.Certificate, now time.Time) views.CertInfo {
	return views.CertInfo{
		ID: id, Label: label, Subject: c.Subject.String(), Issuer: c.Issuer.String(),
		Serial: strings.ToLower(c.SerialNumber.Text(16)), NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC(),
		SHA256: pki.SHA256Fingerprint(c), Warn: c.NotAfter.Sub(now) < authorityWarn,
	}
}

// Download handles "GET /ca/:file": ca.pem, ca.der, ra.pem, ra.der,
// chain.pem (CA and issuers) and chain.p7b (RA, CA and issuers as a
// degenerate PKCS#7, what GetCACert answers).
func (h *CAPage) Download(c echo.Context) error {
	snap, err := h.Snapshot.Snapshot(c.Request().Context())
	if err != nil {
		return err
	}
	a := snap.Authority
	file := c.Param("file")
	var certs []*x509.Certificate
	switch strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(file, ".pem"), ".der"), ".p7b") {
	case "ca":
		certs = []*x509.Certificate{a.CA}
	case "ra":
		certs = []*x509.Certificate{a.RA}
	case "chain":
		certs = a.CAChain()
		if strings.HasSuffix(file, ".p7b") {
			certs = append([]*x509.Certificate{a.RA}, certs...)
		}
	default:
		return model.Errorf(model.ENOTFOUND, "There is no such download.")
	}
	return sendCerts(c, file, certs)
}

// sendCerts answers with certs as an attachment named file, whose
// extension picks the format: .pem, .der (first certificate) or .p7b.
func sendCerts(c echo.Context, file string, certs []*x509.Certificate) error {
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="`+file+`"`)
	switch {
	case strings.HasSuffix(file, ".pem"):
		var b []byte
		for _, ct := range certs {
			b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ct.Raw})...)
		}
		return c.Blob(http.StatusOK, "application/x-pem-file", b)
	case strings.HasSuffix(file, ".der") && len(certs) == 1:
		return c.Blob(http.StatusOK, "application/pkix-cert", certs[0].Raw)
	case strings.HasSuffix(file, ".p7b"):
		der, err := pki.DegenerateCerts(certs)
		if err != nil {
			return err
		}
		return c.Blob(http.StatusOK, "application/pkcs7-mime", der)
	}
	return model.Errorf(model.ENOTFOUND, "There is no such download.")
}

// CAImporter replaces the CA and RA.
type CAImporter interface {
	ImportCA(ctx context.Context, actor admin.Actor, c *admin.CheckedCA) (*pki.Authority, error)
}

// CAImport takes a CA and RA from PKCS#12 files uploaded by an
// administrator.
type CAImport struct {
	Admin CAImporter
	Page  *CAPage
}

// Import handles "POST /ca/import".
func (h *CAImport) Import(c echo.Context) error {
	errs := views.FieldErrors{}
	caP12, msg := uploaded(c, "ca_p12")
	if msg != "" {
		errs["ca_p12"] = msg
	}
	raP12, msg := uploaded(c, "ra_p12")
	if msg != "" {
		errs["ra_p12"] = msg
	}
	// The box must be ticked; the dialog portal.js shows adds
	// confirm=yes, which does not stand in for it.
	if f, _ := c.FormParams(); !slices.Contains(f["confirm"], "on") {
		errs["confirm"] = "Confirm that devices will get certificates from the new CA from now on."
	}
	if len(errs) > 0 {
		return h.Page.render(c, http.StatusUnprocessableEntity, errs)
	}
	checked, err := admin.CheckCAImport(admin.CAImport{CA: caP12, RA: raP12, Password: c.FormValue("password")})
	if err == nil {
		_, err = h.Admin.ImportCA(c.Request().Context(), adminActor(c), checked)
	}
	if fe, ok := formErrors(err); ok {
		return h.Page.render(c, http.StatusUnprocessableEntity, fe)
	} else if err != nil {
		return err
	}
	return done(c, "/ca", "The CA and RA were imported. Devices get certificates from the new CA from now on.")
}

// uploaded reads the file field name, or says what is wrong with it.
func uploaded(c echo.Context, name string) ([]byte, string) {
	fh, err := c.FormFile(name)
	if err != nil {
		return nil, "Choose a PKCS#12 file (.p12 or .pfx)."
	}
	if fh.Size > admin.MaxPKCS12 {
		return nil, "The file is larger than 1 MiB; a PKCS#12 file with a key and a few certificates is much smaller."
	}
	f, err := fh.Open()
	if err != nil {
		return nil, "The file could not be read. Send it again."
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, admin.MaxPKCS12+1))
	if err != nil || len(b) > admin.MaxPKCS12 {
		return nil, "The file could not be read. Send it again."
	}
	return b, ""
}

// crlInfo describes the current CRL of CA id.
func (h *CAPage) crlInfo(ctx context.Context, id int64) views.CRLInfo {
	info := views.CRLInfo{URL: "/pgwy/ca/" + strconv.FormatInt(id, 10) + "/crl", Revoked: -1, Missing: true}
	if h.CRLs == nil {
		return info
	}
	_, crl, err := h.CRLs.CAPublication(ctx, id)
	if err != nil || crl == nil {
		return info
	}
	info.Missing = false
	info.Number, info.ThisUpdate, info.NextUpdate = crl.Number, crl.ThisUpdate, crl.NextUpdate
	if rl, err := x509.ParseRevocationList(crl.DER); err == nil {
		info.Revoked = len(rl.RevokedCertificateEntries)
	}
	return info
}
