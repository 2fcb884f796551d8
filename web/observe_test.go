package web_test

import (
	"bufio"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scepgate/scepgate/admin"
	"github.com/scepgate/scepgate/internal/testenv"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	pmodel "github.com/prometheus/common/model"
	"github.com/smallstep/scep"

	"github.com/scepgate/scepgate/handlers"
	"github.com/scepgate/scepgate/internal/sceptest"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/store"
)

// logBuffer collects what the server logs while a test reads it.
type logBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// lines returns every log line as a JSON object; it fails the test on a
// line that is not one.
func (l *logBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(l.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q is not JSON: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

const (
	obsNDESUser     = "ndesadmin"
	obsNDESPassword = "ndes-basic-secret-7"
)

// observed is the whole web stack over a real SQLite file, with metrics
// served at /metrics, /readyz, the NDES challenge handler, and a JSON
// logger at debug level writing to logs.
type observed struct {
	*portal
	ra   *x509.Certificate
	logs *logBuffer
}

func newObserved(t *testing.T) *observed {
	t.Helper()
	ctx := context.Background()
	cp := func(name string, f model.CertificateFormat) model.CertificateProcedure {
		return model.CertificateProcedure{Name: name, Format: f, KeyUsageMode: model.KeyUsageFromCSR,
			KeyUsages: "digitalSignature,keyEncipherment", ExtKeyUsages: "clientAuth", ValidityDays: 30, MinRSABits: 2048}
	}
	tp := func(name, cert string) store.SeedTokenProcedure {
		return store.SeedTokenProcedure{TokenProcedure: model.TokenProcedure{Name: name, StorageProfile: model.StorageProfilePKCS10,
			IssuerCertificates: model.IssuerCertsStoreAll, InputView: model.InputViewSCEPRegistrations}, CertificateProcedures: []string{cert}}
	}
	seed := &store.Seed{
		CertificateProcedures: []model.CertificateProcedure{cp("Device", model.FormatSCEP), cp("NDES device", model.FormatNDESDynamic)},
		TokenProcedures:       []store.SeedTokenProcedure{tp("Device enroll", "Device"), tp("NDES enroll", "NDES device")},
		Handlers: []store.SeedHandler{
			{Handler: model.Handler{Name: "scep", Format: model.HandlerSCEP, Enabled: true}, TokenProcedure: "Device enroll"},
			{Handler: model.Handler{Name: "ndesrequest", Filter: "ndesrequest", Format: model.HandlerSCEP, Enabled: true}, TokenProcedure: "NDES enroll"},
			{Handler: model.Handler{Name: "ndeschallenge", Filter: "ndeschallenge/", Format: model.HandlerNDES, Enabled: true,
				NDESUsername: obsNDESUser, NDESPasswordHash: testenv.Hash(t, obsNDESPassword), NDESChallengeValidity: "PT15M",
				NDESPasswordLength: model.DefaultNDESPasswordLength, NDESPasswordCap: model.DefaultNDESPasswordCap}},
		},
		Users: []model.User{{Username: "admin", PasswordHash: testenv.Hash(t, testPassword), Role: model.RoleAdmin}},
	}
	logs := &logBuffer{}
	env := testenv.New(t, testenv.Options{Start: time.Now(), Seed: seed, Metrics: true,
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Attempts: model.AttemptPolicies{
			// The third wrong password locks the address out, at once.
			NDES: model.AttemptPolicy{FreeFailures: 100, LockAfter: 3, LockFor: time.Hour, Window: time.Hour},
			// The second wrong password locks the user name.
			Portal: model.AttemptPolicy{FreeFailures: 10, LockAfter: 2, LockFor: time.Hour, Window: time.Hour},
		},
	})
	if err := env.DB.SetPublicURL(ctx, env.Server.URL); err != nil {
		t.Fatal(err)
	}
	return &observed{portal: &portal{t: t, db: env.DB, svc: env.Enroll, srv: env.Server, clock: env.Clock, admin: env.Admin}, ra: env.Authority.RA, logs: logs}
}

// enroll sends a PKCSReq for cn with challenge to the handler at path and
// returns the CertRep's status and failInfo, and the response's request id.
func (o *observed) enroll(path, cn, challenge string) (scep.PKIStatus, scep.FailInfo, string) {
	o.t.Helper()
	dev, err := sceptest.NewDevice(cn)
	if err != nil {
		o.t.Fatal(err)
	}
	msg, err := dev.Build(o.ra, sceptest.Request{Subject: pkix.Name{CommonName: cn}, Challenge: challenge})
	if err != nil {
		o.t.Fatal(err)
	}
	resp, err := http.Post(o.srv.URL+path+"?operation=PKIOperation", "application/x-pki-message", strings.NewReader(string(msg.DER)))
	if err != nil {
		o.t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		o.t.Fatalf("PKIOperation at %s: status %d, want 200; body %s", path, resp.StatusCode, body)
	}
	rep, err := dev.ReadCertRep(body, o.ra)
	if err != nil {
		o.t.Fatal(err)
	}
	return rep.Status, rep.FailInfo, resp.Header.Get("X-Request-Id")
}

// ndes fetches a password from the NDES challenge handler with Basic
// credentials, as JSON, and returns the status, the password when one was
// handed out, and the request id.
func (o *observed) ndes(user, password string) (status int, challenge, requestID string) {
	o.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, o.srv.URL+"/pgwy/scep/ndeschallenge/", nil)
	req.SetBasicAuth(user, password)
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		o.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Challenge string }
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.Challenge, resp.Header.Get("X-Request-Id")
}

