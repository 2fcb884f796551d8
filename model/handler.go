package model

import (
	"strings"
	"time"
)

// Handler formats.
const (
	HandlerSCEP = "scep"      // SCEP protocol endpoint bound to a token procedure
	HandlerNDES = "scep-ndes" // NDES one-time challenge endpoint
)

// Defaults for NDES challenge handlers.
const (
	DefaultNDESValidity       = "PT60M"
	DefaultNDESPasswordLength = 16
	DefaultNDESPasswordCap    = 100
)

// Handler is one SCEP-facing URL under /pgwy/scep/<filter>.
type Handler struct {
	ID     int64
	Name   string
	Filter string // "" is the base URL /pgwy/scep
	Format string // HandlerSCEP or HandlerNDES
	// TokenProcedureID binds a HandlerSCEP to the token procedure it runs.
	TokenProcedureID   *int64
	Enabled            bool
	AllowLegacyCiphers bool // accept single DES and RC2 from old clients

	NDESUsername          string `gorm:"column:ndes_username"`
	NDESPasswordHash      string `gorm:"column:ndes_password_hash"`
	NDESChallengeValidity string `gorm:"column:ndes_challenge_validity"`
	NDESPasswordLength    int    `gorm:"column:ndes_password_length"`
	NDESPasswordCap       int    `gorm:"column:ndes_password_cap"`
	NDESByteOrderMark     bool   `gorm:"column:ndes_byte_order_mark"`

	// ChallengeHookURL, when set, decides each enrollment's challenge at
	// this handler (an HTTPS POST, see package webhook) instead of the
	// registrations; EventHookURL hears of certificates issued, renewed and
	// revoked here. Each hook's secret, sealed under the master key, signs
	// its calls.
	ChallengeHookURL    string `gorm:"column:challenge_hook_url"`
	ChallengeHookSecret []byte `gorm:"column:challenge_hook_secret"`
	EventHookURL        string `gorm:"column:event_hook_url"`
	EventHookSecret     []byte `gorm:"column:event_hook_secret"`

	CreatedAt time.Time
	UpdatedAt time.Time
}

// Path returns the handler's URL path, such as /pgwy/scep/ndesrequest.
func (h *Handler) Path() string {
	if h.Filter == "" {
		return "/pgwy/scep"
	}
	return "/pgwy/scep/" + h.Filter
}

// NormalizeFilter returns a filter without leading slashes, as stored.
func NormalizeFilter(f string) string {
	return strings.TrimLeft(strings.TrimSpace(f), "/")
}

// Config is a snapshot of the settings the enrollment path reads on every
// request: handlers and the procedures they run. Version changes whenever
// any of them changes.
type Config struct {
	Version int64
	// PublicURL is the base URL clients reach the server at, such as
	// http://scep.example.com:8080; certificates link to their CRL under it.
	PublicURL string
	// Aliases says which handlers serve Microsoft's NDES paths.
	Aliases               Aliases
	Handlers              []Handler
	TokenProcedures       []TokenProcedure
	CertificateProcedures []CertificateProcedure
}

// Limits of the NDES password settings.
const (
	MinNDESPasswordLength = 8
	MaxNDESPasswordLength = 64
)

// NDESValidity returns how long the handler's one-time passwords stay
// valid: its ISO-8601 NDESChallengeValidity, or DefaultNDESValidity when
// that is empty. A malformed value is an EINVALID error naming it.
func (h *Handler) NDESValidity() (time.Duration, error) {
	v := h.NDESChallengeValidity
	if strings.TrimSpace(v) == "" {
		v = DefaultNDESValidity
	}
	d, err := ParseISODuration(v)
	if err != nil {
		return 0, Errorf(EINVALID, "Handler %q: the challenge validity %q is not an ISO-8601 duration such as PT15M, PT1H or P1D.", h.Name, v)
	}
	return d, nil
}

// NDESLength returns the length of the handler's one-time passwords, the
// default when unset.
func (h *Handler) NDESLength() int {
	if h.NDESPasswordLength <= 0 {
		return DefaultNDESPasswordLength
	}
	return h.NDESPasswordLength
}

// NDESCap returns how many unused, unexpired passwords the handler may have
// out at once, the default when unset.
func (h *Handler) NDESCap() int {
	if h.NDESPasswordCap <= 0 {
		return DefaultNDESPasswordCap
	}
	return h.NDESPasswordCap
}

// Names of the Microsoft NDES URL aliases.
const (
	AliasMSCEPAdmin = "mscep_admin" // /certsrv/mscep_admin/: the challenge page
	AliasMSCEP      = "mscep"       // /certsrv/mscep/mscep.dll: the SCEP endpoint
)

// Aliases maps Microsoft's NDES paths to the handlers that serve them, by
// handler name.
type Aliases struct {
	MSCEPAdmin string // a handler of format scep-ndes
	MSCEP      string // a handler of format scep
}

// DefaultAliases are the seeded handlers.
var DefaultAliases = Aliases{MSCEPAdmin: "ndeschallenge", MSCEP: "ndesrequest"}
