package handlers

import (
	"context"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/scepgate/scepgate/admin"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/views"
)

// TokenAdmin makes, lists and revokes API tokens.
type TokenAdmin interface {
	CreateToken(ctx context.Context, actor admin.Actor, in admin.TokenInput) (*model.Token, string, error)
	Tokens(ctx context.Context) ([]model.Token, error)
	RevokeToken(ctx context.Context, actor admin.Actor, name string) (*model.Token, error)
}

// Tokens serves the API tokens page.
type Tokens struct {
	Admin TokenAdmin
	Now   func() time.Time
}

func (h *Tokens) render(c echo.Context, status int, p views.TokensProps) error {
	rows, err := h.Admin.Tokens(c.Request().Context())
	if err != nil {
		return err
	}
	p.Page, p.Rows, p.Now = PageFor(c, "API tokens", "tokens"), rows, h.Now()
	return Render(c, status, views.Tokens(p))
}

// List handles "GET /tokens".
func (h *Tokens) List(c echo.Context) error {
	return h.render(c, http.StatusOK, views.TokensProps{Role: model.RoleHelpdesk})
}

// Create handles "POST /tokens": it makes a token and shows it this once.
func (h *Tokens) Create(c echo.Context) error {
	p := views.TokensProps{Name: formValue(c, "name"), Role: c.FormValue("role"), Expiry: c.FormValue("expires_in")}
	var expires time.Duration
	if p.Expiry != "" {
		d, err := time.ParseDuration(p.Expiry)
		if err != nil {
			d = -1 // admin says what to choose
		}
		expires = d
	}
	t, secret, err := h.Admin.CreateToken(c.Request().Context(), adminActor(c), admin.TokenInput{Name: p.Name, Role: p.Role, ExpiresIn: expires})
	if fe, ok := formErrors(err); ok {
		p.Errors = fe
		return h.render(c, http.StatusUnprocessableEntity, p)
	} else if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	return h.render(c, http.StatusOK, views.TokensProps{Role: model.RoleHelpdesk, Created: t, Secret: secret})
}

// Revoke handles "POST /tokens/revoke".
func (h *Tokens) Revoke(c echo.Context) error {
	t, err := h.Admin.RevokeToken(c.Request().Context(), adminActor(c), c.FormValue("name"))
	if err != nil {
		return err
	}
	return done(c, "/tokens", "Token "+t.Name+" was revoked; calls that send it get 401 from now on.")
}
