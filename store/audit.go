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

func (db *DB) auditQuery(ctx context.Context, f model.AuditFilter) *gorm.DB {
	tx := db.db.WithContext(ctx).Model(&model.AuditEvent{})
	if f.Query != "" {
		g := db.db
		tx = tx.Where(whereContains(g, "actor", f.Query).Or(whereContains(g, "action", f.Query)).
			Or(whereContains(g, "target", f.Query)).Or(whereContains(g, "detail", f.Query)).Or(whereContains(g, "client_addr", f.Query)))
	}
	if !f.From.IsZero() {
		tx = tx.Where("at >= ?", f.From)
	}
	if !f.To.IsZero() {
		tx = tx.Where("at < ?", f.To)
	}
	return tx
}

// SearchAuditEvents returns the audit events f selects, newest first, one
// page of perPage, and how many match in all.
func (db *DB) SearchAuditEvents(ctx context.Context, f model.AuditFilter, page, perPage int) ([]model.AuditEvent, int64, error) {
	tx := db.auditQuery(ctx, f)
	var n int64
	if err := tx.Count(&n).Error; err != nil {
		return nil, 0, translate(err, "Audit event")
	}
	var es []model.AuditEvent
	err := tx.Order("id DESC").Offset((page - 1) * perPage).Limit(perPage).Find(&es).Error
	return es, n, translate(err, "Audit event")
}

// EachAuditEvent calls fn with every audit event f selects, newest first,
// reading in batches so that any number can be exported.
func (db *DB) EachAuditEvent(ctx context.Context, f model.AuditFilter, fn func(*model.AuditEvent) error) error {
	const batch = 500
	var last int64
	for {
		tx := db.auditQuery(ctx, f)
		if last != 0 {
			tx = tx.Where("id < ?", last)
		}
		var es []model.AuditEvent
		if err := tx.Order("id DESC").Limit(batch).Find(&es).Error; err != nil {
			return translate(err, "Audit event")
		}
		for i := range es {
			if err := fn(&es[i]); err != nil {
				return err
			}
		}
		if len(es) < batch {
			return nil
		}
		last = es[len(es)-1].ID
	}
}
