package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/scepgate/scepgate/enroll"
	"github.com/scepgate/scepgate/web"
)

// tls reports whether --listen serves HTTPS.
func (f serveFlags) tls() bool { return f.tlsCert != "" || f.tlsRA }

// check refuses flags that do not go together, and returns the trusted
// proxies' networks.
func (f serveFlags) check() ([]*net.IPNet, error) {
	switch {
	case (f.tlsCert == "") != (f.tlsKey == ""):
		return nil, usageError{"--tls-cert and --tls-key go together: give both, or neither"}
	case f.tlsCert != "" && f.tlsRA:
		return nil, usageError{"--tls-ra serves the RA certificate, --tls-cert a certificate of your own: choose one"}
	case f.listenSCEP != "" && !f.tls():
		return nil, usageError{"--listen-scep is the plain-HTTP listener beside HTTPS: turn HTTPS on with --tls-cert and --tls-key, or --tls-ra (without TLS, --listen serves SCEP over HTTP already)"}
	}
	if f.init {
		if err := checkKeyType(f.caKey); err != nil {
			return nil, err
		}
	}
	if f.publicURL != "" {
		if err := checkPublicURL(f.publicURL); err != nil {
			return nil, err
		}
	}
	return parseProxies(f.trustedProxies)
}

// parseProxies reads --trusted-proxy values: CIDR ranges, or single
// addresses.
func parseProxies(values []string) ([]*net.IPNet, error) {
	var nets []*net.IPNet
	for _, v := range values {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		if !strings.Contains(v, "/") {
			a, err := netip.ParseAddr(v)
			if err != nil {
				return nil, usageError{fmt.Sprintf("--trusted-proxy %q is not an IP address or CIDR range (such as 10.0.0.0/8 or 127.0.0.1)", v)}
			}
			v = netip.PrefixFrom(a, a.BitLen()).String()
		}
		_, n, err := net.ParseCIDR(v)
		if err != nil {
			return nil, usageError{fmt.Sprintf("--trusted-proxy %q is not an IP address or CIDR range (such as 10.0.0.0/8 or 127.0.0.1)", v)}
		}
		nets = append(nets, n)
	}
	return nets, nil
}

// listeners are the sockets serve answers on, opened before anything else
// happens so that a port in use fails first.
type listeners struct {
	main net.Listener // --listen: HTTPS when TLS is on, else HTTP
	scep net.Listener // --listen-scep: SCEP over plain HTTP; nil without
}

func listen(f serveFlags) (*listeners, error) {
	l := &listeners{}
	var err error
	if l.main, err = listenOn("--listen", f.listen); err != nil {
		return nil, err
	}
	if f.listenSCEP != "" {
		if l.scep, err = listenOn("--listen-scep", f.listenSCEP); err != nil {
			l.close()
			return nil, err
		}
	}
	return l, nil
}

func listenOn(flag, addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		return ln, nil
	}
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, problem("Cannot listen on %s: another program uses that port. Stop it, or choose another address with %s.", addr, flag)
	}
	return nil, problem("Cannot listen on %s (%s): %v.", addr, flag, err)
}

func (l *listeners) close() {
	if l.main != nil {
		_ = l.main.Close()
	}
	if l.scep != nil {
		_ = l.scep.Close()
	}
}

// signInURL is where serve --init says the portal is.
func signInURL(f serveFlags, l *listeners) string {
	if strings.HasPrefix(f.publicURL, "https://") || (!f.tls() && f.publicURL != defaultPublicURL(f)) {
		return f.publicURL
	}
	scheme := "http"
	if f.tls() {
		scheme = "https"
	}
	return scheme + "://" + displayAddr(l.main.Addr())
}

// httpsRedirect is where the plain listener sends people: the public URL
// when it is an HTTPS one, else the host they asked for at the HTTPS port.
func httpsRedirect(f serveFlags, l *listeners) web.HTTPSRedirect {
	if u, err := url.Parse(f.publicURL); err == nil && u.Scheme == "https" {
		return web.HTTPSRedirect{Origin: u.Scheme + "://" + u.Host}
	}
	_, port, _ := net.SplitHostPort(l.main.Addr().String())
	return web.HTTPSRedirect{Port: port}
}

// servers are the HTTP servers on the listeners.
type servers struct {
	main, scep *http.Server
	lns        *listeners
	tls        bool
}

