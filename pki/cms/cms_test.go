package cms

import (
	"bytes"
	"crypto"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"
	"sync"
	"testing"
)

// roundTripAlgorithms lists algorithms to encrypt with and the Algorithm
// Decrypt must report for them.
var roundTripAlgorithms = []struct {
	name string
	alg  Algorithm
	want Algorithm
}{
	{"aes128", Algorithm{Cipher: AES128CBC}, Algorithm{Cipher: AES128CBC, KeyLen: 16}},
	{"aes192", Algorithm{Cipher: AES192CBC}, Algorithm{Cipher: AES192CBC, KeyLen: 24}},
	{"aes256", Algorithm{Cipher: AES256CBC, KeyLen: 32}, Algorithm{Cipher: AES256CBC, KeyLen: 32}},
	{"des3", Algorithm{Cipher: DES3CBC}, Algorithm{Cipher: DES3CBC, KeyLen: 24}},
	{"des", Algorithm{Cipher: DESCBC}, Algorithm{Cipher: DESCBC, KeyLen: 8}},
	{"rc2-default", Algorithm{Cipher: RC2CBC}, Algorithm{Cipher: RC2CBC, RC2Bits: 128, KeyLen: 16}},
	{"rc2-40", Algorithm{Cipher: RC2CBC, RC2Bits: 40, KeyLen: 5}, Algorithm{Cipher: RC2CBC, RC2Bits: 40, KeyLen: 5}},
	{"rc2-64", Algorithm{Cipher: RC2CBC, RC2Bits: 64, KeyLen: 8}, Algorithm{Cipher: RC2CBC, RC2Bits: 64, KeyLen: 8}},
	{"rc2-128", Algorithm{Cipher: RC2CBC, RC2Bits: 128, KeyLen: 16}, Algorithm{Cipher: RC2CBC, RC2Bits: 128, KeyLen: 16}},
	{"rc2-32-bare-iv", Algorithm{Cipher: RC2CBC, RC2Bits: 32}, Algorithm{Cipher: RC2CBC, RC2Bits: 32, KeyLen: 16}},
	{"rc2-1024", Algorithm{Cipher: RC2CBC, RC2Bits: 1024, KeyLen: 128}, Algorithm{Cipher: RC2CBC, RC2Bits: 1024, KeyLen: 128}},
}

// peekWant is what PeekAlgorithm reports for want: the RC2 key length is
// unknown before unwrapping.
func peekWant(want Algorithm) Algorithm {
	if want.Cipher == RC2CBC {
		want.KeyLen = 0
	}
	return want
}

func TestRoundTrip(t *testing.T) {
	ra := raID()
	for _, tc := range roundTripAlgorithms {
		for _, size := range []int{0, 1, 7, 8, 15, 16, 17, 1000} {
			t.Run(fmt.Sprintf("ok/%s/%d-bytes", tc.name, size), func(t *testing.T) {
				plaintext := randomBytes(t, size)
				msg, err := Encrypt(plaintext, ra.cert, tc.alg, nil)
				if err != nil {
					t.Fatalf("Encrypt: got error %v, want nil", err)
				}

				peeked, err := PeekAlgorithm(msg)
				if err != nil || peeked != peekWant(tc.want) {
					t.Errorf("PeekAlgorithm: got %+v, %v; want %+v, nil", peeked, err, peekWant(tc.want))
				}

				got, alg, err := Decrypt(msg, ra.cert, ra.rsaKey())
				if err != nil {
					t.Fatalf("Decrypt: got error %v, want nil", err)
				}
				if !bytes.Equal(got, plaintext) {
					t.Errorf("Decrypt plaintext: got %x, want %x", got, plaintext)
				}
				if alg != tc.want {
					t.Errorf("Decrypt algorithm: got %+v, want %+v", alg, tc.want)
				}

				// The same message in BER, as streaming encoders write it.
				for _, ber := range [][]byte{toBER(t, msg, 5, false), toBER(t, msg, 64, true)} {
					got, alg, err := Decrypt(ber, ra.cert, ra.rsaKey())
					if err != nil || !bytes.Equal(got, plaintext) || alg != tc.want {
						t.Errorf("Decrypt BER: got %x, %+v, %v; want %x, %+v, nil", got, alg, err, plaintext, tc.want)
					}
				}
			})
		}
	}
}

