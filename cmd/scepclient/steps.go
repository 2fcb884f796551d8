package main

import (
	"context"
	"crypto"
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/scepgate/scepgate/pki"
	"github.com/smallstep/pkcs7"
	"github.com/smallstep/scep"
	"software.sslmate.com/src/go-pkcs12"
)

// Session runs the enrollment steps of one configuration.
type Session struct {
	Config *Config
	Client *Client
	Out    io.Writer
	Now    func() time.Time
	// JSONChallenge asks the NDES challenge page for JSON.
	JSONChallenge bool
}

func (s *Session) say(format string, args ...any) { fmt.Fprintf(s.Out, format+"\n", args...) }

// GetCACert fetches the CA certificates from caCertUrl, saves them in the
// workdir and the RA certificate (DER) at raCert.
func (s *Session) GetCACert(ctx context.Context) error {
	if s.Config.CACertURL == "" {
		return problemf("caCertUrl is not set. Add it to the configuration file, such as caCertUrl = http://localhost:8080/pgwy/scep?operation=GetCACert&message=none.")
	}
	certs, err := s.Client.GetCACert(ctx, s.Config.CACertURL)
	if err != nil {
		return err
	}
	ra, note, err := pickRA(certs)
	if err != nil {
		return err
	}
	chain := caCerts(certs)
	if len(chain) == 0 {
		return problemf("The server sent no CA certificate for GetCACert, only %q. Ask its administrator to send the CA chain with the RA certificate.", ra.Subject.String())
	}
	if err := writeFile(s.path(fileCAChain), pemCerts(chain...), 0o644); err != nil {
		return err
	}
	if err := writeFile(s.Config.RACert, ra.Raw, 0o644); err != nil {
		return err
	}
	for _, c := range certs {
		role := "CA"
		switch {
		case c == ra && c.IsCA:
			role = "CA and RA"
		case c == ra:
			role = "RA"
		case !c.IsCA:
			role = "other"
		}
		s.say("%-9s %s (SHA-256 %s)", role+":", c.Subject.String(), fingerprint(sha256.New(), c.Raw))
	}
	if note != "" {
		s.say("%s", note)
	}
	s.say("Saved the CA chain in %s and the RA certificate in %s.", s.path(fileCAChain), s.Config.RACert)
	return nil
}

// GetNDESChallenge fetches a one-time password from ndesChallengeUrl and
// keeps it in the workdir for create.
func (s *Session) GetNDESChallenge(ctx context.Context) error {
	if s.Config.NDESChallengeURL == "" {
		return problemf("ndesChallengeUrl is not set. Add it to the configuration file, such as ndesChallengeUrl = http://localhost:8080/pgwy/scep/ndeschallenge/.")
	}
	ch, err := s.Client.FetchChallenge(ctx, s.Config.NDESChallengeURL, s.Config.NDESUser, s.Config.NDESPassword, s.JSONChallenge)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(ch, "", "  ")
	if err != nil {
		return err
	}
	if err := writeFile(s.path(fileChallenge), append(b, '\n'), 0o600); err != nil {
		return err
	}
	if ch.ExpiresAt.IsZero() {
		s.say("The challenge password is %s.", ch.Password)
	} else {
		s.say("The challenge password is %s, valid until %s.", ch.Password, ch.ExpiresAt.Local().Format(time.RFC3339))
	}
	if ch.CAThumbprint != "" {
		if b, err := os.ReadFile(s.path(fileCAChain)); err == nil {
			certs, _ := parsePEMCerts(b)
			if !thumbprintMatches(ch.CAThumbprint, certs) {
				s.say("Warning: the CA thumbprint %s on the challenge page matches no certificate from getcacert. Check that both URLs point at the same server.", ch.CAThumbprint)
			} else {
				s.say("The CA thumbprint on the challenge page matches the CA from getcacert.")
			}
		}
	}
	s.say("Saved it in %s; create puts it into the CSR.", s.path(fileChallenge))
	return nil
}

