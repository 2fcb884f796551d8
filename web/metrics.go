package web

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/scepgate/scepgate/handlers"
	"github.com/scepgate/scepgate/model"
)

// Metrics counts what scepgate does, for Prometheus, in a registry of its
// own (with the Go runtime and process collectors) rather than the
// library's global one. It is the handlers' Observer.
type Metrics struct {
	reg          *prometheus.Registry
	enrollments  *prometheus.CounterVec
	ndesIssued   *prometheus.CounterVec
	ndesFull     *prometheus.CounterVec
	lockouts     *prometheus.CounterVec
	authFailures *prometheus.CounterVec
	dbErrors     prometheus.Counter
	duration     *prometheus.HistogramVec
}

var _ handlers.Observer = (*Metrics)(nil)

// CRLSource gives the newest CRL a CA has signed.
type CRLSource interface {
	LatestCRL(ctx context.Context, authorityID int64) (*model.CRL, error)
}

// MetricsConfig is what the gauges read when Prometheus scrapes.
type MetricsConfig struct {
	Snapshots handlers.SnapshotSource // the CA and RA certificates
	CRLs      CRLSource
	Now       func() time.Time // nil: time.Now
	Log       *slog.Logger     // says why a gauge is missing; nil: discard
}

// NewMetrics returns the metrics of one server.
func NewMetrics(cfg MetricsConfig) *Metrics {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		enrollments: counter("scepgate_enrollments_total",
			"PKIOperation requests answered, by handler, messageType and result (success, pending, the failInfo of a FAILURE, or error).",
			"handler", "message_type", "result"),
		ndesIssued: counter("scepgate_ndes_passwords_issued_total",
			"NDES one-time passwords handed out, at the challenge URL or on the portal's NDES page.", "handler"),
		ndesFull: counter("scepgate_ndes_cache_full_total",
			"NDES passwords refused because the handler's cap of unused passwords was reached.", "handler"),
		lockouts: counter("scepgate_lockouts_total",
			"Lockouts after repeated wrong passwords: of a client address at an NDES challenge handler (ndes) or at SCEP handlers (scep), of a user name at the portal's sign-in, from one address or from all (portal).", "kind"),
		authFailures: counter("scepgate_auth_failures_total",
			"Wrong passwords: NDES Basic credentials (ndes), portal sign-ins (portal), challenge passwords at SCEP handlers (scep).", "kind"),
		// Counted by the error handler: requests answered with an
		// internal error (HTTP 500), which are almost all errors a store
		// call returned that are not model errors (the database failed,
		// timed out or was closed); a panic or a signing failure counts
		// too. The SCEP path's internal errors reach the error handler as
		// a 500 and are counted there once. Errors a handler logs and
		// works around (a failed session lookup signs the person out) are
		// not counted.
		dbErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "scepgate_db_errors_total",
			Help: "Requests that failed with an internal error, almost all of them database errors."}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "scepgate_http_request_duration_seconds",
			Help:    "HTTP requests by route pattern (not the URL), method and status code.",
			Buckets: prometheus.DefBuckets}, []string{"route", "method", "code"}),
	}
	for _, kind := range []string{handlers.AuthNDES, handlers.AuthPortal, handlers.AuthSCEP, handlers.AuthAPI} {
		m.lockouts.WithLabelValues(kind)
		m.authFailures.WithLabelValues(kind)
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.enrollments, m.ndesIssued, m.ndesFull, m.lockouts, m.authFailures, m.dbErrors, m.duration,
		&pkiCollector{cfg: cfg},
	)
	return m
}

// Handler serves the metrics in Prometheus's text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Enrollment implements handlers.Observer.
func (m *Metrics) Enrollment(handler, messageType, result string) {
	m.enrollments.WithLabelValues(handler, messageType, result).Inc()
}

// NDESIssued implements handlers.Observer.
func (m *Metrics) NDESIssued(handler string) { m.ndesIssued.WithLabelValues(handler).Inc() }

// NDESCacheFull implements handlers.Observer.
func (m *Metrics) NDESCacheFull(handler string) { m.ndesFull.WithLabelValues(handler).Inc() }

// AuthFailure implements handlers.Observer.
func (m *Metrics) AuthFailure(kind string) { m.authFailures.WithLabelValues(kind).Inc() }

// Lockout implements handlers.Observer.
func (m *Metrics) Lockout(kind string) { m.lockouts.WithLabelValues(kind).Inc() }

// internalError counts a request answered with an internal error.
func (m *Metrics) internalError() { m.dbErrors.Inc() }

// observeRequest records how long a request took. The route is Echo's
// pattern (such as /pgwy/scep/*), never the URL, and methods other than
// the standard ones are "other", so that clients cannot make up labels.
func (m *Metrics) observeRequest(c echo.Context, took time.Duration) {
	route := c.Path()
	if route == "" {
		route = "unmatched"
	}
	m.duration.WithLabelValues(route, methodLabel(c.Request().Method), strconv.Itoa(c.Response().Status)).Observe(took.Seconds())
}

func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return m
	}
	return "other"
}

// pkiCollector reports, at each scrape, how old the current CA's newest
// CRL is, how long until its nextUpdate, and how long until the CA and RA
// certificates expire. A gauge it cannot compute is left out (and the
// reason logged at debug level), so an alert on its absence notices.
type pkiCollector struct{ cfg MetricsConfig }

var (
	crlAgeDesc = prometheus.NewDesc("scepgate_crl_age_seconds",
		"Seconds since the current CA's newest CRL was signed (its thisUpdate).", nil, nil)
	crlNextDesc = prometheus.NewDesc("scepgate_crl_next_update_seconds",
		"Seconds until the nextUpdate of the current CA's newest CRL; negative once it has passed.", nil, nil)
	caExpiryDesc = prometheus.NewDesc("scepgate_ca_expiry_seconds",
		"Seconds until the current CA certificate's notAfter.", nil, nil)
	raExpiryDesc = prometheus.NewDesc("scepgate_ra_expiry_seconds",
		"Seconds until the current RA certificate's notAfter.", nil, nil)
)

func (p *pkiCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- crlAgeDesc
	ch <- crlNextDesc
	ch <- caExpiryDesc
	ch <- raExpiryDesc
}

func (p *pkiCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	snap, err := p.cfg.Snapshots.Snapshot(ctx)
	if err != nil || snap.Authority == nil {
		p.cfg.Log.Debug("metrics: no snapshot for the CA gauges", "err", err)
		return
	}
	now := p.cfg.Now()
	a := snap.Authority
	gauge := func(d *prometheus.Desc, v time.Duration) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v.Seconds())
	}
	if a.CA != nil {
		gauge(caExpiryDesc, a.CA.NotAfter.Sub(now))
	}
	if a.RA != nil {
		gauge(raExpiryDesc, a.RA.NotAfter.Sub(now))
	}
	if p.cfg.CRLs == nil {
		return
	}
	crl, err := p.cfg.CRLs.LatestCRL(ctx, a.ID)
	if err != nil {
		p.cfg.Log.Debug("metrics: no CRL for the CRL gauges", "err", err)
		return
	}
	gauge(crlAgeDesc, now.Sub(crl.ThisUpdate))
	gauge(crlNextDesc, crl.NextUpdate.Sub(now))
}
