package handlers

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/scepgate/scepgate/admin"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/views"
)

// UserStore is what the user pages need from storage.
type UserStore interface {
	ListUsers(ctx context.Context, q string, page, perPage int) ([]model.User, int64, error)
	FindUser(ctx context.Context, id int64) (*model.User, error)
}

// UserAdmin creates and changes portal accounts.
type UserAdmin interface {
	CreateUser(ctx context.Context, actor admin.Actor, in admin.UserInput) (*model.User, error)
	ChangeUser(ctx context.Context, actor admin.Actor, id int64, ch admin.UserChange) error
	UserLock(ctx context.Context, id int64) (*admin.UserLock, error)
	UnlockUser(ctx context.Context, actor admin.Actor, id int64) error
}

// Users serves the portal account pages.
type Users struct {
	Store UserStore
	Admin UserAdmin
	Now   func() time.Time
}

const usersPerPage = 50

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
	p := views.NewUserProps{Page: PageFor(c, "New user", "users"), Username: formValue(c, "username"), Role: c.FormValue("role")}
	password := c.FormValue("password")
	if password != c.FormValue("password2") {
		p.Errors = views.FieldErrors{"password": "The two passwords differ. Type the same password twice."}
		return Render(c, http.StatusUnprocessableEntity, views.NewUser(p))
	}
	u, err := h.Admin.CreateUser(c.Request().Context(), adminActor(c), admin.UserInput{Username: p.Username, Role: p.Role, Password: password})
	if fe, ok := formErrors(err); ok {
		p.Errors = fe
		return Render(c, http.StatusUnprocessableEntity, views.NewUser(p))
	} else if err != nil {
		return err
	}
	return done(c, "/users/"+strconv.FormatInt(u.ID, 10), "User "+u.Username+" was created.")
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
	p := views.UserProps{Page: PageFor(c, "User "+u.Username, "users"), User: *u, Errors: errs,
		Self: ViewerFrom(c) != nil && ViewerFrom(c).UserID == u.ID}
	if l, err := h.Admin.UserLock(c.Request().Context(), u.ID); err == nil {
		p.LockedUntil, p.Failures = l.Until, l.Failures
	}
	return Render(c, status, views.UserPage(p))
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
	var ch admin.UserChange
	switch c.Param("what") {
	case "role":
		role := c.FormValue("role")
		ch.Role = &role
	case "disable", "enable":
		disabled := c.Param("what") == "disable"
		ch.Disabled = &disabled
	case "password":
		pw := c.FormValue("password")
		if pw != c.FormValue("password2") {
			return h.show(c, http.StatusUnprocessableEntity, views.FieldErrors{"password": "The two passwords differ. Type the same password twice."})
		}
		ch.Password = &pw
	default:
		return model.Errorf(model.ENOTFOUND, "There is nothing at this address.")
	}
	if c.Param("what") == "disable" && !u.Disabled {
		if ok, err := confirmed(c, views.Confirmation{Page: views.Page{Nav: "users"},
			Title:   "Disable " + u.Username,
			Message: "The account " + u.Username + " (" + u.Role + ") will be disabled: its sessions end now and it can no longer sign in until an administrator enables it again.",
			Button:  "Disable the account", Cancel: "/users/" + strconv.FormatInt(id, 10)}); !ok {
			return err
		}
	}
	if err := h.Admin.ChangeUser(ctx, adminActor(c), id, ch); err != nil {
		if fe, ok := formErrors(err); ok {
			status := http.StatusUnprocessableEntity
			if model.ErrorCode(err) == model.ECONFLICT {
				status = http.StatusConflict
			}
			return h.show(c, status, fe)
		}
		return err
	}
	return done(c, "/users/"+strconv.FormatInt(id, 10), "The change to "+u.Username+" was saved.")
}

// Unlock handles "POST /users/:id/unlock": it forgets the user's failed
// sign-ins from every address.
func (h *Users) Unlock(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := h.Admin.UnlockUser(c.Request().Context(), adminActor(c), id); err != nil {
		return err
	}
	return done(c, "/users/"+strconv.FormatInt(id, 10), "The user's failed sign-ins are forgotten: they can sign in now.")
}
