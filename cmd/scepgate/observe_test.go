package main

import (
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scepgate/scepgate/internal/proctest"
)

// get returns the status and body of a GET to url.
func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, body := ndesGet(t, url, "", "")
	return resp.StatusCode, string(body)
}

// TestMetricsListen runs serve with --metrics-listen: /metrics is served on
// that address, with the counters the handlers feed, and not on --listen.
func TestMetricsListen(t *testing.T) {
	const ndesPW = "metrics-ndes-password"
	metricsAddr := proctest.FreeAddr(t)
	s := startServer(t, filepath.Join(t.TempDir(), "data"), []string{"SCEPGATE_NDES_PASSWORD=" + ndesPW}, "--metrics-listen", metricsAddr)
	if !strings.Contains(s.Logs(), "metrics listening") {
		t.Errorf("serve does not say where the metrics are:\n%s", s.Logs())
	}
	ndesPassword(t, s.URL+"/pgwy/scep/ndeschallenge/", "ndesadmin", ndesPW)
	if st, body := get(t, s.URL+"/readyz"); st != http.StatusOK || body != "ready\n" {
		t.Errorf("GET /readyz: %d %q, want 200 ready", st, body)
	}
	if st, _ := get(t, s.URL+"/metrics"); st != http.StatusNotFound {
		t.Errorf("GET /metrics on --listen without --metrics: status %d, want 404", st)
	}
	st, body := get(t, "http://"+metricsAddr+"/metrics")
	if st != http.StatusOK {
		t.Fatalf("GET /metrics on --metrics-listen: status %d, want 200", st)
	}
	for _, want := range []string{`scepgate_ndes_passwords_issued_total{handler="ndeschallenge"} 1`, `scepgate_lockouts_total{kind="ndes"} 0`,
		"scepgate_ca_expiry_seconds ", "scepgate_ra_expiry_seconds ", "scepgate_crl_next_update_seconds ",
		`scepgate_http_request_duration_seconds_count{code="200",method="GET",route="/readyz"} 1`, "go_goroutines ", "process_cpu_seconds_total "} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}
}

// TestServeJSONLogsAndMetricsOnMain runs serve with SCEPGATE_METRICS and
// SCEPGATE_LOG_FORMAT=json: /metrics is on the main listener, and every
// line of the log is a JSON object, the request lines with their id.
func TestServeJSONLogsAndMetricsOnMain(t *testing.T) {
	addr := proctest.FreeAddr(t)
	p := proctest.Start(t, []string{"SCEPGATE_METRICS=true", "SCEPGATE_LOG_FORMAT=json"}, scepgateBin,
		"serve", "--init", "--data", filepath.Join(t.TempDir(), "data"), "--listen", addr)
	url := "http://" + addr
	if err := p.WaitHTTP(url+"/healthz", `"msg":"listening"`, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	if st, body := get(t, url+"/metrics"); st != http.StatusOK || !strings.Contains(body, "scepgate_db_errors_total 0") {
		t.Errorf("GET /metrics with SCEPGATE_METRICS=true: %d, want 200 with scepgate_db_errors_total 0:\n%s", st, body)
	}
	req, _ := http.NewRequest(http.MethodGet, url+"/readyz", nil)
	req.Header.Set("X-Request-Id", "cmd-test-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("X-Request-Id"); got != "cmd-test-1" {
		t.Errorf("X-Request-Id = %q, want cmd-test-1 echoed", got)
	}
	p.Stop()
	var sawRequest bool
	for _, line := range strings.Split(strings.TrimSpace(p.Stderr.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Errorf("log line is not JSON: %q", line)
			continue
		}
		if m["msg"] == "http" && m["path"] == "/readyz" && m["request_id"] == "cmd-test-1" {
			sawRequest = true
		}
	}
	if !sawRequest {
		t.Errorf("no JSON request line for /readyz with request_id cmd-test-1:\n%s", p.Stderr.String())
	}
}

// TestLogFlags checks --log-format and --log-level, and their variables,
// on a command other than serve. Bad values stop the command before it
// opens anything.
func TestLogFlags(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	env := map[string]string{"SCEPGATE_ADMIN_PASSWORD": "admin-password-1", "SCEPGATE_NDES_PASSWORD": "ndes-password-1"}
	code, _, stderr := runCLI(t, env, "init", "--data", data, "--log-format", "json")
	if code != 0 {
		t.Fatalf("init --log-format json: exit %d, stderr %q", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	for _, line := range lines {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil || m["level"] == nil || m["msg"] == nil {
			t.Errorf("log line %q: want a JSON object with level and msg (%v)", line, err)
		}
	}
	if !strings.Contains(stderr, `"msg":"created CA"`) {
		t.Errorf("init's log lacks created CA:\n%s", stderr)
	}
	_, help, _ := runCLI(t, nil, "serve", "--help")
	for _, want := range []string{"--log-format", "env SCEPGATE_LOG_FORMAT, default text", "env SCEPGATE_LOG_LEVEL, default info",
		"--metrics ", "env SCEPGATE_METRICS, default false", "--metrics-listen", "env SCEPGATE_METRICS_LISTEN, default none"} {
		if !strings.Contains(help, want) {
			t.Errorf("serve --help lacks %q:\n%s", want, help)
		}
	}
	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
		code int
		want string // in stderr; "" means stderr is empty
	}{
		{"ok/level-warn", nil, []string{"--log-level", "warn"}, 0, ""},
		{"ok/level-from-env", map[string]string{"SCEPGATE_LOG_LEVEL": "ERROR"}, nil, 0, ""},
		{"ok/flag-over-env", map[string]string{"SCEPGATE_LOG_FORMAT": "json"}, []string{"--log-format", "text", "--log-level", "debug"}, 0, `level=INFO msg="created CA"`},
		{"fail/format", nil, []string{"--log-format", "xml"}, 2, `--log-format (or SCEPGATE_LOG_FORMAT) is "xml": use text or json.`},
		{"fail/level-from-env", map[string]string{"SCEPGATE_LOG_LEVEL": "verbose"}, nil, 2, `--log-level (or SCEPGATE_LOG_LEVEL) is "verbose": use debug, info, warn or error.`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			// A new data folder, so that opening it logs what it creates.
			data := filepath.Join(t.TempDir(), "data")
			code, _, stderr := runCLI(t, tt.env, append([]string{"init", "--data", data}, tt.args...)...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, tt.code, stderr)
			}
			if tt.want == "" && stderr != "" || !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr %q, want %q", stderr, tt.want)
			}
			if _, err := os.Stat(data); tt.code != 0 && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("a bad log flag created the data folder (stat: %v)", err)
			}
		})
	}
}