// TestMirror checks that the Algorithm from Decrypt, passed to Encrypt,
// reproduces the client's choice.
func TestMirror(t *testing.T) {
	ra, client := raID(), clientID()
	for _, tc := range roundTripAlgorithms {
		t.Run("ok/"+tc.name, func(t *testing.T) {
			req, err := Encrypt([]byte("csr"), ra.cert, tc.alg, rand.Reader)
			if err != nil {
				t.Fatalf("Encrypt request: got error %v, want nil", err)
			}
			_, alg, err := Decrypt(req, ra.cert, ra.rsaKey())
			if err != nil {
				t.Fatalf("Decrypt request: got error %v, want nil", err)
			}
			reply, err := Encrypt([]byte("cert"), client.cert, alg, rand.Reader)
			if err != nil {
				t.Fatalf("Encrypt reply: got error %v, want nil", err)
			}
			got, replyAlg, err := Decrypt(reply, client.cert, client.rsaKey())
			if err != nil || string(got) != "cert" || replyAlg != tc.want {
				t.Errorf("Decrypt reply: got %q, %+v, %v; want %q, %+v, nil", got, replyAlg, err, "cert", tc.want)
			}
		})
	}
}

// TestEncryptStructure checks the fields of an Encrypt result that the
// round trip does not: versions, recipient identifier, content type.
func TestEncryptStructure(t *testing.T) {
	ra := raID()
	msg, err := Encrypt([]byte("x"), ra.cert, Algorithm{Cipher: AES128CBC}, nil)
	if err != nil {
		t.Fatalf("Encrypt: got error %v, want nil", err)
	}
	var ci struct {
		ContentType asn1.ObjectIdentifier
		Content     struct {
			Version        int
			RecipientInfos []keyTransRecipientInfo `asn1:"set"`
			ECI            encryptedContentInfoTest
		} `asn1:"explicit,tag:0"`
	}
	if err := unmarshalExact(msg, &ci); err != nil {
		t.Fatalf("parsing Encrypt output as DER: got error %v, want nil", err)
	}
	ed := ci.Content
	checks := []struct {
		name      string
		got, want any
	}{
		{"contentType", ci.ContentType.String(), oidEnvelopedData().String()},
		{"version", ed.Version, 0},
		{"recipient count", len(ed.RecipientInfos), 1},
		{"recipient version", ed.RecipientInfos[0].Version, 0},
		{"keyEncryptionAlgorithm", ed.RecipientInfos[0].KeyEncryptionAlgorithm.Algorithm.String(), oidRSAEncryption().String()},
		{"encrypted content type", ed.ECI.ContentType.String(), oidData().String()},
		{"rid is issuerAndSerialNumber", ed.RecipientInfos[0].RID.Tag, asn1.TagSequence},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: got %v, want %v", c.name, c.got, c.want)
		}
	}
	if ok, err := (&ed.RecipientInfos[0]).identifies(ra.cert); !ok || err != nil {
		t.Errorf("recipient identifies the RA certificate: got %v, %v; want true, nil", ok, err)
	}
}

func TestEncryptErrors(t *testing.T) {
	ra := raID()
	noIssuer := *ra.cert
	noIssuer.RawIssuer = nil
	tests := []struct {
		name string
		cert *x509.Certificate
		alg  Algorithm
		rnd  io.Reader
	}{
		{"fail/zero-cipher", ra.cert, Algorithm{}, nil},
		{"fail/unknown-cipher", ra.cert, Algorithm{Cipher: 99}, nil},
		{"fail/aes-with-rc2-bits", ra.cert, Algorithm{Cipher: AES128CBC, RC2Bits: 40}, nil},
		{"fail/aes128-wrong-key-length", ra.cert, Algorithm{Cipher: AES128CBC, KeyLen: 32}, nil},
		{"fail/des3-wrong-key-length", ra.cert, Algorithm{Cipher: DES3CBC, KeyLen: 16}, nil},
		{"fail/rc2-too-many-bits", ra.cert, Algorithm{Cipher: RC2CBC, RC2Bits: 1025}, nil},
		{"fail/rc2-negative-bits", ra.cert, Algorithm{Cipher: RC2CBC, RC2Bits: -8}, nil},
		{"fail/rc2-key-too-long", ra.cert, Algorithm{Cipher: RC2CBC, KeyLen: 129}, nil},
		{"fail/nil-recipient", nil, Algorithm{Cipher: AES128CBC}, nil},
		{"fail/ecdsa-recipient", ecID().cert, Algorithm{Cipher: AES128CBC}, nil},
		{"fail/recipient-without-issuer", &noIssuer, Algorithm{Cipher: AES128CBC}, nil},
		{"fail/short-random", ra.cert, Algorithm{Cipher: AES256CBC}, bytes.NewReader(make([]byte, 20))},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg, err := Encrypt([]byte("x"), tc.cert, tc.alg, tc.rnd)
			if err == nil {
				t.Errorf("Encrypt: got %d bytes, nil error; want an error", len(msg))
			}
		})
	}
}

