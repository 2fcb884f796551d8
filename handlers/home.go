package handlers

import (
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/scepgate/scepgate/pki"
	"github.com/scepgate/scepgate/views"
)

// Home serves the start page.
type Home struct {
	Service SCEPService
}

// Show handles "GET /".
func (h *Home) Show(c echo.Context) error {
	snap, err := h.Service.Snapshot(c.Request().Context())
	if err != nil {
		return err
	}
	a := snap.Authority
	p := views.HomeProps{
		CASubject:     a.CA.Subject.String(),
		CANotAfter:    a.CA.NotAfter.UTC().Format(time.DateOnly),
		CAFingerprint: pki.SHA256Fingerprint(a.CA),
		RASubject:     a.RA.Subject.String(),
		RANotAfter:    a.RA.NotAfter.UTC().Format(time.DateOnly),
	}
	base := c.Scheme() + "://" + c.Request().Host
	for _, hd := range snap.Config.Handlers {
		p.Handlers = append(p.Handlers, views.HandlerLink{Name: hd.Name, Format: hd.Format, URL: base + hd.Path(), Enabled: hd.Enabled})
	}
	return Render(c, http.StatusOK, views.Home(p))
}
