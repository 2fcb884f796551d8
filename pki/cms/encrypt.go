package cms

import (
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
)

// recipientKey returns the RSA key of recipient, or why Encrypt cannot
// encrypt to it.
func recipientKey(recipient *x509.Certificate) (*rsa.PublicKey, error) {
	if recipient == nil {
		return nil, errors.New("cms: Encrypt needs a recipient certificate")
	}
	pub, ok := recipient.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, &RecipientKeyError{Reason: fmt.Sprintf("the recipient's key is %s, not RSA", keyTypeName(recipient.PublicKey))}
	}
	if len(recipient.RawIssuer) == 0 || recipient.SerialNumber == nil {
		return nil, errors.New("cms: recipient certificate has no issuer or serial number")
	}
	return pub, nil
}

// RecipientKeyError says why content cannot be encrypted to a recipient's
// key.
type RecipientKeyError struct{ Reason string }

func (e *RecipientKeyError) Error() string { return "cms: " + e.Reason }

func keyTypeName(k any) string {
	switch k.(type) {
	case *ecdsa.PublicKey:
		return "ECDSA"
	case ed25519.PublicKey:
		return "Ed25519"
	case *ecdh.PublicKey:
		return "ECDH"
	}
	return fmt.Sprintf("%T", k)
}

// CheckRecipient reports whether Encrypt can encrypt content with alg to
// recipient, without encrypting anything: nil, or the reason it cannot
// (such as a key that is not RSA, or too small for the content key). It
// costs one RSA public-key operation.
func CheckRecipient(recipient *x509.Certificate, alg Algorithm) error {
	pub, err := recipientKey(recipient)
	if err != nil {
		return err
	}
	alg, err = alg.withDefaults()
	if err != nil {
		return err
	}
	//lint:ignore SA1019 the key transport Encrypt uses.
	if _, err := rsa.EncryptPKCS1v15(rand.Reader, pub, make([]byte, alg.KeyLen)); err != nil {
		return &RecipientKeyError{Reason: fmt.Sprintf("the recipient's %d-bit RSA key cannot carry a %d-byte content key: %v", pub.N.BitLen(), alg.KeyLen, err)}
	}
	return nil
}

// Structures for encoding; see the parsing counterparts in decrypt.go.
type (
	contentInfoOut struct {
		ContentType asn1.ObjectIdentifier
		Content     asn1.RawValue // [0] EXPLICIT
	}
	envelopedDataOut struct {
		Version              int
		RecipientInfos       []keyTransRecipientInfoOut `asn1:"set"`
		EncryptedContentInfo encryptedContentInfoOut
	}
	keyTransRecipientInfoOut struct {
		Version                int
		RID                    issuerAndSerialNumber
		KeyEncryptionAlgorithm pkix.AlgorithmIdentifier
		EncryptedKey           []byte
	}
	encryptedContentInfoOut struct {
		ContentType                asn1.ObjectIdentifier
		ContentEncryptionAlgorithm pkix.AlgorithmIdentifier
		EncryptedContent           []byte `asn1:"tag:0"` // [0] IMPLICIT OCTET STRING
	}
	rc2ParamsOut struct {
		Version int
		IV      []byte
	}
)

