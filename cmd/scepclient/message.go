package main

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/scepgate/scepgate/pki"
	"github.com/scepgate/scepgate/pki/cms"
	"github.com/smallstep/pkcs7"
	"github.com/smallstep/scep"
	"github.com/smallstep/scep/x509util"
)

// CSRTemplate says what goes into a certificate request.
type CSRTemplate struct {
	Subject   []byte // DER Name, from ParseDN
	DNSNames  []string
	KeyUsage  x509.KeyUsage
	Critical  bool // the keyUsage extension is critical
	Challenge string
}

// NewCSR returns a DER PKCS #10 request for key, signed with SHA-256.
func NewCSR(t CSRTemplate, key crypto.Signer) ([]byte, error) {
	tmpl := x509util.CertificateRequest{
		CertificateRequest: x509.CertificateRequest{
			RawSubject:         t.Subject,
			DNSNames:           t.DNSNames,
			SignatureAlgorithm: x509.SHA256WithRSA,
		},
		ChallengePassword: t.Challenge,
	}
	if t.KeyUsage != 0 {
		ext, err := pki.KeyUsageExtension(t.KeyUsage, t.Critical)
		if err != nil {
			return nil, err
		}
		tmpl.ExtraExtensions = []pkix.Extension{ext}
	}
	return x509util.CreateCertificateRequest(rand.Reader, &tmpl, key)
}

// SelfSigned returns the throw-away certificate that signs a PKCSReq: the
// CSR's subject and key, valid for a day around now.
func SelfSigned(csr *x509.CertificateRequest, key crypto.Signer, now time.Time) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		RawSubject:   csr.RawSubject,
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// TransactionID derives a transaction ID from a public key (RFC 8894
// section 3.2.1.1 suggests a hash of it): upper-case hex SHA-256 of the
// SubjectPublicKeyInfo. The same key always gets the same ID, which is
// what CertPoll needs.
func TransactionID(pub crypto.PublicKey) (string, error) {
	spki, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(spki)
	return strings.ToUpper(hex.EncodeToString(sum[:])), nil
}

// issuerAndSubject is the content of a CertPoll (RFC 8894 section 3.3.3).
type issuerAndSubject struct {
	Issuer  asn1.RawValue
	Subject asn1.RawValue
}

// CertPollContent returns the IssuerAndSubject of a CertPoll for a request
// with subject (DER Name) to the CA named issuer (DER Name).
func CertPollContent(issuer, subject []byte) ([]byte, error) {
	return asn1.Marshal(issuerAndSubject{
		Issuer:  asn1.RawValue{FullBytes: issuer},
		Subject: asn1.RawValue{FullBytes: subject},
	})
}

// Reply is a parsed, signature-checked CertRep.
type Reply struct {
	Status         scep.PKIStatus
	FailInfo       scep.FailInfo
	TransactionID  string
	RecipientNonce []byte
	Signer         *x509.Certificate
	envelope       []byte
	requestType    scep.MessageType // set by Check
}

