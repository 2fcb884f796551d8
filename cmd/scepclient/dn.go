package main

import (
	"crypto/x509"
	"strings"

	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki"
)

// ParseDN parses p10.subject (see pki.ParseDN) into a DER Name.
func ParseDN(s string) ([]byte, error) {
	der, err := pki.ParseDN(s)
	if err != nil {
		return nil, problemf("%s", model.ErrorMessage(err))
	}
	return der, nil
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
	ku, err = pki.ParseKeyUsages(names)
	if err != nil {
		return 0, false, problemf("p10.keyusage: %s", model.ErrorMessage(err))
	}
	return ku, critical, nil
}
