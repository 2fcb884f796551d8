package cms

import (
	"crypto/cipher"
	"encoding/binary"
	"fmt"
	"math/bits"
)

// rc2BlockSize is the RC2 block size in bytes.
const rc2BlockSize = 8

// piTable is PITABLE from RFC 2268 section 2: a permutation of 0..255
// derived from the digits of pi. It is a string so that it is immutable.
const piTable = "" +
	"\xd9\x78\xf9\xc4\x19\xdd\xb5\xed\x28\xe9\xfd\x79\x4a\xa0\xd8\x9d" +
	"\xc6\x7e\x37\x83\x2b\x76\x53\x8e\x62\x4c\x64\x88\x44\x8b\xfb\xa2" +
	"\x17\x9a\x59\xf5\x87\xb3\x4f\x13\x61\x45\x6d\x8d\x09\x81\x7d\x32" +
	"\xbd\x8f\x40\xeb\x86\xb7\x7b\x0b\xf0\x95\x21\x22\x5c\x6b\x4e\x82" +
	"\x54\xd6\x65\x93\xce\x60\xb2\x1c\x73\x56\xc0\x14\xa7\x8c\xf1\xdc" +
	"\x12\x75\xca\x1f\x3b\xbe\xe4\xd1\x42\x3d\xd4\x30\xa3\x3c\xb6\x26" +
	"\x6f\xbf\x0e\xda\x46\x69\x07\x57\x27\xf2\x1d\x9b\xbc\x94\x43\x03" +
	"\xf8\x11\xc7\xf6\x90\xef\x3e\xe7\x06\xc3\xd5\x2f\xc8\x66\x1e\xd7" +
	"\x08\xe8\xea\xde\x80\x52\xee\xf7\x84\xaa\x72\xac\x35\x4d\x6a\x2a" +
	"\x96\x1a\xd2\x71\x5a\x15\x49\x74\x4b\x9f\xd0\x5e\x04\x18\xa4\xec" +
	"\xc2\xe0\x41\x6e\x0f\x51\xcb\xcc\x24\x91\xaf\x50\xa1\xf4\x70\x39" +
	"\x99\x7c\x3a\x85\x23\xb8\xb4\x7a\xfc\x02\x36\x5b\x25\x55\x97\x31" +
	"\x2d\x5d\xfa\x98\xe3\x8a\x92\xae\x05\xdf\x29\x10\x67\x6c\xba\xc9" +
	"\xd3\x00\xe6\xcf\xe1\x9e\xa8\x2c\x63\x16\x01\x3f\x58\xe2\x89\xa9" +
	"\x0d\x38\x34\x1b\xab\x33\xff\xb0\xbb\x48\x0c\x5f\xb9\xb1\xcd\x2e" +
	"\xc5\xf3\xdb\x47\xe5\xa5\x9c\x77\x0a\xa6\x20\x68\xfe\x7f\xc1\xad"

