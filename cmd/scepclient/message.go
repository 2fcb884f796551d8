package main

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/scepgate/scepgate/pki"
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

// replyProblem explains to a person why a CertRep is not accepted: err
// comes from pki.ReadCertRep or CertRep.Decrypt. Other errors pass through.
func replyProblem(err error) error {
	var re *pki.CertRepError
	if !errors.As(err, &re) {
		return err
	}
	switch re.Code {
	case pki.CertRepMalformed:
		return problemf("The server's reply is not a SCEP pkiMessage (%v). Check that certRequestUrl points at a SCEP server.", re.Err)
	case pki.CertRepBadSignature:
		return problemf("The signature of the server's reply does not verify (%v). Run getcacert again in case the RA certificate changed.", re.Err)
	case pki.CertRepUntrustedSigner:
		return problemf("The server's reply is signed by %q, which is neither the RA nor the CA from getcacert. Run getcacert again; if it persists, the server is not the one you trust.", re.Got)
	case pki.CertRepNotCertRep:
		return problemf("The server's reply is not a CertRep (messageType %q).", re.Got)
	case pki.CertRepBadStatus:
		if re.Got == "" {
			return problemf("The server's reply has no pkiStatus.")
		}
		return problemf("The server's reply has the unknown pkiStatus %q.", re.Got)
	case pki.CertRepWrongTransaction:
		return problemf("The server's reply is for transaction %q, not ours (%q). Send the request again.", re.Got, re.Want)
	case pki.CertRepWrongNonce:
		return problemf("The server's reply does not echo our nonce, so it may be a replay. Send the request again.")
	case pki.CertRepNoContent:
		return problemf("The server answered SUCCESS without a certificate. Report this to the server's administrator.")
	case pki.CertRepUndecryptable:
		return problemf("The certificate in the server's reply cannot be decrypted with our key (%v).", re.Err)
	case pki.CertRepBadContent:
		return problemf("The server's reply does not hold a certificate list (%v).", re.Err)
	}
	return problemf("The server's reply cannot be used (%v).", err)
}

// explain says what a FAILURE or PENDING reply to a request of type mt
// means and what to do.
func explain(rep *pki.CertRep, mt scep.MessageType) string {
	switch rep.Status {
	case scep.PENDING:
		return fmt.Sprintf("The server put the request on hold (pkiStatus PENDING, transaction %s): it waits for an administrator's approval. Run \"scepclient -config FILE poll\" later to fetch the certificate.", rep.TransactionID)
	case scep.FAILURE:
		return "The server refused the request: pkiStatus FAILURE, " + failInfoText(rep.FailInfo, mt)
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
