package main

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scepgate/scepgate/internal/proctest"
)

// TestShutdownWithSlowClient: SIGTERM while a client is still sending a
// request body ends serve cleanly (exit 0) once the grace period is over,
// closing that connection, rather than with an error.
func TestShutdownWithSlowClient(t *testing.T) {
	addr := proctest.FreeAddr(t)
	p := proctest.Start(t, nil, scepgateBin, "serve", "--init", "--ca-key", "p256",
		"--data", filepath.Join(t.TempDir(), "data"), "--listen", addr)
	if err := p.WaitHTTP("http://"+addr+"/healthz", "listening", 60*time.Second); err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Headers complete, the body promised but not sent: the handler waits.
	fmt.Fprintf(conn, "POST /pgwy/scep?operation=PKIOperation HTTP/1.1\r\nHost: %s\r\nContent-Length: 4096\r\n\r\nMIIB", addr)
	time.Sleep(200 * time.Millisecond)
	start := time.Now()
	p.Stop()
	if code := p.Cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("serve exited with %d after SIGTERM with a slow client; want 0. Output:\n%s", code, p.Output())
	}
	if d := time.Since(start); d > 14*time.Second {
		t.Errorf("serve took %s to stop; want the 10 s grace period and a little", d)
	}
	if !strings.Contains(p.Output(), "connections still open") {
		t.Errorf("the log does not say that connections were closed:\n%s", p.Output())
	}
}
