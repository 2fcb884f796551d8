package enroll_test

import (
	"context"
	"crypto/rand"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scepgate/scepgate/enroll"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki"
	"github.com/scepgate/scepgate/store"
)

// countingService returns a new service over f's database (or over st,
// when given) that counts in opened how often it decrypts the CA and RA
// keys.
func (f *ndesFixture) countingService(st enroll.Store, o enroll.Options) (svc *enroll.Service, opened *atomic.Int64) {
	if st == nil {
		st = f.db
	}
	svc = enroll.NewService(st, f.mk, o)
	opened = new(atomic.Int64)
	enroll.SetAuthorityOpener(svc, func(ca, ra *model.Authority, mk *pki.MasterKey) (*pki.Authority, error) {
		opened.Add(1)
		return pki.OpenAuthority(ca, ra, mk)
	})
	return svc, opened
}

// saveHandler stores a change to the handler named name, as the portal or
// the command line does.
func (f *ndesFixture) saveHandler(t *testing.T, name string, change func(*model.Handler)) {
	t.Helper()
	ctx := context.Background()
	cfg, err := f.db.LoadConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range cfg.Handlers {
		if h.Name == name {
			change(&h)
			if err := f.db.SaveHandlers(ctx, []model.Handler{h}, nil); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("no handler %q", name)
}

// waitForSnapshot asks svc for snapshots until ok accepts one.
func waitForSnapshot(t *testing.T, svc *enroll.Service, ok func(*enroll.Snapshot) bool) *enroll.Snapshot {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		snap, err := svc.Snapshot(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if ok(snap) {
			return snap
		}
		if time.Now().After(deadline) {
			t.Fatalf("the service still serves configuration version %d after 5 s", snap.Config.Version)
		}
	}
}

func TestSnapshotOpensKeysOncePerAuthority(t *testing.T) {
	f := newNDESFixture(t)
	ctx := context.Background()
	svc, opened := f.countingService(nil, enroll.Options{Now: f.clock.Now, ConfigCheckInterval: time.Millisecond})
	first, err := svc.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n := opened.Load(); n != 1 {
		t.Fatalf("keys opened %d times by the first snapshot; want 1", n)
	}

	// ok/handlers changed: ConfigChanged makes the next request see the
	// change, with the keys it has.
	f.saveHandler(t, "ndesrequest2", func(h *model.Handler) { h.Enabled = false })
	svc.ConfigChanged()
	snap, err := svc.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, enabled := snap.Route("ndesrequest2"); enabled || snap.Config.Version == first.Config.Version {
		t.Errorf("after ConfigChanged: version %d, ndesrequest2 enabled %v; want a new version with it disabled", snap.Config.Version, enabled)
	}
	if n := opened.Load(); n != 1 || snap.Authority != first.Authority {
		t.Errorf("after a change of handlers: keys opened %d times, same authority %v; want 1 and the same", n, snap.Authority == first.Authority)
	}

	// ok/handlers changed elsewhere: seen within the check interval, again
	// without opening the keys.
	f.saveHandler(t, "ndesrequest2", func(h *model.Handler) { h.Enabled = true })
	waitForSnapshot(t, svc, func(s *enroll.Snapshot) bool { _, enabled := s.Route("ndesrequest2"); return enabled })
	if n := opened.Load(); n != 1 {
		t.Errorf("after a change of handlers from elsewhere: keys opened %d times; want 1", n)
	}

	// ok/authorities replaced: the new keys are opened, once.
	a, err := pki.NewAuthority("p256", "replacement", f.clock.Now(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	caRow, raRow, err := pki.SealAuthority(a, f.mk)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.db.ReplaceAuthorities(ctx, caRow, raRow, nil); err != nil {
		t.Fatal(err)
	}
	svc.ConfigChanged()
	snap, err = svc.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !snap.Authority.CA.Equal(a.CA) {
		t.Errorf("after ReplaceAuthorities: CA %q; want the new CA %q", snap.Authority.CA.Subject, a.CA.Subject)
	}
	svc.ConfigChanged()
	if n := opened.Load(); n != 2 {
		t.Errorf("after replacing the authorities and one more reload: keys opened %d times; want 2", n)
	}
}

// TestSnapshotReadersDuringReloads reads snapshots from many goroutines
// while the settings change and reload underneath (run it with -race).
func TestSnapshotReadersDuringReloads(t *testing.T) {
	f := newNDESFixture(t)
	ctx := context.Background()
	svc, opened := f.countingService(nil, enroll.Options{ConfigCheckInterval: time.Millisecond})
	if _, err := svc.Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var reads atomic.Int64
	for range 8 {
		wg.Go(func() {
			var last int64
			for {
				select {
				case <-stop:
					return
				default:
				}
				snap, err := svc.Snapshot(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				if snap.Config.Version < last {
					t.Errorf("configuration version went back from %d to %d", last, snap.Config.Version)
				}
				last = snap.Config.Version
				if h, ok := snap.Route("ndesrequest/pkiclient.exe"); !ok || h.Name != "ndesrequest" || snap.Authority.CA == nil {
					t.Errorf("snapshot %d routes to %v, %v with CA %v; want the handler ndesrequest and a CA", snap.Config.Version, h, ok, snap.Authority.CA)
				}
				reads.Add(1)
			}
		})
	}
	for i := range 30 {
		f.saveHandler(t, "ndeschallenge", func(h *model.Handler) {
			h.NDESChallengeValidity = map[bool]string{true: "PT15M", false: "PT30M"}[i%2 == 0]
		})
		if i%3 == 0 {
			svc.ConfigChanged()
		}
	}
	close(stop)
	wg.Wait()
	svc.ConfigChanged()
	want, err := f.db.ConfigVersion(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if snap, _ := svc.Snapshot(ctx); snap.Config.Version != want {
		t.Errorf("after ConfigChanged: version %d; want %d", snap.Config.Version, want)
	}
	if n := opened.Load(); n != 1 {
		t.Errorf("keys opened %d times over 30 changes of handlers; want 1", n)
	}
	t.Logf("%d snapshots read", reads.Load())
}

// gatedStore holds LoadConfig until gate is closed, once block is set.
type gatedStore struct {
	*store.DB
	block   atomic.Bool
	entered chan struct{}
	gate    chan struct{}
}

func (g *gatedStore) LoadConfig(ctx context.Context) (*model.Config, error) {
	if g.block.Load() {
		select {
		case g.entered <- struct{}{}:
		default:
		}
		<-g.gate
	}
	return g.DB.LoadConfig(ctx)
}

// TestSnapshotDoesNotWaitForReload: while a reload is under way, requests
// go on with the snapshot they have.
func TestSnapshotDoesNotWaitForReload(t *testing.T) {
	f := newNDESFixture(t)
	ctx := context.Background()
	gs := &gatedStore{DB: f.db, entered: make(chan struct{}, 1), gate: make(chan struct{})}
	svc, _ := f.countingService(gs, enroll.Options{ConfigCheckInterval: 5 * time.Millisecond})
	current, err := svc.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gs.block.Store(true)
	f.saveHandler(t, "ndesrequest2", func(h *model.Handler) { h.Enabled = false })
	select {
	case <-gs.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("no reload started within 5 s of a change")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 100 {
			snap, err := svc.Snapshot(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			if snap != current {
				t.Errorf("Snapshot during the reload = version %d; want the current version %d", snap.Config.Version, current.Config.Version)
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("requests wait for the reload")
	}
	close(gs.gate)
	waitForSnapshot(t, svc, func(s *enroll.Snapshot) bool { return s.Config.Version > current.Config.Version })
}

// TestSnapshotChecksStopWithService: the background checks of a service
// nobody uses any more end.
func TestSnapshotChecksStopWithService(t *testing.T) {
	f := newNDESFixture(t)
	var checks atomic.Int64
	cs := &countingStore{DB: f.db, versions: &checks}
	func() {
		svc := enroll.NewService(cs, f.mk, enroll.Options{ConfigCheckInterval: time.Millisecond})
		if _, err := svc.Snapshot(context.Background()); err != nil {
			t.Fatal(err)
		}
	}()
	waitFor(t, "the first background check", func() bool { return checks.Load() > 0 })
	waitFor(t, "the checks to stop", func() bool {
		runtime.GC()
		before := checks.Load()
		time.Sleep(20 * time.Millisecond)
		return checks.Load() == before
	})
}

// countingStore counts the configuration version checks.
type countingStore struct {
	*store.DB
	versions *atomic.Int64
}

func (c *countingStore) ConfigVersion(ctx context.Context) (int64, error) {
	c.versions.Add(1)
	return c.DB.ConfigVersion(ctx)
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("waited 5 s for %s", what)
		}
	}
}