// Encrypt builds a DER ContentInfo holding an EnvelopedData (CMS version 0)
// of plaintext for one recipient: the RSA public key of recipient, with
// PKCS #1 v1.5 key transport and a KeyTransRecipientInfo identified by
// issuerAndSerialNumber. The content type of the encrypted content is id-data.
//
// The content is encrypted with alg, using a fresh key and IV read from rnd
// (crypto/rand.Reader if nil). Pass the Algorithm returned by Decrypt to
// mirror the client's choice. For RC2, alg.RC2Bits defaults to 128 and
// alg.KeyLen to 16; for the other ciphers KeyLen is fixed and may be left 0,
// and RC2Bits must be 0.
//
// Since Go 1.26 the RSA encryption itself draws from a secure random source
// regardless of rnd.
func Encrypt(plaintext []byte, recipient *x509.Certificate, alg Algorithm, rnd io.Reader) ([]byte, error) {
	pub, err := recipientKey(recipient)
	if err != nil {
		return nil, err
	}
	if rnd == nil {
		rnd = rand.Reader
	}
	alg, err = alg.withDefaults()
	if err != nil {
		return nil, err
	}

	key := make([]byte, alg.KeyLen)
	iv := make([]byte, alg.Cipher.blockSize())
	if _, err := io.ReadFull(rnd, key); err != nil {
		return nil, fmt.Errorf("cms: generating content-encryption key: %w", err)
	}
	if _, err := io.ReadFull(rnd, iv); err != nil {
		return nil, fmt.Errorf("cms: generating IV: %w", err)
	}
	block, err := newBlock(alg, key)
	if err != nil {
		return nil, err
	}
	ciphertext := pad(plaintext, block.BlockSize())
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ciphertext, ciphertext)

	//lint:ignore SA1019 PKCS #1 v1.5 key transport is what SCEP clients expect.
	encryptedKey, err := rsa.EncryptPKCS1v15(rnd, pub, key)
	if err != nil {
		return nil, fmt.Errorf("cms: encrypting the content-encryption key: %w", err)
	}
	params, err := encodeParams(alg, iv)
	if err != nil {
		return nil, err
	}

	ed, err := asn1.Marshal(envelopedDataOut{
		Version: 0,
		RecipientInfos: []keyTransRecipientInfoOut{{
			Version: 0,
			RID: issuerAndSerialNumber{
				Issuer:       asn1.RawValue{FullBytes: recipient.RawIssuer},
				SerialNumber: new(big.Int).Set(recipient.SerialNumber),
			},
			KeyEncryptionAlgorithm: pkix.AlgorithmIdentifier{
				Algorithm:  oidRSAEncryption(),
				Parameters: asn1.NullRawValue,
			},
			EncryptedKey: encryptedKey,
		}},
		EncryptedContentInfo: encryptedContentInfoOut{
			ContentType: oidData(),
			ContentEncryptionAlgorithm: pkix.AlgorithmIdentifier{
				Algorithm:  alg.Cipher.OID(),
				Parameters: params,
			},
			EncryptedContent: ciphertext,
		},
	})
	if err != nil {
		return nil, fmt.Errorf("cms: encoding EnvelopedData: %w", err)
	}
	out, err := asn1.Marshal(contentInfoOut{
		ContentType: oidEnvelopedData(),
		Content:     asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: ed},
	})
	if err != nil {
		return nil, fmt.Errorf("cms: encoding ContentInfo: %w", err)
	}
	return out, nil
}

// encodeParams returns the content-encryption algorithm parameters for alg
// and iv: the IV as an OCTET STRING, or for RC2 an RC2-CBCParameter (a bare
// IV for 32 effective bits, as RFC 2268 section 6 asks).
func encodeParams(alg Algorithm, iv []byte) (asn1.RawValue, error) {
	var der []byte
	var err error
	if alg.Cipher == RC2CBC && alg.RC2Bits != 32 {
		der, err = asn1.Marshal(rc2ParamsOut{Version: rc2VersionForBits(alg.RC2Bits), IV: iv})
	} else {
		der, err = asn1.Marshal(iv)
	}
	if err != nil {
		return asn1.RawValue{}, fmt.Errorf("cms: encoding %v parameters: %w", alg.Cipher, err)
	}
	return asn1.RawValue{FullBytes: der}, nil
}

// pad returns a new slice holding b and its PKCS #7 padding to a multiple of
// blockSize (always at least one byte).
func pad(b []byte, blockSize int) []byte {
	n := blockSize - len(b)%blockSize
	out := make([]byte, len(b)+n)
	copy(out, b)
	for i := len(b); i < len(out); i++ {
		out[i] = byte(n)
	}
	return out
}