// ParseReply parses a CertRep and checks its signature. The signer must be
// one of known (the RA or CA from GetCACert); known certificates are also
// offered to find a signer the reply does not carry.
func ParseReply(der []byte, known []*x509.Certificate) (rep *Reply, err error) {
	defer func() {
		if r := recover(); r != nil {
			rep, err = nil, problemf("The server's reply is not valid CMS. Check that certRequestUrl points at a SCEP server.")
		}
	}()
	p7, err := pkcs7.Parse(der)
	if err != nil {
		return nil, problemf("The server's reply is not a SCEP pkiMessage (%v). Check that certRequestUrl points at a SCEP server.", err)
	}
	if len(p7.Signers) != 1 {
		return nil, problemf("The server's reply has %d signers instead of 1. The server is not speaking SCEP as expected.", len(p7.Signers))
	}
	p7.Certificates = append(p7.Certificates, known...)
	if err := p7.Verify(); err != nil {
		return nil, problemf("The signature of the server's reply does not verify (%v). Run getcacert again in case the RA certificate changed.", err)
	}
	signer := p7.GetOnlySigner()
	if signer == nil {
		return nil, problemf("The server's reply does not say who signed it. Run getcacert again.")
	}
	if !containsCert(known, signer) {
		return nil, problemf("The server's reply is signed by %q, which is neither the RA nor the CA from getcacert. Run getcacert again; if it persists, the server is not the one you trust.", signer.Subject.String())
	}
	rep = &Reply{Signer: signer, envelope: p7.Content}
	var mt, status string
	if err := p7.UnmarshalSignedAttribute(pki.OIDMessageType, &mt); err != nil || scep.MessageType(mt) != scep.CertRep {
		return nil, problemf("The server's reply is not a CertRep (messageType %q).", mt)
	}
	if err := p7.UnmarshalSignedAttribute(pki.OIDPKIStatus, &status); err != nil {
		return nil, problemf("The server's reply has no pkiStatus.")
	}
	rep.Status = scep.PKIStatus(status)
	_ = p7.UnmarshalSignedAttribute(pki.OIDTransactionID, &rep.TransactionID)
	_ = p7.UnmarshalSignedAttribute(pki.OIDRecipientNonce, &rep.RecipientNonce)
	if rep.Status == scep.FAILURE {
		var fi string
		_ = p7.UnmarshalSignedAttribute(pki.OIDFailInfo, &fi)
		rep.FailInfo = scep.FailInfo(fi)
	}
	return rep, nil
}

// Check compares the reply with the request it answers.
func (r *Reply) Check(req *pki.ClientMessage) error {
	r.requestType = req.MessageType
	if r.TransactionID != req.TransactionID {
		return problemf("The server's reply is for transaction %q, not ours (%q). Send the request again.", r.TransactionID, req.TransactionID)
	}
	if !bytes.Equal(r.RecipientNonce, req.SenderNonce) {
		return problemf("The server's reply does not echo our nonce, so it may be a replay. Send the request again.")
	}
	switch r.Status {
	case scep.SUCCESS, scep.FAILURE, scep.PENDING:
		return nil
	}
	return problemf("The server's reply has the unknown pkiStatus %q.", string(r.Status))
}

// Certificates decrypts a SUCCESS reply with the requester's certificate
// and key and returns the certificates it carries.
func (r *Reply) Certificates(recipient *x509.Certificate, key crypto.Decrypter) ([]*x509.Certificate, cms.Algorithm, error) {
	if len(r.envelope) == 0 {
		return nil, cms.Algorithm{}, problemf("The server answered SUCCESS without a certificate. Report this to the server's administrator.")
	}
	plain, alg, err := cms.Decrypt(r.envelope, recipient, key)
	if err != nil {
		return nil, alg, problemf("The certificate in the server's reply cannot be decrypted with our key (%v).", err)
	}
	p7, err := pkcs7.Parse(plain)
	if err != nil {
		return nil, alg, problemf("The server's reply does not hold a certificate list (%v).", err)
	}
	if len(p7.Certificates) == 0 {
		return nil, alg, problemf("The server's reply holds no certificate.")
	}
	return p7.Certificates, alg, nil
}

// Explain says what a FAILURE or PENDING reply means and what to do.
func (r *Reply) Explain() string {
	switch r.Status {
	case scep.PENDING:
		return fmt.Sprintf("The server put the request on hold (pkiStatus PENDING, transaction %s): it waits for an administrator's approval. Run \"scepclient -config FILE poll\" later to fetch the certificate.", r.TransactionID)
	case scep.FAILURE:
		return "The server refused the request: pkiStatus FAILURE, " + failInfoText(r.FailInfo, r.requestType)
	}
	return "The server issued the certificate."
}

