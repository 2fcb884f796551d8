package store

import (
	"context"
	"database/sql"
	"strings"
	"time"

	"github.com/scepgate/scepgate/model"
	"gorm.io/gorm"
)

// FindCertificate returns the certificate with that id.
func (db *DB) FindCertificate(ctx context.Context, id int64) (*model.Certificate, error) {
	var c model.Certificate
	if err := db.db.WithContext(ctx).Take(&c, id).Error; err != nil {
		return nil, translate(err, "Certificate")
	}
	return &c, nil
}

// FindCertificateBySerial returns the certificate with that serial
// (lower-case hex).
func (db *DB) FindCertificateBySerial(ctx context.Context, serial string) (*model.Certificate, error) {
	var c model.Certificate
	if err := db.db.WithContext(ctx).Where("serial = ?", serial).Take(&c).Error; err != nil {
		return nil, translate(err, "Certificate "+serial)
	}
	return &c, nil
}

// SearchCertificates returns the certificates f selects, newest first, one
// page of perPage, and how many match in all. Certificate DER and CSR are
// left out.
func (db *DB) SearchCertificates(ctx context.Context, f model.CertificateFilter, page, perPage int) ([]model.Certificate, int64, error) {
	tx := db.db.WithContext(ctx).Model(&model.Certificate{})
	if f.Query != "" {
		g := db.db
		tx = tx.Where(whereContains(g, "subject", f.Query).Or(whereContains(g, "dns_names", f.Query)).Or(whereContains(g, "serial", f.Query)))
	}
	switch f.State {
	case model.CertActive:
		tx = tx.Where("state = ? AND not_after > ?", model.CertActive, f.Now)
	case model.CertRevoked:
		tx = tx.Where("state = ?", model.CertRevoked)
	case "expiring":
		tx = tx.Where("state = ? AND not_after > ? AND not_after <= ?", model.CertActive, f.Now, f.ExpiringBefore)
	case "expired":
		tx = tx.Where("state = ? AND not_after <= ?", model.CertActive, f.Now)
	}
	var n int64
	if err := tx.Count(&n).Error; err != nil {
		return nil, 0, translate(err, "Certificate")
	}
	var cs []model.Certificate
	err := tx.Omit("der", "csr").Order("id DESC").Offset((page - 1) * perPage).Limit(perPage).Find(&cs).Error
	return cs, n, translate(err, "Certificate")
}

// ActiveSerialsForSubject returns the serials of the subject's active
// certificates, other than except.
func (db *DB) ActiveSerialsForSubject(ctx context.Context, subject string, except string) ([]model.Certificate, error) {
	var cs []model.Certificate
	err := db.db.WithContext(ctx).Where("subject = ? AND state = ? AND serial <> ?", subject, model.CertActive, except).Find(&cs).Error
	return cs, translate(err, "Certificate")
}

// FindTransaction returns what was recorded for a SCEP transaction ID:
// the certificate issued for it or, when none was, the newest registration
// it used (pending, rejected or used); an ENOTFOUND error when neither
// exists.
func (db *DB) FindTransaction(ctx context.Context, transactionID string) (*Transaction, error) {
	if transactionID == "" {
		return nil, model.Errorf(model.ENOTFOUND, "Transaction not found.")
	}
	// One statement says whether anything is known, which for a new
	// transaction (every enrollment) is all there is to ask. The index on
	// certificates.transaction_id leaves out the empty ID, so the query
	// must too for the index to serve it.
	g := db.db.WithContext(ctx)
	var hits []struct {
		IsCertificate int
		ID            int64
	}
	err := g.Raw(`SELECT 1 AS is_certificate, id FROM certificates WHERE transaction_id = ? AND transaction_id <> ''
		UNION ALL SELECT 0, id FROM registrations WHERE transaction_id = ?
		ORDER BY is_certificate DESC, id DESC LIMIT 1`, transactionID, transactionID).Scan(&hits).Error
	if err != nil {
		return nil, translate(err, "Transaction")
	}
	if len(hits) == 0 {
		return nil, model.Errorf(model.ENOTFOUND, "Transaction %s not found.", quote(transactionID))
	}
	if hits[0].IsCertificate == 1 {
		var c model.Certificate
		if err := g.Take(&c, hits[0].ID).Error; err != nil {
			return nil, translate(err, "Certificate")
		}
		return &Transaction{Certificate: &c}, nil
	}
	var r model.Registration
	if err := g.Take(&r, hits[0].ID).Error; err != nil {
		return nil, translate(err, "Registration")
	}
	return &Transaction{Registration: &r}, nil
}

