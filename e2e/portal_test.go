// Package e2e drives a real scepgate server with a real browser (Debian's
// chromium) and a real SCEP client (Debian's scepclient).
package e2e

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/scepgate/scepgate/internal/proctest"
)

const (
	chromiumPath  = "/usr/bin/chromium"
	adminPassword = "e2e-admin-password"
	helpPassword  = "e2e-helpdesk-password"
)

// updateScreenshots rewrites the README's screenshots in docs/screenshots;
// without it they go to a temporary folder, so a test run leaves the tree
// as it was (`make screenshots` refreshes them).
var updateScreenshots = flag.Bool("update-screenshots", false, "write the screenshots into docs/screenshots")

var screenshotDir struct {
	once sync.Once
	path string
}

// screenshots returns the folder the screenshots go to.
func screenshots(t *testing.T) string {
	screenshotDir.once.Do(func() {
		screenshotDir.path = "../docs/screenshots"
		if !*updateScreenshots {
			dir, err := os.MkdirTemp("", "scepgate-screenshots-")
			if err != nil {
				t.Fatal(err)
			}
			screenshotDir.path = dir
		}
		t.Logf("screenshots in %s", screenshotDir.path)
	})
	return screenshotDir.path
}

// startServer builds cmd/scepgate and runs "scepgate serve" with a
// temporary data folder.
func startServer(t *testing.T) *proctest.Scepgate {
	t.Helper()
	dir := t.TempDir()
	bin, err := proctest.Build("github.com/scepgate/scepgate/cmd/scepgate", dir, false)
	if err != nil {
		t.Fatal(err)
	}
	return proctest.StartScepgate(t, bin, filepath.Join(dir, "data"),
		[]string{"SCEPGATE_ADMIN_PASSWORD=" + adminPassword, "SCEPGATE_NDES_PASSWORD=e2e-ndes-password"})
}

// newBrowser starts headless chromium with a temporary profile.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		t.Fatalf("chromium is missing at %s: install it with: apt-get install chromium", chromiumPath)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 3*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// do runs actions, failing the test with what step and page went wrong.
func do(t *testing.T, ctx context.Context, step string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, actions...); err != nil {
		fail(t, ctx, step, err)
	}
}

// read runs one action that returns a value.
func read[T any](t *testing.T, ctx context.Context, step string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		fail(t, ctx, step, err)
	}
	return v
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	return strings.TrimSpace(read(t, ctx, "read "+sel, chromedp.Text(chromedp.CSS(sel))))
}

func fail(t *testing.T, ctx context.Context, step string, err error) {
	t.Helper()
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	t.Fatalf("%s: %v\nat %s:\n%s", step, err, loc, body)
}

// shot saves a full-page PNG of the current page as name.png in the
// screenshots folder.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png := read(t, ctx, "screenshot "+name, chromedp.FullScreenshot(100))
	dir := screenshots(t)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

func byID(id string) string { return "#" + id }

func signIn(t *testing.T, ctx context.Context, base, user, password string) {
	t.Helper()
	do(t, ctx, "sign in as "+user,
		chromedp.Navigate(base+"/signin"),
		chromedp.WaitVisible(chromedp.CSS(byID("username"))),
		chromedp.SendKeys(chromedp.CSS(byID("username")), user),
		chromedp.SendKeys(chromedp.CSS(byID("password")), password),
		chromedp.Click(chromedp.CSS(`[data-testid="signin-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="who"]`)),
	)
}

func signOut(t *testing.T, ctx context.Context) {
	t.Helper()
	do(t, ctx, "sign out",
		chromedp.Click(chromedp.CSS(`[data-testid="signout"]`)),
		chromedp.WaitVisible(chromedp.CSS(byID("username"))),
	)
}