// scrape fetches /metrics and parses it.
func (o *observed) scrape() map[string]*dto.MetricFamily {
	o.t.Helper()
	resp, err := http.Get(o.srv.URL + "/metrics")
	if err != nil {
		o.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		o.t.Fatalf("GET /metrics: status %d, want 200", resp.StatusCode)
	}
	p := expfmt.NewTextParser(pmodel.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		o.t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// sample returns the value of the counter or gauge name with exactly the
// labels given, and whether there is one.
func sample(fams map[string]*dto.MetricFamily, name string, labels ...string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		if len(m.GetLabel())*2 != len(labels) {
			continue
		}
		for _, l := range m.GetLabel() {
			found := false
			for i := 0; i < len(labels); i += 2 {
				if labels[i] == l.GetName() && labels[i+1] == l.GetValue() {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
	}
	return 0, false
}

func TestMetrics(t *testing.T) {
	o := newObserved(t)
	ctx := context.Background()
	if _, err := o.admin.AddPreRegistration(ctx, admin.Actor{Name: "admin"}, admin.PreRegistrationInput{TokenProcedure: "Device enroll", Password: "device-secret-1",
		ValidFor: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if st, _, _ := o.enroll("/pgwy/scep", "device1", "device-secret-1"); st != scep.SUCCESS {
		t.Fatalf("ok/enroll: status %s, want SUCCESS", st)
	}
	if st, fi, _ := o.enroll("/pgwy/scep", "device2", "not-the-password"); st != scep.FAILURE || fi != scep.BadRequest {
		t.Fatalf("fail/wrong password: %s %s, want FAILURE badRequest", st, fi)
	}
	if st, ch, _ := o.ndes(obsNDESUser, obsNDESPassword); st != http.StatusOK || ch == "" {
		t.Fatalf("ok/ndes: status %d, password %q; want 200 and a password", st, ch)
	}
	for i, want := range []int{http.StatusUnauthorized, http.StatusUnauthorized, http.StatusTooManyRequests} {
		if st, _, _ := o.ndes(obsNDESUser, "wrong"); st != want {
			t.Fatalf("fail/ndes wrong password %d: status %d, want %d", i+1, st, want)
		}
	}
	b := o.browser()
	for range 2 {
		b.post("/signin", "/signin", url.Values{"username": {"admin"}, "password": {"wrong"}})
	}
	// The CRL gauges need a CRL; the first fetch signs it.
	if resp, err := http.Get(o.srv.URL + "/pgwy/scep?operation=GetCACaps"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GetCACaps: %v %v", resp, err)
	}
	snap, err := o.svc.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.svc.CurrentCRL(ctx, snap); err != nil {
		t.Fatal(err)
	}

	fams := o.scrape()
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"scepgate_enrollments_total", []string{"handler", "scep", "message_type", "PKCSReq", "result", "success"}, 1},
		{"scepgate_enrollments_total", []string{"handler", "scep", "message_type", "PKCSReq", "result", "badRequest"}, 1},
		{"scepgate_ndes_passwords_issued_total", []string{"handler", "ndeschallenge"}, 1},
		{"scepgate_auth_failures_total", []string{"kind", "ndes"}, 3},
		{"scepgate_lockouts_total", []string{"kind", "ndes"}, 1},
		{"scepgate_auth_failures_total", []string{"kind", "portal"}, 2},
		{"scepgate_lockouts_total", []string{"kind", "portal"}, 1},
		{"scepgate_db_errors_total", nil, 0},
		{"scepgate_http_request_duration_seconds", []string{"route", "/pgwy/scep", "method", "POST", "code", "200"}, 2},
		{"scepgate_http_request_duration_seconds", []string{"route", "/pgwy/scep/*", "method", "GET", "code", "429"}, 1},
		{"scepgate_http_request_duration_seconds", []string{"route", "/signin", "method", "POST", "code", "422"}, 2},
	} {
		if got, ok := sample(fams, c.name, c.labels...); !ok || got != c.want {
			t.Errorf("%s%v = %v (present %t), want %v", c.name, c.labels, got, ok, c.want)
		}
	}
	// Routes are patterns, never URLs with their query.
	for _, m := range fams["scepgate_http_request_duration_seconds"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "route" && (strings.Contains(l.GetValue(), "?") || strings.Contains(l.GetValue(), "ndeschallenge")) {
				t.Errorf("route label %q is a URL, want a route pattern", l.GetValue())
			}
		}
	}
	day := (24 * time.Hour).Seconds()
	for _, g := range []struct {
		name     string
		min, max float64
	}{
		{"scepgate_ca_expiry_seconds", 9 * 365 * day, 11 * 365 * day},
		{"scepgate_ra_expiry_seconds", day, 11 * 365 * day},
		{"scepgate_crl_age_seconds", 0, 60},
		{"scepgate_crl_next_update_seconds", day - 60, day},
	} {
		if got, ok := sample(fams, g.name); !ok || got < g.min || got > g.max {
			t.Errorf("%s = %v (present %t), want within [%v, %v]", g.name, got, ok, g.min, g.max)
		}
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if fams[name] == nil {
			t.Errorf("/metrics lacks %s (the Go and process collectors)", name)
		}
	}
}

func TestReadyzAndDatabaseErrors(t *testing.T) {
	o := newObserved(t)
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(o.srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if st, body := get("/readyz"); st != http.StatusOK || body != "ready\n" {
		t.Fatalf("ok/ready: %d %q, want 200 ready", st, body)
	}
	if st, body := get("/healthz"); st != http.StatusOK || body != "ok\n" {
		t.Errorf("ok/healthz: %d %q, want 200 ok", st, body)
	}
	if err := o.db.Close(); err != nil {
		t.Fatal(err)
	}
	st, body := get("/readyz")
	if st != http.StatusServiceUnavailable || body != "not ready: the database does not answer\n" {
		t.Errorf("fail/database closed: %d %q, want 503 with the reason", st, body)
	}
	if st, _ := get("/healthz"); st != http.StatusOK {
		t.Errorf("healthz with the database closed: %d, want 200 (the process is up)", st)
	}
	// A request whose store call fails is an internal error, counted once.
	if st, _, _ := o.ndes(obsNDESUser, obsNDESPassword); st != http.StatusInternalServerError {
		t.Fatalf("ndes with the database closed: status %d, want 500", st)
	}
	if got, _ := sample(o.scrape(), "scepgate_db_errors_total"); got != 1 {
		t.Errorf("scepgate_db_errors_total = %v, want 1", got)
	}
}

var hexID = regexp.MustCompile(`^[0-9a-f]{32}$`)

func TestRequestID(t *testing.T) {
	o := newObserved(t)
	get := func(id string) string {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, o.srv.URL+"/healthz", nil)
		if id != "" {
			req.Header.Set("X-Request-Id", id)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("X-Request-Id")
	}
	for _, id := range []string{"abc-123", "0f8fad5b-d9cb-469f-a165-70867728950e", "trace.id_1:2", strings.Repeat("a", 64)} {
		if got := get(id); got != id {
			t.Errorf("ok/honoured %q: X-Request-Id %q, want it echoed", id, got)
		}
	}
	seen := map[string]bool{}
	for _, id := range []string{"", strings.Repeat("a", 65), "has space", "tab\there", `quote"`, "é", "a/b"} {
		got := get(id)
		if !hexID.MatchString(got) || seen[got] {
			t.Errorf("fail/replaced %q: X-Request-Id %q, want a new 32-hex-digit id", id, got)
		}
		seen[got] = true
	}
	// The request's log line carries the id.
	want := get("find-me-42")
	var found bool
	for _, l := range o.logs.lines(t) {
		if l["msg"] == "http" && l["request_id"] == want && l["path"] == "/healthz" {
			found = true
		}
	}
	if !found {
		t.Errorf("no http log line with request_id %q", want)
	}
}

// TestJSONLogsCarryRequestID checks that the lines the SCEP and NDES
// handlers write themselves carry the id of their request.
func TestJSONLogsCarryRequestID(t *testing.T) {
	o := newObserved(t)
	_, _, ndesID := o.ndes(obsNDESUser, "wrong")
	_, _, scepID := o.enroll("/pgwy/scep", "device3", "nobody-registered-this")
	if !hexID.MatchString(ndesID) || !hexID.MatchString(scepID) || ndesID == scepID {
		t.Fatalf("request ids %q and %q, want two different generated ids", ndesID, scepID)
	}
	got := map[string]string{}
	for _, l := range o.logs.lines(t) {
		if msg, _ := l["msg"].(string); msg == "ndes credentials refused" || msg == "scep request refused" {
			got[msg], _ = l["request_id"].(string)
		}
	}
	if got["ndes credentials refused"] != ndesID {
		t.Errorf("NDES handler's line: request_id %q, want %q", got["ndes credentials refused"], ndesID)
	}
	if got["scep request refused"] != scepID {
		t.Errorf("SCEP handler's line: request_id %q, want %q", got["scep request refused"], scepID)
	}
}

// TestNoSecretInLogs runs what handles secrets (an NDES fetch with Basic
// credentials, a pre-registration made on the portal and the enrollment it
// authorises, a signed-in session) with a debug-level JSON logger, and
// looks for every secret in every line.
func TestNoSecretInLogs(t *testing.T) {
	o := newObserved(t)
	const challenge = "pre-registered-challenge-9"
	admin := o.browser()
	admin.signIn("admin")
	got := admin.post("/registrations/new", "/registrations", url.Values{"token_procedure": {"Device enroll"}, "password": {challenge},
		"subject_cn": {"kiosk9"}, "valid_for": {"24h"}})
	if got.status != http.StatusSeeOther {
		t.Fatalf("pre-registration: status %d, want 303; body %s", got.status, got.body)
	}
	if st, _, _ := o.enroll("/pgwy/scep", "kiosk9", challenge); st != scep.SUCCESS {
		t.Fatalf("enroll with the pre-registration: %s, want SUCCESS", st)
	}
	if st, _, _ := o.enroll("/pgwy/scep", "kiosk9", challenge); st != scep.FAILURE {
		t.Fatalf("enroll again with the used password: %s, want FAILURE", st)
	}
	st, issued, _ := o.ndes(obsNDESUser, obsNDESPassword)
	if st != http.StatusOK || issued == "" {
		t.Fatalf("ndes: %d %q, want 200 and a password", st, issued)
	}
	if st, _, _ := o.ndes(obsNDESUser, obsNDESPassword+"-typo"); st != http.StatusUnauthorized {
		t.Fatalf("ndes with a wrong password: %d, want 401", st)
	}
	if st, _, _ := o.enroll("/pgwy/scep/ndesrequest", "router1", issued); st != scep.SUCCESS {
		t.Fatalf("enroll with the NDES password: %s, want SUCCESS", st)
	}
	session := admin.cookie(handlers.SessionCookie)
	if session == nil || session.Value == "" {
		t.Fatal("no session cookie after sign-in")
	}
	admin.get("/registrations")

	logs := o.logs.String()
	if len(o.logs.lines(t)) < 10 {
		t.Fatalf("only %d log lines; the test logs too little to prove anything:\n%s", len(o.logs.lines(t)), logs)
	}
	basic := base64.StdEncoding.EncodeToString([]byte(obsNDESUser + ":" + obsNDESPassword))
	for what, secret := range map[string]string{
		"the NDES Basic password":      obsNDESPassword,
		"the wrong NDES password":      obsNDESPassword + "-typo",
		"the Authorization header":     basic,
		"the pre-registered challenge": challenge,
		"the issued NDES password":     issued,
		"the session cookie":           session.Value,
		"the portal password":          testPassword,
	} {
		if strings.Contains(logs, secret) {
			t.Errorf("the logs contain %s (%q):\n%s", what, secret, logs)
		}
	}
}
