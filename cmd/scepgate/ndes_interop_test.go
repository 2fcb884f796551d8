package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/scepgate/scepgate/internal/proctest"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki"
	"github.com/scepgate/scepgate/store"
)

// ndesReferenceHandlers is the example from the reference page, as is.
const ndesReferenceHandlers = `# http://<pgwy-host>:<port>/pgwy/scep/ndeschallenge/
# Handler for SCEP dynamic challenge endpoint (NDES compliant)
handler.3.filter = ndeschallenge/
handler.3.format = scep-ndes
handler.3.ndesUsername = ndesadmin
handler.3.ndesPassword = ndespassword
handler.3.ndesChallengeValidity = PT15M
# http://<pgwy-host>:<port>/pgwy/scep/ndesrequest
# Handler for SCEP request using dynamic challenge password (NDES compliant)
handler.4.filter = ndesrequest
handler.4.format = scep
handler.4.tokenprocedure = SCEP Registration and Enroll Procedure with NDES Challenge
`

// TestNDESInterop runs a real `scepgate serve`, fetches one-time passwords
// over HTTP as an MDM does, and enrolls with micromdm's scepclient.
func TestNDESInterop(t *testing.T) {
	proctest.RequireTool(t, "scepclient", "scep")
	proctest.RequireTool(t, "openssl", "openssl")
	data := filepath.Join(t.TempDir(), "data")
	const ndesPW = "interop-ndes-password"
	srv := startServer(t, data, []string{"SCEPGATE_NDES_PASSWORD=" + ndesPW, "SCEPGATE_ADMIN_PASSWORD=interop-admin-password"})
	challengeURL := srv.URL + "/pgwy/scep/ndeschallenge/"
	requestURL := srv.URL + "/pgwy/scep/ndesrequest"

	t.Run("fail/no credentials", func(t *testing.T) {
		resp, _ := ndesGet(t, challengeURL, "", "")
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Basic realm=") {
			t.Errorf("status %d, WWW-Authenticate %q; want 401 with a Basic challenge", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
	})

	t.Run("ok/enroll once with scepclient", func(t *testing.T) {
		password := ndesPassword(t, challengeURL, "ndesadmin", ndesPW)
		certPath, ok, out := runScepclient(t, requestURL, password, "interop-device-1")
		if !ok {
			t.Fatalf("scepclient did not enroll:\n%s\nserver log:\n%s", out, srv.Logs())
		}
		caFile := filepath.Join(t.TempDir(), "ca.pem")
		caChainPEM(t, srv.URL, caFile)
		if out, err := exec.Command("openssl", "verify", "-CAfile", caFile, certPath).CombinedOutput(); err != nil {
			t.Errorf("openssl verify: %v\n%s", err, out)
		}
		cert := ndesReadCert(t, certPath)

		// The same password a second time, with a new key in a new folder.
		if _, ok, out := runScepclient(t, requestURL, password, "interop-device-2"); ok {
			t.Errorf("scepclient enrolled twice with one password:\n%s", out)
		} else if !strings.Contains(out, "badRequest") {
			t.Errorf("scepclient output = %q; want a badRequest failure", out)
		}

		// The registration says so, next to the server that is still running.
		ctx := context.Background()
		db, err := store.Open(ctx, filepath.Join(data, "scepgate.db"), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		mk, err := pki.ReadMasterKey(data, "")
		if err != nil {
			t.Fatal(err)
		}
		regs, err := db.FindRegistrationsByChallenge(ctx, mk.ChallengeHash(password))
		if err != nil || len(regs) != 1 {
			t.Fatalf("registrations for the password = %d, %v; want 1", len(regs), err)
		}
		r := regs[0]
		if r.Kind != model.RegistrationNDES || r.State != model.StateUsed || r.UsedAt == nil || r.CertificateID == nil {
			t.Fatalf("registration = %+v; want a used NDES registration with its certificate", r)
		}
		if r.RequestedBy != "ndesadmin" || r.ClientAddr != "127.0.0.1" {
			t.Errorf("registration asked for by %q from %q; want ndesadmin from 127.0.0.1", r.RequestedBy, r.ClientAddr)
		}
		if !strings.Contains(r.LastFailure, "already been used") {
			t.Errorf("registration's last failure = %q; want it to say the password was already used", r.LastFailure)
		}
		stored, err := db.FindCertificateBySerial(ctx, strings.ToLower(cert.SerialNumber.Text(16)))
		if err != nil {
			t.Fatal(err)
		}
		if stored.ID != *r.CertificateID {
			t.Errorf("registration's certificate = %d; want %d, the one scepclient got", *r.CertificateID, stored.ID)
		}
	})

	t.Run("ok/Microsoft paths", func(t *testing.T) {
		password := ndesPassword(t, srv.URL+"/certsrv/mscep_admin/", "ndesadmin", ndesPW)
		if _, ok, out := runScepclient(t, srv.URL+"/certsrv/mscep/mscep.dll", password, "interop-alias"); !ok {
			t.Fatalf("scepclient at /certsrv/mscep/mscep.dll did not enroll:\n%s", out)
		}
		resp, body := ndesGet(t, srv.URL+"/certsrv/mscep/mscep.dll/pkiclient.exe?operation=GetCACaps", "", "")
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "POSTPKIOperation") {
			t.Errorf("GetCACaps at /pkiclient.exe: status %d, body %q; want 200 with the capabilities", resp.StatusCode, body)
		}
	})

	t.Run("ok/import the reference handlers while serving", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "handlers.properties")
		if err := os.WriteFile(file, []byte(ndesReferenceHandlers), 0o600); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := srv.run(t, "handlers", "import", file)
		if code != 0 || !strings.Contains(out, "Updated handler ndeschallenge: ndesPassword") {
			t.Fatalf("first import: exit %d, output %q %q; want 0 and the ndesPassword change", code, out, errOut)
		}
		code, out, errOut = srv.run(t, "handlers", "import", file)
		if code != 0 || !strings.Contains(out, "Nothing to change") {
			t.Fatalf("second import: exit %d, output %q %q; want 0 and nothing to change", code, out, errOut)
		}
		// The running server takes the new password within a second or so.
		deadline := time.Now().Add(5 * time.Second)
		for {
			resp, _ := ndesGet(t, challengeURL, "ndesadmin", "ndespassword")
			if resp.StatusCode == http.StatusOK {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the imported password is still refused (status %d) after 5 s", resp.StatusCode)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	t.Run("ok/alias a new challenge handler", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "mdm.properties")
		props := "handler.5.filter = mdm/\nhandler.5.format = scep-ndes\nhandler.5.ndesUsername = mdm\nhandler.5.ndesPassword = mdm-password\nhandler.5.ndesChallengeValidity = PT1H\n"
		if err := os.WriteFile(file, []byte(props), 0o600); err != nil {
			t.Fatal(err)
		}
		if code, out, errOut := srv.run(t, "handlers", "import", file); code != 0 || !strings.Contains(out, "Created handler mdm") {
			t.Fatalf("import: exit %d, output %q %q; want handler mdm created", code, out, errOut)
		}
		if code, out, errOut := srv.run(t, "handlers", "alias", "--mscep-admin", "mdm"); code != 0 || !strings.Contains(out, "/certsrv/mscep_admin/ is served by handler mdm") {
			t.Fatalf("alias: exit %d, output %q %q; want the new mapping", code, out, errOut)
		}
		if code, _, errOut := srv.run(t, "handlers", "alias", "--mscep", "mdm"); code != 1 || !strings.Contains(errOut, `needs a handler of format scep.`) {
			t.Errorf("alias --mscep to a challenge handler: exit %d, stderr %q; want 1 and the reason", code, errOut)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			resp, body := ndesGet(t, srv.URL+"/certsrv/mscep_admin/", "mdm", "mdm-password")
			if resp.StatusCode == http.StatusOK {
				if page := ndesDecodeUTF16LE(t, body); !strings.Contains(page, "will expire within 60 minutes.") {
					t.Errorf("page of handler mdm does not state its PT1H validity:\n%s", page)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("/certsrv/mscep_admin/ still refuses handler mdm's credentials (status %d) after 5 s", resp.StatusCode)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	// Last: it locks this client address out.
	t.Run("fail/repeated wrong credentials are refused with 429", func(t *testing.T) {
		// Earlier subtests may have failed a few times while waiting for a
		// reload; the 10th failure within 15 minutes locks the address out.
		var resp *http.Response
		statuses := []int{}
		for range 10 {
			resp, _ = ndesGet(t, challengeURL, "ndesadmin", "guess")
			statuses = append(statuses, resp.StatusCode)
			if resp.StatusCode != http.StatusUnauthorized {
				break
			}
		}
		if statuses[0] != http.StatusUnauthorized || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("statuses %v, last Retry-After %q; want 401s, then 429 with Retry-After", statuses, resp.Header.Get("Retry-After"))
		}
		if resp, _ := ndesGet(t, challengeURL, "ndesadmin", "ndespassword"); resp.StatusCode != http.StatusTooManyRequests {
			t.Errorf("right credentials while locked out: status %d; want 429", resp.StatusCode)
		}
		if !strings.Contains(srv.Logs(), "locked out") {
			t.Errorf("the server log does not record the lockout:\n%s", srv.Logs())
		}
	})
}
