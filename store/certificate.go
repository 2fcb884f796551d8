package store

import (
	"context"

	"github.com/scepgate/scepgate/model"
)

// FindCertificateBySerial returns the certificate with that serial
// (lower-case hex).
func (db *DB) FindCertificateBySerial(ctx context.Context, serial string) (*model.Certificate, error) {
	var c model.Certificate
	if err := db.db.WithContext(ctx).Where("serial = ?", serial).Take(&c).Error; err != nil {
		return nil, translate(err, "Certificate "+serial)
	}
	return &c, nil
}

// CountCertificates returns how many certificates the CA has issued.
func (db *DB) CountCertificates(ctx context.Context) (int64, error) {
	var n int64
	err := db.db.WithContext(ctx).Model(&model.Certificate{}).Count(&n).Error
	return n, translate(err, "Certificate")
}