// rc2VersionTable maps an effective key length in bits (0..255) to the
// RC2Version value used in RC2-CBCParameter (RFC 2268 section 6). Effective
// key lengths of 256 bits and more are encoded as themselves.
const rc2VersionTable = "" +
	"\xbd\x56\xea\xf2\xa2\xf1\xac\x2a\xb0\x93\xd1\x9c\x1b\x33\xfd\xd0" +
	"\x30\x04\xb6\xdc\x7d\xdf\x32\x4b\xf7\xcb\x45\x9b\x31\xbb\x21\x5a" +
	"\x41\x9f\xe1\xd9\x4a\x4d\x9e\xda\xa0\x68\x2c\xc3\x27\x5f\x80\x36" +
	"\x3e\xee\xfb\x95\x1a\xfe\xce\xa8\x34\xa9\x13\xf0\xa6\x3f\xd8\x0c" +
	"\x78\x24\xaf\x23\x52\xc1\x67\x17\xf5\x66\x90\xe7\xe8\x07\xb8\x60" +
	"\x48\xe6\x1e\x53\xf3\x92\xa4\x72\x8c\x08\x15\x6e\x86\x00\x84\xfa" +
	"\xf4\x7f\x8a\x42\x19\xf6\xdb\xcd\x14\x8d\x50\x12\xba\x3c\x06\x4e" +
	"\xec\xb3\x35\x11\xa1\x88\x8e\x2b\x94\x99\xb7\x71\x74\xd3\xe4\xbf" +
	"\x3a\xde\x96\x0e\xbc\x0a\xed\x77\xfc\x37\x6b\x03\x79\x89\x62\xc6" +
	"\xd7\xc0\xd2\x7c\x6a\x8b\x22\xa3\x5b\x05\x5d\x02\x75\xd5\x61\xe3" +
	"\x18\x8f\x55\x51\xad\x1f\x0b\x5e\x85\xe5\xc2\x57\x63\xca\x3d\x6c" +
	"\xb4\xc5\xcc\x70\xb2\x91\x59\x0d\x47\x20\xc8\x4f\x58\xe0\x01\xe2" +
	"\x16\x38\xc4\x6f\x3b\x0f\x65\x46\xbe\x7e\x2d\x7b\x82\xf9\x40\xb5" +
	"\x1d\x73\xf8\xeb\x26\xc7\x87\x97\x25\x54\xb1\x28\xaa\x98\x9d\xa5" +
	"\x64\x6d\x7a\xd4\x10\x81\x44\xef\x49\xd6\xae\x2e\xdd\x76\x5c\x2f" +
	"\xa7\x1c\xc9\x09\x69\x9a\x83\xcf\x29\x39\xb9\xe9\x4c\xff\x43\xab"

// rc2Cipher is an RC2 block cipher with an expanded key (RFC 2268).
type rc2Cipher struct {
	k [64]uint16
}

// NewRC2Cipher returns an RC2 block cipher (RFC 2268) for key, which must be
// 1 to 128 bytes long, limited to effectiveBits effective key bits (1 to
// 1024). The returned cipher.Block has a block size of 8 bytes and is safe for
// concurrent use.
func NewRC2Cipher(key []byte, effectiveBits int) (cipher.Block, error) {
	if len(key) < 1 || len(key) > 128 {
		return nil, fmt.Errorf("cms: invalid RC2 key length %d (want 1 to 128 bytes)", len(key))
	}
	if effectiveBits < 1 || effectiveBits > 1024 {
		return nil, fmt.Errorf("cms: invalid RC2 effective key length %d bits (want 1 to 1024)", effectiveBits)
	}

	// Key expansion, RFC 2268 section 2. L is the key buffer viewed as
	// bytes, T the key length in bytes, T1 the effective key length in bits.
	var l [128]byte
	t := len(key)
	copy(l[:], key)
	for i := t; i < 128; i++ {
		l[i] = piTable[l[i-1]+l[i-t]] // byte addition is modulo 256
	}
	t8 := (effectiveBits + 7) / 8
	// TM = 255 MOD 2^(8 + T1 - 8*T8): the low 8-(8*T8-T1) bits set.
	tm := byte(0xff >> (8*t8 - effectiveBits))
	l[128-t8] = piTable[l[128-t8]&tm]
	for i := 127 - t8; i >= 0; i-- {
		l[i] = piTable[l[i+1]^l[i+t8]]
	}

	c := new(rc2Cipher)
	for i := range c.k {
		c.k[i] = uint16(l[2*i]) | uint16(l[2*i+1])<<8
	}
	return c, nil
}

// BlockSize returns the RC2 block size, 8 bytes.
func (c *rc2Cipher) BlockSize() int { return rc2BlockSize }