// newServers makes the servers: the main one over HTTPS when TLS is on,
// with the certificate of certFiles or the RA's, and the plain SCEP one.
func newServers(ec *echo.Echo, f serveFlags, lns *listeners, certFiles *web.CertFiles, svc *enroll.Service, log *slog.Logger) *servers {
	s := &servers{lns: lns, tls: f.tls(), main: newHTTPServer(ec, log)}
	if s.tls {
		cfg := &tls.Config{MinVersion: tls.VersionTLS12}
		if certFiles != nil {
			cfg.GetCertificate = certFiles.GetCertificate
		} else {
			cfg.GetCertificate = (&web.RACertificate{Snapshots: svc}).GetCertificate
		}
		s.main.TLSConfig = cfg
	}
	if lns.scep != nil {
		s.scep = newHTTPServer(web.SCEPOverHTTP(ec), log)
	}
	return s
}

func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// scepURL is the base SCEP handler's URL, for the log.
func (s *servers) scepURL() string {
	if s.lns.scep != nil {
		return "http://" + displayAddr(s.lns.scep.Addr()) + "/pgwy/scep"
	}
	scheme := "http"
	if s.tls {
		scheme = "https"
	}
	return scheme + "://" + displayAddr(s.lns.main.Addr()) + "/pgwy/scep"
}

// run serves until ctx ends or a server fails, reloading certFiles on
// SIGHUP, then shuts the servers down.
func (s *servers) run(ctx context.Context, hup <-chan os.Signal, certFiles *web.CertFiles, log *slog.Logger) error {
	errc := make(chan error, 2)
	go func() {
		if s.tls {
			errc <- s.main.ServeTLS(s.lns.main, "", "")
		} else {
			errc <- s.main.Serve(s.lns.main)
		}
	}()
	if s.scep != nil {
		log.Info("listening for SCEP over plain HTTP", "addr", s.lns.scep.Addr().String())
		go func() { errc <- s.scep.Serve(s.lns.scep) }()
	}
	var err error
loop:
	for {
		select {
		case err = <-errc:
			break loop
		case <-ctx.Done():
			break loop
		case <-hup:
			switch {
			case certFiles != nil:
				if err := certFiles.Reload(); err != nil {
					log.Error("SIGHUP: still serving the previous TLS certificate", "err", err)
				}
			case s.tls:
				log.Info("SIGHUP: nothing to reload; the RA certificate follows the database by itself")
			default:
				log.Info("SIGHUP: nothing to reload; TLS is off")
			}
		}
	}
	log.Info("shutting down")
	if s.scep != nil {
		if serr := shutdown(s.scep, log); err == nil {
			err = serr
		}
	}
	if serr := shutdown(s.main, log); err == nil {
		err = serr
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// warnings logs what is set up in a way that will hurt: a public URL
// that devices elsewhere cannot reach, passwords over plain HTTP, an RA
// certificate that does not name the server.
func warnings(ctx context.Context, f serveFlags, l *listeners, svc *enroll.Service, log *slog.Logger) {
	u, err := url.Parse(f.publicURL)
	if err != nil {
		return
	}
	public := u.Hostname()
	for _, a := range []net.Addr{l.main.Addr(), addrOf(l.scep)} {
		if a != nil && isLoopbackName(public) && !isLoopbackAddr(a) {
			log.Warn("the public URL names this machine only, but the server listens on the network: certificates will send devices to localhost for their CRL. Set --public-url (or SCEPGATE_PUBLIC_URL) to the URL devices reach this server at, such as http://scep.example.com",
				"public_url", f.publicURL, "listen", a.String())
			break
		}
	}
	if !f.tls() && !isLoopbackAddr(l.main.Addr()) && len(f.trustedProxies) == 0 {
		log.Warn("serving plain HTTP on the network: portal and NDES passwords travel in clear text. Serve HTTPS with --tls-cert and --tls-key or --tls-ra (and --listen-scep for SCEP over HTTP), or put a TLS proxy in front and name it with --trusted-proxy",
			"listen", l.main.Addr().String())
	}
	if f.tlsRA {
		if snap, err := svc.Snapshot(ctx); err == nil && !certNames(snap.Authority.RA, public) {
			log.Warn("--tls-ra: the RA certificate does not name the public URL's host, so TLS clients that check names will refuse it. Import an RA that names it (scepgate ca import), or serve your own certificate with --tls-cert and --tls-key",
				"host", public, "ra_names", append(snap.Authority.RA.DNSNames, ipStrings(snap.Authority.RA.IPAddresses)...))
		}
	}
}

func addrOf(l net.Listener) net.Addr {
	if l == nil {
		return nil
	}
	return l.Addr()
}

func certNames(c *x509.Certificate, host string) bool { return c.VerifyHostname(host) == nil }

func ipStrings(ips []net.IP) []string {
	s := make([]string, len(ips))
	for i, ip := range ips {
		s[i] = ip.String()
	}
	return s
}

func isLoopbackName(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func isLoopbackAddr(a net.Addr) bool {
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
