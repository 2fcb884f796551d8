package model

import "time"

// Session is one sign-in to the portal. The session id itself lives only in
// the browser's cookie; the database keeps its SHA-256.
type Session struct {
	IDHash     string `gorm:"primaryKey;column:id_hash"` // hex SHA-256 of the session id
	UserID     int64
	CSRFToken  string `gorm:"column:csrf_token"` // every form of the session carries it
	CreatedAt  time.Time
	LastSeenAt time.Time
	ClientAddr string
	UserAgent  string
}

// SessionUser is a session with the user it belongs to.
type SessionUser struct {
	Session Session
	User    User
}

// LoginThrottle counts the failed sign-ins of one user name.
type LoginThrottle struct {
	Username      string `gorm:"primaryKey"`
	Failures      int
	LastFailureAt time.Time
	LockedUntil   *time.Time
}

// TableName is the table of login throttles.
func (LoginThrottle) TableName() string { return "login_throttles" }

// ValidRole reports whether role is one of the portal roles.
func ValidRole(role string) bool {
	return role == RoleAdmin || role == RoleHelpdesk || role == RoleAuditor
}

// ThrottlePolicy says how failed sign-ins of one user name slow down and
// then lock further attempts.
type ThrottlePolicy struct {
	FreeFailures int           // failures allowed before attempts are slowed
	Delay        time.Duration // wait after each failure beyond FreeFailures
	LockAfter    int           // failures that lock the user name
	LockFor      time.Duration // how long a lock lasts
	Forget       time.Duration // failures older than this no longer count
}

// DefaultThrottlePolicy slows sign-ins after 3 failures (5 s, 10 s, ...)
// and locks the user name for 15 minutes after 10.
var DefaultThrottlePolicy = ThrottlePolicy{FreeFailures: 3, Delay: 5 * time.Second, LockAfter: 10, LockFor: 15 * time.Minute, Forget: time.Hour}

// Fail updates t for one more failure at now.
func (p ThrottlePolicy) Fail(t *LoginThrottle, now time.Time) {
	if t.Failures > 0 && now.Sub(t.LastFailureAt) > p.Forget && (t.LockedUntil == nil || !now.Before(*t.LockedUntil)) {
		t.Failures = 0
	}
	t.Failures++
	t.LastFailureAt = now
	t.LockedUntil = nil
	if t.Failures >= p.LockAfter {
		until := now.Add(p.LockFor)
		t.LockedUntil = &until
		t.Failures = 0 // after the lock, the count starts again
	}
}

// Wait returns how long the user name of t must wait before the next
// sign-in attempt at now, and whether it is locked rather than slowed.
func (p ThrottlePolicy) Wait(t *LoginThrottle, now time.Time) (wait time.Duration, locked bool) {
	if t == nil {
		return 0, false
	}
	if t.LockedUntil != nil && now.Before(*t.LockedUntil) {
		return t.LockedUntil.Sub(now), true
	}
	if t.Failures <= p.FreeFailures || now.Sub(t.LastFailureAt) > p.Forget {
		return 0, false
	}
	next := t.LastFailureAt.Add(time.Duration(t.Failures-p.FreeFailures) * p.Delay)
	if now.Before(next) {
		return next.Sub(now), false
	}
	return 0, false
}

// UserChange is one change to a user account.
type UserChange struct {
	Role         string // "" keeps the role
	Disabled     *bool  // nil keeps the state
	PasswordHash string // "" keeps the password
}
