package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/scepgate/scepgate/internal/properties"
	"github.com/scepgate/scepgate/pki/cms"
)

// Config is the reference test tool's configuration file: a Java
// properties file of "key = value" lines, with ";", "#" and "!" starting
// comments.
type Config struct {
	CACertURL        string // caCertUrl: GetCACert URL
	CertRequestURL   string // certRequestUrl: PKIOperation URL
	NDESChallengeURL string // ndesChallengeUrl: NDES challenge page; empty skips getndeschallenge
	RACert           string // raCert: where getcacert saves the RA certificate (DER)
	Workdir          string // workdir: state shared by the steps

	P12Alias    string // p12.alias (accepted; PKCS#12 friendly names are not written)
	P12CertFile string // p12.certFile: the issued certificate as PEM
	KeyLength   int    // p12.keyLength: RSA key size of new keys
	P12File     string // p12.keyToken.keyFile: the issued certificate, key and chain
	P12Password string // p12.keyToken.password

	Cipher cms.Algorithm // scep.cipherAlg: aes, des3, des or rc2

	Subject  string // p10.subject, with {0}
	DNS      string // p10.dns, with {0}; comma separated
	Password string // p10.password: challengePassword when no NDES challenge was fetched
	KeyUsage string // p10.keyusage, such as "digitalSignature, keyEncipherment; critical"

	NDESUser     string // ndesAdminUsername
	NDESPassword string // ndesAdminPassword

	UseProxyCert  bool   // useProxyCert: sign requests with the proxy certificate
	ProxyFile     string // proxyCert.keyToken.keyFile
	ProxyPassword string // proxyCert.keyToken.password
}

// defaultConfig returns the values used for keys a file leaves out.
func defaultConfig() *Config {
	return &Config{
		Workdir:     "temp",
		RACert:      filepath.Join("temp", "ra.cer"),
		P12CertFile: filepath.Join("temp", "scep.cer"),
		P12File:     filepath.Join("temp", "scep.p12"),
		KeyLength:   2048,
		Cipher:      cms.Algorithm{Cipher: cms.AES256CBC},
		Subject:     "cn={0}",
	}
}

// LoadConfig reads the configuration file at path. Unknown keys are
// reported on warn and otherwise ignored.
func LoadConfig(path string, warn io.Writer) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, problemf("The configuration file cannot be opened (%v). Check the -config path.", err)
	}
	defer f.Close()
	return ParseConfig(f, path, warn)
}

// ParseConfig reads a configuration from r; name is used in messages. The
// file is read by internal/properties, the reader scepgate's handler files
// use too, so both agree on comments, escapes and continuations. A line
// without a value is an error; unknown keys are reported on warn.
func ParseConfig(r io.Reader, name string, warn io.Writer) (*Config, error) {
	props, err := properties.Parse(r)
	if err != nil {
		return nil, problemf("The configuration file %s cannot be read: %v. Fix it or comment the line out with ';'.", name, err)
	}
	c := defaultConfig()
	for _, p := range props {
		if !p.Separated {
			return nil, problemf("%s line %d is not \"key = value\": %q. Fix or comment it out with ';'.", name, p.Line, p.Key)
		}
		if err := c.set(p.Key, p.Value); err != nil {
			return nil, problemf("%s line %d: %v", name, p.Line, err)
		}
		if !knownKey(p.Key) && warn != nil {
			fmt.Fprintf(warn, "scepclient: %s line %d: the key %q is not known and is ignored.\n", name, p.Line, p.Key)
		}
	}
	return c, nil
}

// ignoredKeys are accepted for compatibility with the reference and unused.
var ignoredKeys = map[string]bool{
	"p12.keytoken.storeprovider":       true,
	"p12.keytoken.storetype":           true,
	"proxycert.keytoken.storeprovider": true,
	"proxycert.keytoken.storetype":     true,
}

var settableKeys = map[string]bool{
	"cacerturl": true, "certrequesturl": true, "ndeschallengeurl": true, "racert": true, "workdir": true,
	"p12.alias": true, "p12.certfile": true, "p12.keylength": true, "p12.keytoken.keyfile": true,
	"p12.keytoken.password": true, "scep.cipheralg": true, "p10.subject": true, "p10.dns": true,
	"p10.password": true, "p10.keyusage": true, "ndesadminusername": true, "ndesadminpassword": true,
	"useproxycert": true, "proxycert.keytoken.keyfile": true, "proxycert.keytoken.password": true,
}

func knownKey(key string) bool {
	k := strings.ToLower(key)
	return settableKeys[k] || ignoredKeys[k]
}

// set assigns one key; keys match in any case.
func (c *Config) set(key, value string) error {
	switch strings.ToLower(key) {
	case "cacerturl":
		c.CACertURL = value
	case "certrequesturl":
		c.CertRequestURL = value
	case "ndeschallengeurl":
		c.NDESChallengeURL = value
	case "racert":
		c.RACert = value
	case "workdir":
		c.Workdir = value
	case "p12.alias":
		c.P12Alias = value
	case "p12.certfile":
		c.P12CertFile = value
	case "p12.keylength":
		n, err := strconv.Atoi(value)
		if err != nil || n < 1024 || n > 8192 {
			return problemf("p12.keyLength is %q; use an RSA key size such as 2048 or 3072.", value)
		}
		c.KeyLength = n
	case "p12.keytoken.keyfile":
		c.P12File = value
	case "p12.keytoken.password":
		c.P12Password = value
	case "scep.cipheralg":
		alg, err := parseCipher(value)
		if err != nil {
			return err
		}
		c.Cipher = alg
	case "p10.subject":
		c.Subject = value
	case "p10.dns":
		c.DNS = value
	case "p10.password":
		c.Password = value
	case "p10.keyusage":
		if _, _, err := parseKeyUsage(value); err != nil {
			return err
		}
		c.KeyUsage = value
	case "ndesadminusername":
		c.NDESUser = value
	case "ndesadminpassword":
		c.NDESPassword = value
	case "useproxycert":
		b, err := strconv.ParseBool(strings.ToLower(value))
		if err != nil {
			return problemf("useProxyCert is %q; use true or false.", value)
		}
		c.UseProxyCert = b
	case "proxycert.keytoken.keyfile":
		c.ProxyFile = value
	case "proxycert.keytoken.password":
		c.ProxyPassword = value
	}
	return nil
}

// parseCipher reads scep.cipherAlg. RC2 uses 128 effective bits, as the
// reference's Java tool does.
func parseCipher(s string) (cms.Algorithm, error) {
	c, err := cms.ParseCipherName(s)
	if err != nil {
		return cms.Algorithm{}, problemf("scep.cipherAlg is %q; use aes, des3, des or rc2.", s)
	}
	return cms.Algorithm{Cipher: c}, nil
}

// expand replaces the {0} placeholder with value.
func expand(template, value string) string {
	return strings.ReplaceAll(template, "{0}", value)
}
