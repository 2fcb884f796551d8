// Package pki holds scepgate's cryptography: the master key that encrypts
// CA and RA keys at rest, CA and RA material, certificate issuing, and the
// SCEP message layer (pki/cms holds the CMS envelope ciphers).
package pki

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// MasterKeyFile is the name of the key file created in the data folder when
// no master key is given in the environment.
const MasterKeyFile = "master.key"

// MasterKey encrypts secrets at rest and keys the hashes of challenge
// passwords. It is derived from a secret of at least 32 characters.
type MasterKey struct {
	aead      cipher.AEAD
	challenge []byte
	hashes    []byte // the root of KeyedHash's sub-keys
}

// NewMasterKey derives the encryption and hashing keys from secret.
func NewMasterKey(secret string) (*MasterKey, error) {
	secret = strings.TrimSpace(secret)
	if len(secret) < 32 {
		return nil, errors.New("the master key must be at least 32 characters long; generate one with: openssl rand -base64 32")
	}
	enc, err := hkdf.Key(sha256.New, []byte(secret), nil, "scepgate key encryption v1", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(enc)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	ch, err := hkdf.Key(sha256.New, []byte(secret), nil, "scepgate challenge hash v1", 32)
	if err != nil {
		return nil, err
	}
	hashes, err := hkdf.Key(sha256.New, []byte(secret), nil, "scepgate keyed hashes v1", 32)
	if err != nil {
		return nil, err
	}
	return &MasterKey{aead: aead, challenge: ch, hashes: hashes}, nil
}

// ReadMasterKey returns the master key from env (SCEPGATE_MASTER_KEY) when
// it is set, else from the key file in dataDir. It never creates the file:
// a new key next to an existing database would open none of its keys.
// A missing file is an error that matches os.ErrNotExist.
func ReadMasterKey(dataDir, env string) (*MasterKey, error) {
	if env != "" {
		return NewMasterKey(env)
	}
	path := filepath.Join(dataDir, MasterKeyFile)
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read master key file: %w", err)
	}
	mk, err := NewMasterKey(string(b))
	if err != nil {
		return nil, fmt.Errorf("master key file %s: %w", path, err)
	}
	return mk, nil
}

// CreateMasterKeyFile writes a new random master key to the key file in
// dataDir with mode 0600, and fails if the file exists.
func CreateMasterKeyFile(dataDir string) (*MasterKey, error) {
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, err
	}
	secret := base64.StdEncoding.EncodeToString(raw)
	path := filepath.Join(dataDir, MasterKeyFile)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create master key file: %w", err)
	}
	if _, err := f.WriteString(secret + "\n"); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("write master key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("write master key file: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, fmt.Errorf("write master key file: %w", err)
	}
	return NewMasterKey(secret)
}

// Seal encrypts plaintext; purpose binds the ciphertext to its use, so a
// key sealed as "ca" does not open as "ra".
func (m *MasterKey) Seal(purpose string, plaintext []byte) ([]byte, error) {
	nonce := make([]byte, m.aead.NonceSize(), m.aead.NonceSize()+len(plaintext)+m.aead.Overhead())
	if _, err := io.ReadFull(rand.Reader, nonce); err != nil {
		return nil, err
	}
	return m.aead.Seal(nonce, nonce, plaintext, []byte(purpose)), nil
}

// ErrWrongMasterKey means sealed data does not open with this master key.
var ErrWrongMasterKey = errors.New("the master key does not open the keys stored in the database: set SCEPGATE_MASTER_KEY (or the master.key file) to the key they were created with")

// Open decrypts what Seal made with the same purpose.
func (m *MasterKey) Open(purpose string, sealed []byte) ([]byte, error) {
	n := m.aead.NonceSize()
	if len(sealed) < n+m.aead.Overhead() {
		return nil, ErrWrongMasterKey
	}
	pt, err := m.aead.Open(nil, sealed[:n], sealed[n:], []byte(purpose))
	if err != nil {
		return nil, ErrWrongMasterKey
	}
	return pt, nil
}

// ChallengeHash returns the keyed hash (hex) under which a challenge password
// is stored. Hashing the same password twice gives the same value, so it can
// be looked up; without the master key it cannot be guessed offline.
func (m *MasterKey) ChallengeHash(password string) string {
	h := hmac.New(sha256.New, m.challenge)
	h.Write([]byte(password))
	return hex.EncodeToString(h.Sum(nil))
}

// KeyedHash returns the hex HMAC-SHA256 of value under a sub-key of the
// master key named by purpose (such as "attempts"): the same value gives
// the same hash, so it can be looked up, but without the master key it
// cannot be guessed offline, and another purpose gives another hash.
func (m *MasterKey) KeyedHash(purpose, value string) string {
	key, err := hkdf.Expand(sha256.New, m.hashes, "scepgate "+purpose, 32)
	if err != nil {
		panic(err) // only for a key length SHA-256 cannot give
	}
	h := hmac.New(sha256.New, key)
	h.Write([]byte(value))
	return hex.EncodeToString(h.Sum(nil))
}
