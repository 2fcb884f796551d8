package admin_test

import (
	"context"
	"testing"
	"time"

	"github.com/scepgate/scepgate/admin"
	"github.com/scepgate/scepgate/model"
)

func TestBulkLimits(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	_, err := e.svc.RevokeCertificates(ctx, admin.CLI, nil, model.ReasonSuperseded)
	wantField(t, err, "id", "Choose the certificates")
	_, err = e.svc.CancelRegistrations(ctx, admin.CLI, make([]int64, admin.MaxBulk+1))
	wantField(t, err, "id", "at most 1000")
}

func TestCancelRegistrationsSkipsTheClosed(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var ids []int64
	for _, pw := range []string{"first-secret", "second-secret"} {
		r, err := e.svc.AddPreRegistration(ctx, admin.CLI, admin.PreRegistrationInput{TokenProcedure: e.pre.Name, Password: pw, ValidFor: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	if err := e.svc.CancelRegistration(ctx, admin.CLI, ids[0]); err != nil {
		t.Fatal(err)
	}
	res, err := e.svc.CancelRegistrations(ctx, admin.CLI, append(ids, 9999))
	if err != nil {
		t.Fatal(err)
	}
	if res.Done != 1 || len(res.Skipped) != 2 || res.Skipped[ids[0]] == "" || res.Skipped[9999] == "" {
		t.Errorf("bulk cancel: %+v, want 1 done and the cancelled and unknown ones skipped", res)
	}
	if r, _ := e.db.FindRegistration(ctx, ids[1]); r.State != model.StateCancelled {
		t.Errorf("after bulk cancel: %s, want cancelled", r.State)
	}
}
