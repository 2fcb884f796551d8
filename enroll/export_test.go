package enroll

import (
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki"
)

// SetAuthorityOpener makes s decrypt the CA and RA keys with open, so that
// tests can count how often it does. Call it before the first Snapshot.
func SetAuthorityOpener(s *Service, open func(ca, ra *model.Authority, mk *pki.MasterKey) (*pki.Authority, error)) {
	s.snaps.open = open
}
