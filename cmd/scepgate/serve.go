package main

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/scepgate/scepgate/enroll"
	"github.com/scepgate/scepgate/handlers"
	"github.com/scepgate/scepgate/web"
)

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var c commonFlags
	fs := newFlagSet("serve", getenv, stderr, &c)
	listen := fs.String("listen", envOr(getenv, "SCEPGATE_LISTEN", ":8080"), "address to listen on (SCEPGATE_LISTEN)")
	publicURL := fs.String("public-url", getenv("SCEPGATE_PUBLIC_URL"), "base URL clients reach this server at; certificates link to their CRL under it (SCEPGATE_PUBLIC_URL; default http://localhost:PORT)")
	caKey := fs.String("ca-key", envOr(getenv, "SCEPGATE_CA_KEY", "rsa2048"), "key type of a new CA: rsa2048, rsa3072, rsa4096, p256 or p384 (SCEPGATE_CA_KEY)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log := logger(stderr)
	if getenv("GOGC") == "" {
		// The enrollment path allocates little but often; memory is cheaper
		// than the collector's CPU on a busy gateway. GOGC overrides it.
		debug.SetGCPercent(400)
	}
	e, err := open(ctx, c, setupOptions{caKeyType: *caKey}, getenv, stdout, log)
	if err != nil {
		return err
	}
	defer e.close()

	if *publicURL == "" {
		*publicURL = defaultPublicURL(*listen)
	}
	if err := e.db.SetPublicURL(ctx, strings.TrimRight(*publicURL, "/")); err != nil {
		return err
	}
	svc := e.service()
	if _, err := svc.Snapshot(ctx); err != nil {
		return err
	}
	crlCtx, stopCRL := context.WithCancel(ctx)
	defer stopCRL()
	go svc.RunCRLUpdater(crlCtx, 10*time.Minute)
	scepHandler := &handlers.SCEP{Service: svc, Log: log}
	ec := web.New(web.Config{
		Log:       log,
		SCEP:      scepHandler,
		Publisher: &handlers.Publisher{Service: svc},
		Portal:    newPortal(e, svc, log),
		NDES:      handlers.NewNDES(handlers.NDESConfig{Service: svc, SCEP: scepHandler, Log: log}),
	})
	sweepCtx, stopSweeper := context.WithCancel(ctx)
	defer stopSweeper()
	go svc.RunExpirySweeper(sweepCtx, enroll.ExpiryInterval)
	ln, err := net.Listen("tcp", *listen)
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
	log.Info("listening", "addr", ln.Addr().String(), "data", c.data, "scep", "http://"+displayAddr(ln.Addr())+"/pgwy/scep")
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
