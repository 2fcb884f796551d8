package store

import (
	"context"

	"github.com/scepgate/scepgate/model"
)

// LatestCRL returns the newest CRL of CA authorityID.
func (db *DB) LatestCRL(ctx context.Context, authorityID int64) (*model.CRL, error) {
	var c model.CRL
	err := db.db.WithContext(ctx).Where("authority_id = ?", authorityID).Order("number DESC").Take(&c).Error
	if err != nil {
		return nil, translate(err, "CRL")
	}
	return &c, nil
}

// SaveCRL stores c. When its CA already has a CRL of that number (another
// process signed one first) nothing is stored and the error is ECONFLICT:
// CRL numbers are unique per CA by constraint.
func (db *DB) SaveCRL(ctx context.Context, c *model.CRL) error {
	c.ID = 0
	return translate(db.db.WithContext(ctx).Create(c).Error, "CRL number")
}
