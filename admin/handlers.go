package admin

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/scepgate/scepgate/model"
	"golang.org/x/crypto/bcrypt"
)

// HandlerInput is what an administrator sets on a handler.
type HandlerInput struct {
	Name   string
	Filter string // the path after /pgwy/scep/: "" (the base URL), "seg" or "seg/"
	Format string // model.HandlerSCEP or model.HandlerNDES
	// TokenProcedureID is the token procedure a scep handler runs.
	TokenProcedureID   int64
	Enabled            bool
	AllowLegacyCiphers bool

	NDESUsername string
	// NDESPassword is the new password; "" keeps the current one.
	NDESPassword          string
	NDESChallengeValidity string
	NDESPasswordLength    int
	NDESPasswordCap       int
	NDESByteOrderMark     bool
}

// NewHandlerInput is what a new handler starts with.
func NewHandlerInput() HandlerInput {
	return HandlerInput{Format: model.HandlerSCEP, Enabled: true, NDESChallengeValidity: model.DefaultNDESValidity,
		NDESPasswordLength: model.DefaultNDESPasswordLength, NDESPasswordCap: model.DefaultNDESPasswordCap}
}

// HandlerInputOf returns the settings of h as input, without its password.
func HandlerInputOf(h *model.Handler) HandlerInput {
	in := HandlerInput{Name: h.Name, Filter: h.Filter, Format: h.Format, Enabled: h.Enabled, AllowLegacyCiphers: h.AllowLegacyCiphers,
		NDESUsername: h.NDESUsername, NDESChallengeValidity: h.NDESChallengeValidity, NDESPasswordLength: h.NDESLength(),
		NDESPasswordCap: h.NDESCap(), NDESByteOrderMark: h.NDESByteOrderMark}
	if h.TokenProcedureID != nil {
		in.TokenProcedureID = *h.TokenProcedureID
	}
	if in.NDESChallengeValidity == "" {
		in.NDESChallengeValidity = model.DefaultNDESValidity
	}
	return in
}

// routeOf is a filter as it routes: without slashes at either end.
func routeOf(filter string) string { return strings.Trim(filter, "/") }

// checkHandler checks in as the new settings of old (nil for a new
// handler) within cfg and returns the handler to store, its password not
// yet hashed. Field names are those of the portal's form.
func checkHandler(in HandlerInput, old *model.Handler, cfg *model.Config, f *fieldErrors) *model.Handler {
	h := &model.Handler{}
	if old != nil {
		*h = *old
	}
	h.Name, h.Filter, h.Format = in.Name, model.NormalizeFilter(in.Filter), in.Format
	h.Enabled, h.AllowLegacyCiphers = in.Enabled, in.AllowLegacyCiphers

	checkName(f, "name", h.Name, MaxHandlerName)
	if !f.has("name") && strings.IndexFunc(h.Name, func(r rune) bool { return !isWordChar(r) }) >= 0 {
		f.add("name", "Use only letters, digits, '-', '_' and '.' in a handler's name; it is used on the command line and in aliases.")
	}
	if msg := checkFilter(h.Filter); msg != "" {
		f.add("filter", "%s", msg)
	}
	for i := range cfg.Handlers {
		o := &cfg.Handlers[i]
		if old != nil && o.ID == old.ID {
			continue
		}
		if !f.has("name") && strings.EqualFold(o.Name, h.Name) {
			f.add("name", "Handler %q already exists. Choose another name.", o.Name)
		}
		if !f.has("filter") && routeOf(o.Filter) == routeOf(h.Filter) {
			f.add("filter", "Handler %q already serves %s. Choose another filter.", o.Name, o.Path())
		}
	}

	switch h.Format {
	case model.HandlerSCEP:
		h.TokenProcedureID = nil
		if in.TokenProcedureID == 0 {
			f.add("token_procedure", "Choose the token procedure this handler runs.")
		} else if tokenProcedureByID(cfg, in.TokenProcedureID) == nil {
			f.add("token_procedure", "The chosen token procedure no longer exists. Choose another.")
		} else {
			id := in.TokenProcedureID
			h.TokenProcedureID = &id
		}
	case model.HandlerNDES:
		h.TokenProcedureID = nil
		h.NDESUsername, h.NDESChallengeValidity, h.NDESByteOrderMark = in.NDESUsername, strings.ToUpper(strings.TrimSpace(in.NDESChallengeValidity)), in.NDESByteOrderMark
		h.NDESPasswordLength, h.NDESPasswordCap = in.NDESPasswordLength, in.NDESPasswordCap
		checkNDES(in, h, f)
	default:
		f.add("format", "Choose the format %s (a SCEP endpoint for devices) or %s (an NDES password page for MDMs).", model.HandlerSCEP, model.HandlerNDES)
	}
	return h
}

