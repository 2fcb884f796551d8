// Package cms implements the part of CMS (RFC 5652) EnvelopedData that a
// SCEP (RFC 8894) server needs: decrypting a client's message addressed to
// the server certificate, and encrypting a reply to the client's certificate
// with the same content-encryption algorithm the client chose.
//
// Key transport is RSA (PKCS #1 v1.5; RSAES-OAEP is also accepted when
// decrypting) in a KeyTransRecipientInfo. Content encryption is AES-CBC,
// DES-EDE3-CBC and, for legacy clients, DES-CBC and RC2-CBC. Messages may be
// BER encoded (indefinite lengths, constructed OCTET STRINGs), as some
// Windows and Java clients send them.
//
// The package has no mutable package-level state; all functions are safe for
// concurrent use.
package cms

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"encoding/asn1"
	"errors"
	"fmt"
	"strings"
)

// Cipher identifies a content-encryption algorithm.
type Cipher int

// The supported content-encryption algorithms, all in CBC mode with PKCS #7
// padding.
const (
	AES128CBC Cipher = iota + 1
	AES192CBC
	AES256CBC
	DES3CBC // DES-EDE3-CBC
	DESCBC  // single DES, legacy
	RC2CBC  // RFC 2268, legacy
)

// String returns the conventional name of c, such as "AES-128-CBC".
func (c Cipher) String() string {
	switch c {
	case AES128CBC:
		return "AES-128-CBC"
	case AES192CBC:
		return "AES-192-CBC"
	case AES256CBC:
		return "AES-256-CBC"
	case DES3CBC:
		return "DES-EDE3-CBC"
	case DESCBC:
		return "DES-CBC"
	case RC2CBC:
		return "RC2-CBC"
	}
	return fmt.Sprintf("Cipher(%d)", int(c))
}

// Legacy reports whether c is a weak algorithm kept only for old clients
// (single DES and RC2).
func (c Cipher) Legacy() bool {
	return c == DESCBC || c == RC2CBC
}

// OID returns the object identifier of c as used in a CMS
// ContentEncryptionAlgorithmIdentifier, or nil if c is not a known cipher.
// Each call returns a new slice.
func (c Cipher) OID() asn1.ObjectIdentifier {
	switch c {
	case AES128CBC:
		return asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	case AES192CBC:
		return asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	case AES256CBC:
		return asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
	case DES3CBC:
		return asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 7}
	case DESCBC:
		return asn1.ObjectIdentifier{1, 3, 14, 3, 2, 7}
	case RC2CBC:
		return asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 2}
	}
	return nil
}

// allCiphers lists every supported cipher.
func allCiphers() []Cipher {
	return []Cipher{AES128CBC, AES192CBC, AES256CBC, DES3CBC, DESCBC, RC2CBC}
}

// cipherForOID returns the cipher identified by oid.
func cipherForOID(oid asn1.ObjectIdentifier) (Cipher, bool) {
	for _, c := range allCiphers() {
		if oid.Equal(c.OID()) {
			return c, true
		}
	}
	return 0, false
}

// valid reports whether c is one of the defined ciphers.
func (c Cipher) valid() bool {
	return c >= AES128CBC && c <= RC2CBC
}

// keySize returns the key length in bytes of c, or 0 for RC2, whose key
// length is variable.
func (c Cipher) keySize() int {
	switch c {
	case AES128CBC:
		return 16
	case AES192CBC, DES3CBC:
		return 24
	case AES256CBC:
		return 32
	case DESCBC:
		return 8
	}
	return 0
}

// blockSize returns the block size in bytes of c, which is also its IV size.
func (c Cipher) blockSize() int {
	switch c {
	case AES128CBC, AES192CBC, AES256CBC:
		return aes.BlockSize
	}
	return 8
}

// ParseCipherName parses a cipher name, case-insensitively. It accepts the
// names returned by Cipher.String and the short forms "aes128", "aes192",
// "aes256", "aes-128" etc., "des3", "3des", "des-ede3", "des", "rc2". Plain
// "aes" means AES-256-CBC.
func ParseCipherName(s string) (Cipher, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "aes", "aes256", "aes-256", "aes-256-cbc":
		return AES256CBC, nil
	case "aes128", "aes-128", "aes-128-cbc":
		return AES128CBC, nil
	case "aes192", "aes-192", "aes-192-cbc":
		return AES192CBC, nil
	case "des3", "3des", "des-ede3", "des-ede3-cbc":
		return DES3CBC, nil
	case "des", "des-cbc":
		return DESCBC, nil
	case "rc2", "rc2-cbc":
		return RC2CBC, nil
	}
	return 0, fmt.Errorf("cms: unknown cipher name %q", s)
}

