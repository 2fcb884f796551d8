package admin

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki"
)

// CertificateProcedureInput is what an administrator sets on a
// certificate procedure.
type CertificateProcedureInput struct {
	Name             string
	Format           string // scep or scepndesdynamicenroll
	KeyUsageMode     string // model.KeyUsageFromCSR or model.KeyUsageFixed
	KeyUsages        []string
	ExtKeyUsages     []string
	ValidityDays     int
	MinRSABits       int
	AllowedCurves    []string
	SubjectTemplate  string // such as CN={cn},O=Company
	DNSNamePatterns  string // comma separated, such as *.corp.example
	OneKeyPerSubject bool
}

// NewCertificateProcedureInput is what a new certificate procedure starts with.
func NewCertificateProcedureInput() CertificateProcedureInput {
	return CertificateProcedureInput{Format: string(model.FormatSCEP), KeyUsageMode: model.KeyUsageFromCSR,
		KeyUsages: []string{"digitalSignature", "keyEncipherment"}, ExtKeyUsages: []string{"clientAuth"},
		ValidityDays: 365, MinRSABits: 2048, AllowedCurves: []string{"P-256", "P-384", "P-521"}}
}

// CertificateProcedureInputOf returns the settings of cp as input.
func CertificateProcedureInputOf(cp *model.CertificateProcedure) CertificateProcedureInput {
	return CertificateProcedureInput{Name: cp.Name, Format: string(cp.Format), KeyUsageMode: cp.KeyUsageMode,
		KeyUsages: splitList(cp.KeyUsages), ExtKeyUsages: splitList(cp.ExtKeyUsages), ValidityDays: cp.ValidityDays,
		MinRSABits: cp.MinRSABits, AllowedCurves: splitList(cp.AllowedCurves), SubjectTemplate: cp.SubjectTemplate,
		DNSNamePatterns: cp.DNSNamePatterns, OneKeyPerSubject: cp.OneKeyPerSubject}
}

var curves = []string{"P-256", "P-384", "P-521"}

// placeholder finds {...} in a subject template.
var placeholder = regexp.MustCompile(`\{[^}]*\}`)

func checkCertificateProcedure(in CertificateProcedureInput, cfg *model.Config, id int64, f *fieldErrors) *model.CertificateProcedure {
	cp := &model.CertificateProcedure{ID: id, Name: in.Name, Format: model.CertificateFormat(in.Format), KeyUsageMode: in.KeyUsageMode,
		KeyUsages: strings.Join(in.KeyUsages, ","), ExtKeyUsages: strings.Join(in.ExtKeyUsages, ","), ValidityDays: in.ValidityDays,
		MinRSABits: in.MinRSABits, AllowedCurves: strings.Join(in.AllowedCurves, ","), SubjectTemplate: strings.TrimSpace(in.SubjectTemplate),
		DNSNamePatterns: normalizeList(in.DNSNamePatterns), OneKeyPerSubject: in.OneKeyPerSubject}
	checkName(f, "name", cp.Name, MaxProcedureName)
	for _, o := range cfg.CertificateProcedures {
		if o.ID != id && !f.has("name") && strings.EqualFold(o.Name, cp.Name) {
			f.add("name", "A certificate procedure named %q already exists. Choose another name.", o.Name)
		}
	}
	if !cp.Format.Valid() {
		f.add("format", "Choose scep (authorised by pre-registrations) or scepndesdynamicenroll (authorised by NDES passwords).")
	}
	if cp.KeyUsageMode != model.KeyUsageFromCSR && cp.KeyUsageMode != model.KeyUsageFixed {
		f.add("key_usage_mode", "Choose how the key usage is set: from the CSR (\"no key usage\") or fixed.")
	}
	if _, err := pki.ParseKeyUsages(cp.KeyUsages); err != nil {
		f.add("key_usages", "%s", model.ErrorMessage(err))
	} else if cp.KeyUsageMode == model.KeyUsageFixed && cp.KeyUsages == "" {
		f.add("key_usages", "A fixed key usage needs at least one key usage.")
	}
	if _, err := pki.ParseExtKeyUsages(cp.ExtKeyUsages); err != nil {
		f.add("ext_key_usages", "%s", model.ErrorMessage(err))
	}
	if cp.ValidityDays < MinValidityDays || cp.ValidityDays > MaxValidityDays {
		f.add("validity_days", "Enter a number of days from %d to %d.", MinValidityDays, MaxValidityDays)
	}
	if cp.MinRSABits < MinRSABits || cp.MinRSABits > MaxRSABits {
		f.add("min_rsa_bits", "Enter a key size from %d to %d bits, such as 2048.", MinRSABits, MaxRSABits)
	}
	for _, c := range in.AllowedCurves {
		if !slices.Contains(curves, c) {
			f.add("allowed_curves", "Choose among P-256, P-384 and P-521.")
		}
	}
	switch t := cp.SubjectTemplate; {
	case t == "":
	case len(t) > MaxSubjectTemplate:
		f.add("subject_template", "Use at most %d characters for the subject template.", MaxSubjectTemplate)
	default:
		for _, ph := range placeholder.FindAllString(t, -1) {
			if ph != "{cn}" {
				f.add("subject_template", "The subject template can only use {cn} (the CSR's common name), not %s.", ph)
			}
		}
		if !f.has("subject_template") {
			if _, err := pki.ParseDN(strings.ReplaceAll(t, "{cn}", "cn")); err != nil {
				f.add("subject_template", "Enter a DN such as CN={cn},O=Company: %s", model.ErrorMessage(err))
			}
		}
	}
	patterns := splitList(cp.DNSNamePatterns)
	if len(patterns) > MaxDNSPatterns {
		f.add("dns_name_patterns", "Give at most %d DNS name patterns.", MaxDNSPatterns)
	}
	for _, p := range patterns {
		if msg := checkDNSName(p, true); msg != "" {
			f.add("dns_name_patterns", "The DNS name pattern %q %s. Write DNS names such as host.corp.example, with at most a leading *.", p, msg)
		}
	}
	return cp
}

