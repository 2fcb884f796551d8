package store

import (
	"context"
	"strconv"

	"github.com/scepgate/scepgate/model"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

type metaRow struct {
	Key   string `gorm:"primaryKey"`
	Value string
}

func (metaRow) TableName() string { return "meta" }

// Meta returns the value stored under key, or an ENOTFOUND error.
func (db *DB) Meta(ctx context.Context, key string) (string, error) {
	return getMeta(db.db.WithContext(ctx), key)
}

func getMeta(tx *gorm.DB, key string) (string, error) {
	var row metaRow
	if err := tx.Where("key = ?", key).Take(&row).Error; err != nil {
		return "", translate(err, "Setting "+key)
	}
	return row.Value, nil
}

func setMeta(tx *gorm.DB, key, value string) error {
	return tx.Clauses(clause.OnConflict{
		Columns:   []clause.Column{{Name: "key"}},
		DoUpdates: clause.AssignmentColumns([]string{"value"}),
	}).Create(&metaRow{Key: key, Value: value}).Error
}

const keyConfigVersion = "config_version"

// ConfigVersion returns a number that changes whenever handlers or
// procedures change, so that caches know when to reload.
func (db *DB) ConfigVersion(ctx context.Context) (int64, error) {
	v, err := getMeta(db.db.WithContext(ctx), keyConfigVersion)
	if model.ErrorCode(err) == model.ENOTFOUND {
		return 0, nil
	} else if err != nil {
		return 0, err
	}
	return strconv.ParseInt(v, 10, 64)
}

// bumpConfigVersion is called in every transaction that changes handlers or
// procedures.
func bumpConfigVersion(tx *gorm.DB) error {
	return tx.Exec(`INSERT INTO meta (key, value) VALUES (?, '1')
		ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(meta.value AS INTEGER) + 1 AS TEXT)`, keyConfigVersion).Error
}
