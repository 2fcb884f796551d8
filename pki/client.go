package pki

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"

	"github.com/scepgate/scepgate/pki/cms"
	"github.com/smallstep/pkcs7"
	"github.com/smallstep/scep"
)

// ClientMessage is a pkiMessage a SCEP client built, with what the CertRep
// must echo.
type ClientMessage struct {
	MessageType   scep.MessageType
	TransactionID string
	SenderNonce   []byte
	Raw           []byte // DER SignedData
}

// ClientParams are what every client message needs besides its content.
type ClientParams struct {
	TransactionID string
	RA            *x509.Certificate // the envelope's recipient
	Cipher        cms.Algorithm
	Signer        *x509.Certificate // self-signed, current or proxy certificate
	Key           crypto.Signer     // Signer's key
	Digest        asn1.ObjectIdentifier
}

// NewClientMessage builds the pkiMessage a client sends (RFC 8894, section
// 3.2): content encrypted to p.RA with p.Cipher, inside a SignedData that
// p.Signer signs (SHA-256 unless p.Digest says otherwise) with the
// transactionID, messageType and a fresh senderNonce.
func NewClientMessage(mt scep.MessageType, content []byte, p ClientParams) (*ClientMessage, error) {
	if p.RA == nil || p.Signer == nil || p.Key == nil {
		return nil, errors.New("a SCEP message needs an RA certificate, a signer and its key")
	}
	env, err := cms.Encrypt(content, p.RA, p.Cipher, rand.Reader)
	if err != nil {
		return nil, err
	}
	nonce := make([]byte, 16)
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return nil, err
	}
	sd, err := pkcs7.NewSignedData(env)
	if err != nil {
		return nil, err
	}
	digest := p.Digest
	if digest == nil {
		digest = pkcs7.OIDDigestAlgorithmSHA256
	}
	sd.SetDigestAlgorithm(digest)
	attrs := []pkcs7.Attribute{
		{Type: OIDTransactionID, Value: p.TransactionID},
		{Type: OIDMessageType, Value: string(mt)},
		{Type: OIDSenderNonce, Value: nonce},
	}
	if err := sd.AddSigner(p.Signer, p.Key, pkcs7.SignerInfoConfig{ExtraSignedAttributes: attrs}); err != nil {
		return nil, fmt.Errorf("sign the request: %w", err)
	}
	raw, err := sd.Finish()
	if err != nil {
		return nil, err
	}
	return &ClientMessage{MessageType: mt, TransactionID: p.TransactionID, SenderNonce: nonce, Raw: raw}, nil
}
