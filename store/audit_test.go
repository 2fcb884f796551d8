package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/scepgate/scepgate/model"
)

func TestAuditEvents(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)
	db := openTestDB(t, &now)
	if err := db.AddAuditEvent(ctx, &model.AuditEvent{Actor: "system", Action: "user.create"}); err != nil {
		t.Fatal(err)
	}
	for i := range 1203 {
		_ = db.AddAuditEvent(ctx, &model.AuditEvent{Actor: "bulk", Action: fmt.Sprintf("bulk.%d", i)})
	}
	var n int
	var prev int64
	err := db.EachAuditEvent(ctx, model.AuditFilter{Query: "bulk"}, func(e *model.AuditEvent) error {
		if prev != 0 && e.ID >= prev {
			t.Fatalf("events out of order: %d after %d", e.ID, prev)
		}
		prev = e.ID
		n++
		return nil
	})
	if err != nil || n != 1203 {
		t.Errorf("exported %d, %v; want 1203", n, err)
	}
	if _, total, err := db.SearchAuditEvents(ctx, model.AuditFilter{Query: "user.create"}, 1, 10); err != nil || total != 1 {
		t.Errorf("search: %d, %v; want 1", total, err)
	}
}
