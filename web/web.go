// Package web builds the Echo instance: middleware, routes and the one
// error handler that turns errors into pages or plain text.
package web

import (
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/scepgate/scepgate/handlers"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/static"
)

// Config holds what the routes need.
type Config struct {
	Log *slog.Logger
	// Protocol serves the SCEP and NDES handlers and Microsoft's paths.
	Protocol *handlers.Protocol
	// Portal is the admin portal; nil serves no portal.
	Portal *Portal
	// Publisher serves CA certificates and CRLs; nil leaves them unserved.
	Publisher *handlers.Publisher
	// Metrics, when set, times every request and counts internal errors;
	// ServeMetrics also serves it at /metrics (see observe.go).
	Metrics      *Metrics
	ServeMetrics bool
	// Ready answers /readyz; nil leaves it unserved.
	Ready *Readiness
	// TrustedProxies are the networks whose X-Forwarded-For and
	// X-Forwarded-Proto are believed; from any other peer they are ignored.
	TrustedProxies []*net.IPNet
	// HTTPS is where the plain-HTTP SCEP listener (see SCEPOverHTTP) sends
	// what it does not serve.
	HTTPS HTTPSRedirect
	// API is the JSON API under /api/v1; nil serves none.
	API *handlers.API
}

// New returns the Echo instance serving scepgate.
func New(cfg Config) *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = errorHandler(cfg.Log)
	e.IPExtractor, e.SchemeExtractor = clientExtractors(cfg.TrustedProxies)
	e.Use(observe(cfg))
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		LogErrorFunc: func(c echo.Context, err error, stack []byte) error {
			Logger(c, cfg.Log).Error("panic", "err", err, "path", c.Request().URL.Path, "stack", string(stack))
			return err
		},
	}))
	e.Use(requestLog(cfg.Log))
	e.Use(securityHeaders)
	e.Use(plainHTTPGuard(cfg))

	for _, p := range handlers.ProtocolPrefixes {
		if p != handlers.PathGateway {
			e.Any(p, cfg.Protocol.Serve)
		}
		e.Any(p+"/*", cfg.Protocol.Serve)
	}
	if cfg.Publisher != nil {
		e.GET("/pgwy/ca/:id/cert", cfg.Publisher.CACert)
		e.GET("/pgwy/ca/:id/crl", cfg.Publisher.CRL)
	}

	if cfg.Portal != nil {
		addPortal(e, cfg.Portal)
	}
	if cfg.API != nil {
		cfg.API.Register(e)
	}
	e.GET("/healthz", func(c echo.Context) error { return c.String(http.StatusOK, "ok\n") })
	addObservability(e, cfg)
	e.StaticFS("/static", static.FS)
	return e
}

// isProtocolPath reports whether path is served to SCEP clients and MDMs
// (the handlers and Microsoft's NDES aliases) rather than to people.
func isProtocolPath(path string) bool {
	for _, p := range []string{"/pgwy", "/certsrv"} {
		if path == p || strings.HasPrefix(path, p+"/") {
			return true
		}
	}
	return false
}

func securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		h := c.Response().Header()
		h.Set("X-Content-Type-Options", "nosniff")
		if c.Scheme() == "https" {
			h.Set("Strict-Transport-Security", "max-age=31536000")
		}
		if !isProtocolPath(c.Request().URL.Path) {
			h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
			h.Set("Referrer-Policy", "same-origin")
			h.Set("X-Frame-Options", "DENY")
		}
		return next(c)
	}
}

func requestLog(log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			if err != nil {
				c.Error(err)
			}
			req := c.Request()
			Logger(c, log).Info("http", "method", req.Method, "path", req.URL.Path, "status", c.Response().Status,
				"bytes", c.Response().Size, "client", c.RealIP(), "ms", time.Since(start).Milliseconds())
			return nil
		}
	}
}

// errorHandler answers errors: SCEP and API clients get plain text, people
// get a page. Only model.Error messages are shown; anything else is logged
// and shown as "Internal error.".
func errorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return
		}
		status, msg := http.StatusInternalServerError, "Internal error."
		var he *echo.HTTPError
		var me *model.Error
		switch {
		case errors.As(err, &he):
			status = he.Code
			if m, ok := he.Message.(string); ok && status < 500 {
				msg = m
			} else {
				msg = http.StatusText(status)
			}
			if status == http.StatusNotFound {
				msg = "There is nothing at this address."
			}
		case errors.As(err, &me):
			status, msg = statusFor(me.Code), me.Message
		}
		if status >= 500 {
			Logger(c, log).Error("request failed", "path", c.Request().URL.Path, "err", err)
			msg = "Internal error."
		}
		var werr error
		if isAPIPath(c.Request().URL.Path) {
			werr = apiError(c, status, msg)
		} else if isProtocolPath(c.Request().URL.Path) || c.Request().Method == http.MethodHead {
			werr = c.String(status, msg+"\n")
		} else {
			werr = renderErrorPage(c, status, msg)
		}
		if werr != nil {
			Logger(c, log).Error("write error response", "err", werr)
		}
	}
}

func statusFor(code string) int {
	switch code {
	case model.EINVALID:
		return http.StatusBadRequest
	case model.ENOTFOUND:
		return http.StatusNotFound
	case model.ECONFLICT:
		return http.StatusConflict
	case model.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case model.EFORBIDDEN:
		return http.StatusForbidden
	}
	return http.StatusInternalServerError
}
