package web

import (
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/scepgate/scepgate/handlers"
)

// isAPIPath reports whether path belongs to the JSON API, whose errors are
// JSON whatever their cause.
func isAPIPath(path string) bool {
	return path == handlers.APIPrefix || strings.HasPrefix(path, handlers.APIPrefix+"/")
}

// apiError answers an error outside the API's operations (an unknown path,
// a method not allowed) in the API's shape.
func apiError(c echo.Context, status int, msg string) error {
	if status == http.StatusMethodNotAllowed {
		msg = "This address does not take that method. See " + handlers.APIPrefix + "/openapi.json."
	}
	return c.JSON(status, handlers.APIErrorFor(status, msg))
}
