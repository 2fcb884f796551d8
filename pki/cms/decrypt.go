package cms

import (
	"bytes"
	"crypto"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha1" // registers SHA-1 for RSAES-OAEP
	_ "crypto/sha256"
	_ "crypto/sha512"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
)

// Object identifiers. They are functions so that no package-level slice can
// be modified.
func oidData() asn1.ObjectIdentifier          { return []int{1, 2, 840, 113549, 1, 7, 1} }
func oidEnvelopedData() asn1.ObjectIdentifier { return []int{1, 2, 840, 113549, 1, 7, 3} }
func oidRSAEncryption() asn1.ObjectIdentifier { return []int{1, 2, 840, 113549, 1, 1, 1} }
func oidRSAESOAEP() asn1.ObjectIdentifier     { return []int{1, 2, 840, 113549, 1, 1, 7} }
func oidMGF1() asn1.ObjectIdentifier          { return []int{1, 2, 840, 113549, 1, 1, 8} }
func oidPSpecified() asn1.ObjectIdentifier    { return []int{1, 2, 840, 113549, 1, 1, 9} }

// hashForOID returns the hash function for a digest algorithm OID accepted
// in RSAES-OAEP parameters.
func hashForOID(oid asn1.ObjectIdentifier) (crypto.Hash, bool) {
	switch {
	case oid.Equal(asn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}):
		return crypto.SHA1, true
	case oid.Equal(asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}):
		return crypto.SHA256, true
	case oid.Equal(asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}):
		return crypto.SHA384, true
	case oid.Equal(asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}):
		return crypto.SHA512, true
	}
	return 0, false
}

// keyTransRecipientInfo is KeyTransRecipientInfo (RFC 5652 section 6.2.1).
type keyTransRecipientInfo struct {
	Version                int
	RID                    asn1.RawValue // issuerAndSerialNumber or [0] subjectKeyIdentifier
	KeyEncryptionAlgorithm pkix.AlgorithmIdentifier
	EncryptedKey           []byte
}

// issuerAndSerialNumber is IssuerAndSerialNumber (RFC 5652 section 10.2.4).
type issuerAndSerialNumber struct {
	Issuer       asn1.RawValue
	SerialNumber *big.Int
}

// envelope is the parsed part of an EnvelopedData that Decrypt needs.
type envelope struct {
	recipients []asn1.RawValue // RecipientInfo elements
	algOID     asn1.ObjectIdentifier
	algParams  *asn1.RawValue // nil if absent
	content    []byte         // encryptedContent, joined if constructed
	hasContent bool
}

// malformed returns an error wrapping ErrMalformed.
func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
}

// PeekAlgorithm parses an EnvelopedData (ContentInfo-wrapped, contentType
// 1.2.840.113549.1.7.3; a bare EnvelopedData is accepted too) and returns its
// content-encryption algorithm without decrypting, so that callers can refuse
// legacy ciphers by policy before spending an RSA operation.
//
// For RC2 the key length is only known after the key is unwrapped, so
// KeyLen is 0; Decrypt reports it. An unknown algorithm yields an
// *UnsupportedCipherError, unparseable input an error wrapping ErrMalformed.
func PeekAlgorithm(der []byte) (Algorithm, error) {
	env, err := parseEnvelope(der)
	if err != nil {
		return Algorithm{}, err
	}
	alg, _, err := env.algorithm()
	return alg, err
}

