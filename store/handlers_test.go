package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/scepgate/scepgate/internal/testclock"
	"github.com/scepgate/scepgate/model"
)

func TestAliases(t *testing.T) {
	ctx := context.Background()
	clock := testclock.New(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	db, _ := ndesDB(t, clock)
	got, err := db.Aliases(ctx)
	if err != nil || got != model.DefaultAliases {
		t.Fatalf("Aliases = %+v, %v; want the defaults %+v", got, err, model.DefaultAliases)
	}
	tests := []struct {
		name     string
		set      model.Aliases
		want     model.Aliases
		wantCode string
		wantMsg  string
	}{
		{name: "ok/challenge handler", set: model.Aliases{MSCEPAdmin: "ndeschallenge2"}, want: model.Aliases{MSCEPAdmin: "ndeschallenge2", MSCEP: "ndesrequest"}},
		{name: "ok/both", set: model.Aliases{MSCEPAdmin: "ndeschallenge", MSCEP: "ndesrequest"}, want: model.DefaultAliases},
		{name: "fail/scep handler as challenge page", set: model.Aliases{MSCEPAdmin: "ndesrequest"}, want: model.DefaultAliases, wantCode: model.EINVALID, wantMsg: "scep-ndes"},
		{name: "fail/challenge handler as scep endpoint", set: model.Aliases{MSCEP: "ndeschallenge"}, want: model.DefaultAliases, wantCode: model.EINVALID, wantMsg: "mscep.dll"},
		{name: "fail/unknown handler", set: model.Aliases{MSCEP: "nope"}, want: model.DefaultAliases, wantCode: model.ENOTFOUND, wantMsg: `"nope"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := db.ConfigVersion(ctx)
			err := db.SetAliases(ctx, tt.set, &model.AuditEvent{Actor: "test", Action: "handlers.alias"})
			if code := model.ErrorCode(err); code != tt.wantCode {
				t.Fatalf("SetAliases error code = %q (%v); want %q", code, err, tt.wantCode)
			}
			if !strings.Contains(model.ErrorMessage(err), tt.wantMsg) {
				t.Errorf("message = %q; want it to contain %q", model.ErrorMessage(err), tt.wantMsg)
			}
			got, err := db.Aliases(ctx)
			if err != nil || got != tt.want {
				t.Errorf("Aliases = %+v, %v; want %+v", got, err, tt.want)
			}
			after, _ := db.ConfigVersion(ctx)
			if tt.wantCode == "" && after == before {
				t.Errorf("config version stayed %d; want it bumped", after)
			}
		})
	}
}

func TestSaveHandlers(t *testing.T) {
	ctx := context.Background()
	clock := testclock.New(time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC))
	db, cfg := ndesDB(t, clock)
	byName := map[string]model.Handler{}
	for _, h := range cfg.Handlers {
		byName[h.Name] = h
	}
	withValidity := func(v string) model.Handler {
		h := byName["ndeschallenge"]
		h.NDESChallengeValidity = v
		return h
	}
	newNDES := model.Handler{Name: "mdm", Filter: "mdm/", Format: model.HandlerNDES, Enabled: true, NDESUsername: "mdm", NDESPasswordHash: "$2a$10$y", NDESChallengeValidity: "P1D"}
	tests := []struct {
		name     string
		save     model.Handler
		wantCode string
		wantMsg  string
	}{
		{name: "ok/update validity PT1H", save: withValidity("PT1H")},
		{name: "ok/create", save: newNDES},
		{name: "fail/duplicate name", save: func() model.Handler { h := newNDES; h.ID, h.Filter = 0, "other"; return h }(), wantCode: model.ECONFLICT, wantMsg: `"mdm"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, _ := db.ConfigVersion(ctx)
			hs := []model.Handler{tt.save}
			err := db.SaveHandlers(ctx, hs, &model.AuditEvent{Actor: "test", Action: "handlers.import"})
			if code := model.ErrorCode(err); code != tt.wantCode {
				t.Fatalf("SaveHandlers error code = %q (%v); want %q", code, err, tt.wantCode)
			}
			if !strings.Contains(model.ErrorMessage(err), tt.wantMsg) {
				t.Errorf("message = %q; want it to contain %q", model.ErrorMessage(err), tt.wantMsg)
			}
			after, _ := db.ConfigVersion(ctx)
			if (tt.wantCode == "") != (after > before) {
				t.Errorf("config version %d -> %d; want a bump exactly when the save succeeds", before, after)
			}
			if tt.wantCode != "" {
				return
			}
			cfg, err := db.LoadConfig(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, h := range cfg.Handlers {
				if h.ID == hs[0].ID && h.NDESChallengeValidity != tt.save.NDESChallengeValidity {
					t.Errorf("stored validity = %q; want %q", h.NDESChallengeValidity, tt.save.NDESChallengeValidity)
				}
			}
		})
	}
}
