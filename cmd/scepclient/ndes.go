package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// Challenge is a one-time password from an NDES challenge page.
type Challenge struct {
	Password     string    `json:"challenge"`
	ExpiresAt    time.Time `json:"expires_at,omitzero"`
	CAThumbprint string    `json:"ca_thumbprint,omitempty"`
}

// FetchChallenge gets one NDES challenge password from rawURL with HTTP
// Basic credentials. It asks for the HTML page MDMs scrape, unless
// wantJSON, and reads whichever of HTML (UTF-16LE with or without a
// byte-order mark, or UTF-8) or JSON comes back.
func (c *Client) FetchChallenge(ctx context.Context, rawURL, user, password string, wantJSON bool) (*Challenge, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, problemf("ndesChallengeUrl %q is not an http:// or https:// URL. Fix it in the configuration file.", rawURL)
	}
	header := basicAuth(user, password)
	if wantJSON {
		header = append(header, "Accept", "application/json")
	}
	resp, body, err := c.do(ctx, http.MethodGet, rawURL, nil, "", header...)
	if err != nil {
		return nil, err
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, problemf("The NDES challenge page refused the credentials of %q (HTTP %d). Check ndesAdminUsername and ndesAdminPassword.", user, resp.StatusCode)
	case resp.StatusCode == http.StatusNotFound:
		return nil, problemf("There is no NDES challenge page at %s (HTTP 404). Check ndesChallengeUrl; scepgate serves it at /pgwy/scep/ndeschallenge/.", u.Path)
	case resp.StatusCode != http.StatusOK:
		return nil, statusProblem(u, resp, body, "ndesChallengeUrl")
	}
	return ParseChallengePage(resp.Header.Get("Content-Type"), body)
}

var (
	rePassword   = regexp.MustCompile(`(?is)enrollment challenge password is:?\s*(?:<B>)?\s*([^<\s]+)\s*(?:</B>)?`)
	reThumbprint = regexp.MustCompile(`(?is)thumbprint \(hash value\) for the CA certificate is:?\s*(?:<B>)?\s*([0-9A-F ]+?)\s*(?:</B>|<)`)
	reExpiry     = regexp.MustCompile(`(?is)will expire within (\d+) minutes`)
)

// ParseChallengePage reads an NDES challenge reply: JSON
// {"challenge","expires_at","ca_thumbprint"} or the mscep_admin HTML page.
func ParseChallengePage(contentType string, body []byte) (*Challenge, error) {
	text := decodeText(body)
	trimmed := strings.TrimSpace(text)
	if strings.Contains(contentType, "json") || strings.HasPrefix(trimmed, "{") {
		var ch Challenge
		if err := json.Unmarshal([]byte(trimmed), &ch); err != nil || ch.Password == "" {
			return nil, problemf("The NDES challenge reply is JSON without a challenge. Check ndesChallengeUrl.")
		}
		return &ch, nil
	}
	if strings.Contains(strings.ToLower(text), "password cache is full") {
		return nil, problemf("The server's NDES password cache is full: too many passwords were handed out and not used. Use or let expire the open ones, or ask the administrator to raise the handler's cap.")
	}
	m := rePassword.FindStringSubmatch(text)
	if m == nil {
		if strings.Contains(strings.ToLower(text), "you do not have sufficient permission") {
			return nil, problemf("The NDES challenge page says the user lacks permission. Check ndesAdminUsername and ndesAdminPassword.")
		}
		return nil, problemf("The NDES challenge page has no \"enrollment challenge password\". Check that ndesChallengeUrl is the NDES challenge page (mscep_admin).")
	}
	ch := &Challenge{Password: m[1]}
	if t := reThumbprint.FindStringSubmatch(text); t != nil {
		ch.CAThumbprint = strings.ReplaceAll(t[1], " ", "")
	}
	if e := reExpiry.FindStringSubmatch(text); e != nil {
		if d, err := time.ParseDuration(e[1] + "m"); err == nil {
			ch.ExpiresAt = time.Now().Add(d).UTC().Truncate(time.Second)
		}
	}
	return ch, nil
}

// decodeText decodes an NDES page: UTF-16LE or UTF-16BE when it has a
// byte-order mark or looks like UTF-16 (NUL every other byte), else UTF-8.
func decodeText(b []byte) string {
	switch {
	case len(b) >= 2 && b[0] == 0xFF && b[1] == 0xFE:
		return utf16Decode(b[2:], binary.LittleEndian)
	case len(b) >= 2 && b[0] == 0xFE && b[1] == 0xFF:
		return utf16Decode(b[2:], binary.BigEndian)
	case len(b) >= 3 && b[0] == 0xEF && b[1] == 0xBB && b[2] == 0xBF:
		return string(b[3:])
	case looksUTF16LE(b):
		return utf16Decode(b, binary.LittleEndian)
	}
	if !utf8.Valid(b) {
		return strings.ToValidUTF8(string(b), "\uFFFD")
	}
	return string(b)
}

// looksUTF16LE reports whether most odd bytes are NUL, as in ASCII text in
// UTF-16LE.
func looksUTF16LE(b []byte) bool {
	if len(b) < 4 || len(b)%2 != 0 {
		return false
	}
	zeros := 0
	for i := 1; i < len(b); i += 2 {
		if b[i] == 0 {
			zeros++
		}
	}
	return zeros*10 >= len(b)/2*9
}

func utf16Decode(b []byte, order binary.ByteOrder) string {
	u := make([]uint16, len(b)/2)
	for i := range u {
		u[i] = order.Uint16(b[2*i:])
	}
	return string(utf16.Decode(u))
}
