package main

import (
	"context"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestTransportProblems(t *testing.T) {
	notFoundSrv := httptest.NewServer(http.NotFoundHandler())
	defer notFoundSrv.Close()
	failSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/cipher" {
			http.Error(w, "pkcs7: cannot decrypt data: only DES supported", http.StatusInternalServerError)
			return
		}
		http.Error(w, "boom", http.StatusInternalServerError)
	}))
	defer failSrv.Close()
	tlsSrv := httptest.NewUnstartedServer(http.NotFoundHandler())
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0)
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	plainSrv := httptest.NewServer(http.NotFoundHandler())
	defer plainSrv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + ln.Addr().String()
	ln.Close()

	c := NewClient(5*time.Second, 1)
	tests := []struct {
		name    string
		run     func() error
		wantErr string
	}{
		{"fail/404-missing-scep", func() error {
			_, err := c.GetCACaps(context.Background(), notFoundSrv.URL+"/pgwy/ndesrequest?operation=PKIOperation&message=")
			return err
		}, "The server has no SCEP handler at /pgwy/ndesrequest; did you mean /pgwy/scep/ndesrequest?"},
		{"fail/404-other", func() error {
			_, err := c.GetCACert(context.Background(), notFoundSrv.URL+"/scep?operation=GetCACert")
			return err
		}, "no SCEP handler at /scep (HTTP 404). Check caCertUrl"},
		{"fail/500", func() error {
			_, err := c.PKIOperation(context.Background(), failSrv.URL+"/scep", Caps{"postpkioperation": true}, []byte{1})
			return err
		}, "HTTP 500) saying \"boom\""},
		{"fail/500-cipher", func() error {
			_, err := c.PKIOperation(context.Background(), failSrv.URL+"/cipher", Caps{"postpkioperation": true}, []byte{1})
			return err
		}, "set scep.cipherAlg to aes or des3"},
		{"fail/unreachable", func() error {
			_, err := c.GetCACert(context.Background(), closed+"/scep")
			return err
		}, "cannot be reached"},
		{"fail/tls-unknown-ca", func() error {
			_, err := c.GetCACert(context.Background(), tlsSrv.URL+"/scep")
			return err
		}, "TLS failed"},
		{"fail/tls-to-plain", func() error {
			_, err := c.GetCACert(context.Background(), strings.Replace(plainSrv.URL, "http://", "https://", 1)+"/scep")
			return err
		}, "does not speak TLS"},
		{"fail/bad-url", func() error {
			_, err := c.GetCACert(context.Background(), "ftp://x/")
			return err
		}, "not an http:// or https:// URL"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.run()
			if err == nil || !strings.Contains(message(err), tt.wantErr) {
				t.Fatalf("got %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestWithOperation(t *testing.T) {
	tests := []struct {
		name, in, op, want string
	}{
		{"ok/reference", "http://h:8080/pgwy/scep/ndesrequest?operation=PKIOperation&message=", "GetCACaps", "http://h:8080/pgwy/scep/ndesrequest?operation=GetCACaps"},
		{"ok/no-query", "http://h/scep", "PKIOperation", "http://h/scep?operation=PKIOperation"},
		{"ok/keeps-path-and-params", "https://h/certsrv/mscep/mscep.dll/pkiclient.exe?x=1&Operation=GetCaCert", "GetCACaps", "https://h/certsrv/mscep/mscep.dll/pkiclient.exe?operation=GetCACaps&x=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := withOperation(tt.in, tt.op)
			if err != nil || u.String() != tt.want {
				t.Errorf("got %v (%v), want %s", u, err, tt.want)
			}
		})
	}
}

func TestParseCaps(t *testing.T) {
	c := parseCaps("POSTPKIOperation\r\nSHA-256\nAES\n")
	if !c.Has("postpkioperation") || !c.Has("SHA-256") || c.Has("Renewal") {
		t.Errorf("got %v, want POSTPKIOperation, SHA-256 and AES only", c)
	}
	if got := digestName(digestFor(c)); got != "SHA-256" {
		t.Errorf("digest: got %s, want SHA-256", got)
	}
	if got := digestName(digestFor(Caps{})); got != "SHA-1" {
		t.Errorf("digest without caps: got %s, want SHA-1", got)
	}
}
