// Package sceptest is a SCEP device for tests that play one against the
// server: it builds client messages and reads CertReps through the client
// codec in pki, the same one scepclient uses.
package sceptest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"errors"
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

// CertRep is a CertRep read by the client codec in pki.
type CertRep = pki.CertRep

// ReadCertRep verifies a CertRep's signature (it must come from ra) and
// decrypts a SUCCESS's certificates and CRLs with the device key. Beyond
// what a client needs, it holds the server to RFC 8894: a transactionID,
// both nonces, and a failInfo with FAILURE. Comparing the echoes with the
// request is the test's to do (rep.Check does it for a pki.ClientMessage).
func (d *Device) ReadCertRep(der []byte, ra *x509.Certificate) (*CertRep, error) {
	rep, err := pki.ParseCertRep(der, []*x509.Certificate{ra})
	if err != nil {
		return nil, err
	}
	switch {
	case rep.TransactionID == "":
		return nil, errors.New("the CertRep has no transactionID")
	case len(rep.SenderNonce) == 0:
		return nil, errors.New("the CertRep has no senderNonce")
	case len(rep.RecipientNonce) == 0:
		return nil, errors.New("the CertRep has no recipientNonce")
	case rep.Status == scep.FAILURE && rep.FailInfo == "":
		return nil, errors.New("the CertRep says FAILURE without a failInfo")
	}
	if rep.Status == scep.SUCCESS {
		if err := rep.Decrypt(d.Cert, d.Key); err != nil {
			return nil, err
		}
	}
	return rep, nil
}

// IssuerAndSerial is the payload of GetCert and GetCRL (the same for both):
// the certificate of serial under issuer. It panics if issuer's subject is
// not a DER Name, which no certificate from crypto/x509 has.
func IssuerAndSerial(issuer *x509.Certificate, serial *big.Int) []byte {
	b, err := pki.GetCertContent(issuer.RawSubject, serial)
	if err != nil {
		panic("sceptest: " + err.Error())
	}
	return b
}

// IssuerAndSubject is the payload of CertPoll: the request for subject to
// issuer. It panics if subject cannot be encoded.
func IssuerAndSubject(issuer *x509.Certificate, subject pkix.Name) []byte {
	subj, err := asn1.Marshal(subject.ToRDNSequence())
	if err == nil {
		var b []byte
		if b, err = pki.CertPollContent(issuer.RawSubject, subj); err == nil {
			return b
		}
	}
	panic("sceptest: " + err.Error())
}
