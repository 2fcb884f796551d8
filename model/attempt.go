package model

import "time"

// AttemptKeyPurpose names the master-key sub-key that user names are
// hashed under for the portal's attempt counts.
const AttemptKeyPurpose = "attempts"

// AttemptKind names a door that takes passwords, and so what the key of
// its attempts is.
type AttemptKind string

// The doors whose attempts are counted.
const (
	// AttemptPortal: the portal's sign-in; the key is the keyed hash of the
	// user name, "|", the client address.
	AttemptPortal AttemptKind = "portal"
	// AttemptPortalUser: the portal's sign-in, by user name alone (its keyed
	// hash), with a higher threshold: one address cannot lock an account
	// for everyone, but a guess spread over many addresses still locks it.
	AttemptPortalUser AttemptKind = "portal-user"
	// AttemptNDES: HTTP Basic credentials at NDES challenge handlers; the
	// key is the client address.
	AttemptNDES AttemptKind = "ndes"
	// AttemptSCEP: challenge passwords at SCEP handlers; the key is the
	// client address.
	AttemptSCEP AttemptKind = "scep"
	// AttemptAPI: bearer tokens of the JSON API; the key is the client
	// address.
	AttemptAPI AttemptKind = "api"
)

// Attempts is what the database remembers of the recent attempts of one
// key at one door. An attempt is counted before its password is checked,
// so that concurrent guesses cannot all be checked; a success clears the
// count. Attempts refused while the key is locked are counted too.
type Attempts struct {
	Kind           AttemptKind
	Key            string
	Failures       int // attempts counted in the current window
	FirstFailureAt time.Time
	LastFailureAt  time.Time
	LockedUntil    *time.Time // set by the attempt that reaches LockAfter
}

// TableName is the table of attempts.
func (Attempts) TableName() string { return "attempts" }

// AttemptPolicy says how the attempts of one key at one door are slowed
// down and then refused.
type AttemptPolicy struct {
	FreeFailures int           // attempts answered without waiting
	Delay        time.Duration // each further attempt waits this much more before it is checked
	MaxDelay     time.Duration // and never more than this (0: no bound)
	LockAfter    int           // the attempt that reaches this count is the last one checked
	LockFor      time.Duration // how long the key is then refused
	Window       time.Duration // a count older than this starts again
}

// Default attempt policies, as README describes them.
var (
	// DefaultPortalAttempts: per user name and address, attempts after
	// the 3rd wait 5 s more each (at most 30 s); the 10th locks for 15
	// minutes.
	DefaultPortalAttempts = AttemptPolicy{FreeFailures: 3, Delay: 5 * time.Second, MaxDelay: 30 * time.Second,
		LockAfter: 10, LockFor: 15 * time.Minute, Window: time.Hour}
	// DefaultPortalUserAttempts: per user name from any address, the 50th
	// attempt within an hour locks it for 15 minutes.
	DefaultPortalUserAttempts = AttemptPolicy{FreeFailures: 50, LockAfter: 50, LockFor: 15 * time.Minute, Window: time.Hour}
	// DefaultNDESAttempts: per client address, attempts after the 3rd
	// within 15 minutes wait 250 ms more each (at most 2 s); the 10th
	// locks for 5 minutes.
	DefaultNDESAttempts = AttemptPolicy{FreeFailures: 3, Delay: 250 * time.Millisecond, MaxDelay: 2 * time.Second,
		LockAfter: 10, LockFor: 5 * time.Minute, Window: 15 * time.Minute}
	// DefaultSCEPAttempts: per client address, challenge passwords after
	// the 5th within 15 minutes wait 500 ms more each (at most 5 s); the
	// 20th locks for 15 minutes.
	DefaultSCEPAttempts = AttemptPolicy{FreeFailures: 5, Delay: 500 * time.Millisecond, MaxDelay: 5 * time.Second,
		LockAfter: 20, LockFor: 15 * time.Minute, Window: 15 * time.Minute}
)

// OrDefault returns p, or def when p is the zero policy.
func (p AttemptPolicy) OrDefault(def AttemptPolicy) AttemptPolicy {
	if p == (AttemptPolicy{}) {
		return def
	}
	return p
}

// AttemptPolicies are the policies of every door.
type AttemptPolicies struct {
	Portal, PortalUser, NDES, SCEP AttemptPolicy
}

// DefaultAttemptPolicies returns the default policy of every door.
func DefaultAttemptPolicies() AttemptPolicies { return AttemptPolicies{}.OrDefaults() }

// OrDefaults returns p with each zero policy replaced by its default.
func (p AttemptPolicies) OrDefaults() AttemptPolicies {
	return AttemptPolicies{
		Portal:     p.Portal.OrDefault(DefaultPortalAttempts),
		PortalUser: p.PortalUser.OrDefault(DefaultPortalUserAttempts),
		NDES:       p.NDES.OrDefault(DefaultNDESAttempts),
		SCEP:       p.SCEP.OrDefault(DefaultSCEPAttempts),
	}
}

// Verdict says what an attempt just counted in a (at now) may do.
func (p AttemptPolicy) Verdict(a Attempts, now time.Time) AttemptVerdict {
	v := AttemptVerdict{Count: a.Failures, Since: a.FirstFailureAt}
	if a.LockedUntil != nil && now.Before(*a.LockedUntil) {
		v.RetryAfter = a.LockedUntil.Sub(now)
		if a.Failures != p.LockAfter {
			v.Refused = true
			return v
		}
		v.Locks = true
	}
	if n := a.Failures - p.FreeFailures; n > 0 && p.Delay > 0 {
		v.Delay = time.Duration(n) * p.Delay
		if p.MaxDelay > 0 {
			v.Delay = min(v.Delay, p.MaxDelay)
		}
	}
	return v
}

// AttemptVerdict is what an attempt may do, once counted.
type AttemptVerdict struct {
	Count int       // attempts counted in the window, this one included
	Since time.Time // when the window began
	// Refused: the key is locked; refuse the attempt without checking it.
	Refused bool
	// Locks: this attempt is the last one checked; when it fails, the key
	// stays locked for RetryAfter (when it succeeds, the count is cleared).
	Locks bool
	// RetryAfter is how long the lock lasts, with Refused or Locks.
	RetryAfter time.Duration
	// Delay is how long to wait before checking the attempt.
	Delay time.Duration
}
