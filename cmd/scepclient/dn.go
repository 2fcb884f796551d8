package main

import (
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"strings"
)

// Attribute type OIDs that p10.subject may name.
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

// ParseDN parses a distinguished name written as in the reference's
// p10.subject: comma separated attr=value pairs, most specific first
// ("cn=device SEG,o=Company"), attribute names in any case, "\," for a
// literal comma. It returns the DER Name, encoded most general first as
// RFC 4514 prescribes.
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
			return nil, problemf("The subject %q has %q, which is not attr=value. Write it as cn=name,o=Company.", s, parts[i])
		}
		oid, known := dnAttributes[key]
		if !known {
			return nil, problemf("The subject %q names the attribute %q, which is unknown. Use cn, o, ou, c, l, st, e, serialnumber or unstructuredname.", s, key)
		}
		if value == "" {
			return nil, problemf("The subject %q has an empty %s. Give it a value or leave it out.", s, key)
		}
		var v any = value
		if key == "c" && len(value) != 2 {
			return nil, problemf("The country c=%s in the subject must be a two-letter code such as SE.", value)
		}
		if ia5Attributes[key] && isASCII(value) {
			v = asn1.RawValue{Tag: asn1.TagIA5String, Bytes: []byte(value)}
		}
		seq = append(seq, []pkix.AttributeTypeAndValue{{Type: oid, Value: v}})
	}
	if len(seq) == 0 {
		return nil, problemf("The subject is empty. Set p10.subject, such as cn={0},o=Company.")
	}
	return asn1.Marshal(seq)
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
		return nil, problemf("The subject %q ends with a lone backslash. Remove it or escape a character with it.", s)
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

// keyUsageBits maps the names p10.keyusage accepts to x509 key usages.
var keyUsageBits = map[string]x509.KeyUsage{
	"digitalsignature":  x509.KeyUsageDigitalSignature,
	"nonrepudiation":    x509.KeyUsageContentCommitment,
	"contentcommitment": x509.KeyUsageContentCommitment,
	"keyencipherment":   x509.KeyUsageKeyEncipherment,
	"dataencipherment":  x509.KeyUsageDataEncipherment,
	"keyagreement":      x509.KeyUsageKeyAgreement,
	"keycertsign":       x509.KeyUsageCertSign,
	"crlsign":           x509.KeyUsageCRLSign,
	"encipheronly":      x509.KeyUsageEncipherOnly,
	"decipheronly":      x509.KeyUsageDecipherOnly,
}

// parseKeyUsage reads p10.keyusage: "digitalSignature, keyEncipherment;
// critical". An empty string yields no usages.
func parseKeyUsage(s string) (ku x509.KeyUsage, critical bool, err error) {
	names, flags, _ := strings.Cut(s, ";")
	for f := range strings.SplitSeq(flags, ",") {
		switch strings.ToLower(strings.TrimSpace(f)) {
		case "":
		case "critical":
			critical = true
		case "noncritical", "non-critical":
			critical = false
		default:
			return 0, false, problemf("p10.keyusage has the flag %q; the only flag is \"critical\", as in \"digitalSignature, keyEncipherment; critical\".", strings.TrimSpace(f))
		}
	}
	for n := range strings.SplitSeq(names, ",") {
		n = strings.ToLower(strings.TrimSpace(n))
		if n == "" {
			continue
		}
		bit, ok := keyUsageBits[n]
		if !ok {
			return 0, false, problemf("p10.keyusage names %q, which is not a key usage. Use digitalSignature, nonRepudiation, keyEncipherment, dataEncipherment or keyAgreement.", n)
		}
		ku |= bit
	}
	return ku, critical, nil
}

// keyUsageExtension returns the keyUsage extension (RFC 5280 section
// 4.2.1.3) for ku.
func keyUsageExtension(ku x509.KeyUsage, critical bool) (pkix.Extension, error) {
	var b [2]byte
	for i := range 9 {
		if ku&(1<<i) != 0 {
			b[i/8] |= 0x80 >> (i % 8)
		}
	}
	n := 1
	if b[1] != 0 {
		n = 2
	}
	bits := asn1.BitString{Bytes: b[:n], BitLength: n * 8}
	// Trim trailing zero bits, as DER requires for named bit lists.
	for bits.BitLength > 0 && bits.At(bits.BitLength-1) == 0 {
		bits.BitLength--
	}
	bits.Bytes = bits.Bytes[:(bits.BitLength+7)/8]
	der, err := asn1.Marshal(bits)
	if err != nil {
		return pkix.Extension{}, err
	}
	return pkix.Extension{Id: asn1.ObjectIdentifier{2, 5, 29, 15}, Critical: critical, Value: der}, nil
}
