package main

import (
	"context"
	"crypto/sha256"
	"net/http"

	"github.com/scepgate/scepgate/pki"
	"github.com/smallstep/pkcs7"
)

// Files getnextcacert writes in the workdir.
const (
	fileNextCAChain = "next-ca-chain.pem" // getnextcacert: the CA certificates that follow
	fileNextRA      = "next-ra.cer"       // getnextcacert: the RA certificate that follows (DER)
)

// GetNextCACert fetches the CA and RA that are to follow the current ones
// (RFC 8894, section 3.5.2), checks that the RA or CA getcacert saved
// signed them, and saves them beside the current ones.
func (s *Session) GetNextCACert(ctx context.Context) error {
	if s.Config.CACertURL == "" {
		return problemf("caCertUrl is not set. Add it to the configuration file, such as caCertUrl = http://localhost:8080/pgwy/scep?operation=GetCACert&message=none.")
	}
	_, known, err := s.loadCAState()
	if err != nil {
		return err
	}
	u, err := withOperation(s.Config.CACertURL, "GetNextCACert")
	if err != nil {
		return err
	}
	resp, body, err := s.Client.do(ctx, http.MethodGet, u.String(), nil, "")
	if err != nil {
		return err
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return problemf("The server has no next CA at %s. Ask its administrator whether a rollover is prepared (GetCACaps lists GetNextCACert once it is).", u.Redacted())
	default:
		return statusProblem(u, resp, body, "caCertUrl")
	}
	p7, err := pkcs7.Parse(body)
	if err != nil {
		return problemf("The GetNextCACert answer is not CMS signed data (%v). Check that caCertUrl names a SCEP server.", err)
	}
	signer := p7.GetOnlySigner()
	if signer == nil || p7.Verify() != nil {
		return problemf("The GetNextCACert answer's signature does not verify. Do not trust the CA it names.")
	}
	if !containsCert(known, signer) {
		return problemf("The GetNextCACert answer is signed by %q, which is not the RA or CA getcacert saved. Run getcacert again if the CA changed, and do not trust the CA it names.", signer.Subject.String())
	}
	certs, err := pki.ParseDegenerate(p7.Content)
	if err != nil || len(certs) == 0 {
		return problemf("The GetNextCACert answer holds no certificates.")
	}
	ra, _, err := pickRA(certs)
	if err != nil {
		return err
	}
	chain := caCerts(certs)
	if len(chain) == 0 {
		return problemf("The GetNextCACert answer holds no CA certificate, only %q.", ra.Subject.String())
	}
	if err := writeFile(s.path(fileNextCAChain), pemCerts(chain...), 0o644); err != nil {
		return err
	}
	if err := writeFile(s.path(fileNextRA), ra.Raw, 0o644); err != nil {
		return err
	}
	for _, c := range chain {
		s.say("Next CA: %s (SHA-256 %s)", c.Subject.String(), fingerprint(sha256.New(), c.Raw))
	}
	s.say("Next RA: %s (SHA-256 %s)", ra.Subject.String(), fingerprint(sha256.New(), ra.Raw))
	s.say("Signed by %s. Saved the next CA chain in %s and the next RA in %s.", signer.Subject.String(), s.path(fileNextCAChain), s.path(fileNextRA))
	return nil
}
