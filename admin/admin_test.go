package admin_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/scepgate/scepgate/internal/testenv"

	"github.com/scepgate/scepgate/admin"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/store"
)

// env is the admin operations over a real SQLite file, with one
// certificate procedure of each format and a token procedure for each.
type env struct {
	svc       *admin.Service
	db        *store.DB
	pre, ndes *model.TokenProcedure
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	te := testenv.New(t, testenv.Options{})
	svc := te.Admin
	e := &env{svc: svc, db: te.DB}
	for _, f := range []model.CertificateFormat{model.FormatSCEP, model.FormatNDESDynamic} {
		in := admin.NewCertificateProcedureInput()
		in.Name, in.Format = "cert "+string(f), string(f)
		cp, err := svc.SaveCertificateProcedure(ctx, admin.CLI, 0, in)
		if err != nil {
			t.Fatalf("certificate procedure %s: %v", f, err)
		}
		tin := admin.NewTokenProcedureInput()
		tin.Name, tin.CertificateProcedureIDs = "token "+string(f), []int64{cp.ID}
		tp, err := svc.SaveTokenProcedure(ctx, admin.CLI, 0, tin)
		if err != nil {
			t.Fatalf("token procedure %s: %v", f, err)
		}
		if f == model.FormatSCEP {
			e.pre = tp
		} else {
			e.ndes = tp
		}
	}
	return e
}

func ndesInput(name, filter string) admin.HandlerInput {
	in := admin.NewHandlerInput()
	in.Name, in.Filter, in.Format = name, filter, model.HandlerNDES
	in.NDESUsername, in.NDESPassword, in.NDESChallengeValidity = "ndesadmin", "ndespassword", "PT15M"
	return in
}

// wantField checks that err is an EINVALID error with a message for field
// that contains want.
func wantField(t *testing.T, err error, field, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error; want one for field %q", field)
	}
	if code := model.ErrorCode(err); code != model.EINVALID && code != model.ECONFLICT {
		t.Fatalf("error code %q (%v); want invalid or conflict", code, err)
	}
	msg, ok := model.ErrorFields(err)[field]
	if !ok {
		t.Fatalf("fields %v have no %q; want %q", model.ErrorFields(err), field, want)
	}
	if !strings.Contains(msg, want) {
		t.Errorf("field %q says %q; want it to contain %q", field, msg, want)
	}
	if !strings.Contains(model.ErrorMessage(err), msg) {
		t.Errorf("message %q does not repeat the field's %q", model.ErrorMessage(err), msg)
	}
}

