package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/scepgate/scepgate/model"
)

// TestRollover: a next CA and RA are stored beside the active ones, replace
// an earlier next pair, and become active on activation, the old CA then
// retired.
func TestRollover(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 5, 10, 12, 0, 0, 0, time.UTC)
	db := openTestDB(t, &now)
	pair := func(tag string) (*model.Authority, *model.Authority) {
		return &model.Authority{Kind: model.AuthorityCA, CertDER: []byte("ca " + tag), KeyCiphertext: []byte("k")},
			&model.Authority{Kind: model.AuthorityRA, CertDER: []byte("ra " + tag), KeyCiphertext: []byte("k")}
	}
	if err := db.ActivateNextAuthorities(ctx, nil); model.ErrorCode(err) != model.ENOTFOUND {
		t.Errorf("fail/activate with nothing prepared: got %v, want ENOTFOUND", err)
	}
	ca1, ra1 := pair("1")
	if err := db.ReplaceAuthorities(ctx, ca1, ra1, nil); err != nil {
		t.Fatal(err)
	}
	if _, _, err := db.NextAuthorities(ctx); model.ErrorCode(err) != model.ENOTFOUND {
		t.Errorf("NextAuthorities before prepare: got %v, want ENOTFOUND", err)
	}
	for _, tag := range []string{"2", "3"} {
		ca, ra := pair(tag)
		if err := db.PrepareNextAuthorities(ctx, ca, ra, &model.AuditEvent{Actor: "cli", Action: "ca.rollover.prepare"}); err != nil {
			t.Fatal(err)
		}
	}
	nca, nra, err := db.NextAuthorities(ctx)
	if err != nil || string(nca.CertDER) != "ca 3" || string(nra.CertDER) != "ra 3" || nca.Active {
		t.Fatalf("next: %v, %v, %v; want the pair prepared last, not active", nca, nra, err)
	}
	if ca, _, _ := db.ActiveAuthorities(ctx); ca.ID != ca1.ID {
		t.Errorf("active CA %d after prepare; want %d still", ca.ID, ca1.ID)
	}
	if retired, _ := db.RetiredCAs(ctx); len(retired) != 0 {
		t.Errorf("retired CAs before activation: %d; want none (a replaced next pair is gone, not retired)", len(retired))
	}
	if err := db.ActivateNextAuthorities(ctx, nil); err != nil {
		t.Fatal(err)
	}
	ca, ra, err := db.ActiveAuthorities(ctx)
	if err != nil || ca.ID != nca.ID || ra.ID != nra.ID || ca.Next {
		t.Errorf("active after activation: %v, %v, %v; want the next pair", ca, ra, err)
	}
	if _, _, err := db.NextAuthorities(ctx); model.ErrorCode(err) != model.ENOTFOUND {
		t.Errorf("NextAuthorities after activation: got %v, want ENOTFOUND", err)
	}
	retired, err := db.RetiredCAs(ctx)
	if err != nil || len(retired) != 1 || retired[0].ID != ca1.ID {
		t.Errorf("retired CAs: %v, %v; want the first CA", retired, err)
	}
}