// thumbprintMatches reports whether tp is the MD5, SHA-1 or SHA-256 of one
// of certs, as NDES versions differ.
func thumbprintMatches(tp string, certs []*x509.Certificate) bool {
	tp = strings.ToLower(strings.ReplaceAll(strings.ReplaceAll(tp, ":", ""), " ", ""))
	for _, c := range certs {
		for _, sum := range []string{fingerprint(md5.New(), c.Raw), fingerprint(sha1.New(), c.Raw), fingerprint(sha256.New(), c.Raw)} {
			if strings.EqualFold(sum, tp) {
				return true
			}
		}
	}
	return false
}

func fingerprint(h interface {
	io.Writer
	Sum([]byte) []byte
}, b []byte) string {
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

// challenge returns the password for the CSR: the fetched NDES challenge,
// else p10.password; and where it came from.
func (s *Session) challenge() (pw, source string, err error) {
	b, err := os.ReadFile(s.path(fileChallenge))
	if errors.Is(err, fs.ErrNotExist) {
		if s.Config.Password == "" {
			return "", "none (p10.password is empty)", nil
		}
		return s.Config.Password, "p10.password", nil
	}
	if err != nil {
		return "", "", problemf("%s cannot be read (%v).", s.path(fileChallenge), err)
	}
	var ch Challenge
	if err := json.Unmarshal(b, &ch); err != nil || ch.Password == "" {
		return "", "", problemf("%s is damaged. Run getndeschallenge again.", s.path(fileChallenge))
	}
	if !ch.ExpiresAt.IsZero() && s.Now().After(ch.ExpiresAt) {
		return "", "", problemf("The NDES challenge password in %s expired at %s. Run getndeschallenge again.", s.path(fileChallenge), ch.ExpiresAt.Local().Format(time.RFC3339))
	}
	return ch.Password, "the NDES challenge from getndeschallenge", nil
}

// csrTemplate builds the request contents from the configuration with
// value for {0}.
func (s *Session) csrTemplate(value, challenge string) (CSRTemplate, error) {
	subject, err := ParseDN(expand(s.Config.Subject, value))
	if err != nil {
		return CSRTemplate{}, err
	}
	t := CSRTemplate{Subject: subject, Challenge: challenge}
	for d := range strings.SplitSeq(expand(s.Config.DNS, value), ",") {
		if d = strings.TrimSpace(d); d != "" {
			t.DNSNames = append(t.DNSNames, d)
		}
	}
	t.KeyUsage, t.Critical, err = parseKeyUsage(s.Config.KeyUsage)
	return t, err
}

// Create makes a new RSA key and a CSR with value for {0}.
func (s *Session) Create(value string) error {
	pw, source, err := s.challenge()
	if err != nil {
		return err
	}
	t, err := s.csrTemplate(value, pw)
	if err != nil {
		return err
	}
	key, err := rsa.GenerateKey(rand.Reader, s.Config.KeyLength)
	if err != nil {
		return err
	}
	der, err := NewCSR(t, key)
	if err != nil {
		return problemf("The CSR cannot be made (%v). Check p10.subject, p10.dns and p10.keyusage.", err)
	}
	keyPEM, err := pemKey(key)
	if err != nil {
		return err
	}
	if err := writeFile(s.path(fileKey), keyPEM, 0o600); err != nil {
		return err
	}
	if err := writeFile(s.path(fileCSR), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), 0o644); err != nil {
		return err
	}
	csr, _ := x509.ParseCertificateRequest(der)
	s.say("Created an RSA %d key and a CSR for %s.", s.Config.KeyLength, csr.Subject.String())
	if len(t.DNSNames) > 0 {
		s.say("DNS names: %s.", strings.Join(t.DNSNames, ", "))
	}
	if t.KeyUsage != 0 {
		s.say("Key usage requested: %s.", s.Config.KeyUsage)
	}
	s.say("Challenge password: %s.", source)
	s.say("Saved them in %s and %s.", s.path(fileKey), s.path(fileCSR))
	return nil
}

