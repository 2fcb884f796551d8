package enroll

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki"
)

// Snapshot is the configuration and key material one request works with.
// It is never modified; a change in the database yields a new one.
type Snapshot struct {
	Config    *model.Config
	Authority *pki.Authority
	// Next is the CA and RA prepared to follow Authority (RFC 8894,
	// section 3.5.2, GetNextCACert); nil when none is.
	Next *pki.Authority
	// Previous are the retired CAs, newest first, without RA: their
	// certificates may still renew, and they sign their CRLs.
	Previous []*pki.Authority

	handlersByFilter map[string]*model.Handler
	tokenProcedures  map[int64]*model.TokenProcedure
	certProcedures   map[int64]*model.CertificateProcedure
}

func newSnapshot(cfg *model.Config, a *pki.Authority) *Snapshot {
	s := &Snapshot{
		Config:           cfg,
		Authority:        a,
		handlersByFilter: map[string]*model.Handler{},
		tokenProcedures:  map[int64]*model.TokenProcedure{},
		certProcedures:   map[int64]*model.CertificateProcedure{},
	}
	for i := range cfg.Handlers {
		h := &cfg.Handlers[i]
		s.handlersByFilter[trimFilter(h.Filter)] = h
	}
	for i := range cfg.TokenProcedures {
		s.tokenProcedures[cfg.TokenProcedures[i].ID] = &cfg.TokenProcedures[i]
	}
	for i := range cfg.CertificateProcedures {
		s.certProcedures[cfg.CertificateProcedures[i].ID] = &cfg.CertificateProcedures[i]
	}
	return s
}

func trimFilter(f string) string {
	for len(f) > 0 && f[len(f)-1] == '/' {
		f = f[:len(f)-1]
	}
	return model.NormalizeFilter(f)
}

// Route finds the enabled handler serving path, the part of the URL after
// /pgwy/scep ("" or "/ndesrequest/pkiclient.exe", say): the handler with the
// longest filter that is a leading segment of path, else the base handler
// (filter ""). Whatever follows the filter is tolerated. A disabled
// handler's URL is served by no one.
func (s *Snapshot) Route(path string) (*model.Handler, bool) {
	rest := trimFilter(path)
	for {
		if h, ok := s.handlersByFilter[rest]; ok {
			return h, h.Enabled
		}
		if rest == "" {
			return nil, false
		}
		i := len(rest) - 1
		for i >= 0 && rest[i] != '/' {
			i--
		}
		if i < 0 {
			rest = ""
		} else {
			rest = rest[:i]
		}
	}
}

// Procedures returns the token procedure a SCEP handler runs and the
// certificate procedure that makes its certificate.
func (s *Snapshot) Procedures(h *model.Handler) (*model.TokenProcedure, *model.CertificateProcedure, error) {
	if h.TokenProcedureID == nil {
		return nil, nil, model.Errorf(model.EINVALID, "Handler %q has no token procedure.", h.Name)
	}
	tp, ok := s.tokenProcedures[*h.TokenProcedureID]
	if !ok {
		return nil, nil, model.Errorf(model.EINVALID, "Handler %q refers to a token procedure that does not exist.", h.Name)
	}
	if len(tp.CertificateProcedureIDs) == 0 {
		return nil, nil, model.Errorf(model.EINVALID, "Token procedure %q runs no certificate procedure.", tp.Name)
	}
	cp, ok := s.certProcedures[tp.CertificateProcedureIDs[0]]
	if !ok {
		return nil, nil, model.Errorf(model.EINVALID, "Token procedure %q refers to a certificate procedure that does not exist.", tp.Name)
	}
	return tp, cp, nil
}

// snapshots holds the current Snapshot. Requests read it without a lock
// and never wait for a reload: only the very first load makes them wait.
// From then on a background goroutine checks the configuration version
// every interval and swaps in a new Snapshot when it changed, so that a
// change made elsewhere (the command line, another instance) is served
// within the interval even by a server that was idle. The CA and RA keys
// are decrypted again only when the active authority rows change, not on
// every change of handlers or procedures.
type snapshots struct {
	store    Store
	mk       *pki.MasterKey
	interval time.Duration
	log      *slog.Logger
	// open decrypts the CA and RA keys: pki.OpenAuthority, which tests
	// replace to count the calls.
	open func(ca, ra *model.Authority, mk *pki.MasterKey) (*pki.Authority, error)
	// stop ends the background checks; it is closed once the Service is
	// garbage.
	stop chan struct{}

	current atomic.Pointer[Snapshot]

	mu       sync.Mutex               // one load at a time
	keys     *openedKeys              // the keys of the current authority rows; guarded by mu
	nextKeys *openedKeys              // those of the next rows; guarded by mu
	retired  map[int64]*pki.Authority // the retired CAs opened so far, by id; guarded by mu
}

// openedKeys is the key material opened from one pair of authority rows.
type openedKeys struct {
	caID, raID int64
	authority  *pki.Authority
}

// reloadTimeout bounds a load that no request waits for.
const reloadTimeout = 30 * time.Second

func (c *snapshots) get(ctx context.Context) (*Snapshot, error) {
	if cur := c.current.Load(); cur != nil {
		return cur, nil
	}
	return c.first(ctx)
}

