package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/scepgate/scepgate/pki"
	"github.com/scepgate/scepgate/pki/cms"
	"github.com/smallstep/scep"
)

// benchOptions are the flags of "scepclient bench".
type benchOptions struct {
	URL          string
	N, C         int
	Challenge    string
	Challenges   string
	NDESURL      string
	NDESUser     string
	NDESPassword string
	Cipher       string
	KeySize      int
	ServerPID    int
	JSON         bool
	Label        string
	Timeout      time.Duration
	Batch        int
	Floor        time.Duration
}

// BenchResult is what one bench run measured; -json prints it as one line.
type BenchResult struct {
	Label       string         `json:"label,omitempty"`
	URL         string         `json:"url"`
	N           int            `json:"n"`
	Concurrency int            `json:"concurrency"`
	Cipher      string         `json:"cipher"`
	KeySize     int            `json:"key_size"`
	Challenge   string         `json:"challenge"` // static, file, ndes or none
	OK          int            `json:"ok"`
	Failures    map[string]int `json:"failures"`
	Seconds     float64        `json:"seconds"` // wall time of the enrollment phases
	PerSecond   float64        `json:"enrollments_per_second"`
	P50ms       float64        `json:"latency_p50_ms"`
	P95ms       float64        `json:"latency_p95_ms"`
	P99ms       float64        `json:"latency_p99_ms"`
	Duplicates  int            `json:"duplicate_serials"`
	// ServerCPUms is the server's CPU time per successful enrollment, from
	// /proc/PID/stat around the enrollment phases; -1 when not measured.
	ServerCPUms float64 `json:"server_cpu_ms_per_enrollment"`
	// NDES password fetches, timed apart from the enrollments.
	NDESOK          int     `json:"ndes_ok,omitempty"`
	NDESPerSecond   float64 `json:"ndes_per_second,omitempty"`
	NDESP50ms       float64 `json:"ndes_latency_p50_ms,omitempty"`
	NDESP95ms       float64 `json:"ndes_latency_p95_ms,omitempty"`
	NDESServerCPUms float64 `json:"ndes_server_cpu_ms_per_password,omitempty"`
	// FloorMS is three RSA-2048 private-key operations, timed just before
	// and just after the run (-floor) and averaged; 0 when not measured.
	// The machine's speed drifts, so each run carries its own floor.
	FloorMS float64 `json:"floor_ms_per_enrollment,omitempty"`
	// ClientCPU and OtherCPU are the shares of the machine's CPUs that
	// this client and everything but the client and the server used during
	// the enrollment phases: other load makes the timings noisy.
	ClientCPU float64 `json:"client_cpu_share"`
	OtherCPU  float64 `json:"other_cpu_share"`
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o benchOptions
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.URL, "url", "", "SCEP URL of the server, such as http://localhost:8080/pgwy/scep (required)")
	fs.IntVar(&o.N, "n", 200, "number of enrollments")
	fs.IntVar(&o.C, "c", 1, "concurrent clients")
	fs.StringVar(&o.Challenge, "challenge", "", "static challenge password for every enrollment")
	fs.StringVar(&o.Challenges, "challenges", "", "file with one challenge password (pre-registration) per line")
	fs.StringVar(&o.NDESURL, "ndes-url", "", "NDES challenge page: fetch one password per enrollment")
	fs.StringVar(&o.NDESUser, "ndes-user", "ndesadmin", "NDES challenge page user")
	fs.StringVar(&o.NDESPassword, "ndes-password", "", "NDES challenge page password")
	fs.StringVar(&o.Cipher, "cipher", "aes", "envelope cipher: aes, des3, des or rc2")
	fs.IntVar(&o.KeySize, "key-size", 2048, "RSA key size of the devices")
	fs.IntVar(&o.ServerPID, "server-pid", 0, "process ID of the server, to measure its CPU time (Linux)")
	fs.BoolVar(&o.JSON, "json", false, "print the result as one JSON line")
	fs.StringVar(&o.Label, "label", "", "name of this configuration in the output")
	fs.DurationVar(&o.Timeout, "timeout", 60*time.Second, "timeout of each request")
	fs.DurationVar(&o.Floor, "floor", 0, "time three RSA-2048 private-key operations for this long before and after the run (0: do not)")
	fs.IntVar(&o.Batch, "batch", 50, "NDES passwords fetched ahead of each enrollment phase (below the server's cache cap)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case o.URL == "":
		return usageError{"bench needs -url, such as: scepclient bench -url http://localhost:8080/pgwy/scep -n 200 -c 8 -challenge secret"}
	case o.N < 1 || o.C < 1 || o.Batch < 1:
		return usageError{"bench needs -n, -c and -batch of at least 1"}
	case countSet(o.Challenge != "", o.Challenges != "", o.NDESURL != "") > 1:
		return usageError{"bench takes one of -challenge, -challenges and -ndes-url"}
	case fs.NArg() > 0:
		return usageError{fmt.Sprintf("bench takes no arguments, got %q", fs.Args())}
	}
	var before *FloorResult
	if o.Floor > 0 {
		var err error
		if before, err = Floor(2048, o.Floor); err != nil {
			return err
		}
	}
	res, err := Bench(ctx, o, stderr)
	if err != nil {
		return err
	}
	if before != nil {
		after, err := Floor(2048, o.Floor)
		if err != nil {
			return err
		}
		res.FloorMS = (before.MSPerEnrollment + after.MSPerEnrollment) / 2
	}
	if o.JSON {
		b, _ := json.Marshal(res)
		fmt.Fprintln(stdout, string(b))
	} else {
		printBench(stdout, res)
	}
	if res.OK == 0 {
		return problemf("No enrollment succeeded (%s). Check the URL and the challenge.", failureSummary(res.Failures))
	}
	return nil
}