// TestPortalNDESFlow is the help-desk story end to end: an administrator
// sets up procedures, an NDES handler pair and a help-desk user; the
// help desk hands out a password; a device enrolls with it; the
// registration shows used with its certificate.
func TestPortalNDESFlow(t *testing.T) {
	scepclient, err := exec.LookPath("scepclient")
	if err != nil {
		t.Fatalf("scepclient is missing: install it with: apt-get install scep")
	}
	srv := startServer(t)
	ctx := newBrowser(t)
	base := srv.URL

	signIn(t, ctx, base, "admin", adminPassword)
	do(t, ctx, "dashboard", chromedp.WaitVisible(chromedp.CSS(`[data-testid="chart"]`)))
	shot(t, ctx, "dashboard")

	do(t, ctx, "CA page", chromedp.Navigate(base+"/ca"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="ndes-thumbprint"]`)))
	shot(t, ctx, "ca")

	// A certificate procedure, first with a mistake the form points out.
	do(t, ctx, "certificate procedure with a mistake",
		chromedp.Navigate(base+"/procedures/certificate/new"),
		chromedp.WaitVisible(chromedp.CSS(byID("name"))),
		chromedp.SetValue(chromedp.CSS(byID("name")), "E2E NDES Certificate"),
		chromedp.SetValue(chromedp.CSS(byID("format")), "scepndesdynamicenroll"),
		chromedp.SetAttributeValue(chromedp.CSS(byID("validity_days")), "min", "0"), // let the server judge
		chromedp.SetValue(chromedp.CSS(byID("validity_days")), "0"),
		chromedp.Click(chromedp.CSS(`[data-testid="save"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="error-validity_days"]`)),
	)
	shot(t, ctx, "form-error")
	do(t, ctx, "certificate procedure",
		chromedp.SetValue(chromedp.CSS(byID("validity_days")), "365"),
		chromedp.Click(chromedp.CSS(`[data-testid="save"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="token-procedures"]`)),
	)
	do(t, ctx, "token procedure",
		chromedp.Navigate(base+"/procedures/token/new"),
		chromedp.WaitVisible(chromedp.CSS(byID("name"))),
		chromedp.SetValue(chromedp.CSS(byID("name")), "E2E NDES Enroll"),
		setSelectByText(byID("certificate_procedures"), "E2E NDES Certificate (scepndesdynamicenroll)"),
		chromedp.Click(chromedp.CSS(`[data-testid="save"]`)),
		chromedp.WaitVisible(`//a[text()="E2E NDES Enroll"]`),
	)
	shot(t, ctx, "procedures")

	// The NDES handler pair: the challenge page and the SCEP endpoint.
	do(t, ctx, "NDES challenge handler",
		chromedp.Navigate(base+"/handlers/new"),
		chromedp.WaitVisible(chromedp.CSS(byID("name"))),
		chromedp.SetValue(chromedp.CSS(byID("name")), "e2echallenge"),
		chromedp.SetValue(chromedp.CSS(byID("filter")), "e2echallenge/"),
		setSelectByText(byID("format"), "scep-ndes: NDES one-time password page for MDMs"),
		chromedp.SetValue(chromedp.CSS(byID("ndes_username")), "mdm"),
		chromedp.SetValue(chromedp.CSS(byID("ndes_password")), "mdm-password-1"),
		chromedp.SetValue(chromedp.CSS(byID("ndes_challenge_validity")), "PT60M"),
	)
	// Only the chosen format's settings show ([hidden] wins over the
	// fieldsets' grid).
	shown := read(t, ctx, "format sections", chromedp.Evaluate[string](`[...document.querySelectorAll("fieldset[data-format]")].filter(f => getComputedStyle(f).display !== "none").map(f => f.dataset.format).join(",")`))
	if shown != "scep-ndes" {
		t.Errorf("handler form shows the sections %q, want only scep-ndes", shown)
	}
	shot(t, ctx, "handler-ndes")
	do(t, ctx, "save NDES challenge handler",
		chromedp.Click(chromedp.CSS(`[data-testid="save"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="handler-e2echallenge"]`)),
	)
	do(t, ctx, "NDES request handler",
		chromedp.Navigate(base+"/handlers/new"),
		chromedp.WaitVisible(chromedp.CSS(byID("name"))),
		chromedp.SetValue(chromedp.CSS(byID("name")), "e2erequest"),
		chromedp.SetValue(chromedp.CSS(byID("filter")), "e2erequest"),
		setSelectByText(byID("format"), "scep: SCEP endpoint for devices, runs a token procedure"),
		setSelectByText(byID("token_procedure"), "E2E NDES Enroll"),
		chromedp.Click(`//label[contains(., "single DES")]/input`),
		chromedp.Click(chromedp.CSS(`[data-testid="save"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="handler-e2erequest"]`)),
	)
	handlerURL := text(t, ctx, `[data-testid="handler-e2erequest"] [data-testid="url"]`)
	if want := base + "/pgwy/scep/e2erequest"; handlerURL != want {
		t.Errorf("handler URL %q, want %q", handlerURL, want)
	}
	shot(t, ctx, "handlers")

	// With htmx the list follows the search box as one types.
	do(t, ctx, "live search",
		chromedp.SendKeys(chromedp.CSS(`input[type="search"]`), "e2ereq"),
		chromedp.WaitNotPresent(chromedp.CSS(`[data-testid="handler-e2echallenge"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="handler-e2erequest"]`)),
	)
	if loc := read(t, ctx, "location", chromedp.Location()); !strings.HasSuffix(loc, "/handlers?q=e2ereq") {
		t.Errorf("after live search the address is %q, want it to end in /handlers?q=e2ereq", loc)
	}

	do(t, ctx, "help-desk user",
		chromedp.Navigate(base+"/users/new"),
		chromedp.WaitVisible(chromedp.CSS(byID("username"))),
		chromedp.SetValue(chromedp.CSS(byID("username")), "hd1"),
		chromedp.SetValue(chromedp.CSS(byID("role")), "helpdesk"),
		chromedp.SetValue(chromedp.CSS(byID("password")), helpPassword),
		chromedp.SetValue(chromedp.CSS(byID("password2")), helpPassword),
		chromedp.Click(chromedp.CSS(`[data-testid="save"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="user"]`)),
		chromedp.Navigate(base+"/users"),
		chromedp.WaitVisible(`//a[text()="hd1"]`),
	)
	shot(t, ctx, "users")
	signOut(t, ctx)

	// The help desk gets a password, shown large once, on a phone-sized screen.
	signIn(t, ctx, base, "hd1", helpPassword)
	do(t, ctx, "NDES password",
		chromedp.EmulateViewport(390, 844),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="get-password"]`)),
		setSelectByText(byID("handler"), "e2echallenge (PT60M)"),
		chromedp.Click(chromedp.CSS(`[data-testid="get-password"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="ndes-password"]`)),
	)
	password, thumbprint := text(t, ctx, `[data-testid="ndes-password"]`), text(t, ctx, `[data-testid="ca-thumbprint"]`)
	if len(password) != 16 || strings.ToUpper(password) != password || len(thumbprint) != 35 {
		t.Fatalf("password %q and thumbprint %q, want 16 upper-case hex characters and four groups of eight", password, thumbprint)
	}
	shot(t, ctx, "ndes-password-phone")
	do(t, ctx, "desktop size", chromedp.EmulateViewport(1280, 900))

	// The help desk may not open the procedures page.
	do(t, ctx, "help desk refused",
		chromedp.Navigate(base+"/procedures"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="forbidden"]`)),
	)
	forbidden := text(t, ctx, `[data-testid="forbidden"] h1`)
	if forbidden != "Not allowed" {
		t.Errorf("forbidden page heading %q, want Not allowed", forbidden)
	}
	shot(t, ctx, "forbidden")

	// A device enrolls with the password.
	dev := t.TempDir()
	enroll := exec.Command(scepclient, "-server-url", handlerURL, "-challenge", password,
		"-private-key", filepath.Join(dev, "device.key"), "-certificate", filepath.Join(dev, "device.pem"), "-cn", "e2e-device-1")
	enroll.Dir = dev
	if out, err := enroll.CombinedOutput(); err != nil {
		t.Fatalf("scepclient: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dev, "device.pem")); err != nil {
		t.Fatalf("scepclient wrote no certificate: %v", err)
	}

	// The help desk sees the registration used; the administrator follows
	// it to the certificate.
	do(t, ctx, "registration used",
		chromedp.Navigate(base+"/registrations?q=hd1"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="registrations"] table`)),
	)
	state := text(t, ctx, `[data-testid="registrations"] tbody tr [data-testid="state"]`)
	if state != "used" {
		t.Errorf("registration state %q, want used", state)
	}
	signOut(t, ctx)
	signIn(t, ctx, base, "admin", adminPassword)
	do(t, ctx, "certificate linked",
		chromedp.Navigate(base+"/registrations?q=hd1&state=used"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="certificate-link"]`)),
	)
	shot(t, ctx, "registrations")
	do(t, ctx, "certificate page",
		chromedp.Click(chromedp.CSS(`[data-testid="certificate-link"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="certificate"]`)),
	)
	subject := text(t, ctx, `[data-testid="certificate"] h1`)
	if !strings.Contains(subject, "CN=e2e-device-1") {
		t.Errorf("certificate subject %q, want CN=e2e-device-1", subject)
	}
	shot(t, ctx, "certificate")
	certificateDetails(t, ctx)
	certID := strings.TrimPrefix(read(t, ctx, "location", chromedp.Location()), base+"/certificates/")
	serialSearch(t, ctx, base)
	confirmWithDialog(t, ctx, base)
	bulkRevoke(t, ctx, base, certID)
	phoneRegistrations(t, ctx, base)
	darkTheme(t, ctx, base)

	do(t, ctx, "dashboard after enrollment",
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="chart"]`)),
	)
	if revoked := text(t, ctx, `[data-testid="count-revoked"] .tile-n`); revoked != "1" {
		t.Errorf("dashboard revoked certificates %q, want 1 (the bulk revoke)", revoked)
	}
	shot(t, ctx, "dashboard")
	do(t, ctx, "audit log", chromedp.Navigate(base+"/audit"), chromedp.WaitVisible(chromedp.CSS(`[data-testid="audit"]`)))
	shot(t, ctx, "audit")
	unlock(t, ctx, base)
}

// unlock: a wrong sign-in of hd1 shows on hd1's page, and the Unlock
// button forgets it.
func unlock(t *testing.T, ctx context.Context, base string) {
	t.Helper()
	signOut(t, ctx)
	do(t, ctx, "wrong password for hd1",
		chromedp.Navigate(base+"/signin"),
		chromedp.WaitVisible(chromedp.CSS(byID("username"))),
		chromedp.SendKeys(chromedp.CSS(byID("username")), "hd1"),
		chromedp.SendKeys(chromedp.CSS(byID("password")), "not the password"),
		chromedp.Click(chromedp.CSS(`[data-testid="signin-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(byID("username"))),
	)
	signIn(t, ctx, base, "admin", adminPassword)
	do(t, ctx, "hd1's page",
		chromedp.Navigate(base+"/users"),
		chromedp.Click(`//a[text()="hd1"]`),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="locked"]`)),
	)
	if got := text(t, ctx, `[data-testid="locked"]`); !strings.Contains(got, "1 failed sign-ins") {
		t.Errorf("hd1's sign-in state %q, want the failed sign-in counted", got)
	}
	do(t, ctx, "unlock",
		chromedp.Click(chromedp.CSS(`[data-testid="unlock"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="flash"]`)),
	)
	if n := read(t, ctx, "locked after unlock", chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="locked"]').length`)); n != 0 {
		t.Errorf("after Unlock the page still shows the sign-in state")
	}
}