// caps asks the PKIOperation URL what it supports and picks the digest.
func (s *Session) caps(ctx context.Context) (Caps, asn1.ObjectIdentifier, error) {
	if s.Config.CertRequestURL == "" {
		return nil, nil, problemf("certRequestUrl is not set. Add it to the configuration file, such as certRequestUrl = http://localhost:8080/pgwy/scep/ndesrequest?operation=PKIOperation&message=.")
	}
	caps, err := s.Client.GetCACaps(ctx, s.Config.CertRequestURL)
	if err != nil {
		return nil, nil, err
	}
	return caps, digestFor(caps), nil
}

// digestFor picks SHA-256 when the server advertises it, else SHA-1.
func digestFor(caps Caps) asn1.ObjectIdentifier {
	if caps.Has("SHA-256") || caps.Has("SCEPStandard") {
		return pkcs7.OIDDigestAlgorithmSHA256
	}
	return pkcs7.OIDDigestAlgorithmSHA1
}

// signer returns the certificate and key that sign a request for key: the
// proxy certificate if useProxyCert, else a new self-signed certificate.
func (s *Session) signer(csr *x509.CertificateRequest, key crypto.Signer) (*x509.Certificate, crypto.Signer, error) {
	if s.Config.UseProxyCert {
		pkey, cert, _, err := loadP12(s.Config.ProxyFile, s.Config.ProxyPassword, "proxyCert.keyToken.keyFile")
		if err != nil {
			return nil, nil, err
		}
		return cert, pkey, nil
	}
	cert, err := SelfSigned(csr, key, s.Now())
	return cert, key, err
}

// Send sends the CSR of create as a PKCSReq and saves the certificate.
func (s *Session) Send(ctx context.Context) error {
	ra, known, err := s.loadCAState()
	if err != nil {
		return err
	}
	key, err := s.loadKey()
	if err != nil {
		return err
	}
	csr, err := s.loadCSR()
	if err != nil {
		return err
	}
	caps, digest, err := s.caps(ctx)
	if err != nil {
		return err
	}
	signerCert, signerKey, err := s.signer(csr, key)
	if err != nil {
		return err
	}
	tid, err := pki.TransactionID(key.Public())
	if err != nil {
		return err
	}
	req, err := pki.NewClientMessage(scep.PKCSReq, csr.Raw, pki.ClientParams{
		TransactionID: tid, RA: ra, Cipher: s.Config.Cipher, Signer: signerCert, Key: signerKey, Digest: digest,
	})
	if err != nil {
		return err
	}
	if err := writeFile(s.path(fileSigner), pemCerts(signerCert), 0o644); err != nil {
		return err
	}
	s.say("Sending PKCSReq %s to %s (%s, %s).", tid, s.Config.CertRequestURL, s.Config.Cipher.Cipher, digestName(digest))
	return s.exchange(ctx, caps, req, known, signerCert, signerKey, key)
}

