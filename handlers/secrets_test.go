package handlers_test

import (
	"bytes"
	"context"
	"crypto/x509/pkix"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/scepgate/scepgate/internal/sceptest"
	"github.com/smallstep/scep"
)

// TestNoChallengeAtRest enrolls with known challenge passwords, one
// issued at once and one held for approval and then approved, and finds
// neither in any column of any table, nor anywhere in the database files.
func TestNoChallengeAtRest(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	const direct, held = "Known-Challenge-Direct-7f3a9c", "Known-Challenge-Held-2b8e41"
	f.preRegister(direct, "")
	f.preRegisterFor("approval", held, "")

	d := newDevice(t, "direct")
	if _, rep := f.exchange(d, "/pgwy/scep", sceptest.Request{Subject: pkix.Name{CommonName: "direct"}, Challenge: direct}); rep.Status != scep.SUCCESS {
		t.Fatalf("enroll: %s; want SUCCESS", rep.Status)
	}
	w := newDevice(t, "held")
	subject := pkix.Name{CommonName: "held"}
	msg, rep := f.exchange(w, "/pgwy/scep/approve", sceptest.Request{Subject: subject, Challenge: held})
	if rep.Status != scep.PENDING {
		t.Fatalf("enroll for approval: %s; want PENDING", rep.Status)
	}
	assertNowhere(t, f.dsn, direct, held)

	// Approval works from the stored request, which no longer carries the
	// challenge (nor, so, a signature that verifies).
	pending, err := f.db.ListPendingRegistrations(ctx)
	if err != nil || len(pending) != 1 {
		t.Fatalf("pending registrations: %d, %v; want 1", len(pending), err)
	}
	if _, err := f.svc.Approve(ctx, pending[0].ID, "test"); err != nil {
		t.Fatalf("approve the stored request: %v", err)
	}
	poll := sceptest.Request{MessageType: scep.CertPoll, TransactionID: msg.TransactionID, Payload: sceptest.IssuerAndSubject(f.auth.CA, subject)}
	if _, rep := f.exchange(w, "/pgwy/scep/approve", poll); rep.Status != scep.SUCCESS {
		t.Fatalf("CertPoll after approval: %s; want SUCCESS", rep.Status)
	}
	assertNowhere(t, f.dsn, direct, held)
}

// assertNowhere fails when any of secrets is in any column of any table of
// the SQLite database at path, or anywhere in its files.
func assertNowhere(t *testing.T, path string, secrets ...string) {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=15000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tables, err := db.Query(`SELECT name FROM sqlite_master WHERE type = 'table'`)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for tables.Next() {
		var n string
		if err := tables.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	tables.Close()
	cells := 0
	for _, table := range names {
		rows, err := db.Query(fmt.Sprintf(`SELECT * FROM %q`, table))
		if err != nil {
			t.Fatal(err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]sql.RawBytes, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for i, v := range vals {
				cells++
				for _, s := range secrets {
					if bytes.Contains(bytes.ToLower(v), []byte(strings.ToLower(s))) {
						t.Errorf("%s.%s holds the challenge %q", table, cols[i], s)
					}
				}
			}
		}
		rows.Close()
	}
	if cells == 0 {
		t.Fatal("no cells scanned")
	}
	for _, file := range []string{path, path + "-wal"} {
		b, err := os.ReadFile(file)
		if err != nil {
			continue
		}
		for _, s := range secrets {
			if bytes.Contains(b, []byte(s)) {
				t.Errorf("%s holds the challenge %q", file, s)
			}
		}
	}
}
