package main

import (
	"io"
	"os"
	"strings"
	"testing"
)

// FuzzParseConfig feeds arbitrary configuration files to ParseConfig and
// what a parsed one names to the client's own readers of it (the subject
// template and the key usage): errors are fine, panics are not.
//
//	go test -run '^$' -fuzz '^FuzzParseConfig$' -fuzztime 1m ./cmd/scepclient/
func FuzzParseConfig(f *testing.F) {
	ref, err := os.ReadFile("testdata/reference.conf")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(ref))
	f.Add("p10.subject = cn={0} SEG,o=Company\np10.keyusage = digitalSignature; critical\n")
	f.Add("scep.cipherAlg = des3\np12.keyLength = 3072\nuseProxyCert = true\n")
	f.Add("p12.keyLength = 99999999999999999999\n")
	f.Add("lonely\n")
	f.Add("k = \\u12")
	f.Fuzz(func(t *testing.T, in string) {
		c, err := ParseConfig(strings.NewReader(in), "fuzz.conf", io.Discard)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		if c == nil {
			t.Fatal("no configuration and no error")
		}
		_, _ = ParseDN(expand(c.Subject, "device"))
		_, _, _ = parseKeyUsage(c.KeyUsage)
	})
}
