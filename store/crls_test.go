package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/store"
)

// TestRevocationSequence: every transaction that revokes moves the
// sequence, whether it revokes one certificate or supersedes others, and
// RevocationList reads the list with the sequence it holds.
func TestRevocationSequence(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	db := openTestDB(t, &now)
	seq := func() int64 {
		t.Helper()
		n, err := db.RevocationSequence(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if got := seq(); got != 0 {
		t.Fatalf("sequence of a new database = %d; want 0", got)
	}
	for _, s := range []string{"a1", "a2", "a3"} {
		testCert(t, db, s, "dev-"+s, now.Add(time.Hour))
	}
	if got := seq(); got != 0 {
		t.Errorf("ok/issue moves nothing: sequence %d; want 0", got)
	}
	if _, err := db.RevokeCertificate(ctx, "a1", model.ReasonKeyCompromise, nil); err != nil {
		t.Fatal(err)
	}
	if got := seq(); got != 1 {
		t.Errorf("ok/revoke: sequence %d; want 1", got)
	}
	if _, err := db.RevokeCertificate(ctx, "a1", model.ReasonKeyCompromise, nil); model.ErrorCode(err) != model.ECONFLICT {
		t.Errorf("fail/revoke again = %v; want ECONFLICT", err)
	}
	if got := seq(); got != 1 {
		t.Errorf("fail/revoke again: sequence %d; want still 1", got)
	}
	renewal := &model.Certificate{Serial: "b1", Subject: "CN=dev-a2", NotBefore: now, NotAfter: now.Add(time.Hour), DER: []byte{0x30}, State: model.CertActive}
	if err := db.RecordIssue(ctx, store.Issue{Cert: renewal, Supersede: []string{"a2"}}); err != nil {
		t.Fatal(err)
	}
	if got := seq(); got != 2 {
		t.Errorf("ok/supersede: sequence %d; want 2", got)
	}
	list, err := db.RevocationList(ctx, 1, true)
	if err != nil {
		t.Fatal(err)
	}
	if list.Sequence != 2 || len(list.Revoked) != 2 || list.Revoked[0].Serial != "a1" || list.Revoked[1].Serial != "a2" {
		t.Errorf("RevocationList = sequence %d, %d revoked; want sequence 2 with a1 and a2", list.Sequence, len(list.Revoked))
	}
}

// TestSaveCRLNumbersUnique: a second CRL of one number for one CA is
// refused, whichever process signs it.
func TestSaveCRLNumbersUnique(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	db := openTestDB(t, &now)
	ca := &model.Authority{Kind: model.AuthorityCA, CertDER: []byte{0x30}, KeyCiphertext: []byte{1}}
	ra := &model.Authority{Kind: model.AuthorityRA, CertDER: []byte{0x30}, KeyCiphertext: []byte{1}}
	if err := db.ReplaceAuthorities(ctx, ca, ra, nil); err != nil {
		t.Fatal(err)
	}
	crl := func(number, seq int64) *model.CRL {
		return &model.CRL{AuthorityID: ca.ID, Number: number, ThisUpdate: now, NextUpdate: now.Add(24 * time.Hour), DER: []byte{byte(number)}, RevocationSequence: seq}
	}
	if err := db.SaveCRL(ctx, crl(1, 0)); err != nil {
		t.Fatal(err)
	}
	if err := db.SaveCRL(ctx, crl(1, 3)); model.ErrorCode(err) != model.ECONFLICT {
		t.Errorf("fail/same number: SaveCRL = %v; want ECONFLICT", err)
	}
	if err := db.SaveCRL(ctx, crl(2, 3)); err != nil {
		t.Fatal(err)
	}
	got, err := db.LatestCRL(ctx, ca.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Number != 2 || got.RevocationSequence != 3 {
		t.Errorf("LatestCRL = number %d, sequence %d; want 2 and 3", got.Number, got.RevocationSequence)
	}
}
