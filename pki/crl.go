package pki

import (
	"crypto/x509"
	"io"
	"math/big"
	"time"

	"github.com/scepgate/scepgate/model"
)

// CRLValidity is how long a CRL is valid; a new one is made well before.
const CRLValidity = 24 * time.Hour

// CRL signs a revocation list of the revoked certificates with the CA key.
func (a *Authority) CRL(revoked []model.Certificate, number int64, now time.Time, rnd io.Reader) (*x509.RevocationList, error) {
	entries := make([]x509.RevocationListEntry, 0, len(revoked))
	for _, c := range revoked {
		serial, ok := new(big.Int).SetString(c.Serial, 16)
		if !ok || c.RevokedAt == nil {
			continue
		}
		entries = append(entries, x509.RevocationListEntry{
			SerialNumber: serial, RevocationTime: c.RevokedAt.UTC(), ReasonCode: c.RevocationReason,
		})
	}
	tmpl := &x509.RevocationList{
		Number:                    big.NewInt(number),
		ThisUpdate:                now.UTC(),
		NextUpdate:                now.Add(CRLValidity).UTC(),
		RevokedCertificateEntries: entries,
	}
	der, err := x509.CreateRevocationList(rnd, tmpl, a.CA, a.CAKey)
	if err != nil {
		return nil, err
	}
	return x509.ParseRevocationList(der)
}
