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
	Version               int64
	Handlers              []Handler
	TokenProcedures       []TokenProcedure
	CertificateProcedures []CertificateProcedure
}
