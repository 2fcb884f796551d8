package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/scepgate/scepgate/enroll"
	"github.com/scepgate/scepgate/handlers"
	"github.com/scepgate/scepgate/web"
	"github.com/spf13/pflag"
)

// metricsFlags say where serve offers its Prometheus metrics.
type metricsFlags struct {
	onMain bool   // at /metrics on --listen
	listen string // at /metrics on a listener of its own
	envErr error  // SCEPGATE_METRICS was neither true nor false
}

// addMetricsFlags defines --metrics and --metrics-listen on fs.
func (cl *cli) addMetricsFlags(fs *pflag.FlagSet, f *metricsFlags) {
	def := false
	if v := cl.getenv("SCEPGATE_METRICS"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			f.envErr = usageError{fmt.Sprintf("SCEPGATE_METRICS is %q: use true or false.", v)}
		}
		def = b
	}
	fs.BoolVar(&f.onMain, "metrics", def,
		"serve Prometheus metrics at /metrics on --listen, to anyone who can reach it (env SCEPGATE_METRICS, default false)")
	cl.envString(fs, &f.listen, envFlag{name: "metrics-listen", env: "SCEPGATE_METRICS_LISTEN", shownDef: "none",
		help: "also serve /metrics on a listener of its own at this address, such as 127.0.0.1:9090"})
}

// newMetrics returns the server's metrics when a listener serves them,
// else nil: nothing is counted that nobody can read.
func (f metricsFlags) newMetrics(e *env, svc *enroll.Service, log *slog.Logger) (*web.Metrics, error) {
	if f.envErr != nil {
		return nil, f.envErr
	}
	if !f.onMain && f.listen == "" {
		return nil, nil
	}
	return web.NewMetrics(web.MetricsConfig{Snapshots: svc, CRLs: e.db, Log: log}), nil
}

// observer is m as the handlers' Observer; nil (no counting) when m is.
func observer(m *web.Metrics) handlers.Observer {
	if m == nil {
		return nil
	}
	return m
}

// serveMetrics serves m at /metrics on f.listen, when set, until the
// returned stop is called.
func (f metricsFlags) serveMetrics(m *web.Metrics, log *slog.Logger) (stop func(), err error) {
	if f.listen == "" || m == nil {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return nil, fmt.Errorf("metrics listener: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 120 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("metrics listener stopped", "err", err)
		}
	}()
	log.Info("metrics listening", "addr", ln.Addr().String(), "metrics", "http://"+displayAddr(ln.Addr())+"/metrics")
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}, nil
}
