package main

import (
	"crypto"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"software.sslmate.com/src/go-pkcs12"
)

// Files in the workdir, shared by the steps.
const (
	fileCAChain     = "ca-chain.pem"        // getcacert: the CA certificates of GetCACert
	fileChallenge   = "ndes-challenge.json" // getndeschallenge; removed once used
	fileKey         = "request-key.pem"     // create: the new private key (PKCS #8)
	fileCSR         = "request.csr"         // create: the PKCS #10 request
	fileSigner      = "request-signer.pem"  // send: the certificate that signed the request
	fileTransaction = "transaction.json"    // send, poll: the last transaction and its status
)

// transaction is what send leaves for poll.
type transaction struct {
	ID          string `json:"transaction_id"`
	MessageType string `json:"message_type"`
	Status      string `json:"status"`
	URL         string `json:"url"`
}

func (s *Session) path(name string) string { return filepath.Join(s.Config.Workdir, name) }

// ensureDir creates the folder of path.
func ensureDir(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return problemf("The folder %s cannot be created (%v). Check workdir and the file paths in the configuration.", filepath.Dir(path), err)
	}
	return nil
}

// writeFile writes data to path, creating its folder.
func writeFile(path string, data []byte, perm os.FileMode) error {
	if err := ensureDir(path); err != nil {
		return err
	}
	if err := os.WriteFile(path, data, perm); err != nil {
		return problemf("%s cannot be written (%v). Check the folder's permissions.", path, err)
	}
	return nil
}

// readFile reads path; missing says which step makes it.
func readFile(path, missing string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, problemf("%s does not exist. %s", path, missing)
	}
	if err != nil {
		return nil, problemf("%s cannot be read (%v).", path, err)
	}
	return b, nil
}

// pemCerts encodes certs as PEM.
func pemCerts(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

// parsePEMCerts reads every CERTIFICATE block of b.
func parsePEMCerts(b []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, err
		}
		certs = append(certs, c)
	}
	return certs, nil
}

// loadCAState reads what getcacert saved: the RA (DER, or PEM), and the CA
// chain plus the RA, the certificates a reply may be signed by.
func (s *Session) loadCAState() (ra *x509.Certificate, all []*x509.Certificate, err error) {
	const hint = "Run \"scepclient -config FILE getcacert\" first."
	raw, err := readFile(s.Config.RACert, hint)
	if err != nil {
		return nil, nil, err
	}
	if blk, _ := pem.Decode(raw); blk != nil {
		raw = blk.Bytes
	}
	if ra, err = x509.ParseCertificate(raw); err != nil {
		return nil, nil, problemf("%s is not a certificate (%v). %s", s.Config.RACert, err, hint)
	}
	b, err := readFile(s.path(fileCAChain), hint)
	if err != nil {
		return nil, nil, err
	}
	if all, err = parsePEMCerts(b); err != nil || len(all) == 0 {
		return nil, nil, problemf("%s holds no certificates. %s", s.path(fileCAChain), hint)
	}
	if !containsCert(all, ra) {
		all = append(all, ra)
	}
	return ra, all, nil
}

// loadKey reads the PKCS #8 key create made.
func (s *Session) loadKey() (crypto.Signer, error) {
	b, err := readFile(s.path(fileKey), "Run \"scepclient -config FILE create VALUE\" first.")
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, problemf("%s is not a PEM private key. Run create again.", s.path(fileKey))
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, problemf("%s is not a PKCS #8 private key (%v). Run create again.", s.path(fileKey), err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, problemf("%s holds a %T, not a signing key. Run create again.", s.path(fileKey), k)
	}
	return signer, nil
}

// loadCSR reads the request create made.
func (s *Session) loadCSR() (*x509.CertificateRequest, error) {
	b, err := readFile(s.path(fileCSR), "Run \"scepclient -config FILE create VALUE\" first.")
	if err != nil {
		return nil, err
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, problemf("%s is not a PEM certificate request. Run create again.", s.path(fileCSR))
	}
	csr, err := x509.ParseCertificateRequest(blk.Bytes)
	if err != nil {
		return nil, problemf("%s is not a valid certificate request (%v). Run create again.", s.path(fileCSR), err)
	}
	return csr, nil
}

// loadP12 reads a PKCS #12 with its chain.
func loadP12(path, password, what string) (crypto.Signer, *x509.Certificate, []*x509.Certificate, error) {
	b, err := readFile(path, "Set "+what+" to a PKCS #12 file with a certificate and its key.")
	if err != nil {
		return nil, nil, nil, err
	}
	k, cert, chain, err := pkcs12.DecodeChain(b, password)
	if err != nil {
		return nil, nil, nil, problemf("%s cannot be opened (%v). Check the file and its password.", path, err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, nil, nil, problemf("%s holds a %T key, which cannot sign.", path, k)
	}
	return signer, cert, chain, nil
}

// saveTransaction records the last transaction for poll.
func (s *Session) saveTransaction(t transaction) error {
	b, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return err
	}
	return writeFile(s.path(fileTransaction), append(b, '\n'), 0o644)
}

func (s *Session) loadTransaction() (*transaction, error) {
	b, err := readFile(s.path(fileTransaction), "There is no request to poll for; run send first.")
	if err != nil {
		return nil, err
	}
	var t transaction
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, problemf("%s is damaged (%v). Run create and send again.", s.path(fileTransaction), err)
	}
	return &t, nil
}

// pemKey encodes key as PKCS #8 PEM.
func pemKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
