package pki

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/scepgate/scepgate/pki/cms"
	"github.com/smallstep/pkcs7"
	"github.com/smallstep/scep"
	"github.com/smallstep/scep/x509util"
)

// SCEP attribute OIDs (RFC 8894, section 3.2.1), for servers and clients.
var (
	OIDMessageType    = asn1.ObjectIdentifier{2, 16, 840, 1, 113733, 1, 9, 2}
	OIDPKIStatus      = asn1.ObjectIdentifier{2, 16, 840, 1, 113733, 1, 9, 3}
	OIDFailInfo       = asn1.ObjectIdentifier{2, 16, 840, 1, 113733, 1, 9, 4}
	OIDSenderNonce    = asn1.ObjectIdentifier{2, 16, 840, 1, 113733, 1, 9, 5}
	OIDRecipientNonce = asn1.ObjectIdentifier{2, 16, 840, 1, 113733, 1, 9, 6}
	OIDTransactionID  = asn1.ObjectIdentifier{2, 16, 840, 1, 113733, 1, 9, 7}
)

// Request is a SCEP pkiMessage whose signature has been verified.
type Request struct {
	MessageType   scep.MessageType
	TransactionID string
	SenderNonce   []byte
	// SignerCert signed the request: the device's self-signed certificate,
	// or its current certificate when it renews. The reply is encrypted to it.
	SignerCert *x509.Certificate
	// Digest is the request's digest algorithm; the reply uses the same.
	Digest asn1.ObjectIdentifier

	envelope []byte

	// Set by Decrypt.
	Cipher            cms.Algorithm
	CSR               *x509.CertificateRequest
	ChallengePassword string
	// IssuerAndSerial names the certificate a GetCert or GetCRL asks about.
	IssuerAndSerial *IssuerAndSerial
}

// IssuerAndSerial identifies a certificate (RFC 5652, section 10.2.4).
type IssuerAndSerial struct {
	Issuer       asn1.RawValue
	SerialNumber *big.Int
}

// issuerAndSubject is what a CertPoll carries (RFC 8894, section 3.3.3).
type issuerAndSubject struct {
	Issuer  asn1.RawValue
	Subject asn1.RawValue
}

// ParseRequest parses a DER pkiMessage and verifies its signature. An error
// means the message cannot be answered with a CertRep at all.
func ParseRequest(der []byte) (req *Request, err error) {
	defer func() {
		// The PKCS#7 parser is not ours; no input may take the server down.
		if r := recover(); r != nil {
			req, err = nil, errors.New("the message is not valid CMS")
		}
	}()
	p7, err := pkcs7.Parse(der)
	if err != nil {
		return nil, fmt.Errorf("the message is not CMS signed data: %w", err)
	}
	if len(p7.Signers) != 1 {
		return nil, fmt.Errorf("the message has %d signers, want 1", len(p7.Signers))
	}
	req = &Request{
		SignerCert: p7.GetOnlySigner(),
		Digest:     p7.Signers[0].DigestAlgorithm.Algorithm,
		envelope:   p7.Content,
	}
	if req.SignerCert == nil {
		return nil, errors.New("the message does not carry its signer's certificate")
	}
	if isPSS(p7) {
		err = verifyPSS(der, p7, req.SignerCert)
	} else {
		err = p7.Verify()
	}
	if err != nil {
		return nil, fmt.Errorf("the message signature does not verify: %w", err)
	}
	var mt string
	if err := p7.UnmarshalSignedAttribute(OIDMessageType, &mt); err != nil {
		return nil, errors.New("the message has no messageType attribute")
	}
	req.MessageType = scep.MessageType(mt)
	if err := p7.UnmarshalSignedAttribute(OIDTransactionID, &req.TransactionID); err != nil || req.TransactionID == "" {
		return nil, errors.New("the message has no transactionID attribute")
	}
	if err := p7.UnmarshalSignedAttribute(OIDSenderNonce, &req.SenderNonce); err != nil || len(req.SenderNonce) == 0 {
		return nil, errors.New("the message has no senderNonce attribute")
	}
	return req, nil
}

// FailError is a request problem answered with a CertRep FAILURE.
type FailError struct {
	Info   scep.FailInfo
	Reason string
}

func (e *FailError) Error() string { return e.Reason }

// CheckReplyRecipient says why a CertRep with content (certificates or a
// CRL) could not be sent to a request signed with signer and encrypted with
// alg: the content is encrypted to the signer's key by RSA key transport,
// with alg's key size. The reason is safe to show; nil means it can be.
func CheckReplyRecipient(signer *x509.Certificate, alg cms.Algorithm) error {
	err := cms.CheckRecipient(signer, alg)
	var rke *cms.RecipientKeyError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &rke):
		return fmt.Errorf("a reply cannot be encrypted to the request's signer: %s; sign the request with an RSA key of 2048 bits or more", rke.Reason)
	}
	return fmt.Errorf("a reply cannot be encrypted to the request's signer; sign the request with an RSA key of 2048 bits or more")
}

