package store

import (
	"context"

	"github.com/scepgate/scepgate/model"
)

// CountOpenNDESPasswords returns how many unused, unexpired passwords
// handler id has out.
func (db *DB) CountOpenNDESPasswords(ctx context.Context, handlerID int64) (int64, error) {
	var n int64
	err := db.db.WithContext(ctx).Model(&model.Registration{}).
		Where("handler_id = ? AND kind = ? AND state = ? AND used_at IS NULL AND expires_at > ?",
			handlerID, model.RegistrationNDES, model.StateOpen, db.now()).
		Count(&n).Error
	return n, translate(err, "Registration")
}

// SetStoredCSR writes csr as it is into the csr column of row id of table
// (certificates or registrations), as a version before storableCSR did.
func (db *DB) SetStoredCSR(ctx context.Context, table string, id int64, csr []byte) error {
	return db.db.WithContext(ctx).Exec(`UPDATE `+table+` SET csr = ? WHERE id = ?`, csr, id).Error
}

// ForgetCSRScrub makes the next Open scrub the stored requests again, as
// on a database from before the scrub.
func (db *DB) ForgetCSRScrub(ctx context.Context) error {
	return db.db.WithContext(ctx).Exec(`DELETE FROM meta WHERE key = ?`, keyCSRScrubbed).Error
}

// SynchronousOfNewConnection returns PRAGMA synchronous as a connection
// that the pool opens now reports it.
func (db *DB) SynchronousOfNewConnection(ctx context.Context) (int, error) {
	sqlDB, err := db.db.DB()
	if err != nil {
		return 0, err
	}
	sqlDB.SetMaxIdleConns(0) // close the idle ones: the next is new
	conn, err := sqlDB.Conn(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	var n int
	err = conn.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&n)
	return n, err
}
