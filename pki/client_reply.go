package pki

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"strconv"

	"github.com/scepgate/scepgate/pki/cms"
	"github.com/smallstep/pkcs7"
	"github.com/smallstep/scep"
)

// CertRep is a CertRep as a client reads it (RFC 8894, section 3.3.2): its
// signature verified, its attributes read. It is the client's side of
// Authority.CertRep.
type CertRep struct {
	Status   scep.PKIStatus
	FailInfo scep.FailInfo // for FAILURE; empty when the server sent none
	// TransactionID and RecipientNonce must echo the request; Check
	// compares them.
	TransactionID  string
	RecipientNonce []byte
	SenderNonce    []byte
	// Digest is the signature's digest algorithm; Signer made it.
	Digest asn1.ObjectIdentifier
	Signer *x509.Certificate

	envelope []byte

	// Set by Decrypt, for SUCCESS.
	Cipher cms.Algorithm
	// Certs are the certificates the reply carries: for a PKCSReq, the
	// issued one and, as the server chooses, its chain.
	Certs []*x509.Certificate
	// CRLs answer a GetCRL.
	CRLs []*x509.RevocationList
}

// CertRepCode says what is wrong with a CertRep a client cannot accept.
type CertRepCode int

// The problems a CertRep can have, in the order a client meets them.
const (
	// CertRepMalformed: not CMS signed data with exactly one signer.
	CertRepMalformed CertRepCode = iota + 1
	// CertRepBadSignature: the signature does not verify.
	CertRepBadSignature
	// CertRepUntrustedSigner: the signer is not among the trusted
	// certificates (Got names it).
	CertRepUntrustedSigner
	// CertRepNotCertRep: the messageType is not CertRep (Got).
	CertRepNotCertRep
	// CertRepBadStatus: the pkiStatus is missing or unknown (Got).
	CertRepBadStatus
	// CertRepWrongTransaction: the transactionID (Got) is not the
	// request's (Want).
	CertRepWrongTransaction
	// CertRepWrongNonce: the recipientNonce is not the request's
	// senderNonce, so the reply may be a replay.
	CertRepWrongNonce
	// CertRepNoContent: a SUCCESS without an encrypted content.
	CertRepNoContent
	// CertRepUndecryptable: the content cannot be decrypted with the
	// requester's key.
	CertRepUndecryptable
	// CertRepBadContent: the decrypted content is not a certs-only
	// SignedData, or holds neither a certificate nor a CRL.
	CertRepBadContent
)

// CertRepError is a CertRep a client cannot accept or read. Code says
// what is wrong; Got and Want say what the reply had and what was expected,
// where that helps; Err is the cause from the CMS layer, if any.
type CertRepError struct {
	Code      CertRepCode
	Got, Want string
	Err       error
}

