package admin

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/scepgate/scepgate/internal/properties"
	"github.com/scepgate/scepgate/model"
)

// handlerKeys are the handler.N.* settings an import understands, by
// lower-case name, with their spelling in messages and the form field
// whose rule checks them. The first seven are the reference's; the others
// are scepgate's own.
var handlerKeys = map[string]struct{ spelling, field string }{
	"filter":                 {"filter", "filter"},
	"format":                 {"format", "format"},
	"ndesusername":           {"ndesUsername", "ndes_username"},
	"ndespassword":           {"ndesPassword", "ndes_password"},
	"ndespassword.encrypted": {"ndesPassword.encrypted", ""},
	"ndeschallengevalidity":  {"ndesChallengeValidity", "ndes_challenge_validity"},
	"tokenprocedure":         {"tokenprocedure", "token_procedure"},
	"name":                   {"name", "name"},
	"enabled":                {"enabled", "enabled"},
	"allowlegacyciphers":     {"allowLegacyCiphers", "allow_legacy_ciphers"},
	"ndespasswordlength":     {"ndesPasswordLength", "ndes_password_length"},
	"ndespasswordcap":        {"ndesPasswordCap", "ndes_password_cap"},
	"ndesbyteordermark":      {"ndesByteOrderMark", "ndes_byte_order_mark"},
}

// ImportResult says what a handlers import changed.
type ImportResult struct {
	Handlers int      // how many the file defines
	Changes  []string // one sentence per created or updated handler
	Warnings []string // keys skipped, values set twice
}

// fileHandler is the handler.N.* settings of one N.
type fileHandler struct {
	num      string
	line     int
	settings map[string]properties.Property // by lower-case setting name
}

func (fh *fileHandler) key(setting string) string {
	return "handler." + fh.num + "." + handlerKeys[setting].spelling
}

// ImportHandlers reads a properties file in the reference's handler.N.*
// form and creates or updates the handlers it describes, matched by filter
// (slashes at either end aside), through the same rules as every other
// change to a handler. Only the settings the file names change. Unknown
// keys are warnings; anything that cannot be imported as written stops
// the import with a message naming its key and line, and then nothing
// changes. name is the file's name, for the audit log.
func (s *Service) ImportHandlers(ctx context.Context, actor Actor, name string, r io.Reader) (*ImportResult, error) {
	props, err := properties.Parse(r)
	if err != nil {
		return nil, model.Errorf(model.EINVALID, "%s: %v.", name, err)
	}
	cfg, err := s.store.LoadConfig(ctx)
	if err != nil {
		return nil, err
	}
	res := &ImportResult{}
	files := groupHandlers(props, res)
	res.Handlers = len(files)

	planned := *cfg
	planned.Handlers = append([]model.Handler(nil), cfg.Handlers...)
	var changed []model.Handler
	seenFilter := map[string]string{}
	for _, fh := range files {
		if p, ok := fh.settings["filter"]; ok {
			route := routeOf(p.Value)
			if other, dup := seenFilter[route]; dup {
				return nil, model.Errorf(model.EINVALID, "handler.%s and handler.%s have the same filter %q. Give each handler its own filter.", other, fh.num, p.Value)
			}
			seenFilter[route] = fh.num
		}
		h, summary, err := s.planHandler(fh, &planned)
		if err != nil {
			return nil, err
		}
		if summary == "" {
			continue
		}
		res.Changes = append(res.Changes, summary)
		changed = append(changed, *h)
		// Later handlers of the file are checked against this one.
		if i := indexHandler(planned.Handlers, h); i >= 0 {
			planned.Handlers[i] = *h
		} else {
			planned.Handlers = append(planned.Handlers, *h)
		}
	}
	if len(changed) == 0 {
		return res, nil
	}
	audit := actor.audit("handlers.import", name, strings.Join(res.Changes, "; "))
	if err := s.store.SaveHandlers(ctx, changed, audit); err != nil {
		return nil, err
	}
	s.changed()
	return res, nil
}

func indexHandler(hs []model.Handler, h *model.Handler) int {
	for i := range hs {
		if (h.ID != 0 && hs[i].ID == h.ID) || (h.ID == 0 && hs[i].ID == 0 && hs[i].Name == h.Name) {
			return i
		}
	}
	return -1
}

// groupHandlers sorts the properties by handler number, in the order the
// file first names them, warning about what is skipped.
func groupHandlers(props []properties.Property, res *ImportResult) []*fileHandler {
	warn := func(format string, args ...any) { res.Warnings = append(res.Warnings, fmt.Sprintf(format, args...)) }
	var order []*fileHandler
	byNum := map[string]*fileHandler{}
	for _, p := range props {
		rest, ok := strings.CutPrefix(p.Key, "handler.")
		num, setting, ok2 := strings.Cut(rest, ".")
		if !ok || !ok2 || num == "" {
			warn("line %d: %s is not a handler.N.* setting; it is ignored.", p.Line, p.Key)
			continue
		}
		setting = strings.ToLower(setting)
		if _, known := handlerKeys[setting]; !known {
			warn("line %d: %s is not a handler setting scepgate knows; it is ignored.", p.Line, p.Key)
			continue
		}
		fh := byNum[num]
		if fh == nil {
			fh = &fileHandler{num: num, line: p.Line, settings: map[string]properties.Property{}}
			byNum[num] = fh
			order = append(order, fh)
		}
		if prev, dup := fh.settings[setting]; dup {
			warn("line %d: %s is set again (first on line %d); the later value counts.", p.Line, p.Key, prev.Line)
		}
		fh.settings[setting] = p
	}
	return order
}

