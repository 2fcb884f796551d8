package main

import (
	"context"
	"encoding/binary"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
	"unicode/utf16"
)

// utf16le encodes s as UTF-16LE, with a byte-order mark if bom.
func utf16le(s string, bom bool) []byte {
	var out []byte
	if bom {
		out = append(out, 0xFF, 0xFE)
	}
	for _, u := range utf16.Encode([]rune(s)) {
		out = binary.LittleEndian.AppendUint16(out, u)
	}
	return out
}

const ndesPage = `<HTML><Head><Meta HTTP-Equiv="Content-Type" Content="text/html; charset=UTF-16"><Title>Network Device Enrollment Service</Title></Head>
<Body BgColor=#FFFFFF><Font ID=locPageFont Face="Arial">
<P> The thumbprint (hash value) for the CA certificate is: <B> 5E3B2B3A 0B0BB5C4 1D7A6D4F 2F1F0A9E </B> <P>
The enrollment challenge password is: <B> 0123456789ABCDEF </B> <P> This password can be used only once and will expire within 60 minutes.
<P> Each enrollment requires a new challenge password. You can refresh this web page to obtain a new challenge password. </P></Font></Body></HTML>`

func TestParseChallengePage(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		body        []byte
		want        string
		wantThumb   string
		wantExpiry  bool
		wantErr     string
	}{
		{name: "ok/utf16le-bom", contentType: "text/html", body: utf16le(ndesPage, true), want: "0123456789ABCDEF", wantThumb: "5E3B2B3A0B0BB5C41D7A6D4F2F1F0A9E", wantExpiry: true},
		{name: "ok/utf16le-no-bom", contentType: "text/html", body: utf16le(ndesPage, false), want: "0123456789ABCDEF", wantThumb: "5E3B2B3A0B0BB5C41D7A6D4F2F1F0A9E", wantExpiry: true},
		{name: "ok/utf8", contentType: "text/html; charset=utf-8", body: []byte(ndesPage), want: "0123456789ABCDEF", wantExpiry: true},
		{name: "ok/json", contentType: "application/json", body: []byte(`{"challenge":"ABCDEF0123456789","expires_at":"2030-01-02T03:04:05Z","ca_thumbprint":"aa:bb"}`), want: "ABCDEF0123456789", wantThumb: "aa:bb", wantExpiry: true},
		{name: "fail/cache-full", contentType: "text/html", body: utf16le("<HTML><Body>The password cache is full.</Body></HTML>", true), wantErr: "password cache is full"},
		{name: "fail/no-password", contentType: "text/html", body: []byte("<html>hello</html>"), wantErr: "no \"enrollment challenge password\""},
		{name: "fail/json-without-challenge", contentType: "application/json", body: []byte(`{"error":"x"}`), wantErr: "JSON without a challenge"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch, err := ParseChallengePage(tt.contentType, tt.body)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error: got %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("error: got %v, want none", err)
			}
			if ch.Password != tt.want {
				t.Errorf("password: got %q, want %q", ch.Password, tt.want)
			}
			if tt.wantThumb != "" && ch.CAThumbprint != tt.wantThumb {
				t.Errorf("thumbprint: got %q, want %q", ch.CAThumbprint, tt.wantThumb)
			}
			if ch.ExpiresAt.IsZero() == tt.wantExpiry {
				t.Errorf("expiry: got %v, want set %v", ch.ExpiresAt, tt.wantExpiry)
			}
		})
	}
}

func TestFetchChallenge(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pw, ok := r.BasicAuth()
		if !ok || user != "ndesadmin" || pw != "right" {
			w.Header().Set("WWW-Authenticate", `Basic realm="ndes"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.URL.Path == "/full/" {
			w.Header().Set("Content-Type", "text/html")
			_, _ = w.Write(utf16le("The password cache is full.", true))
			return
		}
		if strings.Contains(r.Header.Get("Accept"), "application/json") {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"challenge":"JSON0123456789AB","expires_at":"2030-01-01T00:00:00Z","ca_thumbprint":"x"}`))
			return
		}
		w.Header().Set("Content-Type", "text/html")
		_, _ = w.Write(utf16le(ndesPage, false))
	}))
	defer srv.Close()
	c := NewClient(5*time.Second, 1)
	tests := []struct {
		name     string
		path     string
		password string
		json     bool
		want     string
		wantErr  string
	}{
		{name: "ok/html", path: "/ndes/", password: "right", want: "0123456789ABCDEF"},
		{name: "ok/json", path: "/ndes/", password: "right", json: true, want: "JSON0123456789AB"},
		{name: "fail/credentials", path: "/ndes/", password: "wrong", wantErr: "refused the credentials of \"ndesadmin\" (HTTP 401)"},
		{name: "fail/cache-full", path: "/full/", password: "right", wantErr: "cache is full"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch, err := c.FetchChallenge(context.Background(), srv.URL+tt.path, "ndesadmin", tt.password, tt.json)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error: got %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || ch.Password != tt.want {
				t.Fatalf("got %v, %v; want %q", ch, err, tt.want)
			}
		})
	}
}