func TestSaveHandler(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	if _, err := e.svc.SaveHandler(ctx, admin.CLI, 0, ndesInput("ndeschallenge", "ndeschallenge/")); err != nil {
		t.Fatalf("ok/ndes handler: %v", err)
	}
	scep := func(name, filter string) admin.HandlerInput {
		in := admin.NewHandlerInput()
		in.Name, in.Filter, in.TokenProcedureID = name, filter, e.pre.ID
		return in
	}
	tests := []struct {
		name  string
		in    admin.HandlerInput
		field string
		want  string
	}{
		{"fail/name too long", scep(strings.Repeat("n", 65), "x"), "name", "at most 64"},
		{"fail/name with space", scep("two words", "x"), "name", "letters, digits"},
		{"fail/empty name", scep("", "x"), "name", "Enter a name"},
		{"fail/filter two segments", scep("a", "one/two"), "filter", "one path segment"},
		{"fail/filter with query", scep("a", "x?y"), "filter", "not '?'"},
		{"fail/filter too long", scep("a", strings.Repeat("f", 65)), "filter", "at most 64"},
		{"fail/filter reserved", scep("a", "ca"), "filter", "taken by scepgate"},
		{"fail/filter taken", scep("a", "ndeschallenge"), "filter", "already serves"},
		{"fail/name taken", scep("NDESchallenge", "x"), "name", "already exists"},
		{"fail/no token procedure", func() admin.HandlerInput { in := scep("a", "x"); in.TokenProcedureID = 0; return in }(), "token_procedure", "Choose"},
		{"fail/unknown token procedure", func() admin.HandlerInput { in := scep("a", "x"); in.TokenProcedureID = 999; return in }(), "token_procedure", "no longer exists"},
		{"fail/bad format", func() admin.HandlerInput { in := scep("a", "x"); in.Format = "est"; return in }(), "format", "Choose the format"},
		{"fail/ndes password over bcrypt's 72 bytes", func() admin.HandlerInput {
			in := ndesInput("n2", "n2")
			in.NDESPassword = strings.Repeat("p", 73)
			return in
		}(), "ndes_password", "at most 72 bytes"},
		{"fail/ndes password short", func() admin.HandlerInput { in := ndesInput("n2", "n2"); in.NDESPassword = "short"; return in }(), "ndes_password", "at least 8"},
		{"fail/ndes user with colon", func() admin.HandlerInput { in := ndesInput("n2", "n2"); in.NDESUsername = "a:b"; return in }(), "ndes_username", "':'"},
		{"fail/ndes validity", func() admin.HandlerInput { in := ndesInput("n2", "n2"); in.NDESChallengeValidity = "15m"; return in }(), "ndes_challenge_validity", "ISO-8601"},
		{"fail/ndes validity too long", func() admin.HandlerInput { in := ndesInput("n2", "n2"); in.NDESChallengeValidity = "P90D"; return in }(), "ndes_challenge_validity", "PT1M to P30D"},
		{"fail/ndes length", func() admin.HandlerInput { in := ndesInput("n2", "n2"); in.NDESPasswordLength = 4; return in }(), "ndes_password_length", "from 8 to 64"},
		{"fail/ndes cap", func() admin.HandlerInput { in := ndesInput("n2", "n2"); in.NDESPasswordCap = 0; return in }(), "ndes_password_cap", "from 1 to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := e.svc.SaveHandler(ctx, admin.CLI, 0, tt.in)
			wantField(t, err, tt.field, tt.want)
		})
	}

	t.Run("ok/scep handler, then an update that keeps the NDES password", func(t *testing.T) {
		h, err := e.svc.SaveHandler(ctx, admin.CLI, 0, scep("request", "ndesrequest"))
		if err != nil {
			t.Fatal(err)
		}
		if h.ID == 0 || h.Path() != "/pgwy/scep/ndesrequest" {
			t.Errorf("got handler %d at %s; want a stored handler at /pgwy/scep/ndesrequest", h.ID, h.Path())
		}
		cfg, _ := e.db.LoadConfig(ctx)
		var nd *model.Handler
		for i := range cfg.Handlers {
			if cfg.Handlers[i].Name == "ndeschallenge" {
				nd = &cfg.Handlers[i]
			}
		}
		in := admin.HandlerInputOf(nd)
		in.NDESChallengeValidity = "PT60M"
		got, err := e.svc.SaveHandler(ctx, admin.CLI, nd.ID, in)
		if err != nil {
			t.Fatal(err)
		}
		if got.NDESPasswordHash != nd.NDESPasswordHash || got.NDESChallengeValidity != "PT60M" {
			t.Errorf("after update: hash kept %v, validity %q; want kept and PT60M", got.NDESPasswordHash == nd.NDESPasswordHash, got.NDESChallengeValidity)
		}
	})
}

func TestHandlerAccepts(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	in := admin.NewHandlerInput()
	in.Name, in.Filter, in.TokenProcedureID, in.AllowLegacyCiphers = "r", "r", e.ndes.ID, true
	h, err := e.svc.SaveHandler(ctx, admin.CLI, 0, in)
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ := e.db.LoadConfig(ctx)
	got := admin.HandlerAccepts(cfg, h)
	want := admin.Accepts{NDESPasswords: true, Renewals: true, LegacyCiphers: true, RenewalWindow: 30}
	if got != want {
		t.Errorf("got %+v; want %+v", got, want)
	}
}

func TestTokenProcedureRunsOneCertificateProcedure(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	in := admin.TokenProcedureInputOf(e.pre)
	in.CertificateProcedureIDs = append(in.CertificateProcedureIDs, e.ndes.CertificateProcedureIDs[0])
	_, err := e.svc.SaveTokenProcedure(ctx, admin.CLI, e.pre.ID, in)
	wantField(t, err, "certificate_procedures", "exactly one")
}