func countSet(b ...bool) int {
	n := 0
	for _, x := range b {
		if x {
			n++
		}
	}
	return n
}

// benchItem is one enrollment of a bench run.
type benchItem struct {
	key       *rsa.PrivateKey
	challenge string
	signer    *x509.Certificate
	req       *pki.ClientMessage
	reply     *pki.CertRep
	latency   time.Duration
	failure   string
}

// Bench runs o.N enrollments against o.URL with o.C concurrent clients.
// Keys are generated, and messages built, before the clock starts; reply
// certificates are decrypted after it stops.
func Bench(ctx context.Context, o benchOptions, progress io.Writer) (*BenchResult, error) {
	b, err := prepareBench(ctx, o, progress)
	if err != nil {
		return nil, err
	}
	m, err := b.run(ctx, progress)
	if err != nil {
		return nil, err
	}
	return b.summarise(m), nil
}

// benchRun is a bench prepared to run: what the server said about itself,
// and one item per enrollment with its key and challenge.
type benchRun struct {
	o      benchOptions
	client *Client
	caps   Caps
	certs  []*x509.Certificate // from GetCACert; they verify the replies
	ra     *x509.Certificate
	alg    cms.Algorithm
	digest asn1.ObjectIdentifier
	// challenge is where the passwords come from: static, file, ndes or none.
	challenge string
	items     []*benchItem
}

// benchClock is what the timed phases of a run measured.
type benchClock struct {
	elapsed     time.Duration // the enrollment phases
	serverCPU   time.Duration // the server's CPU time in them
	clientCPU   time.Duration // ours
	otherCPU    time.Duration // everything else's
	ndesElapsed time.Duration // the NDES password fetches
	ndesCPU     time.Duration // the server's CPU time in them
	ndesLat     []time.Duration
	// cpuOK is false when the server's CPU time cannot be read.
	cpuOK bool
}

// prepareBench asks the server for its capabilities and certificates,
// gives every enrollment its challenge (unless fetched from NDES during the
// run) and generates the keys.
func prepareBench(ctx context.Context, o benchOptions, progress io.Writer) (*benchRun, error) {
	alg, err := parseCipher(o.Cipher)
	if err != nil {
		return nil, usageError{err.Error()}
	}
	b := &benchRun{o: o, client: NewClient(o.Timeout, o.C), alg: alg}
	if b.caps, err = b.client.GetCACaps(ctx, o.URL); err != nil {
		return nil, err
	}
	caURL, err := withOperation(o.URL, "GetCACert")
	if err != nil {
		return nil, err
	}
	if b.certs, err = b.client.GetCACert(ctx, caURL.String()); err != nil {
		return nil, err
	}
	if b.ra, _, err = pickRA(b.certs); err != nil {
		return nil, err
	}
	b.digest = digestFor(b.caps)
	if b.challenge, b.items, err = benchChallenges(o); err != nil {
		return nil, err
	}
	fmt.Fprintf(progress, "bench: generating %d RSA-%d keys...\n", o.N, o.KeySize)
	if err := parallel(ctx, runtime.NumCPU(), len(b.items), func(i int) error {
		k, err := rsa.GenerateKey(rand.Reader, o.KeySize)
		b.items[i].key = k
		return err
	}); err != nil {
		return nil, err
	}
	return b, nil
}

