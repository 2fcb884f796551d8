package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"strings"
	"time"

	"github.com/scepgate/scepgate/model"
)

// Authority is the CA and RA material held in memory: keys are decrypted
// once at start.
type Authority struct {
	// ID is the CA's row in the database, zero until stored.
	ID    int64
	CA    *x509.Certificate
	CAKey crypto.Signer
	// Chain holds the certificates above the CA, when it is an intermediate.
	Chain []*x509.Certificate
	RA    *x509.Certificate
	RAKey *rsa.PrivateKey
}

// KeyTypes lists the CA key types --ca-key accepts.
var KeyTypes = []string{"rsa2048", "rsa3072", "rsa4096", "p256", "p384"}

// GenerateKey makes a private key of the named type (see KeyTypes).
func GenerateKey(keyType string, rnd io.Reader) (crypto.Signer, error) {
	switch strings.ToLower(keyType) {
	case "rsa2048", "rsa":
		return rsa.GenerateKey(rnd, 2048)
	case "rsa3072":
		return rsa.GenerateKey(rnd, 3072)
	case "rsa4096":
		return rsa.GenerateKey(rnd, 4096)
	case "p256", "ecdsa-p256":
		return ecdsa.GenerateKey(elliptic.P256(), rnd)
	case "p384", "ecdsa-p384":
		return ecdsa.GenerateKey(elliptic.P384(), rnd)
	}
	return nil, fmt.Errorf("unknown key type %q: use one of %s", keyType, strings.Join(KeyTypes, ", "))
}

// RandomSerial returns a positive random serial number of 127 bits.
func RandomSerial(rnd io.Reader) (*big.Int, error) {
	b := make([]byte, 16)
	if _, err := io.ReadFull(rnd, b); err != nil {
		return nil, err
	}
	b[0] &= 0x7f
	if b[0] == 0 {
		b[0] = 0x01 // keep the full length, so at least 120 bits are random
	}
	return new(big.Int).SetBytes(b), nil
}

// NewAuthority creates a self-signed CA with a key of caKeyType and an RA
// certificate issued by it, as the reference demands. raNames (DNS names
// or IP addresses) go into the RA's subject alternative names, so that it
// can serve TLS to clients that check the server's name.
func NewAuthority(caKeyType, orgName string, now time.Time, rnd io.Reader, raNames ...string) (*Authority, error) {
	return newAuthority(caKeyType, orgName, "", now, rnd, raNames...)
}

// NextAuthority creates the CA and RA to follow cur at a rollover: a new
// self-signed CA with a key of caKeyType, not cross-signed by cur, and an
// RA issued by it, naming what cur's RA names. Their common names carry
// the date, so that the two CAs are told apart (cur's organization stays).
func NextAuthority(cur *Authority, caKeyType string, now time.Time, rnd io.Reader) (*Authority, error) {
	org := "scepgate"
	if o := cur.CA.Subject.Organization; len(o) > 0 && o[0] != "" {
		org = o[0]
	}
	names := append([]string(nil), cur.RA.DNSNames...)
	for _, ip := range cur.RA.IPAddresses {
		names = append(names, ip.String())
	}
	return newAuthority(caKeyType, org, " "+now.UTC().Format(time.DateOnly), now, rnd, names...)
}

func newAuthority(caKeyType, orgName, suffix string, now time.Time, rnd io.Reader, raNames ...string) (*Authority, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	caKey, err := GenerateKey(caKeyType, rnd)
	if err != nil {
		return nil, err
	}
	serial, err := RandomSerial(rnd)
	if err != nil {
		return nil, err
	}
	ski, err := subjectKeyID(caKey.Public())
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: orgName + " SCEP CA" + suffix, Organization: []string{orgName}},
		NotBefore:             now.Add(-5 * time.Minute),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		SubjectKeyId:          ski,
	}
	der, err := x509.CreateCertificate(rnd, tmpl, tmpl, caKey.Public(), caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	a := &Authority{CA: ca, CAKey: caKey}
	if err := a.newRA(orgName, suffix, now, rnd, raNames...); err != nil {
		return nil, err
	}
	return a, nil
}

// NewRA issues a new RSA-2048 RA certificate from a's CA, naming names
// (DNS names or IP addresses) as its subject alternative names.
func (a *Authority) NewRA(orgName string, now time.Time, rnd io.Reader, names ...string) error {
	return a.newRA(orgName, "", now, rnd, names...)
}

func (a *Authority) newRA(orgName, suffix string, now time.Time, rnd io.Reader, names ...string) error {
	raKey, err := rsa.GenerateKey(rnd, 2048)
	if err != nil {
		return err
	}
	serial, err := RandomSerial(rnd)
	if err != nil {
		return err
	}
	ski, err := subjectKeyID(raKey.Public())
	if err != nil {
		return err
	}
	notAfter := now.AddDate(2, 0, 0)
	if notAfter.After(a.CA.NotAfter) {
		notAfter = a.CA.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: orgName + " SCEP RA" + suffix, Organization: []string{orgName}},
		NotBefore:    now.Add(-5 * time.Minute),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		SubjectKeyId: ski,
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if n != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rnd, tmpl, a.CA, raKey.Public(), a.CAKey)
	if err != nil {
		return err
	}
	ra, err := x509.ParseCertificate(der)
	if err != nil {
		return err
	}
	a.RA, a.RAKey = ra, raKey
	return nil
}

