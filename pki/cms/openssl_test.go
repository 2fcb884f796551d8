package cms

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// legacyProviders makes OpenSSL 3 load the legacy provider, which has DES
// and RC2, next to the default one.
var legacyProviders = []string{"-provider", "legacy", "-provider", "default"}

// opensslEnv holds the files the OpenSSL interoperability tests share.
type opensslEnv struct {
	bin      string
	dir      string
	certPath string
	keyPath  string
}

// requireOpenSSL finds openssl and checks its legacy provider. A missing
// openssl fails the test: the interoperability tests are not optional.
func requireOpenSSL(t *testing.T) *opensslEnv {
	t.Helper()
	bin, err := exec.LookPath("openssl")
	if err != nil {
		t.Fatalf("openssl is required for the CMS interoperability tests but was not found (%v); install it with: apt-get install openssl", err)
	}
	out, err := exec.Command(bin, append([]string{"list", "-providers"}, legacyProviders...)...).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "legacy") {
		t.Fatalf("openssl has no usable legacy provider, needed for DES and RC2 (%v):\n%s\ninstall a full OpenSSL 3 with: apt-get install openssl", err, out)
	}

	ra := raID()
	dir := t.TempDir()
	env := &opensslEnv{
		bin:      bin,
		dir:      dir,
		certPath: filepath.Join(dir, "cert.pem"),
		keyPath:  filepath.Join(dir, "key.pem"),
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(ra.key)
	if err != nil {
		t.Fatalf("marshal key: %v", err)
	}
	writeFile(t, env.certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ra.cert.Raw}))
	writeFile(t, env.keyPath, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}))
	return env
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// run runs openssl with args and fails the test if it fails.
func (e *opensslEnv) run(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command(e.bin, args...)
	cmd.Dir = e.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("openssl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestDecryptOpenSSL decrypts messages produced by `openssl cms -encrypt`.
func TestDecryptOpenSSL(t *testing.T) {
	env := requireOpenSSL(t)
	ra := raID()
	tests := []struct {
		name   string
		args   []string // cipher and other options
		keyopt []string // options after -recip
		legacy bool
		want   Algorithm
	}{
		{name: "ok/aes128", args: []string{"-aes128"}, want: Algorithm{Cipher: AES128CBC, KeyLen: 16}},
		{name: "ok/aes192", args: []string{"-aes192"}, want: Algorithm{Cipher: AES192CBC, KeyLen: 24}},
		{name: "ok/aes256", args: []string{"-aes256"}, want: Algorithm{Cipher: AES256CBC, KeyLen: 32}},
		{name: "ok/des3", args: []string{"-des3"}, want: Algorithm{Cipher: DES3CBC, KeyLen: 24}},
		{name: "ok/des", args: []string{"-des"}, legacy: true, want: Algorithm{Cipher: DESCBC, KeyLen: 8}},
		{name: "ok/rc2-40", args: []string{"-rc2-40"}, legacy: true, want: Algorithm{Cipher: RC2CBC, RC2Bits: 40, KeyLen: 5}},
		{name: "ok/rc2-64", args: []string{"-rc2-64"}, legacy: true, want: Algorithm{Cipher: RC2CBC, RC2Bits: 64, KeyLen: 8}},
		{name: "ok/rc2-128", args: []string{"-rc2-128"}, legacy: true, want: Algorithm{Cipher: RC2CBC, RC2Bits: 128, KeyLen: 16}},
		// Recipient identified by subjectKeyIdentifier.
		{name: "ok/aes256-keyid", args: []string{"-aes256", "-keyid"}, want: Algorithm{Cipher: AES256CBC, KeyLen: 32}},
		// -stream writes indefinite lengths and a constructed encryptedContent.
		{name: "ok/aes128-stream-ber", args: []string{"-aes128", "-stream"}, want: Algorithm{Cipher: AES128CBC, KeyLen: 16}},
		{name: "ok/des3-stream-ber", args: []string{"-des3", "-stream"}, want: Algorithm{Cipher: DES3CBC, KeyLen: 24}},
		{name: "ok/rc2-40-stream-ber", args: []string{"-rc2-40", "-stream"}, legacy: true, want: Algorithm{Cipher: RC2CBC, RC2Bits: 40, KeyLen: 5}},
		// RSAES-OAEP key transport.
		{name: "ok/aes128-oaep-sha1", args: []string{"-aes128"}, keyopt: []string{"-keyopt", "rsa_padding_mode:oaep"}, want: Algorithm{Cipher: AES128CBC, KeyLen: 16}},
		{name: "ok/aes256-oaep-sha256", args: []string{"-aes256"}, keyopt: []string{"-keyopt", "rsa_padding_mode:oaep", "-keyopt", "rsa_oaep_md:sha256"}, want: Algorithm{Cipher: AES256CBC, KeyLen: 32}},
		{name: "ok/aes128-oaep-sha256-mgf1-sha1", args: []string{"-aes128"}, keyopt: []string{"-keyopt", "rsa_padding_mode:oaep", "-keyopt", "rsa_oaep_md:sha256", "-keyopt", "rsa_mgf1_md:sha1"}, want: Algorithm{Cipher: AES128CBC, KeyLen: 16}},
	}
	for _, tc := range tests {
		for _, size := range []int{3, 5000} {
			t.Run(fmt.Sprintf("%s/%d-bytes", tc.name, size), func(t *testing.T) {
				plaintext := randomBytes(t, size)
				in, out := filepath.Join(env.dir, "plain.bin"), filepath.Join(env.dir, "msg.der")
				writeFile(t, in, plaintext)
				args := []string{"cms", "-encrypt", "-binary", "-outform", "DER", "-in", in, "-out", out}
				if tc.legacy {
					args = append(args, legacyProviders...)
				}
				args = append(args, tc.args...)
				args = append(args, "-recip", env.certPath)
				env.run(t, append(args, tc.keyopt...)...)
				msg := readFile(t, out)

				peeked, err := PeekAlgorithm(msg)
				if err != nil || peeked != peekWant(tc.want) {
					t.Errorf("PeekAlgorithm: got %+v, %v; want %+v, nil", peeked, err, peekWant(tc.want))
				}
				if peeked.Cipher.Legacy() != tc.legacy {
					t.Errorf("Legacy(): got %v, want %v", peeked.Cipher.Legacy(), tc.legacy)
				}
				got, alg, err := Decrypt(msg, ra.cert, ra.rsaKey())
				if err != nil {
					t.Fatalf("Decrypt (%d-byte plaintext): got error %v, want nil", size, err)
				}
				if !bytes.Equal(got, plaintext) {
					t.Errorf("Decrypt plaintext: got %d bytes %.16x..., want %d bytes %.16x...", len(got), got, len(plaintext), plaintext)
				}
				if alg != tc.want {
					t.Errorf("Decrypt algorithm: got %+v, want %+v", alg, tc.want)
				}
			})
		}
	}
}

// TestEncryptOpenSSL checks that `openssl cms -decrypt` reads what Encrypt
// writes.
func TestEncryptOpenSSL(t *testing.T) {
	env := requireOpenSSL(t)
	ra := raID()
	tests := []struct {
		name string
		alg  Algorithm
	}{
		{"ok/aes128", Algorithm{Cipher: AES128CBC}},
		{"ok/aes192", Algorithm{Cipher: AES192CBC}},
		{"ok/aes256", Algorithm{Cipher: AES256CBC}},
		{"ok/des3", Algorithm{Cipher: DES3CBC}},
		{"ok/des", Algorithm{Cipher: DESCBC}},
		{"ok/rc2-40", Algorithm{Cipher: RC2CBC, RC2Bits: 40, KeyLen: 5}},
		{"ok/rc2-64", Algorithm{Cipher: RC2CBC, RC2Bits: 64, KeyLen: 8}},
		{"ok/rc2-128", Algorithm{Cipher: RC2CBC, RC2Bits: 128, KeyLen: 16}},
		{"ok/rc2-default", Algorithm{Cipher: RC2CBC}},
		{"ok/rc2-40-16-byte-key", Algorithm{Cipher: RC2CBC, RC2Bits: 40}},
	}
	for _, tc := range tests {
		for _, size := range []int{0, 3, 5000} {
			t.Run(fmt.Sprintf("%s/%d-bytes", tc.name, size), func(t *testing.T) {
				plaintext := randomBytes(t, size)
				msg, err := Encrypt(plaintext, ra.cert, tc.alg, nil)
				if err != nil {
					t.Fatalf("Encrypt: got error %v, want nil", err)
				}
				in, out := filepath.Join(env.dir, "msg.der"), filepath.Join(env.dir, "plain.out")
				writeFile(t, in, msg)
				args := []string{"cms", "-decrypt", "-binary", "-inform", "DER", "-in", in, "-out", out,
					"-inkey", env.keyPath, "-recip", env.certPath}
				if tc.alg.Cipher.Legacy() {
					args = append(args, legacyProviders...)
				}
				env.run(t, args...)
				if got := readFile(t, out); !bytes.Equal(got, plaintext) {
					t.Errorf("openssl cms -decrypt (%d-byte plaintext): got %d bytes %.16x..., want %d bytes %.16x...", size, len(got), got, len(plaintext), plaintext)
				}
			})
		}
	}
}
