package store

import (
	"context"

	"github.com/scepgate/scepgate/model"
)

// CreateUser inserts u.
func (db *DB) CreateUser(ctx context.Context, u *model.User) error {
	return translate(db.db.WithContext(ctx).Create(u).Error, "User "+u.Username)
}

// FindUserByUsername returns the user with that name.
func (db *DB) FindUserByUsername(ctx context.Context, username string) (*model.User, error) {
	var u model.User
	if err := db.db.WithContext(ctx).Where("username = ?", username).Take(&u).Error; err != nil {
		return nil, translate(err, "User "+username)
	}
	return &u, nil
}
