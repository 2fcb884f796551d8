package store

import (
	"context"

	"github.com/scepgate/scepgate/model"
	"gorm.io/gorm"
)

// ListHandlers returns the handlers whose name or filter contains q, by
// name, one page of perPage, and how many match in all.
func (db *DB) ListHandlers(ctx context.Context, q string, page, perPage int) ([]model.Handler, int64, error) {
	tx := db.db.WithContext(ctx).Model(&model.Handler{})
	if q != "" {
		tx = tx.Where(whereContains(db.db, "name", q).Or(whereContains(db.db, "filter", q)))
	}
	var n int64
	if err := tx.Count(&n).Error; err != nil {
		return nil, 0, translate(err, "Handler")
	}
	var hs []model.Handler
	err := tx.Order("name").Offset((page - 1) * perPage).Limit(perPage).Find(&hs).Error
	return hs, n, translate(err, "Handler")
}

// FindHandler returns the handler with that id.
func (db *DB) FindHandler(ctx context.Context, id int64) (*model.Handler, error) {
	var h model.Handler
	if err := db.db.WithContext(ctx).Take(&h, id).Error; err != nil {
		return nil, translate(err, "Handler")
	}
	return &h, nil
}

// SaveHandlers creates the handlers whose ID is 0 and updates the others
// (every field), in one transaction; admin checks them before. It bumps the configuration version, so running servers reload within a
// second, and records audit when it is not nil.
func (db *DB) SaveHandlers(ctx context.Context, hs []model.Handler, audit *model.AuditEvent) error {
	now := db.now()
	return translate(db.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		for i := range hs {
			h := &hs[i]
			h.UpdatedAt = now
			if h.ID == 0 {
				h.CreatedAt = now
				if err := tx.Create(h).Error; err != nil {
					return translate(err, "Handler "+quote(h.Name))
				}
				continue
			}
			res := tx.Model(&model.Handler{}).Where("id = ?", h.ID).Select("*").Omit("id", "created_at").Updates(h)
			if res.Error != nil {
				return translate(res.Error, "Handler "+quote(h.Name))
			}
			if res.RowsAffected != 1 {
				return model.Errorf(model.ENOTFOUND, "Handler %q not found.", h.Name)
			}
		}
		if err := bumpConfigVersion(tx); err != nil {
			return err
		}
		if audit != nil {
			return addAuditEvent(tx, now, audit)
		}
		return nil
	}), "Handler")
}

// lockHandler makes sure handler id exists and, on PostgreSQL, locks its
// row until the transaction ends; SQLite transactions here begin
// IMMEDIATE and so already hold the database's write lock.
func lockHandler(tx *gorm.DB, dialect string, id int64) error {
	q := `SELECT id FROM handlers WHERE id = ?`
	if dialect == "postgres" {
		q += ` FOR UPDATE`
	}
	var ids []int64
	if err := tx.Raw(q, id).Scan(&ids).Error; err != nil {
		return err
	}
	if len(ids) == 0 {
		return model.Errorf(model.ENOTFOUND, "Handler %d not found.", id)
	}
	return nil
}

// Meta keys of the Microsoft NDES URL aliases.
const (
	keyAliasMSCEPAdmin = "alias." + model.AliasMSCEPAdmin
	keyAliasMSCEP      = "alias." + model.AliasMSCEP
)

// Aliases returns the handlers that serve Microsoft's NDES paths, by name;
// model.DefaultAliases for what was never set.
func (db *DB) Aliases(ctx context.Context) (model.Aliases, error) {
	return getAliases(db.db.WithContext(ctx))
}

func getAliases(tx *gorm.DB) (model.Aliases, error) {
	a := model.DefaultAliases
	for key, dst := range map[string]*string{keyAliasMSCEPAdmin: &a.MSCEPAdmin, keyAliasMSCEP: &a.MSCEP} {
		v, err := getMeta(tx, key)
		switch model.ErrorCode(err) {
		case "":
			*dst = v
		case model.ENOTFOUND:
		default:
			return a, err
		}
	}
	return a, nil
}

// SetAliases maps Microsoft's NDES paths to the handlers a names; an empty
// name leaves that alias as it is. The mscep_admin alias must name a
// handler of format scep-ndes, the mscep alias one of format scep. Running
// servers see the change within a second.
func (db *DB) SetAliases(ctx context.Context, a model.Aliases, audit *model.AuditEvent) error {
	return translate(db.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		for _, set := range []struct{ key, name, format, path string }{
			{keyAliasMSCEPAdmin, a.MSCEPAdmin, model.HandlerNDES, "/certsrv/mscep_admin/"},
			{keyAliasMSCEP, a.MSCEP, model.HandlerSCEP, "/certsrv/mscep/mscep.dll"},
		} {
			if set.name == "" {
				continue
			}
			var h model.Handler
			if err := tx.Where("name = ?", set.name).Take(&h).Error; err != nil {
				return translate(err, "Handler "+quote(set.name))
			}
			if h.Format != set.format {
				return model.Errorf(model.EINVALID, "Handler %q has format %q, but %s needs a handler of format %q. Choose another handler.",
					h.Name, h.Format, set.path, set.format)
			}
			if err := setMeta(tx, set.key, set.name); err != nil {
				return err
			}
		}
		if err := bumpConfigVersion(tx); err != nil {
			return err
		}
		if audit != nil {
			return addAuditEvent(tx, db.now(), audit)
		}
		return nil
	}), "Alias")
}