// setSelectByText picks the option of the select sel whose text is text.
func setSelectByText(sel, text string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		js := fmt.Sprintf(`(() => { const s = document.querySelector(%q); const o = [...s.options].find(o => o.text === %q); if (!o) return false; s.value = o.value; s.dispatchEvent(new Event("change", {bubbles: true})); return true; })()`, sel, text)
		ok, err := chromedp.Evaluate[bool](js)(ctx, t)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("select %s has no option %q", sel, text)
		}
		return nil
	})
}

// certificateDetails checks what the certificate page says of the
// enrolled device's certificate.
func certificateDetails(t *testing.T, ctx context.Context) {
	t.Helper()
	for sel, want := range map[string]string{
		`[data-testid="cert-key"]`:                   "RSA",
		`[data-testid="cert-handler"]`:               "e2erequest",
		`[data-testid="cert-token-procedure"]`:       "E2E NDES Enroll",
		`[data-testid="cert-certificate-procedure"]`: "E2E NDES Certificate",
		`[data-testid="cert-state"]`:                 "active",
	} {
		if got := text(t, ctx, sel); !strings.Contains(got, want) {
			t.Errorf("certificate page %s = %q, want it to contain %q", sel, got, want)
		}
	}
	for _, sel := range []string{`[data-testid="cert-sha256"]`, `[data-testid="cert-sha1"]`} {
		if got := text(t, ctx, sel); strings.Count(got, ":") < 19 {
			t.Errorf("certificate page %s = %q, want a colon-separated fingerprint", sel, got)
		}
	}
	serial, colons := text(t, ctx, `[data-testid="cert-serial"]`), text(t, ctx, `[data-testid="cert-serial-colons"]`)
	if len(serial)%2 != 0 || strings.ToUpper(serial) != serial || strings.ReplaceAll(colons, ":", "") != serial {
		t.Errorf("serial %q and %q, want zero-padded upper-case hex, and the same with colons", serial, colons)
	}
	// portal.js shows times in the browser's zone, the UTC value in the tooltip.
	local := read(t, ctx, "local times", chromedp.Evaluate[bool](`[...document.querySelectorAll("time[datetime]")].every(e => e.dataset.local === "1" && / UTC$/.test(e.title))`))
	if !local {
		t.Errorf("times on the certificate page are not rewritten to local time with a UTC tooltip")
	}
}

