package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/scepgate/scepgate/internal/properties"
	"github.com/scepgate/scepgate/model"
	"github.com/spf13/cobra"
	"golang.org/x/crypto/bcrypt"
)

func newHandlersCmd(cl *cli) *cobra.Command {
	h := group(&cobra.Command{
		Use:   "handlers",
		Short: "List, import and alias the SCEP handlers",
		Long: `The handlers commands work on handlers, the SCEP-facing URLs under
/pgwy/scep/<filter>: SCEP endpoints (format scep) bound to a token procedure
and NDES challenge endpoints (format scep-ndes). They list them, create or
update them from the reference's handler.N.* properties file, and choose
which handlers serve Microsoft's NDES paths.`,
	})
	list := &cobra.Command{
		Use:   "list",
		Short: "List the handlers and the Microsoft NDES path aliases",
		Long: `List prints each handler, one a line: name, format, enabled or disabled and
its path; then which handlers serve /certsrv/mscep_admin/ and
/certsrv/mscep/mscep.dll.`,
		Args: exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runHandlersList(cmd.Context(), cl)
		},
	}
	imp := &cobra.Command{
		Use:   "import FILE",
		Short: "Create or update handlers from a handler.N.* properties file",
		Long: `Import reads FILE, a properties file with the reference's handler.N.*
settings (filter, format, tokenprocedure, ndesUsername, ndesPassword,
ndesChallengeValidity, and scepgate's own name, enabled, allowLegacyCiphers,
ndesPasswordLength, ndesPasswordCap, ndesByteOrderMark), and creates the
handlers it describes or updates those with the same filter. It warns about
keys it does not know and skips them; if any value cannot be imported as
written, it says which and imports nothing. Running servers use the new
settings within a second.`,
		Example: `  scepgate handlers import handlers.properties`,
		Args:    exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runHandlersImport(cmd.Context(), cl, args[0])
		},
	}
	var af handlersAliasFlags
	alias := &cobra.Command{
		Use:   "alias",
		Short: "Map /certsrv/mscep_admin/ and /certsrv/mscep/mscep.dll to handlers",
		Long: `Alias chooses the handlers that serve Microsoft's NDES paths, so that MDMs
and devices set up for NDES work unchanged: --mscep-admin names an NDES
challenge handler (format scep-ndes) for /certsrv/mscep_admin/, --mscep a
SCEP handler (format scep) for /certsrv/mscep/mscep.dll. Without flags it
prints the current choice.`,
		Example: `  scepgate handlers alias --mscep-admin ndeschallenge --mscep ndesrequest`,
		Args:    exactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runHandlersAlias(cmd.Context(), cl, af)
		},
	}
	alias.Flags().StringVar(&af.admin, "mscep-admin", "", "NDES challenge handler (format scep-ndes) that serves /certsrv/mscep_admin/")
	alias.Flags().StringVar(&af.mscep, "mscep", "", "SCEP handler (format scep) that serves /certsrv/mscep/mscep.dll")
	h.AddCommand(list, imp, alias)
	return h
}

func runHandlersList(ctx context.Context, cl *cli) error {
	e, err := cl.open(ctx, setupOptions{})
	if err != nil {
		return err
	}
	defer e.close()
	cfg, err := e.db.LoadConfig(ctx)
	if err != nil {
		return err
	}
	aliases, err := e.db.Aliases(ctx)
	if err != nil {
		return err
	}
	for _, h := range cfg.Handlers {
		state := "enabled"
		if !h.Enabled {
			state = "disabled"
		}
		fmt.Fprintf(cl.stdout, "%-20s %-10s %-9s %s\n", h.Name, h.Format, state, h.Path())
	}
	printAliases(cl.stdout, aliases)
	return nil
}

func printAliases(w io.Writer, a model.Aliases) {
	fmt.Fprintf(w, "/certsrv/mscep_admin/ is served by handler %s\n", a.MSCEPAdmin)
	fmt.Fprintf(w, "/certsrv/mscep/mscep.dll is served by handler %s\n", a.MSCEP)
}

// handlersAliasFlags are the flags of handlers alias.
type handlersAliasFlags struct {
	admin, mscep string
}

func runHandlersAlias(ctx context.Context, cl *cli, f handlersAliasFlags) error {
	e, err := cl.open(ctx, setupOptions{})
	if err != nil {
		return err
	}
	defer e.close()
	if f.admin != "" || f.mscep != "" {
		var detail []string
		if f.admin != "" {
			detail = append(detail, "/certsrv/mscep_admin/ -> "+f.admin)
		}
		if f.mscep != "" {
			detail = append(detail, "/certsrv/mscep/mscep.dll -> "+f.mscep)
		}
		audit := &model.AuditEvent{Actor: "cli", Action: "handlers.alias", ClientAddr: "local", Target: "aliases", Detail: strings.Join(detail, "; ")}
		if err := e.db.SetAliases(ctx, model.Aliases{MSCEPAdmin: f.admin, MSCEP: f.mscep}, audit); err != nil {
			return err
		}
	}
	a, err := e.db.Aliases(ctx)
	if err != nil {
		return err
	}
	printAliases(cl.stdout, a)
	return nil
}