// detRandom returns a reader yielding prefix and then crypto/rand output, so
// that a test knows the key and IV Encrypt draws.
func detRandom(prefix []byte) io.Reader {
	return io.MultiReader(bytes.NewReader(prefix), rand.Reader)
}

func TestDecryptErrors(t *testing.T) {
	ra := raID()
	valid, err := Encrypt([]byte("hello"), ra.cert, Algorithm{Cipher: AES128CBC}, nil)
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}

	// A one-block message whose IV is known: flipping the top bit of the
	// last IV byte makes the padding byte at least 0x80, which is invalid.
	key, iv := bytes.Repeat([]byte{0x11}, 16), bytes.Repeat([]byte{0x5a}, 16)
	badPadding, err := Encrypt([]byte("hi"), ra.cert, Algorithm{Cipher: AES128CBC}, detRandom(append(key, iv...)))
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	at := bytes.Index(badPadding, iv)
	if at < 0 {
		t.Fatalf("IV %x not found in message", iv)
	}
	badPadding = bytes.Clone(badPadding)
	badPadding[at+15] ^= 0x80

	gcmParams := mustMarshal(t, struct {
		Nonce  []byte
		ICVLen int `asn1:"optional,default:12"`
	}{Nonce: make([]byte, 12)})
	ivParam := func(n int) asn1.RawValue { return mustMarshal(t, make([]byte, n)) }
	rc2Params := func(version int) asn1.RawValue {
		return mustMarshal(t, rc2ParamsOut{Version: version, IV: make([]byte, 8)})
	}
	wrongSerial := &issuerAndSerialNumber{
		Issuer:       asn1.RawValue{FullBytes: ra.cert.RawIssuer},
		SerialNumber: new(big.Int).Add(ra.cert.SerialNumber, big.NewInt(1)),
	}
	oaepBadHash := mustMarshal(t, rsaesOAEPParams{Hash: pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 5}}}) // MD5

	var unsupported *UnsupportedCipherError
	tests := []struct {
		name    string
		msg     []byte
		cert    *x509.Certificate
		key     *testIdentity
		wantErr error // nil: want *UnsupportedCipherError
		wantOID string
	}{
		{name: "fail/no-recipient", msg: valid, cert: clientID().cert, key: clientID(), wantErr: ErrNoRecipient},
		{name: "fail/same-issuer-other-serial", msg: valid, cert: twinID().cert, key: twinID(), wantErr: ErrNoRecipient},
		{name: "fail/recipient-serial-mismatch", msg: envSpec{algOID: AES128CBC.OID(), params: ivParam(16), content: make([]byte, 16), rid: wrongSerial}.build(t), wantErr: ErrNoRecipient},
		{name: "fail/wrong-key-size", msg: valid, key: smallID(), wantErr: ErrDecrypt},
		{name: "fail/bad-padding", msg: badPadding, wantErr: ErrDecrypt},
		{name: "fail/garbage-encrypted-key", msg: envSpec{algOID: AES128CBC.OID(), params: ivParam(16), content: make([]byte, 16), encryptedKey: []byte{1, 2, 3}}.build(t), wantErr: ErrDecrypt},
		{name: "fail/unsupported-cipher-aes-gcm", msg: envSpec{algOID: asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 6}, params: gcmParams, content: make([]byte, 32)}.build(t), wantOID: "2.16.840.1.101.3.4.1.6"},
		{name: "fail/unsupported-cipher-exotic", msg: envSpec{algOID: asn1.ObjectIdentifier{1, 2, 3, 4, 5}, content: make([]byte, 16)}.build(t), wantOID: "1.2.3.4.5"},
		{name: "fail/unsupported-key-encryption", msg: envSpec{algOID: AES128CBC.OID(), params: ivParam(16), content: make([]byte, 16), keyAlg: pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 3, 14}}}.build(t), wantErr: ErrUnsupportedKeyEncryption},
		{name: "fail/unsupported-oaep-hash", msg: envSpec{algOID: AES128CBC.OID(), params: ivParam(16), content: make([]byte, 16), keyAlg: pkix.AlgorithmIdentifier{Algorithm: oidRSAESOAEP(), Parameters: oaepBadHash}}.build(t), wantErr: ErrUnsupportedKeyEncryption},
		{name: "fail/no-content", msg: envSpec{algOID: AES128CBC.OID(), params: ivParam(16)}.build(t), wantErr: ErrMalformed},
		{name: "fail/empty-content", msg: envSpec{algOID: AES128CBC.OID(), params: ivParam(16), content: []byte{}}.build(t), wantErr: ErrMalformed},
		{name: "fail/content-not-block-multiple", msg: envSpec{algOID: AES128CBC.OID(), params: ivParam(16), content: make([]byte, 17)}.build(t), wantErr: ErrMalformed},
		{name: "fail/aes-short-iv", msg: envSpec{algOID: AES128CBC.OID(), params: ivParam(8), content: make([]byte, 16)}.build(t), wantErr: ErrMalformed},
		{name: "fail/aes-null-params", msg: envSpec{algOID: AES128CBC.OID(), params: asn1.NullRawValue, content: make([]byte, 16)}.build(t), wantErr: ErrMalformed},
		{name: "fail/aes-no-params", msg: envSpec{algOID: AES128CBC.OID(), content: make([]byte, 16)}.build(t), wantErr: ErrMalformed},
		{name: "fail/rc2-bad-version", msg: envSpec{algOID: RC2CBC.OID(), params: rc2Params(2000), content: make([]byte, 8)}.build(t), wantErr: ErrMalformed},
		{name: "fail/rc2-version-for-zero-bits", msg: envSpec{algOID: RC2CBC.OID(), params: rc2Params(int(rc2VersionTable[0])), content: make([]byte, 8)}.build(t), wantErr: ErrMalformed},
		{name: "fail/not-enveloped-data", msg: envSpec{algOID: AES128CBC.OID(), params: ivParam(16), content: make([]byte, 16), contentType: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}}.build(t), wantErr: ErrMalformed},
		{name: "fail/trailing-data", msg: append(bytes.Clone(valid), 0), wantErr: ErrMalformed},
		{name: "fail/empty", msg: nil, wantErr: ErrMalformed},
		{name: "fail/not-a-sequence", msg: []byte{0x04, 0x01, 0x00}, wantErr: ErrMalformed},
		{name: "fail/garbage", msg: []byte("this is not ASN.1 at all"), wantErr: ErrMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cert, id := ra.cert, ra
			if tc.cert != nil {
				cert = tc.cert
			}
			if tc.key != nil {
				id = tc.key
			}
			got, alg, err := Decrypt(tc.msg, cert, id.rsaKey())
			if tc.wantErr == nil {
				if !errors.As(err, &unsupported) || unsupported.OID.String() != tc.wantOID {
					t.Errorf("Decrypt: got %x, %+v, %v; want *UnsupportedCipherError for %s", got, alg, err, tc.wantOID)
				}
				if _, err := PeekAlgorithm(tc.msg); !errors.As(err, &unsupported) || unsupported.OID.String() != tc.wantOID {
					t.Errorf("PeekAlgorithm: got error %v, want *UnsupportedCipherError for %s", err, tc.wantOID)
				}
				return
			}
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("Decrypt: got %x, %+v, %v; want error %v", got, alg, err, tc.wantErr)
			}
			if got != nil {
				t.Errorf("Decrypt plaintext on error: got %x, want nil", got)
			}
		})
	}
}

