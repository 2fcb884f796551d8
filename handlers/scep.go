// Package handlers translates between HTTP and the domain: the SCEP
// protocol, the NDES challenge page, the admin portal and the JSON API.
package handlers

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/scepgate/scepgate/enroll"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki"
	"github.com/smallstep/scep"
)

// MaxSCEPMessage caps a PKIOperation body (RFC 8894 messages are a few KiB).
const MaxSCEPMessage = 2 << 20

// SCEP content types (RFC 8894, section 4).
const (
	contentTypeCACert   = "application/x-x509-ca-cert"
	contentTypeCARACert = "application/x-x509-ca-ra-cert"
	contentTypeNextCA   = "application/x-x509-next-ca-cert"
	contentTypePKI      = "application/x-pki-message"
)

// SCEPService is what the SCEP handler needs from the enrollment workflow.
type SCEPService interface {
	Snapshot(ctx context.Context) (*enroll.Snapshot, error)
	Enroll(ctx context.Context, snap *enroll.Snapshot, e *enroll.Enrollment) ([]*x509.Certificate, error)
	CertPoll(ctx context.Context, snap *enroll.Snapshot, h *model.Handler, transactionID string) ([]*x509.Certificate, error)
	GetCert(ctx context.Context, snap *enroll.Snapshot, issuer []byte, serial *big.Int) (*x509.Certificate, error)
	CurrentCRL(ctx context.Context, snap *enroll.Snapshot) (*model.CRL, error)
	Rand() io.Reader
}

// SCEP serves the SCEP protocol at handlers of format scep; Protocol
// picks the handler.
type SCEP struct {
	Service SCEPService
	Log     *slog.Logger // when the request carries no logger (see LogFrom)
	// Observer counts the answers; nil counts nothing.
	Observer Observer
}

// ServeHandler answers one SCEP request at handler h.
func (s *SCEP) ServeHandler(c echo.Context, snap *enroll.Snapshot, h *model.Handler) error {
	op := queryParam(c, "operation")
	switch strings.ToLower(op) {
	case "getcacaps":
		tp, _, _ := snap.Procedures(h)
		return c.Blob(http.StatusOK, "text/plain", []byte(caps(tp, snap.Next != nil)))
	case "getcacert":
		return s.getCACert(c, snap)
	case "getnextcacert":
		return s.getNextCACert(c, snap)
	case "pkioperation":
		return s.pkiOperation(c, snap, h)
	case "":
		return c.String(http.StatusBadRequest, "The operation parameter is missing: use GetCACaps, GetCACert or PKIOperation.\n")
	default:
		return c.String(http.StatusBadRequest, fmt.Sprintf("The operation %q is not supported: use GetCACaps, GetCACert, GetNextCACert or PKIOperation.\n", op))
	}
}

// queryParam reads a query parameter whose name matches key in any case.
func queryParam(c echo.Context, key string) string {
	for k, v := range c.QueryParams() {
		if strings.EqualFold(k, key) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

// caps lists exactly what a handler running token procedure tp does
// (RFC 8894, section 3.5.2): Renewal only when tp renews (a renewal window
// of more than 0 days; nil, a handler without a procedure, does not),
// GetNextCACert only when a next CA is prepared (hasNext).
func caps(tp *model.TokenProcedure, hasNext bool) string {
	list := []string{"POSTPKIOperation"}
	if tp != nil && tp.RenewalWindowDays > 0 {
		list = append(list, "Renewal")
	}
	if hasNext {
		list = append(list, "GetNextCACert")
	}
	list = append(list, "SHA-1", "SHA-256", "SHA-512", "AES", "DES3", "SCEPStandard")
	return strings.Join(list, "\n") + "\n"
}

func (s *SCEP) getCACert(c echo.Context, snap *enroll.Snapshot) error {
	a := snap.Authority
	certs := append([]*x509.Certificate{a.RA}, a.CAChain()...)
	der, err := pki.DegenerateCerts(certs)
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, contentTypeCARACert, der)
}

// getNextCACert answers GetNextCACert with the next RA and CA, signed by
// the current RA (RFC 8894, section 3.5.2), once a next CA is prepared.
func (s *SCEP) getNextCACert(c echo.Context, snap *enroll.Snapshot) error {
	if snap.Next == nil {
		return c.String(http.StatusNotFound, "No next CA is prepared: GetCACaps lists GetNextCACert once one is.\n")
	}
	der, err := snap.Authority.NextCACert(snap.Next)
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, contentTypeNextCA, der)
}

func (s *SCEP) pkiOperation(c echo.Context, snap *enroll.Snapshot, h *model.Handler) error {
	msg, problem := readMessage(c)
	if problem != "" {
		return c.String(http.StatusBadRequest, problem+"\n")
	}
	req, err := pki.ParseRequest(msg)
	if err != nil {
		return c.String(http.StatusBadRequest, "The SCEP message cannot be used: "+err.Error()+".\n")
	}
	log := LogFrom(c.Request().Context(), s.Log).With("handler", h.Name, "transaction", req.TransactionID, "message_type", string(req.MessageType), "client", c.RealIP())
	reply, err := s.answer(c, snap, h, req, log)
	s.observeEnrollment(h.Name, req, reply)
	if err != nil {
		log.Error("scep request failed", "err", err)
		return echo.NewHTTPError(http.StatusInternalServerError)
	}
	der, err := snap.Authority.CertRep(req, reply, s.Service.Rand())
	if err != nil {
		return err
	}
	return c.Blob(http.StatusOK, contentTypePKI, der)
}

