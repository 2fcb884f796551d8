package handlers

import (
	"context"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/views"
	"golang.org/x/crypto/bcrypt"
)

// UserStore is what the user pages need from storage.
type UserStore interface {
	ListUsers(ctx context.Context, q string, page, perPage int) ([]model.User, int64, error)
	FindUser(ctx context.Context, id int64) (*model.User, error)
	AddUser(ctx context.Context, u *model.User, audit *model.AuditEvent) error
	ChangeUser(ctx context.Context, id int64, ch model.UserChange, audit *model.AuditEvent) error
}

// Users serves the portal account pages.
type Users struct {
	Store      UserStore
	BcryptCost int
}

const (
	usersPerPage      = 50
	minPasswordLength = 12
)

// List handles "GET /users".
func (h *Users) List(c echo.Context) error {
	q, page := formValue(c, "q"), pageNumber(c)
	us, n, err := h.Store.ListUsers(c.Request().Context(), q, page, usersPerPage)
	if err != nil {
		return err
	}
	return Render(c, http.StatusOK, views.Users(views.UsersProps{Page: PageFor(c, "Users", "users"), Query: q, Rows: us, Pager: pager(c, page, usersPerPage, n)}))
}

// New handles "GET /users/new".
func (h *Users) New(c echo.Context) error {
	return Render(c, http.StatusOK, views.NewUser(views.NewUserProps{Page: PageFor(c, "New user", "users"), Role: model.RoleHelpdesk}))
}

// Create handles "POST /users".
func (h *Users) Create(c echo.Context) error {
	p := views.NewUserProps{Page: PageFor(c, "New user", "users"), Username: formValue(c, "username"), Role: c.FormValue("role"), Errors: views.FieldErrors{}}
	password := c.FormValue("password")
	if p.Username == "" || len(p.Username) > 64 {
		p.Errors["username"] = "Enter a user name of at most 64 characters."
	}
	if !model.ValidRole(p.Role) {
		p.Errors["role"] = "Choose admin, helpdesk or auditor."
	}
	if msg := checkPassword(password, c.FormValue("password2")); msg != "" {
		p.Errors["password"] = msg
	}
	if len(p.Errors) > 0 {
		return Render(c, http.StatusUnprocessableEntity, views.NewUser(p))
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), h.BcryptCost)
	if err != nil {
		return err
	}
	u := &model.User{Username: p.Username, PasswordHash: string(hash), Role: p.Role}
	err = h.Store.AddUser(c.Request().Context(), u, &model.AuditEvent{Actor: actor(c), Action: "user.create", ClientAddr: c.RealIP(), Target: "user " + u.Username, Detail: "role " + u.Role})
	if model.ErrorCode(err) == model.ECONFLICT {
		p.Errors["username"] = model.ErrorMessage(err)
		return Render(c, http.StatusUnprocessableEntity, views.NewUser(p))
	} else if err != nil {
		return err
	}
	return done(c, "/users/"+strconv.FormatInt(u.ID, 10), "User "+u.Username+" was created.")
}

func checkPassword(pw, again string) string {
	switch {
	case len(pw) < minPasswordLength:
		return "Use at least 12 characters."
	case len(pw) > 72:
		return "Use at most 72 characters."
	case pw != again:
		return "The two passwords differ. Type the same password twice."
	}
	return ""
}

// Show handles "GET /users/:id".
func (h *Users) Show(c echo.Context) error {
	return h.show(c, http.StatusOK, nil)
}

func (h *Users) show(c echo.Context, status int, errs views.FieldErrors) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	u, err := h.Store.FindUser(c.Request().Context(), id)
	if err != nil {
		return err
	}
	return Render(c, status, views.UserPage(views.UserProps{Page: PageFor(c, "User "+u.Username, "users"), User: *u, Errors: errs,
		Self: ViewerFrom(c) != nil && ViewerFrom(c).UserID == u.ID}))
}

// Change handles "POST /users/:id/role", "POST /users/:id/disable",
// "POST /users/:id/enable" and "POST /users/:id/password".
func (h *Users) Change(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	u, err := h.Store.FindUser(ctx, id)
	if err != nil {
		return err
	}
	var ch model.UserChange
	audit := &model.AuditEvent{Actor: actor(c), ClientAddr: c.RealIP(), Target: "user " + u.Username}
	switch c.Param("what") {
	case "role":
		ch.Role = c.FormValue("role")
		if !model.ValidRole(ch.Role) {
			return h.show(c, http.StatusUnprocessableEntity, views.FieldErrors{"role": "Choose admin, helpdesk or auditor."})
		}
		audit.Action, audit.Detail = "user.role", "role "+u.Role+" -> "+ch.Role
	case "disable", "enable":
		disabled := c.Param("what") == "disable"
		if disabled && ViewerFrom(c).UserID == id {
			return h.show(c, http.StatusUnprocessableEntity, views.FieldErrors{"": "You cannot disable your own account."})
		}
		ch.Disabled, audit.Action = &disabled, "user."+c.Param("what")
	case "password":
		pw := c.FormValue("password")
		if msg := checkPassword(pw, c.FormValue("password2")); msg != "" {
			return h.show(c, http.StatusUnprocessableEntity, views.FieldErrors{"password": msg})
		}
		hash, err := bcrypt.GenerateFromPassword([]byte(pw), h.BcryptCost)
		if err != nil {
			return err
		}
		ch.PasswordHash, audit.Action = string(hash), "user.password"
	default:
		return model.Errorf(model.ENOTFOUND, "There is nothing at this address.")
	}
	if err := h.Store.ChangeUser(ctx, id, ch, audit); err != nil {
		if model.ErrorCode(err) == model.ECONFLICT {
			return h.show(c, http.StatusConflict, views.FieldErrors{"": model.ErrorMessage(err)})
		}
		return err
	}
	return done(c, "/users/"+strconv.FormatInt(id, 10), "The change to "+u.Username+" was saved.")
}
