package model

import (
	"strconv"
	"strings"
	"time"
)

// Certificate states.
const (
	CertActive  = "active"
	CertRevoked = "revoked"
)

// Certificate is a certificate the CA issued.
type Certificate struct {
	ID                     int64
	Serial                 string // lower-case hex, no leading zeros
	Subject                string
	DNSNames               string // comma separated
	NotBefore              time.Time
	NotAfter               time.Time
	DER                    []byte `gorm:"column:der"`
	CSR                    []byte `gorm:"column:csr"`
	State                  string
	RevokedAt              *time.Time
	RevocationReason       int
	HandlerID              *int64
	CertificateProcedureID *int64
	RegistrationID         *int64
	TransactionID          string
	PublicKeySHA256        string `gorm:"column:public_key_sha256"`
	AuthorityID            *int64
	CreatedAt              time.Time
}

// RFC 5280 revocation reasons.
const (
	ReasonUnspecified          = 0
	ReasonKeyCompromise        = 1
	ReasonCACompromise         = 2
	ReasonAffiliationChanged   = 3
	ReasonSuperseded           = 4
	ReasonCessationOfOperation = 5
	ReasonCertificateHold      = 6
	ReasonPrivilegeWithdrawn   = 9
)

// RevocationReasons maps RFC 5280 reason names to codes.
var RevocationReasons = map[string]int{
	"unspecified":          ReasonUnspecified,
	"keyCompromise":        ReasonKeyCompromise,
	"cACompromise":         ReasonCACompromise,
	"affiliationChanged":   ReasonAffiliationChanged,
	"superseded":           ReasonSuperseded,
	"cessationOfOperation": ReasonCessationOfOperation,
	"certificateHold":      ReasonCertificateHold,
	"privilegeWithdrawn":   ReasonPrivilegeWithdrawn,
}

// ParseRevocationReason reads a reason name (any case) or its number.
func ParseRevocationReason(s string) (int, error) {
	for name, code := range RevocationReasons {
		if strings.EqualFold(name, s) || strconv.Itoa(code) == s {
			return code, nil
		}
	}
	return 0, Errorf(EINVALID, "Unknown revocation reason %q: use unspecified, keyCompromise, cACompromise, affiliationChanged, superseded, cessationOfOperation, certificateHold or privilegeWithdrawn.", s)
}

// CRL is a certificate revocation list the CA signed.
type CRL struct {
	ID          int64
	AuthorityID int64
	Number      int64
	ThisUpdate  time.Time
	NextUpdate  time.Time
	DER         []byte `gorm:"column:der"`
	// RevocationSequence is the revocation sequence (see
	// store.RevocationList) the CRL was built at: it lists every
	// revocation up to that one, and is current while no certificate has
	// been revoked since.
	RevocationSequence int64
}

// Authority kinds.
const (
	AuthorityCA = "ca"
	AuthorityRA = "ra"
)

// Authority is CA or RA material: its certificate, the chain above it, and
// its private key encrypted under the master key.
type Authority struct {
	ID            int64
	Kind          string
	CertDER       []byte `gorm:"column:cert_der"`
	ChainDER      []byte `gorm:"column:chain_der"` // concatenated DER of issuers above, may be empty
	KeyCiphertext []byte
	Active        bool
	// Next marks the CA and RA prepared to follow the active ones (not
	// active, not retired); a row neither Active nor Next is retired.
	Next      bool
	CreatedAt time.Time
}

// User roles.
const (
	RoleAdmin    = "admin"
	RoleHelpdesk = "helpdesk"
	RoleAuditor  = "auditor"
)

// User is a portal account.
type User struct {
	ID           int64
	Username     string
	PasswordHash string
	Role         string
	Disabled     bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// AuditEvent records who did what.
type AuditEvent struct {
	ID         int64
	At         time.Time
	Actor      string
	Action     string
	Target     string
	Detail     string
	ClientAddr string
}