// Algorithm is a cipher plus its parameters as found in a message.
type Algorithm struct {
	Cipher  Cipher
	RC2Bits int // effective key bits for RC2 (40, 64 or 128); 0 otherwise
	KeyLen  int // key length in bytes (RC2: the actual key length used; others fixed)
}

// String describes a, for example "AES-256-CBC" or "RC2-CBC (40-bit
// effective, 5-byte key)".
func (a Algorithm) String() string {
	if a.Cipher != RC2CBC {
		return a.Cipher.String()
	}
	if a.KeyLen == 0 {
		return fmt.Sprintf("RC2-CBC (%d-bit effective)", a.RC2Bits)
	}
	return fmt.Sprintf("RC2-CBC (%d-bit effective, %d-byte key)", a.RC2Bits, a.KeyLen)
}

// withDefaults validates a for encryption and fills in default values: the
// fixed key length of the cipher, and for RC2 128 effective bits and a
// 16-byte key.
func (a Algorithm) withDefaults() (Algorithm, error) {
	if !a.Cipher.valid() {
		return a, fmt.Errorf("cms: unsupported cipher %v", a.Cipher)
	}
	if a.Cipher != RC2CBC {
		if a.RC2Bits != 0 {
			return a, fmt.Errorf("cms: RC2Bits set to %d for %v", a.RC2Bits, a.Cipher)
		}
		if a.KeyLen != 0 && a.KeyLen != a.Cipher.keySize() {
			return a, fmt.Errorf("cms: key length %d is invalid for %v (want %d)", a.KeyLen, a.Cipher, a.Cipher.keySize())
		}
		a.KeyLen = a.Cipher.keySize()
		return a, nil
	}
	if a.RC2Bits == 0 {
		a.RC2Bits = 128
	}
	if a.KeyLen == 0 {
		a.KeyLen = 16
	}
	if a.RC2Bits < 1 || a.RC2Bits > 1024 {
		return a, fmt.Errorf("cms: invalid RC2 effective key length %d bits (want 1 to 1024)", a.RC2Bits)
	}
	if a.KeyLen < 1 || a.KeyLen > 128 {
		return a, fmt.Errorf("cms: invalid RC2 key length %d (want 1 to 128 bytes)", a.KeyLen)
	}
	return a, nil
}

// newBlock returns the block cipher for a with the given key.
func newBlock(a Algorithm, key []byte) (cipher.Block, error) {
	if a.Cipher != RC2CBC && len(key) != a.Cipher.keySize() {
		return nil, fmt.Errorf("cms: key length %d is invalid for %v", len(key), a.Cipher)
	}
	switch a.Cipher {
	case AES128CBC, AES192CBC, AES256CBC:
		return aes.NewCipher(key)
	case DES3CBC:
		return des.NewTripleDESCipher(key)
	case DESCBC:
		return des.NewCipher(key)
	case RC2CBC:
		return NewRC2Cipher(key, a.RC2Bits)
	}
	return nil, fmt.Errorf("cms: unsupported cipher %v", a.Cipher)
}

// Errors returned by Decrypt and PeekAlgorithm. They are wrapped with
// details; test for them with errors.Is.
var (
	// ErrNoRecipient means that no RecipientInfo matches the given
	// certificate.
	ErrNoRecipient = errors.New("cms: no recipient matches the certificate")
	// ErrDecrypt means that key transport or content decryption failed,
	// for example because of bad padding or a wrong key.
	ErrDecrypt = errors.New("cms: decryption failed")
	// ErrMalformed means that the input is not a parseable EnvelopedData or
	// ContentInfo.
	ErrMalformed = errors.New("cms: malformed EnvelopedData")
	// ErrUnsupportedKeyEncryption means that the matching recipient uses a
	// key-encryption algorithm (or RSAES-OAEP hash) this package does not
	// implement.
	ErrUnsupportedKeyEncryption = errors.New("cms: unsupported key-encryption algorithm")
)

// UnsupportedCipherError is returned (as *UnsupportedCipherError) by Decrypt
// and PeekAlgorithm when the content-encryption OID is unknown, for example
// AES-GCM or something exotic; it carries the OID.
type UnsupportedCipherError struct{ OID asn1.ObjectIdentifier }

// Error implements the error interface.
func (e *UnsupportedCipherError) Error() string {
	return fmt.Sprintf("cms: unsupported content-encryption algorithm %v", e.OID)
}
