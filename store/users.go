package store

import (
	"context"

	"github.com/scepgate/scepgate/model"
	"gorm.io/gorm"
)

// FindUser returns the user with that id.
func (db *DB) FindUser(ctx context.Context, id int64) (*model.User, error) {
	var u model.User
	if err := db.db.WithContext(ctx).Take(&u, id).Error; err != nil {
		return nil, translate(err, "User")
	}
	return &u, nil
}

// FindUserByUsername returns the user with that name.
func (db *DB) FindUserByUsername(ctx context.Context, username string) (*model.User, error) {
	var u model.User
	if err := db.db.WithContext(ctx).Where("username = ?", username).Take(&u).Error; err != nil {
		return nil, translate(err, "User "+username)
	}
	return &u, nil
}

// ListUsers returns the users whose name contains q, by name, one page of
// perPage, and how many match in all.
func (db *DB) ListUsers(ctx context.Context, q string, page, perPage int) ([]model.User, int64, error) {
	tx := db.db.WithContext(ctx).Model(&model.User{})
	if q != "" {
		tx = whereContains(tx, "username", q)
	}
	var n int64
	if err := tx.Count(&n).Error; err != nil {
		return nil, 0, translate(err, "User")
	}
	var us []model.User
	err := tx.Order("username").Offset((page - 1) * perPage).Limit(perPage).Find(&us).Error
	return us, n, translate(err, "User")
}

// AddUser inserts u, with audit.
func (db *DB) AddUser(ctx context.Context, u *model.User, audit *model.AuditEvent) error {
	return translate(db.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(&model.User{}).Where("username = ?", u.Username).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return model.Errorf(model.ECONFLICT, "There is already a user named %s. Choose another name.", quote(u.Username))
		}
		u.ID = 0
		if err := tx.Create(u).Error; err != nil {
			return err
		}
		if audit != nil {
			return addAuditEvent(tx, db.now(), audit)
		}
		return nil
	}), "User "+quote(u.Username))
}

// ChangeUser applies ch to user id, with audit. Disabling a user or
// setting a password ends the user's sessions. It refuses, with an
// ECONFLICT error, to leave no enabled administrator.
func (db *DB) ChangeUser(ctx context.Context, id int64, ch model.UserChange, audit *model.AuditEvent) error {
	return translate(db.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var u model.User
		if err := tx.Take(&u, id).Error; err != nil {
			return err
		}
		updates := map[string]any{"updated_at": db.now()}
		if ch.Role != "" {
			updates["role"] = ch.Role
			u.Role = ch.Role
		}
		if ch.Disabled != nil {
			updates["disabled"] = *ch.Disabled
			u.Disabled = *ch.Disabled
		}
		if ch.PasswordHash != "" {
			updates["password_hash"] = ch.PasswordHash
		}
		if err := tx.Model(&model.User{}).Where("id = ?", id).Updates(updates).Error; err != nil {
			return err
		}
		var admins int64
		if err := tx.Model(&model.User{}).Where("role = ? AND disabled = ?", model.RoleAdmin, false).Count(&admins).Error; err != nil {
			return err
		}
		if admins == 0 {
			return model.Errorf(model.ECONFLICT, "%s is the last enabled administrator. Make another user an administrator first.", quote(u.Username))
		}
		if u.Disabled || ch.PasswordHash != "" {
			if err := tx.Where("user_id = ?", id).Delete(&model.Session{}).Error; err != nil {
				return err
			}
		}
		if audit != nil {
			return addAuditEvent(tx, db.now(), audit)
		}
		return nil
	}), "User")
}
