package store

import (
	"context"
	"time"

	"github.com/scepgate/scepgate/model"
	"gorm.io/gorm"
)

// AddAuditEvent records e; its time is the store's clock.
func (db *DB) AddAuditEvent(ctx context.Context, e *model.AuditEvent) error {
	return translate(addAuditEvent(db.db.WithContext(ctx), db.now(), e), "Audit event")
}

func addAuditEvent(tx *gorm.DB, now time.Time, e *model.AuditEvent) error {
	e.ID, e.At = 0, now
	return tx.Create(e).Error
}

// ListAuditEvents returns the newest audit events first, at most limit.
func (db *DB) ListAuditEvents(ctx context.Context, limit int) ([]model.AuditEvent, error) {
	var events []model.AuditEvent
	err := db.db.WithContext(ctx).Order("id DESC").Limit(limit).Find(&events).Error
	return events, translate(err, "Audit event")
}