// SaveCertificateProcedure creates a certificate procedure (id 0) or
// changes procedure id to in.
func (s *Service) SaveCertificateProcedure(ctx context.Context, actor Actor, id int64, in CertificateProcedureInput) (*model.CertificateProcedure, error) {
	cfg, err := s.store.LoadConfig(ctx)
	if err != nil {
		return nil, err
	}
	base := &model.CertificateProcedure{}
	if id != 0 {
		if base, err = s.store.FindCertificateProcedure(ctx, id); err != nil {
			return nil, err
		}
	}
	var f fieldErrors
	cp := checkCertificateProcedure(in, cfg, id, &f)
	if id != 0 && cp.Format != base.Format && !f.has("format") {
		// Changing what authorises enrollments must not strand what waits.
		for _, tp := range cfg.TokenProcedures {
			if slices.Contains(tp.CertificateProcedureIDs, id) {
				f.add("format", "Token procedure %q runs this procedure, and its handlers and registrations rely on the format %s. Make a new certificate procedure instead.", tp.Name, base.Format)
				break
			}
		}
	}
	if err := f.err(); err != nil {
		return nil, err
	}
	cp.CreatedAt = base.CreatedAt
	action := "certificate_procedure.create"
	if id != 0 {
		action = "certificate_procedure.update"
	}
	detail := fmt.Sprintf("format %s, key usage %s (%s), extended key usage %s, %d days, RSA >= %d",
		cp.Format, cp.KeyUsageMode, cp.KeyUsages, cp.ExtKeyUsages, cp.ValidityDays, cp.MinRSABits)
	if err := s.store.SaveCertificateProcedure(ctx, cp, actor.audit(action, "certificate procedure "+quote(cp.Name), detail)); err != nil {
		return nil, conflictOn(err, "name")
	}
	s.changed()
	return cp, nil
}

// DeleteCertificateProcedure deletes certificate procedure id, unless a
// token procedure runs it or certificates were issued under it.
func (s *Service) DeleteCertificateProcedure(ctx context.Context, actor Actor, id int64) error {
	cp, err := s.store.FindCertificateProcedure(ctx, id)
	if err != nil {
		return err
	}
	if err := s.store.DeleteCertificateProcedure(ctx, id, actor.audit("certificate_procedure.delete", "certificate procedure "+quote(cp.Name), "")); err != nil {
		return err
	}
	s.changed()
	return nil
}

// TokenProcedureInput is what an administrator sets on a token procedure.
type TokenProcedureInput struct {
	Name               string
	StorageProfile     string
	IssuerCertificates string
	InputView          int
	RequireApproval    bool
	RenewalWindowDays  int
	SupersedeOnRenewal bool
	// CertificateProcedureIDs names the certificate procedure it runs.
	// scepgate issues one certificate per enrollment, so it takes exactly
	// one; the list is the reference's shape.
	CertificateProcedureIDs []int64
}

// NewTokenProcedureInput is what a new token procedure starts with.
func NewTokenProcedureInput() TokenProcedureInput {
	return TokenProcedureInput{StorageProfile: model.StorageProfilePKCS10, IssuerCertificates: model.IssuerCertsStoreAll,
		InputView: model.InputViewSCEPRegistrations, RenewalWindowDays: 30, SupersedeOnRenewal: true}
}

// TokenProcedureInputOf returns the settings of tp as input.
func TokenProcedureInputOf(tp *model.TokenProcedure) TokenProcedureInput {
	return TokenProcedureInput{Name: tp.Name, StorageProfile: tp.StorageProfile, IssuerCertificates: tp.IssuerCertificates,
		InputView: tp.InputView, RequireApproval: tp.RequireApproval, RenewalWindowDays: tp.RenewalWindowDays,
		SupersedeOnRenewal: tp.SupersedeOnRenewal, CertificateProcedureIDs: slices.Clone(tp.CertificateProcedureIDs)}
}

