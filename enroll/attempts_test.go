package enroll_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scepgate/scepgate/enroll"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/store"
)

// lookupCounter counts the challenge password lookups.
type lookupCounter struct {
	*store.DB
	lookups atomic.Int64
}

func (l *lookupCounter) FindRegistrationsByChallenge(ctx context.Context, hash string) ([]model.Registration, error) {
	l.lookups.Add(1)
	return l.DB.FindRegistrationsByChallenge(ctx, hash)
}

// TestConcurrentChallengeGuesses: many wrong challenge passwords at once
// from one address get no more lookups than the policy allows; what the
// service answers says which were wrong and which one locked the address.
func TestConcurrentChallengeGuesses(t *testing.T) {
	f := newNDESFixture(t)
	ctx := context.Background()
	pol := model.AttemptPolicy{FreeFailures: 100, LockAfter: 8, LockFor: 15 * time.Minute, Window: 15 * time.Minute}
	lc := &lookupCounter{DB: f.db}
	svc := enroll.NewService(lc, f.mk, enroll.Options{Now: f.clock.Now, Attempts: pol})
	snap, err := svc.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var h *model.Handler
	for i := range snap.Config.Handlers {
		if snap.Config.Handlers[i].Name == "ndesrequest" {
			h = &snap.Config.Handlers[i]
		}
	}
	const n = 64
	var wrong, locks, refused atomic.Int32
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, err := svc.Enroll(ctx, snap, &enroll.Enrollment{Handler: h, CSR: ndesCSR(t, "guess"), Challenge: fmt.Sprintf("guess-%d", i),
				TransactionID: fmt.Sprintf("tx-guess-%d", i), ClientAddr: "203.0.113.9"})
			var r *enroll.Refusal
			if !errors.As(err, &r) {
				t.Errorf("guess %d: %v; want a refusal", i, err)
				return
			}
			switch {
			case r.Locks:
				locks.Add(1)
				wrong.Add(1)
			case r.WrongChallenge:
				wrong.Add(1)
			default:
				refused.Add(1)
			}
		})
	}
	wg.Wait()
	if got := lc.lookups.Load(); got > int64(pol.LockAfter) {
		t.Errorf("%d challenge lookups; want at most %d", got, pol.LockAfter)
	}
	if wrong.Load() != int32(pol.LockAfter) || locks.Load() != 1 || refused.Load() != n-int32(pol.LockAfter) {
		t.Errorf("%d wrong (%d locking), %d refused unlooked; want %d (1), %d", wrong.Load(), locks.Load(), refused.Load(), pol.LockAfter, n-pol.LockAfter)
	}
}
