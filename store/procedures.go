package store

import (
	"context"
	"fmt"

	"github.com/scepgate/scepgate/model"
	"gorm.io/gorm"
)

type tokenProcedureStep struct {
	TokenProcedureID       int64 `gorm:"primaryKey"`
	CertificateProcedureID int64 `gorm:"primaryKey"`
	Position               int
}

func (tokenProcedureStep) TableName() string { return "token_procedure_steps" }

// ListCertificateProcedures returns the certificate procedures whose name
// contains q (all when q is empty), by name, one page of perPage, and how
// many match in all.
func (db *DB) ListCertificateProcedures(ctx context.Context, q string, page, perPage int) ([]model.CertificateProcedure, int64, error) {
	tx := db.db.WithContext(ctx).Model(&model.CertificateProcedure{})
	if q != "" {
		tx = whereContains(tx, "name", q)
	}
	var n int64
	if err := tx.Count(&n).Error; err != nil {
		return nil, 0, translate(err, "Certificate procedure")
	}
	var cps []model.CertificateProcedure
	err := tx.Order("name").Offset((page - 1) * perPage).Limit(perPage).Find(&cps).Error
	return cps, n, translate(err, "Certificate procedure")
}

// AllCertificateProcedures returns every certificate procedure by name.
func (db *DB) AllCertificateProcedures(ctx context.Context) ([]model.CertificateProcedure, error) {
	var cps []model.CertificateProcedure
	err := db.db.WithContext(ctx).Order("name").Find(&cps).Error
	return cps, translate(err, "Certificate procedure")
}

// FindCertificateProcedure returns the certificate procedure with that id.
func (db *DB) FindCertificateProcedure(ctx context.Context, id int64) (*model.CertificateProcedure, error) {
	var cp model.CertificateProcedure
	if err := db.db.WithContext(ctx).Take(&cp, id).Error; err != nil {
		return nil, translate(err, "Certificate procedure")
	}
	return &cp, nil
}

// SaveCertificateProcedure inserts cp (ID 0) or updates it, with audit.
func (db *DB) SaveCertificateProcedure(ctx context.Context, cp *model.CertificateProcedure, audit *model.AuditEvent) error {
	return translate(db.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := checkNameFree(tx, &model.CertificateProcedure{}, cp.Name, cp.ID, "A certificate procedure"); err != nil {
			return err
		}
		var err error
		if cp.ID == 0 {
			err = tx.Create(cp).Error
		} else {
			err = saveExisting(tx, cp, cp.ID)
		}
		if err != nil {
			return err
		}
		return finishConfigChange(tx, db, audit, fmt.Sprintf("certificate procedure %d", cp.ID))
	}), "Certificate procedure "+quote(cp.Name))
}

// DeleteCertificateProcedure deletes the certificate procedure id, or
// refuses with an ECONFLICT error saying what still uses it.
func (db *DB) DeleteCertificateProcedure(ctx context.Context, id int64, audit *model.AuditEvent) error {
	return translate(db.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var cp model.CertificateProcedure
		if err := tx.Take(&cp, id).Error; err != nil {
			return err
		}
		var users []string
		if err := tx.Table("token_procedures").Joins("JOIN token_procedure_steps s ON s.token_procedure_id = token_procedures.id").
			Where("s.certificate_procedure_id = ?", id).Order("name").Pluck("name", &users).Error; err != nil {
			return err
		}
		if len(users) > 0 {
			return model.Errorf(model.ECONFLICT, "Certificate procedure %s is used by the token procedure %s. Remove it from there first.", quote(cp.Name), quoteAll(users))
		}
		var issued int64
		if err := tx.Model(&model.Certificate{}).Where("certificate_procedure_id = ?", id).Count(&issued).Error; err != nil {
			return err
		}
		if issued > 0 {
			return model.Errorf(model.ECONFLICT, "Certificate procedure %s cannot be deleted: %d certificates were issued under it and keep referring to it.", quote(cp.Name), issued)
		}
		if err := tx.Delete(&cp).Error; err != nil {
			return err
		}
		return finishConfigChange(tx, db, audit, fmt.Sprintf("certificate procedure %d", id))
	}), "Certificate procedure")
}

// ListTokenProcedures returns the token procedures whose name contains q,
// by name, one page of perPage, with their certificate procedures, and
// how many match in all.
func (db *DB) ListTokenProcedures(ctx context.Context, q string, page, perPage int) ([]model.TokenProcedure, int64, error) {
	var tps []model.TokenProcedure
	var n int64
	err := db.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		m := tx.Model(&model.TokenProcedure{})
		if q != "" {
			m = whereContains(m, "name", q)
		}
		if err := m.Count(&n).Error; err != nil {
			return err
		}
		if err := m.Order("name").Offset((page - 1) * perPage).Limit(perPage).Find(&tps).Error; err != nil {
			return err
		}
		return loadSteps(tx, tps)
	})
	return tps, n, translate(err, "Token procedure")
}

// AllTokenProcedures returns every token procedure by name.
func (db *DB) AllTokenProcedures(ctx context.Context) ([]model.TokenProcedure, error) {
	var tps []model.TokenProcedure
	err := db.db.WithContext(ctx).Order("name").Find(&tps).Error
	return tps, translate(err, "Token procedure")
}

