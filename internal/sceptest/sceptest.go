// Package sceptest builds SCEP client messages and reads CertReps, for
// tests that play a device against the server.
package sceptest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"fmt"
	"math/big"
	"time"

	"github.com/scepgate/scepgate/pki"
	"github.com/scepgate/scepgate/pki/cms"
	"github.com/smallstep/pkcs7"
	"github.com/smallstep/scep"
	"github.com/smallstep/scep/x509util"
)

// Device is a SCEP client: an RSA key and the self-signed certificate it
// signs its requests with.
type Device struct {
	Key  *rsa.PrivateKey
	Cert *x509.Certificate
}

// NewDevice makes a device with a fresh RSA-2048 key.
func NewDevice(cn string) (*Device, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	return DeviceFromKey(key, cn)
}

// DeviceFromKey makes a device around key, with a self-signed certificate
// valid for a century so that recorded messages stay valid.
func DeviceFromKey(key *rsa.PrivateKey, cn string) (*Device, error) {
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC),
		NotAfter:     time.Date(2120, 1, 1, 0, 0, 0, 0, time.UTC),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Device{Key: key, Cert: cert}, nil
}

// Request describes a message to build.
type Request struct {
	MessageType   scep.MessageType // default PKCSReq
	Subject       pkix.Name
	DNSNames      []string
	Challenge     string
	Cipher        cms.Algorithm         // default AES-256-CBC
	Digest        asn1.ObjectIdentifier // default SHA-256
	TransactionID string                // default derived from a random number
	// Payload replaces the CSR inside the envelope when set.
	Payload []byte
	// CSRKey, when set, is the key the CSR certifies (a renewal's new key);
	// the device key still signs the message.
	CSRKey *rsa.PrivateKey
}

// Message is a built pkiMessage with what the reply must echo.
type Message struct {
	DER           []byte
	TransactionID string
	SenderNonce   []byte
}

// Base64 returns the message as a GET request's message parameter.
func (m *Message) Base64() string { return base64.StdEncoding.EncodeToString(m.DER) }

// Build makes a signed and encrypted pkiMessage addressed to ra.
func (d *Device) Build(ra *x509.Certificate, r Request) (*Message, error) {
	if r.MessageType == "" {
		r.MessageType = scep.PKCSReq
	}
	if r.Cipher.Cipher == 0 {
		r.Cipher = cms.Algorithm{Cipher: cms.AES256CBC}
	}
	if r.Digest == nil {
		r.Digest = pkcs7.OIDDigestAlgorithmSHA256
	}
	if r.TransactionID == "" {
		b := make([]byte, 20)
		_, _ = rand.Read(b)
		r.TransactionID = base64.StdEncoding.EncodeToString(b)
	}
	payload := r.Payload
	csrKey := d.Key
	if r.CSRKey != nil {
		csrKey = r.CSRKey
	}
	if payload == nil {
		csr, err := x509util.CreateCertificateRequest(rand.Reader, &x509util.CertificateRequest{
			CertificateRequest: x509.CertificateRequest{Subject: r.Subject, DNSNames: r.DNSNames},
			ChallengePassword:  r.Challenge,
		}, csrKey)
		if err != nil {
			return nil, err
		}
		payload = csr
	}
	m, err := pki.NewClientMessage(r.MessageType, payload, pki.ClientParams{TransactionID: r.TransactionID, RA: ra,
		Cipher: r.Cipher, Signer: d.Cert, Key: d.Key, Digest: r.Digest})
	if err != nil {
		return nil, err
	}
	return &Message{DER: m.Raw, TransactionID: m.TransactionID, SenderNonce: m.SenderNonce}, nil
}

// CertRep is a parsed reply.
type CertRep struct {
	Status         scep.PKIStatus
	FailInfo       scep.FailInfo
	TransactionID  string
	RecipientNonce []byte
	SenderNonce    []byte
	Digest         asn1.ObjectIdentifier
	Signer         *x509.Certificate
	// Cipher, Certs and CRLs are set for SUCCESS.
	Cipher cms.Algorithm
	Certs  []*x509.Certificate
	CRLs   []*x509.RevocationList
}

