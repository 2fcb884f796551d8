package model

import "time"

// CertificateFormat says what authorises an enrollment under a certificate
// procedure.
type CertificateFormat string

// Certificate formats of the reference.
const (
	// FormatSCEP: enrollment authorised by a pre-registration (or a static challenge).
	FormatSCEP CertificateFormat = "scep"
	// FormatNDESDynamic: enrollment authorised by an NDES one-time password.
	FormatNDESDynamic CertificateFormat = "scepndesdynamicenroll"
)

// Valid reports whether f is a known format.
func (f CertificateFormat) Valid() bool {
	return f == FormatSCEP || f == FormatNDESDynamic
}

// Key usage modes of a certificate procedure.
const (
	// KeyUsageFromCSR is the reference's "no key usage": take the key usage the
	// CSR asks for, within what the procedure allows.
	KeyUsageFromCSR = "csr"
	// KeyUsageFixed sets exactly the procedure's key usages.
	KeyUsageFixed = "fixed"
)

// CertificateProcedure says how one certificate is made.
type CertificateProcedure struct {
	ID           int64
	Name         string
	Format       CertificateFormat
	KeyUsageMode string // KeyUsageFromCSR or KeyUsageFixed
	// KeyUsages lists key usage names (RFC 5280 spelling, comma separated):
	// the allowed set for KeyUsageFromCSR, the exact set for KeyUsageFixed.
	KeyUsages string
	// ExtKeyUsages lists extended key usage names, comma separated
	// (clientAuth, serverAuth, emailProtection, codeSigning, ipsecIKE, ...).
	ExtKeyUsages string
	ValidityDays int
	MinRSABits   int
	// AllowedCurves lists the elliptic curves a CSR may use (P-256, P-384, P-521).
	AllowedCurves string
	// SubjectTemplate, when set, replaces the CSR's subject: a DN such as
	// "CN={cn},O=Company" where {cn} is the CSR's common name.
	SubjectTemplate string
	// DNSNamePatterns, when set, lists the DNS names a CSR may ask for,
	// comma separated; "*.example.com" matches one label.
	DNSNamePatterns string
	// OneKeyPerSubject keeps one key pair per subject and key usage: a new
	// certificate supersedes the subject's others with the same key usage.
	OneKeyPerSubject bool
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// Issuer certificate options of a token procedure.
const (
	IssuerCertsStoreAll = "store_all" // the reply carries the issuer chain
	IssuerCertsNone     = "none"      // the reply carries the leaf only
)

// StorageProfilePKCS10 means the device holds the key and sends a CSR; the
// CSR is kept with the certificate.
const StorageProfilePKCS10 = "PKCS10"

// InputViewSCEPRegistrations is the reference's GPIV 16: "Save and Search
// SCEP Enrollment Registrations with dynamic password".
const InputViewSCEPRegistrations = 16

// TokenProcedure says what an enrollment produces.
type TokenProcedure struct {
	ID                 int64
	Name               string
	StorageProfile     string
	IssuerCertificates string
	InputView          int
	RequireApproval    bool
	// RenewalWindowDays: a device may renew within this many days before
	// its certificate expires.
	RenewalWindowDays int
	// SupersedeOnRenewal revokes the renewed certificate (reason superseded).
	SupersedeOnRenewal bool
	CreatedAt          time.Time
	UpdatedAt          time.Time

	// CertificateProcedureIDs are the certificate procedures it runs, in order.
	CertificateProcedureIDs []int64 `gorm:"-"`
}
