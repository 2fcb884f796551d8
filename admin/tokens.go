package admin

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/scepgate/scepgate/model"
)

// TokenStore is what the token operations need from storage.
type TokenStore interface {
	CreateToken(ctx context.Context, t *model.Token, audit *model.AuditEvent) error
	FindTokenByHash(ctx context.Context, hash string) (*model.Token, error)
	ListTokens(ctx context.Context) ([]model.Token, error)
	RevokeToken(ctx context.Context, name string, audit *model.AuditEvent) (*model.Token, error)
	TouchToken(ctx context.Context, id int64, at time.Time) error
}

// Limits of API tokens.
const (
	MaxTokenName     = 64
	MinTokenLifetime = time.Minute
	MaxTokenLifetime = 5 * 366 * 24 * time.Hour
	// TokenPrefix starts every token, so that secret scanners and people
	// recognise one.
	TokenPrefix = "sgt_"
	// tokenTouchEvery limits how often a token's last use is written.
	tokenTouchEvery = time.Minute
)

// TokenInput asks for a new API token.
type TokenInput struct {
	Name      string
	Role      string        // model.RoleAdmin, RoleHelpdesk or RoleAuditor
	ExpiresIn time.Duration // 0: the token never expires
}

// CreateToken makes a token for the JSON API and returns it with its
// secret, which is shown this once: only its keyed hash is stored.
func (s *Service) CreateToken(ctx context.Context, actor Actor, in TokenInput) (*model.Token, string, error) {
	var f fieldErrors
	in.Name = strings.TrimSpace(in.Name)
	checkName(&f, "name", in.Name, MaxTokenName)
	if !f.has("name") && strings.IndexFunc(in.Name, func(r rune) bool { return !isWordChar(r) }) >= 0 {
		f.add("name", "Use only letters, digits and - _ . in a token name, such as jamf-prod.")
	}
	if !model.ValidRole(in.Role) {
		f.add("role", "Choose the token's role: admin, helpdesk or auditor.")
	}
	if in.ExpiresIn != 0 && (in.ExpiresIn < MinTokenLifetime || in.ExpiresIn > MaxTokenLifetime) {
		f.add("expires_in", "Enter how long the token lasts, such as 720h (at least a minute, at most five years), or nothing for a token that does not expire.")
	}
	if err := f.err(); err != nil {
		return nil, "", err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, "", err
	}
	secret := TokenPrefix + base64.RawURLEncoding.EncodeToString(raw)
	now := s.now().UTC().Truncate(time.Microsecond)
	t := &model.Token{Name: in.Name, Role: in.Role, Hash: s.mk.TokenHash(secret), CreatedBy: actor.Name, CreatedAt: now}
	expiry := "never expires"
	if in.ExpiresIn != 0 {
		exp := now.Add(in.ExpiresIn)
		t.ExpiresAt = &exp
		expiry = "expires " + exp.Format(time.RFC3339)
	}
	audit := actor.audit("token.create", "token "+in.Name, fmt.Sprintf("API token with role %s, %s", in.Role, expiry))
	if err := s.store.CreateToken(ctx, t, audit); err != nil {
		return nil, "", conflictOn(err, "name")
	}
	return t, secret, nil
}

// Tokens lists every API token, revoked ones last.
func (s *Service) Tokens(ctx context.Context) ([]model.Token, error) {
	return s.store.ListTokens(ctx)
}

// RevokeToken revokes the token named name at once: the next call that
// carries it gets 401.
func (s *Service) RevokeToken(ctx context.Context, actor Actor, name string) (*model.Token, error) {
	name = strings.TrimSpace(name)
	if name == "" || utf8.RuneCountInString(name) > MaxTokenName {
		return nil, fieldError(model.EINVALID, "name", "Enter the name of the token to revoke.")
	}
	return s.store.RevokeToken(ctx, name, actor.audit("token.revoke", "token "+name, ""))
}

// ErrBadToken is the answer to a missing, unknown, expired or revoked
// token. It says no more, so that a guesser learns nothing.
var ErrBadToken = model.Errorf(model.EUNAUTHORIZED, "The API token is missing, wrong, expired or revoked. Send a valid one as \"Authorization: Bearer TOKEN\".")

// AuthenticateToken returns the usable token whose secret is secret, and
// records its use (at most once a minute); any other secret gets
// ErrBadToken.
func (s *Service) AuthenticateToken(ctx context.Context, secret string) (*model.Token, error) {
	if !strings.HasPrefix(secret, TokenPrefix) || len(secret) > 256 {
		return nil, ErrBadToken
	}
	// The lookup is by keyed hash: the database compares hashes, never
	// the secret, so its timing tells nothing about the secret.
	t, err := s.store.FindTokenByHash(ctx, s.mk.TokenHash(secret))
	if model.ErrorCode(err) == model.ENOTFOUND {
		return nil, ErrBadToken
	} else if err != nil {
		return nil, err
	}
	now := s.now()
	if !t.Usable(now) {
		return nil, ErrBadToken
	}
	if t.LastUsedAt == nil || now.Sub(*t.LastUsedAt) >= tokenTouchEvery {
		if err := s.store.TouchToken(ctx, t.ID, now); err != nil {
			return nil, err
		}
		t.LastUsedAt = &now
	}
	return t, nil
}