// serialSearch finds the certificate by its serial as openssl prints it
// and with colons, through the live search.
func serialSearch(t *testing.T, ctx context.Context, base string) {
	t.Helper()
	serial, colons := text(t, ctx, `[data-testid="cert-serial"]`), text(t, ctx, `[data-testid="cert-serial-colons"]`)
	for _, q := range []string{serial, colons} {
		do(t, ctx, "search "+q,
			chromedp.Navigate(base+"/certificates?q=nothing-like-this"),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="certificates"] .empty`)),
			chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
				_, err := chromedp.Evaluate[bool](`(document.querySelector('input[type="search"]').value = "") === ""`)(ctx, tg)
				return err
			}),
			chromedp.SendKeys(chromedp.CSS(`input[type="search"]`), q),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="certificates"] [data-testid="serial"]`)),
		)
		if got := text(t, ctx, `[data-testid="certificates"] [data-testid="serial"]`); got != serial {
			t.Errorf("search %q lists serial %q, want %q", q, got, serial)
		}
	}
}

// confirmWithDialog cancels an open registration from its page: portal.js
// asks in a dialog first, and Cancel in the dialog leaves it open.
func confirmWithDialog(t *testing.T, ctx context.Context, base string) {
	t.Helper()
	do(t, ctx, "an open registration",
		chromedp.Navigate(base+"/ndes"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="get-password"]`)),
		setSelectByText(byID("handler"), "e2echallenge (PT60M)"),
		chromedp.Click(chromedp.CSS(`[data-testid="get-password"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="ndes-password"]`)),
		chromedp.Click(`//p[contains(., "Registration")]/a`),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="cancel"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="cancel"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="confirm-dialog"]`)),
	)
	if msg := text(t, ctx, `[data-testid="confirm-dialog"] .confirm-text`); !strings.Contains(msg, "no longer enrolls a device") {
		t.Errorf("dialog says %q, want what cancelling does", msg)
	}
	shot(t, ctx, "confirm-dialog")
	do(t, ctx, "dialog: cancel",
		chromedp.Click(chromedp.CSS(`[data-testid="confirm-no"]`)),
		chromedp.WaitNotVisible(chromedp.CSS(`[data-testid="confirm-dialog"]`)),
	)
	if state := text(t, ctx, `[data-testid="registration"] [data-testid="state"]`); state != "open" {
		t.Errorf("after Cancel in the dialog the registration is %q, want open", state)
	}
	do(t, ctx, "dialog: confirm",
		chromedp.Click(chromedp.CSS(`[data-testid="cancel"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="confirm-dialog"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="confirm-yes"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="flash"]`)),
	)
	if state := text(t, ctx, `[data-testid="registration"] [data-testid="state"]`); state != "cancelled" {
		t.Errorf("after confirming, the registration is %q, want cancelled", state)
	}
}