// Encrypt encrypts the first block of src into dst (RFC 2268 section 3).
func (c *rc2Cipher) Encrypt(dst, src []byte) {
	if len(src) < rc2BlockSize || len(dst) < rc2BlockSize {
		panic("cms: RC2 input not full block")
	}
	r0 := binary.LittleEndian.Uint16(src[0:])
	r1 := binary.LittleEndian.Uint16(src[2:])
	r2 := binary.LittleEndian.Uint16(src[4:])
	r3 := binary.LittleEndian.Uint16(src[6:])

	// Five mixing rounds, a mashing round, six mixing rounds, a mashing
	// round and five mixing rounds.
	j := 0
	for round := 0; round < 16; round++ {
		r0 += c.k[j] + (r3 & r2) + (^r3 & r1)
		r0 = bits.RotateLeft16(r0, 1)
		r1 += c.k[j+1] + (r0 & r3) + (^r0 & r2)
		r1 = bits.RotateLeft16(r1, 2)
		r2 += c.k[j+2] + (r1 & r0) + (^r1 & r3)
		r2 = bits.RotateLeft16(r2, 3)
		r3 += c.k[j+3] + (r2 & r1) + (^r2 & r0)
		r3 = bits.RotateLeft16(r3, 5)
		j += 4

		if round == 4 || round == 10 {
			r0 += c.k[r3&63]
			r1 += c.k[r0&63]
			r2 += c.k[r1&63]
			r3 += c.k[r2&63]
		}
	}

	binary.LittleEndian.PutUint16(dst[0:], r0)
	binary.LittleEndian.PutUint16(dst[2:], r1)
	binary.LittleEndian.PutUint16(dst[4:], r2)
	binary.LittleEndian.PutUint16(dst[6:], r3)
}

// Decrypt decrypts the first block of src into dst (RFC 2268 section 4).
func (c *rc2Cipher) Decrypt(dst, src []byte) {
	if len(src) < rc2BlockSize || len(dst) < rc2BlockSize {
		panic("cms: RC2 input not full block")
	}
	r0 := binary.LittleEndian.Uint16(src[0:])
	r1 := binary.LittleEndian.Uint16(src[2:])
	r2 := binary.LittleEndian.Uint16(src[4:])
	r3 := binary.LittleEndian.Uint16(src[6:])

	// The inverse of Encrypt: five r-mixing rounds, an r-mashing round, six
	// r-mixing rounds, an r-mashing round and five r-mixing rounds.
	j := 63
	for round := 0; round < 16; round++ {
		r3 = bits.RotateLeft16(r3, -5)
		r3 -= c.k[j] + (r2 & r1) + (^r2 & r0)
		r2 = bits.RotateLeft16(r2, -3)
		r2 -= c.k[j-1] + (r1 & r0) + (^r1 & r3)
		r1 = bits.RotateLeft16(r1, -2)
		r1 -= c.k[j-2] + (r0 & r3) + (^r0 & r2)
		r0 = bits.RotateLeft16(r0, -1)
		r0 -= c.k[j-3] + (r3 & r2) + (^r3 & r1)
		j -= 4

		if round == 4 || round == 10 {
			r3 -= c.k[r2&63]
			r2 -= c.k[r1&63]
			r1 -= c.k[r0&63]
			r0 -= c.k[r3&63]
		}
	}

	binary.LittleEndian.PutUint16(dst[0:], r0)
	binary.LittleEndian.PutUint16(dst[2:], r1)
	binary.LittleEndian.PutUint16(dst[4:], r2)
	binary.LittleEndian.PutUint16(dst[6:], r3)
}

// rc2VersionForBits returns the RC2Version value that encodes an effective
// key length of bits (RFC 2268 section 6).
func rc2VersionForBits(bits int) int {
	if bits < 256 {
		return int(rc2VersionTable[bits])
	}
	return bits
}

// rc2BitsForVersion is the inverse of rc2VersionForBits. It reports false
// for values that do not denote an effective key length of 1 to 1024 bits.
func rc2BitsForVersion(version int) (int, bool) {
	switch {
	case version >= 256 && version <= 1024:
		return version, true
	case version >= 0 && version < 256:
		for bits := 1; bits < 256; bits++ {
			if int(rc2VersionTable[bits]) == version {
				return bits, true
			}
		}
	}
	return 0, false
}
