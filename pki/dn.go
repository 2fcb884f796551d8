package pki

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"strings"

	"github.com/scepgate/scepgate/model"
)

// dnAttributes are the attribute types a written DN may name.
var dnAttributes = map[string]asn1.ObjectIdentifier{
	"cn":               {2, 5, 4, 3},
	"serialnumber":     {2, 5, 4, 5},
	"c":                {2, 5, 4, 6},
	"l":                {2, 5, 4, 7},
	"st":               {2, 5, 4, 8},
	"s":                {2, 5, 4, 8},
	"street":           {2, 5, 4, 9},
	"o":                {2, 5, 4, 10},
	"ou":               {2, 5, 4, 11},
	"e":                {1, 2, 840, 113549, 1, 9, 1},
	"emailaddress":     {1, 2, 840, 113549, 1, 9, 1},
	"unstructuredname": {1, 2, 840, 113549, 1, 9, 2},
	"dc":               {0, 9, 2342, 19200300, 100, 1, 25},
	"uid":              {0, 9, 2342, 19200300, 100, 1, 1},
}

// ia5Attributes are encoded as IA5String, as PKCS #9 asks.
var ia5Attributes = map[string]bool{"e": true, "emailaddress": true, "unstructuredname": true, "dc": true}

// ParseDN parses a distinguished name written as the reference writes its
// subjects (p10.subject, subject templates): comma separated attr=value
// pairs, most specific first ("cn=device SEG,o=Company"), attribute names
// in any case, "\," for a literal comma. It returns the DER Name, most
// general first as RFC 4514 prescribes. Errors are EINVALID and say what
// to write instead.
func ParseDN(s string) ([]byte, error) {
	parts, err := splitDN(s)
	if err != nil {
		return nil, err
	}
	var seq pkix.RDNSequence
	for i := len(parts) - 1; i >= 0; i-- {
		key, value, ok := strings.Cut(parts[i], "=")
		key = strings.ToLower(strings.TrimSpace(key))
		value = strings.TrimSpace(value)
		if !ok || key == "" {
			return nil, model.Errorf(model.EINVALID, "The subject %q has %q, which is not attr=value. Write it as cn=name,o=Company.", s, parts[i])
		}
		oid, known := dnAttributes[key]
		if !known {
			return nil, model.Errorf(model.EINVALID, "The subject %q names the attribute %q, which is unknown. Use cn, o, ou, c, l, st, e, serialnumber or unstructuredname.", s, key)
		}
		if value == "" {
			return nil, model.Errorf(model.EINVALID, "The subject %q has an empty %s. Give it a value or leave it out.", s, key)
		}
		if key == "c" && len(value) != 2 {
			return nil, model.Errorf(model.EINVALID, "The country c=%s in the subject must be a two-letter code such as SE.", value)
		}
		var v any = value
		if ia5Attributes[key] && isASCII(value) {
			v = asn1.RawValue{Tag: asn1.TagIA5String, Bytes: []byte(value)}
		}
		seq = append(seq, []pkix.AttributeTypeAndValue{{Type: oid, Value: v}})
	}
	if len(seq) == 0 {
		return nil, model.Errorf(model.EINVALID, "The subject is empty. Write it as cn=name,o=Company.")
	}
	return asn1.Marshal(seq)
}

// EscapeDNValue escapes a value for ParseDN: backslashes and commas.
func EscapeDNValue(v string) string {
	return strings.NewReplacer(`\`, `\\`, `,`, `\,`).Replace(v)
}

// splitDN splits at unescaped commas and removes the escapes.
func splitDN(s string) ([]string, error) {
	var parts []string
	var cur strings.Builder
	escaped := false
	for _, r := range s {
		switch {
		case escaped:
			cur.WriteRune(r)
			escaped = false
		case r == '\\':
			escaped = true
		case r == ',':
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteRune(r)
		}
	}
	if escaped {
		return nil, model.Errorf(model.EINVALID, "The subject %q ends with a lone backslash. Remove it or escape a character with it.", s)
	}
	if strings.TrimSpace(cur.String()) != "" || len(parts) > 0 {
		parts = append(parts, cur.String())
	}
	return parts, nil
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

var oidKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 15}

// KeyUsageExtension returns the keyUsage extension (RFC 5280, section
// 4.2.1.3) for ku, as a CSR asks for it.
func KeyUsageExtension(ku x509.KeyUsage, critical bool) (pkix.Extension, error) {
	var b [2]byte
	for i := range 9 {
		if ku&(1<<i) != 0 {
			b[i/8] |= 0x80 >> (i % 8)
		}
	}
	bits := asn1.BitString{Bytes: b[:], BitLength: 16}
	// Trim trailing zero bits, as DER requires for named bit lists.
	for bits.BitLength > 0 && bits.At(bits.BitLength-1) == 0 {
		bits.BitLength--
	}
	bits.Bytes = bits.Bytes[:(bits.BitLength+7)/8]
	der, err := asn1.Marshal(bits)
	if err != nil {
		return pkix.Extension{}, err
	}
	return pkix.Extension{Id: oidKeyUsage, Critical: critical, Value: der}, nil
}
