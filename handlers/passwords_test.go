package handlers

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestPasswordCheckerBounds checks that no more comparisons run at once
// than there are slots, and that checks finding no slot within the wait
// are refused with ErrBusy instead of queueing.
func TestPasswordCheckerBounds(t *testing.T) {
	var running, most atomic.Int32
	release := make(chan struct{})
	p := NewPasswordChecker(PasswordCheckerConfig{Slots: 2, Wait: 20 * time.Millisecond, Compare: func(hash, pw []byte) error {
		n := running.Add(1)
		defer running.Add(-1)
		for {
			m := most.Load()
			if n <= m || most.CompareAndSwap(m, n) {
				break
			}
		}
		<-release
		return nil
	}})
	const clients = 16
	var wg sync.WaitGroup
	var busy, checked atomic.Int32
	for range clients {
		wg.Go(func() {
			ok, err := p.Check(context.Background(), nil, "pw")
			switch {
			case errors.Is(err, ErrBusy):
				busy.Add(1)
			case err != nil:
				t.Error(err)
			case ok:
				checked.Add(1)
			}
		})
	}
	// Those without a slot give up after the wait; then the two holding
	// one finish.
	deadline := time.Now().Add(5 * time.Second)
	for busy.Load() < clients-2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	close(release)
	wg.Wait()
	if got := most.Load(); got != 2 {
		t.Errorf("at most %d comparisons at once, want 2 (the slots)", got)
	}
	if busy.Load() != clients-2 || checked.Load() != 2 {
		t.Errorf("%d checked, %d busy; want 2 and %d", checked.Load(), busy.Load(), clients-2)
	}
	if ok, err := p.Check(context.Background(), nil, "pw"); !ok || err != nil {
		t.Errorf("a check once the slots are free: %v, %v; want true, nil", ok, err)
	}
}

func TestPasswordCheckerDefaults(t *testing.T) {
	if got := NewPasswordChecker(PasswordCheckerConfig{}).Slots(); got < 2 {
		t.Errorf("default slots %d, want at least 2", got)
	}
}
