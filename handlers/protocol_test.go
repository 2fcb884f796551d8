package handlers_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/scepgate/scepgate/model"
)

// TestProtocolResolve walks the protocol paths through the one router:
// which paths reach which handler, and what the others answer.
func TestProtocolResolve(t *testing.T) {
	env := newNDESEnv(t, model.DefaultNDESAttempts)
	creds := func(path string) ndesRequest {
		return ndesRequest{path: path, user: ndesTestUser, pass: ndesTestPassword}
	}
	tests := []struct {
		name   string
		req    ndesRequest
		status int
		body   string // contained in the answer
	}{
		{"ok/challenge handler under /pgwy/scep", creds("/pgwy/scep/ndeschallenge/"), http.StatusOK, ""},
		{"ok/challenge handler without its slash", creds("/pgwy/scep/ndeschallenge"), http.StatusOK, ""},
		{"ok/challenge handler under /pgwy", creds("/pgwy/ndeschallenge/"), http.StatusOK, ""},
		{"ok/scep handler with a suffix", ndesRequest{path: "/pgwy/scep/ndesrequest/pkiclient.exe?operation=GetCACaps"}, http.StatusOK, "POSTPKIOperation"},
		{"ok/scep handler under /pgwy", ndesRequest{path: "/pgwy/ndesrequest?operation=GetCACaps"}, http.StatusOK, "POSTPKIOperation"},
		{"ok/mscep.dll alias", ndesRequest{path: "/certsrv/mscep/mscep.dll/pkiclient.exe?operation=GetCACaps"}, http.StatusOK, "POSTPKIOperation"},
		{"ok/mscep_admin alias", creds("/certsrv/mscep_admin/"), http.StatusOK, ""},
		{"fail/no base handler in this configuration", ndesRequest{path: "/pgwy/scep?operation=GetCACaps"}, http.StatusNotFound, "no enabled SCEP handler"},
		{"fail/unknown filter under /pgwy", ndesRequest{path: "/pgwy/nothing?operation=GetCACaps"}, http.StatusNotFound, "live under /pgwy/scep/"},
		{"fail/a prefix that is not a segment", ndesRequest{path: "/certsrv/mscep_adminX"}, http.StatusNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := env.do(t, tt.req)
			if rec.Code != tt.status || !strings.Contains(rec.Body.String(), tt.body) {
				t.Errorf("%s: status %d, body %.120q; want %d containing %q", tt.req.path, rec.Code, rec.Body.String(), tt.status, tt.body)
			}
		})
	}
}
