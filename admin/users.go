package admin

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/scepgate/scepgate/model"
)

// UserInput creates a portal account.
type UserInput struct {
	Username string
	Role     string
	Password string
}

func checkUsername(f *fieldErrors, name string) {
	switch {
	case name == "":
		f.add("username", "Enter a user name.")
	case utf8.RuneCountInString(name) > MaxUsername:
		f.add("username", "Use at most %d characters for the user name.", MaxUsername)
	case strings.IndexFunc(name, func(r rune) bool { return !isWordChar(r) && r != '@' }) >= 0:
		f.add("username", "Use only letters, digits, '-', '_', '.' and '@' in a user name.")
	}
}

func checkRole(f *fieldErrors, role string) {
	if !model.ValidRole(role) {
		f.add("role", "Choose admin, helpdesk or auditor.")
	}
}

// checkUserPassword checks a portal password: 12 characters at least, and
// no more than bcrypt can check.
func checkUserPassword(f *fieldErrors, pw string) {
	switch {
	case utf8.RuneCountInString(pw) < MinUserPassword:
		f.add("password", "Use at least %d characters.", MinUserPassword)
	case len(pw) > MaxPassword:
		f.add("password", "Use at most %d bytes: longer passwords cannot be checked in full.", MaxPassword)
	}
}

// CreateUser creates a portal account.
func (s *Service) CreateUser(ctx context.Context, actor Actor, in UserInput) (*model.User, error) {
	var f fieldErrors
	checkUsername(&f, in.Username)
	checkRole(&f, in.Role)
	checkUserPassword(&f, in.Password)
	if err := f.err(); err != nil {
		return nil, err
	}
	hash, err := s.hash(in.Password)
	if err != nil {
		return nil, err
	}
	u := &model.User{Username: in.Username, PasswordHash: hash, Role: in.Role}
	if err := s.store.AddUser(ctx, u, actor.audit("user.create", "user "+u.Username, "role "+u.Role)); err != nil {
		return nil, conflictOn(err, "username")
	}
	return u, nil
}

// UserChange changes one thing about an account; nil fields stay.
type UserChange struct {
	Role     *string
	Disabled *bool
	Password *string
}

// ChangeUser applies ch to user id. Nobody disables their own account, and
// the last enabled administrator stays one. Disabling an account or
// setting its password ends its sessions.
func (s *Service) ChangeUser(ctx context.Context, actor Actor, id int64, ch UserChange) error {
	u, err := s.store.FindUser(ctx, id)
	if err != nil {
		return err
	}
	var f fieldErrors
	var mc model.UserChange
	audit := actor.audit("", "user "+u.Username, "")
	switch {
	case ch.Role != nil:
		checkRole(&f, *ch.Role)
		mc.Role, audit.Action, audit.Detail = *ch.Role, "user.role", "role "+u.Role+" -> "+*ch.Role
	case ch.Disabled != nil:
		if *ch.Disabled && actor.UserID == id {
			f.add("", "You cannot disable your own account.")
		}
		mc.Disabled, audit.Action = ch.Disabled, "user.enable"
		if *ch.Disabled {
			audit.Action = "user.disable"
		}
	case ch.Password != nil:
		checkUserPassword(&f, *ch.Password)
		audit.Action = "user.password"
	default:
		return model.Errorf(model.EINVALID, "Say what to change: the role, the state or the password.")
	}
	if err := f.err(); err != nil {
		return err
	}
	if ch.Password != nil {
		if mc.PasswordHash, err = s.hash(*ch.Password); err != nil {
			return err
		}
	}
	if err := s.store.ChangeUser(ctx, id, mc, audit); err != nil {
		return err
	}
	if ch.Password != nil {
		// A new password lifts a lock: the administrator who set it vouches
		// for the next sign-in.
		return s.store.ClearUserAttempts(ctx, s.mk.KeyedHash(model.AttemptKeyPurpose, u.Username), nil)
	}
	return nil
}

// UserLock says whether failed sign-ins lock user name, from any address.
type UserLock struct {
	Locked   bool
	Until    time.Time
	Failures int // counted in the current window, from all addresses
}

// UserLock returns the lock state of user id's name.
func (s *Service) UserLock(ctx context.Context, id int64) (*UserLock, error) {
	u, err := s.store.FindUser(ctx, id)
	if err != nil {
		return nil, err
	}
	v, err := s.store.LookupAttempts(ctx, model.AttemptPortalUser, s.mk.KeyedHash(model.AttemptKeyPurpose, u.Username))
	if err != nil {
		return nil, err
	}
	l := &UserLock{Locked: v.Refused, Failures: v.Count}
	if v.Refused {
		l.Until = s.now().Add(v.RetryAfter)
	}
	return l, nil
}

// UnlockUser forgets the failed sign-ins of user id's name, from every
// address, so that it can sign in at once.
func (s *Service) UnlockUser(ctx context.Context, actor Actor, id int64) error {
	u, err := s.store.FindUser(ctx, id)
	if err != nil {
		return err
	}
	return s.store.ClearUserAttempts(ctx, s.mk.KeyedHash(model.AttemptKeyPurpose, u.Username),
		actor.audit("user.unlock", "user "+u.Username, "failed sign-ins forgotten"))
}

// CheckSetupPasswords checks the passwords a first start gives the users
// admin and ndesadmin (SCEPGATE_ADMIN_PASSWORD, SCEPGATE_NDES_PASSWORD)
// with the limits of the user and handler forms, naming the variable.
func CheckSetupPasswords(adminPassword, ndesPassword string) error {
	var f fieldErrors
	switch n := utf8.RuneCountInString(adminPassword); {
	case n < MinUserPassword:
		f.add("admin_password", "SCEPGATE_ADMIN_PASSWORD has %d characters; use at least %d.", n, MinUserPassword)
	case len(adminPassword) > MaxPassword:
		f.add("admin_password", "SCEPGATE_ADMIN_PASSWORD has %d bytes; use at most %d, or it cannot be checked in full.", len(adminPassword), MaxPassword)
	}
	switch n := len(ndesPassword); {
	case n < MinNDESPassword:
		f.add("ndes_password", "SCEPGATE_NDES_PASSWORD has %d characters; use at least %d.", n, MinNDESPassword)
	case n > MaxPassword:
		f.add("ndes_password", "SCEPGATE_NDES_PASSWORD has %d bytes; use at most %d, or it cannot be checked in full.", n, MaxPassword)
	}
	return f.err()
}
