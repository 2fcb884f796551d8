package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/scepgate/scepgate/enroll"
	"github.com/scepgate/scepgate/handlers"
	"github.com/scepgate/scepgate/web"
	"github.com/spf13/cobra"
)

// serveFlags are the flags of serve.
type serveFlags struct {
	listen    string
	publicURL string
	caKey     string
	metrics   metricsFlags
}

func newServeCmd(cl *cli) *cobra.Command {
	var f serveFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the server (creates the data folder on first start)",
		Long: `Serve runs the gateway on --listen until it is interrupted (SIGINT or
SIGTERM): the SCEP handlers under /pgwy/scep/, the Microsoft NDES paths
/certsrv/mscep/mscep.dll and /certsrv/mscep_admin/, the CRLs and the admin
portal. On the first start it creates the data folder and prints the
generated admin and ndesadmin passwords.

It keeps the CRL fresh and expires unused registrations while it runs. GOGC
sets the garbage collector's target as usual (default 400 here).`,
		Example: `  scepgate serve --data /var/lib/scepgate --listen :8443 --public-url https://scep.example.com`,
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd.Context(), cl, f)
		},
	}
	fs := cmd.Flags()
	cl.envString(fs, &f.listen, envFlag{name: "listen", env: "SCEPGATE_LISTEN", def: ":8080",
		help: "address to listen on"})
	cl.envString(fs, &f.publicURL, envFlag{name: "public-url", env: "SCEPGATE_PUBLIC_URL", shownDef: "http://localhost:PORT",
		help: "base URL clients reach this server at; certificates link to their CRL under it"})
	cl.envString(fs, &f.caKey, envFlag{name: "ca-key", env: "SCEPGATE_CA_KEY", def: "rsa2048",
		help: "key type of a new CA: rsa2048, rsa3072, rsa4096, p256 or p384"})
	cl.addMetricsFlags(fs, &f.metrics)
	return cmd
}

func runServe(ctx context.Context, cl *cli, f serveFlags) error {
	if cl.getenv("GOGC") == "" {
		// The enrollment path allocates little but often; memory is cheaper
		// than the collector's CPU on a busy gateway. GOGC overrides it.
		debug.SetGCPercent(400)
	}
	e, err := cl.open(ctx, setupOptions{caKeyType: f.caKey})
	if err != nil {
		return err
	}
	defer e.close()
	log := e.log

	if f.publicURL == "" {
		f.publicURL = defaultPublicURL(f.listen)
	}
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
	ec := web.New(web.Config{
		Log: log,
		Protocol: &handlers.Protocol{Snapshots: svc,
			SCEP: &handlers.SCEP{Service: svc, Log: log, Observer: observer(metrics)},
			NDES: handlers.NewNDES(handlers.NDESConfig{Service: svc, Log: log, Observer: observer(metrics)})},
		Publisher: &handlers.Publisher{Service: svc},
		Portal:    newPortal(e, svc, log, observer(metrics)),
		API:       newAPI(e, svc, log, observer(metrics)),
		Metrics:   metrics, ServeMetrics: f.metrics.onMain,
		Ready: &web.Readiness{DB: e.db, Snapshots: svc},
	})
	stopMetrics, err := f.metrics.serveMetrics(metrics, log)
	if err != nil {
		return err
	}
	defer stopMetrics()
	sweepCtx, stopSweeper := context.WithCancel(ctx)
	defer stopSweeper()
	go svc.RunExpirySweeper(sweepCtx, enroll.ExpiryInterval)
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           ec,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
	log.Info("listening", "addr", ln.Addr().String(), "data", cl.common.data, "scep", "http://"+displayAddr(ln.Addr())+"/pgwy/scep")
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// defaultPublicURL is http://localhost:PORT for a listen address.
func defaultPublicURL(listen string) string {
	_, port, err := net.SplitHostPort(listen)
	if err != nil || port == "" {
		port = "8080"
	}
	return "http://localhost:" + port
}

func displayAddr(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil || host == "::" || host == "0.0.0.0" || host == "" {
		return "localhost:" + port
	}
	return net.JoinHostPort(host, port)
}