// first makes the first Snapshot, which callers that come meanwhile wait
// for, and starts the background checks.
func (c *snapshots) first(ctx context.Context) (*Snapshot, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cur := c.current.Load(); cur != nil {
		return cur, nil
	}
	snap, err := c.load(ctx)
	if err != nil {
		return nil, err
	}
	go c.keepFresh()
	return snap, nil
}

// keepFresh checks the configuration every interval until stop is closed.
func (c *snapshots) keepFresh() {
	t := time.NewTicker(c.interval)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			c.refresh()
		}
	}
}

// refresh reloads when the configuration version changed; its errors are
// logged, and requests keep the Snapshot they have.
func (c *snapshots) refresh() {
	ctx, cancel := context.WithTimeout(context.Background(), reloadTimeout)
	defer cancel()
	c.mu.Lock()
	defer c.mu.Unlock()
	version, err := c.store.ConfigVersion(ctx)
	if err == nil && version == c.current.Load().Config.Version {
		return
	}
	if err == nil {
		_, err = c.load(ctx)
	}
	if err != nil {
		c.log.Error("reload settings", "err", err)
	}
}

// changed reloads at once: ConfigChanged.
func (c *snapshots) changed() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.current.Load() == nil {
		return // the first request loads
	}
	ctx, cancel := context.WithTimeout(context.Background(), reloadTimeout)
	defer cancel()
	if _, err := c.load(ctx); err != nil {
		// The background checks try again within the interval.
		c.log.Error("reload settings", "err", err)
	}
}

// load reads the configuration and the active authorities and makes them
// the current Snapshot. The caller holds mu.
func (c *snapshots) load(ctx context.Context) (*Snapshot, error) {
	cfg, err := c.store.LoadConfig(ctx)
	if err != nil {
		return nil, err
	}
	caRow, raRow, err := c.store.ActiveAuthorities(ctx)
	if err != nil {
		return nil, err
	}
	a, err := c.authority(caRow, raRow)
	if err != nil {
		return nil, err
	}
	snap := newSnapshot(cfg, a)
	if snap.Next, err = c.next(ctx); err != nil {
		return nil, err
	}
	if snap.Previous, err = c.previous(ctx); err != nil {
		return nil, err
	}
	c.current.Store(snap)
	return snap, nil
}

// next returns the opened next CA and RA, nil when none are prepared,
// decrypting them only when they are not the rows opened last. The caller
// holds mu.
func (c *snapshots) next(ctx context.Context) (*pki.Authority, error) {
	ca, ra, err := c.store.NextAuthorities(ctx)
	if model.ErrorCode(err) == model.ENOTFOUND {
		c.nextKeys = nil
		return nil, nil
	} else if err != nil {
		return nil, err
	}
	if k := c.nextKeys; k != nil && k.caID == ca.ID && k.raID == ra.ID {
		return k.authority, nil
	}
	a, err := c.open(ca, ra, c.mk)
	if err != nil {
		return nil, fmt.Errorf("open next CA and RA keys: %w", err)
	}
	c.nextKeys = &openedKeys{caID: ca.ID, raID: ra.ID, authority: a}
	return a, nil
}

// previous returns the retired CAs opened, each decrypted once. The caller
// holds mu.
func (c *snapshots) previous(ctx context.Context) ([]*pki.Authority, error) {
	rows, err := c.store.RetiredCAs(ctx)
	if err != nil {
		return nil, err
	}
	if c.retired == nil {
		c.retired = map[int64]*pki.Authority{}
	}
	var out []*pki.Authority
	for i := range rows {
		a, ok := c.retired[rows[i].ID]
		if !ok {
			if a, err = pki.OpenCA(&rows[i], c.mk); err != nil {
				return nil, fmt.Errorf("open retired CA %d: %w", rows[i].ID, err)
			}
			c.retired[rows[i].ID] = a
		}
		out = append(out, a)
	}
	return out, nil
}

// IssuerOf returns the CA, current or retired, that issued c, or nil when
// none did (c is self-signed, or someone else's).
func (s *Snapshot) IssuerOf(c *x509.Certificate) *pki.Authority {
	if isIssuedBy(c, s.Authority.CA) {
		return s.Authority
	}
	for _, a := range s.Previous {
		if isIssuedBy(c, a.CA) {
			return a
		}
	}
	return nil
}

// PreviousCA returns the retired CA with that id, or nil.
func (s *Snapshot) PreviousCA(id int64) *pki.Authority {
	for _, a := range s.Previous {
		if a.ID == id {
			return a
		}
	}
	return nil
}

// authority returns the opened keys of the rows ca and ra, decrypting them
// only when they are not the rows opened last. The caller holds mu.
func (c *snapshots) authority(ca, ra *model.Authority) (*pki.Authority, error) {
	if k := c.keys; k != nil && k.caID == ca.ID && k.raID == ra.ID {
		return k.authority, nil
	}
	a, err := c.open(ca, ra, c.mk)
	if err != nil {
		return nil, fmt.Errorf("open CA and RA keys: %w", err)
	}
	c.keys = &openedKeys{caID: ca.ID, raID: ra.ID, authority: a}
	return a, nil
}
