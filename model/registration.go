package model

import "time"

// Registration kinds.
const (
	RegistrationPre  = "preregistration" // created by an administrator, password chosen
	RegistrationNDES = "ndes"            // an NDES one-time password handed out
)

// Registration states.
const (
	StateOpen      = "open"
	StateUsed      = "used"
	StateExpired   = "expired"
	StatePending   = "pending"
	StateRejected  = "rejected"
	StateCancelled = "cancelled"
)

// Registration authorises and then documents one enrollment.
type Registration struct {
	ID               int64
	Kind             string
	State            string
	TokenProcedureID *int64 // for pre-registrations: where it may be used
	HandlerID        *int64 // for NDES passwords: the challenge handler that issued it
	ChallengeHash    string // keyed hash (hex) of the challenge password
	SubjectCN        string // when set, the CSR's common name must equal it
	DNSName          string
	RequestedBy      string // the user or handler account that asked for it
	ClientAddr       string
	CreatedAt        time.Time
	ExpiresAt        time.Time
	UsedAt           *time.Time
	CertificateID    *int64
	TransactionID    string
	// CSR and PublicKeySHA256 keep the request a pending registration
	// authorised, until it is approved or rejected.
	CSR             []byte `gorm:"column:csr"`
	PublicKeySHA256 string `gorm:"column:public_key_sha256"`
	// HandlerUsedID is the SCEP handler the registration was used at.
	HandlerUsedID *int64
	// LastFailure says why the last enrollment attempt with this
	// registration's password was refused.
	LastFailure string
}

// Usable reports whether r can authorise an enrollment at now.
func (r *Registration) Usable(now time.Time) bool {
	return r.State == StateOpen && r.UsedAt == nil && now.Before(r.ExpiresAt)
}
