package main

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/scepgate/scepgate/enroll"
	"github.com/scepgate/scepgate/handlers"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/store"
	"github.com/scepgate/scepgate/web"
	"github.com/spf13/cobra"
)

// serveFlags are the flags of serve.
type serveFlags struct {
	listen         string
	listenSCEP     string
	publicURL      string
	caKey          string
	init           bool
	tlsCert        string
	tlsKey         string
	tlsRA          bool
	trustedProxies []string
	envProblems    []error // environment variables that do not parse
	metrics        metricsFlags
}

func newServeCmd(cl *cli) *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the server",
		Long: `Serve runs the gateway on --listen until it is interrupted (SIGINT or
SIGTERM): the SCEP handlers under /pgwy/scep/, the Microsoft NDES paths
/certsrv/mscep/mscep.dll and /certsrv/mscep_admin/, the CRLs and the admin
portal. The data folder must have been made by "scepgate init"; with
--init, serve makes it first when it is missing or empty (and prints the
generated admin and ndesadmin passwords), and otherwise just serves.

It opens its listening sockets before it touches the data folder, so a port
in use fails first; and it locks the data folder (DATA/scepgate.lock), so a
second server on the same folder refuses to start. Other commands work
beside a running server.

HTTPS: with --tls-cert and --tls-key (PEM files, read again on SIGHUP and
when they change), or --tls-ra (the RA certificate, which follows a CA
import), --listen serves everything over HTTPS, with HSTS and Secure
cookies. --listen-scep then adds a plain-HTTP listener for devices that
speak SCEP over HTTP only: it serves the SCEP handlers, mscep.dll and the
CA certificates and CRLs, and redirects everything else (the portal, the
NDES challenge handlers) to HTTPS.

Behind a reverse proxy, --trusted-proxy names the proxy's addresses: only
from them are X-Forwarded-For (the client's address, for logs, the audit
log and lockouts) and X-Forwarded-Proto (https: Secure cookies) believed.

It keeps the CRL fresh and expires unused registrations while it runs. GOGC
sets the garbage collector's target as usual (default 400 here).`,
		Example: `  scepgate serve --init --listen 127.0.0.1:8080
  scepgate serve --data /var/lib/scepgate --listen :8443 --tls-cert tls.pem --tls-key tls.key \
      --listen-scep :8080 --public-url http://scep.example.com:8080
  scepgate serve --listen 127.0.0.1:8080 --trusted-proxy 127.0.0.1 --public-url https://scep.example.com`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := errors.Join(f.envProblems...); err != nil {
				return usageError{err.Error()}
			}
			return runServe(cmd.Context(), cl, f)
		},
	}
	fs := cmd.Flags()
	cl.envString(fs, &f.listen, envFlag{name: "listen", env: "SCEPGATE_LISTEN", def: ":8080",
		help: "address to listen on (HTTPS when TLS is on); 127.0.0.1:8080 listens on this machine only"})
	cl.envString(fs, &f.listenSCEP, envFlag{name: "listen-scep", env: "SCEPGATE_LISTEN_SCEP", shownDef: "none",
		help: "with TLS on, a second address that serves SCEP over plain HTTP and redirects the rest to HTTPS"})
	cl.envString(fs, &f.publicURL, envFlag{name: "public-url", env: "SCEPGATE_PUBLIC_URL", shownDef: "http://localhost:PORT, https:// with TLS, the --listen-scep port when set",
		help: "base URL clients reach this server at; certificates link to their CRL and CA certificate under it"})
	cl.envString(fs, &f.caKey, caKeyFlag)
	f.envProblems = append(f.envProblems,
		cl.envBool(fs, &f.init, envFlag{name: "init", env: "SCEPGATE_INIT",
			help: "make the data folder first when it is missing or empty, as scepgate init does"}),
		cl.envBool(fs, &f.tlsRA, envFlag{name: "tls-ra", env: "SCEPGATE_TLS_RA",
			help: "serve HTTPS with the RA certificate and key"}))
	cl.envString(fs, &f.tlsCert, envFlag{name: "tls-cert", env: "SCEPGATE_TLS_CERT", shownDef: "none",
		help: "PEM file with the HTTPS certificate and its chain; read again on SIGHUP and when it changes"})
	cl.envString(fs, &f.tlsKey, envFlag{name: "tls-key", env: "SCEPGATE_TLS_KEY", shownDef: "none",
		help: "PEM file with the key of --tls-cert"})
	cl.envStrings(fs, &f.trustedProxies, envFlag{name: "trusted-proxy", env: "SCEPGATE_TRUSTED_PROXIES",
		help: "address or CIDR range of a reverse proxy whose X-Forwarded-For and X-Forwarded-Proto are believed"})
	cl.addMetricsFlags(fs, &f.metrics)
	return cmd
}