// TestDecryptWrongKey decrypts with a key of the right size that does not
// belong to the certificate. EnvelopedData is unauthenticated and PKCS #1
// v1.5 unwrapping yields a random key on failure, so a single message may by
// chance (about 1 in 256) decrypt to garbage with valid padding; across
// several messages at least one must fail, and none may return the
// plaintext.
func TestDecryptWrongKey(t *testing.T) {
	ra, client := raID(), clientID()
	for _, tc := range roundTripAlgorithms {
		t.Run("fail/wrong-key/"+tc.name, func(t *testing.T) {
			plaintext := []byte("a certificate signing request")
			failures := 0
			for range 4 {
				msg, err := Encrypt(plaintext, ra.cert, tc.alg, nil)
				if err != nil {
					t.Fatalf("Encrypt: %v", err)
				}
				got, _, err := Decrypt(msg, ra.cert, client.rsaKey())
				switch {
				case err != nil && !errors.Is(err, ErrDecrypt):
					t.Errorf("Decrypt: got error %v, want ErrDecrypt", err)
				case err != nil:
					failures++
				case bytes.Equal(got, plaintext):
					t.Errorf("Decrypt with the wrong key: got the plaintext %q, want an error or garbage", got)
				}
			}
			if failures == 0 {
				t.Errorf("Decrypt with the wrong key: got 0 errors in 4 attempts, want at least 1")
			}
		})
	}
}