func subjectKeyID(pub crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, err
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil, err
	}
	sum := sha1.Sum(spki.PublicKey.Bytes)
	return sum[:], nil
}

// CheckRA returns an error naming what is wrong when ra cannot serve as the
// RA of ca: it must be issued by ca, hold an RSA key, and carry the key
// usages digitalSignature and keyEncipherment and the extended key usage
// TLS server authentication.
func CheckRA(ra, ca *x509.Certificate) error {
	var problems []string
	if err := ra.CheckSignatureFrom(ca); err != nil {
		problems = append(problems, fmt.Sprintf("it is not issued by the CA %q", ca.Subject.String()))
	}
	if _, ok := ra.PublicKey.(*rsa.PublicKey); !ok {
		problems = append(problems, "its key is not RSA (SCEP clients encrypt to the RA with RSA)")
	}
	if ra.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		problems = append(problems, "it lacks the key usage digitalSignature")
	}
	if ra.KeyUsage&x509.KeyUsageKeyEncipherment == 0 {
		problems = append(problems, "it lacks the key usage keyEncipherment")
	}
	hasServerAuth := false
	for _, u := range ra.ExtKeyUsage {
		if u == x509.ExtKeyUsageServerAuth {
			hasServerAuth = true
		}
	}
	if !hasServerAuth {
		problems = append(problems, "it lacks the extended key usage TLS server authentication (serverAuth)")
	}
	if len(problems) > 0 {
		return model.Errorf(model.EINVALID, "The RA certificate %q cannot be used: %s.", ra.Subject.String(), strings.Join(problems, "; "))
	}
	return nil
}

// SealAuthority encrypts a's keys under mk for storage.
func SealAuthority(a *Authority, mk *MasterKey) (ca, ra *model.Authority, err error) {
	caKeyDER, err := x509.MarshalPKCS8PrivateKey(a.CAKey)
	if err != nil {
		return nil, nil, err
	}
	raKeyDER, err := x509.MarshalPKCS8PrivateKey(a.RAKey)
	if err != nil {
		return nil, nil, err
	}
	caSealed, err := mk.Seal("ca", caKeyDER)
	if err != nil {
		return nil, nil, err
	}
	raSealed, err := mk.Seal("ra", raKeyDER)
	if err != nil {
		return nil, nil, err
	}
	var chain []byte
	for _, c := range a.Chain {
		chain = append(chain, c.Raw...)
	}
	return &model.Authority{Kind: model.AuthorityCA, CertDER: a.CA.Raw, ChainDER: chain, KeyCiphertext: caSealed},
		&model.Authority{Kind: model.AuthorityRA, CertDER: a.RA.Raw, KeyCiphertext: raSealed}, nil
}

// OpenAuthority decrypts stored CA and RA material with mk.
func OpenAuthority(ca, ra *model.Authority, mk *MasterKey) (*Authority, error) {
	a, err := OpenCA(ca, mk)
	if err != nil {
		return nil, err
	}
	if a.RA, err = x509.ParseCertificate(ra.CertDER); err != nil {
		return nil, fmt.Errorf("parse RA certificate: %w", err)
	}
	raKey, err := openKey(mk, "ra", ra.KeyCiphertext)
	if err != nil {
		return nil, err
	}
	var ok bool
	if a.RAKey, ok = raKey.(*rsa.PrivateKey); !ok {
		return nil, errors.New("the RA key is not RSA")
	}
	return a, nil
}

// OpenCA decrypts a stored CA without an RA, as a retired CA is kept: to
// sign its CRLs.
func OpenCA(ca *model.Authority, mk *MasterKey) (*Authority, error) {
	a := &Authority{ID: ca.ID}
	var err error
	if a.CA, err = x509.ParseCertificate(ca.CertDER); err != nil {
		return nil, fmt.Errorf("parse CA certificate: %w", err)
	}
	if len(ca.ChainDER) > 0 {
		if a.Chain, err = x509.ParseCertificates(ca.ChainDER); err != nil {
			return nil, fmt.Errorf("parse CA chain: %w", err)
		}
	}
	caKey, err := openKey(mk, "ca", ca.KeyCiphertext)
	if err != nil {
		return nil, err
	}
	var ok bool
	if a.CAKey, ok = caKey.(crypto.Signer); !ok {
		return nil, errors.New("the CA key cannot sign")
	}
	return a, nil
}

func openKey(mk *MasterKey, purpose string, sealed []byte) (any, error) {
	der, err := mk.Open(purpose, sealed)
	if err != nil {
		return nil, err
	}
	return x509.ParsePKCS8PrivateKey(der)
}

// CAChain returns the CA and the certificates above it, CA first.
func (a *Authority) CAChain() []*x509.Certificate {
	return append([]*x509.Certificate{a.CA}, a.Chain...)
}

// SHA256Fingerprint returns the colon-separated upper-case SHA-256 of c.
func SHA256Fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	return colonHex(sum[:])
}

// NDESThumbprint returns the CA thumbprint as Microsoft NDES prints it: the
// MD5 hash of the certificate in four space-separated groups of eight
// upper-case hex digits.
func NDESThumbprint(c *x509.Certificate) string {
	sum := md5.Sum(c.Raw)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	return h[0:8] + " " + h[8:16] + " " + h[16:24] + " " + h[24:32]
}

func colonHex(b []byte) string {
	h := strings.ToUpper(hex.EncodeToString(b))
	var sb strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			sb.WriteByte(':')
		}
		sb.WriteString(h[i : i+2])
	}
	return sb.String()
}
