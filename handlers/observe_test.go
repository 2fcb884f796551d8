package handlers_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/scepgate/scepgate/handlers"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki"
	"github.com/smallstep/scep"
)

// recorder is an Observer that writes down what it is told.
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) add(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, fmt.Sprintf(format, args...))
}

func (r *recorder) Enrollment(handler, messageType, result string) {
	r.add("enrollment %s %s %s", handler, messageType, result)
}
func (r *recorder) NDESIssued(handler string)    { r.add("issued %s", handler) }
func (r *recorder) NDESCacheFull(handler string) { r.add("cache full %s", handler) }
func (r *recorder) AuthFailure(kind string)      { r.add("auth failure %s", kind) }
func (r *recorder) Lockout(kind string)          { r.add("lockout %s", kind) }

func (r *recorder) list() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// TestNDESObserver checks what the NDES handler reports: passwords handed
// out, the cache full, wrong credentials and the lockout they lead to, and
// nothing for a request without credentials.
func TestNDESObserver(t *testing.T) {
	limits := model.DefaultNDESAttempts
	limits.FreeFailures, limits.LockAfter = 100, 2
	rec := &recorder{}
	env := newNDESEnvWith(t, limits, handlers.PasswordCheckerConfig{}, rec)
	for _, r := range []struct {
		req  ndesRequest
		want int
	}{
		{ndesRequest{path: "/pgwy/scep/tiny/", user: ndesTestUser, pass: ndesTestPassword}, http.StatusOK},
		{ndesRequest{path: "/pgwy/scep/tiny/", user: ndesTestUser, pass: ndesTestPassword}, http.StatusOK},
		{ndesRequest{path: "/pgwy/scep/tiny/", user: ndesTestUser, pass: ndesTestPassword}, http.StatusOK}, // the cache-full page
		{ndesRequest{path: "/pgwy/scep/ndeschallenge/"}, http.StatusUnauthorized},
		{ndesRequest{path: "/pgwy/scep/ndeschallenge/", user: ndesTestUser, pass: "wrong"}, http.StatusUnauthorized},
		{ndesRequest{path: "/pgwy/scep/ndeschallenge/", user: ndesTestUser, pass: "wrong"}, http.StatusTooManyRequests},
	} {
		if got := env.do(t, r.req); got.Code != r.want {
			t.Fatalf("%+v: status %d, want %d", r.req, got.Code, r.want)
		}
	}
	want := []string{"issued tiny", "issued tiny", "cache full tiny", "auth failure ndes", "auth failure ndes", "lockout ndes"}
	if got := rec.list(); !slices.Equal(got, want) {
		t.Errorf("observed %q, want %q", got, want)
	}
}

// TestNDESLogsThroughRequestLogger checks that the NDES handler writes to
// the logger its request carries, the one with the request's id.
func TestNDESLogsThroughRequestLogger(t *testing.T) {
	env := newNDESEnv(t, model.DefaultNDESAttempts)
	req := httptest.NewRequest(http.MethodGet, "/pgwy/scep/ndeschallenge/", nil)
	req.SetBasicAuth(ndesTestUser, "wrong")
	req.Header.Set("X-Request-Id", "rid-1")
	req.RemoteAddr = "192.0.2.1:40000"
	env.echo.ServeHTTP(httptest.NewRecorder(), req)
	for _, line := range strings.Split(env.logs.String(), "\n") {
		if strings.Contains(line, "ndes credentials refused") {
			if !strings.Contains(line, "request_id=rid-1") {
				t.Errorf("the refusal was logged without the request's id: %q", line)
			}
			return
		}
	}
	t.Errorf("no refusal in the log:\n%s", env.logs.String())
}

func TestEnrollmentResult(t *testing.T) {
	for _, c := range []struct {
		reply pki.Reply
		want  string
	}{
		{pki.Reply{Status: scep.SUCCESS}, "success"},
		{pki.Reply{Status: scep.PENDING}, "pending"},
		{pki.Reply{Status: scep.FAILURE, FailInfo: scep.BadAlg}, "badAlg"},
		{pki.Reply{Status: scep.FAILURE, FailInfo: scep.BadMessageCheck}, "badMessageCheck"},
		{pki.Reply{Status: scep.FAILURE, FailInfo: scep.BadRequest}, "badRequest"},
		{pki.Reply{Status: scep.FAILURE, FailInfo: scep.BadTime}, "badTime"},
		{pki.Reply{Status: scep.FAILURE, FailInfo: scep.BadCertID}, "badCertId"},
		{pki.Reply{}, "error"},
	} {
		if got := handlers.EnrollmentResult(c.reply); got != c.want {
			t.Errorf("handlers.EnrollmentResult(%+v) = %q, want %q", c.reply, got, c.want)
		}
	}
	for typ, want := range map[scep.MessageType]string{scep.PKCSReq: "PKCSReq", scep.RenewalReq: "RenewalReq", scep.CertPoll: "CertPoll",
		scep.GetCert: "GetCert", scep.GetCRL: "GetCRL", scep.CertRep: "unknown", "999": "unknown", "whatever a client sends": "unknown"} {
		if got := handlers.MessageTypeName(typ); got != want {
			t.Errorf("handlers.MessageTypeName(%q) = %q, want %q", typ, got, want)
		}
	}
}

func TestLogFrom(t *testing.T) {
	fallback := slog.New(slog.DiscardHandler)
	own := slog.New(slog.DiscardHandler).With("a", 1)
	if got := handlers.LogFrom(context.Background(), fallback); got != fallback {
		t.Error("LogFrom without a request logger: want the fallback")
	}
	if got := handlers.LogFrom(handlers.WithLog(context.Background(), own), fallback); got != own {
		t.Error("LogFrom with a request logger: want it")
	}
	if handlers.LogFrom(context.Background(), nil) == nil {
		t.Error("LogFrom with no logger at all: want a discarding logger, got nil")
	}
}
