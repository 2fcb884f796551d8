package main

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"strings"
	"testing"

	"github.com/scepgate/scepgate/pki"
	"github.com/scepgate/scepgate/pki/cms"
)

func TestParseConfigReference(t *testing.T) {
	var warn bytes.Buffer
	c, err := LoadConfig("testdata/reference.conf", &warn)
	if err != nil {
		t.Fatalf("LoadConfig: %v", err)
	}
	if warn.Len() != 0 {
		t.Errorf("warnings: got %q, want none", warn.String())
	}
	checks := []struct{ name, got, want string }{
		{"caCertUrl", c.CACertURL, "http://localhost:8080/pgwy/scep?operation=GetCaCert&message=none"},
		{"certRequestUrl", c.CertRequestURL, "http://localhost:8080/pgwy/ndesrequest?operation=PKIOperation&message="},
		{"ndesChallengeUrl", c.NDESChallengeURL, "http://localhost:8080/pgwy/scep/ndeschallenge/"},
		{"raCert", c.RACert, "temp/protocol-gateway-ra.cer"},
		{"workdir", c.Workdir, "temp"},
		{"p12.alias", c.P12Alias, "scep client key"},
		{"p12.certFile", c.P12CertFile, "temp/scep.cer"},
		{"p12.keyToken.keyFile", c.P12File, "temp/scep.p12"},
		{"p12.keyToken.password", c.P12Password, "abcd1234"},
		{"p10.subject", c.Subject, "cn={0} SEG,o=Company"},
		{"p10.dns", c.DNS, "{0}"},
		{"p10.password", c.Password, "abcd1234"},
		{"p10.keyusage", c.KeyUsage, "digitalSignature, keyEncipherment; critical"},
		{"ndesAdminUsername", c.NDESUser, "ndesadmin"},
		{"ndesAdminPassword", c.NDESPassword, "ndespassword"},
		{"proxyCert.keyToken.keyFile", c.ProxyFile, "temp/proxy.p12"},
		{"proxyCert.keyToken.password", c.ProxyPassword, "abcd1234"},
	}
	for _, ch := range checks {
		if ch.got != ch.want {
			t.Errorf("%s: got %q, want %q", ch.name, ch.got, ch.want)
		}
	}
	if c.KeyLength != 2048 {
		t.Errorf("p12.keyLength: got %d, want 2048", c.KeyLength)
	}
	if c.Cipher.Cipher != cms.RC2CBC {
		t.Errorf("scep.cipherAlg: got %v, want RC2-CBC", c.Cipher.Cipher)
	}
	if c.UseProxyCert {
		t.Errorf("useProxyCert: got true, want false")
	}
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr string
		check   func(t *testing.T, c *Config, warn string)
	}{
		{name: "ok/comments-and-case", in: "# hash comment\n; semicolon\n\nCACERTURL = http://x/ \nscep.cipherAlg=des3\nuseProxyCert = TRUE\n",
			check: func(t *testing.T, c *Config, warn string) {
				if c.CACertURL != "http://x/" || c.Cipher.Cipher != cms.DES3CBC || !c.UseProxyCert {
					t.Errorf("got %q %v %v, want http://x/ DES-EDE3-CBC true", c.CACertURL, c.Cipher.Cipher, c.UseProxyCert)
				}
			}},
		{name: "ok/defaults", in: "",
			check: func(t *testing.T, c *Config, warn string) {
				if c.P12File != "temp/scep.p12" || c.KeyLength != 2048 || c.Cipher.Cipher != cms.AES256CBC {
					t.Errorf("got %q %d %v, want temp/scep.p12 2048 AES-256-CBC", c.P12File, c.KeyLength, c.Cipher.Cipher)
				}
			}},
		{name: "ok/unknown-key-warns", in: "foo.bar = 1\n",
			check: func(t *testing.T, c *Config, warn string) {
				if !strings.Contains(warn, `"foo.bar" is not known`) {
					t.Errorf("warning: got %q, want it to name foo.bar", warn)
				}
			}},
		{name: "ok/des-and-aes", in: "scep.cipherAlg = des\n",
			check: func(t *testing.T, c *Config, warn string) {
				if c.Cipher.Cipher != cms.DESCBC {
					t.Errorf("cipher: got %v, want DES-CBC", c.Cipher.Cipher)
				}
			}},
		{name: "fail/cipher", in: "scep.cipherAlg = blowfish\n", wantErr: "use aes, des3, des or rc2"},
		{name: "fail/key-length", in: "p12.keyLength = big\n", wantErr: "p12.keyLength"},
		{name: "ok/bom-bang-comment-continuation", in: "\ufeff! bang comment\n  ; indented\np10.dns = a.example, \\\n    b.example\n",
			check: func(t *testing.T, c *Config, warn string) {
				if c.DNS != "a.example, b.example" || warn != "" {
					t.Errorf("p10.dns: got %q (warnings %q), want %q and none", c.DNS, warn, "a.example, b.example")
				}
			}},
		{name: "ok/subject-keeps-equals-and-spaces", in: "p10.subject = cn={0} SEG,o=Company   \n",
			check: func(t *testing.T, c *Config, warn string) {
				if c.Subject != "cn={0} SEG,o=Company" {
					t.Errorf("p10.subject: got %q, want %q", c.Subject, "cn={0} SEG,o=Company")
				}
			}},
		{name: "ok/colon-and-empty-value", in: "caCertUrl: http://x/?a=b\np10.password =\n",
			check: func(t *testing.T, c *Config, warn string) {
				if c.CACertURL != "http://x/?a=b" || c.Password != "" {
					t.Errorf("got %q %q, want http://x/?a=b and an empty password", c.CACertURL, c.Password)
				}
			}},
		{name: "ok/dn-escape-doubled", in: "p10.subject = cn=Doe\\\\, John,o=Company\n",
			check: func(t *testing.T, c *Config, warn string) {
				// A backslash starts an escape in a properties file: a DN's
				// "\," is written "\\,".
				if c.Subject != `cn=Doe\, John,o=Company` {
					t.Errorf("p10.subject: got %q, want %q", c.Subject, `cn=Doe\, John,o=Company`)
				}
			}},
		{name: "ok/space-separates-key", in: "just words\n",
			check: func(t *testing.T, c *Config, warn string) {
				// As in Java properties: the key "just" with the value "words".
				if !strings.Contains(warn, `line 1: the key "just" is not known`) {
					t.Errorf("warning: got %q, want it to name the key just on line 1", warn)
				}
			}},
		{name: "fail/no-value", in: "caCertUrl = http://x/\njustaword\n", wantErr: "test.conf line 2 is not \"key = value\": \"justaword\""},
		{name: "fail/escape", in: "\np10.dns = \\u12\n", wantErr: "line 2: the escape"},
		{name: "fail/line-of-bad-value", in: "; comment\np12.keyLength = big\n", wantErr: "test.conf line 2: p12.keyLength"},
		{name: "fail/key-usage", in: "p10.keyusage = flying\n", wantErr: "not a key usage"},
		{name: "fail/proxy-bool", in: "useProxyCert = maybe\n", wantErr: "true or false"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var warn bytes.Buffer
			c, err := ParseConfig(strings.NewReader(tt.in), "test.conf", &warn)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error: got %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("error: got %v, want none", err)
			}
			tt.check(t, c, warn.String())
		})
	}
}

