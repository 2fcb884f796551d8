package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/scepgate/scepgate/model"
)

var keyUsageNames = []struct {
	name string
	bit  x509.KeyUsage
}{
	{"digitalSignature", x509.KeyUsageDigitalSignature},
	{"nonRepudiation", x509.KeyUsageContentCommitment},
	{"keyEncipherment", x509.KeyUsageKeyEncipherment},
	{"dataEncipherment", x509.KeyUsageDataEncipherment},
	{"keyAgreement", x509.KeyUsageKeyAgreement},
	{"keyCertSign", x509.KeyUsageCertSign},
	{"cRLSign", x509.KeyUsageCRLSign},
	{"encipherOnly", x509.KeyUsageEncipherOnly},
	{"decipherOnly", x509.KeyUsageDecipherOnly},
}

var extKeyUsageNames = map[string]x509.ExtKeyUsage{
	"serverAuth":      x509.ExtKeyUsageServerAuth,
	"clientAuth":      x509.ExtKeyUsageClientAuth,
	"codeSigning":     x509.ExtKeyUsageCodeSigning,
	"emailProtection": x509.ExtKeyUsageEmailProtection,
	"timeStamping":    x509.ExtKeyUsageTimeStamping,
	"OCSPSigning":     x509.ExtKeyUsageOCSPSigning,
	"ipsecIKE":        x509.ExtKeyUsageIPSECEndSystem,
}

// ParseKeyUsages reads a comma-separated list of key usage names.
func ParseKeyUsages(s string) (x509.KeyUsage, error) {
	var ku x509.KeyUsage
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if strings.EqualFold(f, "contentCommitment") { // RFC 5280's later name
			f = "nonRepudiation"
		}
		found := false
		for _, n := range keyUsageNames {
			if strings.EqualFold(n.name, f) {
				ku |= n.bit
				found = true
			}
		}
		if !found {
			return 0, model.Errorf(model.EINVALID, "%q is not a key usage. Use digitalSignature, nonRepudiation, keyEncipherment, dataEncipherment, keyAgreement, keyCertSign, cRLSign, encipherOnly or decipherOnly.", f)
		}
	}
	return ku, nil
}

// KeyUsageString names the bits of ku, comma separated.
func KeyUsageString(ku x509.KeyUsage) string {
	var names []string
	for _, n := range keyUsageNames {
		if ku&n.bit != 0 {
			names = append(names, n.name)
		}
	}
	return strings.Join(names, ", ")
}

// ParseExtKeyUsages reads a comma-separated list of extended key usage names.
func ParseExtKeyUsages(s string) ([]x509.ExtKeyUsage, error) {
	var ekus []x509.ExtKeyUsage
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		found := false
		for name, eku := range extKeyUsageNames {
			if strings.EqualFold(name, f) {
				ekus = append(ekus, eku)
				found = true
			}
		}
		if !found {
			return nil, model.Errorf(model.EINVALID, "Unknown extended key usage %q.", f)
		}
	}
	return ekus, nil
}

// requestedKeyUsage returns the key usage a CSR asks for in its extension
// request, and whether it asks for one.
func requestedKeyUsage(csr *x509.CertificateRequest) (x509.KeyUsage, bool) {
	for _, ext := range csr.Extensions {
		if !ext.Id.Equal(oidKeyUsage) {
			continue
		}
		var bits asn1.BitString
		if _, err := asn1.Unmarshal(ext.Value, &bits); err != nil {
			return 0, false
		}
		var ku x509.KeyUsage
		for i := 0; i < 9; i++ {
			if bits.At(i) != 0 {
				ku |= 1 << uint(i)
			}
		}
		return ku, true
	}
	return 0, false
}

// IssueOptions are the facts of an issuance beyond the CSR and procedure.
type IssueOptions struct {
	// CRLURL and CAIssuersURL go into the certificate's CRL distribution
	// point and authority information access extensions, when set.
	CRLURL       string
	CAIssuersURL string
	// RawSubject, when set, is the DER subject used instead of the CSR's
	// (renewal keeps the subject of the certificate it renews).
	RawSubject []byte
	// StoredCSR says the CSR is one read back from storage, whose
	// signature was verified when it arrived: it is stored without its
	// challengePassword, so its signature no longer verifies and is not
	// checked again.
	StoredCSR bool
}