// checkFilter says what is wrong with a filter, or "".
func checkFilter(filter string) string {
	seg := strings.TrimSuffix(filter, "/")
	switch {
	case filter == "":
		return ""
	case utf8.RuneCountInString(filter) > MaxFilter:
		return fmt.Sprintf("Use at most %d characters for the filter.", MaxFilter)
	case seg == "" || strings.Contains(seg, "/"):
		return "A filter is one path segment, such as ndesrequest or ndeschallenge/ (a trailing slash is allowed)."
	case seg == "." || seg == "..":
		return "A filter cannot be . or .."
	case strings.EqualFold(seg, "ca") || strings.EqualFold(seg, "scep"):
		return fmt.Sprintf("The filter %q is taken by scepgate's own URLs (/pgwy/ca/ and /pgwy/scep/). Choose another.", seg)
	}
	for _, r := range seg {
		if !isWordChar(r) && r != '~' {
			return fmt.Sprintf("The filter may contain letters, digits, '-', '_', '.' and '~', not %q: it is a part of a URL.", r)
		}
	}
	return ""
}

func checkNDES(in HandlerInput, h *model.Handler, f *fieldErrors) {
	switch u := h.NDESUsername; {
	case u == "":
		f.add("ndes_username", "Enter the user name MDMs send.")
	case utf8.RuneCountInString(u) > MaxUsername:
		f.add("ndes_username", "Use at most %d characters for the NDES user name.", MaxUsername)
	case strings.ContainsAny(u, ":") || strings.IndexFunc(u, func(r rune) bool { return r < 0x21 || r == 0x7f }) >= 0:
		f.add("ndes_username", "The NDES user name may not contain ':', spaces or control characters: HTTP Basic credentials cannot carry them.")
	}
	switch pw := in.NDESPassword; {
	case pw == "" && h.NDESPasswordHash == "":
		f.add("ndes_password", "Enter the password MDMs send.")
	case pw == "":
	case len(pw) < MinNDESPassword:
		f.add("ndes_password", "Use at least %d characters for the NDES password.", MinNDESPassword)
	case len(pw) > MaxPassword:
		f.add("ndes_password", "Use at most %d bytes for the NDES password: longer passwords cannot be checked in full.", MaxPassword)
	}
	if d, err := model.ParseISODuration(h.NDESChallengeValidity); err != nil {
		f.add("ndes_challenge_validity", "Enter an ISO-8601 duration such as PT15M, PT60M or P1D.")
	} else if d < MinNDESValidity || d > MaxNDESValidity {
		f.add("ndes_challenge_validity", "Enter a validity from PT1M to P30D.")
	}
	if n := h.NDESPasswordLength; n < model.MinNDESPasswordLength || n > model.MaxNDESPasswordLength {
		f.add("ndes_password_length", "Enter a password length from %d to %d.", model.MinNDESPasswordLength, model.MaxNDESPasswordLength)
	}
	if n := h.NDESPasswordCap; n < 1 || n > MaxNDESPasswordCap {
		f.add("ndes_password_cap", "Enter how many unused passwords may be out at once, from 1 to %d.", MaxNDESPasswordCap)
	}
}

func tokenProcedureByID(cfg *model.Config, id int64) *model.TokenProcedure {
	for i := range cfg.TokenProcedures {
		if cfg.TokenProcedures[i].ID == id {
			return &cfg.TokenProcedures[i]
		}
	}
	return nil
}

func certificateProcedureByID(cfg *model.Config, id int64) *model.CertificateProcedure {
	for i := range cfg.CertificateProcedures {
		if cfg.CertificateProcedures[i].ID == id {
			return &cfg.CertificateProcedures[i]
		}
	}
	return nil
}

