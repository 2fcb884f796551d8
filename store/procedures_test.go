package store_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/scepgate/scepgate/model"
)

func TestProcedureCRUD(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	db := openTestDB(t, &now)
	v0, _ := db.ConfigVersion(ctx)

	cp := &model.CertificateProcedure{Name: "Wi-Fi_devices", Format: model.FormatSCEP, KeyUsageMode: model.KeyUsageFromCSR, ValidityDays: 90, MinRSABits: 2048}
	if err := db.SaveCertificateProcedure(ctx, cp, &model.AuditEvent{Actor: "admin", Action: "certificate_procedure.create"}); err != nil {
		t.Fatalf("create: %v", err)
	}
	if v, _ := db.ConfigVersion(ctx); v == v0 {
		t.Errorf("config version still %d after a change", v)
	}
	dup := &model.CertificateProcedure{Name: "Wi-Fi_devices", Format: model.FormatSCEP, KeyUsageMode: model.KeyUsageFromCSR, ValidityDays: 1}
	if err := db.SaveCertificateProcedure(ctx, dup, nil); model.ErrorCode(err) != model.ECONFLICT {
		t.Errorf("fail/duplicate name: %v, want conflict", err)
	}
	cp.ValidityDays = 30
	if err := db.SaveCertificateProcedure(ctx, cp, nil); err != nil {
		t.Fatalf("update: %v", err)
	}
	got, err := db.FindCertificateProcedure(ctx, cp.ID)
	if err != nil || got.ValidityDays != 30 || !got.CreatedAt.Equal(cp.CreatedAt) {
		t.Errorf("after update: %+v, %v; want validity 30 and creation time kept", got, err)
	}
	for q, want := range map[string]int64{"": 1, "wi-fi": 1, "I_D": 1, "i%d": 0, "x": 0} {
		if _, n, err := db.ListCertificateProcedures(ctx, q, 1, 10); err != nil || n != want {
			t.Errorf("search %q: %d, %v; want %d", q, n, err, want)
		}
	}

	tp := &model.TokenProcedure{Name: "Wi-Fi enroll", StorageProfile: model.StorageProfilePKCS10, IssuerCertificates: model.IssuerCertsNone,
		InputView: model.InputViewSCEPRegistrations, CertificateProcedureIDs: []int64{cp.ID}}
	if err := db.SaveTokenProcedure(ctx, tp, nil); err != nil {
		t.Fatalf("create token procedure: %v", err)
	}
	err = db.DeleteCertificateProcedure(ctx, cp.ID, nil)
	if model.ErrorCode(err) != model.ECONFLICT || !strings.Contains(model.ErrorMessage(err), `"Wi-Fi enroll"`) {
		t.Errorf("fail/delete used certificate procedure: %v, want conflict naming the token procedure", err)
	}

	h := model.Handler{Name: "wifi", Filter: "wifi", Format: model.HandlerSCEP, Enabled: true, TokenProcedureID: &tp.ID}
	if err := db.SaveHandlers(ctx, []model.Handler{h}, nil); err != nil {
		t.Fatalf("create handler: %v", err)
	}
	if hs, n, err := db.ListHandlers(ctx, "WIF", 1, 10); err != nil || n != 1 {
		t.Fatalf("search handlers: %d, %v; want 1", n, err)
	} else {
		h = hs[0]
	}
	if err := db.DeleteTokenProcedure(ctx, tp.ID, nil); model.ErrorCode(err) != model.ECONFLICT || !strings.Contains(model.ErrorMessage(err), `"wifi"`) {
		t.Errorf("fail/delete used token procedure: %v, want conflict naming the handler", err)
	}
	tp2 := &model.TokenProcedure{Name: "Other", StorageProfile: model.StorageProfilePKCS10, IssuerCertificates: model.IssuerCertsNone, InputView: 16}
	if err := db.SaveTokenProcedure(ctx, tp2, nil); err != nil {
		t.Fatal(err)
	}
	h.TokenProcedureID = &tp2.ID
	if err := db.SaveHandlers(ctx, []model.Handler{h}, nil); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteTokenProcedure(ctx, tp.ID, nil); err != nil {
		t.Fatalf("ok/delete unused token procedure: %v", err)
	}
	if err := db.DeleteCertificateProcedure(ctx, cp.ID, nil); err != nil {
		t.Fatalf("ok/delete unused certificate procedure: %v", err)
	}
	if _, err := db.FindTokenProcedure(ctx, tp.ID); model.ErrorCode(err) != model.ENOTFOUND {
		t.Errorf("deleted token procedure: %v, want not found", err)
	}
}
