package enroll_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/x509"
	"fmt"
	"math/big"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/scepgate/scepgate/internal/testenv"

	"github.com/scepgate/scepgate/enroll"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki"
	"github.com/scepgate/scepgate/store"

	_ "github.com/jackc/pgx/v5/stdlib" // the pgx driver for database/sql
)

// TestCRLHoldsEveryRevocation: revocations from several goroutines, on two
// Services over one SQLite file (the server and `scepgate cert revoke`),
// while others fetch CRLs: every CRL fetched after a Revoke returned lists
// its serial, and CRL numbers rise with what they list.
func TestCRLHoldsEveryRevocation(t *testing.T) {
	testCRLRace(t, filepath.Join(t.TempDir(), "crl.db"))
}

// TestCRLHoldsEveryRevocationPostgres is the same with two Services over
// one PostgreSQL database, as two instances share one; it runs when
// SCEPGATE_TEST_POSTGRES names a server (see scripts/test-postgres.sh).
func TestCRLHoldsEveryRevocationPostgres(t *testing.T) {
	testCRLRace(t, testenv.PostgresDSN(t))
}

func testCRLRace(t *testing.T, dsn string) {
	ctx := context.Background()
	// Real clocks: the defect was a comparison of clock readings.
	open := func() *store.DB {
		db, err := store.Open(ctx, dsn, nil)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		return db
	}
	db := open()
	mk, err := pki.NewMasterKey("0123456789abcdef0123456789abcdef-test")
	if err != nil {
		t.Fatal(err)
	}
	a, err := pki.NewAuthority("p256", "crl race", time.Now(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caRow, raRow, err := pki.SealAuthority(a, mk)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.ReplaceAuthorities(ctx, caRow, raRow, nil); err != nil {
		t.Fatal(err)
	}
	const revokers, perRevoker, fetchers = 3, 12, 4
	var serials []string
	for i := range revokers * perRevoker {
		serial := fmt.Sprintf("c0ffee%04x", i)
		now := time.Now().UTC()
		c := &model.Certificate{Serial: serial, Subject: fmt.Sprintf("CN=device %d", i), NotBefore: now, NotAfter: now.Add(time.Hour),
			DER: []byte{0x30}, State: model.CertActive, AuthorityID: &caRow.ID}
		if err := db.RecordIssue(ctx, store.Issue{Cert: c}); err != nil {
			t.Fatal(err)
		}
		serials = append(serials, serial)
	}
	svcs := []*enroll.Service{enroll.NewService(db, mk, enroll.Options{}), enroll.NewService(open(), mk, enroll.Options{})}

	var mu sync.Mutex
	returned := map[string]bool{} // serials whose Revoke has returned
	seen := map[int64][]byte{}    // CRL number -> DER
	done := make(chan struct{})

	// fetch gets a CRL from svc and checks it lists every serial revoked
	// before it was asked for.
	fetch := func(svc *enroll.Service, viaPublication bool) *x509.RevocationList {
		mu.Lock()
		want := make([]string, 0, len(returned))
		for s := range returned {
			want = append(want, s)
		}
		mu.Unlock()
		var crl *model.CRL
		var err error
		if viaPublication {
			_, crl, err = svc.CAPublication(ctx, caRow.ID)
		} else {
			snap, serr := svc.Snapshot(ctx)
			if serr != nil {
				t.Error(serr)
				return nil
			}
			crl, err = svc.CurrentCRL(ctx, snap)
		}
		if err != nil {
			t.Errorf("fetch CRL: %v", err)
			return nil
		}
		list, err := x509.ParseRevocationList(crl.DER)
		if err != nil {
			t.Errorf("parse CRL %d: %v", crl.Number, err)
			return nil
		}
		listed := map[string]bool{}
		for _, e := range list.RevokedCertificateEntries {
			listed[e.SerialNumber.Text(16)] = true
		}
		for _, s := range want {
			if !listed[s] {
				t.Errorf("CRL %d (thisUpdate %s) omits %s, revoked before it was fetched", crl.Number, list.ThisUpdate.Format(time.RFC3339Nano), s)
			}
		}
		mu.Lock()
		if der, ok := seen[crl.Number]; ok && !bytes.Equal(der, crl.DER) {
			t.Errorf("two different CRLs numbered %d", crl.Number)
		}
		seen[crl.Number] = crl.DER
		mu.Unlock()
		return list
	}

	var revoking, fetching sync.WaitGroup
	for r := range revokers {
		revoking.Go(func() {
			svc := svcs[r%len(svcs)]
			for _, s := range serials[r*perRevoker : (r+1)*perRevoker] {
				if _, err := svc.Revoke(ctx, s, model.ReasonKeyCompromise, "test", ""); err != nil {
					t.Errorf("revoke %s: %v", s, err)
				}
				mu.Lock()
				returned[s] = true
				mu.Unlock()
			}
		})
	}
	for f := range fetchers {
		fetching.Go(func() {
			svc := svcs[f%len(svcs)]
			var last *big.Int
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				list := fetch(svc, i%2 == 1)
				if list == nil {
					return
				}
				if last != nil && list.Number.Cmp(last) < 0 {
					t.Errorf("CRL number went from %s back to %s", last, list.Number)
				}
				last = list.Number
			}
		})
	}
	revoking.Wait()
	close(done)
	fetching.Wait()
	for _, svc := range svcs {
		if list := fetch(svc, false); list != nil && len(list.RevokedCertificateEntries) != len(serials) {
			t.Errorf("final CRL lists %d certificates; want all %d", len(list.RevokedCertificateEntries), len(serials))
		}
	}

	// A CRL with a higher number lists everything a lower one does.
	var numbers []int64
	for n := range seen {
		numbers = append(numbers, n)
	}
	sort.Slice(numbers, func(i, j int) bool { return numbers[i] < numbers[j] })
	var prev map[string]bool
	for _, n := range numbers {
		list, err := x509.ParseRevocationList(seen[n])
		if err != nil {
			t.Fatal(err)
		}
		if list.Number.Int64() != n {
			t.Errorf("CRL stored as number %d says it is number %s", n, list.Number)
		}
		cur := map[string]bool{}
		for _, e := range list.RevokedCertificateEntries {
			cur[e.SerialNumber.Text(16)] = true
		}
		for s := range prev {
			if !cur[s] {
				t.Errorf("CRL %d omits %s, which an earlier CRL lists", n, s)
			}
		}
		prev = cur
	}
	t.Logf("%d revocations, %d distinct CRLs fetched", len(serials), len(numbers))
}
