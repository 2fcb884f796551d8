package web

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/scepgate/scepgate/handlers"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki"
)

// CertFiles serves TLS with a certificate chain and key read from PEM
// files. It reads them again on Reload (serve calls it on SIGHUP) and when
// either file has changed, which it checks at most once a second when a
// handshake comes. A pair that does not load (half written, or a key that
// does not match) is logged and the previous one kept.
type CertFiles struct {
	certFile, keyFile string
	log               *slog.Logger
	now               func() time.Time

	mu      sync.Mutex
	cert    *tls.Certificate
	tried   [2]fileStamp // the files as they were at the last load attempt
	checked time.Time
}

// fileStamp tells whether a file changed.
type fileStamp struct {
	mod  time.Time
	size int64
}

func stamp(path string) fileStamp {
	fi, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	return fileStamp{fi.ModTime(), fi.Size()}
}

// LoadCertFiles reads the certificate chain in certFile and its key in
// keyFile, or says what is wrong with them.
func LoadCertFiles(certFile, keyFile string, log *slog.Logger) (*CertFiles, error) {
	f := &CertFiles{certFile: certFile, keyFile: keyFile, log: log, now: time.Now}
	if err := f.Reload(); err != nil {
		return nil, err
	}
	return f, nil
}

// Reload reads the files again. On error it keeps the certificate it had.
func (f *CertFiles) Reload() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.load()
}

func (f *CertFiles) load() error {
	f.tried = [2]fileStamp{stamp(f.certFile), stamp(f.keyFile)}
	cert, err := tls.LoadX509KeyPair(f.certFile, f.keyFile)
	if err != nil {
		return model.Errorf(model.EINVALID, "Cannot load the TLS certificate %s with its key %s: %v.", f.certFile, f.keyFile, tlsFileErr(err))
	}
	f.cert = &cert
	leaf := cert.Leaf
	f.log.Info("loaded TLS certificate", "file", f.certFile, "subject", leaf.Subject.String(), "names", leaf.DNSNames,
		"not_after", leaf.NotAfter.Format(time.RFC3339), "sha256", pki.SHA256Fingerprint(leaf))
	if f.now().After(leaf.NotAfter) {
		f.log.Warn("the TLS certificate has expired; clients will refuse it. Renew it and send SIGHUP", "file", f.certFile, "not_after", leaf.NotAfter.Format(time.RFC3339))
	}
	return nil
}

// tlsFileErr drops the paths from a file error, which the message names.
func tlsFileErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// GetCertificate is the tls.Config hook: the current certificate, read
// again first when the files changed.
func (f *CertFiles) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if now := f.now(); now.Sub(f.checked) >= time.Second {
		f.checked = now
		if [2]fileStamp{stamp(f.certFile), stamp(f.keyFile)} != f.tried {
			if err := f.load(); err != nil {
				f.log.Error("TLS certificate files changed but do not load; still serving the previous certificate", "err", err)
			}
		}
	}
	return f.cert, nil
}

// Leaf returns the certificate served now.
func (f *CertFiles) Leaf() *x509.Certificate {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cert.Leaf
}

// RACertificate serves TLS with the RA certificate and key, followed by
// the CA chain; after a CA import it serves the new RA from the next
// handshake on.
type RACertificate struct {
	Snapshots handlers.SnapshotSource

	mu   sync.Mutex
	ra   *x509.Certificate
	cert *tls.Certificate
}

// GetCertificate is the tls.Config hook.
func (r *RACertificate) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	snap, err := r.Snapshots.Snapshot(hello.Context())
	if err != nil {
		return nil, err
	}
	a := snap.Authority
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ra == nil || !bytes.Equal(r.ra.Raw, a.RA.Raw) {
		chain := [][]byte{a.RA.Raw, a.CA.Raw}
		for _, c := range a.Chain {
			chain = append(chain, c.Raw)
		}
		r.ra, r.cert = a.RA, &tls.Certificate{Certificate: chain, PrivateKey: a.RAKey, Leaf: a.RA}
	}
	return r.cert, nil
}
