package model

import "time"

// DashboardCounts are the numbers the portal's dashboard shows.
type DashboardCounts struct {
	CertificatesActive   int64
	CertificatesExpiring int64 // active and ending within the expiry window
	CertificatesRevoked  int64
	RegistrationsOpen    int64
	ApprovalsPending     int64
}

// DayCount is a number of events on one UTC day.
type DayCount struct {
	Day   time.Time
	Count int
}

// RegistrationFilter selects registrations for the portal's list.
type RegistrationFilter struct {
	Query     string // in subject, DNS name, requester or client address
	State     string
	HandlerID int64
	From, To  time.Time // creation time, To exclusive; zero is open
}

// CertificateFilter selects certificates for the portal's list.
type CertificateFilter struct {
	Query string // in subject, SANs or serial
	State string // active, revoked, or expiring (active and ending before ExpiringBefore)
	// Now and ExpiringBefore bound "expiring"; Now also excludes ended
	// certificates from "active".
	Now, ExpiringBefore time.Time
}

// AuditFilter selects audit events.
type AuditFilter struct {
	Query    string    // in actor, action, target, detail or client address
	From, To time.Time // To exclusive; zero is open
}
