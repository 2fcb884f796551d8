package main

import (
	"crypto/rand"
	"log/slog"
	"time"

	"github.com/scepgate/scepgate/enroll"
	"github.com/scepgate/scepgate/handlers"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/web"
)

// newPortal wires the admin portal to the database and the enrollment
// service; obs (nil: none) counts sign-in failures and NDES passwords;
// passwords checks sign-in passwords, sharing its slots with the NDES
// handlers.
func newPortal(e *env, svc *enroll.Service, log *slog.Logger, obs handlers.Observer, passwords *handlers.PasswordChecker) *web.Portal {
	return web.NewPortal(web.PortalDeps{
		Store: e.db, Service: svc, Admin: e.admin(svc), Now: time.Now, Rand: rand.Reader, Log: log,
		Attempts: model.DefaultAttemptPolicies(), Passwords: passwords, Keys: e.mk, Observer: obs,
	})
}