// failInfoText explains a failInfo (RFC 8894 section 3.2.1.4) for a
// request of type mt.
func failInfoText(fi scep.FailInfo, mt scep.MessageType) string {
	if mt == scep.RenewalReq {
		switch fi {
		case scep.BadRequest:
			return "failInfo badRequest (2): the server did not accept the renewal, for example because the certificate is not yet close enough to its expiry, is revoked, or was not issued by this CA. Ask the server's administrator when renewal is allowed, or enroll again with a new challenge (enroll VALUE)."
		case scep.BadCertID:
			return "failInfo badCertId (4): the server does not know the certificate that signed the renewal. Check that p12.keyToken.keyFile holds a certificate this CA issued, or enroll again (enroll VALUE)."
		}
	}
	switch fi {
	case scep.BadAlg:
		return "failInfo badAlg (0): the server does not accept the algorithm. Set scep.cipherAlg to aes or des3, or ask whether the handler allows legacy ciphers."
	case scep.BadMessageCheck:
		return "failInfo badMessageCheck (1): the server could not check or decrypt the message. Run getcacert again to get the current RA certificate, then create and send again."
	case scep.BadRequest:
		return "failInfo badRequest (2): the server did not accept the request, most often because the challenge password is wrong, used or expired, or the subject is not allowed. Fetch a new challenge (getndeschallenge) or check p10.password, then create and send again."
	case scep.BadTime:
		return "failInfo badTime (3): the message time is outside what the server accepts. Check this machine's clock."
	case scep.BadCertID:
		return "failInfo badCertId (4): the server does not know the certificate the request refers to. For renew, check p12.keyToken.keyFile holds a certificate this CA issued; for poll, send the request again."
	case "":
		return "without a failInfo. Ask the server's administrator why; its log names the transaction."
	}
	return fmt.Sprintf("with the unknown failInfo %q. Ask the server's administrator why.", string(fi))
}

// containsCert reports whether certs holds c.
func containsCert(certs []*x509.Certificate, c *x509.Certificate) bool {
	for _, k := range certs {
		if bytes.Equal(k.Raw, c.Raw) {
			return true
		}
	}
	return false
}

// pickRA chooses, among the certificates of GetCACert, the one requests are
// encrypted to: a certificate that is not a CA and has keyEncipherment;
// with no such certificate and a single CA, the CA itself (RFC 8894 allows
// it; micromdm's scepserver works so). note says anything worth telling.
func pickRA(certs []*x509.Certificate) (ra *x509.Certificate, note string, err error) {
	if len(certs) == 0 {
		return nil, "", problemf("The server sent no certificate for GetCACert. Check caCertUrl.")
	}
	var leaves []*x509.Certificate
	for _, c := range certs {
		if !c.IsCA {
			leaves = append(leaves, c)
		}
	}
	for _, c := range leaves {
		if c.KeyUsage == 0 || c.KeyUsage&x509.KeyUsageKeyEncipherment != 0 {
			if _, ok := c.PublicKey.(*rsa.PublicKey); ok {
				return c, "", nil
			}
		}
	}
	if len(leaves) > 0 {
		return nil, "", problemf("The RA certificate %q lacks the key usage keyEncipherment, so requests cannot be encrypted to it. Ask the server's administrator for an RA certificate with digitalSignature and keyEncipherment.", leaves[0].Subject.String())
	}
	ca := certs[0]
	if _, ok := ca.PublicKey.(*rsa.PublicKey); !ok {
		return nil, "", problemf("The CA certificate %q has a %T key, and there is no RSA RA certificate to encrypt requests to. Ask the server's administrator for an RSA RA certificate.", ca.Subject.String(), ca.PublicKey)
	}
	note = fmt.Sprintf("The server has no separate RA certificate; requests are encrypted to the CA %q.", ca.Subject.String())
	if ca.KeyUsage != 0 && ca.KeyUsage&x509.KeyUsageKeyEncipherment == 0 {
		note += " It lacks keyEncipherment; a strict server may refuse."
	}
	return ca, note, nil
}
