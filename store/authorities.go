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

// NextAuthorities returns the CA and RA prepared to follow the active
// ones, or an ENOTFOUND error when none are.
func (db *DB) NextAuthorities(ctx context.Context) (ca, ra *model.Authority, err error) {
	g := db.db.WithContext(ctx)
	if ca, err = findNextAuthority(g, model.AuthorityCA); err != nil {
		return nil, nil, err
	}
	if ra, err = findNextAuthority(g, model.AuthorityRA); err != nil {
		return nil, nil, err
	}
	return ca, ra, nil
}

func findNextAuthority(tx *gorm.DB, kind string) (*model.Authority, error) {
	var a model.Authority
	err := tx.Where("kind = ? AND next = ?", kind, true).Order("id DESC").Take(&a).Error
	if err != nil {
		return nil, translate(err, "The next "+kind+" certificate")
	}
	return &a, nil
}

// PrepareNextAuthorities stores ca and ra as the next CA and RA, replacing
// any prepared before (which never issued anything), and records it in the
// audit log.
func (db *DB) PrepareNextAuthorities(ctx context.Context, ca, ra *model.Authority, audit *model.AuditEvent) error {
	return translate(db.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("next = ?", true).Delete(&model.Authority{}).Error; err != nil {
			return err
		}
		if err := bumpConfigVersion(tx); err != nil {
			return err
		}
		for _, a := range []*model.Authority{ca, ra} {
			a.ID, a.Active, a.Next, a.CreatedAt = 0, false, true, db.now()
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

// ActivateNextAuthorities makes the next CA and RA the active ones,
// retiring the ones before them, and records it in the audit log; an
// ENOTFOUND error when none are prepared.
func (db *DB) ActivateNextAuthorities(ctx context.Context, audit *model.AuditEvent) error {
	return translate(db.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if _, err := findNextAuthority(tx, model.AuthorityCA); err != nil {
			return err
		}
		if _, err := findNextAuthority(tx, model.AuthorityRA); err != nil {
			return err
		}
		if err := tx.Model(&model.Authority{}).Where("active = ?", true).Update("active", false).Error; err != nil {
			return err
		}
		if err := tx.Model(&model.Authority{}).Where("next = ?", true).Updates(map[string]any{"active": true, "next": false}).Error; err != nil {
			return err
		}
		if err := bumpConfigVersion(tx); err != nil {
			return err
		}
		if audit != nil {
			return addAuditEvent(tx, db.now(), audit)
		}
		return nil
	}), "Authority")
}

// RetiredCAs returns the CA rows that were active once and are no more,
// newest first: the CAs whose certificates may still renew and whose CRLs
// are still published.
func (db *DB) RetiredCAs(ctx context.Context) ([]model.Authority, error) {
	var as []model.Authority
	err := db.db.WithContext(ctx).Where("kind = ? AND active = ? AND next = ?", model.AuthorityCA, false, false).Order("id DESC").Find(&as).Error
	return as, translate(err, "Certificate authority")
}
