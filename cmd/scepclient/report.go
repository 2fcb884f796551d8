package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"
	"strings"
	"time"
)

// notesMarker starts the hand-written part of BENCHMARKS.md, which
// bench-report keeps when it rewrites the tables.
const notesMarker = "<!-- notes: kept by scepclient bench-report -->"

// runBenchReport writes BENCHMARKS.md from the JSON lines of bench and
// bench-floor.
func runBenchReport(args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("bench-report", flag.ContinueOnError)
	fl.SetOutput(stderr)
	floorPath := fl.String("floor", "", "JSON line of bench-floor -json (required)")
	resultsPath := fl.String("results", "", "JSON lines of bench -json (required)")
	keep := fl.String("keep", "", "existing report whose notes section is kept")
	out := fl.String("o", "", "output file (default standard output)")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *floorPath == "" || *resultsPath == "" {
		return usageError{"bench-report needs -floor FILE and -results FILE"}
	}
	var floor FloorResult
	b, err := readFile(*floorPath, "Run scepclient bench-floor -json first.")
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, &floor); err != nil {
		return problemf("%s is not bench-floor -json output (%v).", *floorPath, err)
	}
	b, err = readFile(*resultsPath, "Run scepclient bench -json first.")
	if err != nil {
		return err
	}
	var results []BenchResult
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			var r BenchResult
			if err := json.Unmarshal([]byte(line), &r); err != nil {
				return problemf("%s has a line that is not bench -json output (%v).", *resultsPath, err)
			}
			results = append(results, r)
		}
	}
	notes := ""
	if *keep != "" {
		old, err := os.ReadFile(*keep)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return problemf("%s cannot be read (%v).", *keep, err)
		}
		if _, after, ok := strings.Cut(string(old), notesMarker); ok {
			notes = strings.TrimSpace(after)
		}
	}
	var w bytes.Buffer
	writeReport(&w, &floor, results, notes, time.Now())
	if *out == "" {
		_, err := stdout.Write(w.Bytes())
		return err
	}
	return writeFile(*out, w.Bytes(), 0o644)
}

// writeReport renders the benchmark report as Markdown.
func writeReport(w io.Writer, floor *FloorResult, results []BenchResult, notes string, now time.Time) {
	fmt.Fprintf(w, "# Benchmarks\n\n")
	fmt.Fprintf(w, "Written by `make bench` (`scripts/bench.sh`): `scepclient bench` enrolls against scepgate and micromdm's\n")
	fmt.Fprintf(w, "scepserver (Debian package `scep`) on the same machine, one after the other, over loopback HTTP.\n")
	fmt.Fprintf(w, "Device keys are RSA-%d and generated, and requests built, before the clock starts; replies are\n", floor.KeySize)
	fmt.Fprintf(w, "decrypted and serials compared after it stops. NDES passwords are fetched in batches between the\n")
	fmt.Fprintf(w, "timed enrollment phases and timed separately. Server CPU is utime+stime from `/proc/PID/stat`\n")
	fmt.Fprintf(w, "over the enrollment phases only, divided by the successful enrollments. \"Other load\" is the share of\n")
	fmt.Fprintf(w, "the machine's CPUs used by programs other than the client and the server meanwhile (`/proc/stat`):\n")
	fmt.Fprintf(w, "where it is high, throughput and latency are understated.\n\n")
	fmt.Fprintf(w, "- Date: %s\n", now.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(w, "- Machine: %d CPUs (nproc), %s, %s/%s, %s\n", runtime.NumCPU(), cpuModel(), runtime.GOOS, runtime.GOARCH, runtime.Version())
	fmt.Fprintf(w, "- Floor: one RSA-%d private-key operation takes %.2f ms of CPU time (`scepclient bench-floor`, %d operations);\n",
		floor.KeySize, floor.MSPerOp, floor.Ops)
	fmt.Fprintf(w, "  an enrollment needs three (decrypt the envelope key, sign the certificate, sign the CertRep): **%.2f ms**.\n", floor.MSPerEnrollment)
	fmt.Fprintf(w, "  Each row also carries its own floor, timed just before and after that run (`bench -floor`), and\n")
	fmt.Fprintf(w, "  \"× floor\" divides the server's CPU time per enrollment by that.\n\n")

	fmt.Fprintf(w, "## Enrollments\n\n")
	fmt.Fprintf(w, "| server | challenge | cipher | c | n | ok | failures | enrollments/s | p50 ms | p95 ms | p99 ms | duplicate serials | server CPU ms/enrollment | floor ms | × floor | other load |\n")
	fmt.Fprintf(w, "| --- | --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, r := range results {
		cpu, fl, ratio := "n/a", "n/a", "n/a"
		f := r.FloorMS
		if f == 0 {
			f = floor.MSPerEnrollment
		}
		if f > 0 {
			fl = fmt.Sprintf("%.2f", f)
		}
		if r.ServerCPUms >= 0 {
			cpu = fmt.Sprintf("%.2f", r.ServerCPUms)
			if f > 0 {
				ratio = fmt.Sprintf("%.2f", r.ServerCPUms/f)
			}
		}
		fails := "0"
		if len(r.Failures) > 0 {
			fails = failureSummary(r.Failures)
		}
		fmt.Fprintf(w, "| %s | %s | %s | %d | %d | %d | %s | %.1f | %.1f | %.1f | %.1f | %d | %s | %s | %s | %.0f%% |\n",
			labelOr(r), r.Challenge, r.Cipher, r.Concurrency, r.N, r.OK, fails, r.PerSecond, r.P50ms, r.P95ms, r.P99ms, r.Duplicates, cpu, fl, ratio, 100*r.OtherCPU)
	}
	var ndes []BenchResult
	for _, r := range results {
		if r.Challenge == "ndes" {
			ndes = append(ndes, r)
		}
	}
	if len(ndes) > 0 {
		fmt.Fprintf(w, "\n## NDES password fetches\n\n")
		fmt.Fprintf(w, "| server | c | passwords | per second | p50 ms | p95 ms | server CPU ms/password |\n")
		fmt.Fprintf(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
		for _, r := range ndes {
			fmt.Fprintf(w, "| %s | %d | %d | %.1f | %.1f | %.1f | %.2f |\n", labelOr(r), r.Concurrency, r.NDESOK, r.NDESPerSecond, r.NDESP50ms, r.NDESP95ms, r.NDESServerCPUms)
		}
	}
	fmt.Fprintf(w, "\n%s\n", notesMarker)
	if notes != "" {
		fmt.Fprintf(w, "\n%s\n", notes)
	}
}

func labelOr(r BenchResult) string {
	if r.Label != "" {
		return r.Label
	}
	return r.URL
}

// cpuModel returns the first "model name" of /proc/cpuinfo.
func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for l := range strings.SplitSeq(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}
