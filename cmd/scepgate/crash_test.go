package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/scepgate/scepgate/internal/sceptest"
	"github.com/scepgate/scepgate/pki"
	"github.com/smallstep/scep"
)

// crashClient is the load of TestCrashRecovery: devices that fetch NDES
// passwords and enroll with them, recording everything the server said
// yes to, so that the database can be held to it after a crash.
type crashClient struct {
	baseURL, ndesPassword string
	http                  *http.Client

	mu        sync.Mutex
	passwords []string          // one-time passwords the NDES page handed out
	serials   map[string]string // serial -> subject of the certificates received
}

// password fetches a one-time password as an MDM does.
func (c *crashClient) password(ctx context.Context) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.baseURL+"/pgwy/scep/ndeschallenge/", nil)
	if err != nil {
		return "", err
	}
	req.SetBasicAuth("ndesadmin", c.ndesPassword)
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err // cut off: the password was not received
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("NDES page: %d %s", resp.StatusCode, body)
	}
	var answer struct{ Challenge string }
	if err := json.Unmarshal(body, &answer); err != nil || answer.Challenge == "" {
		return "", fmt.Errorf("no password in %s", body)
	}
	pw := answer.Challenge
	c.mu.Lock()
	c.passwords = append(c.passwords, pw)
	c.mu.Unlock()
	return pw, nil
}

// enroll sends one PKCSReq with password and records the certificate a
// SUCCESS carries.
func (c *crashClient) enroll(ctx context.Context, d *sceptest.Device, ra *x509.Certificate, cn, password string) error {
	msg, err := d.Build(ra, sceptest.Request{Subject: pkix.Name{CommonName: cn}, Challenge: password})
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.baseURL+"/pgwy/scep/ndesrequest?operation=PKIOperation", bytes.NewReader(msg.DER))
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("PKIOperation: %d %s", resp.StatusCode, body)
	}
	rep, err := d.ReadCertRep(body, ra)
	if err != nil {
		return err
	}
	if rep.Status != scep.SUCCESS {
		return fmt.Errorf("PKIOperation: %s %s", rep.Status, rep.FailInfo)
	}
	c.mu.Lock()
	c.serials[strings.ToLower(rep.Certs[0].SerialNumber.Text(16))] = cn
	c.mu.Unlock()
	return nil
}