// Decrypt opens the request's pkcsPKIEnvelope with the RA key and parses the
// CSR in it. Single DES and RC2 are refused (badAlg) unless allowLegacy, and
// so is a request whose signer's key a reply cannot be encrypted to (see
// CheckReplyRecipient), before anything acts on it.
func (r *Request) Decrypt(a *Authority, allowLegacy bool) error {
	alg, err := cms.PeekAlgorithm(r.envelope)
	var unsupported *cms.UnsupportedCipherError
	switch {
	case errors.As(err, &unsupported):
		return &FailError{Info: scep.BadAlg, Reason: fmt.Sprintf("the content cipher %s is not supported", unsupported.OID)}
	case err != nil:
		return &FailError{Info: scep.BadMessageCheck, Reason: "the pkcsPKIEnvelope is not valid enveloped data"}
	case alg.Cipher.Legacy() && !allowLegacy:
		return &FailError{Info: scep.BadAlg, Reason: fmt.Sprintf("the legacy cipher %s is not allowed at this handler", alg.Cipher)}
	}
	plain, alg, err := cms.Decrypt(r.envelope, a.RA, a.RAKey)
	if err != nil {
		return &FailError{Info: scep.BadMessageCheck, Reason: "the pkcsPKIEnvelope cannot be decrypted with the RA key"}
	}
	r.Cipher = alg
	if err := CheckReplyRecipient(r.SignerCert, alg); err != nil {
		return &FailError{Info: scep.BadAlg, Reason: err.Error()}
	}
	switch r.MessageType {
	case scep.PKCSReq, scep.RenewalReq, scep.UpdateReq:
		csr, err := x509.ParseCertificateRequest(plain)
		if err != nil {
			return &FailError{Info: scep.BadRequest, Reason: "the pkcsPKIEnvelope does not hold a valid PKCS#10 request"}
		}
		r.CSR = csr
		if r.ChallengePassword, err = x509util.ParseChallengePassword(plain); err != nil {
			return &FailError{Info: scep.BadRequest, Reason: "the CSR's challengePassword cannot be read"}
		}
	case scep.GetCert, scep.GetCRL:
		var ias IssuerAndSerial
		if rest, err := asn1.Unmarshal(plain, &ias); err != nil || len(rest) > 0 || ias.SerialNumber == nil {
			return &FailError{Info: scep.BadRequest, Reason: "the pkcsPKIEnvelope does not hold an IssuerAndSerialNumber"}
		}
		r.IssuerAndSerial = &ias
	case scep.CertPoll:
		var ias issuerAndSubject
		if _, err := asn1.Unmarshal(plain, &ias); err != nil {
			return &FailError{Info: scep.BadRequest, Reason: "the pkcsPKIEnvelope does not hold an IssuerAndSubject"}
		}
	}
	return nil
}

// Reply is what a CertRep says.
type Reply struct {
	Status   scep.PKIStatus
	FailInfo scep.FailInfo
	// Certs, for SUCCESS: the issued certificate first, then any chain.
	Certs []*x509.Certificate
	// CRL, for a SUCCESS answering GetCRL: the DER CRL.
	CRL []byte
}

// CertRep builds the signed CertRep answering req. A SUCCESS reply's
// certificates are encrypted to the request's signer with the request's own
// cipher; the signature uses the request's digest algorithm.
func (a *Authority) CertRep(req *Request, reply Reply, rnd io.Reader) ([]byte, error) {
	var content []byte
	if reply.Status == scep.SUCCESS {
		degenerate, err := degenerateSignedData(reply.Certs, reply.CRL)
		if err != nil {
			return nil, err
		}
		alg := req.Cipher
		if alg.Cipher == 0 {
			alg = cms.Algorithm{Cipher: cms.AES256CBC}
		}
		if content, err = cms.Encrypt(degenerate, req.SignerCert, alg, rnd); err != nil {
			return nil, fmt.Errorf("encrypt CertRep: %w", err)
		}
	}
	nonce := make([]byte, 16)
	if _, err := io.ReadFull(rnd, nonce); err != nil {
		return nil, err
	}
	attrs := []pkcs7.Attribute{
		{Type: OIDTransactionID, Value: req.TransactionID},
		{Type: OIDMessageType, Value: string(scep.CertRep)},
		{Type: OIDPKIStatus, Value: string(reply.Status)},
		{Type: OIDSenderNonce, Value: nonce},
		{Type: OIDRecipientNonce, Value: req.SenderNonce},
	}
	if reply.Status == scep.FAILURE {
		attrs = append(attrs, pkcs7.Attribute{Type: OIDFailInfo, Value: string(reply.FailInfo)})
	}
	sd, err := pkcs7.NewSignedData(content)
	if err != nil {
		return nil, err
	}
	sd.SetDigestAlgorithm(replyDigest(req.Digest))
	if err := sd.AddSigner(a.RA, a.RAKey, pkcs7.SignerInfoConfig{ExtraSignedAttributes: attrs}); err != nil {
		return nil, fmt.Errorf("sign CertRep: %w", err)
	}
	labelRSAEncryption(sd)
	return sd.Finish()
}

