package cms

import (
	"encoding/asn1"
	"errors"
	"fmt"
)

// maxBERDepth bounds the nesting of constructed elements accepted by
// normalizeBER. EnvelopedData needs about ten levels.
const maxBERDepth = 32

// ASN.1 universal tag numbers used here.
const (
	tagEOC         = 0
	tagOctetString = 4
)

// berNode is one decoded BER element. For a constructed element, content is
// the DER encoding of its children.
type berNode struct {
	class       int
	constructed bool
	tag         int
	content     []byte
}

// normalizeBER converts a single BER-encoded element into DER as far as
// encoding/asn1 needs it: indefinite lengths become definite, lengths and tags
// are minimally encoded, and constructed OCTET STRINGs are joined into
// primitive ones. Other constructed forms of primitive types are left alone
// (encoding/asn1 then rejects them), and SET OF ordering is not changed.
// Trailing data after the element is an error.
//
// The recursion depth is limited to maxBERDepth, and the output is at most a
// few bytes per element larger than the input.
func normalizeBER(in []byte) ([]byte, error) {
	n, rest, err := parseBER(in, 0)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%d bytes of trailing data", len(rest))
	}
	return appendDER(nil, n), nil
}

// parseBER decodes the BER element at the start of in, at nesting depth
// depth, and returns it and the bytes following it.
func parseBER(in []byte, depth int) (berNode, []byte, error) {
	var n berNode
	if depth > maxBERDepth {
		return n, nil, errors.New("BER nesting too deep")
	}
	if len(in) < 2 {
		return n, nil, errors.New("truncated BER element header")
	}

	// Identifier octets (X.690 section 8.1.2).
	b := in[0]
	n.class = int(b >> 6)
	n.constructed = b&0x20 != 0
	n.tag = int(b & 0x1f)
	pos := 1
	if n.tag == 0x1f {
		n.tag = 0
		for i := 0; ; i++ {
			if pos >= len(in) {
				return n, nil, errors.New("truncated BER tag")
			}
			b = in[pos]
			pos++
			if i == 0 && b == 0x80 {
				return n, nil, errors.New("non-minimal BER tag")
			}
			if n.tag >= 1<<23 {
				return n, nil, errors.New("BER tag number too large")
			}
			n.tag = n.tag<<7 | int(b&0x7f)
			if b&0x80 == 0 {
				break
			}
		}
		if n.tag < 0x1f {
			return n, nil, errors.New("non-minimal BER tag")
		}
	}
	if n.class == asn1.ClassUniversal && n.tag == tagEOC {
		return n, nil, errors.New("unexpected end-of-contents")
	}

	// Length octets (X.690 section 8.1.3).
	if pos >= len(in) {
		return n, nil, errors.New("truncated BER length")
	}
	b = in[pos]
	pos++
	body := in[pos:]
	switch {
	case b == 0x80:
		if !n.constructed {
			return n, nil, errors.New("indefinite length on primitive BER element")
		}
		return parseIndefinite(n, body, depth)
	case b == 0xff:
		return n, nil, errors.New("reserved BER length octet")
	case b&0x80 != 0:
		count := int(b & 0x7f)
		if count > len(body) {
			return n, nil, errors.New("truncated BER length")
		}
		length := 0
		for _, lb := range body[:count] {
			length = length<<8 | int(lb)
			if length > len(in) {
				return n, nil, errors.New("BER length exceeds input")
			}
		}
		body = body[count:]
		if length > len(body) {
			return n, nil, errors.New("BER length exceeds input")
		}
		return parseDefinite(n, body[:length], body[length:], depth)
	default:
		length := int(b)
		if length > len(body) {
			return n, nil, errors.New("BER length exceeds input")
		}
		return parseDefinite(n, body[:length], body[length:], depth)
	}
}