// FindTokenProcedure returns the token procedure with that id, with its
// certificate procedures.
func (db *DB) FindTokenProcedure(ctx context.Context, id int64) (*model.TokenProcedure, error) {
	var tps []model.TokenProcedure
	err := db.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("id = ?", id).Limit(1).Find(&tps).Error; err != nil {
			return err
		}
		if len(tps) == 0 {
			return gorm.ErrRecordNotFound
		}
		return loadSteps(tx, tps)
	})
	if err != nil {
		return nil, translate(err, "Token procedure")
	}
	return &tps[0], nil
}

func loadSteps(tx *gorm.DB, tps []model.TokenProcedure) error {
	if len(tps) == 0 {
		return nil
	}
	ids := make([]int64, len(tps))
	for i := range tps {
		ids[i] = tps[i].ID
	}
	var steps []tokenProcedureStep
	if err := tx.Where("token_procedure_id IN ?", ids).Order("token_procedure_id, position").Find(&steps).Error; err != nil {
		return err
	}
	for i := range tps {
		for _, s := range steps {
			if s.TokenProcedureID == tps[i].ID {
				tps[i].CertificateProcedureIDs = append(tps[i].CertificateProcedureIDs, s.CertificateProcedureID)
			}
		}
	}
	return nil
}

// SaveTokenProcedure inserts tp (ID 0) or updates it, and makes its
// certificate procedures exactly tp.CertificateProcedureIDs, with audit.
func (db *DB) SaveTokenProcedure(ctx context.Context, tp *model.TokenProcedure, audit *model.AuditEvent) error {
	return translate(db.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := checkNameFree(tx, &model.TokenProcedure{}, tp.Name, tp.ID, "A token procedure"); err != nil {
			return err
		}
		var err error
		if tp.ID == 0 {
			err = tx.Create(tp).Error
		} else {
			err = saveExisting(tx, tp, tp.ID)
		}
		if err != nil {
			return err
		}
		if err := tx.Where("token_procedure_id = ?", tp.ID).Delete(&tokenProcedureStep{}).Error; err != nil {
			return err
		}
		for pos, cpID := range tp.CertificateProcedureIDs {
			var n int64
			if err := tx.Model(&model.CertificateProcedure{}).Where("id = ?", cpID).Count(&n).Error; err != nil {
				return err
			}
			if n == 0 {
				return model.Errorf(model.EINVALID, "A chosen certificate procedure no longer exists. Reload the page and choose again.")
			}
			if err := tx.Create(&tokenProcedureStep{TokenProcedureID: tp.ID, CertificateProcedureID: cpID, Position: pos}).Error; err != nil {
				return err
			}
		}
		return finishConfigChange(tx, db, audit, fmt.Sprintf("token procedure %d", tp.ID))
	}), "Token procedure "+quote(tp.Name))
}

// DeleteTokenProcedure deletes the token procedure id, or refuses with an
// ECONFLICT error saying what still uses it.
func (db *DB) DeleteTokenProcedure(ctx context.Context, id int64, audit *model.AuditEvent) error {
	return translate(db.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var tp model.TokenProcedure
		if err := tx.Take(&tp, id).Error; err != nil {
			return err
		}
		var hs []string
		if err := tx.Model(&model.Handler{}).Where("token_procedure_id = ?", id).Order("name").Pluck("name", &hs).Error; err != nil {
			return err
		}
		if len(hs) > 0 {
			return model.Errorf(model.ECONFLICT, "Token procedure %s is used by the handler %s. Point the handler to another token procedure first.", quote(tp.Name), quoteAll(hs))
		}
		var regs int64
		if err := tx.Model(&model.Registration{}).Where("token_procedure_id = ?", id).Count(&regs).Error; err != nil {
			return err
		}
		if regs > 0 {
			return model.Errorf(model.ECONFLICT, "Token procedure %s cannot be deleted: %d registrations refer to it.", quote(tp.Name), regs)
		}
		if err := tx.Where("token_procedure_id = ?", id).Delete(&tokenProcedureStep{}).Error; err != nil {
			return err
		}
		if err := tx.Delete(&tp).Error; err != nil {
			return err
		}
		return finishConfigChange(tx, db, audit, fmt.Sprintf("token procedure %d", id))
	}), "Token procedure")
}

// checkNameFree refuses a name another row of the table of m already has.
func checkNameFree(tx *gorm.DB, m any, name string, id int64, what string) error {
	var n int64
	if err := tx.Model(m).Where("name = ? AND id <> ?", name, id).Count(&n).Error; err != nil {
		return err
	}
	if n > 0 {
		return model.Errorf(model.ECONFLICT, "%s named %s already exists. Choose another name.", what, quote(name))
	}
	return nil
}

// saveExisting updates every column of row id, or says it is gone.
func saveExisting(tx *gorm.DB, row any, id int64) error {
	res := tx.Model(row).Where("id = ?", id).Select("*").Omit("id", "created_at").Updates(row)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected != 1 {
		return gorm.ErrRecordNotFound
	}
	return nil
}
