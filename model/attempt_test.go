package model

import (
	"testing"
	"time"
)

func TestAttemptPolicyVerdict(t *testing.T) {
	p := AttemptPolicy{FreeFailures: 3, Delay: 5 * time.Second, MaxDelay: 8 * time.Second, LockAfter: 6, LockFor: 15 * time.Minute, Window: time.Hour}
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	locked := t0.Add(15 * time.Minute)
	tests := []struct {
		name string
		a    Attempts
		now  time.Time
		want AttemptVerdict
	}{
		{"ok/free", Attempts{Failures: 3, FirstFailureAt: t0}, t0, AttemptVerdict{Count: 3, Since: t0}},
		{"ok/slowed", Attempts{Failures: 4, FirstFailureAt: t0}, t0, AttemptVerdict{Count: 4, Since: t0, Delay: 5 * time.Second}},
		{"ok/slowed at most MaxDelay", Attempts{Failures: 5, FirstFailureAt: t0}, t0, AttemptVerdict{Count: 5, Since: t0, Delay: 8 * time.Second}},
		{"ok/the attempt that locks is checked", Attempts{Failures: 6, FirstFailureAt: t0, LockedUntil: &locked}, t0,
			AttemptVerdict{Count: 6, Since: t0, Locks: true, RetryAfter: 15 * time.Minute, Delay: 8 * time.Second}},
		{"fail/locked", Attempts{Failures: 7, FirstFailureAt: t0, LockedUntil: &locked}, t0.Add(time.Minute),
			AttemptVerdict{Count: 7, Since: t0, Refused: true, RetryAfter: 14 * time.Minute}},
		{"fail/locked below the threshold (a policy changed)", Attempts{Failures: 2, FirstFailureAt: t0, LockedUntil: &locked}, t0,
			AttemptVerdict{Count: 2, Since: t0, Refused: true, RetryAfter: 15 * time.Minute}},
		{"ok/lock over", Attempts{Failures: 1, FirstFailureAt: locked, LockedUntil: &locked}, locked,
			AttemptVerdict{Count: 1, Since: locked}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := p.Verdict(tt.a, tt.now); got != tt.want {
				t.Errorf("Verdict = %+v, want %+v", got, tt.want)
			}
		})
	}
}