// ReadCertRep verifies a CertRep's signature (it must come from ra) and
// decrypts its certificates with the device key.
func (d *Device) ReadCertRep(der []byte, ra *x509.Certificate) (*CertRep, error) {
	p7, err := pkcs7.Parse(der)
	if err != nil {
		return nil, fmt.Errorf("parse CertRep: %w", err)
	}
	if err := p7.Verify(); err != nil {
		return nil, fmt.Errorf("verify CertRep: %w", err)
	}
	signer := p7.GetOnlySigner()
	if signer == nil || !signer.Equal(ra) {
		return nil, fmt.Errorf("the CertRep is not signed by the RA")
	}
	rep := &CertRep{Signer: signer, Digest: p7.Signers[0].DigestAlgorithm.Algorithm}
	var mt, status, fail string
	if err := p7.UnmarshalSignedAttribute(pki.OIDMessageType, &mt); err != nil || mt != string(scep.CertRep) {
		return nil, fmt.Errorf("messageType = %q, %v; want 3", mt, err)
	}
	if err := p7.UnmarshalSignedAttribute(pki.OIDPKIStatus, &status); err != nil {
		return nil, fmt.Errorf("pkiStatus: %w", err)
	}
	rep.Status = scep.PKIStatus(status)
	if err := p7.UnmarshalSignedAttribute(pki.OIDTransactionID, &rep.TransactionID); err != nil {
		return nil, fmt.Errorf("transactionID: %w", err)
	}
	if err := p7.UnmarshalSignedAttribute(pki.OIDRecipientNonce, &rep.RecipientNonce); err != nil {
		return nil, fmt.Errorf("recipientNonce: %w", err)
	}
	if err := p7.UnmarshalSignedAttribute(pki.OIDSenderNonce, &rep.SenderNonce); err != nil {
		return nil, fmt.Errorf("senderNonce: %w", err)
	}
	switch rep.Status {
	case scep.FAILURE:
		if err := p7.UnmarshalSignedAttribute(pki.OIDFailInfo, &fail); err != nil {
			return nil, fmt.Errorf("failInfo: %w", err)
		}
		rep.FailInfo = scep.FailInfo(fail)
	case scep.SUCCESS:
		plain, alg, err := cms.Decrypt(p7.Content, d.Cert, d.Key)
		if err != nil {
			return nil, fmt.Errorf("decrypt CertRep: %w", err)
		}
		rep.Cipher = alg
		inner, err := pkcs7.Parse(plain)
		if err != nil {
			return nil, fmt.Errorf("read certificates: %w", err)
		}
		rep.Certs = inner.Certificates
		for _, c := range inner.CRLs {
			der, err := asn1.Marshal(c)
			if err != nil {
				return nil, err
			}
			crl, err := x509.ParseRevocationList(der)
			if err != nil {
				return nil, fmt.Errorf("read CRL: %w", err)
			}
			rep.CRLs = append(rep.CRLs, crl)
		}
	}
	return rep, nil
}

// IssuerAndSerial is the payload of GetCert and GetCRL.
func IssuerAndSerial(issuer *x509.Certificate, serial *big.Int) []byte {
	b, _ := asn1.Marshal(struct {
		Issuer asn1.RawValue
		Serial *big.Int
	}{asn1.RawValue{FullBytes: issuer.RawSubject}, serial})
	return b
}

// IssuerAndSubject is the payload of CertPoll.
func IssuerAndSubject(issuer *x509.Certificate, subject pkix.Name) []byte {
	subj, _ := asn1.Marshal(subject.ToRDNSequence())
	b, _ := asn1.Marshal(struct {
		Issuer  asn1.RawValue
		Subject asn1.RawValue
	}{asn1.RawValue{FullBytes: issuer.RawSubject}, asn1.RawValue{FullBytes: subj}})
	return b
}