func TestCertificateProcedureFields(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	base := admin.NewCertificateProcedureInput()
	base.Name = "c"
	tests := []struct {
		name   string
		change func(*admin.CertificateProcedureInput)
		field  string
		want   string
	}{
		{"fail/name too long", func(in *admin.CertificateProcedureInput) { in.Name = strings.Repeat("x", 129) }, "name", "at most 128"},
		{"fail/name taken", func(in *admin.CertificateProcedureInput) { in.Name = "CERT scep" }, "name", "already exists"},
		{"fail/dns pattern with inner star", func(in *admin.CertificateProcedureInput) { in.DNSNamePatterns = "a.*.corp" }, "dns_name_patterns", "leading"},
		{"fail/dns pattern with space", func(in *admin.CertificateProcedureInput) { in.DNSNamePatterns = "*.corp.example, bad name" }, "dns_name_patterns", "DNS names do not use"},
		{"fail/dns label too long", func(in *admin.CertificateProcedureInput) { in.DNSNamePatterns = strings.Repeat("a", 64) + ".example" }, "dns_name_patterns", "63"},
		{"fail/template placeholder", func(in *admin.CertificateProcedureInput) { in.SubjectTemplate = "CN={serial}" }, "subject_template", "only use {cn}"},
		{"fail/template not a DN", func(in *admin.CertificateProcedureInput) { in.SubjectTemplate = "hello" }, "subject_template", "Enter a DN"},
		{"fail/template too long", func(in *admin.CertificateProcedureInput) { in.SubjectTemplate = "CN=" + strings.Repeat("x", 600) }, "subject_template", "at most 512"},
		{"fail/validity", func(in *admin.CertificateProcedureInput) { in.ValidityDays = 0 }, "validity_days", "from 1 to 3650"},
		{"fail/rsa", func(in *admin.CertificateProcedureInput) { in.MinRSABits = 512 }, "min_rsa_bits", "from 1024"},
		{"fail/curve", func(in *admin.CertificateProcedureInput) { in.AllowedCurves = []string{"P-192"} }, "allowed_curves", "P-256"},
		{"fail/fixed without usages", func(in *admin.CertificateProcedureInput) { in.KeyUsageMode, in.KeyUsages = model.KeyUsageFixed, nil }, "key_usages", "at least one"},
		{"fail/eku", func(in *admin.CertificateProcedureInput) { in.ExtKeyUsages = []string{"flying"} }, "ext_key_usages", "flying"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := base
			tt.change(&in)
			_, err := e.svc.SaveCertificateProcedure(ctx, admin.CLI, 0, in)
			wantField(t, err, tt.field, tt.want)
		})
	}
	t.Run("ok/patterns", func(t *testing.T) {
		in := base
		in.DNSNamePatterns = " *.corp.example , host-1.example "
		cp, err := e.svc.SaveCertificateProcedure(ctx, admin.CLI, 0, in)
		if err != nil {
			t.Fatal(err)
		}
		if cp.DNSNamePatterns != "*.corp.example,host-1.example" {
			t.Errorf("patterns stored as %q; want them trimmed", cp.DNSNamePatterns)
		}
	})
	t.Run("fail/format change under a token procedure", func(t *testing.T) {
		cp, err := e.db.FindCertificateProcedure(ctx, e.pre.CertificateProcedureIDs[0])
		if err != nil {
			t.Fatal(err)
		}
		in := admin.CertificateProcedureInputOf(cp)
		in.Format = string(model.FormatNDESDynamic)
		_, err = e.svc.SaveCertificateProcedure(ctx, admin.CLI, cp.ID, in)
		wantField(t, err, "format", "token scep")
	})
}

func TestAddPreRegistration(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	ok := admin.PreRegistrationInput{TokenProcedure: e.pre.Name, Password: "secret123", ValidFor: time.Hour}
	tests := []struct {
		name   string
		change func(*admin.PreRegistrationInput)
		field  string
		want   string
	}{
		{"fail/ndes-only token procedure", func(in *admin.PreRegistrationInput) { in.TokenProcedure = e.ndes.Name }, "token_procedure", "only takes NDES one-time passwords"},
		{"fail/unknown token procedure", func(in *admin.PreRegistrationInput) { in.TokenProcedure = "nope" }, "token_procedure", "no token procedure"},
		{"fail/cn over 64", func(in *admin.PreRegistrationInput) { in.SubjectCN = strings.Repeat("c", 65) }, "subject_cn", "at most 64"},
		{"fail/dns name", func(in *admin.PreRegistrationInput) { in.DNSName = "bad_name.example" }, "dns_name", "DNS names do not use"},
		{"fail/short password", func(in *admin.PreRegistrationInput) { in.Password = "short" }, "password", "at least 8"},
		{"fail/long password", func(in *admin.PreRegistrationInput) { in.Password = strings.Repeat("p", 256) }, "password", "at most 255"},
		{"fail/validity", func(in *admin.PreRegistrationInput) { in.ValidFor = 0 }, "valid_for", "24h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := ok
			tt.change(&in)
			_, err := e.svc.AddPreRegistration(ctx, admin.CLI, in)
			wantField(t, err, tt.field, tt.want)
		})
	}
	r, err := e.svc.AddPreRegistration(ctx, admin.CLI, ok)
	if err != nil {
		t.Fatalf("ok/pre-registration: %v", err)
	}
	if r.Kind != model.RegistrationPre || r.State != model.StateOpen || r.ChallengeHash == "" || strings.Contains(r.ChallengeHash, "secret123") {
		t.Errorf("got %+v; want an open pre-registration with a keyed hash", r)
	}
}

