package store

import (
	"context"
	"fmt"
	"time"

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

// CreateNDESRegistration inserts r, a one-time password handed out by the
// NDES challenge handler *r.HandlerID, unless that handler already has limit
// unused, unexpired passwords out: then it writes nothing and returns false.
// The count and the insert run in one transaction that holds the write lock
// (BEGIN IMMEDIATE on SQLite, the handler's row locked on PostgreSQL), so
// concurrent callers cannot overshoot the limit. audit, when not nil, is
// recorded in the same transaction; an empty Target becomes "registration N".
func (db *DB) CreateNDESRegistration(ctx context.Context, r *model.Registration, limit int, audit *model.AuditEvent) (created bool, err error) {
	if r.Kind != model.RegistrationNDES || r.HandlerID == nil {
		return false, model.Errorf(model.EINVALID, "An NDES password needs the challenge handler that issued it.")
	}
	now := db.now()
	err = db.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := lockHandler(tx, db.dialect, *r.HandlerID); err != nil {
			return err
		}
		var n int64
		err := tx.Model(&model.Registration{}).
			Where("handler_id = ? AND kind = ? AND state = ? AND used_at IS NULL AND expires_at > ?",
				*r.HandlerID, model.RegistrationNDES, model.StateOpen, now).
			Count(&n).Error
		if err != nil {
			return err
		}
		if n >= int64(limit) {
			return nil
		}
		r.ID = 0
		if r.CreatedAt.IsZero() {
			r.CreatedAt = now
		}
		if err := tx.Create(r).Error; err != nil {
			return err
		}
		created = true
		if audit == nil {
			return nil
		}
		if audit.Target == "" {
			audit.Target = fmt.Sprintf("registration %d", r.ID)
		}
		return addAuditEvent(tx, now, audit)
	})
	if err != nil {
		return false, translate(err, "Registration")
	}
	return created, nil
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

// ListRegistrations returns the registrations f selects, newest first, one
// page of perPage, and how many match in all.
func (db *DB) ListRegistrations(ctx context.Context, f model.RegistrationFilter, page, perPage int) ([]model.Registration, int64, error) {
	tx := db.db.WithContext(ctx).Model(&model.Registration{})
	if f.Query != "" {
		g := db.db
		tx = tx.Where(whereContains(g, "subject_cn", f.Query).Or(whereContains(g, "dns_name", f.Query)).
			Or(whereContains(g, "requested_by", f.Query)).Or(whereContains(g, "client_addr", f.Query)))
	}
	if f.State != "" {
		tx = tx.Where("state = ?", f.State)
	}
	if f.HandlerID != 0 {
		tx = tx.Where("handler_id = ?", f.HandlerID)
	}
	if !f.From.IsZero() {
		tx = tx.Where("created_at >= ?", f.From)
	}
	if !f.To.IsZero() {
		tx = tx.Where("created_at < ?", f.To)
	}
	var n int64
	if err := tx.Count(&n).Error; err != nil {
		return nil, 0, translate(err, "Registration")
	}
	var rs []model.Registration
	err := tx.Order("id DESC").Offset((page - 1) * perPage).Limit(perPage).Find(&rs).Error
	return rs, n, translate(err, "Registration")
}

// ListPendingRegistrations returns the registrations waiting for approval,
// oldest first.
func (db *DB) ListPendingRegistrations(ctx context.Context) ([]model.Registration, error) {
	var rs []model.Registration
	err := db.db.WithContext(ctx).Where("state = ?", model.StatePending).Order("id").Find(&rs).Error
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

// ErrRegistrationTaken is returned by RecordIssue and MarkPending when the
// registration was used, cancelled or expired before this enrollment could
// consume it.
var ErrRegistrationTaken = model.Errorf(model.ECONFLICT, "The challenge password has already been used or has expired. Ask for a new one.")

// consumeRegistration marks open registration id used by transactionID:
// one compare-and-swap that one caller wins; ErrRegistrationTaken for the
// others and for a registration no longer open or past its expiry.
func consumeRegistration(tx *gorm.DB, id int64, transactionID string, now time.Time) error {
	res := tx.Exec(`UPDATE registrations SET state = ?, used_at = ?, transaction_id = ?
		WHERE id = ? AND state = ? AND used_at IS NULL AND expires_at > ?`,
		model.StateUsed, now, transactionID, id, model.StateOpen, now)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected != 1 {
		return ErrRegistrationTaken
	}
	return nil
}

// approveRegistration marks pending registration id used, or returns
// ErrNotPending.
func approveRegistration(tx *gorm.DB, id int64) error {
	res := tx.Exec(`UPDATE registrations SET state = ? WHERE id = ? AND state = ?`, model.StateUsed, id, model.StatePending)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected != 1 {
		return ErrNotPending
	}
	return nil
}

// MarkPending consumes open registration regID for an enrollment that waits
// for approval, keeping its request without the challengePassword (see
// storableCSR). Like RecordIssue, it is one compare-and-swap;
// ErrRegistrationTaken when it lost.
func (db *DB) MarkPending(ctx context.Context, regID int64, handlerID int64, transactionID, pubKeySHA256 string, csr []byte, audit *model.AuditEvent) error {
	now := db.now()
	csr, err := storableCSR(csr)
	if err != nil {
		return err
	}
	return translate(db.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Exec(`UPDATE registrations SET state = ?, used_at = ?, transaction_id = ?, public_key_sha256 = ?, csr = ?, handler_used_id = ?
			WHERE id = ? AND state = ? AND used_at IS NULL AND expires_at > ?`,
			model.StatePending, now, transactionID, pubKeySHA256, csr, handlerID, regID, model.StateOpen, now)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return ErrRegistrationTaken
		}
		if audit != nil {
			return addAuditEvent(tx, now, audit)
		}
		return nil
	}), "Registration")
}

// ErrNotPending is returned when a decision is made on a registration that
// is not waiting for one.
var ErrNotPending = model.Errorf(model.ECONFLICT, "The registration is not waiting for approval.")

// RejectRegistration ends pending registration regID without a certificate.
func (db *DB) RejectRegistration(ctx context.Context, regID int64, reason string, audit *model.AuditEvent) error {
	return translate(db.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Exec(`UPDATE registrations SET state = ?, last_failure = ? WHERE id = ? AND state = ?`,
			model.StateRejected, reason, regID, model.StatePending)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return ErrNotPending
		}
		if audit != nil {
			return addAuditEvent(tx, db.now(), audit)
		}
		return nil
	}), "Registration")
}

// CancelRegistration cancels registration id if it is still open, with
// audit; otherwise it returns an ECONFLICT error.
func (db *DB) CancelRegistration(ctx context.Context, id int64, audit *model.AuditEvent) error {
	return translate(db.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&model.Registration{}).Where("id = ? AND state = ? AND used_at IS NULL", id, model.StateOpen).Update("state", model.StateCancelled)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return model.Errorf(model.ECONFLICT, "Only an open registration can be cancelled; this one was used, expired or cancelled already.")
		}
		if audit != nil {
			audit.Target = fmt.Sprintf("registration %d", id)
			return addAuditEvent(tx, db.now(), audit)
		}
		return nil
	}), "Registration")
}

// ExpireRegistrations marks open registrations whose time has passed as
// expired and returns how many it changed.
func (db *DB) ExpireRegistrations(ctx context.Context) (int64, error) {
	res := db.db.WithContext(ctx).Exec(`UPDATE registrations SET state = ? WHERE state = ? AND expires_at <= ?`,
		model.StateExpired, model.StateOpen, db.now())
	return res.RowsAffected, translate(res.Error, "Registration")
}