func runHandlersImport(ctx context.Context, cl *cli, file string) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("read the handlers file: %w", err)
	}
	props, err := properties.Parse(f)
	_ = f.Close()
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	e, err := cl.open(ctx, setupOptions{})
	if err != nil {
		return err
	}
	defer e.close()
	cfg, err := e.db.LoadConfig(ctx)
	if err != nil {
		return err
	}
	plan, err := planImport(props, cfg, func(format string, args ...any) {
		fmt.Fprintf(cl.stderr, "scepgate: warning: "+format+"\n", args...)
	})
	if err != nil {
		return err
	}
	if len(plan.changes) == 0 {
		fmt.Fprintf(cl.stdout, "Nothing to change: the %d handlers in %s are already set up as the file says.\n", plan.handlers, file)
		return nil
	}
	var hs []model.Handler
	var summary []string
	for _, ch := range plan.changes {
		hs = append(hs, ch.handler)
		summary = append(summary, ch.summary())
	}
	audit := &model.AuditEvent{Actor: "cli", Action: "handlers.import", ClientAddr: "local",
		Target: filepath.Base(file), Detail: strings.Join(summary, "; ")}
	if err := e.db.SaveHandlers(ctx, hs, audit); err != nil {
		return err
	}
	for _, s := range summary {
		fmt.Fprintln(cl.stdout, s+".")
	}
	fmt.Fprintf(cl.stdout, "Imported %s: %d of %d handlers changed; running servers use them within a second.\n", file, len(plan.changes), plan.handlers)
	return nil
}

// handlerSettings are the handler.N.* keys the import understands, by
// lower-case name, with their spelling in messages. The first seven are the
// reference's; the others are scepgate's own.
var handlerSettings = map[string]string{
	"filter":                 "filter",
	"format":                 "format",
	"ndesusername":           "ndesUsername",
	"ndespassword":           "ndesPassword",
	"ndespassword.encrypted": "ndesPassword.encrypted",
	"ndeschallengevalidity":  "ndesChallengeValidity",
	"tokenprocedure":         "tokenprocedure",
	"name":                   "name",
	"enabled":                "enabled",
	"allowlegacyciphers":     "allowLegacyCiphers",
	"ndespasswordlength":     "ndesPasswordLength",
	"ndespasswordcap":        "ndesPasswordCap",
	"ndesbyteordermark":      "ndesByteOrderMark",
}

// fileHandler is the handler.N.* settings of one N.
type fileHandler struct {
	num      string
	line     int
	settings map[string]properties.Property // by lower-case setting name
}

func (f *fileHandler) key(setting string) string {
	return "handler." + f.num + "." + handlerSettings[setting]
}

// importPlan is what an import changes.
type importPlan struct {
	handlers int // how many the file defines
	changes  []handlerChange
}

type handlerChange struct {
	handler model.Handler
	created bool
	fields  []string // what changed, for updates
}

func (c handlerChange) summary() string {
	if c.created {
		return fmt.Sprintf("Created handler %s (%s, %s)", c.handler.Name, c.handler.Format, c.handler.Path())
	}
	return fmt.Sprintf("Updated handler %s: %s", c.handler.Name, strings.Join(c.fields, ", "))
}