// bulkRevoke ticks the certificate in the list and revokes it through the
// confirmation page.
func bulkRevoke(t *testing.T, ctx context.Context, base, certID string) {
	t.Helper()
	do(t, ctx, "bulk revoke",
		chromedp.Navigate(base+"/certificates?state=active"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="bulk-form"]`)),
		chromedp.Click(chromedp.CSS(`[data-testid="select-`+certID+`"]`)),
		chromedp.SetValue(chromedp.CSS(`[data-testid="bulk-reason"]`), "5"),
		chromedp.Click(chromedp.CSS(`[data-testid="bulk-revoke"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="confirm-page"]`)),
	)
	if n := text(t, ctx, `[data-testid="confirm-count"]`); !strings.Contains(n, "1 item") {
		t.Errorf("bulk confirmation says %q, want 1 item", n)
	}
	if items := text(t, ctx, `[data-testid="confirm-items"]`); !strings.Contains(items, "CN=e2e-device-1") {
		t.Errorf("bulk confirmation lists %q, want the device's certificate", items)
	}
	shot(t, ctx, "bulk-revoke")
	do(t, ctx, "bulk revoke confirmed",
		chromedp.Click(chromedp.CSS(`[data-testid="confirm-yes"]`)),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="flash"]`)),
		chromedp.Navigate(base+"/certificates/"+certID),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="cert-state"]`)),
	)
	if state := text(t, ctx, `[data-testid="cert-state"]`); state != "revoked" {
		t.Errorf("after the bulk revoke the certificate is %q, want revoked", state)
	}
}

// phoneRegistrations checks that the registration list fits a 390 px
// phone without scrolling sideways.
func phoneRegistrations(t *testing.T, ctx context.Context, base string) {
	t.Helper()
	do(t, ctx, "registrations on a phone",
		chromedp.EmulateViewport(390, 844),
		chromedp.Navigate(base+"/registrations"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="registrations"] table`)),
	)
	width := read(t, ctx, "scroll width", chromedp.Evaluate[int](`document.scrollingElement.scrollWidth`))
	if width > 390 {
		t.Errorf("registrations on a 390 px phone are %d px wide, want no sideways scrolling", width)
	}
	visible := read(t, ctx, "certificate column", chromedp.Evaluate[bool](`(() => { const a = document.querySelector('[data-testid="certificate-link"]'); if (!a) return false; const r = a.getBoundingClientRect(); return r.width > 0 && r.right <= 390; })()`))
	if !visible {
		t.Errorf("the certificate link is off screen on a 390 px phone")
	}
	shot(t, ctx, "registrations-phone")
	do(t, ctx, "desktop size", chromedp.EmulateViewport(1280, 900))
}

// darkTheme checks that the portal follows prefers-color-scheme: dark.
func darkTheme(t *testing.T, ctx context.Context, base string) {
	t.Helper()
	do(t, ctx, "dark theme",
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
			return err
		}),
		chromedp.Navigate(base+"/"),
		chromedp.WaitVisible(chromedp.CSS(`[data-testid="chart"]`)),
	)
	bg := read(t, ctx, "background", chromedp.Evaluate[string](`getComputedStyle(document.body).backgroundColor`))
	if bg != "rgb(16, 21, 29)" {
		t.Errorf("dark theme: body background %q, want rgb(16, 21, 29)", bg)
	}
	shot(t, ctx, "dashboard-dark")
	do(t, ctx, "light theme",
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "light"}}})
			return err
		}),
	)
}