// benchChallenges makes the o.N items with their challenge passwords and
// says where those come from: static, file, ndes (fetched during the run)
// or none.
func benchChallenges(o benchOptions) (string, []*benchItem, error) {
	items := make([]*benchItem, o.N)
	kind := "none"
	switch {
	case o.Challenge != "":
		kind = "static"
	case o.Challenges != "":
		kind = "file"
		pws, err := readLines(o.Challenges)
		if err != nil {
			return "", nil, err
		}
		if len(pws) < o.N {
			return "", nil, problemf("%s has %d passwords for %d enrollments. Add more or lower -n.", o.Challenges, len(pws), o.N)
		}
		for i := range items {
			items[i] = &benchItem{challenge: pws[i]}
		}
	case o.NDESURL != "":
		kind = "ndes"
	}
	for i := range items {
		if items[i] == nil {
			items[i] = &benchItem{challenge: o.Challenge}
		}
	}
	return kind, items, nil
}

// run enrolls every item, in batches when NDES passwords are fetched
// (the server caps how many may be open): fetch a batch's passwords, build
// its messages, then send them on the clock.
func (b *benchRun) run(ctx context.Context, progress io.Writer) (*benchClock, error) {
	runID := make([]byte, 4)
	_, _ = rand.Read(runID)
	prefix := "bench-" + hex.EncodeToString(runID)
	batch := b.o.N
	if b.challenge == "ndes" {
		batch = b.o.Batch
	}
	m := &benchClock{cpuOK: b.o.ServerPID > 0}
	for start := 0; start < b.o.N; start += batch {
		part := b.items[start:min(start+batch, b.o.N)]
		if b.challenge == "ndes" {
			b.fetchChallenges(ctx, part, m)
		}
		if err := parallel(ctx, runtime.NumCPU(), len(part), func(i int) error {
			it := part[i]
			if it.failure != "" {
				return nil
			}
			return it.build(fmt.Sprintf("%s-%d", prefix, start+i), b.ra, b.alg, b.digest)
		}); err != nil {
			return nil, err
		}
		b.sendAll(ctx, part, m, progress)
		if err := ctx.Err(); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// fetchChallenges gets one NDES password for each item of part, timed
// apart from the enrollments. A failed fetch fails its item.
func (b *benchRun) fetchChallenges(ctx context.Context, part []*benchItem, m *benchClock) {
	cpu0, _ := processCPU(b.o.ServerPID)
	t0 := time.Now()
	var mu sync.Mutex
	_ = parallel(ctx, b.o.C, len(part), func(i int) error {
		t := time.Now()
		ch, err := b.client.FetchChallenge(ctx, b.o.NDESURL, b.o.NDESUser, b.o.NDESPassword, false)
		d := time.Since(t)
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			part[i].failure = "ndes: " + shortReason(err)
			return nil
		}
		part[i].challenge = ch.Password
		m.ndesLat = append(m.ndesLat, d)
		return nil
	})
	m.ndesElapsed += time.Since(t0)
	if cpu1, err := processCPU(b.o.ServerPID); err == nil && m.cpuOK {
		m.ndesCPU += cpu1 - cpu0
	}
}

// sendAll sends the built messages of part with o.C clients, on the clock,
// and measures the CPU time the server, this client and the rest of the
// machine spent meanwhile.
func (b *benchRun) sendAll(ctx context.Context, part []*benchItem, m *benchClock, progress io.Writer) {
	cpu0, err := processCPU(b.o.ServerPID)
	if err != nil && m.cpuOK {
		fmt.Fprintf(progress, "bench: cannot read the server's CPU time (%v); leaving it out.\n", err)
		m.cpuOK = false
	}
	busy0, busyOK0 := machineBusy()
	self0, _ := selfCPU()
	t0 := time.Now()
	_ = parallel(ctx, b.o.C, len(part), func(i int) error {
		part[i].send(ctx, b.client, b.o.URL, b.caps, b.certs)
		return nil
	})
	m.elapsed += time.Since(t0)
	var serverPart time.Duration
	if cpu1, err := processCPU(b.o.ServerPID); err == nil && m.cpuOK {
		serverPart = cpu1 - cpu0
		m.serverCPU += serverPart
	}
	self1, _ := selfCPU()
	m.clientCPU += self1 - self0
	if busy1, ok := machineBusy(); ok && busyOK0 && m.cpuOK {
		m.otherCPU += max(0, busy1-busy0-serverPart-(self1-self0))
	}
}

// summarise opens the replies, after the clock, and turns them and the
// measurements into the result.
func (b *benchRun) summarise(m *benchClock) *BenchResult {
	o := b.o
	res := &BenchResult{Label: o.Label, URL: o.URL, N: o.N, Concurrency: o.C, Cipher: b.alg.Cipher.String(),
		KeySize: o.KeySize, Challenge: b.challenge, Failures: map[string]int{}, ServerCPUms: -1}
	lat := b.openReplies(res)
	res.Seconds = m.elapsed.Seconds()
	if m.elapsed > 0 {
		res.PerSecond = float64(res.OK) / m.elapsed.Seconds()
	}
	res.P50ms, res.P95ms, res.P99ms = percentileMS(lat, 50), percentileMS(lat, 95), percentileMS(lat, 99)
	if m.cpuOK && res.OK > 0 {
		res.ServerCPUms = float64(m.serverCPU.Microseconds()) / 1000 / float64(res.OK)
	}
	if m.elapsed > 0 {
		capacity := m.elapsed.Seconds() * float64(runtime.NumCPU())
		res.ClientCPU = m.clientCPU.Seconds() / capacity
		if m.cpuOK {
			res.OtherCPU = m.otherCPU.Seconds() / capacity
		}
	}
	if b.challenge == "ndes" {
		res.NDESOK = len(m.ndesLat)
		if m.ndesElapsed > 0 {
			res.NDESPerSecond = float64(len(m.ndesLat)) / m.ndesElapsed.Seconds()
		}
		res.NDESP50ms, res.NDESP95ms = percentileMS(m.ndesLat, 50), percentileMS(m.ndesLat, 95)
		if m.cpuOK && len(m.ndesLat) > 0 {
			res.NDESServerCPUms = float64(m.ndesCPU.Microseconds()) / 1000 / float64(len(m.ndesLat))
		}
	}
	return res
}

// openReplies decrypts the successful replies, counts successes and
// failures and duplicate serials into res, and returns the latencies of
// the enrollments that got an answer.
func (b *benchRun) openReplies(res *BenchResult) []time.Duration {
	serials := map[string]int{}
	var lat []time.Duration
	for _, it := range b.items {
		if it.failure == "" {
			err := it.reply.Decrypt(it.signer, it.key)
			leaf, _ := splitLeaf(it.reply.Certs, it.key.Public())
			switch {
			case err != nil:
				it.failure = "reply cannot be decrypted"
			case leaf == nil:
				it.failure = "reply has no certificate for the key"
			default:
				serials[leaf.Issuer.String()+"/"+leaf.SerialNumber.String()]++
			}
		}
		if it.latency > 0 {
			lat = append(lat, it.latency)
		}
		if it.failure != "" {
			res.Failures[it.failure]++
		} else {
			res.OK++
		}
	}
	for _, n := range serials {
		if n > 1 {
			res.Duplicates += n - 1
		}
	}
	return lat
}

// build makes the CSR, the self-signed signer and the PKCSReq of it.
func (it *benchItem) build(cn string, ra *x509.Certificate, alg cms.Algorithm, digest asn1.ObjectIdentifier) error {
	subject, err := ParseDN("cn=" + cn + ",o=scepclient bench")
	if err != nil {
		return err
	}
	der, err := NewCSR(CSRTemplate{Subject: subject, DNSNames: []string{cn + ".bench.invalid"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, Challenge: it.challenge}, it.key)
	if err != nil {
		return err
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return err
	}
	if it.signer, err = SelfSigned(csr, it.key, time.Now()); err != nil {
		return err
	}
	tid, err := pki.TransactionID(it.key.Public())
	if err != nil {
		return err
	}
	it.req, err = pki.NewClientMessage(scep.PKCSReq, der, pki.ClientParams{TransactionID: tid, RA: ra, Cipher: alg,
		Signer: it.signer, Key: it.key, Digest: digest})
	return err
}

// send runs one PKIOperation and records its latency and outcome.
func (it *benchItem) send(ctx context.Context, client *Client, url string, caps Caps, known []*x509.Certificate) {
	if it.failure != "" {
		return
	}
	t := time.Now()
	body, err := client.PKIOperation(ctx, url, caps, it.req.Raw)
	it.latency = time.Since(t)
	if err != nil {
		it.failure = "http: " + shortReason(err)
		return
	}
	rep, err := pki.ReadCertRep(body, it.req, known)
	if err != nil {
		it.failure = "bad reply"
		return
	}
	switch rep.Status {
	case scep.SUCCESS:
		it.reply = rep
	case scep.PENDING:
		it.failure = "PENDING"
	default:
		it.failure = "FAILURE " + failInfoName(rep.FailInfo)
	}
}

// failInfoName names fi in the failure counts.
func failInfoName(fi scep.FailInfo) string {
	if name := pki.FailInfoName(fi); name != "" {
		return name
	}
	return "failInfo " + strconv.Quote(string(fi))
}

// shortReason is the first sentence of err's message, to group failures.
func shortReason(err error) string {
	m := message(err)
	if i := strings.Index(m, ". "); i > 0 {
		m = m[:i]
	}
	if len(m) > 80 {
		m = m[:80]
	}
	return m
}

// parallel runs f(0..n-1) on workers goroutines and returns the first error.
func parallel(ctx context.Context, workers, n int, f func(i int) error) error {
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	next := make(chan int)
	for range min(workers, n) {
		wg.Go(func() {
			for i := range next {
				if err := f(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		})
	}
	for i := range n {
		if ctx.Err() != nil {
			break
		}
		next <- i
	}
	close(next)
	wg.Wait()
	if first == nil {
		first = ctx.Err()
	}
	return first
}

// percentileMS returns the p-th percentile of d in milliseconds (nearest
// rank), or 0 for no samples.
func percentileMS(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	rank := int(float64(len(s))*p/100+0.999999) - 1
	rank = max(0, min(rank, len(s)-1))
	return float64(s[rank].Microseconds()) / 1000
}

// processCPU returns the user plus system CPU time of process pid from
// /proc/PID/stat.
func processCPU(pid int) (time.Duration, error) {
	if pid <= 0 {
		return 0, errors.New("no server process ID")
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseProcStat(string(b))
}

// machineBusy returns the CPU time all CPUs spent not idle, from the
// first line of /proc/stat.
func machineBusy() (time.Duration, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	return parseMachineBusy(string(b))
}

// parseMachineBusy reads "cpu user nice system idle iowait irq softirq
// steal ..." and sums all but idle and iowait.
func parseMachineBusy(s string) (time.Duration, bool) {
	line, _, _ := strings.Cut(s, "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return 0, false
	}
	var ticks int64
	for i, v := range f[1:] {
		if i == 3 || i == 4 || i >= 8 { // idle, iowait; guest time is already in user
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, false
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, true
}

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const clockTicks = 100

// parseProcStat reads utime and stime (fields 14 and 15) of a
// /proc/PID/stat line; the command name may contain spaces and ')'.
func parseProcStat(s string) (time.Duration, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("malformed /proc stat")
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, errors.New("malformed /proc stat")
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, errors.New("malformed /proc stat")
	}
	return time.Duration(ut+st) * time.Second / clockTicks, nil
}

func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, problemf("The challenges file cannot be opened (%v). Check -challenges.", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out, sc.Err()
}

func failureSummary(f map[string]int) string {
	if len(f) == 0 {
		return "no failures"
	}
	keys := make([]string, 0, len(f))
	for k := range f {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%d × %s", f[k], k)
	}
	return strings.Join(parts, "; ")
}

func printBench(w io.Writer, r *BenchResult) {
	name := r.URL
	if r.Label != "" {
		name = r.Label + " (" + r.URL + ")"
	}
	fmt.Fprintf(w, "%s: n=%d c=%d %s RSA-%d, challenge %s\n", name, r.N, r.Concurrency, r.Cipher, r.KeySize, r.Challenge)
	fmt.Fprintf(w, "  enrollments: %d ok in %.2fs: %.1f per second\n", r.OK, r.Seconds, r.PerSecond)
	fmt.Fprintf(w, "  latency:     p50 %.1f ms, p95 %.1f ms, p99 %.1f ms\n", r.P50ms, r.P95ms, r.P99ms)
	fmt.Fprintf(w, "  failures:    %s\n", failureSummary(r.Failures))
	fmt.Fprintf(w, "  duplicate serials: %d\n", r.Duplicates)
	if r.ServerCPUms >= 0 {
		fmt.Fprintf(w, "  server CPU:  %.2f ms per enrollment", r.ServerCPUms)
		if r.FloorMS > 0 {
			fmt.Fprintf(w, " (floor %.2f ms: %.2f×)", r.FloorMS, r.ServerCPUms/r.FloorMS)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "  CPU share:   client %.0f%%, other programs %.0f%% of the machine\n", 100*r.ClientCPU, 100*r.OtherCPU)
	if r.Challenge == "ndes" {
		fmt.Fprintf(w, "  NDES passwords: %d fetched, %.1f per second, p50 %.1f ms, p95 %.1f ms", r.NDESOK, r.NDESPerSecond, r.NDESP50ms, r.NDESP95ms)
		if r.NDESServerCPUms > 0 {
			fmt.Fprintf(w, ", server CPU %.2f ms each", r.NDESServerCPUms)
		}
		fmt.Fprintln(w)
	}
}
