package admin

import (
	"context"
	"strings"

	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki"
)

// CAImport is a CA and an RA as PKCS#12 files, with their password.
type CAImport struct {
	CA, RA         []byte
	CAName, RAName string // how messages call the files, such as ca.p12
	Password       string
}

// CheckedCA is a CA and RA that passed CheckCAImport, ready for ImportCA.
type CheckedCA struct{ a *pki.Authority }

// Authority returns the CA and RA that were checked.
func (c *CheckedCA) Authority() *pki.Authority { return c.a }

// CheckCAImport reads in and checks that the CA can issue and that the RA
// is issued by it for digitalSignature, keyEncipherment and serverAuth.
// It touches no data, so a door can refuse bad files before opening any.
func CheckCAImport(in CAImport) (*CheckedCA, error) {
	var f fieldErrors
	for _, file := range []struct {
		field string
		b     []byte
	}{{"ca_p12", in.CA}, {"ra_p12", in.RA}} {
		switch {
		case len(file.b) == 0:
			f.add(file.field, "Choose a PKCS#12 file (.p12 or .pfx).")
		case len(file.b) > MaxPKCS12:
			f.add(file.field, "The file is larger than 1 MiB; a PKCS#12 file with a key and a few certificates is much smaller.")
		}
	}
	if err := f.err(); err != nil {
		return nil, err
	}
	if in.CAName == "" {
		in.CAName = "the CA file"
	}
	if in.RAName == "" {
		in.RAName = "the RA file"
	}
	a, err := pki.ParsePKCS12Pair(in.CA, in.RA, in.CAName, in.RAName, in.Password)
	if err != nil {
		return nil, err
	}
	return &CheckedCA{a: a}, nil
}

// ImportCA replaces the CA and RA with those CheckCAImport accepted.
// Devices get certificates from the new CA from the next request on; the
// old CA's CRL stays published.
func (s *Service) ImportCA(ctx context.Context, actor Actor, c *CheckedCA) (*pki.Authority, error) {
	a := c.a
	caRow, raRow, err := pki.SealAuthority(a, s.mk)
	if err != nil {
		return nil, err
	}
	audit := actor.audit("ca.import", a.CA.Subject.String(),
		"imported CA "+pki.SHA256Fingerprint(a.CA)+" and RA "+pki.SHA256Fingerprint(a.RA))
	if err := s.store.ReplaceAuthorities(ctx, caRow, raRow, audit); err != nil {
		return nil, err
	}
	a.ID = caRow.ID
	s.changed()
	return a, nil
}

// NormalizeSerial reads a certificate serial as people copy it: hex in
// any case, with or without colons, spaces or leading zeros (openssl
// prints 04A603D7..., browsers 04:A6:03:D7:...), and returns it as stored:
// lower-case hex without leading zeros.
func NormalizeSerial(s string) (string, error) {
	t := strings.ToLower(strings.NewReplacer(":", "", " ", "", "-", "").Replace(strings.TrimSpace(s)))
	t = strings.TrimPrefix(t, "0x")
	if t == "" || len(t) > 64 {
		return "", fieldError(model.EINVALID, "serial", "Enter the certificate's serial number in hex, such as 04A603D7 or 04:a6:03:d7.")
	}
	for _, r := range t {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return "", fieldError(model.EINVALID, "serial", "The serial %q is not hex: use the digits 0-9 and the letters a-f.", s)
		}
	}
	t = strings.TrimLeft(t, "0")
	if t == "" {
		t = "0"
	}
	return t, nil
}

// Revoke revokes the certificate with serial (in any form NormalizeSerial
// reads) for an RFC 5280 reason and signs a new CRL at once.
func (s *Service) Revoke(ctx context.Context, actor Actor, serial string, reason int) (*model.Certificate, error) {
	norm, err := NormalizeSerial(serial)
	if err != nil {
		return nil, err
	}
	known := false
	for _, code := range model.RevocationReasons {
		known = known || code == reason
	}
	if !known {
		return nil, fieldError(model.EINVALID, "reason", "Choose a revocation reason.")
	}
	return s.enroll.Revoke(ctx, norm, reason, actor.Name, actor.ClientAddr)
}

// RevokeCertificate revokes certificate id, as Revoke does.
func (s *Service) RevokeCertificate(ctx context.Context, actor Actor, id int64, reason int) (*model.Certificate, error) {
	c, err := s.store.FindCertificate(ctx, id)
	if err != nil {
		return nil, err
	}
	if c.State == model.CertRevoked {
		return nil, model.Errorf(model.ECONFLICT, "Certificate %s is already revoked.", c.Serial)
	}
	return s.Revoke(ctx, actor, c.Serial, reason)
}
