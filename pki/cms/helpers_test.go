package cms

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"sync"
	"testing"
	"time"
)

// testIdentity is a key and a self-signed certificate for it.
type testIdentity struct {
	key  crypto.Signer
	cert *x509.Certificate
}

// rsaKey returns the identity's key as an RSA key.
func (id *testIdentity) rsaKey() *rsa.PrivateKey { return id.key.(*rsa.PrivateKey) }

// newTestIdentity creates a self-signed certificate for key with the given
// common name and serial number, and a subject key identifier.
func newTestIdentity(key crypto.Signer, cn string, serial int64) (*testIdentity, error) {
	spki, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, err
	}
	ski := sha1.Sum(spki)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"scepgate tests"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		SubjectKeyId: ski[:],
		KeyUsage:     x509.KeyUsageKeyEncipherment | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &testIdentity{key: key, cert: cert}, nil
}

// rsaIdentity returns a function that creates, once, an RSA identity.
func rsaIdentity(bits int, cn string, serial int64) func() *testIdentity {
	return sync.OnceValue(func() *testIdentity {
		key, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			panic(fmt.Sprintf("generating RSA key: %v", err))
		}
		id, err := newTestIdentity(key, cn, serial)
		if err != nil {
			panic(fmt.Sprintf("creating certificate: %v", err))
		}
		return id
	})
}

// Shared test identities, created on first use.
var (
	// raID is the RA (server) identity that messages are encrypted to.
	raID = rsaIdentity(2048, "scepgate test RA", 1001)
	// twinID has the same issuer name as raID but another serial and key.
	twinID = rsaIdentity(2048, "scepgate test RA", 1002)
	// clientID is an unrelated identity with a key of the same size.
	clientID = rsaIdentity(2048, "scepgate test client", 2001)
	// smallID has a smaller key, so that decrypting with it fails
	// deterministically.
	smallID = rsaIdentity(1024, "scepgate small", 3001)
	// ecID has an ECDSA key.
	ecID = sync.OnceValue(func() *testIdentity {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		id, err := newTestIdentity(key, "scepgate ec", 4001)
		if err != nil {
			panic(err)
		}
		return id
	})
)

// encryptedContentInfoTest is EncryptedContentInfo with optional content,
// for building unusual messages in tests.
type encryptedContentInfoTest struct {
	ContentType                asn1.ObjectIdentifier
	ContentEncryptionAlgorithm pkix.AlgorithmIdentifier
	EncryptedContent           []byte `asn1:"optional,tag:0"`
}

type envelopedDataTest struct {
	Version              int
	RecipientInfos       []keyTransRecipientInfoOut `asn1:"set"`
	EncryptedContentInfo encryptedContentInfoTest
}

// envSpec describes a hand-made EnvelopedData for one recipient.
type envSpec struct {
	algOID       asn1.ObjectIdentifier
	params       asn1.RawValue // zero: absent
	keyAlg       pkix.AlgorithmIdentifier
	encryptedKey []byte
	rid          *issuerAndSerialNumber
	content      []byte // nil: absent
	contentType  asn1.ObjectIdentifier
}

// build encodes s as a ContentInfo, filling in defaults for the recipient
// (raID) and key-encryption algorithm.
func (s envSpec) build(t testing.TB) []byte {
	t.Helper()
	id := raID()
	rid := issuerAndSerialNumber{Issuer: asn1.RawValue{FullBytes: id.cert.RawIssuer}, SerialNumber: id.cert.SerialNumber}
	if s.rid != nil {
		rid = *s.rid
	}
	if s.keyAlg.Algorithm == nil {
		s.keyAlg = pkix.AlgorithmIdentifier{Algorithm: oidRSAEncryption(), Parameters: asn1.NullRawValue}
	}
	if s.encryptedKey == nil {
		s.encryptedKey = make([]byte, 256)
	}
	if s.contentType == nil {
		s.contentType = oidEnvelopedData()
	}
	ed, err := asn1.Marshal(envelopedDataTest{
		RecipientInfos: []keyTransRecipientInfoOut{{
			RID:                    rid,
			KeyEncryptionAlgorithm: s.keyAlg,
			EncryptedKey:           s.encryptedKey,
		}},
		EncryptedContentInfo: encryptedContentInfoTest{
			ContentType:                oidData(),
			ContentEncryptionAlgorithm: pkix.AlgorithmIdentifier{Algorithm: s.algOID, Parameters: s.params},
			EncryptedContent:           s.content,
		},
	})
	if err != nil {
		t.Fatalf("marshal EnvelopedData: %v", err)
	}
	out, err := asn1.Marshal(contentInfoOut{
		ContentType: s.contentType,
		Content:     asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: ed},
	})
	if err != nil {
		t.Fatalf("marshal ContentInfo: %v", err)
	}
	return out
}

// mustMarshal returns the DER encoding of v as a RawValue.
func mustMarshal(t testing.TB, v any) asn1.RawValue {
	t.Helper()
	der, err := asn1.Marshal(v)
	if err != nil {
		t.Fatalf("marshal %T: %v", v, err)
	}
	return asn1.RawValue{FullBytes: der}
}

// toBER re-encodes the DER element der the way streaming encoders do:
// every constructed element gets an indefinite length, and every OCTET
// STRING and primitive [0] (the encryptedContent) longer than chunk bytes
// becomes a constructed, indefinite-length string of chunk-sized segments.
// If longForm is set, definite lengths use a non-minimal 4-byte long form.
func toBER(t testing.TB, der []byte, chunk int, longForm bool) []byte {
	t.Helper()
	var v asn1.RawValue
	rest, err := asn1.Unmarshal(der, &v)
	if err != nil || len(rest) != 0 {
		t.Fatalf("toBER: parse: %v (%d trailing bytes)", err, len(rest))
	}
	return appendBER(t, nil, v, chunk, longForm)
}

func appendBER(t testing.TB, out []byte, v asn1.RawValue, chunk int, longForm bool) []byte {
	t.Helper()
	ident := func(constructed bool) []byte {
		b := appendDER(nil, berNode{class: v.Class, constructed: constructed, tag: v.Tag})
		return b[:len(b)-1] // drop the zero length
	}
	length := func(n int) []byte {
		if longForm {
			return []byte{0x84, byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}
		}
		return appendLength(nil, n)
	}
	splittable := (v.Class == asn1.ClassUniversal && v.Tag == asn1.TagOctetString) ||
		(v.Class == asn1.ClassContextSpecific && v.Tag == 0)
	switch {
	case v.IsCompound:
		children, err := derChildren(v.Bytes)
		if err != nil {
			t.Fatalf("toBER: %v", err)
		}
		out = append(out, ident(true)...)
		out = append(out, 0x80)
		for _, c := range children {
			out = appendBER(t, out, c, chunk, longForm)
		}
		return append(out, 0, 0)
	case splittable && len(v.Bytes) > chunk:
		out = append(out, ident(true)...)
		out = append(out, 0x80)
		for b := v.Bytes; len(b) > 0; {
			n := min(chunk, len(b))
			out = append(out, 0x04)
			out = append(out, length(n)...)
			out = append(out, b[:n]...)
			b = b[n:]
		}
		return append(out, 0, 0)
	default:
		out = append(out, ident(false)...)
		out = append(out, length(len(v.Bytes))...)
		return append(out, v.Bytes...)
	}
}

// randomBytes returns n random bytes.
func randomBytes(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}