func runServe(ctx context.Context, cl *cli, f serveFlags) error {
	// SIGHUP reloads the TLS certificate files; unhandled, it would end
	// the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	if cl.getenv("GOGC") == "" {
		// The enrollment path allocates little but often; memory is cheaper
		// than the collector's CPU on a busy gateway. GOGC overrides it.
		debug.SetGCPercent(400)
	}
	proxies, err := f.check()
	if err != nil {
		return err
	}
	log, err := logger(cl.stderr, cl.logging)
	if err != nil {
		return err
	}
	d := cl.folder()
	facts, err := d.look()
	if err != nil {
		return err
	}
	doInit := f.init && facts.fresh()
	if !doInit {
		if err := d.readyErr(facts); err != nil {
			return err
		}
	}
	var certFiles *web.CertFiles
	if f.tlsCert != "" {
		if certFiles, err = web.LoadCertFiles(f.tlsCert, f.tlsKey, log); err != nil {
			return err
		}
	}
	// The sockets first: a port in use fails before anything is created.
	lns, err := listen(f)
	if err != nil {
		return err
	}
	defer lns.close()
	if f.publicURL == "" {
		f.publicURL = defaultPublicURL(f)
	}

	if doInit {
		if err := makeFolder(d); err != nil {
			return err
		}
	}
	lock, err := lockFolder(d.dir)
	if err != nil {
		return err
	}
	defer lock.release()
	if doInit {
		err := initialise(ctx, d, initOptions{caKeyType: f.caKey, raNames: raNames(f.publicURL, f.listen), signInURL: signInURL(f, lns)},
			cl.getenv, cl.stdout, log)
		var done *initialisedError
		if err != nil && !errors.As(err, &done) {
			return err
		}
	}
	e, err := open(ctx, d, store.MigrateApply, log)
	if err != nil {
		return err
	}
	defer e.close()

	if err := e.db.SetPublicURL(ctx, strings.TrimRight(f.publicURL, "/")); err != nil {
		return err
	}
	svc := e.service()
	if _, err := svc.Snapshot(ctx); err != nil {
		return err
	}
	crlCtx, stopCRL := context.WithCancel(ctx)
	defer stopCRL()
	go svc.RunCRLUpdater(crlCtx, 10*time.Minute)
	metrics, err := f.metrics.newMetrics(e, svc, log)
	if err != nil {
		return err
	}
	// One bound on bcrypt work for the portal's sign-in and the NDES
	// handlers' credentials together.
	passwords := handlers.NewPasswordChecker(handlers.PasswordCheckerConfig{})
	ec := web.New(web.Config{
		Log: log,
		Protocol: &handlers.Protocol{Snapshots: svc,
			SCEP: &handlers.SCEP{Service: svc, Log: log, Observer: observer(metrics)},
			NDES: handlers.NewNDES(handlers.NDESConfig{Service: svc, Attempts: e.db, Policy: model.DefaultNDESAttempts, Passwords: passwords,
				Log: log, Observer: observer(metrics)})},
		Publisher:      &handlers.Publisher{Service: svc},
		Portal:         newPortal(e, svc, log, observer(metrics), passwords),
		API:            newAPI(e, svc, log, observer(metrics)),
		Metrics:        metrics,
		ServeMetrics:   f.metrics.onMain,
		Ready:          &web.Readiness{DB: e.db, Snapshots: svc},
		TrustedProxies: proxies,
		HTTPS:          httpsRedirect(f, lns),
	})
	stopMetrics, err := f.metrics.serveMetrics(metrics, log)
	if err != nil {
		return err
	}
	defer stopMetrics()
	sweepCtx, stopSweeper := context.WithCancel(ctx)
	defer stopSweeper()
	go svc.RunExpirySweeper(sweepCtx, enroll.ExpiryInterval)

	servers := newServers(ec, f, lns, certFiles, svc, log)
	warnings(ctx, f, lns, svc, log)
	log.Info("listening", "addr", lns.main.Addr().String(), "data", cl.common.data, "scep", servers.scepURL())
	return servers.run(ctx, hup, certFiles, log)
}

// defaultPublicURL is where clients reach a server listening as f says,
// as seen from this machine: http://localhost:PORT, https:// with TLS,
// and with --listen-scep that listener, so that certificates point at
// their CRL over plain HTTP, as RFC 5280 advises.
func defaultPublicURL(f serveFlags) string {
	switch {
	case f.listenSCEP != "":
		return "http://localhost:" + portOf(f.listenSCEP)
	case f.tls():
		return "https://localhost:" + portOf(f.listen)
	}
	return "http://localhost:" + portOf(f.listen)
}

func portOf(listen string) string {
	_, port, err := net.SplitHostPort(listen)
	if err != nil || port == "" {
		port = "8080"
	}
	return port
}

func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil || host == "::" || host == "0.0.0.0" || host == "" {
		return "localhost:" + port
	}
	return net.JoinHostPort(host, port)
}

// shutdownGrace is how long requests in flight may take to finish once
// serve is told to stop.
const shutdownGrace = 10 * time.Second

// shutdown stops srv, letting requests in flight finish for shutdownGrace;
// then it closes the connections still open (a slow or stalled client), so
// that a stop is clean whatever the clients do.
func shutdown(srv *http.Server, log *slog.Logger) error {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	err := srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		log.Warn("closed the connections still open after the grace period", "grace_s", int(shutdownGrace/time.Second), "addr", srv.Addr)
		return srv.Close()
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
