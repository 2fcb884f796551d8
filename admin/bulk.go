package admin

import (
	"context"

	"github.com/scepgate/scepgate/model"
)

// MaxBulk is how many certificates or registrations one bulk action
// changes; a larger selection is refused, to be narrowed by its filter.
const MaxBulk = 1000

// BulkResult says what a bulk action did: how many it changed, and which
// it skipped because they were no longer in a state to change (revoked
// or cancelled in the meantime), with the reason.
type BulkResult struct {
	Done    int
	Skipped map[int64]string
}

func checkBulk(ids []int64, what string) error {
	switch {
	case len(ids) == 0:
		return fieldError(model.EINVALID, "id", "Choose the %s to act on: tick them, or tick “all matching the filter”.", what)
	case len(ids) > MaxBulk:
		return fieldError(model.EINVALID, "id", "That is %d %s; one action changes at most %d. Narrow the filter.", len(ids), what, MaxBulk)
	}
	return nil
}

// RevokeCertificates revokes each certificate of ids for reason, as
// RevokeCertificate does; those revoked already are skipped. It stops at
// the first error that is not about one certificate's state.
func (s *Service) RevokeCertificates(ctx context.Context, actor Actor, ids []int64, reason int) (BulkResult, error) {
	return each(ids, "certificates", func(id int64) error {
		_, err := s.RevokeCertificate(ctx, actor, id, reason)
		return err
	})
}

// CancelRegistrations cancels each open registration of ids; those no
// longer open are skipped.
func (s *Service) CancelRegistrations(ctx context.Context, actor Actor, ids []int64) (BulkResult, error) {
	return each(ids, "registrations", func(id int64) error { return s.CancelRegistration(ctx, actor, id) })
}

// each runs do for every id of a bulk action: an id whose thing is gone
// or no longer in the state do needs is skipped with the reason; any other
// error stops the action there.
func each(ids []int64, what string, do func(id int64) error) (BulkResult, error) {
	res := BulkResult{Skipped: map[int64]string{}}
	if err := checkBulk(ids, what); err != nil {
		return res, err
	}
	for _, id := range ids {
		err := do(id)
		switch model.ErrorCode(err) {
		case "":
			res.Done++
		case model.ECONFLICT, model.ENOTFOUND:
			res.Skipped[id] = model.ErrorMessage(err)
		default:
			return res, err
		}
	}
	return res, nil
}
