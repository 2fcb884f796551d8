package store

import (
	"context"

	"github.com/scepgate/scepgate/model"
	"gorm.io/gorm"
)

// CreateRegistration inserts r. A pre-registration may not reuse the
// password of another open pre-registration of the same token procedure,
// since the password is what picks the registration at enrollment.
func (db *DB) CreateRegistration(ctx context.Context, r *model.Registration) error {
	return translate(db.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if r.Kind == model.RegistrationPre {
			var n int64
			err := tx.Model(&model.Registration{}).
				Where("challenge_hash = ? AND state = ? AND token_procedure_id = ? AND expires_at > ?",
					r.ChallengeHash, model.StateOpen, r.TokenProcedureID, db.now()).
				Count(&n).Error
			if err != nil {
				return err
			}
			if n > 0 {
				return model.Errorf(model.ECONFLICT, "An open registration of this token procedure already uses this password. Choose another password.")
			}
		}
		r.ID = 0
		if r.CreatedAt.IsZero() {
			r.CreatedAt = db.now()
		}
		return tx.Create(r).Error
	}), "Registration")
}

// FindRegistration returns the registration with that id.
func (db *DB) FindRegistration(ctx context.Context, id int64) (*model.Registration, error) {
	var r model.Registration
	if err := db.db.WithContext(ctx).Take(&r, id).Error; err != nil {
		return nil, translate(err, "Registration")
	}
	return &r, nil
}

// FindRegistrationsByChallenge returns the registrations whose challenge has
// that keyed hash, newest first.
func (db *DB) FindRegistrationsByChallenge(ctx context.Context, hash string) ([]model.Registration, error) {
	var rs []model.Registration
	err := db.db.WithContext(ctx).Where("challenge_hash = ?", hash).Order("id DESC").Limit(20).Find(&rs).Error
	return rs, translate(err, "Registration")
}

// RecordEnrollmentFailure notes on registration id why an enrollment with
// its password was refused.
func (db *DB) RecordEnrollmentFailure(ctx context.Context, id int64, reason string, audit *model.AuditEvent) error {
	return translate(db.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Model(&model.Registration{}).Where("id = ?", id).Update("last_failure", reason).Error; err != nil {
			return err
		}
		if audit != nil {
			return addAuditEvent(tx, db.now(), audit)
		}
		return nil
	}), "Registration")
}

// ErrRegistrationTaken is returned by CompleteEnrollment when the
// registration was used, cancelled or expired before this enrollment could
// consume it.
var ErrRegistrationTaken = model.Errorf(model.ECONFLICT, "The challenge password has already been used or has expired. Ask for a new one.")

// CompleteEnrollment consumes registration regID and records cert, in one
// transaction: the registration must still be open and unexpired (checked
// and changed by one compare-and-swap statement), or nothing is written and
// ErrRegistrationTaken is returned.
//
// The certificates named in supersede are revoked (superseded) in the same
// transaction.
func (db *DB) CompleteEnrollment(ctx context.Context, regID int64, cert *model.Certificate, audit *model.AuditEvent, supersede ...string) error {
	now := db.now()
	return translate(db.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Exec(`UPDATE registrations SET state = ?, used_at = ?, transaction_id = ?
			WHERE id = ? AND state = ? AND used_at IS NULL AND expires_at > ?`,
			model.StateUsed, now, cert.TransactionID, regID, model.StateOpen, now)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return ErrRegistrationTaken
		}
		cert.ID, cert.CreatedAt, cert.RegistrationID = 0, now, &regID
		if err := tx.Create(cert).Error; err != nil {
			return err
		}
		if err := tx.Exec(`UPDATE registrations SET certificate_id = ?, handler_used_id = ? WHERE id = ?`, cert.ID, cert.HandlerID, regID).Error; err != nil {
			return err
		}
		if err := revokeSerials(tx, supersede, model.ReasonSuperseded, now); err != nil {
			return err
		}
		if audit != nil {
			return addAuditEvent(tx, now, audit)
		}
		return nil
	}), "Certificate")
}

// ExpireRegistrations marks open registrations whose time has passed as
// expired and returns how many it changed.
func (db *DB) ExpireRegistrations(ctx context.Context) (int64, error) {
	res := db.db.WithContext(ctx).Exec(`UPDATE registrations SET state = ? WHERE state = ? AND expires_at <= ?`,
		model.StateExpired, model.StateOpen, db.now())
	return res.RowsAffected, translate(res.Error, "Registration")
}
