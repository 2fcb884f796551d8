package model

import "time"

// Token is a bearer token of the JSON API. The token itself is shown once,
// when it is made; the database keeps only its keyed hash.
type Token struct {
	ID         int64
	Name       string // unique among tokens not revoked; the audit log names it "token:NAME"
	Role       string // a portal role: RoleAdmin, RoleHelpdesk or RoleAuditor
	Hash       string // hex HMAC-SHA256 of the token under a key derived from the master key
	CreatedBy  string
	CreatedAt  time.Time
	ExpiresAt  *time.Time // nil never expires
	LastUsedAt *time.Time
	RevokedAt  *time.Time
}

// TableName is the table of API tokens.
func (Token) TableName() string { return "api_tokens" }

// Actor is how the audit log names the token.
func (t *Token) Actor() string { return "token:" + t.Name }

// Usable reports whether t may authenticate a call at now.
func (t *Token) Usable(now time.Time) bool {
	return t.RevokedAt == nil && (t.ExpiresAt == nil || now.Before(*t.ExpiresAt))
}
