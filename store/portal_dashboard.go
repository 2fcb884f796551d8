package store

import (
	"context"
	"time"

	"github.com/scepgate/scepgate/model"
)

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
