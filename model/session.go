package model

import "time"

// Session is one sign-in to the portal. The session id itself lives only in
// the browser's cookie; the database keeps its SHA-256.
type Session struct {
	IDHash     string `gorm:"primaryKey;column:id_hash"` // hex SHA-256 of the session id
	UserID     int64
	CSRFToken  string `gorm:"column:csrf_token"` // every form of the session carries it
	CreatedAt  time.Time
	LastSeenAt time.Time
	ClientAddr string
	UserAgent  string
}

// SessionUser is a session with the user it belongs to.
type SessionUser struct {
	Session Session
	User    User
}

// ValidRole reports whether role is one of the portal roles.
func ValidRole(role string) bool {
	return role == RoleAdmin || role == RoleHelpdesk || role == RoleAuditor
}

// UserChange is one change to a user account.
type UserChange struct {
	Role         string // "" keeps the role
	Disabled     *bool  // nil keeps the state
	PasswordHash string // "" keeps the password
}