func TestParseDN(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    string // the end of the RDNSequence's String
		wantRDN int    // the number of RDNs
		ia5     string // a value that must be encoded as IA5String
		wantErr string
	}{
		{name: "ok/reference", in: "cn=dev1 SEG,o=Company", want: "CN=dev1 SEG,O=Company", wantRDN: 2},
		{name: "ok/case-insensitive", in: "CN=a,OU=b,O=c,L=d,ST=e,C=SE", want: "CN=a,OU=b,O=c,L=d,ST=e,C=SE", wantRDN: 6},
		{name: "ok/unstructuredname", in: "unstructuredname=un-dev1 SEG,cn=dev1 SEG,o=Company", want: ",CN=dev1 SEG,O=Company", wantRDN: 3, ia5: "un-dev1 SEG"},
		{name: "ok/email-serial", in: "e=a@example.com,serialnumber=42,cn=x", want: ",SERIALNUMBER=42,CN=x", wantRDN: 3, ia5: "a@example.com"},
		{name: "ok/escaped-comma", in: `cn=Doe\, John,o=Company`, want: `CN=Doe\, John,O=Company`, wantRDN: 2},
		{name: "fail/unknown-attr", in: "xx=1", wantErr: "unknown"},
		{name: "fail/no-equals", in: "cn", wantErr: "not attr=value"},
		{name: "fail/empty", in: "", wantErr: "empty"},
		{name: "fail/country", in: "c=Sweden", wantErr: "two-letter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			der, err := ParseDN(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error: got %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("error: got %v, want none", err)
			}
			var seq pkix.RDNSequence
			if _, err := asn1.Unmarshal(der, &seq); err != nil {
				t.Fatalf("unmarshal: %v", err)
			}
			if got := seq.String(); !strings.HasSuffix(got, tt.want) || len(seq) != tt.wantRDN {
				t.Errorf("got %q (%d RDNs), want %d RDNs ending in %q", got, len(seq), tt.wantRDN, tt.want)
			}
			if tt.ia5 != "" && !bytes.Contains(der, append([]byte{asn1.TagIA5String, byte(len(tt.ia5))}, tt.ia5...)) {
				t.Errorf("DER %x: want %q as IA5String", der, tt.ia5)
			}
		})
	}
}

func TestKeyUsage(t *testing.T) {
	tests := []struct {
		name         string
		in           string
		want         x509.KeyUsage
		wantCritical bool
		wantErr      string
	}{
		{name: "ok/reference", in: "digitalSignature, keyEncipherment; critical", want: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, wantCritical: true},
		{name: "ok/noncritical", in: "keyAgreement", want: x509.KeyUsageKeyAgreement},
		{name: "ok/decipherOnly", in: "keyAgreement,decipherOnly", want: x509.KeyUsageKeyAgreement | x509.KeyUsageDecipherOnly},
		{name: "ok/empty", in: ""},
		{name: "fail/name", in: "signing", wantErr: "not a key usage"},
		{name: "fail/flag", in: "digitalSignature; loud", wantErr: "flag"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ku, crit, err := parseKeyUsage(tt.in)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error: got %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || ku != tt.want || crit != tt.wantCritical {
				t.Fatalf("got %v %v %v, want %v %v nil", ku, crit, err, tt.want, tt.wantCritical)
			}
			if ku == 0 {
				return
			}
			// The extension must read back the same through crypto/x509.
			ext, err := pki.KeyUsageExtension(ku, crit)
			if err != nil {
				t.Fatal(err)
			}
			tmpl := &x509.Certificate{ExtraExtensions: []pkix.Extension{ext}}
			cert := selfSignedWith(t, tmpl)
			if cert.KeyUsage != tt.want {
				t.Errorf("certificate key usage: got %v, want %v", cert.KeyUsage, tt.want)
			}
		})
	}
}
