package web

import (
	"context"
	"net"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
	"github.com/scepgate/scepgate/handlers"
	"github.com/scepgate/scepgate/model"
)

// HTTPSRedirect says where the plain-HTTP SCEP listener sends the requests
// it does not serve.
type HTTPSRedirect struct {
	// Origin is the HTTPS origin people use, such as
	// https://scep.example.com; empty means https:// and the host the
	// request named, at Port.
	Origin string
	// Port is the HTTPS listener's port; 443 (or empty) is left out.
	Port string
}

// plainKey marks the requests of the plain-HTTP SCEP listener.
type plainKey struct{}

// SCEPOverHTTP returns h for the plain-HTTP listener beside an HTTPS one:
// it answers only what SCEP clients and devices use (the SCEP handlers,
// Microsoft's mscep.dll path, and the CA certificates and CRLs under
// /pgwy/ca/), and redirects everything else to HTTPS: the portal, whose
// passwords and cookies must not travel in clear, and the NDES challenge
// handlers, whose clients send Basic credentials.
func SCEPOverHTTP(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), plainKey{}, true)))
	})
}

func onPlainListener(r *http.Request) bool {
	v, _ := r.Context().Value(plainKey{}).(bool)
	return v
}

// plainHTTPGuard is middleware that lets through, on the plain-HTTP SCEP
// listener, only what servedOverHTTP allows, and redirects the rest.
func plainHTTPGuard(cfg Config) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if !onPlainListener(c.Request()) || servedOverHTTP(c, cfg.Protocol) {
				return next(c)
			}
			status := http.StatusPermanentRedirect
			if m := c.Request().Method; m == http.MethodGet || m == http.MethodHead {
				status = http.StatusMovedPermanently
			}
			return c.Redirect(status, httpsURL(c.Request(), cfg.HTTPS))
		}
	}
}

// servedOverHTTP reports whether the plain listener answers the request:
// SCEP and the CA certificates and CRLs, but no NDES challenge handler.
func servedOverHTTP(c echo.Context, p *handlers.Protocol) bool {
	path := c.Request().URL.Path
	switch {
	case below(path, handlers.PathMSCEP):
		return true
	case !below(path, handlers.PathGateway) || p == nil:
		return false
	}
	snap, err := p.Snapshots.Snapshot(c.Request().Context())
	if err != nil {
		return false
	}
	h, _ := handlers.Resolve(snap, path)
	return h == nil || h.Format != model.HandlerNDES
}

// below reports whether path is prefix or lies below it.
func below(path, prefix string) bool {
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

// httpsURL is where the plain listener sends r.
func httpsURL(r *http.Request, to HTTPSRedirect) string {
	if to.Origin != "" {
		return strings.TrimRight(to.Origin, "/") + r.URL.RequestURI()
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	if host == "" {
		host = "localhost"
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if to.Port != "" && to.Port != "443" {
		host += ":" + to.Port
	}
	return "https://" + host + r.URL.RequestURI()
}

// clientExtractors say how Echo finds a request's client address and
// scheme (RealIP and Scheme): from the connection, unless its peer is one
// of the trusted proxies, whose X-Forwarded-For and X-Forwarded-Proto are
// then believed. Echo's defaults also trust any private address; here
// only the ranges given are.
func clientExtractors(trusted []*net.IPNet) (echo.IPExtractor, echo.SchemeExtractor) {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect(), echo.ExtractSchemeDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range trusted {
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...), echo.ExtractSchemeFromHeaders(opts...)
}
