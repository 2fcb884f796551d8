package pki

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"

	"github.com/smallstep/pkcs7"
)

// RSASSA-PSS OIDs (RFC 4055, RFC 4056).
var (
	oidRSASSAPSS = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidMGF1      = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 8}
)

// The SignedData structure as far as a PSS signature check needs it
// (RFC 5652, section 5); pkcs7 cannot check RSASSA-PSS, which strongSwan
// writes with --rsa-padding pss.
type pssContentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"explicit,tag:0"`
}

type pssSignedData struct {
	Version          int
	DigestAlgorithms asn1.RawValue
	ContentInfo      asn1.RawValue
	Certificates     asn1.RawValue   `asn1:"optional,tag:0"`
	CRLs             asn1.RawValue   `asn1:"optional,tag:1"`
	SignerInfos      []pssSignerInfo `asn1:"set"`
}

type pssSignerInfo struct {
	Version            int
	SID                asn1.RawValue
	DigestAlgorithm    pkix.AlgorithmIdentifier
	SignedAttrs        asn1.RawValue `asn1:"optional,tag:0"`
	SignatureAlgorithm pkix.AlgorithmIdentifier
	Signature          []byte
	UnsignedAttrs      asn1.RawValue `asn1:"optional,tag:1"`
}

type pssParams struct {
	Hash         pkix.AlgorithmIdentifier `asn1:"optional,explicit,tag:0"`
	MGF          pkix.AlgorithmIdentifier `asn1:"optional,explicit,tag:1"`
	SaltLength   int                      `asn1:"optional,explicit,tag:2,default:20"`
	TrailerField int                      `asn1:"optional,explicit,tag:3,default:1"`
}

type pssAttribute struct {
	Type   asn1.ObjectIdentifier
	Values asn1.RawValue `asn1:"set"`
}

// isPSS reports whether p7's one signer signed with RSASSA-PSS.
func isPSS(p7 *pkcs7.PKCS7) bool {
	return len(p7.Signers) == 1 && p7.Signers[0].DigestEncryptionAlgorithm.Algorithm.Equal(oidRSASSAPSS)
}

// verifyPSS checks the RSASSA-PSS signature of the one SignerInfo of the
// DER SignedData der, whose content p7 parsed, with the key of signer: the
// messageDigest attribute must be the digest of the content, and the
// signature must be over the DER of the signed attributes.
func verifyPSS(der []byte, p7 *pkcs7.PKCS7, signer *x509.Certificate) error {
	pub, ok := signer.PublicKey.(*rsa.PublicKey)
	if !ok {
		return errors.New("an RSASSA-PSS signature needs an RSA signer")
	}
	var ci pssContentInfo
	if rest, err := asn1.Unmarshal(der, &ci); err != nil || len(rest) > 0 {
		return errors.New("an RSASSA-PSS signed message must be DER")
	}
	var sd pssSignedData
	if _, err := asn1.Unmarshal(ci.Content.Bytes, &sd); err != nil || len(sd.SignerInfos) != 1 {
		return errors.New("an RSASSA-PSS signed message must be DER with one signer")
	}
	si := sd.SignerInfos[0]
	if len(si.SignedAttrs.FullBytes) == 0 {
		return errors.New("the message has no signed attributes")
	}
	contentHash, err := hashForOID(si.DigestAlgorithm.Algorithm)
	if err != nil {
		return err
	}
	var params pssParams
	if _, err := asn1.Unmarshal(si.SignatureAlgorithm.Parameters.FullBytes, &params); err != nil {
		return errors.New("the RSASSA-PSS parameters cannot be read")
	}
	sigHash := crypto.SHA1 // the RFC 4055 default
	if len(params.Hash.Algorithm) > 0 {
		if sigHash, err = hashForOID(params.Hash.Algorithm); err != nil {
			return err
		}
	}
	mgfHash := crypto.SHA1
	if len(params.MGF.Algorithm) > 0 {
		var mgfParam pkix.AlgorithmIdentifier
		if !params.MGF.Algorithm.Equal(oidMGF1) {
			return fmt.Errorf("the RSASSA-PSS mask generation function %s is not supported", params.MGF.Algorithm)
		}
		if _, err := asn1.Unmarshal(params.MGF.Parameters.FullBytes, &mgfParam); err != nil {
			return errors.New("the RSASSA-PSS MGF1 hash cannot be read")
		}
		if mgfHash, err = hashForOID(mgfParam.Algorithm); err != nil {
			return err
		}
	}
	if mgfHash != sigHash || params.TrailerField != 1 || params.SaltLength < 0 {
		return errors.New("the RSASSA-PSS parameters are not supported")
	}

	// The signature covers the attributes as a SET OF, not as [0].
	signed := append([]byte{0x31}, si.SignedAttrs.FullBytes[1:]...)
	var attrs []pssAttribute
	if rest, err := asn1.UnmarshalWithParams(signed, &attrs, "set"); err != nil || len(rest) > 0 {
		return errors.New("the signed attributes cannot be read")
	}
	var digest []byte
	for _, a := range attrs {
		if a.Type.Equal(pkcs7.OIDAttributeMessageDigest) {
			if _, err := asn1.Unmarshal(a.Values.Bytes, &digest); err != nil {
				return errors.New("the messageDigest attribute cannot be read")
			}
		}
	}
	h := contentHash.New()
	h.Write(p7.Content)
	if !bytes.Equal(digest, h.Sum(nil)) {
		return errors.New("the messageDigest attribute is not the digest of the content")
	}
	h = sigHash.New()
	h.Write(signed)
	return rsa.VerifyPSS(pub, sigHash, h.Sum(nil), si.Signature, &rsa.PSSOptions{SaltLength: params.SaltLength, Hash: sigHash})
}

// hashForOID is the hash a digest algorithm OID names.
func hashForOID(oid asn1.ObjectIdentifier) (crypto.Hash, error) {
	switch {
	case oid.Equal(pkcs7.OIDDigestAlgorithmSHA1):
		return crypto.SHA1, nil
	case oid.Equal(pkcs7.OIDDigestAlgorithmSHA256):
		return crypto.SHA256, nil
	case oid.Equal(pkcs7.OIDDigestAlgorithmSHA384):
		return crypto.SHA384, nil
	case oid.Equal(pkcs7.OIDDigestAlgorithmSHA512):
		return crypto.SHA512, nil
	}
	return 0, fmt.Errorf("the digest algorithm %s is not supported", oid)
}
