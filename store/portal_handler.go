package store

import (
	"context"

	"github.com/scepgate/scepgate/model"
)

// ListHandlers returns the handlers whose name or filter contains q, by
// name, one page of perPage, and how many match in all.
func (db *DB) ListHandlers(ctx context.Context, q string, page, perPage int) ([]model.Handler, int64, error) {
	tx := db.db.WithContext(ctx).Model(&model.Handler{})
	if q != "" {
		tx = tx.Where(whereContains(db.db, "name", q).Or(whereContains(db.db, "filter", q)))
	}
	var n int64
	if err := tx.Count(&n).Error; err != nil {
		return nil, 0, translate(err, "Handler")
	}
	var hs []model.Handler
	err := tx.Order("name").Offset((page - 1) * perPage).Limit(perPage).Find(&hs).Error
	return hs, n, translate(err, "Handler")
}

// FindHandler returns the handler with that id.
func (db *DB) FindHandler(ctx context.Context, id int64) (*model.Handler, error) {
	var h model.Handler
	if err := db.db.WithContext(ctx).Take(&h, id).Error; err != nil {
		return nil, translate(err, "Handler")
	}
	return &h, nil
}
