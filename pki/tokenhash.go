package pki

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
)

// TokenHash returns the keyed hash (hex HMAC-SHA256) an API bearer token is
// stored as. The key is derived from the master key apart from the
// challenge key, so the two kinds of hash never collide: a stolen database
// alone lets nobody test guesses of either.
func (m *MasterKey) TokenHash(token string) string {
	key, err := hkdf.Key(sha256.New, m.challenge, nil, "scepgate api token hash v1", 32)
	if err != nil {
		panic(err) // only for a length hkdf cannot make; 32 it can
	}
	h := hmac.New(sha256.New, key)
	h.Write([]byte(token))
	return hex.EncodeToString(h.Sum(nil))
}

// WebhookSecretPurpose binds the sealed secrets of handlers' webhooks to
// their use (see MasterKey.Seal).
const WebhookSecretPurpose = "scepgate webhook secret v1"