// Issue signs a certificate for csr under procedure p. A CSR outside the
// procedure is refused with an EINVALID error naming the rule it breaks.
func (a *Authority) Issue(csr *x509.CertificateRequest, p *model.CertificateProcedure, o IssueOptions, now time.Time, rnd io.Reader) (*x509.Certificate, error) {
	if err := checkCSR(csr, p, !o.StoredCSR); err != nil {
		return nil, err
	}
	subject, err := SubjectFor(csr, p)
	if err != nil {
		return nil, err
	}
	if o.RawSubject != nil {
		subject = o.RawSubject
	}
	ku, err := keyUsageFor(csr, p)
	if err != nil {
		return nil, err
	}
	ekus, err := ParseExtKeyUsages(p.ExtKeyUsages)
	if err != nil {
		return nil, err
	}
	serial, err := RandomSerial(rnd)
	if err != nil {
		return nil, err
	}
	days := p.ValidityDays
	if days <= 0 {
		days = 365
	}
	notAfter := now.AddDate(0, 0, days)
	if notAfter.After(a.CA.NotAfter) {
		notAfter = a.CA.NotAfter
	}
	ski, err := subjectKeyID(csr.PublicKey)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:   serial,
		RawSubject:     subject,
		NotBefore:      now.Add(-5 * time.Minute),
		NotAfter:       notAfter,
		KeyUsage:       ku,
		ExtKeyUsage:    ekus,
		DNSNames:       csr.DNSNames,
		EmailAddresses: csr.EmailAddresses,
		IPAddresses:    csr.IPAddresses,
		URIs:           csr.URIs,
		SubjectKeyId:   ski,
	}
	if o.CRLURL != "" {
		tmpl.CRLDistributionPoints = []string{o.CRLURL}
	}
	if o.CAIssuersURL != "" {
		tmpl.IssuingCertificateURL = []string{o.CAIssuersURL}
	}
	der, err := x509.CreateCertificate(rnd, tmpl, a.CA, csr.PublicKey, a.CAKey)
	if err != nil {
		return nil, fmt.Errorf("sign certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}

// CheckCSR refuses, with an EINVALID error naming the rule, a CSR that
// certificate procedure p does not allow: a bad signature, a weak or
// unsupported key, no subject, or DNS names outside the allowed patterns.
func CheckCSR(csr *x509.CertificateRequest, p *model.CertificateProcedure) error {
	return checkCSR(csr, p, true)
}

// checkCSR is CheckCSR, which checks the signature only when signature
// (not for a stored CSR, whose signature was checked when it arrived).
func checkCSR(csr *x509.CertificateRequest, p *model.CertificateProcedure, signature bool) error {
	if signature {
		if err := csr.CheckSignature(); err != nil {
			return model.Errorf(model.EINVALID, "The CSR's signature does not verify.")
		}
	}
	if err := checkKey(csr, p); err != nil {
		return err
	}
	if n := utf8.RuneCountInString(csr.Subject.CommonName); n > MaxCommonName {
		return model.Errorf(model.EINVALID, "The CSR's common name has %d characters; RFC 5280 allows at most %d. Use a shorter name.", n, MaxCommonName)
	}
	if csr.Subject.CommonName == "" && len(csr.DNSNames) == 0 && len(csr.EmailAddresses) == 0 && len(csr.IPAddresses) == 0 && len(csr.URIs) == 0 {
		return model.Errorf(model.EINVALID, "The CSR names no subject: give it a common name or a subject alternative name.")
	}
	if patterns := splitList(p.DNSNamePatterns); len(patterns) > 0 {
		for _, name := range csr.DNSNames {
			if !slices.ContainsFunc(patterns, func(pat string) bool { return matchDNS(pat, name) }) {
				return model.Errorf(model.EINVALID, "The DNS name %q is not allowed by certificate procedure %q (allowed: %s).", name, p.Name, strings.Join(patterns, ", "))
			}
		}
	}
	if _, err := keyUsageFor(csr, p); err != nil {
		return err
	}
	return nil
}

// SubjectFor returns the DER subject a certificate under p gets for csr:
// the CSR's own, or p's SubjectTemplate (see ParseDN) with {cn} replaced by
// the CSR's common name.
func SubjectFor(csr *x509.CertificateRequest, p *model.CertificateProcedure) ([]byte, error) {
	if strings.TrimSpace(p.SubjectTemplate) == "" {
		return csr.RawSubject, nil
	}
	dn := strings.ReplaceAll(p.SubjectTemplate, "{cn}", EscapeDNValue(csr.Subject.CommonName))
	der, err := ParseDN(dn)
	if err != nil {
		return nil, model.Errorf(model.EINVALID, "Certificate procedure %q has a subject template that is not a DN: %s", p.Name, model.ErrorMessage(err))
	}
	var name pkix.RDNSequence
	if _, err := asn1.Unmarshal(der, &name); err == nil {
		var subject pkix.Name
		subject.FillFromRDNSequence(&name)
		if n := utf8.RuneCountInString(subject.CommonName); n > MaxCommonName {
			return nil, model.Errorf(model.EINVALID, "With certificate procedure %q's subject template the common name would have %d characters; RFC 5280 allows at most %d.", p.Name, n, MaxCommonName)
		}
	}
	return der, nil
}

// MaxCommonName is RFC 5280's upper bound of a common name (ub-common-name).
const MaxCommonName = 64

// matchDNS reports whether name matches pattern: equal (any case), or
// pattern "*.example.com" and name one label under example.com.
func matchDNS(pattern, name string) bool {
	pattern, name = strings.ToLower(pattern), strings.ToLower(name)
	if rest, ok := strings.CutPrefix(pattern, "*."); ok {
		label, parent, found := strings.Cut(name, ".")
		return found && label != "" && parent == rest
	}
	return pattern == name
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func checkKey(csr *x509.CertificateRequest, p *model.CertificateProcedure) error {
	switch k := csr.PublicKey.(type) {
	case *rsa.PublicKey:
		minBits := p.MinRSABits
		if minBits <= 0 {
			minBits = 2048
		}
		if k.N.BitLen() < minBits {
			return model.Errorf(model.EINVALID, "The CSR's RSA key has %d bits; certificate procedure %q requires at least %d.", k.N.BitLen(), p.Name, minBits)
		}
	case *ecdsa.PublicKey:
		allowed := splitList(p.AllowedCurves)
		if len(allowed) == 0 {
			allowed = []string{"P-256", "P-384", "P-521"}
		}
		known := slices.Contains([]elliptic.Curve{elliptic.P256(), elliptic.P384(), elliptic.P521()}, k.Curve)
		if !known || !slices.ContainsFunc(allowed, func(c string) bool { return strings.EqualFold(c, k.Curve.Params().Name) }) {
			return model.Errorf(model.EINVALID, "The CSR's elliptic curve %s is not allowed by certificate procedure %q (allowed: %s).", k.Curve.Params().Name, p.Name, strings.Join(allowed, ", "))
		}
	default:
		return model.Errorf(model.EINVALID, "The CSR's key type %T is not supported: use RSA or ECDSA.", csr.PublicKey)
	}
	return nil
}

func keyUsageFor(csr *x509.CertificateRequest, p *model.CertificateProcedure) (x509.KeyUsage, error) {
	configured, err := ParseKeyUsages(p.KeyUsages)
	if err != nil {
		return 0, err
	}
	if p.KeyUsageMode == model.KeyUsageFixed {
		return configured, nil
	}
	requested, ok := requestedKeyUsage(csr)
	if !ok || requested == 0 {
		if _, isRSA := csr.PublicKey.(*rsa.PublicKey); isRSA {
			return (x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment) & configured, nil
		}
		return x509.KeyUsageDigitalSignature & configured, nil
	}
	if extra := requested &^ configured; extra != 0 {
		return 0, model.Errorf(model.EINVALID, "The CSR asks for the key usage %s, which certificate procedure %q does not allow.", KeyUsageString(extra), p.Name)
	}
	return requested, nil
}