// SaveHandler creates a handler (id 0) or changes handler id to in, and
// returns it as stored. Running servers use it within a second.
func (s *Service) SaveHandler(ctx context.Context, actor Actor, id int64, in HandlerInput) (*model.Handler, error) {
	cfg, err := s.store.LoadConfig(ctx)
	if err != nil {
		return nil, err
	}
	var old *model.Handler
	if id != 0 {
		if old, err = s.store.FindHandler(ctx, id); err != nil {
			return nil, err
		}
	}
	var f fieldErrors
	h := checkHandler(in, old, cfg, &f)
	if err := f.err(); err != nil {
		return nil, err
	}
	if h.Format == model.HandlerNDES && in.NDESPassword != "" {
		if h.NDESPasswordHash, err = s.hash(in.NDESPassword); err != nil {
			return nil, err
		}
	}
	action, detail := "handler.create", handlerDetail(h, cfg)
	if old != nil {
		action = "handler.update"
		detail = "changed " + strings.Join(handlerDiff(old, h), ", ")
	}
	if h.Format == model.HandlerNDES && in.NDESPassword != "" {
		detail += "; NDES password set"
	}
	// SaveHandlers gives a new handler its id in place.
	hs := []model.Handler{*h}
	if err := s.store.SaveHandlers(ctx, hs, actor.audit(action, "handler "+h.Name, detail)); err != nil {
		return nil, conflictOn(err, "name")
	}
	s.changed()
	return &hs[0], nil
}

// SetHandlerEnabled enables or disables handler id. A disabled handler's
// URL answers 404.
func (s *Service) SetHandlerEnabled(ctx context.Context, actor Actor, id int64, enabled bool) (*model.Handler, error) {
	h, err := s.store.FindHandler(ctx, id)
	if err != nil {
		return nil, err
	}
	h.Enabled = enabled
	action := "handler.disable"
	if enabled {
		action = "handler.enable"
	}
	if err := s.store.SaveHandlers(ctx, []model.Handler{*h}, actor.audit(action, "handler "+h.Name, "")); err != nil {
		return nil, err
	}
	s.changed()
	return h, nil
}

// SetAliases maps Microsoft's NDES paths to handlers by name; an empty
// name keeps that alias as it is. /certsrv/mscep_admin/ takes an NDES
// challenge handler, /certsrv/mscep/mscep.dll a SCEP handler.
func (s *Service) SetAliases(ctx context.Context, actor Actor, a model.Aliases) error {
	cfg, err := s.store.LoadConfig(ctx)
	if err != nil {
		return err
	}
	var f fieldErrors
	var detail []string
	for _, set := range []struct{ field, name, format, path string }{
		{"mscep_admin", a.MSCEPAdmin, model.HandlerNDES, "/certsrv/mscep_admin/"},
		{"mscep", a.MSCEP, model.HandlerSCEP, "/certsrv/mscep/mscep.dll"},
	} {
		if set.name == "" {
			continue
		}
		var h *model.Handler
		for i := range cfg.Handlers {
			if cfg.Handlers[i].Name == set.name {
				h = &cfg.Handlers[i]
			}
		}
		switch {
		case h == nil:
			f.add(set.field, "There is no handler named %q to serve %s.", set.name, set.path)
		case h.Format != set.format:
			f.add(set.field, "Handler %q has format %s, but %s needs a handler of format %s. Choose another handler.", h.Name, h.Format, set.path, set.format)
		default:
			detail = append(detail, set.path+" -> "+set.name)
		}
	}
	if err := f.err(); err != nil {
		return err
	}
	if len(detail) == 0 {
		return nil
	}
	if err := s.store.SetAliases(ctx, a, actor.audit("handlers.alias", "aliases", strings.Join(detail, "; "))); err != nil {
		return err
	}
	s.changed()
	return nil
}

// Accepts says what a SCEP handler takes, so that its page can say it.
type Accepts struct {
	PreRegistrations bool // challenge passwords of pre-registrations
	NDESPasswords    bool // NDES one-time passwords
	Renewals         bool // requests signed with a certificate it issued, within the renewal window
	LegacyCiphers    bool // single DES and RC2
	Approval         bool // enrollments wait for an administrator
	RenewalWindow    int  // days
}