// exchange sends req, checks the reply and handles its status: saves the
// certificate on SUCCESS; records the transaction for poll on PENDING.
// recipient and recipientKey open the reply; key is the new certificate's.
func (s *Session) exchange(ctx context.Context, caps Caps, req *pki.ClientMessage, known []*x509.Certificate, recipient *x509.Certificate, recipientKey, key crypto.Signer) error {
	body, err := s.Client.PKIOperation(ctx, s.Config.CertRequestURL, caps, req.Raw)
	if err != nil {
		return err
	}
	rep, err := pki.ReadCertRep(body, req, known)
	if err != nil {
		return replyProblem(err)
	}
	t := transaction{ID: req.TransactionID, MessageType: req.MessageType.String(), Status: statusName(rep.Status), URL: s.Config.CertRequestURL}
	if err := s.saveTransaction(t); err != nil {
		return err
	}
	if rep.Status != scep.SUCCESS {
		return problemf("%s", explain(rep, req.MessageType))
	}
	dec, ok := recipientKey.(crypto.Decrypter)
	if !ok {
		return problemf("The signing key is a %T and cannot decrypt the reply.", recipientKey)
	}
	if err := rep.Decrypt(recipient, dec); err != nil {
		return replyProblem(err)
	}
	leaf, chain := splitLeaf(rep.Certs, key.Public())
	if leaf == nil {
		return problemf("The server's reply holds %d certificates, none for our key. Report this to the server's administrator.", len(rep.Certs))
	}
	for _, c := range known {
		if c.IsCA && !containsCert(chain, c) && !containsCert([]*x509.Certificate{leaf}, c) {
			chain = append(chain, c)
		}
	}
	if err := s.saveCertificate(key, leaf, chain); err != nil {
		return err
	}
	_ = os.Remove(s.path(fileChallenge)) // used up
	s.say("The server issued %s, serial %s (reply encrypted with %s).", leaf.Subject.String(), serialHex(leaf), rep.Cipher)
	s.say("Saved it in %s (with key and chain) and %s.", s.Config.P12File, s.Config.P12CertFile)
	return nil
}

// splitLeaf finds the certificate for pub among certs; the rest is chain.
func splitLeaf(certs []*x509.Certificate, pub crypto.PublicKey) (leaf *x509.Certificate, chain []*x509.Certificate) {
	for _, c := range certs {
		if leaf == nil && samePublicKey(c.PublicKey, pub) {
			leaf = c
			continue
		}
		chain = append(chain, c)
	}
	return leaf, chain
}

func samePublicKey(a, b crypto.PublicKey) bool {
	ak, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ak.Equal(b)
}

// saveCertificate writes the PKCS #12 (key, certificate, chain) and the
// certificate as PEM.
func (s *Session) saveCertificate(key crypto.Signer, leaf *x509.Certificate, chain []*x509.Certificate) error {
	p12, err := pkcs12.Modern.Encode(key, leaf, chain, s.Config.P12Password)
	if err != nil {
		return fmt.Errorf("encode PKCS #12: %w", err)
	}
	if err := writeFile(s.Config.P12File, p12, 0o600); err != nil {
		return err
	}
	return writeFile(s.Config.P12CertFile, pemCerts(leaf), 0o644)
}

// Verify checks the saved certificate: it chains to the CA from
// getcacert and matches the key; then it prints it.
func (s *Session) Verify() error {
	key, cert, p12chain, err := loadP12(s.Config.P12File, s.Config.P12Password, "p12.keyToken.keyFile")
	if err != nil {
		return err
	}
	if !samePublicKey(cert.PublicKey, key.Public()) {
		return problemf("The certificate in %s does not match its key. Enroll again.", s.Config.P12File)
	}
	if reqKey, err := s.loadKey(); err == nil && !samePublicKey(cert.PublicKey, reqKey.Public()) {
		s.say("Note: the certificate is not for the key in %s (create was run again after send).", s.path(fileKey))
	}
	b, err := readFile(s.path(fileCAChain), "Run \"scepclient -config FILE getcacert\" first.")
	if err != nil {
		return err
	}
	caCerts, err := parsePEMCerts(b)
	if err != nil {
		return problemf("%s is damaged (%v). Run getcacert again.", s.path(fileCAChain), err)
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	nroots := 0
	for _, c := range caCerts {
		if c.IsCA {
			roots.AddCert(c)
			nroots++
		}
	}
	if nroots == 0 {
		return problemf("%s holds no CA certificate to verify against. Run getcacert again.", s.path(fileCAChain))
	}
	for _, c := range p12chain {
		inter.AddCert(c)
	}
	chains, err := cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}, CurrentTime: s.Now()})
	if err != nil {
		return problemf("The certificate in %s does not chain to the CA from getcacert (%v). Run getcacert and enroll again, or ask the server's administrator which CA issues.", s.Config.P12File, err)
	}
	s.say("The certificate is valid, chains to %s and matches its key.", chains[0][len(chains[0])-1].Subject.String())
	s.say("Subject:    %s", cert.Subject.String())
	s.say("Issuer:     %s", cert.Issuer.String())
	s.say("Serial:     %s", serialHex(cert))
	s.say("Valid from: %s", cert.NotBefore.UTC().Format(time.RFC3339))
	s.say("Valid to:   %s", cert.NotAfter.UTC().Format(time.RFC3339))
	if len(cert.DNSNames) > 0 {
		s.say("DNS names:  %s", strings.Join(cert.DNSNames, ", "))
	}
	if ku := keyUsageNames(cert.KeyUsage); ku != "" {
		s.say("Key usage:  %s", ku)
	}
	s.say("SHA-256:    %s", fingerprint(sha256.New(), cert.Raw))
	return nil
}

