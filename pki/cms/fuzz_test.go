package cms

import (
	"bytes"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"testing"
)

// FuzzDecrypt feeds arbitrary input to PeekAlgorithm, Decrypt and the BER
// normalizer. A plain `go test` runs only the seeds; fuzz with
//
//	go test -run '^$' -fuzz FuzzDecrypt -fuzztime 1m ./pki/cms/
func FuzzDecrypt(f *testing.F) {
	ra := raID()
	for _, tc := range roundTripAlgorithms {
		msg, err := Encrypt([]byte("fuzz seed plaintext"), ra.cert, tc.alg, nil)
		if err != nil {
			f.Fatalf("Encrypt: %v", err)
		}
		f.Add(msg)
		f.Add(toBER(f, msg, 7, false))
	}
	f.Add(envSpec{algOID: asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 6}, content: make([]byte, 16)}.build(f))
	f.Add(envSpec{
		algOID:  AES128CBC.OID(),
		params:  mustMarshal(f, make([]byte, 16)),
		content: make([]byte, 16),
		keyAlg:  pkix.AlgorithmIdentifier{Algorithm: oidRSAESOAEP(), Parameters: mustMarshal(f, rsaesOAEPParams{})},
	}.build(f))
	f.Add([]byte{})
	f.Add([]byte{0x30, 0x80, 0x00, 0x00})
	f.Add([]byte{0x24, 0x80, 0x04, 0x01, 0xff, 0x00, 0x00})
	f.Add(bytes.Repeat([]byte{0x30, 0x80}, 40))

	f.Fuzz(func(t *testing.T, data []byte) {
		alg, err := PeekAlgorithm(data)
		if err == nil && !alg.Cipher.valid() {
			t.Errorf("PeekAlgorithm: got invalid cipher %v with nil error", alg.Cipher)
		}
		pt, alg2, err := Decrypt(data, ra.cert, ra.rsaKey())
		if err == nil {
			if !alg2.Cipher.valid() {
				t.Errorf("Decrypt: got invalid cipher %v with nil error", alg2.Cipher)
			}
			if len(pt) > len(data) {
				t.Errorf("Decrypt: got %d bytes of plaintext from %d bytes of input", len(pt), len(data))
			}
		}
		var unsupported *UnsupportedCipherError
		if err != nil && !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrDecrypt) &&
			!errors.Is(err, ErrNoRecipient) && !errors.Is(err, ErrUnsupportedKeyEncryption) &&
			!errors.As(err, &unsupported) {
			t.Errorf("Decrypt: got error %v, want one of the documented errors", err)
		}

		// A normalized encoding is a fixed point of the normalizer.
		if der, err := normalizeBER(data); err == nil {
			again, err := normalizeBER(der)
			if err != nil || !bytes.Equal(again, der) {
				t.Errorf("normalizeBER is not idempotent: %x -> %x -> %x, %v", data, der, again, err)
			}
		}
	})
}