func TestDecryptNilArguments(t *testing.T) {
	ra := raID()
	msg, err := Encrypt([]byte("x"), ra.cert, Algorithm{Cipher: AES128CBC}, nil)
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	if _, _, err := Decrypt(msg, nil, ra.rsaKey()); err == nil {
		t.Errorf("fail/nil-cert: got nil error, want an error")
	}
	if _, _, err := Decrypt(msg, ra.cert, nil); err == nil {
		t.Errorf("fail/nil-key: got nil error, want an error")
	}
}

// TestTruncated checks that every proper prefix of a message, in DER and
// BER, is rejected as malformed by both PeekAlgorithm and Decrypt.
func TestTruncated(t *testing.T) {
	ra := raID()
	der, err := Encrypt([]byte("truncate me"), ra.cert, Algorithm{Cipher: DES3CBC}, nil)
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	for name, msg := range map[string][]byte{"der": der, "ber": toBER(t, der, 4, false)} {
		t.Run("fail/truncated-"+name, func(t *testing.T) {
			for n := range len(msg) {
				if _, err := PeekAlgorithm(msg[:n]); !errors.Is(err, ErrMalformed) {
					t.Errorf("PeekAlgorithm(first %d of %d bytes): got error %v, want ErrMalformed", n, len(msg), err)
				}
				if _, _, err := Decrypt(msg[:n], ra.cert, ra.rsaKey()); !errors.Is(err, ErrMalformed) {
					t.Errorf("Decrypt(first %d of %d bytes): got error %v, want ErrMalformed", n, len(msg), err)
				}
			}
		})
	}
}

// TestPeekAlgorithmParams covers content-encryption parameters that Encrypt
// does not produce.
func TestPeekAlgorithmParams(t *testing.T) {
	iv8 := make([]byte, 8)
	tests := []struct {
		name   string
		oid    asn1.ObjectIdentifier
		params asn1.RawValue
		want   Algorithm
	}{
		{"ok/rc2-bare-iv-32-bits", RC2CBC.OID(), mustMarshal(t, iv8), Algorithm{Cipher: RC2CBC, RC2Bits: 32}},
		{"ok/rc2-sequence-without-version", RC2CBC.OID(), mustMarshal(t, struct{ IV []byte }{iv8}), Algorithm{Cipher: RC2CBC, RC2Bits: 32}},
		{"ok/rc2-version-160", RC2CBC.OID(), mustMarshal(t, rc2ParamsOut{160, iv8}), Algorithm{Cipher: RC2CBC, RC2Bits: 40}},
		{"ok/rc2-version-120", RC2CBC.OID(), mustMarshal(t, rc2ParamsOut{120, iv8}), Algorithm{Cipher: RC2CBC, RC2Bits: 64}},
		{"ok/rc2-version-58", RC2CBC.OID(), mustMarshal(t, rc2ParamsOut{58, iv8}), Algorithm{Cipher: RC2CBC, RC2Bits: 128}},
		{"ok/rc2-version-300", RC2CBC.OID(), mustMarshal(t, rc2ParamsOut{300, iv8}), Algorithm{Cipher: RC2CBC, RC2Bits: 300}},
		{"ok/des", DESCBC.OID(), mustMarshal(t, iv8), Algorithm{Cipher: DESCBC, KeyLen: 8}},
		{"ok/aes192", AES192CBC.OID(), mustMarshal(t, make([]byte, 16)), Algorithm{Cipher: AES192CBC, KeyLen: 24}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg := envSpec{algOID: tc.oid, params: tc.params, content: make([]byte, 16)}.build(t)
			got, err := PeekAlgorithm(msg)
			if err != nil || got != tc.want {
				t.Errorf("PeekAlgorithm: got %+v, %v; want %+v, nil", got, err, tc.want)
			}
		})
	}

	// A bare EnvelopedData without the ContentInfo wrapper.
	t.Run("ok/bare-enveloped-data", func(t *testing.T) {
		ra := raID()
		msg, err := Encrypt([]byte("bare"), ra.cert, Algorithm{Cipher: AES256CBC}, nil)
		if err != nil {
			t.Fatalf("Encrypt: %v", err)
		}
		var ci contentInfoOut
		if err := unmarshalExact(msg, &ci); err != nil {
			t.Fatalf("parsing ContentInfo: %v", err)
		}
		bare := ci.Content.Bytes
		got, err := PeekAlgorithm(bare)
		if want := (Algorithm{Cipher: AES256CBC, KeyLen: 32}); err != nil || got != want {
			t.Errorf("PeekAlgorithm: got %+v, %v; want %+v, nil", got, err, want)
		}
		pt, _, err := Decrypt(bare, ra.cert, ra.rsaKey())
		if err != nil || string(pt) != "bare" {
			t.Errorf("Decrypt: got %q, %v; want %q, nil", pt, err, "bare")
		}
	})
}

