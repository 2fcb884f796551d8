package store

import (
	"context"
	"errors"
	"time"

	"github.com/scepgate/scepgate/model"
	"gorm.io/gorm"
)

// StartSession records a new sign-in: it inserts s, forgets the failed
// sign-ins of username and, when replaces is set, removes the session the
// browser held before (so that each sign-in gets a new session id).
func (db *DB) StartSession(ctx context.Context, s *model.Session, username, replaces string, audit *model.AuditEvent) error {
	return translate(db.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if replaces != "" {
			if err := tx.Where("id_hash = ?", replaces).Delete(&model.Session{}).Error; err != nil {
				return err
			}
		}
		if err := tx.Where("username = ?", username).Delete(&model.LoginThrottle{}).Error; err != nil {
			return err
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

// LoginThrottle returns the failed sign-ins recorded for username; a zero
// LoginThrottle when there are none.
func (db *DB) LoginThrottle(ctx context.Context, username string) (*model.LoginThrottle, error) {
	var t model.LoginThrottle
	err := db.db.WithContext(ctx).Where("username = ?", username).Take(&t).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return &model.LoginThrottle{Username: username}, nil
	}
	if err != nil {
		return nil, translate(err, "Login throttle")
	}
	return &t, nil
}

// throttleRetention is how long failed sign-ins of a name are kept once
// they no longer lock it.
const throttleRetention = 24 * time.Hour

// RecordLoginFailure applies fail to the failed sign-ins of username and
// stores the result, with audit, in one transaction.
func (db *DB) RecordLoginFailure(ctx context.Context, username string, fail func(*model.LoginThrottle), audit *model.AuditEvent) (*model.LoginThrottle, error) {
	var t model.LoginThrottle
	err := db.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		err := tx.Where("username = ?", username).Take(&t).Error
		found := err == nil
		if err != nil && !errors.Is(err, gorm.ErrRecordNotFound) {
			return err
		}
		// Forget old failures of any name, so that guessing many names
		// cannot grow the table without bound.
		now := db.now()
		if err := tx.Where("username <> ? AND last_failure_at < ? AND (locked_until IS NULL OR locked_until < ?)",
			username, now.Add(-throttleRetention), now).Delete(&model.LoginThrottle{}).Error; err != nil {
			return err
		}
		t.Username = username
		fail(&t)
		if found {
			err = tx.Model(&model.LoginThrottle{}).Where("username = ?", username).
				Updates(map[string]any{"failures": t.Failures, "last_failure_at": t.LastFailureAt, "locked_until": t.LockedUntil}).Error
		} else {
			err = tx.Create(&t).Error
		}
		if err != nil {
			return err
		}
		if audit != nil {
			return addAuditEvent(tx, db.now(), audit)
		}
		return nil
	})
	if err != nil {
		return nil, translate(err, "Login throttle")
	}
	return &t, nil
}
