package enroll

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki"
)

// Snapshot is the configuration and key material one request works with.
// It is never modified; a change in the database yields a new one.
type Snapshot struct {
	Config    *model.Config
	Authority *pki.Authority

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

// TokenProcedureByName returns the token procedure with that name.
func (s *Snapshot) TokenProcedureByName(name string) (*model.TokenProcedure, bool) {
	for i := range s.Config.TokenProcedures {
		if s.Config.TokenProcedures[i].Name == name {
			return &s.Config.TokenProcedures[i], true
		}
	}
	return nil, false
}

// snapshots caches the current Snapshot and reloads it when the store's
// configuration version changes, checking at most once per interval.
type snapshots struct {
	store    Store
	mk       *pki.MasterKey
	now      func() time.Time
	interval time.Duration

	mu      sync.Mutex
	current *Snapshot
	checked time.Time
}

func (c *snapshots) get(ctx context.Context) (*Snapshot, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if c.current != nil && now.Sub(c.checked) < c.interval {
		return c.current, nil
	}
	version, err := c.store.ConfigVersion(ctx)
	if err != nil {
		if c.current != nil {
			return c.current, nil // keep serving with what we have
		}
		return nil, err
	}
	if c.current != nil && version == c.current.Config.Version {
		c.checked = now
		return c.current, nil
	}
	cfg, err := c.store.LoadConfig(ctx)
	if err != nil {
		return nil, err
	}
	caRow, raRow, err := c.store.ActiveAuthorities(ctx)
	if err != nil {
		return nil, err
	}
	a, err := pki.OpenAuthority(caRow, raRow, c.mk)
	if err != nil {
		return nil, fmt.Errorf("open CA and RA keys: %w", err)
	}
	c.current, c.checked = newSnapshot(cfg, a), now
	return c.current, nil
}

// invalidate makes the next get reload.
func (c *snapshots) invalidate() {
	c.mu.Lock()
	c.checked = time.Time{}
	c.mu.Unlock()
}
