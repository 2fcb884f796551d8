package store

import (
	"context"

	"github.com/scepgate/scepgate/model"
	"gorm.io/gorm"
)

// ActiveAuthorities returns the active CA and RA, or an ENOTFOUND error when
// the database has none yet.
func (db *DB) ActiveAuthorities(ctx context.Context) (ca, ra *model.Authority, err error) {
	g := db.db.WithContext(ctx)
	if ca, err = findActiveAuthority(g, model.AuthorityCA); err != nil {
		return nil, nil, err
	}
	if ra, err = findActiveAuthority(g, model.AuthorityRA); err != nil {
		return nil, nil, err
	}
	return ca, ra, nil
}

func findActiveAuthority(tx *gorm.DB, kind string) (*model.Authority, error) {
	var a model.Authority
	err := tx.Where("kind = ? AND active = ?", kind, true).Order("id DESC").Take(&a).Error
	if err != nil {
		return nil, translate(err, "The "+kind+" certificate")
	}
	return &a, nil
}

// ReplaceAuthorities makes ca and ra the active CA and RA, retiring the
// ones before them, and records the change in the audit log.
func (db *DB) ReplaceAuthorities(ctx context.Context, ca, ra *model.Authority, audit *model.AuditEvent) error {
	return translate(db.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Model(&model.Authority{}).Where("active = ?", true).Update("active", false).Error; err != nil {
			return err
		}
		if err := bumpConfigVersion(tx); err != nil {
			return err
		}
		for _, a := range []*model.Authority{ca, ra} {
			a.ID, a.Active, a.CreatedAt = 0, true, db.now()
			if err := tx.Create(a).Error; err != nil {
				return err
			}
		}
		if audit != nil {
			return addAuditEvent(tx, db.now(), audit)
		}
		return nil
	}), "Authority")
}

// FindAuthority returns the CA or RA row with that id, active or retired.
func (db *DB) FindAuthority(ctx context.Context, id int64) (*model.Authority, error) {
	var a model.Authority
	if err := db.db.WithContext(ctx).Take(&a, id).Error; err != nil {
		return nil, translate(err, "Certificate authority")
	}
	return &a, nil
}
