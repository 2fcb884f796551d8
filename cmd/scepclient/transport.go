package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/smallstep/pkcs7"
)

// maxReply caps what we read from a server.
const maxReply = 4 << 20

// Caps is what a server's GetCACaps advertises.
type Caps map[string]bool

// Has reports whether the server advertises capability name (any case).
func (c Caps) Has(name string) bool { return c[strings.ToLower(name)] }

// parseCaps reads a GetCACaps body: one capability per line.
func parseCaps(body string) Caps {
	c := Caps{}
	for l := range strings.SplitSeq(body, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			c[strings.ToLower(l)] = true
		}
	}
	return c
}

// Client talks SCEP over HTTP.
type Client struct {
	HTTP *http.Client
}

// NewClient returns a Client with sensible timeouts; concurrency sizes its
// connection pool.
func NewClient(timeout time.Duration, concurrency int) *Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = concurrency + 2
	tr.MaxConnsPerHost = 0
	return &Client{HTTP: &http.Client{Timeout: timeout, Transport: tr}}
}

// withOperation returns rawURL with the operation query parameter set to op
// and the message parameter removed; path and other parameters are kept
// exactly (URLs are never rewritten beyond the SCEP parameters).
func withOperation(rawURL, op string) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, problemf("The URL %q is not an http:// or https:// URL. Fix it in the configuration file.", rawURL)
	}
	q := u.Query()
	for k := range q {
		if strings.EqualFold(k, "operation") || strings.EqualFold(k, "message") {
			q.Del(k)
		}
	}
	q.Set("operation", op)
	u.RawQuery = q.Encode()
	return u, nil
}

// GetCACaps asks the SCEP handler at pkiURL what it supports. A server
// that does not answer GetCACaps gets the RFC's minimal assumptions.
func (c *Client) GetCACaps(ctx context.Context, pkiURL string) (Caps, error) {
	u, err := withOperation(pkiURL, "GetCACaps")
	if err != nil {
		return nil, err
	}
	resp, body, err := c.do(ctx, http.MethodGet, u.String(), nil, "")
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusNotFound {
		return nil, notFound(u, "certRequestUrl")
	}
	if resp.StatusCode != http.StatusOK {
		return Caps{}, nil
	}
	return parseCaps(string(body)), nil
}

// GetCACert fetches the CA certificates (and RA) from rawURL, used as is.
func (c *Client) GetCACert(ctx context.Context, rawURL string) ([]*x509.Certificate, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, problemf("caCertUrl %q is not an http:// or https:// URL. Fix it in the configuration file.", rawURL)
	}
	resp, body, err := c.do(ctx, http.MethodGet, rawURL, nil, "")
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusNotFound {
		return nil, notFound(u, "caCertUrl")
	}
	if resp.StatusCode != http.StatusOK {
		return nil, statusProblem(u, resp, body, "caCertUrl")
	}
	return parseCACerts(resp.Header.Get("Content-Type"), body)
}

// parseCACerts reads a GetCACert body: one DER certificate
// (application/x-x509-ca-cert) or a degenerate PKCS #7 of several
// (application/x-x509-ca-ra-cert).
func parseCACerts(contentType string, body []byte) ([]*x509.Certificate, error) {
	if !strings.Contains(contentType, "ca-ra-cert") {
		if c, err := x509.ParseCertificate(body); err == nil {
			return []*x509.Certificate{c}, nil
		}
	}
	p7, err := pkcs7.Parse(body)
	if err == nil && len(p7.Certificates) > 0 {
		return p7.Certificates, nil
	}
	if c, err := x509.ParseCertificate(body); err == nil {
		return []*x509.Certificate{c}, nil
	}
	return nil, problemf("The GetCACert reply (%s, %d bytes) holds no certificate. Check that caCertUrl points at a SCEP server with operation=GetCACert.", contentType, len(body))
}

// PKIOperation sends msg to the SCEP handler at pkiURL: POST when the
// server advertises POSTPKIOperation, else GET with the base64 message.
func (c *Client) PKIOperation(ctx context.Context, pkiURL string, caps Caps, msg []byte) ([]byte, error) {
	u, err := withOperation(pkiURL, "PKIOperation")
	if err != nil {
		return nil, err
	}
	var resp *http.Response
	var body []byte
	if caps.Has("POSTPKIOperation") || caps.Has("SCEPStandard") {
		resp, body, err = c.do(ctx, http.MethodPost, u.String(), msg, "application/x-pki-message")
	} else {
		q := u.Query()
		q.Set("message", base64.StdEncoding.EncodeToString(msg))
		u.RawQuery = q.Encode()
		resp, body, err = c.do(ctx, http.MethodGet, u.String(), nil, "")
	}
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == http.StatusNotFound {
		return nil, notFound(u, "certRequestUrl")
	}
	if resp.StatusCode != http.StatusOK {
		err := statusProblem(u, resp, body, "certRequestUrl")
		if b := strings.ToLower(string(body)); strings.Contains(b, "decrypt") || strings.Contains(b, "cipher") || strings.Contains(b, "algorithm") {
			err = problemf("%s The server seems unable to open the envelope: set scep.cipherAlg to aes or des3.", message(err))
		}
		return nil, err
	}
	return body, nil
}