func checkTokenProcedure(in TokenProcedureInput, cfg *model.Config, id int64, f *fieldErrors) *model.TokenProcedure {
	tp := &model.TokenProcedure{ID: id, Name: in.Name, StorageProfile: in.StorageProfile, IssuerCertificates: in.IssuerCertificates,
		InputView: in.InputView, RequireApproval: in.RequireApproval, RenewalWindowDays: in.RenewalWindowDays,
		SupersedeOnRenewal: in.SupersedeOnRenewal}
	checkName(f, "name", tp.Name, MaxProcedureName)
	for _, o := range cfg.TokenProcedures {
		if o.ID != id && !f.has("name") && strings.EqualFold(o.Name, tp.Name) {
			f.add("name", "A token procedure named %q already exists. Choose another name.", o.Name)
		}
	}
	if tp.StorageProfile != model.StorageProfilePKCS10 {
		f.add("storage_profile", "Choose PKCS10: the device keeps its key and sends a CSR.")
	}
	if tp.IssuerCertificates != model.IssuerCertsStoreAll && tp.IssuerCertificates != model.IssuerCertsNone {
		f.add("issuer_certificates", "Choose Store all or None.")
	}
	if tp.InputView < 0 || tp.InputView > MaxInputView {
		f.add("input_view", "Enter the number of the input view, such as 16.")
	}
	if tp.RenewalWindowDays < 0 || tp.RenewalWindowDays > MaxRenewalWindowDays {
		f.add("renewal_window_days", "Enter a number of days from 0 to %d, such as 30.", MaxRenewalWindowDays)
	}
	var ids []int64
	for _, cpID := range in.CertificateProcedureIDs {
		if !slices.Contains(ids, cpID) {
			ids = append(ids, cpID)
		}
	}
	switch {
	case len(ids) == 0:
		f.add("certificate_procedures", "Choose the certificate procedure this token procedure runs.")
	case len(ids) > 1:
		f.add("certificate_procedures", "Choose one certificate procedure: a SCEP enrollment gets one certificate, so a token procedure runs exactly one.")
	default:
		cp := certificateProcedureByID(cfg, ids[0])
		if cp == nil {
			f.add("certificate_procedures", "The chosen certificate procedure no longer exists. Reload the page and choose again.")
		}
	}
	tp.CertificateProcedureIDs = ids
	return tp
}

// SaveTokenProcedure creates a token procedure (id 0) or changes
// procedure id to in.
func (s *Service) SaveTokenProcedure(ctx context.Context, actor Actor, id int64, in TokenProcedureInput) (*model.TokenProcedure, error) {
	cfg, err := s.store.LoadConfig(ctx)
	if err != nil {
		return nil, err
	}
	base := &model.TokenProcedure{}
	if id != 0 {
		if base, err = s.store.FindTokenProcedure(ctx, id); err != nil {
			return nil, err
		}
	}
	var f fieldErrors
	tp := checkTokenProcedure(in, cfg, id, &f)
	if err := f.err(); err != nil {
		return nil, err
	}
	tp.CreatedAt = base.CreatedAt
	action := "token_procedure.create"
	if id != 0 {
		action = "token_procedure.update"
	}
	var names []string
	for _, cpID := range tp.CertificateProcedureIDs {
		names = append(names, quote(certificateProcedureByID(cfg, cpID).Name))
	}
	detail := fmt.Sprintf("storage %s, issuer certificates %s, certificate procedure %s, input view %d, approval %t, renewal window %d days",
		tp.StorageProfile, tp.IssuerCertificates, strings.Join(names, ", "), tp.InputView, tp.RequireApproval, tp.RenewalWindowDays)
	if err := s.store.SaveTokenProcedure(ctx, tp, actor.audit(action, "token procedure "+quote(tp.Name), detail)); err != nil {
		if model.ErrorCode(err) == model.EINVALID && model.ErrorFields(err) == nil {
			return nil, fieldError(model.EINVALID, "certificate_procedures", "%s", model.ErrorMessage(err))
		}
		return nil, conflictOn(err, "name")
	}
	s.changed()
	return tp, nil
}

// DeleteTokenProcedure deletes token procedure id, unless a handler runs
// it or registrations refer to it.
func (s *Service) DeleteTokenProcedure(ctx context.Context, actor Actor, id int64) error {
	tp, err := s.store.FindTokenProcedure(ctx, id)
	if err != nil {
		return err
	}
	if err := s.store.DeleteTokenProcedure(ctx, id, actor.audit("token_procedure.delete", "token procedure "+quote(tp.Name), "")); err != nil {
		return err
	}
	s.changed()
	return nil
}

// splitList returns the trimmed, non-empty items of a comma-separated list.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func normalizeList(s string) string { return strings.Join(splitList(s), ",") }

func quote(s string) string { return fmt.Sprintf("%q", s) }
