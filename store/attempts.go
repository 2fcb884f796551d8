package store

import (
	"context"
	"errors"
	"time"

	"github.com/scepgate/scepgate/model"
	"gorm.io/gorm"
)

// countAttemptSQL counts one attempt in a single statement, so that
// concurrent attempts, on this instance or another, each get their own
// count. In the update every column reads the row as it was: a lock that
// has ended, or a window that has passed, starts the count again at 1; the
// attempt that reaches @lock_after sets the lock, which later attempts keep.
const countAttemptSQL = `
INSERT INTO attempts (kind, key, failures, first_failure_at, last_failure_at, locked_until)
VALUES (@kind, @key, 1, @now, @now, @first_lock)
ON CONFLICT (kind, key) DO UPDATE SET
	failures = CASE WHEN ` + restartSQL + ` THEN 1 ELSE attempts.failures + 1 END,
	first_failure_at = CASE WHEN ` + restartSQL + ` THEN @now ELSE attempts.first_failure_at END,
	last_failure_at = @now,
	locked_until = CASE
		WHEN ` + restartSQL + ` THEN @first_lock
		WHEN attempts.locked_until IS NOT NULL THEN attempts.locked_until
		WHEN attempts.failures + 1 >= @lock_after THEN @until
		ELSE NULL END
RETURNING failures, first_failure_at, last_failure_at, locked_until`

const restartSQL = `(attempts.locked_until <= @now OR (attempts.locked_until IS NULL AND attempts.first_failure_at <= @window_start))`

// CountAttempt counts an attempt of key at door kind before its password
// is checked, and says what p lets it do: be refused (the key is locked),
// wait, or be checked. A success must then ClearAttempts; an attempt
// refused for another reason than its password may be given back with
// ForgiveAttempt.
func (db *DB) CountAttempt(ctx context.Context, kind model.AttemptKind, key string, p model.AttemptPolicy) (model.AttemptVerdict, error) {
	now := db.now()
	until := now.Add(p.LockFor)
	var firstLock *time.Time
	if p.LockAfter <= 1 {
		firstLock = &until
	}
	var a model.Attempts
	err := db.db.WithContext(ctx).Raw(countAttemptSQL, map[string]any{
		"kind": string(kind), "key": key, "now": now, "window_start": now.Add(-p.Window),
		"lock_after": p.LockAfter, "until": until, "first_lock": firstLock,
	}).Scan(&a).Error
	if err != nil {
		return model.AttemptVerdict{}, translate(err, "Attempt")
	}
	a.Kind, a.Key = kind, key
	a.FirstFailureAt = a.FirstFailureAt.UTC() // PostgreSQL gives local time
	return p.Verdict(a, now), nil
}

// ForgiveAttempt takes back the count of an attempt of key at door kind
// that was never checked (the server was busy, or another lock refused
// it), and the lock it set, if it was the one that set it.
func (db *DB) ForgiveAttempt(ctx context.Context, kind model.AttemptKind, key string, p model.AttemptPolicy) error {
	err := db.db.WithContext(ctx).Exec(`UPDATE attempts SET failures = failures - 1,
		locked_until = CASE WHEN failures - 1 < @lock_after THEN NULL ELSE locked_until END
		WHERE kind = @kind AND key = @key AND failures > 0`,
		map[string]any{"kind": string(kind), "key": key, "lock_after": p.LockAfter}).Error
	return translate(err, "Attempt")
}

// ClearAttempts forgets the attempts of key at door kind, after one
// succeeded.
func (db *DB) ClearAttempts(ctx context.Context, kind model.AttemptKind, key string) error {
	err := db.db.WithContext(ctx).Where("kind = ? AND key = ?", string(kind), key).Delete(&model.Attempts{}).Error
	return translate(err, "Attempt")
}

// ClearUserAttempts forgets the failed sign-ins of the user name whose
// keyed hash is nameHash: from every address and in all.
func (db *DB) ClearUserAttempts(ctx context.Context, nameHash string, audit *model.AuditEvent) error {
	return translate(db.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		err := tx.Where("(kind = ? AND key = ?) OR (kind = ? AND key LIKE ?)", string(model.AttemptPortalUser), nameHash,
			string(model.AttemptPortal), nameHash+"|%").Delete(&model.Attempts{}).Error
		if err != nil || audit == nil {
			return err
		}
		return addAuditEvent(tx, db.now(), audit)
	}), "Attempt")
}

// LookupAttempts says, without counting anything, how many attempts key
// has had at door kind in its window and whether it is locked: Count, and
// Refused with RetryAfter.
func (db *DB) LookupAttempts(ctx context.Context, kind model.AttemptKind, key string) (model.AttemptVerdict, error) {
	var a model.Attempts
	err := db.db.WithContext(ctx).Where("kind = ? AND key = ?", string(kind), key).Take(&a).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return model.AttemptVerdict{}, nil
	} else if err != nil {
		return model.AttemptVerdict{}, translate(err, "Attempt")
	}
	v := model.AttemptVerdict{Count: a.Failures, Since: a.FirstFailureAt.UTC()}
	if now := db.now(); a.LockedUntil != nil && now.Before(*a.LockedUntil) {
		v.Refused, v.RetryAfter = true, a.LockedUntil.Sub(now)
	}
	return v, nil
}

// DeleteStaleAttempts removes the counts last added to before before that
// hold no lock, and returns how many it removed; guessing many names or
// addresses so cannot grow the table without bound.
func (db *DB) DeleteStaleAttempts(ctx context.Context, before time.Time) (int64, error) {
	res := db.db.WithContext(ctx).Where("last_failure_at < ? AND (locked_until IS NULL OR locked_until <= ?)", before, db.now()).
		Delete(&model.Attempts{})
	return res.RowsAffected, translate(res.Error, "Attempt")
}
