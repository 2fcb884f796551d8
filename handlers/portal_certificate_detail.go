package handlers

import (
	"context"
	"crypto/x509"
	"strconv"
	"strings"

	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki"
	"github.com/scepgate/scepgate/views"
)

// CertificateDetailStore is what a certificate's page reads besides the
// certificate: what issued it, and the audit trail of its renewals.
type CertificateDetailStore interface {
	FindCertificateBySerial(ctx context.Context, serial string) (*model.Certificate, error)
	FindHandler(ctx context.Context, id int64) (*model.Handler, error)
	FindCertificateProcedure(ctx context.Context, id int64) (*model.CertificateProcedure, error)
	FindTokenProcedure(ctx context.Context, id int64) (*model.TokenProcedure, error)
	SearchAuditEvents(ctx context.Context, f model.AuditFilter, page, perPage int) ([]model.AuditEvent, int64, error)
}

// maxRenewalChain bounds how many renewals a page follows each way.
const maxRenewalChain = 10

// certificateDetails reads what the certificate itself says and what
// issued it. What cannot be read is left out, not an error: the page
// still shows the rest.
func certificateDetails(ctx context.Context, st CertificateDetailStore, c *model.Certificate, parsed *x509.Certificate) views.CertificateDetails {
	var d views.CertificateDetails
	if parsed != nil {
		d.KeyUsage = pki.KeyUsageString(parsed.KeyUsage)
		d.ExtKeyUsage = pki.ExtKeyUsageString(parsed)
		d.Key = pki.KeyDescription(parsed)
		d.SHA256 = pki.SHA256Fingerprint(parsed)
		d.SHA1 = pki.SHA1Fingerprint(parsed)
		d.DNS = parsed.DNSNames
		for _, ip := range parsed.IPAddresses {
			d.IPs = append(d.IPs, ip.String())
		}
		d.Emails = parsed.EmailAddresses
		for _, u := range parsed.URIs {
			d.URIs = append(d.URIs, u.String())
		}
		d.CRLs = parsed.CRLDistributionPoints
		d.OCSP = parsed.OCSPServer
		d.IssuingCA = parsed.IssuingCertificateURL
	}
	if c.HandlerID != nil {
		if h, err := st.FindHandler(ctx, *c.HandlerID); err == nil {
			d.Handler = views.Link{Label: h.Name, URL: "/handlers/" + strconv.FormatInt(h.ID, 10)}
			if h.TokenProcedureID != nil {
				if tp, err := st.FindTokenProcedure(ctx, *h.TokenProcedureID); err == nil {
					d.TokenProcedure = views.Link{Label: tp.Name, URL: "/procedures/token/" + strconv.FormatInt(tp.ID, 10)}
				}
			}
		}
	}
	if c.CertificateProcedureID != nil {
		if cp, err := st.FindCertificateProcedure(ctx, *c.CertificateProcedureID); err == nil {
			d.CertificateProcedure = views.Link{Label: cp.Name, URL: "/procedures/certificate/" + strconv.FormatInt(cp.ID, 10)}
		}
	}
	d.Renews, d.RenewedBy = renewalChain(ctx, st, c.Serial)
	return d
}

// renewalChain follows the "certificate.renew" audit events ("renews
// SERIAL" on the new certificate) back to the first certificate and on
// to the newest: older lists the certificates serial renews, newest
// first; newer those that renew it, oldest first.
func renewalChain(ctx context.Context, st CertificateDetailStore, serial string) (older, newer []views.Link) {
	seen := map[string]bool{serial: true}
	for s, i := serial, 0; i < maxRenewalChain; i++ {
		prev, _ := renewalOf(ctx, st, s)
		if prev == "" || seen[prev] {
			break
		}
		seen[prev] = true
		older = append(older, serialLink(ctx, st, prev))
		s = prev
	}
	for s, i := serial, 0; i < maxRenewalChain; i++ {
		_, next := renewalOf(ctx, st, s)
		if next == "" || seen[next] {
			break
		}
		seen[next] = true
		newer = append(newer, serialLink(ctx, st, next))
		s = next
	}
	return older, newer
}

// renewalOf returns the serial the certificate serial renews and the
// serial of the certificate that renews it, each "" when there is none.
func renewalOf(ctx context.Context, st CertificateDetailStore, serial string) (renews, renewedBy string) {
	es, _, err := st.SearchAuditEvents(ctx, model.AuditFilter{Query: serial}, 1, 50)
	if err != nil {
		return "", ""
	}
	for _, e := range es {
		if e.Action != "certificate.renew" {
			continue
		}
		target := strings.TrimPrefix(e.Target, "certificate ")
		old, _, _ := strings.Cut(strings.TrimPrefix(e.Detail, "renews "), ",")
		switch {
		case target == serial && renews == "":
			renews = old
		case old == serial && renewedBy == "":
			renewedBy = target
		}
	}
	return renews, renewedBy
}

func serialLink(ctx context.Context, st CertificateDetailStore, serial string) views.Link {
	l := views.Link{Label: views.Serial(serial)}
	if c, err := st.FindCertificateBySerial(ctx, serial); err == nil {
		l.URL = "/certificates/" + strconv.FormatInt(c.ID, 10)
		l.Label += " (" + c.State + ")"
	}
	return l
}
