package store

import (
	"context"
	"time"

	"github.com/scepgate/scepgate/model"
	"gorm.io/gorm"
)

// StartSession records a new sign-in: it inserts s and, when replaces is
// set, removes the session the browser held before (so that each sign-in
// gets a new session id).
func (db *DB) StartSession(ctx context.Context, s *model.Session, replaces string, audit *model.AuditEvent) error {
	return translate(db.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if replaces != "" {
			if err := tx.Where("id_hash = ?", replaces).Delete(&model.Session{}).Error; err != nil {
				return err
			}
		}
		if err := tx.Create(s).Error; err != nil {
			return err
		}
		if audit != nil {
			return addAuditEvent(tx, db.now(), audit)
		}
		return nil
	}), "Session")
}

// FindSession returns the session whose id has that SHA-256, with its user.
func (db *DB) FindSession(ctx context.Context, idHash string) (*model.SessionUser, error) {
	var su model.SessionUser
	g := db.db.WithContext(ctx)
	if err := g.Where("id_hash = ?", idHash).Take(&su.Session).Error; err != nil {
		return nil, translate(err, "Session")
	}
	if err := g.Take(&su.User, su.Session.UserID).Error; err != nil {
		return nil, translate(err, "Session")
	}
	return &su, nil
}

// TouchSession records that the session was used at at.
func (db *DB) TouchSession(ctx context.Context, idHash string, at time.Time) error {
	err := db.db.WithContext(ctx).Model(&model.Session{}).Where("id_hash = ?", idHash).Update("last_seen_at", at).Error
	return translate(err, "Session")
}

// EndSession removes the session whose id has that SHA-256; audit, when
// set, is recorded with it.
func (db *DB) EndSession(ctx context.Context, idHash string, audit *model.AuditEvent) error {
	return translate(db.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("id_hash = ?", idHash).Delete(&model.Session{}).Error; err != nil {
			return err
		}
		if audit != nil {
			return addAuditEvent(tx, db.now(), audit)
		}
		return nil
	}), "Session")
}

// DeleteStaleSessions removes sessions last used before idleBefore or
// created before createdBefore, and returns how many it removed.
func (db *DB) DeleteStaleSessions(ctx context.Context, idleBefore, createdBefore time.Time) (int64, error) {
	res := db.db.WithContext(ctx).Where("last_seen_at < ? OR created_at < ?", idleBefore, createdBefore).Delete(&model.Session{})
	return res.RowsAffected, translate(res.Error, "Session")
}