// Enroll runs getcacert, getndeschallenge (when ndesChallengeUrl is set),
// create, send and verify.
func (s *Session) Enroll(ctx context.Context, value string) error {
	if err := s.GetCACert(ctx); err != nil {
		return err
	}
	if s.Config.NDESChallengeURL != "" {
		if err := s.GetNDESChallenge(ctx); err != nil {
			return err
		}
	}
	if err := s.Create(value); err != nil {
		return err
	}
	if err := s.Send(ctx); err != nil {
		return err
	}
	return s.Verify()
}

// NewRenewal builds a RenewalReq: csr signed with the current certificate
// and key, as RFC 8894 section 3.3.1.2 asks.
func NewRenewal(csr []byte, current *x509.Certificate, currentKey crypto.Signer, p pki.ClientParams) (*pki.ClientMessage, error) {
	p.Signer, p.Key = current, currentKey
	return pki.NewClientMessage(scep.RenewalReq, csr, p)
}

// Renew makes a new key and CSR (the current subject, or p10.subject with
// value; the challenge as for create, if any) and sends a RenewalReq signed
// with the current certificate.
func (s *Session) Renew(ctx context.Context, value string) error {
	curKey, cur, _, err := loadP12(s.Config.P12File, s.Config.P12Password, "p12.keyToken.keyFile")
	if err != nil {
		return err
	}
	ra, known, err := s.loadCAState()
	if err != nil {
		return err
	}
	caps, digest, err := s.caps(ctx)
	if err != nil {
		return err
	}
	if !caps.Has("Renewal") {
		return problemf("The server does not advertise Renewal in GetCACaps, so it would refuse a RenewalReq. Enroll again with a new challenge instead (enroll VALUE).")
	}
	// RFC 8894 makes the challenge optional in a renewal; servers such as
	// micromdm's still ask for one, so it goes in when there is one.
	pw, _, err := s.challenge()
	if err != nil {
		return err
	}
	t := CSRTemplate{Subject: cur.RawSubject, DNSNames: cur.DNSNames, Challenge: pw}
	if value != "" {
		if t, err = s.csrTemplate(value, pw); err != nil {
			return err
		}
	} else if t.KeyUsage, t.Critical, err = parseKeyUsage(s.Config.KeyUsage); err != nil {
		return err
	}
	key, err := rsa.GenerateKey(rand.Reader, s.Config.KeyLength)
	if err != nil {
		return err
	}
	der, err := NewCSR(t, key)
	if err != nil {
		return err
	}
	keyPEM, err := pemKey(key)
	if err != nil {
		return err
	}
	if err := writeFile(s.path(fileKey), keyPEM, 0o600); err != nil {
		return err
	}
	if err := writeFile(s.path(fileCSR), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), 0o644); err != nil {
		return err
	}
	tid, err := pki.TransactionID(key.Public())
	if err != nil {
		return err
	}
	req, err := NewRenewal(der, cur, curKey, pki.ClientParams{TransactionID: tid, RA: ra, Cipher: s.Config.Cipher, Digest: digest})
	if err != nil {
		return err
	}
	if err := writeFile(s.path(fileSigner), pemCerts(cur), 0o644); err != nil {
		return err
	}
	s.say("Sending RenewalReq %s for %s, signed with serial %s.", tid, cur.Subject.String(), serialHex(cur))
	return s.exchange(ctx, caps, req, known, cur, curKey, key)
}