// planHandler works out the handler fh describes, checked against cfg by
// checkHandler, and a sentence saying what changes ("" when nothing does).
func (s *Service) planHandler(fh *fileHandler, cfg *model.Config) (*model.Handler, string, error) {
	bad := func(setting, format string, args ...any) error {
		return model.Errorf(model.EINVALID, "%s (line %d): %s", fh.key(setting), fh.settings[setting].Line, fmt.Sprintf(format, args...))
	}
	filterProp, ok := fh.settings["filter"]
	if !ok {
		return nil, "", model.Errorf(model.EINVALID, "handler.%s (line %d) has no filter. Add handler.%s.filter, the part of the URL after /pgwy/scep/.", fh.num, fh.line, fh.num)
	}
	if _, ok := fh.settings["ndespassword.encrypted"]; ok {
		return nil, "", bad("ndespassword.encrypted",
			"this value is encrypted with the reference product's own key, which scepgate cannot decrypt. "+
				"Put the clear-text password in %s instead; scepgate stores only its bcrypt hash.", fh.key("ndespassword"))
	}
	route := routeOf(filterProp.Value)
	var old *model.Handler
	for i := range cfg.Handlers {
		if routeOf(cfg.Handlers[i].Filter) == route {
			old = &cfg.Handlers[i]
			break
		}
	}
	in := NewHandlerInput()
	in.Name = strings.ReplaceAll(route, "/", "-")
	if route == "" {
		in.Name = "scep"
	}
	in.Filter = strings.TrimSpace(filterProp.Value)
	if old != nil {
		// Matched by route: slashes at either end do not change the URL.
		in = HandlerInputOf(old)
	}
	if p, ok := fh.settings["format"]; ok {
		in.Format = strings.ToLower(strings.TrimSpace(p.Value))
	} else if old == nil {
		return nil, "", model.Errorf(model.EINVALID, "handler.%s (line %d) has no format. Add handler.%s.format = scep or scep-ndes.", fh.num, fh.line, fh.num)
	}
	for setting, dst := range map[string]*string{"name": &in.Name, "ndesusername": &in.NDESUsername, "ndeschallengevalidity": &in.NDESChallengeValidity} {
		if p, ok := fh.settings[setting]; ok {
			*dst = strings.TrimSpace(p.Value)
		}
	}
	if p, ok := fh.settings["ndespassword"]; ok {
		if old == nil || !passwordMatches(old.NDESPasswordHash, p.Value) {
			in.NDESPassword = p.Value
			if in.NDESPassword == "" {
				return nil, "", bad("ndespassword", "the password is empty. Give the password MDMs send.")
			}
		}
	}
	if p, ok := fh.settings["tokenprocedure"]; ok {
		name := strings.TrimSpace(p.Value)
		in.TokenProcedureID = -1
		for _, tp := range cfg.TokenProcedures {
			if tp.Name == name {
				in.TokenProcedureID = tp.ID
			}
		}
		if in.TokenProcedureID < 0 {
			return nil, "", bad("tokenprocedure", "there is no token procedure named %q. Create it first, or correct the name.", name)
		}
	}
	for setting, dst := range map[string]*bool{"enabled": &in.Enabled, "allowlegacyciphers": &in.AllowLegacyCiphers, "ndesbyteordermark": &in.NDESByteOrderMark} {
		if p, ok := fh.settings[setting]; ok {
			v, err := strconv.ParseBool(strings.TrimSpace(p.Value))
			if err != nil {
				return nil, "", bad(setting, "%q is not true or false.", p.Value)
			}
			*dst = v
		}
	}
	for setting, dst := range map[string]*int{"ndespasswordlength": &in.NDESPasswordLength, "ndespasswordcap": &in.NDESPasswordCap} {
		if p, ok := fh.settings[setting]; ok {
			v, err := strconv.Atoi(strings.TrimSpace(p.Value))
			if err != nil {
				return nil, "", bad(setting, "%q is not a whole number.", p.Value)
			}
			*dst = v
		}
	}

	var f fieldErrors
	h := checkHandler(in, old, cfg, &f)
	if len(f.order) > 0 {
		// The first problem, named by the key that caused it when the file
		// has that key.
		field := f.order[0]
		if setting := settingOf(field); fh.settings[setting].Line > 0 {
			return nil, "", bad(setting, "%s", f.msgs[field])
		}
		return nil, "", model.Errorf(model.EINVALID, "handler.%s (line %d): %s", fh.num, fh.line, f.msgs[field])
	}
	if in.NDESPassword != "" && h.Format == model.HandlerNDES {
		hash, err := s.hash(in.NDESPassword)
		if err != nil {
			return nil, "", err
		}
		h.NDESPasswordHash = hash
	}
	if old == nil {
		return h, fmt.Sprintf("Created handler %s (%s, %s)", h.Name, h.Format, h.Path()), nil
	}
	diff := handlerDiff(old, h)
	if diff[0] == "nothing" {
		return h, "", nil
	}
	return h, fmt.Sprintf("Updated handler %s: %s", h.Name, strings.Join(diff, ", ")), nil
}

// settingOf returns the handler.N.* setting a form field comes from.
func settingOf(field string) string {
	for setting, k := range handlerKeys {
		if k.field == field {
			return setting
		}
	}
	return ""
}
