package pki

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"

	"github.com/scepgate/scepgate/model"
	"software.sslmate.com/src/go-pkcs12"
)

// ParsePKCS12Pair reads a CA and an RA from PKCS#12 files (caName and
// raName name them in messages), both protected by password, and checks
// that the CA can issue and that the RA can serve it (see CheckRA). Its
// errors are EINVALID errors whose messages are safe to show.
func ParsePKCS12Pair(caP12, raP12 []byte, caName, raName, password string) (*Authority, error) {
	caKey, caCert, caChain, err := parsePKCS12(caP12, caName, password)
	if err != nil {
		return nil, err
	}
	if !caCert.IsCA || caCert.KeyUsage&x509.KeyUsageCertSign == 0 {
		return nil, model.Errorf(model.EINVALID, "The certificate in %s (%s) is not a CA certificate: it lacks basicConstraints CA:TRUE or the key usage keyCertSign.", caName, caCert.Subject.String())
	}
	raKey, raCert, _, err := parsePKCS12(raP12, raName, password)
	if err != nil {
		return nil, err
	}
	if err := CheckRA(raCert, caCert); err != nil {
		return nil, err
	}
	rsaKey, ok := raKey.(*rsa.PrivateKey)
	if !ok {
		return nil, model.Errorf(model.EINVALID, "The RA key in %s is not RSA.", raName)
	}
	return &Authority{CA: caCert, CAKey: caKey, Chain: caChain, RA: raCert, RAKey: rsaKey}, nil
}

func parsePKCS12(b []byte, name, password string) (crypto.Signer, *x509.Certificate, []*x509.Certificate, error) {
	key, cert, chain, err := pkcs12.DecodeChain(b, password)
	if err != nil {
		return nil, nil, nil, model.Errorf(model.EINVALID, "%s cannot be read as PKCS#12: the password is wrong, or it is not a PKCS#12 file with one key and its certificate.", name)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, nil, nil, model.Errorf(model.EINVALID, "The key in %s cannot sign.", name)
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if pub, ok := signer.Public().(equaler); !ok || !pub.Equal(cert.PublicKey) {
		return nil, nil, nil, model.Errorf(model.EINVALID, "In %s, the private key does not belong to the certificate.", name)
	}
	return signer, cert, chain, nil
}
