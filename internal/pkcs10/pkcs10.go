// Package pkcs10 edits PKCS#10 certification requests as stored: it takes
// out the challengePassword attribute, which is a secret, and keeps every
// other byte of the request. It is shared by the layers that store requests
// and needs only the standard library.
package pkcs10

import (
	"bytes"
	"encoding/asn1"
	"errors"
)

// OIDChallengePassword is the PKCS#9 challengePassword attribute
// (RFC 2985, section 5.4.1), where SCEP clients put their one-time
// password.
var OIDChallengePassword = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 7}

// WithoutChallengePassword returns the DER request der without its
// challengePassword attributes, and whether there were any (when there were
// none, der itself is returned). The CertificationRequestInfo is re-encoded
// without them while the signature is kept as it was, so the result no
// longer verifies: check a request's signature before storing it this way,
// never after. A request that is not DER PKCS#10 is an error.
func WithoutChallengePassword(der []byte) ([]byte, bool, error) {
	var outer asn1.RawValue
	if rest, err := asn1.Unmarshal(der, &outer); err != nil || len(rest) > 0 || !isSequence(outer) {
		return nil, false, errors.New("pkcs10: not a DER certification request")
	}
	// CertificationRequest ::= SEQUENCE { info, signatureAlgorithm, signature }
	parts, err := elements(outer.Bytes)
	if err != nil || len(parts) != 3 || !isSequence(parts[0]) {
		return nil, false, errors.New("pkcs10: not a DER certification request")
	}
	// CertificationRequestInfo ::= SEQUENCE { version, subject,
	//     subjectPKInfo, attributes [0] IMPLICIT SET OF Attribute }
	info, err := elements(parts[0].Bytes)
	switch {
	case err == nil && len(info) == 3:
		return der, false, nil // no attributes at all
	case err != nil || len(info) != 4:
		return nil, false, errors.New("pkcs10: the request's info is not version, subject, key and attributes")
	}
	attrs := info[3]
	if attrs.Class != asn1.ClassContextSpecific || attrs.Tag != 0 || !attrs.IsCompound {
		return nil, false, errors.New("pkcs10: the request has no attributes field")
	}
	list, err := elements(attrs.Bytes)
	if err != nil {
		return nil, false, errors.New("pkcs10: the request's attributes are not DER")
	}
	var kept bytes.Buffer
	removed := false
	for _, a := range list {
		if isChallengePassword(a) {
			removed = true
			continue
		}
		kept.Write(a.FullBytes)
	}
	if !removed {
		return der, false, nil
	}
	var body bytes.Buffer
	for _, v := range info[:3] {
		body.Write(v.FullBytes)
	}
	newAttrs, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: kept.Bytes()})
	if err != nil {
		return nil, false, err
	}
	body.Write(newAttrs)
	newInfo, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: body.Bytes()})
	if err != nil {
		return nil, false, err
	}
	out := append(newInfo, parts[1].FullBytes...)
	out = append(out, parts[2].FullBytes...)
	b, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: out})
	if err != nil {
		return nil, false, err
	}
	return b, true, nil
}

// isChallengePassword reports whether attribute a (SEQUENCE { type, values })
// is a challengePassword. An attribute that cannot be read is kept.
func isChallengePassword(a asn1.RawValue) bool {
	if !isSequence(a) {
		return false
	}
	var oid asn1.ObjectIdentifier
	if _, err := asn1.Unmarshal(a.Bytes, &oid); err != nil {
		return false
	}
	return oid.Equal(OIDChallengePassword)
}

func isSequence(v asn1.RawValue) bool {
	return v.Class == asn1.ClassUniversal && v.Tag == asn1.TagSequence && v.IsCompound
}

// elements splits the contents of a constructed value into its elements.
func elements(b []byte) ([]asn1.RawValue, error) {
	var out []asn1.RawValue
	for len(b) > 0 {
		var v asn1.RawValue
		rest, err := asn1.Unmarshal(b, &v)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		b = rest
	}
	return out, nil
}
