package store_test

import (
	"context"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/scepgate/scepgate/internal/testclock"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/store"
)

var testAttempts = model.AttemptPolicy{FreeFailures: 2, Delay: time.Second, MaxDelay: 3 * time.Second, LockAfter: 5, LockFor: 10 * time.Minute, Window: time.Hour}

func TestCountAttempt(t *testing.T) {
	ctx := context.Background()
	clock := testclock.New(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
	db, err := store.Open(ctx, testDSN(t), clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	count := func(key string) model.AttemptVerdict {
		t.Helper()
		v, err := db.CountAttempt(ctx, model.AttemptNDES, key, testAttempts)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	t0 := clock.Now()
	for i, want := range []model.AttemptVerdict{
		{Count: 1, Since: t0},
		{Count: 2, Since: t0},
		{Count: 3, Since: t0, Delay: time.Second},
		{Count: 4, Since: t0, Delay: 2 * time.Second},
		{Count: 5, Since: t0, Delay: 3 * time.Second, Locks: true, RetryAfter: 10 * time.Minute},
		{Count: 6, Since: t0, Refused: true, RetryAfter: 10 * time.Minute},
	} {
		if got := count("192.0.2.1"); got != want {
			t.Errorf("attempt %d: %+v, want %+v", i+1, got, want)
		}
	}
	if got := count("192.0.2.2"); got.Count != 1 || got.Refused {
		t.Errorf("ok/another key: %+v, want a first attempt", got)
	}
	if got, err := db.CountAttempt(ctx, model.AttemptSCEP, "192.0.2.1", testAttempts); err != nil || got.Count != 1 || got.Refused {
		t.Errorf("ok/another door, same key: %+v, %v; want a first attempt", got, err)
	}
	clock.Add(time.Minute)
	if got, err := db.LookupAttempts(ctx, model.AttemptNDES, "192.0.2.1"); err != nil || got.Count != 6 || !got.Refused || got.RetryAfter != 9*time.Minute {
		t.Errorf("lookup while locked: %+v, %v; want 6 refused for 9m", got, err)
	}
	if got := count("192.0.2.1"); !got.Refused || got.RetryAfter != 9*time.Minute {
		t.Errorf("fail/still locked: %+v, want refused for 9m", got)
	}

	// The lock ends: the count starts again.
	clock.Add(9 * time.Minute)
	if got := count("192.0.2.1"); got.Count != 1 || got.Refused || got.Locks {
		t.Errorf("ok/lock over: %+v, want a first attempt", got)
	}
	// So does a window that has passed.
	count("192.0.2.1")
	clock.Add(testAttempts.Window)
	if got := count("192.0.2.1"); got.Count != 1 {
		t.Errorf("ok/window over: %+v, want a first attempt", got)
	}

	// Clear forgets; lookup of nothing is nothing.
	if err := db.ClearAttempts(ctx, model.AttemptNDES, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	if got, err := db.LookupAttempts(ctx, model.AttemptNDES, "192.0.2.1"); err != nil || got != (model.AttemptVerdict{}) {
		t.Errorf("lookup after clear: %+v, %v; want nothing", got, err)
	}
}

func TestForgiveAttempt(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	db := openTestDB(t, &now)
	for range testAttempts.LockAfter {
		if _, err := db.CountAttempt(ctx, model.AttemptPortal, "k", testAttempts); err != nil {
			t.Fatal(err)
		}
	}
	// The attempt that locked was never checked: giving it back lifts the lock.
	if err := db.ForgiveAttempt(ctx, model.AttemptPortal, "k", testAttempts); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.LookupAttempts(ctx, model.AttemptPortal, "k"); got.Count != testAttempts.LockAfter-1 || got.Refused {
		t.Errorf("after forgiving the locking attempt: %+v, want %d, not locked", got, testAttempts.LockAfter-1)
	}
	if got, _ := db.CountAttempt(ctx, model.AttemptPortal, "k", testAttempts); !got.Locks {
		t.Errorf("the next attempt: %+v, want the one that locks", got)
	}
	if err := db.ForgiveAttempt(ctx, model.AttemptPortal, "nothing", testAttempts); err != nil {
		t.Errorf("forgive nothing: %v", err)
	}
}

// TestCountAttemptConcurrent checks that concurrent attempts, through two
// handles on one database as two instances would have, each get their own
// count: exactly LockAfter are let through, one of them the last.
func TestCountAttemptConcurrent(t *testing.T) {
	ctx := context.Background()
	clock := testclock.New(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
	dsn := testDSN(t)
	var dbs []*store.DB
	for range 2 {
		db, err := store.Open(ctx, dsn, clock.Now)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		dbs = append(dbs, db)
	}
	const n = 60
	var (
		mu     sync.Mutex
		counts []int
		locks  int
		passed int
	)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			v, err := dbs[i%2].CountAttempt(ctx, model.AttemptSCEP, "198.51.100.7", testAttempts)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			defer mu.Unlock()
			counts = append(counts, v.Count)
			if !v.Refused {
				passed++
			}
			if v.Locks {
				locks++
			}
		})
	}
	wg.Wait()
	sort.Ints(counts)
	for i, c := range counts {
		if c != i+1 {
			t.Fatalf("counts %v, want 1 to %d each once", counts, n)
		}
	}
	if passed != testAttempts.LockAfter || locks != 1 {
		t.Errorf("%d attempts let through, %d of them locking; want %d and 1", passed, locks, testAttempts.LockAfter)
	}
}

func TestDeleteStaleAttempts(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	db := openTestDB(t, &now)
	long := testAttempts
	long.LockFor = 48 * time.Hour
	for _, key := range []string{"old", "locked"} {
		p := testAttempts
		if key == "locked" {
			p = long
		}
		for range p.LockAfter {
			if _, err := db.CountAttempt(ctx, model.AttemptPortal, key, p); err != nil {
				t.Fatal(err)
			}
		}
	}
	now = now.Add(25 * time.Hour)
	if _, err := db.CountAttempt(ctx, model.AttemptPortal, "new", testAttempts); err != nil {
		t.Fatal(err)
	}
	n, err := db.DeleteStaleAttempts(ctx, now.Add(-24*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("deleted %d, %v; want 1 (old), nil", n, err)
	}
	for key, want := range map[string]int{"old": 0, "locked": testAttempts.LockAfter, "new": 1} {
		if got, _ := db.LookupAttempts(ctx, model.AttemptPortal, key); got.Count != want {
			t.Errorf("%s: count %d, want %d", key, got.Count, want)
		}
	}
}
