package store

import (
	"context"
	"time"

	"github.com/scepgate/scepgate/model"
	"gorm.io/gorm"
)

// CreateToken inserts t, with audit. A name that a token not revoked
// already has is an ECONFLICT error.
func (db *DB) CreateToken(ctx context.Context, t *model.Token, audit *model.AuditEvent) error {
	return translate(db.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&model.Token{}).Where("name = ? AND revoked_at IS NULL", t.Name).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return model.Errorf(model.ECONFLICT, "There is already a token named %s. Choose another name, or revoke that token first.", quote(t.Name))
		}
		t.ID = 0
		if err := tx.Create(t).Error; err != nil {
			return err
		}
		if audit != nil {
			return addAuditEvent(tx, db.now(), audit)
		}
		return nil
	}), "Token "+quote(t.Name))
}

// FindTokenByHash returns the token with that keyed hash, revoked or not.
func (db *DB) FindTokenByHash(ctx context.Context, hash string) (*model.Token, error) {
	var t model.Token
	if err := db.db.WithContext(ctx).Where("hash = ?", hash).Take(&t).Error; err != nil {
		return nil, translate(err, "Token")
	}
	return &t, nil
}

// ListTokens returns every token, the ones not revoked first, by name.
func (db *DB) ListTokens(ctx context.Context) ([]model.Token, error) {
	var ts []model.Token
	err := db.db.WithContext(ctx).Order("revoked_at IS NOT NULL, name, id").Find(&ts).Error
	return ts, translate(err, "Token")
}

// RevokeToken revokes the token named name that is not revoked yet, with
// audit, and returns it.
func (db *DB) RevokeToken(ctx context.Context, name string, audit *model.AuditEvent) (*model.Token, error) {
	var t model.Token
	err := db.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("name = ? AND revoked_at IS NULL", name).Take(&t).Error; err != nil {
			return err
		}
		now := db.now()
		if err := tx.Model(&model.Token{}).Where("id = ?", t.ID).Update("revoked_at", now).Error; err != nil {
			return err
		}
		t.RevokedAt = &now
		if audit != nil {
			return addAuditEvent(tx, now, audit)
		}
		return nil
	})
	if err != nil {
		return nil, translate(err, "Token "+quote(name))
	}
	return &t, nil
}

// TouchToken records that token id was used at at.
func (db *DB) TouchToken(ctx context.Context, id int64, at time.Time) error {
	return translate(db.db.WithContext(ctx).Model(&model.Token{}).Where("id = ?", id).Update("last_used_at", at).Error, "Token")
}