// Decrypt finds the KeyTransRecipientInfo matching cert (by
// issuerAndSerialNumber or subjectKeyIdentifier), unwraps the
// content-encryption key with key and decrypts the content. It returns the
// plaintext and the algorithm used, to be mirrored in the reply.
//
// key must hold the RSA private key of cert. For PKCS #1 v1.5 key transport
// with a fixed-size content key, the key is unwrapped with
// rsa.PKCS1v15DecryptOptions.SessionKeyLen so that a padding error is not
// distinguishable from a wrong key (RFC 3218); RC2 keys have a variable
// length, so this protection is not available for RC2. RSAES-OAEP with
// SHA-1, SHA-256, SHA-384 or SHA-512 is supported too.
//
// EnvelopedData is not authenticated: a wrong key usually yields an error
// wrapping ErrDecrypt, but may, with small probability, yield garbage.
//
// Errors: ErrMalformed, *UnsupportedCipherError, ErrNoRecipient,
// ErrUnsupportedKeyEncryption or ErrDecrypt, wrapped with details. Once the
// content-encryption algorithm is known it is returned even with an error,
// for logging.
func Decrypt(der []byte, cert *x509.Certificate, key crypto.Decrypter) ([]byte, Algorithm, error) {
	if cert == nil || key == nil {
		return nil, Algorithm{}, errors.New("cms: Decrypt needs a certificate and a private key")
	}
	env, err := parseEnvelope(der)
	if err != nil {
		return nil, Algorithm{}, err
	}
	alg, iv, err := env.algorithm()
	if err != nil {
		return nil, Algorithm{}, err
	}
	if !env.hasContent {
		return nil, alg, malformed("no encryptedContent (detached content is not supported)")
	}
	if len(env.content) == 0 || len(env.content)%alg.Cipher.blockSize() != 0 {
		return nil, alg, malformed("encrypted content length %d is not a positive multiple of the %v block size", len(env.content), alg.Cipher)
	}
	ri, err := env.findRecipient(cert)
	if err != nil {
		return nil, alg, err
	}
	cek, err := unwrapKey(key, ri, alg)
	if err != nil {
		return nil, alg, err
	}
	if alg.Cipher == RC2CBC {
		alg.KeyLen = len(cek)
	}
	plaintext, err := decryptContent(alg, cek, iv, env.content)
	if err != nil {
		return nil, alg, err
	}
	return plaintext, alg, nil
}

// parseEnvelope parses der, a ContentInfo holding an EnvelopedData or a bare
// EnvelopedData, in BER or DER.
func parseEnvelope(der []byte) (*envelope, error) {
	if len(der) == 0 {
		return nil, malformed("empty input")
	}
	norm, err := normalizeBER(der)
	if err != nil {
		return nil, malformed("%v", err)
	}
	var top asn1.RawValue
	if err := unmarshalExact(norm, &top); err != nil {
		return nil, malformed("%v", err)
	}
	if !is(top, asn1.ClassUniversal, asn1.TagSequence, true) {
		return nil, malformed("not a SEQUENCE")
	}
	elems, err := derChildren(top.Bytes)
	if err != nil {
		return nil, malformed("%v", err)
	}
	if len(elems) > 0 && is(elems[0], asn1.ClassUniversal, asn1.TagOID, false) {
		// ContentInfo ::= SEQUENCE { contentType, [0] EXPLICIT content }
		var contentType asn1.ObjectIdentifier
		if err := unmarshalExact(elems[0].FullBytes, &contentType); err != nil {
			return nil, malformed("ContentInfo contentType: %v", err)
		}
		if !contentType.Equal(oidEnvelopedData()) {
			return nil, malformed("content type %v is not enveloped-data", contentType)
		}
		if len(elems) != 2 || !is(elems[1], asn1.ClassContextSpecific, 0, true) {
			return nil, malformed("ContentInfo has no [0] content")
		}
		var inner asn1.RawValue
		if err := unmarshalExact(elems[1].Bytes, &inner); err != nil {
			return nil, malformed("ContentInfo content: %v", err)
		}
		if !is(inner, asn1.ClassUniversal, asn1.TagSequence, true) {
			return nil, malformed("EnvelopedData is not a SEQUENCE")
		}
		if elems, err = derChildren(inner.Bytes); err != nil {
			return nil, malformed("%v", err)
		}
	}
	return parseEnvelopedData(elems)
}

// parseEnvelopedData parses the fields of EnvelopedData (RFC 5652 section
// 6.1).
func parseEnvelopedData(elems []asn1.RawValue) (*envelope, error) {
	var version int
	if len(elems) < 3 || !is(elems[0], asn1.ClassUniversal, asn1.TagInteger, false) {
		return nil, malformed("EnvelopedData does not start with a version")
	}
	if err := unmarshalExact(elems[0].FullBytes, &version); err != nil {
		return nil, malformed("EnvelopedData version: %v", err)
	}
	i := 1
	if is(elems[i], asn1.ClassContextSpecific, 0, true) {
		i++ // originatorInfo is not needed
	}
	if i >= len(elems) || !is(elems[i], asn1.ClassUniversal, asn1.TagSet, true) {
		return nil, malformed("EnvelopedData has no recipientInfos")
	}
	recipients, err := derChildren(elems[i].Bytes)
	if err != nil {
		return nil, malformed("recipientInfos: %v", err)
	}
	if len(recipients) == 0 {
		return nil, malformed("recipientInfos is empty")
	}
	i++
	if i >= len(elems) || !is(elems[i], asn1.ClassUniversal, asn1.TagSequence, true) {
		return nil, malformed("EnvelopedData has no encryptedContentInfo")
	}
	eci := elems[i]
	i++
	if i < len(elems) && is(elems[i], asn1.ClassContextSpecific, 1, true) {
		i++ // unprotectedAttrs are ignored
	}
	if i != len(elems) {
		return nil, malformed("unexpected field in EnvelopedData")
	}

	env := &envelope{recipients: recipients}
	if err := env.parseEncryptedContentInfo(eci.Bytes); err != nil {
		return nil, err
	}
	return env, nil
}

