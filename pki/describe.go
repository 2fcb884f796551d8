package pki

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"sort"
	"strconv"
	"strings"
)

// ExtKeyUsageString names the extended key usages of c, comma separated,
// with the names the procedures use; unknown ones by their OID.
func ExtKeyUsageString(c *x509.Certificate) string {
	var names []string
	for _, eku := range c.ExtKeyUsage {
		name := ""
		for n, v := range extKeyUsageNames {
			if v == eku {
				name = n
			}
		}
		if name == "" {
			name = "extKeyUsage(" + strconv.Itoa(int(eku)) + ")"
		}
		names = append(names, name)
	}
	sort.Strings(names)
	for _, oid := range c.UnknownExtKeyUsage {
		names = append(names, oid.String())
	}
	return strings.Join(names, ", ")
}

// KeyDescription says what kind of public key c holds and its size, such
// as "RSA 2048 bits" or "ECDSA P-256".
func KeyDescription(c *x509.Certificate) string {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		return "RSA " + strconv.Itoa(k.N.BitLen()) + " bits"
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return c.PublicKeyAlgorithm.String()
}

// SHA1Fingerprint returns the colon-separated upper-case SHA-1 of c, as
// Windows and older tools show it.
func SHA1Fingerprint(c *x509.Certificate) string {
	sum := sha1.Sum(c.Raw)
	return colonHex(sum[:])
}