// answer runs a pkiMessage and says how to answer it: SUCCESS, PENDING, or
// FAILURE with the failInfo of what was refused. An error is an internal
// one, never the client's doing.
func (s *SCEP) answer(c echo.Context, snap *enroll.Snapshot, h *model.Handler, req *pki.Request, log *slog.Logger) (pki.Reply, error) {
	switch req.MessageType {
	case scep.PKCSReq, scep.RenewalReq, scep.UpdateReq, scep.CertPoll, scep.GetCert, scep.GetCRL:
	default:
		return refused(log, scep.BadRequest, "unknown message type"), nil
	}
	if err := req.Decrypt(snap.Authority, h.AllowLegacyCiphers); err != nil {
		var fe *pki.FailError
		if errors.As(err, &fe) {
			return refused(log, fe.Info, fe.Reason), nil
		}
		return pki.Reply{}, fmt.Errorf("decrypt: %w", err)
	}
	reply, err := s.run(c, snap, h, req, log)
	var refusal *enroll.Refusal
	switch {
	case errors.As(err, &refusal):
		if refusal.WrongChallenge {
			observer(s.Observer).AuthFailure(AuthSCEP)
		}
		if refusal.Locks {
			observer(s.Observer).Lockout(AuthSCEP)
		}
		return refused(log, failInfo(refusal.Code), refusal.Reason), nil
	case errors.Is(err, enroll.ErrPending):
		log.Info("scep request pending approval")
		return pki.Reply{Status: scep.PENDING}, nil
	case err != nil:
		return pki.Reply{}, err
	}
	if len(reply.Certs) > 0 {
		log.Debug("scep request succeeded", "cipher", req.Cipher.Cipher.String(), "subject", reply.Certs[0].Subject.String())
	}
	return reply, nil
}

// run hands a decrypted pkiMessage to the enrollment service and returns
// its SUCCESS reply, or the service's error.
func (s *SCEP) run(c echo.Context, snap *enroll.Snapshot, h *model.Handler, req *pki.Request, log *slog.Logger) (pki.Reply, error) {
	ctx := c.Request().Context()
	var certs []*x509.Certificate
	var err error
	switch req.MessageType {
	case scep.CertPoll:
		certs, err = s.Service.CertPoll(ctx, snap, h, req.TransactionID)
	case scep.GetCert:
		var cert *x509.Certificate
		cert, err = s.Service.GetCert(ctx, snap, req.IssuerAndSerial.Issuer.FullBytes, req.IssuerAndSerial.SerialNumber)
		certs = []*x509.Certificate{cert}
	case scep.GetCRL:
		crl, err := s.Service.CurrentCRL(ctx, snap)
		if err != nil {
			return pki.Reply{}, err
		}
		log.Info("CRL sent", "number", crl.Number)
		return pki.Reply{Status: scep.SUCCESS, CRL: crl.DER}, nil
	default:
		certs, err = s.Service.Enroll(ctx, snap, &enroll.Enrollment{
			Handler:       h,
			SignerCert:    req.SignerCert,
			Renewal:       req.MessageType == scep.RenewalReq,
			CSR:           req.CSR,
			Challenge:     req.ChallengePassword,
			TransactionID: req.TransactionID,
			ClientAddr:    c.RealIP(),
		})
	}
	if err != nil {
		return pki.Reply{}, err
	}
	return pki.Reply{Status: scep.SUCCESS, Certs: certs}, nil
}

// refused logs why a request is refused and returns its FAILURE reply.
func refused(log *slog.Logger, info scep.FailInfo, reason string) pki.Reply {
	log.Info("scep request refused", "reason", reason, "fail_info", info.String())
	return pki.Reply{Status: scep.FAILURE, FailInfo: info}
}

// failInfo is the SCEP failInfo that tells a client about a refusal of
// that code.
func failInfo(code enroll.RefusalCode) scep.FailInfo {
	switch code {
	case enroll.BadCertID:
		return scep.BadCertID
	case enroll.BadAlg:
		return scep.BadAlg
	default:
		return scep.BadRequest
	}
}

// readMessage returns the DER pkiMessage of a PKIOperation: the body of a
// POST, or the base64 message parameter of a GET; or else what is wrong.
func readMessage(c echo.Context) (msg []byte, problem string) {
	r := c.Request()
	if r.Method == http.MethodPost {
		body, err := io.ReadAll(io.LimitReader(r.Body, MaxSCEPMessage+1))
		if err != nil {
			return nil, "The request body could not be read."
		}
		if len(body) > MaxSCEPMessage {
			return nil, fmt.Sprintf("The message is larger than %d bytes.", MaxSCEPMessage)
		}
		if len(body) == 0 {
			return nil, "The request body is empty: POST the DER pkiMessage."
		}
		return body, ""
	}
	m := queryParam(c, "message")
	if m == "" {
		return nil, "The message parameter is missing."
	}
	if len(m) > MaxSCEPMessage*4/3+4 {
		return nil, fmt.Sprintf("The message is larger than %d bytes.", MaxSCEPMessage)
	}
	b, err := decodeBase64(m)
	if err != nil {
		return nil, "The message parameter is not valid base64."
	}
	return b, ""
}

// decodeBase64 reads the base64 of a GET message. macOS sends '+' unescaped,
// which the query decoder turns into a space; line breaks are ignored.
func decodeBase64(s string) ([]byte, error) {
	s = strings.ReplaceAll(s, " ", "+")
	s = strings.NewReplacer("\r", "", "\n", "").Replace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}