// parseEncryptedContentInfo parses EncryptedContentInfo (RFC 5652 section
// 6.1) into env.
func (env *envelope) parseEncryptedContentInfo(content []byte) error {
	f, err := derChildren(content)
	if err != nil {
		return malformed("encryptedContentInfo: %v", err)
	}
	if len(f) < 2 || len(f) > 3 || !is(f[0], asn1.ClassUniversal, asn1.TagOID, false) {
		return malformed("encryptedContentInfo has a bad structure")
	}
	var contentType asn1.ObjectIdentifier
	if err := unmarshalExact(f[0].FullBytes, &contentType); err != nil {
		return malformed("encryptedContentInfo contentType: %v", err)
	}

	if !is(f[1], asn1.ClassUniversal, asn1.TagSequence, true) {
		return malformed("contentEncryptionAlgorithm is not a SEQUENCE")
	}
	a, err := derChildren(f[1].Bytes)
	if err != nil {
		return malformed("contentEncryptionAlgorithm: %v", err)
	}
	if len(a) < 1 || len(a) > 2 || !is(a[0], asn1.ClassUniversal, asn1.TagOID, false) {
		return malformed("contentEncryptionAlgorithm has a bad structure")
	}
	if err := unmarshalExact(a[0].FullBytes, &env.algOID); err != nil {
		return malformed("contentEncryptionAlgorithm: %v", err)
	}
	if len(a) == 2 {
		env.algParams = &a[1]
	}

	if len(f) == 3 {
		ec := f[2]
		if ec.Class != asn1.ClassContextSpecific || ec.Tag != 0 {
			return malformed("unexpected field in encryptedContentInfo")
		}
		env.hasContent = true
		if env.content, err = implicitOctets(ec); err != nil {
			return malformed("encryptedContent: %v", err)
		}
	}
	return nil
}

// implicitOctets returns the value of v, an IMPLICIT tagged OCTET STRING.
// In BER it may be constructed from OCTET STRING segments, which
// normalizeBER has already made primitive.
func implicitOctets(v asn1.RawValue) ([]byte, error) {
	if !v.IsCompound {
		return v.Bytes, nil
	}
	segments, err := derChildren(v.Bytes)
	if err != nil {
		return nil, err
	}
	out := []byte{}
	for _, s := range segments {
		if !is(s, asn1.ClassUniversal, asn1.TagOctetString, false) {
			return nil, errors.New("segment is not an OCTET STRING")
		}
		out = append(out, s.Bytes...)
	}
	return out, nil
}

// algorithm returns the content-encryption algorithm of env and its IV.
func (env *envelope) algorithm() (Algorithm, []byte, error) {
	c, ok := cipherForOID(env.algOID)
	if !ok {
		oid := append(asn1.ObjectIdentifier(nil), env.algOID...)
		return Algorithm{}, nil, &UnsupportedCipherError{OID: oid}
	}
	alg := Algorithm{Cipher: c, KeyLen: c.keySize()}
	p := env.algParams
	if p == nil {
		return Algorithm{}, nil, malformed("%v has no parameters", c)
	}
	var iv []byte
	switch {
	case is(*p, asn1.ClassUniversal, asn1.TagOctetString, false):
		iv = p.Bytes
		if c == RC2CBC {
			// RFC 2268 section 6: a bare IV means 32 effective bits.
			alg.RC2Bits = 32
		}
	case c == RC2CBC && is(*p, asn1.ClassUniversal, asn1.TagSequence, true):
		var err error
		if alg.RC2Bits, iv, err = parseRC2Params(p.Bytes); err != nil {
			return Algorithm{}, nil, err
		}
	default:
		return Algorithm{}, nil, malformed("%v parameters are not an IV", c)
	}
	if len(iv) != c.blockSize() {
		return Algorithm{}, nil, malformed("%v IV is %d bytes, want %d", c, len(iv), c.blockSize())
	}
	return alg, iv, nil
}