// HandlerAccepts says what handler h accepts under cfg; the zero Accepts
// for NDES challenge handlers and misconfigured ones.
func HandlerAccepts(cfg *model.Config, h *model.Handler) Accepts {
	if h.Format != model.HandlerSCEP || h.TokenProcedureID == nil {
		return Accepts{}
	}
	tp := tokenProcedureByID(cfg, *h.TokenProcedureID)
	if tp == nil || len(tp.CertificateProcedureIDs) == 0 {
		return Accepts{}
	}
	cp := certificateProcedureByID(cfg, tp.CertificateProcedureIDs[0])
	if cp == nil {
		return Accepts{}
	}
	return Accepts{
		PreRegistrations: cp.Format == model.FormatSCEP,
		NDESPasswords:    cp.Format == model.FormatNDESDynamic,
		Renewals:         tp.RenewalWindowDays > 0,
		LegacyCiphers:    h.AllowLegacyCiphers,
		Approval:         tp.RequireApproval,
		RenewalWindow:    tp.RenewalWindowDays,
	}
}

// handlerDetail describes a new handler for the audit log, by names.
func handlerDetail(h *model.Handler, cfg *model.Config) string {
	d := fmt.Sprintf("format %s, %s, enabled %t", h.Format, h.Path(), h.Enabled)
	if h.TokenProcedureID != nil {
		if tp := tokenProcedureByID(cfg, *h.TokenProcedureID); tp != nil {
			d += fmt.Sprintf(", token procedure %q", tp.Name)
		}
	}
	if h.Format == model.HandlerNDES {
		d += fmt.Sprintf(", NDES user %q, validity %s", h.NDESUsername, h.NDESChallengeValidity)
	}
	return d
}

// handlerDiff names the settings in which a and b differ, as the
// reference's handler.N.* keys call them.
func handlerDiff(a, b *model.Handler) []string {
	var d []string
	add := func(differ bool, name string) {
		if differ {
			d = append(d, name)
		}
	}
	add(a.Name != b.Name, "name")
	add(a.Filter != b.Filter, "filter")
	add(a.Format != b.Format, "format")
	add(!equalID(a.TokenProcedureID, b.TokenProcedureID), "tokenprocedure")
	add(a.Enabled != b.Enabled, "enabled")
	add(a.AllowLegacyCiphers != b.AllowLegacyCiphers, "allowLegacyCiphers")
	add(a.NDESUsername != b.NDESUsername, "ndesUsername")
	add(a.NDESPasswordHash != b.NDESPasswordHash, "ndesPassword")
	add(a.NDESChallengeValidity != b.NDESChallengeValidity, "ndesChallengeValidity")
	add(a.NDESPasswordLength != b.NDESPasswordLength, "ndesPasswordLength")
	add(a.NDESPasswordCap != b.NDESPasswordCap, "ndesPasswordCap")
	add(a.NDESByteOrderMark != b.NDESByteOrderMark, "ndesByteOrderMark")
	if len(d) == 0 {
		d = []string{"nothing"}
	}
	return d
}

func equalID(a, b *int64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// passwordMatches reports whether password is the one hash was made of.
func passwordMatches(hash, password string) bool {
	return hash != "" && bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}

// conflictOn turns a store conflict (a unique name taken meanwhile) into a
// field error on field; other errors pass unchanged.
func conflictOn(err error, field string) error {
	if code := model.ErrorCode(err); code == model.ECONFLICT && model.ErrorFields(err) == nil {
		return fieldError(code, field, "%s", model.ErrorMessage(err))
	}
	return err
}

// Describe says in short phrases what a handler with a accepts, for its
// page, the CLI and the API.
func (a Accepts) Describe() []string {
	var d []string
	if a.PreRegistrations {
		d = append(d, "pre-registration passwords")
	}
	if a.NDESPasswords {
		d = append(d, "NDES one-time passwords")
	}
	if a.Renewals {
		d = append(d, fmt.Sprintf("renewals signed with a certificate it issued, from %d days before expiry", a.RenewalWindow))
	}
	if a.LegacyCiphers {
		d = append(d, "single DES and RC2 from old clients")
	}
	if a.Approval {
		d = append(d, "enrollments wait for an administrator's approval")
	}
	return d
}