func (e *CertRepError) Error() string {
	var msg string
	switch e.Code {
	case CertRepMalformed:
		msg = "the CertRep is not CMS signed data with one signer"
	case CertRepBadSignature:
		msg = "the CertRep's signature does not verify"
	case CertRepUntrustedSigner:
		msg = fmt.Sprintf("the CertRep is signed by %q, which is not a trusted RA or CA", e.Got)
	case CertRepNotCertRep:
		msg = fmt.Sprintf("the reply's messageType is %q, not CertRep (3)", e.Got)
	case CertRepBadStatus:
		msg = fmt.Sprintf("the CertRep's pkiStatus is %q, not SUCCESS (0), FAILURE (2) or PENDING (3)", e.Got)
	case CertRepWrongTransaction:
		msg = fmt.Sprintf("the CertRep's transactionID is %q, not the request's %q", e.Got, e.Want)
	case CertRepWrongNonce:
		msg = "the CertRep's recipientNonce is not the request's senderNonce"
	case CertRepNoContent:
		msg = "the CertRep says SUCCESS but carries no content"
	case CertRepUndecryptable:
		msg = "the CertRep's content cannot be decrypted with the requester's key"
	case CertRepBadContent:
		msg = "the CertRep's content is not a certificate or CRL list"
	default:
		msg = "the CertRep cannot be read"
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *CertRepError) Unwrap() error { return e.Err }

// ErrPending is what Decrypt returns for a PENDING CertRep: the server
// holds the request and the client polls for it later (CertPoll).
var ErrPending = errors.New("the server holds the request PENDING; poll for the certificate later")

// ParseCertRep parses a CertRep, verifies its signature, which must be made
// by one of trusted (the RA or CA certificates from GetCACert; they also
// verify a reply that does not carry its signer), and reads its
// attributes. Errors are *CertRepError. ParseCertRep does not compare the
// reply with a request: Check does, and ReadCertRep does both.
func ParseCertRep(der []byte, trusted []*x509.Certificate) (rep *CertRep, err error) {
	defer func() {
		// The PKCS#7 parser is not ours; no reply may take the client down.
		if r := recover(); r != nil {
			rep, err = nil, &CertRepError{Code: CertRepMalformed, Err: fmt.Errorf("%v", r)}
		}
	}()
	p7, err := pkcs7.Parse(der)
	if err != nil {
		return nil, &CertRepError{Code: CertRepMalformed, Err: err}
	}
	if len(p7.Signers) != 1 {
		return nil, &CertRepError{Code: CertRepMalformed, Err: fmt.Errorf("it has %d signers", len(p7.Signers))}
	}
	p7.Certificates = append(p7.Certificates, trusted...)
	if err := p7.Verify(); err != nil {
		return nil, &CertRepError{Code: CertRepBadSignature, Err: err}
	}
	signer := p7.GetOnlySigner()
	if signer == nil {
		return nil, &CertRepError{Code: CertRepBadSignature, Err: errors.New("its signer's certificate is missing")}
	}
	if !hasCert(trusted, signer) {
		return nil, &CertRepError{Code: CertRepUntrustedSigner, Got: signer.Subject.String()}
	}
	rep = &CertRep{Signer: signer, Digest: p7.Signers[0].DigestAlgorithm.Algorithm, envelope: p7.Content}
	var mt, status string
	if err := p7.UnmarshalSignedAttribute(OIDMessageType, &mt); err != nil || scep.MessageType(mt) != scep.CertRep {
		return nil, &CertRepError{Code: CertRepNotCertRep, Got: mt}
	}
	_ = p7.UnmarshalSignedAttribute(OIDPKIStatus, &status)
	rep.Status = scep.PKIStatus(status)
	switch rep.Status {
	case scep.SUCCESS, scep.PENDING:
	case scep.FAILURE:
		// RFC 8894 requires a failInfo with FAILURE; a reply without one
		// is still a refusal, and the caller says so.
		var fi string
		_ = p7.UnmarshalSignedAttribute(OIDFailInfo, &fi)
		rep.FailInfo = scep.FailInfo(fi)
	default:
		return nil, &CertRepError{Code: CertRepBadStatus, Got: status}
	}
	// Missing echoes stay empty: Check reports them against the request.
	_ = p7.UnmarshalSignedAttribute(OIDTransactionID, &rep.TransactionID)
	_ = p7.UnmarshalSignedAttribute(OIDRecipientNonce, &rep.RecipientNonce)
	_ = p7.UnmarshalSignedAttribute(OIDSenderNonce, &rep.SenderNonce)
	return rep, nil
}

// Check compares the reply with the request it answers: the transactionID
// must be echoed, and the recipientNonce must be the request's senderNonce.
// Errors are *CertRepError.
func (r *CertRep) Check(req *ClientMessage) error {
	if r.TransactionID != req.TransactionID {
		return &CertRepError{Code: CertRepWrongTransaction, Got: r.TransactionID, Want: req.TransactionID}
	}
	if len(req.SenderNonce) == 0 || !bytes.Equal(r.RecipientNonce, req.SenderNonce) {
		return &CertRepError{Code: CertRepWrongNonce}
	}
	return nil
}

// ReadCertRep reads the CertRep answering req: ParseCertRep, then Check.
// Decrypt then opens a SUCCESS.
func ReadCertRep(der []byte, req *ClientMessage, trusted []*x509.Certificate) (*CertRep, error) {
	rep, err := ParseCertRep(der, trusted)
	if err != nil {
		return nil, err
	}
	if err := rep.Check(req); err != nil {
		return nil, err
	}
	return rep, nil
}

// Decrypt opens a SUCCESS reply with the requester's certificate and key
// (those that signed the request: the reply is encrypted to them) and
// reads the certs-only SignedData inside into r.Certs and r.CRLs, and the
// cipher it was encrypted with into r.Cipher. A reply that is not SUCCESS
// has nothing to open: the error is then a *FailError carrying the
// failInfo, or ErrPending. Other errors are *CertRepError.
func (r *CertRep) Decrypt(recipient *x509.Certificate, key crypto.Decrypter) (err error) {
	switch r.Status {
	case scep.FAILURE:
		return &FailError{Info: r.FailInfo, Reason: "the server answered FAILURE, " + failInfoPhrase(r.FailInfo)}
	case scep.PENDING:
		return ErrPending
	}
	if len(r.envelope) == 0 {
		return &CertRepError{Code: CertRepNoContent}
	}
	plain, alg, err := cms.Decrypt(r.envelope, recipient, key)
	if err != nil {
		return &CertRepError{Code: CertRepUndecryptable, Err: err}
	}
	certs, crls, err := readDegenerate(plain)
	if err != nil {
		return &CertRepError{Code: CertRepBadContent, Err: err}
	}
	if len(certs) == 0 && len(crls) == 0 {
		return &CertRepError{Code: CertRepBadContent, Err: errors.New("it holds neither a certificate nor a CRL")}
	}
	r.Cipher, r.Certs, r.CRLs = alg, certs, crls
	return nil
}

// readDegenerate reads the certificates and CRLs of a certs-only (or
// CRL-only) SignedData.
func readDegenerate(der []byte) (certs []*x509.Certificate, crls []*x509.RevocationList, err error) {
	defer func() {
		if r := recover(); r != nil {
			certs, crls, err = nil, nil, errors.New("it is not valid CMS")
		}
	}()
	p7, err := pkcs7.Parse(der)
	if err != nil {
		return nil, nil, err
	}
	for _, c := range p7.CRLs {
		b, err := asn1.Marshal(c)
		if err != nil {
			return nil, nil, err
		}
		crl, err := x509.ParseRevocationList(b)
		if err != nil {
			return nil, nil, fmt.Errorf("a CRL cannot be read: %w", err)
		}
		crls = append(crls, crl)
	}
	return p7.Certificates, crls, nil
}

// FailInfoName returns the RFC 8894 name of a failInfo, such as
// "badRequest", or "" for a value the RFC does not define.
func FailInfoName(fi scep.FailInfo) string {
	switch fi {
	case scep.BadAlg:
		return "badAlg"
	case scep.BadMessageCheck:
		return "badMessageCheck"
	case scep.BadRequest:
		return "badRequest"
	case scep.BadTime:
		return "badTime"
	case scep.BadCertID:
		return "badCertId"
	}
	return ""
}

// failInfoPhrase names fi for an error message; scep.FailInfo's own String
// panics on values it does not know.
func failInfoPhrase(fi scep.FailInfo) string {
	switch name := FailInfoName(fi); {
	case name != "":
		return "failInfo " + name + " (" + string(fi) + ")"
	case fi == "":
		return "without a failInfo"
	default:
		return "with the unknown failInfo " + strconv.Quote(string(fi))
	}
}

// hasCert reports whether certs holds c.
func hasCert(certs []*x509.Certificate, c *x509.Certificate) bool {
	for _, k := range certs {
		if bytes.Equal(k.Raw, c.Raw) {
			return true
		}
	}
	return false
}
