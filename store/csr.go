package store

import (
	"context"
	"fmt"
	"time"

	"github.com/scepgate/scepgate/internal/pkcs10"
	"github.com/scepgate/scepgate/model"
	"gorm.io/gorm"
)

// storableCSR returns the DER request csr as it is stored: without its
// challengePassword attribute, so that no one-time password rests in the
// database in clear. The stored request keeps its subject, key, extensions
// and signature, but the signature no longer verifies (it was verified when
// the request arrived). A request that is not DER PKCS#10 is refused; nil
// stays nil.
func storableCSR(csr []byte) ([]byte, error) {
	if len(csr) == 0 {
		return csr, nil
	}
	out, _, err := pkcs10.WithoutChallengePassword(csr)
	if err != nil {
		return nil, model.Errorf(model.EINVALID, "The certificate request cannot be stored: it is not a DER PKCS#10 request.")
	}
	return out, nil
}

// keyCSRScrubbed records when the stored requests were last cleared of
// challenge passwords, so that the scrub runs once per database.
const keyCSRScrubbed = "data.csr_challenges_scrubbed"

// scrubBatch is how many rows one transaction of the scrub changes.
const scrubBatch = 200

// scrubStoredCSRs takes the challengePassword out of every request stored
// before storableCSR existed, in certificates.csr and registrations.csr,
// once: it records its run in meta. A request that cannot be read is left
// as it is. On SQLite, space the old values held is zeroed and the WAL
// truncated afterwards, so the passwords leave the files too; PostgreSQL
// keeps dead row versions until it vacuums the tables.
func (db *DB) scrubStoredCSRs(ctx context.Context) error {
	g := db.db.WithContext(ctx)
	if _, err := getMeta(g, keyCSRScrubbed); err == nil {
		return nil
	} else if model.ErrorCode(err) != model.ENOTFOUND {
		return err
	}
	return g.Connection(func(conn *gorm.DB) error {
		// One connection, since the pragma is per connection; each
		// statement on it starts afresh.
		conn = conn.Session(&gorm.Session{})
		if db.dialect == "sqlite" {
			if err := conn.Exec(`PRAGMA secure_delete = ON`).Error; err != nil {
				return err
			}
			defer conn.Exec(`PRAGMA secure_delete = OFF`)
		}
		changed := 0
		for _, table := range []string{"certificates", "registrations"} {
			n, err := scrubTable(conn, table)
			if err != nil {
				return fmt.Errorf("scrub challenge passwords from %s: %w", table, err)
			}
			changed += n
		}
		if err := setMeta(conn, keyCSRScrubbed, db.now().Format(time.RFC3339)); err != nil {
			return err
		}
		if db.dialect == "sqlite" && changed > 0 {
			return conn.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`).Error
		}
		return nil
	})
}

// scrubTable rewrites the csr column of table without challenge passwords,
// a batch of rows per transaction, and returns how many rows it changed.
func scrubTable(conn *gorm.DB, table string) (int, error) {
	changed := 0
	var after int64
	for {
		var rows []struct {
			ID  int64
			CSR []byte `gorm:"column:csr"`
		}
		err := conn.Raw(`SELECT id, csr FROM `+table+` WHERE id > ? AND csr IS NOT NULL ORDER BY id LIMIT ?`, after, scrubBatch).Scan(&rows).Error
		if err != nil || len(rows) == 0 {
			return changed, err
		}
		after = rows[len(rows)-1].ID
		err = conn.Transaction(func(tx *gorm.DB) error {
			for _, r := range rows {
				out, removed, err := pkcs10.WithoutChallengePassword(r.CSR)
				if err != nil || !removed {
					continue
				}
				if err := tx.Exec(`UPDATE `+table+` SET csr = ? WHERE id = ?`, out, r.ID).Error; err != nil {
					return err
				}
				changed++
			}
			return nil
		})
		if err != nil {
			return changed, err
		}
	}
}