// parseRC2Params parses the content of RC2-CBCParameter ::= SEQUENCE {
// rc2ParameterVersion INTEGER OPTIONAL, iv OCTET STRING } (RFC 2268 section
// 6, RFC 8018 appendix B.2.3). An absent version means 32 effective bits.
func parseRC2Params(content []byte) (bits int, iv []byte, err error) {
	f, err := derChildren(content)
	if err != nil {
		return 0, nil, malformed("RC2 parameters: %v", err)
	}
	bits = 32
	switch len(f) {
	case 1:
	case 2:
		var version int
		if !is(f[0], asn1.ClassUniversal, asn1.TagInteger, false) {
			return 0, nil, malformed("RC2 parameter version is not an INTEGER")
		}
		if err := unmarshalExact(f[0].FullBytes, &version); err != nil {
			return 0, nil, malformed("RC2 parameter version: %v", err)
		}
		var ok bool
		if bits, ok = rc2BitsForVersion(version); !ok {
			return 0, nil, malformed("RC2 parameter version %d does not denote an effective key length", version)
		}
	default:
		return 0, nil, malformed("RC2 parameters have %d fields", len(f))
	}
	last := f[len(f)-1]
	if !is(last, asn1.ClassUniversal, asn1.TagOctetString, false) {
		return 0, nil, malformed("RC2 IV is not an OCTET STRING")
	}
	return bits, last.Bytes, nil
}

// findRecipient returns the KeyTransRecipientInfo that identifies cert.
// Other kinds of RecipientInfo are skipped.
func (env *envelope) findRecipient(cert *x509.Certificate) (*keyTransRecipientInfo, error) {
	for _, r := range env.recipients {
		if !is(r, asn1.ClassUniversal, asn1.TagSequence, true) {
			continue // kari [1], kekri [2], pwri [3] or ori [4]
		}
		ri := new(keyTransRecipientInfo)
		if err := unmarshalExact(r.FullBytes, ri); err != nil {
			return nil, malformed("KeyTransRecipientInfo: %v", err)
		}
		ok, err := ri.identifies(cert)
		if err != nil {
			return nil, err
		}
		if ok {
			return ri, nil
		}
	}
	return nil, ErrNoRecipient
}

// identifies reports whether the recipient identifier of ri names cert.
func (ri *keyTransRecipientInfo) identifies(cert *x509.Certificate) (bool, error) {
	rid := ri.RID
	switch {
	case is(rid, asn1.ClassUniversal, asn1.TagSequence, true):
		var ias issuerAndSerialNumber
		if err := unmarshalExact(rid.FullBytes, &ias); err != nil {
			return false, malformed("issuerAndSerialNumber: %v", err)
		}
		return len(cert.RawIssuer) > 0 && cert.SerialNumber != nil &&
			bytes.Equal(ias.Issuer.FullBytes, cert.RawIssuer) &&
			ias.SerialNumber.Cmp(cert.SerialNumber) == 0, nil
	case rid.Class == asn1.ClassContextSpecific && rid.Tag == 0:
		ski, err := implicitOctets(rid)
		if err != nil {
			return false, malformed("subjectKeyIdentifier: %v", err)
		}
		return len(cert.SubjectKeyId) > 0 && bytes.Equal(ski, cert.SubjectKeyId), nil
	}
	return false, malformed("unknown recipient identifier")
}

// unwrapKey decrypts the content-encryption key of ri with key and checks
// its length against alg.
func unwrapKey(key crypto.Decrypter, ri *keyTransRecipientInfo, alg Algorithm) ([]byte, error) {
	kea := ri.KeyEncryptionAlgorithm
	var opts crypto.DecrypterOpts
	switch {
	case kea.Algorithm.Equal(oidRSAEncryption()):
		// For fixed-size keys a padding error yields a random key of the
		// right size instead of an error, in constant time; the content
		// decryption then fails like for any wrong key. alg.KeyLen is 0
		// for RC2, which selects an ordinary decryption.
		//lint:ignore SA1019 PKCS #1 v1.5 key transport is what SCEP clients use.
		opts = &rsa.PKCS1v15DecryptOptions{SessionKeyLen: alg.KeyLen}
	case kea.Algorithm.Equal(oidRSAESOAEP()):
		o, err := parseOAEPParams(kea.Parameters)
		if err != nil {
			return nil, err
		}
		opts = o
	default:
		return nil, fmt.Errorf("%w %v", ErrUnsupportedKeyEncryption, kea.Algorithm)
	}

	cek, err := key.Decrypt(rand.Reader, ri.EncryptedKey, opts)
	if err != nil {
		return nil, fmt.Errorf("%w: unwrapping the content-encryption key: %v", ErrDecrypt, err)
	}
	if alg.Cipher == RC2CBC {
		if len(cek) < 1 || len(cek) > 128 {
			return nil, fmt.Errorf("%w: RC2 key length %d", ErrDecrypt, len(cek))
		}
	} else if len(cek) != alg.KeyLen {
		return nil, fmt.Errorf("%w: content-encryption key length %d, want %d", ErrDecrypt, len(cek), alg.KeyLen)
	}
	return cek, nil
}