// labelRSAEncryption names the digestEncryptionAlgorithm of sd's RSA
// signers rsaEncryption, as OpenSSL and Windows write it. pkcs7 writes
// sha256WithRSAEncryption and the like, which RFC 5652 allows but which
// strongSwan refuses ("only RSA digest encryption supported"). The
// signature itself, PKCS#1 v1.5 over the signed attributes' digest, is the
// same either way.
func labelRSAEncryption(sd *pkcs7.SignedData) {
	for i := range sd.GetSignedData().SignerInfos {
		si := &sd.GetSignedData().SignerInfos[i]
		switch {
		case si.DigestEncryptionAlgorithm.Algorithm.Equal(pkcs7.OIDEncryptionAlgorithmRSASHA1),
			si.DigestEncryptionAlgorithm.Algorithm.Equal(pkcs7.OIDEncryptionAlgorithmRSASHA256),
			si.DigestEncryptionAlgorithm.Algorithm.Equal(pkcs7.OIDEncryptionAlgorithmRSASHA384),
			si.DigestEncryptionAlgorithm.Algorithm.Equal(pkcs7.OIDEncryptionAlgorithmRSASHA512):
			si.DigestEncryptionAlgorithm = pkix.AlgorithmIdentifier{Algorithm: pkcs7.OIDEncryptionAlgorithmRSA, Parameters: asn1.NullRawValue}
		}
	}
}

// degenerateSignedData encodes a certs-only (or CRL-only) SignedData, as
// CertRep carries it (RFC 8894, section 3.3.2).
func degenerateSignedData(certs []*x509.Certificate, crl []byte) ([]byte, error) {
	if crl == nil {
		var buf bytes.Buffer
		for _, c := range certs {
			buf.Write(c.Raw)
		}
		return pkcs7.DegenerateCertificate(buf.Bytes())
	}
	type contentInfo struct {
		ContentType asn1.ObjectIdentifier
	}
	type signedData struct {
		Version          int
		DigestAlgorithms asn1.RawValue
		ContentInfo      contentInfo
		CRLs             asn1.RawValue
		SignerInfos      asn1.RawValue
	}
	emptySet := asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: []byte{}}
	sd, err := asn1.Marshal(signedData{
		Version:          1,
		DigestAlgorithms: emptySet,
		ContentInfo:      contentInfo{ContentType: pkcs7.OIDData},
		CRLs:             asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 1, IsCompound: true, Bytes: crl},
		SignerInfos:      emptySet,
	})
	if err != nil {
		return nil, err
	}
	return asn1.Marshal(struct {
		ContentType asn1.ObjectIdentifier
		Content     asn1.RawValue
	}{pkcs7.OIDSignedData, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: sd}})
}

// replyDigest mirrors the request's digest where it is one we sign with.
func replyDigest(d asn1.ObjectIdentifier) asn1.ObjectIdentifier {
	for _, ok := range []asn1.ObjectIdentifier{pkcs7.OIDDigestAlgorithmSHA1, pkcs7.OIDDigestAlgorithmSHA256,
		pkcs7.OIDDigestAlgorithmSHA384, pkcs7.OIDDigestAlgorithmSHA512} {
		if d.Equal(ok) {
			return ok
		}
	}
	return pkcs7.OIDDigestAlgorithmSHA256
}

// NextCACert answers GetNextCACert (RFC 8894, section 3.5.2): a SignedData
// signed by a's RA whose content is the certs-only PKCS#7 of next's RA and
// CA chain, so that a device that trusts a learns the CA that follows it.
func (a *Authority) NextCACert(next *Authority) ([]byte, error) {
	degenerate, err := DegenerateCerts(append([]*x509.Certificate{next.RA}, next.CAChain()...))
	if err != nil {
		return nil, err
	}
	sd, err := pkcs7.NewSignedData(degenerate)
	if err != nil {
		return nil, err
	}
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	if err := sd.AddSigner(a.RA, a.RAKey, pkcs7.SignerInfoConfig{}); err != nil {
		return nil, fmt.Errorf("sign GetNextCACert: %w", err)
	}
	labelRSAEncryption(sd)
	return sd.Finish()
}

// DegenerateCerts encodes certs as a certs-only PKCS#7 (GetCACert).
func DegenerateCerts(certs []*x509.Certificate) ([]byte, error) {
	return scep.DegenerateCertificates(certs)
}

// ParseDegenerate reads the certificates of a certs-only PKCS#7.
func ParseDegenerate(der []byte) ([]*x509.Certificate, error) {
	return scep.CACerts(der)
}
