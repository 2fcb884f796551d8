package handlers

import (
	"context"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
	"github.com/scepgate/scepgate/model"
)

// Publisher serves what issued certificates link to: the CA certificate
// (authority information access) and its CRL (CRL distribution point).
type Publisher struct {
	Service interface {
		CAPublication(ctx context.Context, id int64) ([]byte, *model.CRL, error)
	}
}

// CACert handles "GET /pgwy/ca/:id/cert".
func (p *Publisher) CACert(c echo.Context) error {
	der, _, err := p.lookup(c)
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, "application/pkix-cert", der)
}

// CRL handles "GET /pgwy/ca/:id/crl".
func (p *Publisher) CRL(c echo.Context) error {
	_, crl, err := p.lookup(c)
	if err != nil {
		return err
	}
	if crl == nil {
		return model.Errorf(model.ENOTFOUND, "This CA has no CRL.")
	}
	c.Response().Header().Set("Cache-Control", "max-age=300")
	return c.Blob(http.StatusOK, "application/pkix-crl", crl.DER)
}

func (p *Publisher) lookup(c echo.Context) ([]byte, *model.CRL, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil {
		return nil, nil, model.Errorf(model.ENOTFOUND, "There is no CA with that id.")
	}
	return p.Service.CAPublication(c.Request().Context(), id)
}
