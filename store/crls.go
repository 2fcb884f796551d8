package store

import (
	"context"

	"github.com/scepgate/scepgate/model"
	"gorm.io/gorm/clause"
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

// SaveCRL stores c unless a CRL with its number exists (another process made
// it first); either way it returns the newest CRL.
func (db *DB) SaveCRL(ctx context.Context, c *model.CRL) (*model.CRL, error) {
	err := db.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(c).Error
	if err != nil {
		return nil, translate(err, "CRL")
	}
	return db.LatestCRL(ctx, c.AuthorityID)
}