// Transaction is what FindTransaction found for a transaction ID: exactly
// one of its fields is set.
type Transaction struct {
	Certificate  *model.Certificate
	Registration *model.Registration
}

// Issue is a certificate to record, with what authorised it.
type Issue struct {
	Cert *model.Certificate
	// ConsumeRegistrationID, when set, names the open registration whose
	// challenge password authorises Cert (an enrollment).
	ConsumeRegistrationID int64
	// ApproveRegistrationID, when set, names the pending registration an
	// administrator approves with Cert. With neither set, no registration
	// authorises Cert (a renewal).
	ApproveRegistrationID int64
	// Supersede lists the serials of the certificates Cert replaces; they
	// are revoked as superseded.
	Supersede []string
	// Audit, when not nil, is recorded with the certificate.
	Audit *model.AuditEvent
}

// RecordIssue records is.Cert in one transaction with the registration it
// settles, the certificates it supersedes and its audit event. Its CSR is
// stored without the challengePassword attribute (see storableCSR). A consumed
// registration must still be open and unexpired, checked and changed by
// one compare-and-swap statement, or nothing is written and
// ErrRegistrationTaken is returned; an approved one must still be pending,
// or ErrNotPending. A certificate whose serial or transaction ID is taken
// is an ECONFLICT error.
func (db *DB) RecordIssue(ctx context.Context, is Issue) error {
	if is.ConsumeRegistrationID != 0 && is.ApproveRegistrationID != 0 {
		return model.Errorf(model.EINVALID, "A certificate consumes a registration or settles a pending one, not both.")
	}
	now := db.now()
	cert := is.Cert
	csr, err := storableCSR(cert.CSR)
	if err != nil {
		return err
	}
	cert.CSR = csr
	return translate(db.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var regID int64
		switch {
		case is.ConsumeRegistrationID != 0:
			regID = is.ConsumeRegistrationID
			if err := consumeRegistration(tx, regID, cert.TransactionID, now); err != nil {
				return err
			}
		case is.ApproveRegistrationID != 0:
			regID = is.ApproveRegistrationID
			if err := approveRegistration(tx, regID); err != nil {
				return err
			}
		}
		cert.ID, cert.CreatedAt, cert.RegistrationID = 0, now, nil
		if regID != 0 {
			cert.RegistrationID = &regID
		}
		if err := tx.Create(cert).Error; err != nil {
			return err
		}
		if regID != 0 {
			if err := tx.Exec(`UPDATE registrations SET certificate_id = ?, handler_used_id = ? WHERE id = ?`, cert.ID, cert.HandlerID, regID).Error; err != nil {
				return err
			}
		}
		if err := revokeSerials(tx, is.Supersede, model.ReasonSuperseded, now); err != nil {
			return err
		}
		if is.Audit != nil {
			return addAuditEvent(tx, now, is.Audit)
		}
		return nil
	}), "Certificate")
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
	res := tx.Exec(`UPDATE certificates SET state = ?, revoked_at = ?, revocation_reason = ? WHERE serial IN ? AND state = ?`,
		model.CertRevoked, now, reason, serials, model.CertActive)
	if res.Error != nil {
		return res.Error
	}
	if res.RowsAffected == 0 {
		return nil
	}
	return bumpRevocationSequence(tx)
}

