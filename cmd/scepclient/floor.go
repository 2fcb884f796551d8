package main

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"time"
)

// FloorResult is the cost of the RSA private-key operations a SCEP server
// cannot avoid per enrollment: decrypting the envelope key, signing the
// certificate, signing the CertRep.
type FloorResult struct {
	KeySize int     `json:"key_size"`
	Ops     int     `json:"ops"`
	MSPerOp float64 `json:"ms_per_op"`
	// MSPerEnrollment is three operations.
	MSPerEnrollment float64 `json:"ms_per_enrollment"`
}

func runBenchFloor(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench-floor", flag.ContinueOnError)
	fs.SetOutput(stderr)
	d := fs.Duration("d", 3*time.Second, "how long to measure")
	size := fs.Int("key-size", 2048, "RSA key size")
	asJSON := fs.Bool("json", false, "print the result as one JSON line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Sprintf("bench-floor takes no arguments, got %q", fs.Args())}
	}
	r, err := Floor(*size, *d)
	if err != nil {
		return err
	}
	if *asJSON {
		b, _ := json.Marshal(r)
		fmt.Fprintln(stdout, string(b))
		return nil
	}
	fmt.Fprintf(stdout, "RSA-%d private-key operation (PKCS #1 v1.5 signature, CPU time): %.3f ms; three per enrollment: %.3f ms (%d operations timed).\n",
		r.KeySize, r.MSPerOp, r.MSPerEnrollment, r.Ops)
	return nil
}

// Floor times rsa.SignPKCS1v15 with a key of size bits on one goroutine
// for about d. It counts the process's CPU time, not wall time, as the
// server's side is measured, so that other load on the machine does not
// inflate it.
func Floor(size int, d time.Duration) (*FloorResult, error) {
	key, err := rsa.GenerateKey(rand.Reader, size)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte("scepclient bench-floor"))
	// Warm up (precomputation, caches).
	for range 3 {
		if _, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, sum[:]); err != nil {
			return nil, err
		}
	}
	n := 0
	start := time.Now()
	cpu0, cpuOK := selfCPU()
	for time.Since(start) < d || n < 10 {
		if _, err := rsa.SignPKCS1v15(nil, key, crypto.SHA256, sum[:]); err != nil {
			return nil, err
		}
		n++
	}
	spent := time.Since(start)
	if cpu1, ok := selfCPU(); cpuOK && ok && cpu1 > cpu0 {
		spent = cpu1 - cpu0
	}
	ms := float64(spent.Microseconds()) / 1000 / float64(n)
	return &FloorResult{KeySize: size, Ops: n, MSPerOp: ms, MSPerEnrollment: 3 * ms}, nil
}