func TestPaddingLen(t *testing.T) {
	tests := []struct {
		name   string
		block  string
		want   int
		wantOK bool
	}{
		{"ok/one", "abcdefg\x01", 1, true},
		{"ok/full-block", "\x08\x08\x08\x08\x08\x08\x08\x08", 8, true},
		{"ok/three", "abcde\x03\x03\x03", 3, true},
		{"fail/zero", "abcdefg\x00", 0, false},
		{"fail/too-large", "abcdefg\x09", 0, false},
		{"fail/inconsistent", "abcde\x02\x03\x03", 0, false},
		{"fail/high-byte", "abcdefg\x88", 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, ok := paddingLen([]byte("prefix..." + tc.block)[9:], 8)
			if ok != tc.wantOK || (ok && n != tc.want) {
				t.Errorf("paddingLen(%q): got %d, %v; want %d, %v", tc.block, n, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestCipherNames(t *testing.T) {
	tests := []struct {
		in     string
		want   Cipher
		wantOK bool
	}{
		{"aes", AES256CBC, true},
		{"AES", AES256CBC, true},
		{"aes128", AES128CBC, true},
		{"aes-128-cbc", AES128CBC, true},
		{"aes192", AES192CBC, true},
		{"aes-192-cbc", AES192CBC, true},
		{"aes256", AES256CBC, true},
		{"AES-256-CBC", AES256CBC, true},
		{"des3", DES3CBC, true},
		{"3des", DES3CBC, true},
		{"des-ede3-cbc", DES3CBC, true},
		{"DES", DESCBC, true},
		{"des-cbc", DESCBC, true},
		{"rc2", RC2CBC, true},
		{"RC2-CBC", RC2CBC, true},
		{" aes128 ", AES128CBC, true},
		{"", 0, false},
		{"aes-128-gcm", 0, false},
		{"blowfish", 0, false},
	}
	for _, tc := range tests {
		name := "ok/" + tc.in
		if !tc.wantOK {
			name = "fail/" + tc.in
		}
		t.Run(name, func(t *testing.T) {
			got, err := ParseCipherName(tc.in)
			if (err == nil) != tc.wantOK || got != tc.want {
				t.Errorf("ParseCipherName(%q): got %v, %v; want %v, ok=%v", tc.in, got, err, tc.want, tc.wantOK)
			}
		})
	}

	strings := map[Cipher]string{
		AES128CBC: "AES-128-CBC", AES192CBC: "AES-192-CBC", AES256CBC: "AES-256-CBC",
		DES3CBC: "DES-EDE3-CBC", DESCBC: "DES-CBC", RC2CBC: "RC2-CBC",
	}
	for _, c := range allCiphers() {
		if got := c.String(); got != strings[c] {
			t.Errorf("%d.String(): got %q, want %q", int(c), got, strings[c])
		}
		if got, err := ParseCipherName(c.String()); err != nil || got != c {
			t.Errorf("ParseCipherName(%q): got %v, %v; want %v, nil", c.String(), got, err, c)
		}
		if got, want := c.Legacy(), c == DESCBC || c == RC2CBC; got != want {
			t.Errorf("%v.Legacy(): got %v, want %v", c, got, want)
		}
		if got, ok := cipherForOID(c.OID()); !ok || got != c {
			t.Errorf("cipherForOID(%v): got %v, %v; want %v, true", c.OID(), got, ok, c)
		}
	}
	if got := Cipher(42).String(); got != "Cipher(42)" {
		t.Errorf("Cipher(42).String(): got %q, want %q", got, "Cipher(42)")
	}
	if got := Cipher(42).OID(); got != nil {
		t.Errorf("Cipher(42).OID(): got %v, want nil", got)
	}
	if got, want := (Algorithm{Cipher: RC2CBC, RC2Bits: 40, KeyLen: 5}).String(), "RC2-CBC (40-bit effective, 5-byte key)"; got != want {
		t.Errorf("Algorithm.String(): got %q, want %q", got, want)
	}
}

// TestConcurrentUse runs Encrypt and Decrypt with different algorithms in
// parallel; run with -race.
func TestConcurrentUse(t *testing.T) {
	ra := raID()
	var wg sync.WaitGroup
	errs := make(chan error, len(roundTripAlgorithms)*4)
	for _, tc := range roundTripAlgorithms {
		for i := range 4 {
			wg.Go(func() {
				plaintext := fmt.Appendf(nil, "%s-%d", tc.name, i)
				msg, err := Encrypt(plaintext, ra.cert, tc.alg, nil)
				if err != nil {
					errs <- fmt.Errorf("%s: Encrypt: %w", tc.name, err)
					return
				}
				got, alg, err := Decrypt(msg, ra.cert, ra.rsaKey())
				if err != nil || !bytes.Equal(got, plaintext) || alg != tc.want {
					errs <- fmt.Errorf("%s: Decrypt: got %q, %+v, %v; want %q, %+v, nil", tc.name, got, alg, err, plaintext, tc.want)
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestDecryptComplexEnvelope decrypts a hand-built EnvelopedData with
// originatorInfo, unprotectedAttrs, a non-KeyTrans RecipientInfo, a
// KeyTransRecipientInfo for someone else, and the RA's recipient identified
// by subjectKeyIdentifier with RSAES-OAEP (SHA-512, MGF1-SHA-512, a label).
func TestDecryptComplexEnvelope(t *testing.T) {
	ra, client := raID(), clientID()
	plaintext := []byte("complex envelope")
	cek, iv := randomBytes(t, 32), randomBytes(t, 16)
	block, err := newBlock(Algorithm{Cipher: AES256CBC}, cek)
	if err != nil {
		t.Fatal(err)
	}
	ct := pad(plaintext, 16)
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, ct)

	sha512OID := asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}
	oaepParams := func(label []byte) asn1.RawValue {
		return mustMarshal(t, rsaesOAEPParams{
			Hash:    pkix.AlgorithmIdentifier{Algorithm: sha512OID},
			MGF:     pkix.AlgorithmIdentifier{Algorithm: oidMGF1(), Parameters: mustMarshal(t, pkix.AlgorithmIdentifier{Algorithm: sha512OID})},
			PSource: pkix.AlgorithmIdentifier{Algorithm: oidPSpecified(), Parameters: mustMarshal(t, label)},
		})
	}
	label := []byte("scep")
	ek, err := rsa.EncryptOAEP(sha512.New(), rand.Reader, &ra.rsaKey().PublicKey, cek, label)
	if err != nil {
		t.Fatal(err)
	}

	build := func(paramsLabel []byte) []byte {
		ski := mustMarshal(t, struct {
			Version int
			RID     asn1.RawValue
			KEA     pkix.AlgorithmIdentifier
			EK      []byte
		}{2, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, Bytes: ra.cert.SubjectKeyId},
			pkix.AlgorithmIdentifier{Algorithm: oidRSAESOAEP(), Parameters: oaepParams(paramsLabel)}, ek})
		other := mustMarshal(t, keyTransRecipientInfoOut{
			RID:                    issuerAndSerialNumber{Issuer: asn1.RawValue{FullBytes: client.cert.RawIssuer}, SerialNumber: client.cert.SerialNumber},
			KeyEncryptionAlgorithm: pkix.AlgorithmIdentifier{Algorithm: oidRSAEncryption(), Parameters: asn1.NullRawValue},
			EncryptedKey:           make([]byte, 256),
		})
		kari := mustMarshal(t, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, IsCompound: true, Bytes: []byte{0x02, 0x01, 0x03}})
		recipients := asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true,
			Bytes: bytes.Join([][]byte{kari.FullBytes, other.FullBytes, ski.FullBytes}, nil)}
		ed := mustMarshal(t, struct {
			Version          int
			OriginatorInfo   asn1.RawValue
			Recipients       asn1.RawValue
			ECI              encryptedContentInfoOut
			UnprotectedAttrs asn1.RawValue
		}{
			Version:        2,
			OriginatorInfo: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: []byte{}},
			Recipients:     recipients,
			ECI: encryptedContentInfoOut{
				ContentType:                oidData(),
				ContentEncryptionAlgorithm: pkix.AlgorithmIdentifier{Algorithm: AES256CBC.OID(), Parameters: mustMarshal(t, iv)},
				EncryptedContent:           ct,
			},
			UnprotectedAttrs: asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, IsCompound: true, Bytes: []byte{0x30, 0x00}},
		})
		return mustMarshal(t, contentInfoOut{
			ContentType: oidEnvelopedData(),
			Content:     asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: ed.FullBytes},
		}).FullBytes
	}

	t.Run("ok/oaep-sha512-label-ski", func(t *testing.T) {
		got, alg, err := Decrypt(build(label), ra.cert, ra.rsaKey())
		want := Algorithm{Cipher: AES256CBC, KeyLen: 32}
		if err != nil || !bytes.Equal(got, plaintext) || alg != want {
			t.Errorf("Decrypt: got %q, %+v, %v; want %q, %+v, nil", got, alg, err, plaintext, want)
		}
	})
	t.Run("ok/skips-to-matching-recipient-ber", func(t *testing.T) {
		got, _, err := Decrypt(toBER(t, build(label), 3, true), ra.cert, ra.rsaKey())
		if err != nil || !bytes.Equal(got, plaintext) {
			t.Errorf("Decrypt: got %q, %v; want %q, nil", got, err, plaintext)
		}
	})
	t.Run("fail/oaep-wrong-label", func(t *testing.T) {
		got, _, err := Decrypt(build([]byte("other")), ra.cert, ra.rsaKey())
		if !errors.Is(err, ErrDecrypt) {
			t.Errorf("Decrypt: got %q, %v; want ErrDecrypt", got, err)
		}
	})
	t.Run("fail/other-recipient-wrong-key", func(t *testing.T) {
		// The client's recipient matches, but its encrypted key is zeros.
		got, _, err := Decrypt(build(label), client.cert, client.rsaKey())
		if !errors.Is(err, ErrDecrypt) {
			t.Errorf("Decrypt: got %q, %v; want ErrDecrypt", got, err)
		}
	})
}

func TestUnsupportedCipherErrorMessage(t *testing.T) {
	err := error(&UnsupportedCipherError{OID: asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 6}})
	if got, want := err.Error(), "cms: unsupported content-encryption algorithm 2.16.840.1.101.3.4.1.6"; got != want {
		t.Errorf("Error(): got %q, want %q", got, want)
	}
}

// recordingDecrypter wraps a crypto.Decrypter and records the options of
// each call.
type recordingDecrypter struct {
	crypto.Decrypter
	mu   sync.Mutex
	opts []crypto.DecrypterOpts
}

func (r *recordingDecrypter) Decrypt(rnd io.Reader, msg []byte, opts crypto.DecrypterOpts) ([]byte, error) {
	r.mu.Lock()
	r.opts = append(r.opts, opts)
	r.mu.Unlock()
	return r.Decrypter.Decrypt(rnd, msg, opts)
}

// TestDecryptSessionKeyLen checks that PKCS #1 v1.5 unwrapping asks for
// implicit rejection (SessionKeyLen) whenever the key length is fixed.
func TestDecryptSessionKeyLen(t *testing.T) {
	ra := raID()
	for _, tc := range roundTripAlgorithms {
		t.Run("ok/"+tc.name, func(t *testing.T) {
			msg, err := Encrypt([]byte("x"), ra.cert, tc.alg, nil)
			if err != nil {
				t.Fatalf("Encrypt: %v", err)
			}
			rec := &recordingDecrypter{Decrypter: ra.rsaKey()}
			if _, _, err := Decrypt(msg, ra.cert, rec); err != nil {
				t.Fatalf("Decrypt: got error %v, want nil", err)
			}
			want := tc.want.KeyLen
			if tc.want.Cipher == RC2CBC {
				want = 0 // variable key length: no implicit rejection possible
			}
			if len(rec.opts) != 1 {
				t.Fatalf("Decrypter calls: got %d, want 1", len(rec.opts))
			}
			//lint:ignore SA1019 checking that the deprecated option is used as intended.
			opts, ok := rec.opts[0].(*rsa.PKCS1v15DecryptOptions)
			if !ok || opts.SessionKeyLen != want {
				t.Errorf("Decrypter options: got %#v, want &rsa.PKCS1v15DecryptOptions{SessionKeyLen: %d}", rec.opts[0], want)
			}
		})
	}
}
