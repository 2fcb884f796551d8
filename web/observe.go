package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/scepgate/scepgate/handlers"
	"github.com/scepgate/scepgate/model"
)

// maxRequestID is the longest X-Request-Id taken from a client.
const maxRequestID = 64

// observe is the outermost middleware: it gives the request an id, echoed
// in the X-Request-Id response header, puts a logger carrying that id in
// the request's context (see Logger and handlers.LogFrom), and times the
// request for Metrics once the error handler has answered.
func observe(cfg Config) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			req := c.Request()
			id := req.Header.Get(echo.HeaderXRequestID)
			if !validRequestID(id) {
				id = newRequestID()
			}
			c.Response().Header().Set(echo.HeaderXRequestID, id)
			c.SetRequest(req.WithContext(handlers.WithLog(req.Context(), cfg.Log.With("request_id", id))))
			if err := next(c); err != nil {
				c.Error(err)
			}
			if cfg.Metrics != nil {
				cfg.Metrics.observeRequest(c, time.Since(start))
			}
			return nil
		}
	}
}

// validRequestID reports whether a client's X-Request-Id is short and made
// of characters that are safe in a log line and a header: letters, digits
// and - _ . :
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestID {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch b := id[i]; {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9', b == '-', b == '_', b == '.', b == ':':
		default:
			return false
		}
	}
	return true
}

// newRequestID returns 16 random bytes in hex.
func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// Logger returns the logger of c's request, which carries its request id,
// or fallback outside a request.
func Logger(c echo.Context, fallback *slog.Logger) *slog.Logger {
	return handlers.LogFrom(c.Request().Context(), fallback)
}

// Pinger is a database that says whether it answers.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Readiness answers /readyz: ready when the database answers and the CA
// and RA keys are loaded.
type Readiness struct {
	DB        Pinger
	Snapshots handlers.SnapshotSource
	// Timeout bounds each check; 0 means 2 s.
	Timeout time.Duration
}

// serve handles "GET /readyz": 200 "ready", or 503 with a one-line reason
// that names what is missing and nothing more; the error behind it goes
// to the log.
func (r *Readiness) serve(c echo.Context) error {
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	timeout := r.Timeout
	if timeout == 0 {
		timeout = 2 * time.Second
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), timeout)
	defer cancel()
	log := Logger(c, nil)
	if err := r.DB.Ping(ctx); err != nil {
		log.Warn("not ready: the database does not answer", "err", err)
		return c.String(http.StatusServiceUnavailable, "not ready: the database does not answer\n")
	}
	if snap, err := r.Snapshots.Snapshot(ctx); err != nil || snap.Authority == nil {
		log.Warn("not ready: the CA and RA keys are not loaded", "err", err)
		return c.String(http.StatusServiceUnavailable, "not ready: the CA and RA keys are not loaded\n")
	}
	return c.String(http.StatusOK, "ready\n")
}

// addObservability adds /readyz (when cfg.Ready is set) and /metrics (when
// cfg.ServeMetrics is) to e, and makes the error handler count internal
// errors in cfg.Metrics.
func addObservability(e *echo.Echo, cfg Config) {
	if cfg.Ready != nil {
		e.GET("/readyz", cfg.Ready.serve)
	}
	if cfg.Metrics == nil {
		return
	}
	if cfg.ServeMetrics {
		e.GET("/metrics", echo.WrapHandler(cfg.Metrics.Handler()))
	}
	answer := e.HTTPErrorHandler
	e.HTTPErrorHandler = func(err error, c echo.Context) {
		if !c.Response().Committed && internal(err) {
			cfg.Metrics.internalError()
		}
		answer(err, c)
	}
}

// internal reports whether err is answered as an internal error (HTTP 500
// and up): neither a model error the user caused nor an HTTP error below
// 500, and not a client that went away.
func internal(err error) bool {
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return he.Code >= http.StatusInternalServerError
	}
	if errors.Is(err, context.Canceled) {
		return false
	}
	return statusFor(model.ErrorCode(err)) >= http.StatusInternalServerError
}
