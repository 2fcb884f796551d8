package handlers_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/scepgate/scepgate/internal/testenv"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/store"
)

// The fuzz targets drive the whole in-process stack (testenv: middleware,
// routing, handlers, enrollment, a real SQLite file). A plain `go test`
// runs their seeds; `make fuzz` fuzzes each for FUZZTIME.

// goldenMessages returns the recorded requests of testdata/.
func goldenMessages(f *testing.F) [][]byte {
	var out [][]byte
	for _, g := range golden {
		b, err := os.ReadFile(filepath.Join("testdata", g.name+".der"))
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// serve answers req in process and returns the recorded response.
func serve(h http.Handler, req *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// FuzzSCEPAnswer POSTs arbitrary PKIOperation bodies to SCEP handlers, the
// golden requests (whose passwords are registered) among the seeds:
// whatever the body, the answer is a CertRep or a 4xx with a reason,
// never a 5xx and never a panic (which the recovery middleware would turn
// into a 500).
func FuzzSCEPAnswer(f *testing.F) {
	fx := newFixture(f)
	for _, g := range golden {
		fx.preRegister(g.password, "")
	}
	for i, m := range goldenMessages(f) {
		f.Add(m, uint8(i))
	}
	f.Add([]byte{}, uint8(0))
	f.Add([]byte("not CMS"), uint8(1))
	paths := []string{"/pgwy/scep", "/pgwy/scep/strict", "/pgwy/scep/approve/pkiclient.exe", "/pgwy/ndesrequest", "/certsrv/mscep/mscep.dll"}
	f.Fuzz(func(t *testing.T, body []byte, path uint8) {
		p := paths[int(path)%len(paths)]
		req := httptest.NewRequest(http.MethodPost, p+"?operation=PKIOperation", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/x-pki-message")
		rec := serve(fx.h, req)
		if rec.Code >= 500 {
			t.Fatalf("POST %s: status %d (%q); want a CertRep or a 4xx", p, rec.Code, rec.Body.String())
		}
		if rec.Code == http.StatusOK && rec.Header().Get("Content-Type") != "application/x-pki-message" {
			t.Fatalf("POST %s: 200 with Content-Type %q; want a CertRep", p, rec.Header().Get("Content-Type"))
		}
	})
}

// FuzzSCEPQuery sends arbitrary query strings to a SCEP handler, by GET
// and POST: GetCACaps, GetCACert, PKIOperation by GET with its message
// parameter, and anything else. Never a 5xx, never a panic.
func FuzzSCEPQuery(f *testing.F) {
	fx := newFixture(f)
	f.Add("operation=GetCACaps")
	f.Add("OPERATION=getcacaps&message=x")
	f.Add("operation=GetCaCert&message=none")
	f.Add("operation=GetCACert&operation=GetCACaps")
	f.Add("operation=GetNextCACert")
	f.Add("operation=PKIOperation&message=%%%")
	f.Add("operation=PKIOperation&message=" + url.QueryEscape("MIIB+/ab=="))
	f.Add("operation=%ZZ&x=\x00\xff")
	f.Add("")
	for _, m := range goldenMessages(f) {
		f.Add("operation=PKIOperation&message=" + url.QueryEscape(base64.StdEncoding.EncodeToString(m)))
	}
	f.Fuzz(func(t *testing.T, query string) {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			req := httptest.NewRequest(method, "/pgwy/scep/pkiclient.exe", nil)
			req.URL.RawQuery = query
			req.RequestURI = req.URL.Path + "?" + query
			rec := serve(fx.h, req)
			if rec.Code >= 500 {
				t.Fatalf("%s ?%s: status %d (%q); want no server error", method, query, rec.Code, rec.Body.String())
			}
		}
	})
}

// FuzzNDESAuthorization sends arbitrary Authorization headers to an NDES
// challenge handler: the answer is a password page (200), a Basic
// challenge (401) or a lockout (429), nothing else, and never a panic.
// Each input comes from an address of its own, as the limiter counts per
// address.
func FuzzNDESAuthorization(f *testing.F) {
	const user, password = "ndesadmin", "fuzz-ndes-password"
	env := testenv.New(f, testenv.Options{Seed: &store.Seed{
		Handlers: []store.SeedHandler{{Handler: model.Handler{Name: "ndeschallenge", Filter: "ndeschallenge/", Format: model.HandlerNDES, Enabled: true,
			NDESUsername: user, NDESPasswordHash: testenv.Hash(f, password), NDESChallengeValidity: "PT15M",
			NDESPasswordLength: model.DefaultNDESPasswordLength, NDESPasswordCap: 5}}},
	}})
	basic := func(s string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, h := range []string{
		basic(user + ":" + password), basic(user + ":wrong"), basic(user), basic(":"), basic("\x00:\xff"),
		"Basic", "Basic ", "Basic !!!", "basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password)),
		"Bearer x", "Digest username=\"ndesadmin\"", "", "Basic " + string(bytes.Repeat([]byte("A"), 10000)),
	} {
		f.Add(h)
	}
	var client atomic.Uint32
	f.Fuzz(func(t *testing.T, authorization string) {
		for _, accept := range []string{"", "application/json"} {
			req := httptest.NewRequest(http.MethodGet, "/pgwy/scep/ndeschallenge/", nil)
			req.Header.Set("Authorization", authorization)
			if accept != "" {
				req.Header.Set("Accept", accept)
			}
			n := client.Add(1)
			req.RemoteAddr = fmt.Sprintf("10.%d.%d.%d:40000", byte(n>>16), byte(n>>8), byte(n))
			rec := serve(env.Echo, req)
			switch rec.Code {
			case http.StatusOK, http.StatusUnauthorized, http.StatusTooManyRequests:
			case http.StatusServiceUnavailable:
				// JSON clients are told the password cache is full with a 503.
				if accept == "" {
					t.Fatalf("Authorization %q: 503 to an HTML client; want 200, 401 or 429", authorization)
				}
			default:
				t.Fatalf("Authorization %q: status %d (%q); want 200, 401 or 429", authorization, rec.Code, rec.Body.String())
			}
		}
		// Passwords handed out expire, so the cache never stays full.
		env.Clock.Add(time.Minute)
	})
}