// do runs one request and reads the body (capped).
func (c *Client) do(ctx context.Context, method, rawURL string, body []byte, contentType string, header ...string) (*http.Response, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, rd)
	if err != nil {
		return nil, nil, problemf("The URL %q cannot be used (%v). Fix it in the configuration file.", rawURL, err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return nil, nil, netProblem(req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxReply))
	if err != nil {
		return nil, nil, netProblem(req.URL, err)
	}
	return resp, b, nil
}

// basicAuth returns the header pair for HTTP Basic authentication.
func basicAuth(user, password string) []string {
	return []string{"Authorization", "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))}
}

// netProblem explains a transport error: TLS trouble, an unreachable host,
// a timeout.
func netProblem(u *url.URL, err error) error {
	host := u.Host
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	var recordErr tls.RecordHeaderError
	var verifyErr *tls.CertificateVerificationError
	var dnsErr *net.DNSError
	var opErr *net.OpError
	switch {
	case errors.As(err, &unknownCA):
		return problemf("TLS failed at %s: the server's certificate is issued by %q, which this machine does not trust. Add that CA to the system trust store, or use the server's http:// URL for testing.", host, unknownCA.Cert.Issuer.String())
	case errors.As(err, &hostErr):
		return problemf("TLS failed at %s: the server's certificate is not valid for this host name (%v). Use the host name the certificate names.", host, hostErr)
	case errors.As(err, &invalid):
		return problemf("TLS failed at %s: the server's certificate is not valid (%v). Ask the server's administrator to renew it.", host, invalid)
	case errors.As(err, &verifyErr):
		return problemf("TLS failed at %s: %v. Check the server's certificate and this machine's trust store.", host, verifyErr.Err)
	case errors.As(err, &recordErr) || strings.Contains(err.Error(), "HTTP response to HTTPS client"):
		return problemf("TLS failed at %s: the server does not speak TLS there. Use http:// instead of https://, or the right port.", host)
	case strings.Contains(err.Error(), "tls:"):
		return problemf("TLS failed at %s (%v). Check the URL's scheme and port and the server's TLS settings.", host, err)
	case errors.As(err, &dnsErr):
		return problemf("The host %q cannot be found (%v). Check the host name in the URL.", u.Hostname(), dnsErr.Err)
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return problemf("The server at %s did not answer in time. Check that it runs and is not overloaded, then try again.", host)
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return problemf("The server at %s cannot be reached (%v). Check that it runs and that the URL's host and port are right.", host, opErr.Err)
	}
	return problemf("The request to %s failed (%v). Check the URL and that the server runs.", u.Redacted(), err)
}

func isTimeout(err error) bool {
	var te interface{ Timeout() bool }
	return errors.As(err, &te) && te.Timeout()
}

// notFound explains a 404 at a SCEP URL, suggesting the handler path when
// the URL lacks /scep/ as the reference's example certRequestUrl does.
func notFound(u *url.URL, key string) error {
	p := u.Path
	if rest, ok := strings.CutPrefix(p, "/pgwy/"); ok && rest != "scep" && !strings.HasPrefix(rest, "scep/") {
		return problemf("The server has no SCEP handler at %s; did you mean /pgwy/scep/%s? Fix %s in the configuration file.", p, rest, key)
	}
	return problemf("The server has no SCEP handler at %s (HTTP 404). Check %s in the configuration file.", p, key)
}

// statusProblem explains an unexpected HTTP status.
func statusProblem(u *url.URL, resp *http.Response, body []byte, key string) error {
	text := strings.TrimSpace(string(body))
	if len(text) > 200 || !isPrintable(text) {
		text = ""
	}
	if text != "" {
		text = fmt.Sprintf(" saying %q", text)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return problemf("The server refused access to %s (HTTP %d)%s. Check the credentials for %s.", u.Path, resp.StatusCode, text, key)
	case resp.StatusCode >= 500:
		return problemf("The server failed at %s (HTTP %d)%s. Try again later, or ask its administrator to check its log.", u.Path, resp.StatusCode, text)
	}
	return problemf("The server answered HTTP %d at %s%s. Check %s in the configuration file.", resp.StatusCode, u.Path, text, key)
}

func isPrintable(s string) bool {
	for _, r := range s {
		if r < 0x20 && r != '\n' && r != '\t' && r != '\r' {
			return false
		}
	}
	return true
}
