package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/scepgate/scepgate/model"
)

func TestSessionLifecycle(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	db := openTestDB(t, &now)
	u := testUser(t, db, "alice", model.RoleAdmin)

	s := &model.Session{IDHash: "h1", UserID: u.ID, CSRFToken: "tok", CreatedAt: now, LastSeenAt: now}
	if err := db.StartSession(ctx, s, "", &model.AuditEvent{Actor: "alice", Action: "user.signin"}); err != nil {
		t.Fatalf("start: %v", err)
	}
	got, err := db.FindSession(ctx, "h1")
	if err != nil {
		t.Fatalf("find: %v", err)
	}
	if got.User.Username != "alice" || got.Session.CSRFToken != "tok" || !got.Session.CreatedAt.Equal(now) {
		t.Errorf("found %+v, want alice's session with token tok created %v", got, now)
	}

	later := now.Add(10 * time.Minute)
	if err := db.TouchSession(ctx, "h1", later); err != nil {
		t.Fatalf("touch: %v", err)
	}
	if got, _ = db.FindSession(ctx, "h1"); !got.Session.LastSeenAt.Equal(later) {
		t.Errorf("last seen %v, want %v", got.Session.LastSeenAt, later)
	}

	// A new sign-in from the same browser replaces the old session.
	s2 := &model.Session{IDHash: "h2", UserID: u.ID, CSRFToken: "tok2", CreatedAt: later, LastSeenAt: later}
	if err := db.StartSession(ctx, s2, "h1", nil); err != nil {
		t.Fatalf("start again: %v", err)
	}
	if _, err := db.FindSession(ctx, "h1"); model.ErrorCode(err) != model.ENOTFOUND {
		t.Errorf("old session: got %v, want not found", err)
	}

	if err := db.EndSession(ctx, "h2", &model.AuditEvent{Actor: "alice", Action: "user.signout"}); err != nil {
		t.Fatalf("end: %v", err)
	}
	if _, err := db.FindSession(ctx, "h2"); model.ErrorCode(err) != model.ENOTFOUND {
		t.Errorf("ended session: got %v, want not found", err)
	}
}

func TestDeleteStaleSessions(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	db := openTestDB(t, &now)
	u := testUser(t, db, "bob", model.RoleHelpdesk)
	for _, s := range []model.Session{
		{IDHash: "fresh", CreatedAt: now.Add(-time.Hour), LastSeenAt: now.Add(-time.Minute)},
		{IDHash: "idle", CreatedAt: now.Add(-time.Hour), LastSeenAt: now.Add(-31 * time.Minute)},
		{IDHash: "old", CreatedAt: now.Add(-13 * time.Hour), LastSeenAt: now},
	} {
		s.UserID, s.CSRFToken = u.ID, "t"
		if err := db.StartSession(ctx, &s, "", nil); err != nil {
			t.Fatalf("start %s: %v", s.IDHash, err)
		}
	}
	n, err := db.DeleteStaleSessions(ctx, now.Add(-30*time.Minute), now.Add(-12*time.Hour))
	if err != nil || n != 2 {
		t.Fatalf("deleted %d, %v; want 2, nil", n, err)
	}
	if _, err := db.FindSession(ctx, "fresh"); err != nil {
		t.Errorf("fresh session: %v, want kept", err)
	}
}