func TestUsers(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	_, err := e.svc.CreateUser(ctx, admin.CLI, admin.UserInput{Username: "bad name", Role: model.RoleHelpdesk, Password: strings.Repeat("p", 12)})
	wantField(t, err, "username", "letters, digits")
	_, err = e.svc.CreateUser(ctx, admin.CLI, admin.UserInput{Username: "h", Role: model.RoleHelpdesk, Password: strings.Repeat("p", 73)})
	wantField(t, err, "password", "at most 72")
	_, err = e.svc.CreateUser(ctx, admin.CLI, admin.UserInput{Username: "h", Role: "root", Password: strings.Repeat("p", 12)})
	wantField(t, err, "role", "Choose")
	u, err := e.svc.CreateUser(ctx, admin.CLI, admin.UserInput{Username: "anna@corp", Role: model.RoleAdmin, Password: strings.Repeat("p", 12)})
	if err != nil {
		t.Fatalf("ok/create: %v", err)
	}
	_, err = e.svc.CreateUser(ctx, admin.CLI, admin.UserInput{Username: "anna@corp", Role: model.RoleAdmin, Password: strings.Repeat("p", 12)})
	wantField(t, err, "username", "already a user named")
	yes := true
	err = e.svc.ChangeUser(ctx, admin.Actor{Name: "anna@corp", UserID: u.ID}, u.ID, admin.UserChange{Disabled: &yes})
	wantField(t, err, "", "your own account")
}

func TestNormalizeSerial(t *testing.T) {
	for in, want := range map[string]string{
		"04A603D7":           "4a603d7",
		"04:a6:03:d7":        "4a603d7",
		" 04 A6 03 D7 ":      "4a603d7",
		"0x4a603d7":          "4a603d7",
		"000":                "0",
		"7f3e2c1a9b8d6e5f40": "7f3e2c1a9b8d6e5f40",
	} {
		if got, err := admin.NormalizeSerial(in); err != nil || got != want {
			t.Errorf("ok/NormalizeSerial(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"", "xyz", strings.Repeat("a", 65)} {
		if _, err := admin.NormalizeSerial(in); err == nil {
			t.Errorf("fail/NormalizeSerial(%q) accepted; want a field error", in)
		}
	}
}

func TestSetAliases(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	if _, err := e.svc.SaveHandler(ctx, admin.CLI, 0, ndesInput("ndeschallenge", "ndeschallenge/")); err != nil {
		t.Fatal(err)
	}
	err := e.svc.SetAliases(ctx, admin.CLI, model.Aliases{MSCEP: "ndeschallenge"})
	wantField(t, err, "mscep", "needs a handler of format scep")
	err = e.svc.SetAliases(ctx, admin.CLI, model.Aliases{MSCEPAdmin: "missing"})
	wantField(t, err, "mscep_admin", "no handler named")
	if err := e.svc.SetAliases(ctx, admin.CLI, model.Aliases{MSCEPAdmin: "ndeschallenge"}); err != nil {
		t.Fatalf("ok/alias: %v", err)
	}
}

func TestCheckSetupPasswords(t *testing.T) {
	if err := admin.CheckSetupPasswords("admin-password-1", "ndespassword"); err != nil {
		t.Errorf("ok/good passwords: %v", err)
	}
	wantField(t, admin.CheckSetupPasswords("short", "ndespassword"), "admin_password", "SCEPGATE_ADMIN_PASSWORD has 5 characters")
	wantField(t, admin.CheckSetupPasswords("admin-password-1", strings.Repeat("n", 73)), "ndes_password", "SCEPGATE_NDES_PASSWORD has 73 bytes")
}
