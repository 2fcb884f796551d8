package handlers

import (
	"context"
	"errors"
	"runtime"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// PasswordChecker compares passwords with their bcrypt hashes, a few at a
// time. Each comparison costs tens of milliseconds of CPU, so wrong
// passwords sent fast enough would otherwise take the CPU from enrollments;
// a check that cannot start within a short wait is refused with ErrBusy
// rather than queued without bound. The portal's sign-in and the NDES
// handlers' Basic credentials share one.
type PasswordChecker struct {
	slots   chan struct{}
	wait    time.Duration
	compare func(hash, password []byte) error
}

// PasswordCheckerConfig configures NewPasswordChecker; zero values take the
// defaults.
type PasswordCheckerConfig struct {
	// Slots is how many comparisons may run at once: by default half the
	// CPUs Go may use, at least 2.
	Slots int
	// Wait is how long a check waits for a free slot (250 ms by default).
	Wait time.Duration
	// Compare compares a hash and a password (by default
	// bcrypt.CompareHashAndPassword); tests count the calls.
	Compare func(hash, password []byte) error
}

// DefaultPasswordCheckWait is how long a password check waits for a slot
// by default: a few bcrypt comparisons' time.
const DefaultPasswordCheckWait = 250 * time.Millisecond

// ErrBusy means a password could not be checked because as many checks as
// allowed were running: the client should try again in a moment.
var ErrBusy = errors.New("too many password checks at once")

// NewPasswordChecker returns a PasswordChecker configured by cfg.
func NewPasswordChecker(cfg PasswordCheckerConfig) *PasswordChecker {
	if cfg.Slots <= 0 {
		cfg.Slots = max(2, runtime.GOMAXPROCS(0)/2)
	}
	if cfg.Wait <= 0 {
		cfg.Wait = DefaultPasswordCheckWait
	}
	if cfg.Compare == nil {
		cfg.Compare = bcrypt.CompareHashAndPassword
	}
	return &PasswordChecker{slots: make(chan struct{}, cfg.Slots), wait: cfg.Wait, compare: cfg.Compare}
}

// Slots returns how many comparisons may run at once.
func (p *PasswordChecker) Slots() int { return cap(p.slots) }

// Check reports whether password matches hash. It returns ErrBusy when no
// slot came free within the wait, and ctx's error when ctx ended first.
func (p *PasswordChecker) Check(ctx context.Context, hash []byte, password string) (bool, error) {
	select {
	case p.slots <- struct{}{}:
	default:
		t := time.NewTimer(p.wait)
		select {
		case p.slots <- struct{}{}:
			t.Stop()
		case <-t.C:
			return false, ErrBusy
		case <-ctx.Done():
			t.Stop()
			return false, ctx.Err()
		}
	}
	defer func() { <-p.slots }()
	return p.compare(hash, []byte(password)) == nil, nil
}
