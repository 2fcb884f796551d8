package store

import (
	"context"

	"github.com/scepgate/scepgate/model"
)

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

// FindCertificate returns the certificate with that id.
func (db *DB) FindCertificate(ctx context.Context, id int64) (*model.Certificate, error) {
	var c model.Certificate
	if err := db.db.WithContext(ctx).Take(&c, id).Error; err != nil {
		return nil, translate(err, "Certificate")
	}
	return &c, nil
}
