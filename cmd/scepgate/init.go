package main

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/scepgate/scepgate/pki"
	"github.com/scepgate/scepgate/store"
	"github.com/spf13/cobra"
)

// initFlags are the flags of init.
type initFlags struct {
	caKey     string
	publicURL string
}

func newInitCmd(cl *cli) *cobra.Command {
	var f initFlags
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create a data folder: master key, database, CA and RA, admin user",
		Long: `Init creates a new data folder (--data) for the server: the folder itself
(mode 0700), the master key file master.key (mode 0600) that encrypts the CA
and RA keys, unless SCEPGATE_MASTER_KEY is set, the database, a CA and an RA
certificate, and the reference's procedures, handlers and the users admin
and ndesadmin. It prints their passwords once (SCEPGATE_ADMIN_PASSWORD and
SCEPGATE_NDES_PASSWORD choose them instead) and where to sign in.

The folder must be missing or empty. Init refuses a folder that is already
initialised, incomplete (a database without its master key, or a master key
without its database) or holds other files, and never writes a master key
next to an existing database. Keep master.key safe: a backup of the
database is useless without it.

The RA certificate names the host of --public-url, this machine's host name
and localhost, so that "serve --tls-ra" can serve HTTPS with it.`,
		Example: `  scepgate init --data /var/lib/scepgate --public-url https://scep.example.com
  scepgate init --data /var/lib/scepgate --database postgres://scepgate@db/scepgate`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runInit(cmd.Context(), cl, f)
		},
	}
	fs := cmd.Flags()
	cl.envString(fs, &f.caKey, caKeyFlag)
	cl.envString(fs, &f.publicURL, envFlag{name: "public-url", env: "SCEPGATE_PUBLIC_URL", shownDef: "http://localhost:8080",
		help: "base URL clients will reach the server at; the RA certificate names its host, and init says to sign in there"})
	return cmd
}

// caKeyFlag is --ca-key, of init and serve.
var caKeyFlag = envFlag{name: "ca-key", env: "SCEPGATE_CA_KEY", def: "rsa2048",
	help: "key type of a new CA: " + strings.Join(pki.KeyTypes, ", ")}

func runInit(ctx context.Context, cl *cli, f initFlags) error {
	if err := checkKeyType(f.caKey); err != nil {
		return err
	}
	if f.publicURL == "" {
		f.publicURL = "http://localhost:8080"
	}
	if err := checkPublicURL(f.publicURL); err != nil {
		return err
	}
	log, err := logger(cl.stderr, cl.logging)
	if err != nil {
		return err
	}
	if _, err := storeOptions(cl.common, store.MigrateApply); err != nil {
		return err
	}
	d := cl.folder()
	if err := makeFolder(d); err != nil {
		return err
	}
	lock, err := lockFolder(d.dir)
	if err != nil {
		return err
	}
	defer lock.release()
	return initialise(ctx, d, initOptions{caKeyType: f.caKey, raNames: raNames(f.publicURL), signInURL: f.publicURL, serveHint: true},
		cl.getenv, cl.stdout, log)
}

// checkKeyType refuses a --ca-key that names no key type.
func checkKeyType(t string) error {
	if slices.Contains(pki.KeyTypes, strings.ToLower(t)) {
		return nil
	}
	return usageError{fmt.Sprintf("--ca-key %q is not a key type: use one of %s", t, strings.Join(pki.KeyTypes, ", "))}
}

// checkPublicURL refuses a --public-url that is not an http or https URL.
func checkPublicURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageError{fmt.Sprintf("--public-url %q is not an http:// or https:// URL, such as https://scep.example.com", s)}
	}
	return nil
}

// raNames are the names a new RA certificate carries, so that --tls-ra
// serves a certificate that TLS clients accept: the host of the public
// URL, the hosts of the listen addresses when they name one, this
// machine's host name, and localhost.
func raNames(publicURL string, listens ...string) []string {
	var names []string
	add := func(n string) {
		n = strings.TrimSuffix(strings.ToLower(n), ".")
		if n != "" && n != "0.0.0.0" && n != "::" && !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	if u, err := url.Parse(publicURL); err == nil {
		add(u.Hostname())
	}
	for _, l := range listens {
		if host, _, err := net.SplitHostPort(l); err == nil {
			add(host)
		}
	}
	if h, err := os.Hostname(); err == nil && !strings.ContainsAny(h, " _") {
		add(h)
	}
	for _, n := range []string{"localhost", "127.0.0.1", "::1"} {
		add(n)
	}
	return names
}
