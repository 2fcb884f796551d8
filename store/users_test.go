package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/store"
)

func testUser(t *testing.T, db *store.DB, name, role string) *model.User {
	t.Helper()
	u := &model.User{Username: name, PasswordHash: "x", Role: role}
	if err := db.AddUser(context.Background(), u, nil); err != nil {
		t.Fatalf("create user %s: %v", name, err)
	}
	return u
}

func TestUsers(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)
	db := openTestDB(t, &now)
	a := &model.User{Username: "root", PasswordHash: "x", Role: model.RoleAdmin}
	if err := db.AddUser(ctx, a, &model.AuditEvent{Actor: "system", Action: "user.create"}); err != nil {
		t.Fatal(err)
	}
	if err := db.AddUser(ctx, &model.User{Username: "root", PasswordHash: "x", Role: model.RoleAdmin}, nil); model.ErrorCode(err) != model.ECONFLICT {
		t.Errorf("fail/duplicate user: %v, want conflict", err)
	}
	yes := true
	if err := db.ChangeUser(ctx, a.ID, model.UserChange{Disabled: &yes}, nil); model.ErrorCode(err) != model.ECONFLICT {
		t.Errorf("fail/disable the last admin: %v, want conflict", err)
	}
	if u, _ := db.FindUser(ctx, a.ID); u.Disabled {
		t.Errorf("the refused change was kept")
	}
	if err := db.StartSession(ctx, &model.Session{IDHash: "s", UserID: a.ID, CSRFToken: "t", CreatedAt: now, LastSeenAt: now}, "", nil); err != nil {
		t.Fatal(err)
	}
	if err := db.ChangeUser(ctx, a.ID, model.UserChange{PasswordHash: "y"}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := db.FindSession(ctx, "s"); model.ErrorCode(err) != model.ENOTFOUND {
		t.Errorf("session after password reset: %v, want ended", err)
	}

}
