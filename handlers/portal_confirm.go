package handlers

import (
	"net/http"
	"sort"

	"github.com/labstack/echo/v4"
	"github.com/scepgate/scepgate/views"
)

// confirmed reports whether a destructive POST carries confirm=yes. When
// it does not, it answers with the confirmation page q describes, whose
// form sends the same fields again with confirm=yes; the caller then
// returns err and does nothing else.
func confirmed(c echo.Context, q views.Confirmation) (ok bool, err error) {
	if c.FormValue("confirm") == "yes" {
		return true, nil
	}
	q.Page = PageFor(c, q.Title, q.Page.Nav)
	if q.Action == "" {
		q.Action = c.Request().URL.Path
	}
	if q.Fields == nil {
		q.Fields = repost(c)
	}
	return false, Render(c, http.StatusOK, views.ConfirmPage(q))
}

// repost returns the fields of the form, but its token and confirm, to
// send again from the confirmation page.
func repost(c echo.Context) []views.HiddenField {
	form, err := c.FormParams()
	if err != nil {
		return nil
	}
	names := make([]string, 0, len(form))
	for k := range form {
		if k != "csrf" && k != "confirm" {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	var fs []views.HiddenField
	for _, k := range names {
		for _, v := range form[k] {
			fs = append(fs, views.HiddenField{Name: k, Value: v})
		}
	}
	return fs
}