// parseDefinite completes n from its definite-length content.
func parseDefinite(n berNode, content, rest []byte, depth int) (berNode, []byte, error) {
	if !n.constructed {
		n.content = content
		return n, rest, nil
	}
	n.content = []byte{}
	for len(content) > 0 {
		child, more, err := parseBER(content, depth+1)
		if err != nil {
			return n, nil, err
		}
		if err := n.add(child); err != nil {
			return n, nil, err
		}
		content = more
	}
	return n.finish(), rest, nil
}

// parseIndefinite completes n from body, which holds its indefinite-length
// content, the end-of-contents octets and whatever follows.
func parseIndefinite(n berNode, body []byte, depth int) (berNode, []byte, error) {
	n.content = []byte{}
	for {
		if len(body) >= 2 && body[0] == 0 && body[1] == 0 {
			return n.finish(), body[2:], nil
		}
		if len(body) == 0 {
			return n, nil, errors.New("missing BER end-of-contents")
		}
		child, more, err := parseBER(body, depth+1)
		if err != nil {
			return n, nil, err
		}
		if err := n.add(child); err != nil {
			return n, nil, err
		}
		body = more
	}
}

// isOctetString reports whether n is a universal OCTET STRING, primitive or
// constructed.
func (n *berNode) isOctetString() bool {
	return n.class == asn1.ClassUniversal && n.tag == tagOctetString
}

// add appends child to the content of the constructed element n. The
// segments of a constructed OCTET STRING must be OCTET STRINGs; they have
// already been made primitive, and their contents are concatenated.
func (n *berNode) add(child berNode) error {
	if !n.isOctetString() {
		n.content = appendDER(n.content, child)
		return nil
	}
	if !child.isOctetString() || child.constructed {
		return errors.New("constructed OCTET STRING has a segment that is not an OCTET STRING")
	}
	n.content = append(n.content, child.content...)
	return nil
}

// finish ends a constructed element; a constructed OCTET STRING becomes
// primitive.
func (n berNode) finish() berNode {
	if n.isOctetString() {
		n.constructed = false
	}
	return n
}

// appendDER appends the DER encoding of n to out.
func appendDER(out []byte, n berNode) []byte {
	b := byte(n.class) << 6
	if n.constructed {
		b |= 0x20
	}
	if n.tag < 0x1f {
		out = append(out, b|byte(n.tag))
	} else {
		out = append(out, b|0x1f)
		var tmp [5]byte
		i := len(tmp)
		for t := n.tag; ; t >>= 7 {
			i--
			tmp[i] = byte(t & 0x7f)
			if i != len(tmp)-1 {
				tmp[i] |= 0x80
			}
			if t < 0x80 {
				break
			}
		}
		out = append(out, tmp[i:]...)
	}
	out = appendLength(out, len(n.content))
	return append(out, n.content...)
}

// appendLength appends a DER length.
func appendLength(out []byte, length int) []byte {
	if length < 0x80 {
		return append(out, byte(length))
	}
	var tmp [8]byte
	i := len(tmp)
	for l := length; l > 0; l >>= 8 {
		i--
		tmp[i] = byte(l)
	}
	out = append(out, 0x80|byte(len(tmp)-i))
	return append(out, tmp[i:]...)
}

// derChildren splits the content of a constructed DER element into its
// elements.
func derChildren(content []byte) ([]asn1.RawValue, error) {
	var out []asn1.RawValue
	for len(content) > 0 {
		var v asn1.RawValue
		rest, err := asn1.Unmarshal(content, &v)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		content = rest
	}
	return out, nil
}

// is reports whether v has the given class and tag, and is constructed or
// not as given.
func is(v asn1.RawValue, class, tag int, compound bool) bool {
	return v.Class == class && v.Tag == tag && v.IsCompound == compound
}

// unmarshalExact parses the DER element b into val and rejects trailing data.
func unmarshalExact(b []byte, val any) error {
	rest, err := asn1.Unmarshal(b, val)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return errors.New("trailing data after ASN.1 element")
	}
	return nil
}
