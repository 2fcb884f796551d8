package handlers

import (
	"net/http"

	"github.com/labstack/echo/v4"
	"github.com/scepgate/scepgate/views"
)

// ShowSignOut handles "GET /signout", as a typed or bookmarked address:
// a page with the sign-out button, since signing out changes something
// and so takes a POST with the form token.
func (s *Sessions) ShowSignOut(c echo.Context) error {
	return Render(c, http.StatusOK, views.SignOutPage(PageFor(c, "Sign out", "")))
}
