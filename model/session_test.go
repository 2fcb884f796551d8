package model

import (
	"testing"
	"time"
)

func TestThrottlePolicy(t *testing.T) {
	p := ThrottlePolicy{FreeFailures: 3, Delay: 5 * time.Second, LockAfter: 6, LockFor: 15 * time.Minute, Forget: time.Hour}
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	var th LoginThrottle
	for i := 0; i < 3; i++ {
		p.Fail(&th, t0)
	}
	if w, l := p.Wait(&th, t0); w != 0 || l {
		t.Errorf("ok/free failures: wait %v locked %v, want 0 false", w, l)
	}
	p.Fail(&th, t0)
	if w, l := p.Wait(&th, t0.Add(time.Second)); w != 4*time.Second || l {
		t.Errorf("ok/slowed: wait %v locked %v, want 4s false", w, l)
	}
	if w, _ := p.Wait(&th, t0.Add(5*time.Second)); w != 0 {
		t.Errorf("ok/slowed then allowed: wait %v, want 0", w)
	}
	p.Fail(&th, t0)
	p.Fail(&th, t0)
	if w, l := p.Wait(&th, t0.Add(time.Minute)); w != 14*time.Minute || !l {
		t.Errorf("ok/locked: wait %v locked %v, want 14m true", w, l)
	}
	if w, l := p.Wait(&th, t0.Add(16*time.Minute)); w != 0 || l {
		t.Errorf("ok/lock over: wait %v locked %v, want 0 false", w, l)
	}
	// Old failures are forgotten.
	th = LoginThrottle{Failures: 5, LastFailureAt: t0}
	p.Fail(&th, t0.Add(2*time.Hour))
	if th.Failures != 1 {
		t.Errorf("ok/forget: failures %d, want 1", th.Failures)
	}
}