// Poll asks again for the certificate of a PENDING request (CertPoll, also
// known as GetCertInitial), signed by the same signer as the request.
func (s *Session) Poll(ctx context.Context) error {
	t, err := s.loadTransaction()
	if err != nil {
		return err
	}
	if t.Status != statusName(scep.PENDING) {
		return problemf("The last transaction %s is %s, not PENDING; there is nothing to poll for.", t.ID, t.Status)
	}
	ra, known, err := s.loadCAState()
	if err != nil {
		return err
	}
	key, err := s.loadKey()
	if err != nil {
		return err
	}
	csr, err := s.loadCSR()
	if err != nil {
		return err
	}
	b, err := readFile(s.path(fileSigner), "Run send first.")
	if err != nil {
		return err
	}
	signers, err := parsePEMCerts(b)
	if err != nil || len(signers) != 1 {
		return problemf("%s is damaged. Run create and send again.", s.path(fileSigner))
	}
	signerCert := signers[0]
	signerKey := key
	if !samePublicKey(signerCert.PublicKey, key.Public()) {
		if !s.Config.UseProxyCert {
			return problemf("The request was signed by %s, whose key is not in %s. Run create and send again.", signerCert.Subject.String(), s.path(fileKey))
		}
		if _, signerKey, err = s.signer(csr, key); err != nil {
			return err
		}
	}
	caps, digest, err := s.caps(ctx)
	if err != nil {
		return err
	}
	content, err := pki.CertPollContent(ra.RawIssuer, csr.RawSubject)
	if err != nil {
		return err
	}
	req, err := pki.NewClientMessage(scep.CertPoll, content, pki.ClientParams{
		TransactionID: t.ID, RA: ra, Cipher: s.Config.Cipher, Signer: signerCert, Key: signerKey, Digest: digest,
	})
	if err != nil {
		return err
	}
	s.say("Polling for transaction %s at %s.", t.ID, s.Config.CertRequestURL)
	return s.exchange(ctx, caps, req, known, signerCert, signerKey, key)
}

func statusName(st scep.PKIStatus) string {
	switch st {
	case scep.SUCCESS:
		return "SUCCESS"
	case scep.FAILURE:
		return "FAILURE"
	case scep.PENDING:
		return "PENDING"
	}
	return string(st)
}

func digestName(oid asn1.ObjectIdentifier) string {
	if oid.Equal(pkcs7.OIDDigestAlgorithmSHA1) {
		return "SHA-1"
	}
	return "SHA-256"
}

func serialHex(c *x509.Certificate) string {
	return strings.ToUpper(c.SerialNumber.Text(16))
}

func keyUsageNames(ku x509.KeyUsage) string {
	names := []string{"digitalSignature", "nonRepudiation", "keyEncipherment", "dataEncipherment", "keyAgreement", "keyCertSign", "cRLSign", "encipherOnly", "decipherOnly"}
	var out []string
	for i, n := range names {
		if ku&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return strings.Join(out, ", ")
}

// caCerts returns the CA certificates among certs, in their order: what
// GetCACert and GetNextCACert send besides the RA.
func caCerts(certs []*x509.Certificate) []*x509.Certificate {
	var chain []*x509.Certificate
	for _, c := range certs {
		if c.IsCA {
			chain = append(chain, c)
		}
	}
	return chain
}
