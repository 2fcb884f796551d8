// Package proctest runs programs for tests as a user would: scepgate built
// from this tree, and outside programs such as micromdm's scepclient and
// scepserver. Every process is stopped when its test ends, and its output
// is shown when the test failed.
package proctest

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// RequireTool returns the path of an outside program, and fails the test
// (it never skips) when it is missing, naming the Debian package to install.
func RequireTool(t testing.TB, name, pkg string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed: run `apt-get install %s` (make test does it when run as root)", name, pkg)
	}
	return p
}

// Build compiles the Go package pkg (such as
// github.com/scepgate/scepgate/cmd/scepgate) into dir and returns the
// binary's path; for TestMain, which has no *testing.T.
func Build(pkg, dir string, race bool) (string, error) {
	bin := filepath.Join(dir, filepath.Base(pkg))
	args := []string{"build", "-o", bin}
	if race {
		args = append(args, "-race")
	}
	out, err := exec.Command("go", append(args, pkg)...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("build %s: %v\n%s", pkg, err, out)
	}
	return bin, nil
}

// FreeAddr returns a loopback address whose port was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// Buffer collects a process's output while a test reads it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *Buffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *Buffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Process is a program started for a test.
type Process struct {
	Cmd            *exec.Cmd
	Stdout, Stderr *Buffer
	done           chan struct{} // closed when the process has ended
}

// Start runs name with args and the extra environment env, and stops it
// (SIGTERM, then SIGKILL after 15 s) when the test ends.
func Start(t testing.TB, env []string, name string, args ...string) *Process {
	t.Helper()
	p := &Process{Stdout: &Buffer{}, Stderr: &Buffer{}, done: make(chan struct{})}
	p.Cmd = exec.Command(name, args...)
	p.Cmd.Env = append(os.Environ(), env...)
	p.Cmd.Stdout, p.Cmd.Stderr = p.Stdout, p.Stderr
	if err := p.Cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() { _ = p.Cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("output of %s:\n%s", filepath.Base(name), p.Output())
		}
	})
	return p
}

// Output returns what the process printed so far, standard output first.
func (p *Process) Output() string { return p.Stdout.String() + p.Stderr.String() }

// Exited reports whether the process has ended.
func (p *Process) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Stop ends the process and waits for it; it may be called again.
func (p *Process) Stop() {
	if p.Exited() {
		return
	}
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.Cmd.Process.Kill()
		<-p.done
	}
}

// WaitHTTP waits until the process has printed logLine (when not empty)
// and url answers 200; it fails if the process ends first.
func (p *Process) WaitHTTP(url, logLine string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if p.Exited() {
			return fmt.Errorf("the process ended before answering %s", url)
		}
		if logLine == "" || strings.Contains(p.Output(), logLine) {
			resp, err := http.Get(url)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK && !p.Exited() {
					return nil
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer within %s", url, timeout)
}

// Scepgate is a running `scepgate serve`.
type Scepgate struct {
	*Process
	URL  string // http://127.0.0.1:PORT
	Data string
}

// StartScepgate runs `bin serve --init` on a free loopback port with data
// in dataDir (made on first start) and the extra environment env (and
// args), and waits until it has said it listens and answers /healthz, so
// that another server that took the port is never mistaken for it.
func StartScepgate(t testing.TB, bin, dataDir string, env []string, args ...string) *Scepgate {
	t.Helper()
	addr := FreeAddr(t)
	p := Start(t, env, bin, append([]string{"serve", "--init", "--data", dataDir, "--listen", addr}, args...)...)
	s := &Scepgate{Process: p, URL: "http://" + addr, Data: dataDir}
	if err := p.WaitHTTP(s.URL+"/healthz", "msg=listening", 60*time.Second); err != nil {
		t.Fatalf("scepgate serve did not start: %v\n%s", err, p.Output())
	}
	return s
}