// RevocationList is what a CRL is built from: the revoked certificates and
// the revocation sequence they were read at.
type RevocationList struct {
	// Sequence counts revocations: every transaction that revokes a
	// certificate adds one before it commits, so a CRL built at Sequence
	// is current exactly as long as Sequence has not moved.
	Sequence int64
	// Revoked holds serial, revoked_at and revocation_reason of each.
	Revoked []model.Certificate
}

// RevocationList returns the revoked certificates of CA authorityID (and
// those recorded before certificates named their CA, when
// includeUnattributed) with the revocation sequence, both read in one
// transaction: the list holds every revocation the sequence counts.
func (db *DB) RevocationList(ctx context.Context, authorityID int64, includeUnattributed bool) (*RevocationList, error) {
	var l RevocationList
	// One snapshot on PostgreSQL (SQLite's transactions are one anyway).
	// The sequence is read first, so even without a snapshot the list
	// could only hold more than it counts, never less.
	opts := &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: db.dialect == "postgres"}
	err := db.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var err error
		if l.Sequence, err = revocationSequence(tx); err != nil {
			return err
		}
		q := tx.Select("id, serial, revoked_at, revocation_reason").Where("state = ?", model.CertRevoked)
		if includeUnattributed {
			q = q.Where("authority_id = ? OR authority_id IS NULL", authorityID)
		} else {
			q = q.Where("authority_id = ?", authorityID)
		}
		return q.Order("id").Find(&l.Revoked).Error
	}, opts)
	if err != nil {
		return nil, translate(err, "Certificate")
	}
	return &l, nil
}

// RevocationSequence returns the current revocation sequence (see
// RevocationList).
func (db *DB) RevocationSequence(ctx context.Context) (int64, error) {
	n, err := revocationSequence(db.db.WithContext(ctx))
	return n, translate(err, "Revocation sequence")
}

// DashboardCounts counts certificates and registrations as of now; a
// certificate is expiring when it is active and ends before now+window.
func (db *DB) DashboardCounts(ctx context.Context, now time.Time, window time.Duration) (*model.DashboardCounts, error) {
	g := db.db.WithContext(ctx)
	var c model.DashboardCounts
	steps := []struct {
		n     *int64
		table any
		where string
		args  []any
	}{
		{&c.CertificatesActive, &model.Certificate{}, "state = ? AND not_after > ?", []any{model.CertActive, now}},
		{&c.CertificatesExpiring, &model.Certificate{}, "state = ? AND not_after > ? AND not_after <= ?", []any{model.CertActive, now, now.Add(window)}},
		{&c.CertificatesRevoked, &model.Certificate{}, "state = ?", []any{model.CertRevoked}},
		{&c.RegistrationsOpen, &model.Registration{}, "state = ? AND expires_at > ?", []any{model.StateOpen, now}},
		{&c.ApprovalsPending, &model.Registration{}, "state = ?", []any{model.StatePending}},
	}
	for _, s := range steps {
		if err := g.Model(s.table).Where(s.where, s.args...).Count(s.n).Error; err != nil {
			return nil, translate(err, "Dashboard")
		}
	}
	return &c, nil
}

// IssuedPerDay returns how many certificates were issued on each of the
// days UTC days ending with the day of now, oldest first.
func (db *DB) IssuedPerDay(ctx context.Context, now time.Time, days int) ([]model.DayCount, error) {
	today := now.UTC().Truncate(24 * time.Hour)
	first := today.AddDate(0, 0, -(days - 1))
	var created []time.Time
	err := db.db.WithContext(ctx).Model(&model.Certificate{}).Where("created_at >= ?", first).Pluck("created_at", &created).Error
	if err != nil {
		return nil, translate(err, "Certificate")
	}
	out := make([]model.DayCount, days)
	for i := range out {
		out[i].Day = first.AddDate(0, 0, i)
	}
	for _, t := range created {
		i := int(t.UTC().Sub(first) / (24 * time.Hour))
		if i >= 0 && i < days {
			out[i].Count++
		}
	}
	return out, nil
}
