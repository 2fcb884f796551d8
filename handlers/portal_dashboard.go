package handlers

import (
	"context"
	"crypto/x509"
	"net/http"
	"sort"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/scepgate/scepgate/enroll"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/views"
)

// DashboardStore is what the dashboard reads from storage.
type DashboardStore interface {
	DashboardCounts(ctx context.Context, now time.Time, window time.Duration) (*model.DashboardCounts, error)
	IssuedPerDay(ctx context.Context, now time.Time, days int) ([]model.DayCount, error)
	SearchCertificates(ctx context.Context, f model.CertificateFilter, page, perPage int) ([]model.Certificate, int64, error)
}

// SnapshotSource gives the current configuration and CA material.
type SnapshotSource interface {
	Snapshot(ctx context.Context) (*enroll.Snapshot, error)
}

// Dashboard serves the start page of the portal.
type Dashboard struct {
	Store    DashboardStore
	Snapshot SnapshotSource
	Now      func() time.Time
}

// Dashboard windows.
const (
	expiringWindow = 30 * 24 * time.Hour
	authorityWarn  = 90 * 24 * time.Hour
	dashboardDays  = 30
	// dashboardExpiring is how many expiring certificates the dashboard
	// lists; the tile links to all of them.
	dashboardExpiring = 10
	helpdeskHomeURL   = "/ndes"
)

// Show handles "GET /".
func (h *Dashboard) Show(c echo.Context) error {
	if v := ViewerFrom(c); v != nil && v.Role == model.RoleHelpdesk {
		return c.Redirect(http.StatusSeeOther, helpdeskHomeURL)
	}
	ctx := c.Request().Context()
	now := h.Now()
	counts, err := h.Store.DashboardCounts(ctx, now, expiringWindow)
	if err != nil {
		return err
	}
	days, err := h.Store.IssuedPerDay(ctx, now, dashboardDays)
	if err != nil {
		return err
	}
	expiring, _, err := h.Store.SearchCertificates(ctx, model.CertificateFilter{State: "expiring", Now: now, ExpiringBefore: now.Add(expiringWindow)}, 1, dashboardExpiring)
	if err != nil {
		return err
	}
	// Soonest first: the list is what to renew next.
	sort.Slice(expiring, func(i, j int) bool { return expiring[i].NotAfter.Before(expiring[j].NotAfter) })
	snap, err := h.Snapshot.Snapshot(ctx)
	if err != nil {
		return err
	}
	return Render(c, http.StatusOK, views.Dashboard(views.DashboardProps{
		Page:     PageFor(c, "Dashboard", "dashboard"),
		Counts:   *counts,
		Days:     days,
		CA:       validity("CA", snap.Authority.CA, now),
		RA:       validity("RA", snap.Authority.RA, now),
		Handlers: len(snap.Config.Handlers),
		Expiring: expiring,
	}))
}

func validity(label string, c *x509.Certificate, now time.Time) views.Validity {
	v := views.Validity{Label: label, Subject: c.Subject.String(), NotAfter: c.NotAfter.UTC(), DaysLeft: int(c.NotAfter.Sub(now).Hours() / 24)}
	v.Warn = c.NotAfter.Sub(now) < authorityWarn
	return v
}
