package store

import (
	"context"
	"fmt"

	"github.com/scepgate/scepgate/model"
	"gorm.io/gorm"
)

// ListRegistrations returns the registrations f selects, newest first, one
// page of perPage, and how many match in all.
func (db *DB) ListRegistrations(ctx context.Context, f model.RegistrationFilter, page, perPage int) ([]model.Registration, int64, error) {
	tx := db.db.WithContext(ctx).Model(&model.Registration{})
	if f.Query != "" {
		g := db.db
		tx = tx.Where(whereContains(g, "subject_cn", f.Query).Or(whereContains(g, "dns_name", f.Query)).
			Or(whereContains(g, "requested_by", f.Query)).Or(whereContains(g, "client_addr", f.Query)))
	}
	if f.State != "" {
		tx = tx.Where("state = ?", f.State)
	}
	if f.HandlerID != 0 {
		tx = tx.Where("handler_id = ?", f.HandlerID)
	}
	if !f.From.IsZero() {
		tx = tx.Where("created_at >= ?", f.From)
	}
	if !f.To.IsZero() {
		tx = tx.Where("created_at < ?", f.To)
	}
	var n int64
	if err := tx.Count(&n).Error; err != nil {
		return nil, 0, translate(err, "Registration")
	}
	var rs []model.Registration
	err := tx.Order("id DESC").Offset((page - 1) * perPage).Limit(perPage).Find(&rs).Error
	return rs, n, translate(err, "Registration")
}

// CancelRegistration cancels registration id if it is still open, with
// audit; otherwise it returns an ECONFLICT error.
func (db *DB) CancelRegistration(ctx context.Context, id int64, audit *model.AuditEvent) error {
	return translate(db.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&model.Registration{}).Where("id = ? AND state = ? AND used_at IS NULL", id, model.StateOpen).Update("state", model.StateCancelled)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return model.Errorf(model.ECONFLICT, "Only an open registration can be cancelled; this one was used, expired or cancelled already.")
		}
		if audit != nil {
			audit.Target = fmt.Sprintf("registration %d", id)
			return addAuditEvent(tx, db.now(), audit)
		}
		return nil
	}), "Registration")
}