// TestCrashRecovery runs enrollments against `scepgate serve`, kills it
// with SIGKILL at a random moment, restarts it and checks the database,
// several times: SQLite's integrity check passes, every certificate a
// client received is stored, every password handed out is recorded, and
// every consumed password has its certificate or a recorded failure.
func TestCrashRecovery(t *testing.T) {
	const rounds, workers = 4, 3
	data := filepath.Join(t.TempDir(), "data")
	const ndesPW = "crash-ndes-password"
	env := []string{"SCEPGATE_NDES_PASSWORD=" + ndesPW, "SCEPGATE_ADMIN_PASSWORD=crash-admin-password"}
	seed := uint64(time.Now().UnixNano())
	t.Logf("random seed %d", seed)
	rnd := rand.New(rand.NewPCG(seed, 8894))
	devices := make([]*sceptest.Device, workers)
	for i := range devices {
		d, err := sceptest.NewDevice(fmt.Sprintf("crash device %d", i))
		if err != nil {
			t.Fatal(err)
		}
		devices[i] = d
	}
	client := &crashClient{ndesPassword: ndesPW, http: &http.Client{Timeout: 10 * time.Second}, serials: map[string]string{}}
	for round := 1; round <= rounds; round++ {
		srv := startServer(t, data, env)
		client.baseURL = srv.URL
		certs, err := pki.ParseDegenerate(httpGet(t, srv.URL+"/pgwy/scep/ndesrequest?operation=GetCACert"))
		if err != nil || len(certs) == 0 {
			t.Fatalf("round %d: GetCACert: %v", round, err)
		}
		ra := certs[0]
		// The first password pays for the bcrypt check of the NDES
		// credentials (slow in a race-enabled build); the load that
		// follows runs on the remembered check.
		if _, err := client.password(context.Background()); err != nil {
			t.Fatalf("round %d: the first password: %v", round, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				for i := 0; ctx.Err() == nil; i++ {
					pw, err := client.password(ctx)
					if err == nil {
						err = client.enroll(ctx, devices[w], ra, fmt.Sprintf("crash %d-%d-%d", round, w, i), pw)
					}
					if err != nil && ctx.Err() == nil && !srv.Exited() {
						// Not the crash: the server refused or failed.
						if !strings.Contains(err.Error(), "connection") && !strings.Contains(err.Error(), "EOF") {
							t.Errorf("round %d: %v", round, err)
						}
					}
					if err != nil {
						time.Sleep(20 * time.Millisecond)
					}
				}
			})
		}
		// Let the load run a random while, then pull the plug.
		time.Sleep(time.Duration(400+rnd.IntN(1600)) * time.Millisecond)
		if err := srv.Cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		for !srv.Exited() {
			time.Sleep(10 * time.Millisecond)
		}
		cancel()
		wg.Wait()
		client.mu.Lock()
		t.Logf("round %d: %d passwords, %d certificates received so far", round, len(client.passwords), len(client.serials))
		client.mu.Unlock()
		checkAfterCrash(t, round, data, client)
		if t.Failed() {
			return
		}
	}
	// And it starts again, and serves, after the last crash.
	srv := startServer(t, data, env)
	if b := httpGet(t, srv.URL+"/pgwy/scep/ndesrequest?operation=GetCACaps"); !bytes.Contains(b, []byte("POSTPKIOperation")) {
		t.Errorf("GetCACaps after the last crash = %q", b)
	}
	if len(client.serials) == 0 {
		t.Error("no enrollment succeeded in any round; the test proved nothing")
	}
}

// checkAfterCrash holds the database in data to what client was told.
func checkAfterCrash(t *testing.T, round int, data string, client *crashClient) {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(data, "scepgate.db")+"?_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var integrity string
	if err := db.QueryRow(`PRAGMA integrity_check`).Scan(&integrity); err != nil || integrity != "ok" {
		t.Errorf("round %d: integrity_check = %q, %v; want ok", round, integrity, err)
	}
	mk, err := pki.ReadMasterKey(data, "")
	if err != nil {
		t.Fatal(err)
	}
	client.mu.Lock()
	defer client.mu.Unlock()
	for serial, cn := range client.serials {
		var n int
		if err := db.QueryRow(`SELECT COUNT(*) FROM certificates WHERE serial = ?`, serial).Scan(&n); err != nil || n != 1 {
			t.Errorf("round %d: certificate %s (%s), which a client received, is stored %d times (%v); want once", round, serial, cn, n, err)
		}
	}
	for _, pw := range client.passwords {
		var n int
		if err := db.QueryRow(`SELECT COUNT(*) FROM registrations WHERE challenge_hash = ?`, mk.ChallengeHash(pw)).Scan(&n); err != nil || n != 1 {
			t.Errorf("round %d: a password a client received has %d registrations (%v); want 1", round, n, err)
		}
	}
	var orphans int
	err = db.QueryRow(`SELECT COUNT(*) FROM registrations r WHERE r.used_at IS NOT NULL AND r.last_failure = ''
		AND r.certificate_id IS NULL AND NOT EXISTS (SELECT 1 FROM certificates c WHERE c.registration_id = r.id)`).Scan(&orphans)
	if err != nil || orphans != 0 {
		t.Errorf("round %d: %d consumed passwords have neither a certificate nor a recorded failure (%v); want 0", round, orphans, err)
	}
	var unconsumed int
	err = db.QueryRow(`SELECT COUNT(*) FROM certificates c JOIN registrations r ON r.id = c.registration_id WHERE r.used_at IS NULL`).Scan(&unconsumed)
	if err != nil || unconsumed != 0 {
		t.Errorf("round %d: %d certificates name a registration that is not consumed (%v); want 0", round, unconsumed, err)
	}
}
