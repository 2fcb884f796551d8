package pki

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// CertPollContent returns the content of a CertPoll, also known as
// GetCertInitial (RFC 8894, section 3.3.3): the IssuerAndSubject naming the
// CA a request went to (issuer, the DER Name of its subject) and the
// subject the request asked for (the CSR's DER subject).
func CertPollContent(issuer, subject []byte) ([]byte, error) {
	if err := checkName("issuer", issuer); err != nil {
		return nil, err
	}
	if err := checkName("subject", subject); err != nil {
		return nil, err
	}
	return asn1.Marshal(issuerAndSubject{
		Issuer:  asn1.RawValue{FullBytes: issuer},
		Subject: asn1.RawValue{FullBytes: subject},
	})
}

// GetCertContent returns the content of a GetCert (RFC 8894, section
// 3.3.4): the IssuerAndSerialNumber of the certificate wanted, issuer
// being its issuer's DER Name.
func GetCertContent(issuer []byte, serial *big.Int) ([]byte, error) {
	return issuerAndSerialContent(issuer, serial)
}

// GetCRLContent returns the content of a GetCRL (RFC 8894, section
// 3.3.4): the IssuerAndSerialNumber of a certificate whose CRL is wanted.
func GetCRLContent(issuer []byte, serial *big.Int) ([]byte, error) {
	return issuerAndSerialContent(issuer, serial)
}

func issuerAndSerialContent(issuer []byte, serial *big.Int) ([]byte, error) {
	if err := checkName("issuer", issuer); err != nil {
		return nil, err
	}
	if serial == nil {
		return nil, errors.New("an IssuerAndSerialNumber needs a serial number")
	}
	return asn1.Marshal(IssuerAndSerial{Issuer: asn1.RawValue{FullBytes: issuer}, SerialNumber: serial})
}

// checkName reports an error unless der is one DER Name.
func checkName(what string, der []byte) error {
	var name pkix.RDNSequence
	if rest, err := asn1.Unmarshal(der, &name); err != nil || len(rest) > 0 {
		return fmt.Errorf("the %s is not a DER distinguished name", what)
	}
	return nil
}

// TransactionID derives a transactionID from a public key, as RFC 8894,
// section 3.2.1.1, suggests: the upper-case hex SHA-256 of its
// SubjectPublicKeyInfo. The same key always gets the same ID, which is what
// a CertPoll for the key's request needs.
func TransactionID(pub crypto.PublicKey) (string, error) {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(spki)
	return strings.ToUpper(hex.EncodeToString(sum[:])), nil
}
