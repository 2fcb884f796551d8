package cms

import (
	"bytes"
	"crypto/cipher"
	"encoding/hex"
	"strings"
	"testing"
)

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// TestRC2Vectors checks every test vector of RFC 2268 section 5.
func TestRC2Vectors(t *testing.T) {
	tests := []struct {
		name       string
		key        string
		bits       int
		plaintext  string
		ciphertext string
	}{
		{"ok/rfc2268-1-t8-t1-63", "00000000 00000000", 63, "00000000 00000000", "ebb773f9 93278eff"},
		{"ok/rfc2268-2-t8-t1-64", "ffffffff ffffffff", 64, "ffffffff ffffffff", "278b27e4 2e2f0d49"},
		{"ok/rfc2268-3-t8-t1-64", "30000000 00000000", 64, "10000000 00000001", "30649edf 9be7d2c2"},
		{"ok/rfc2268-4-t1-t1-64", "88", 64, "00000000 00000000", "61a8a244 adacccf0"},
		{"ok/rfc2268-5-t7-t1-64", "88bca90e 90875a", 64, "00000000 00000000", "6ccf4308 974c267f"},
		{"ok/rfc2268-6-t16-t1-64", "88bca90e 90875a7f 0f79c384 627bafb2", 64, "00000000 00000000", "1a807d27 2bbe5db1"},
		{"ok/rfc2268-7-t16-t1-128", "88bca90e 90875a7f 0f79c384 627bafb2", 128, "00000000 00000000", "2269552a b0f85ca6"},
		{"ok/rfc2268-8-t33-t1-129", "88bca90e 90875a7f 0f79c384 627bafb2 16f80a6f 85920584 c42fceb0 be255daf 1e", 129, "00000000 00000000", "5b78d3a4 3dfff1f1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			key, pt, want := mustHex(t, tc.key), mustHex(t, tc.plaintext), mustHex(t, tc.ciphertext)
			b, err := NewRC2Cipher(key, tc.bits)
			if err != nil {
				t.Fatalf("NewRC2Cipher: got error %v, want nil", err)
			}
			if got := b.BlockSize(); got != 8 {
				t.Errorf("BlockSize: got %d, want 8", got)
			}
			got := make([]byte, 8)
			b.Encrypt(got, pt)
			if !bytes.Equal(got, want) {
				t.Errorf("Encrypt: got %x, want %x", got, want)
			}
			back := make([]byte, 8)
			b.Decrypt(back, want)
			if !bytes.Equal(back, pt) {
				t.Errorf("Decrypt: got %x, want %x", back, pt)
			}
			// In-place operation must work too (dst == src).
			buf := append([]byte(nil), pt...)
			b.Encrypt(buf, buf)
			b.Decrypt(buf, buf)
			if !bytes.Equal(buf, pt) {
				t.Errorf("in-place round trip: got %x, want %x", buf, pt)
			}
		})
	}
}

func TestRC2CBCRoundTrip(t *testing.T) {
	for _, bits := range []int{1, 40, 63, 64, 128, 129, 255, 256, 1024} {
		for _, keyLen := range []int{1, 5, 8, 16, 33, 128} {
			key := bytes.Repeat([]byte{byte(bits), byte(keyLen)}, 64)[:keyLen]
			b, err := NewRC2Cipher(key, bits)
			if err != nil {
				t.Fatalf("NewRC2Cipher(%d bytes, %d bits): got error %v, want nil", keyLen, bits, err)
			}
			iv := []byte("12345678")
			pt := []byte("0123456789abcdef0123456789ABCDEF")
			ct := make([]byte, len(pt))
			cipher.NewCBCEncrypter(b, iv).CryptBlocks(ct, pt)
			got := make([]byte, len(ct))
			cipher.NewCBCDecrypter(b, iv).CryptBlocks(got, ct)
			if !bytes.Equal(got, pt) {
				t.Errorf("CBC round trip (%d bytes, %d bits): got %q, want %q", keyLen, bits, got, pt)
			}
		}
	}
}

func TestRC2InvalidParameters(t *testing.T) {
	tests := []struct {
		name   string
		keyLen int
		bits   int
	}{
		{"fail/empty-key", 0, 64},
		{"fail/key-too-long", 129, 64},
		{"fail/zero-bits", 8, 0},
		{"fail/negative-bits", 8, -1},
		{"fail/too-many-bits", 8, 1025},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := NewRC2Cipher(make([]byte, tc.keyLen), tc.bits)
			if err == nil {
				t.Errorf("NewRC2Cipher(%d bytes, %d bits): got %v, nil error; want error", tc.keyLen, tc.bits, b)
			}
		})
	}
}

func TestRC2Tables(t *testing.T) {
	for name, table := range map[string]string{"piTable": piTable, "rc2VersionTable": rc2VersionTable} {
		if len(table) != 256 {
			t.Errorf("%s: got length %d, want 256", name, len(table))
			continue
		}
		var seen [256]bool
		for i := 0; i < 256; i++ {
			seen[table[i]] = true
		}
		for v, ok := range seen {
			if !ok {
				t.Errorf("%s: got no entry with value %#02x, want a permutation of 0..255", name, v)
			}
		}
	}

	// Values from RFC 2268 section 6 and RFC 8018 appendix B.2.3.
	for bits, want := range map[int]int{40: 160, 64: 120, 128: 58, 256: 256, 1024: 1024} {
		if got := rc2VersionForBits(bits); got != want {
			t.Errorf("rc2VersionForBits(%d): got %d, want %d", bits, got, want)
		}
	}
	for bits := 1; bits <= 1024; bits++ {
		got, ok := rc2BitsForVersion(rc2VersionForBits(bits))
		if !ok || got != bits {
			t.Errorf("rc2BitsForVersion(rc2VersionForBits(%d)): got %d, %v; want %d, true", bits, got, ok, bits)
		}
	}
	for _, v := range []int{-1, int(rc2VersionTable[0]), 1025, 1 << 40} {
		if got, ok := rc2BitsForVersion(v); ok {
			t.Errorf("rc2BitsForVersion(%d): got %d, true; want false", v, got)
		}
	}
}