// rsaesOAEPParams is RSAES-OAEP-params (RFC 8017 appendix A.2.1).
type rsaesOAEPParams struct {
	Hash    pkix.AlgorithmIdentifier `asn1:"explicit,tag:0,optional"`
	MGF     pkix.AlgorithmIdentifier `asn1:"explicit,tag:1,optional"`
	PSource pkix.AlgorithmIdentifier `asn1:"explicit,tag:2,optional"`
}

// parseOAEPParams converts RSAES-OAEP-params into rsa.OAEPOptions. Absent
// fields take the defaults SHA-1, MGF1 with SHA-1 and an empty label.
func parseOAEPParams(raw asn1.RawValue) (*rsa.OAEPOptions, error) {
	opts := &rsa.OAEPOptions{Hash: crypto.SHA1, MGFHash: crypto.SHA1}
	if len(raw.FullBytes) == 0 || is(raw, asn1.ClassUniversal, asn1.TagNull, false) {
		return opts, nil
	}
	var p rsaesOAEPParams
	if err := unmarshalExact(raw.FullBytes, &p); err != nil {
		return nil, malformed("RSAES-OAEP parameters: %v", err)
	}
	if len(p.Hash.Algorithm) > 0 {
		h, ok := hashForOID(p.Hash.Algorithm)
		if !ok {
			return nil, fmt.Errorf("%w: RSAES-OAEP with hash %v", ErrUnsupportedKeyEncryption, p.Hash.Algorithm)
		}
		opts.Hash = h
	}
	if len(p.MGF.Algorithm) > 0 {
		if !p.MGF.Algorithm.Equal(oidMGF1()) {
			return nil, fmt.Errorf("%w: RSAES-OAEP with mask generation function %v", ErrUnsupportedKeyEncryption, p.MGF.Algorithm)
		}
		var mgfHash pkix.AlgorithmIdentifier
		if err := unmarshalExact(p.MGF.Parameters.FullBytes, &mgfHash); err != nil {
			return nil, malformed("RSAES-OAEP MGF1 parameters: %v", err)
		}
		h, ok := hashForOID(mgfHash.Algorithm)
		if !ok {
			return nil, fmt.Errorf("%w: RSAES-OAEP with MGF1 hash %v", ErrUnsupportedKeyEncryption, mgfHash.Algorithm)
		}
		opts.MGFHash = h
	}
	if len(p.PSource.Algorithm) > 0 {
		if !p.PSource.Algorithm.Equal(oidPSpecified()) {
			return nil, fmt.Errorf("%w: RSAES-OAEP with label source %v", ErrUnsupportedKeyEncryption, p.PSource.Algorithm)
		}
		if err := unmarshalExact(p.PSource.Parameters.FullBytes, &opts.Label); err != nil {
			return nil, malformed("RSAES-OAEP label: %v", err)
		}
	}
	return opts, nil
}

// decryptContent decrypts ciphertext, a positive multiple of the block size,
// in CBC mode and removes the PKCS #7 padding.
func decryptContent(alg Algorithm, key, iv, ciphertext []byte) ([]byte, error) {
	block, err := newBlock(alg, key)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrDecrypt, err)
	}
	plaintext := make([]byte, len(ciphertext))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(plaintext, ciphertext)
	n, ok := paddingLen(plaintext, block.BlockSize())
	if !ok {
		return nil, fmt.Errorf("%w: bad padding", ErrDecrypt)
	}
	return plaintext[:len(plaintext)-n], nil
}

// paddingLen checks the PKCS #7 padding at the end of b, whose length is a
// positive multiple of blockSize, and returns its length. The check takes
// the same time for every padding value.
func paddingLen(b []byte, blockSize int) (int, bool) {
	last := b[len(b)-blockSize:]
	n := int(last[blockSize-1])
	good := subtle.ConstantTimeLessOrEq(1, n) & subtle.ConstantTimeLessOrEq(n, blockSize)
	for i := 1; i <= blockSize; i++ {
		inPadding := subtle.ConstantTimeLessOrEq(i, n)
		matches := subtle.ConstantTimeByteEq(last[blockSize-i], byte(n))
		good &= (1 ^ inPadding) | matches
	}
	return n, good == 1
}
