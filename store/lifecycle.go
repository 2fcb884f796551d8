package store

import (
	"context"
	"strings"
	"time"

	"github.com/scepgate/scepgate/model"
	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// FindCertificatesByTransaction returns the certificates issued for a SCEP
// transaction ID, newest first.
func (db *DB) FindCertificatesByTransaction(ctx context.Context, transactionID string) ([]model.Certificate, error) {
	var cs []model.Certificate
	err := db.db.WithContext(ctx).Where("transaction_id = ?", transactionID).Order("id DESC").Limit(10).Find(&cs).Error
	return cs, translate(err, "Certificate")
}

// FindRegistrationByTransaction returns the newest registration used by a
// SCEP transaction ID (pending, used or rejected).
func (db *DB) FindRegistrationByTransaction(ctx context.Context, transactionID string) (*model.Registration, error) {
	var r model.Registration
	err := db.db.WithContext(ctx).Where("transaction_id = ?", transactionID).Order("id DESC").Take(&r).Error
	if err != nil {
		return nil, translate(err, "Registration for this transaction")
	}
	return &r, nil
}

// MarkPending consumes open registration regID for an enrollment that waits
// for approval, keeping its request. Like CompleteEnrollment, it is one
// compare-and-swap; ErrRegistrationTaken when it lost.
func (db *DB) MarkPending(ctx context.Context, regID int64, handlerID int64, transactionID, pubKeySHA256 string, csr []byte, audit *model.AuditEvent) error {
	now := db.now()
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

// ApproveRegistration records cert for pending registration regID.
func (db *DB) ApproveRegistration(ctx context.Context, regID int64, cert *model.Certificate, supersede []string, audit *model.AuditEvent) error {
	now := db.now()
	return translate(db.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Exec(`UPDATE registrations SET state = ? WHERE id = ? AND state = ?`, model.StateUsed, regID, model.StatePending)
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected != 1 {
			return ErrNotPending
		}
		cert.ID, cert.CreatedAt, cert.RegistrationID = 0, now, &regID
		if err := tx.Create(cert).Error; err != nil {
			return err
		}
		if err := tx.Exec(`UPDATE registrations SET certificate_id = ? WHERE id = ?`, cert.ID, regID).Error; err != nil {
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

// ListPendingRegistrations returns the registrations waiting for approval,
// oldest first.
func (db *DB) ListPendingRegistrations(ctx context.Context) ([]model.Registration, error) {
	var rs []model.Registration
	err := db.db.WithContext(ctx).Where("state = ?", model.StatePending).Order("id").Find(&rs).Error
	return rs, translate(err, "Registration")
}

// IssueWithoutRegistration records a certificate that no registration
// authorised (a renewal), revoking the certificates it supersedes, in one
// transaction.
func (db *DB) IssueWithoutRegistration(ctx context.Context, cert *model.Certificate, supersede []string, audit *model.AuditEvent) error {
	now := db.now()
	return translate(db.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		cert.ID, cert.CreatedAt = 0, now
		if err := tx.Create(cert).Error; err != nil {
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

// ActiveSerialsForSubject returns the serials of the subject's active
// certificates, other than except.
func (db *DB) ActiveSerialsForSubject(ctx context.Context, subject string, except string) ([]model.Certificate, error) {
	var cs []model.Certificate
	err := db.db.WithContext(ctx).Where("subject = ? AND state = ? AND serial <> ?", subject, model.CertActive, except).Find(&cs).Error
	return cs, translate(err, "Certificate")
}

// RevokeCertificate revokes the active certificate with that serial.
func (db *DB) RevokeCertificate(ctx context.Context, serial string, reason int, audit *model.AuditEvent) (*model.Certificate, error) {
	serial = strings.ToLower(strings.TrimLeft(strings.TrimPrefix(strings.ToLower(serial), "0x"), "0"))
	var c model.Certificate
	now := db.now()
	err := db.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Where("serial = ?", serial).Take(&c).Error; err != nil {
			return err
		}
		if c.State == model.CertRevoked {
			return model.Errorf(model.ECONFLICT, "Certificate %s was already revoked on %s.", serial, c.RevokedAt.Format("2006-01-02 15:04 MST"))
		}
		if err := revokeSerials(tx, []string{serial}, reason, now); err != nil {
			return err
		}
		c.State, c.RevokedAt, c.RevocationReason = model.CertRevoked, &now, reason
		if audit != nil {
			return addAuditEvent(tx, now, audit)
		}
		return nil
	})
	if err != nil {
		return nil, translate(err, "Certificate "+serial)
	}
	return &c, nil
}

func revokeSerials(tx *gorm.DB, serials []string, reason int, now time.Time) error {
	if len(serials) == 0 {
		return nil
	}
	if err := tx.Exec(`UPDATE certificates SET state = ?, revoked_at = ?, revocation_reason = ? WHERE serial IN ? AND state = ?`,
		model.CertRevoked, now, reason, serials, model.CertActive).Error; err != nil {
		return err
	}
	return nil
}

// RevokedCertificates returns the revoked certificates of CA authorityID
// (and those recorded before certificates named their CA, when
// includeUnattributed).
func (db *DB) RevokedCertificates(ctx context.Context, authorityID int64, includeUnattributed bool) ([]model.Certificate, error) {
	var cs []model.Certificate
	q := db.db.WithContext(ctx).Select("id, serial, revoked_at, revocation_reason").Where("state = ?", model.CertRevoked)
	if includeUnattributed {
		q = q.Where("authority_id = ? OR authority_id IS NULL", authorityID)
	} else {
		q = q.Where("authority_id = ?", authorityID)
	}
	err := q.Order("id").Find(&cs).Error
	return cs, translate(err, "Certificate")
}

// LastRevocation returns when a certificate was last revoked, or the zero
// time when none was.
func (db *DB) LastRevocation(ctx context.Context) (time.Time, error) {
	var c model.Certificate
	err := db.db.WithContext(ctx).Select("revoked_at").Where("state = ?", model.CertRevoked).Order("revoked_at DESC").Limit(1).Find(&c).Error
	if err != nil || c.RevokedAt == nil {
		return time.Time{}, translate(err, "Certificate")
	}
	return *c.RevokedAt, nil
}

// LatestCRL returns the newest CRL of CA authorityID.
func (db *DB) LatestCRL(ctx context.Context, authorityID int64) (*model.CRL, error) {
	var c model.CRL
	err := db.db.WithContext(ctx).Where("authority_id = ?", authorityID).Order("number DESC").Take(&c).Error
	if err != nil {
		return nil, translate(err, "CRL")
	}
	return &c, nil
}

// SaveCRL stores c unless a CRL with its number exists (another process made
// it first); either way it returns the newest CRL.
func (db *DB) SaveCRL(ctx context.Context, c *model.CRL) (*model.CRL, error) {
	err := db.db.WithContext(ctx).Clauses(clause.OnConflict{DoNothing: true}).Create(c).Error
	if err != nil {
		return nil, translate(err, "CRL")
	}
	return db.LatestCRL(ctx, c.AuthorityID)
}
