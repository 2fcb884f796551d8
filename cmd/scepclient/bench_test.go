package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestParseProcStat(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    time.Duration
		wantErr bool
	}{
		{name: "ok/plain", in: "1234 (scepgate) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 8 0 100 0 0", want: 3 * time.Second},
		{name: "ok/spaces-in-name", in: "1234 (a b) c) R 1 1 1 0 -1 0 0 0 0 0 7 3 0 0", want: 100 * time.Millisecond},
		{name: "fail/short", in: "1234 (x) S 1", wantErr: true},
		{name: "fail/garbage", in: "nothing", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseProcStat(tt.in)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("got %v, %v; want %v, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	var d []time.Duration
	for i := 1; i <= 100; i++ {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	for _, tt := range []struct {
		p    float64
		want float64
	}{{50, 50}, {95, 95}, {99, 99}, {100, 100}} {
		if got := percentileMS(d, tt.p); got != tt.want {
			t.Errorf("p%v: got %v, want %v", tt.p, got, tt.want)
		}
	}
	if got := percentileMS(nil, 50); got != 0 {
		t.Errorf("no samples: got %v, want 0", got)
	}
}

func TestFloor(t *testing.T) {
	r, err := Floor(1024, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if r.Ops < 10 || r.MSPerOp <= 0 || r.MSPerEnrollment != 3*r.MSPerOp {
		t.Errorf("got %+v, want at least 10 operations and 3 per enrollment", r)
	}
}

func TestParseMachineBusy(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		want   time.Duration
		wantOK bool
	}{
		{name: "ok/linux", in: "cpu  100 20 30 5000 70 1 2 3 0 0\ncpu0 1 2 3 4\n", want: 1560 * time.Millisecond, wantOK: true},
		{name: "fail/other", in: "intr 1 2 3\n", wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseMachineBusy(tt.in)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("got %v %v, want %v %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestBenchReportKeepsNotes(t *testing.T) {
	dir := t.TempDir()
	floor := filepath.Join(dir, "floor.json")
	results := filepath.Join(dir, "results.jsonl")
	report := filepath.Join(dir, "BENCHMARKS.md")
	write := func(path, s string) {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(floor, `{"key_size":2048,"ops":100,"ms_per_op":1.5,"ms_per_enrollment":4.5}`+"\n")
	write(results, `{"label":"scepgate","url":"u","n":10,"concurrency":1,"cipher":"AES-256-CBC","key_size":2048,"challenge":"file","ok":10,"failures":{},"seconds":1,"enrollments_per_second":10,"latency_p50_ms":5,"latency_p95_ms":6,"latency_p99_ms":7,"duplicate_serials":0,"server_cpu_ms_per_enrollment":6.75,"floor_ms_per_enrollment":4.5}`+"\n")
	write(report, "# old\n\n"+notesMarker+"\n\nHand-written analysis.\n")
	var out, errb bytes.Buffer
	if err := runBenchReport([]string{"-floor", floor, "-results", results, "-keep", report, "-o", report}, &out, &errb); err != nil {
		t.Fatalf("bench-report: %v", err)
	}
	b, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	got := string(b)
	for _, want := range []string{"| scepgate | file | AES-256-CBC | 1 | 10 | 10 | 0 | 10.0 |", "| 6.75 | 4.50 | 1.50 |", notesMarker + "\n\nHand-written analysis.\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("report: got\n%s\nwant it to contain %q", got, want)
		}
	}
	if strings.Contains(got, "# old") {
		t.Errorf("report: got the old header kept, want it replaced")
	}
}