// planImport works out, from the properties of a handlers file and the
// current configuration, which handlers to create and which to update
// (matched by filter), hashing clear-text passwords with bcrypt unless the
// stored hash already matches them. Unknown keys are reported with warn
// and skipped; anything that cannot be imported as written is an error
// naming its key, and then nothing is imported.
func planImport(props []properties.Property, cfg *model.Config, warn func(format string, args ...any)) (*importPlan, error) {
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
		if handlerSettings[setting] == "" {
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

	plan := &importPlan{handlers: len(order)}
	seenFilter := map[string]string{}
	for _, fh := range order {
		h, created, fields, err := planHandler(fh, cfg)
		if err != nil {
			return nil, err
		}
		route := strings.Trim(h.Filter, "/")
		if other, dup := seenFilter[route]; dup {
			return nil, model.Errorf(model.EINVALID, "handler.%s and handler.%s have the same filter %q. Give each handler its own filter.", other, fh.num, h.Filter)
		}
		seenFilter[route] = fh.num
		if created || len(fields) > 0 {
			plan.changes = append(plan.changes, handlerChange{handler: *h, created: created, fields: fields})
		}
	}
	return plan, nil
}

// planHandler returns the handler fh describes, whether it is new, and for
// an existing one which settings change.
func planHandler(fh *fileHandler, cfg *model.Config) (h *model.Handler, created bool, changed []string, err error) {
	bad := func(setting, format string, args ...any) error {
		return model.Errorf(model.EINVALID, "%s (line %d): %s", fh.key(setting), fh.settings[setting].Line, fmt.Sprintf(format, args...))
	}
	filterProp, ok := fh.settings["filter"]
	if !ok {
		return nil, false, nil, model.Errorf(model.EINVALID, "handler.%s (line %d) has no filter. Add handler.%s.filter, the part of the URL after /pgwy/scep/.", fh.num, fh.line, fh.num)
	}
	if _, ok := fh.settings["ndespassword.encrypted"]; ok {
		return nil, false, nil, bad("ndespassword.encrypted",
			"this value is encrypted with the reference product's own key, which scepgate cannot decrypt. "+
				"Put the clear-text password in %s instead; scepgate stores only its bcrypt hash.", fh.key("ndespassword"))
	}
	filter := model.NormalizeFilter(filterProp.Value)
	route := strings.Trim(filter, "/")
	var old *model.Handler
	for i := range cfg.Handlers {
		if strings.Trim(cfg.Handlers[i].Filter, "/") == route {
			old = &cfg.Handlers[i]
			break
		}
	}
	nh := model.Handler{Name: strings.ReplaceAll(route, "/", "-"), Filter: filter, Enabled: true}
	if route == "" {
		nh.Name = "scep"
	}
	if old != nil {
		nh = *old
	}
	h = &nh

	if p, ok := fh.settings["format"]; ok {
		switch v := strings.ToLower(strings.TrimSpace(p.Value)); v {
		case model.HandlerSCEP, model.HandlerNDES:
			h.Format = v
		default:
			return nil, false, nil, bad("format", "the format %q is unknown; use %s or %s.", p.Value, model.HandlerSCEP, model.HandlerNDES)
		}
	} else if old == nil {
		return nil, false, nil, model.Errorf(model.EINVALID, "handler.%s (line %d) has no format. Add handler.%s.format = scep or scep-ndes.", fh.num, fh.line, fh.num)
	}
	if old == nil && h.Format == model.HandlerNDES {
		h.NDESPasswordLength, h.NDESPasswordCap = model.DefaultNDESPasswordLength, model.DefaultNDESPasswordCap
	}
	if p, ok := fh.settings["name"]; ok {
		h.Name = strings.TrimSpace(p.Value)
	}
	if p, ok := fh.settings["ndesusername"]; ok {
		h.NDESUsername = strings.TrimSpace(p.Value)
	}
	if p, ok := fh.settings["ndespassword"]; ok {
		if len(p.Value) < 8 {
			return nil, false, nil, bad("ndespassword", "the password must be at least 8 characters long.")
		}
		if h.NDESPasswordHash == "" || bcrypt.CompareHashAndPassword([]byte(h.NDESPasswordHash), []byte(p.Value)) != nil {
			hash, err := bcrypt.GenerateFromPassword([]byte(p.Value), bcrypt.DefaultCost)
			if err != nil {
				return nil, false, nil, bad("ndespassword", "the password cannot be hashed: %v.", err)
			}
			h.NDESPasswordHash = string(hash)
		}
	}
	if p, ok := fh.settings["ndeschallengevalidity"]; ok {
		v := strings.TrimSpace(p.Value)
		if _, err := model.ParseISODuration(v); err != nil {
			return nil, false, nil, bad("ndeschallengevalidity", "%q is not an ISO-8601 duration such as PT15M, PT1H or P1D.", p.Value)
		}
		h.NDESChallengeValidity = v
	}
	if p, ok := fh.settings["tokenprocedure"]; ok {
		name := strings.TrimSpace(p.Value)
		i := slices.IndexFunc(cfg.TokenProcedures, func(tp model.TokenProcedure) bool { return tp.Name == name })
		if i < 0 {
			return nil, false, nil, bad("tokenprocedure", "there is no token procedure named %q. Create it first, or correct the name.", name)
		}
		id := cfg.TokenProcedures[i].ID
		h.TokenProcedureID = &id
	}
	for setting, dst := range map[string]*bool{"enabled": &h.Enabled, "allowlegacyciphers": &h.AllowLegacyCiphers, "ndesbyteordermark": &h.NDESByteOrderMark} {
		if p, ok := fh.settings[setting]; ok {
			v, err := strconv.ParseBool(strings.TrimSpace(p.Value))
			if err != nil {
				return nil, false, nil, bad(setting, "%q is not true or false.", p.Value)
			}
			*dst = v
		}
	}
	for setting, dst := range map[string]*int{"ndespasswordlength": &h.NDESPasswordLength, "ndespasswordcap": &h.NDESPasswordCap} {
		if p, ok := fh.settings[setting]; ok {
			v, err := strconv.Atoi(strings.TrimSpace(p.Value))
			if err != nil || v < 1 {
				return nil, false, nil, bad(setting, "%q is not a positive whole number.", p.Value)
			}
			*dst = v
		}
	}
	if err := h.Validate(); err != nil {
		return nil, false, nil, model.Errorf(model.EINVALID, "handler.%s (line %d): %s", fh.num, fh.line, model.ErrorMessage(err))
	}
	if old == nil {
		return h, true, nil, nil
	}
	return h, false, handlerDiff(old, h), nil
}

// handlerDiff names the settings in which a and b differ.
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
	return d
}

func equalID(a, b *int64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
