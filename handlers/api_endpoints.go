package handlers

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/scepgate/scepgate/admin"
	"github.com/scepgate/scepgate/enroll"
	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki"
)

// Role sets of the API, as on the portal's pages.
var (
	apiEveryone = []string{model.RoleAdmin, model.RoleHelpdesk, model.RoleAuditor}
	apiReaders  = []string{model.RoleAdmin, model.RoleAuditor}
	apiHelpers  = []string{model.RoleAdmin, model.RoleHelpdesk}
	apiAdmins   = []string{model.RoleAdmin}
)

// MaxAPIPerPage is the largest page of a list.
const MaxAPIPerPage = 200

// Paging is the page of a list to answer.
type Paging struct {
	Page    int `query:"page" minimum:"1" default:"1" doc:"The page, from 1."`
	PerPage int `query:"per_page" minimum:"1" maximum:"200" default:"50" doc:"How many items a page holds."`
}

func (p Paging) norm() (int, int) {
	return max(p.Page, 1), min(max(p.PerPage, 1), MaxAPIPerPage)
}

// Page is one page of a list.
type Page[T any] struct {
	Items   []T   `json:"items" nullable:"false"`
	Total   int64 `json:"total" doc:"How many items match in all."`
	Page    int   `json:"page"`
	PerPage int   `json:"per_page"`
}

// Challenge is a one-time password, shown once.
type ChallengeJSON struct {
	Challenge      string    `json:"challenge" doc:"The one-time challenge password; shown only this once." example:"0123456789ABCDEF"`
	ExpiresAt      time.Time `json:"expires_at"`
	CAThumbprint   string    `json:"ca_thumbprint" doc:"The CA certificate's MD5, as NDES prints it."`
	RegistrationID int64     `json:"registration_id"`
}

// RegistrationJSON is an enrollment registration.
type RegistrationJSON struct {
	ID               int64      `json:"id"`
	Kind             string     `json:"kind" enum:"preregistration,ndes"`
	State            string     `json:"state" enum:"open,used,expired,pending,rejected,cancelled"`
	TokenProcedureID *int64     `json:"token_procedure_id,omitempty"`
	HandlerID        *int64     `json:"handler_id,omitempty" doc:"For NDES passwords: the challenge handler that issued it."`
	SubjectCN        string     `json:"subject_cn,omitempty"`
	DNSName          string     `json:"dns_name,omitempty"`
	RequestedBy      string     `json:"requested_by"`
	ClientAddr       string     `json:"client_addr"`
	CreatedAt        time.Time  `json:"created_at"`
	ExpiresAt        time.Time  `json:"expires_at"`
	UsedAt           *time.Time `json:"used_at,omitempty"`
	CertificateID    *int64     `json:"certificate_id,omitempty"`
	TransactionID    string     `json:"transaction_id,omitempty"`
	LastFailure      string     `json:"last_failure,omitempty"`
}

func registrationJSON(r *model.Registration) RegistrationJSON {
	return RegistrationJSON{ID: r.ID, Kind: r.Kind, State: r.State, TokenProcedureID: r.TokenProcedureID, HandlerID: r.HandlerID,
		SubjectCN: r.SubjectCN, DNSName: r.DNSName, RequestedBy: r.RequestedBy, ClientAddr: r.ClientAddr,
		CreatedAt: r.CreatedAt.UTC(), ExpiresAt: r.ExpiresAt.UTC(), UsedAt: r.UsedAt, CertificateID: r.CertificateID,
		TransactionID: r.TransactionID, LastFailure: r.LastFailure}
}

// CertificateJSON is a certificate the CA issued.
type CertificateJSON struct {
	ID               int64      `json:"id"`
	Serial           string     `json:"serial" doc:"Lower-case hex without leading zeros."`
	Subject          string     `json:"subject"`
	DNSNames         []string   `json:"dns_names" nullable:"false"`
	NotBefore        time.Time  `json:"not_before"`
	NotAfter         time.Time  `json:"not_after"`
	State            string     `json:"state" enum:"active,revoked"`
	RevokedAt        *time.Time `json:"revoked_at,omitempty"`
	RevocationReason string     `json:"revocation_reason,omitempty"`
	HandlerID        *int64     `json:"handler_id,omitempty"`
	RegistrationID   *int64     `json:"registration_id,omitempty"`
	TransactionID    string     `json:"transaction_id,omitempty"`
	PEM              string     `json:"pem,omitempty" doc:"The certificate in PEM; only when one certificate is asked for."`
}

func certificateJSON(c *model.Certificate, withPEM bool) CertificateJSON {
	j := CertificateJSON{ID: c.ID, Serial: c.Serial, Subject: c.Subject, DNSNames: []string{}, NotBefore: c.NotBefore.UTC(), NotAfter: c.NotAfter.UTC(),
		State: c.State, RevokedAt: c.RevokedAt, HandlerID: c.HandlerID, RegistrationID: c.RegistrationID, TransactionID: c.TransactionID}
	if c.DNSNames != "" {
		j.DNSNames = strings.Split(c.DNSNames, ",")
	}
	if c.State == model.CertRevoked {
		for name, code := range model.RevocationReasons {
			if code == c.RevocationReason {
				j.RevocationReason = name
			}
		}
	}
	if withPEM {
		j.PEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.DER}))
	}
	return j
}

// HandlerJSON is a SCEP or NDES challenge handler.
type HandlerJSON struct {
	ID                    int64  `json:"id"`
	Name                  string `json:"name"`
	Format                string `json:"format" enum:"scep,scep-ndes"`
	Path                  string `json:"path" example:"/pgwy/scep/ndesrequest"`
	URL                   string `json:"url,omitempty" doc:"The full URL, when the server knows its public URL."`
	Enabled               bool   `json:"enabled"`
	TokenProcedureID      *int64 `json:"token_procedure_id,omitempty"`
	NDESChallengeValidity string `json:"ndes_challenge_validity,omitempty" example:"PT15M"`
	NDESPasswordLength    int    `json:"ndes_password_length,omitempty"`
	NDESPasswordCap       int    `json:"ndes_password_cap,omitempty"`
}

// HandlersJSON are the handlers.
type HandlersJSON struct {
	Items []HandlerJSON `json:"items" nullable:"false"`
}

// ProceduresJSON are the certificate and token procedures.
type ProceduresJSON struct {
	CertificateProcedures []CertificateProcedureJSON `json:"certificate_procedures" nullable:"false"`
	TokenProcedures       []TokenProcedureJSON       `json:"token_procedures" nullable:"false"`
}

// CertificateProcedureJSON is how one certificate is made.
type CertificateProcedureJSON struct {
	ID              int64  `json:"id"`
	Name            string `json:"name"`
	Format          string `json:"format" enum:"scep,scepndesdynamicenroll"`
	KeyUsageMode    string `json:"key_usage_mode" enum:"csr,fixed"`
	KeyUsages       string `json:"key_usages"`
	ExtKeyUsages    string `json:"ext_key_usages"`
	ValidityDays    int    `json:"validity_days"`
	MinRSABits      int    `json:"min_rsa_bits"`
	SubjectTemplate string `json:"subject_template"`
	DNSNamePatterns string `json:"dns_name_patterns"`
}

// TokenProcedureJSON is what an enrollment produces.
type TokenProcedureJSON struct {
	ID                      int64   `json:"id"`
	Name                    string  `json:"name"`
	RequireApproval         bool    `json:"require_approval"`
	CertificateProcedureIDs []int64 `json:"certificate_procedure_ids" nullable:"false"`
}

// CAJSON is the CA's certificate chain.
type CAJSON struct {
	PEM            string    `json:"pem" doc:"The CA certificate and the certificates above it, in PEM, the CA first."`
	SHA256         string    `json:"sha256" doc:"The CA certificate's SHA-256 fingerprint."`
	NDESThumbprint string    `json:"ndes_thumbprint" doc:"The CA certificate's MD5, as NDES prints it."`
	Subject        string    `json:"subject"`
	NotAfter       time.Time `json:"not_after"`
}

type (
	handlerPath struct {
		Name string `path:"name" maxLength:"64" doc:"The handler's name."`
	}
	idPath struct {
		ID int64 `path:"id" minimum:"1"`
	}
	registrationsQuery struct {
		Q       string    `query:"q" maxLength:"200" doc:"Text in the subject, DNS name, requester or client address."`
		State   string    `query:"state" enum:"open,used,expired,pending,rejected,cancelled"`
		Handler string    `query:"handler" maxLength:"64" doc:"Only the NDES passwords of this challenge handler, by name."`
		From    time.Time `query:"from" doc:"Created at or after this time (RFC 3339)."`
		To      time.Time `query:"to" doc:"Created before this time (RFC 3339)."`
		Paging
	}
	certificatesQuery struct {
		Q     string `query:"q" maxLength:"200" doc:"Text in the subject, SANs or serial."`
		State string `query:"state" enum:"active,revoked,expiring" doc:"expiring: active and ending within 30 days."`
		Paging
	}
	createRegistrationInput struct {
		Body struct {
			TokenProcedure string `json:"token_procedure" doc:"The token procedure the device enrolls under, by name."`
			Password       string `json:"password" doc:"The challenge password the device sends."`
			SubjectCN      string `json:"subject_cn,omitempty" doc:"When set, the CSR's common name must be this."`
			DNSName        string `json:"dns_name,omitempty" doc:"When set, the CSR must name this DNS name."`
			ValidFor       string `json:"valid_for,omitempty" doc:"How long the registration stays open, as a Go duration such as 168h (the default)."`
		}
	}
	rejectInput struct {
		ID   int64 `path:"id" minimum:"1"`
		Body struct {
			Reason string `json:"reason,omitempty" doc:"Why, for the audit log and the device's FAILURE."`
		}
	}
	revokeInput struct {
		ID   int64 `path:"id" minimum:"1"`
		Body struct {
			Reason string `json:"reason" enum:"unspecified,keyCompromise,cACompromise,affiliationChanged,superseded,cessationOfOperation,certificateHold,privilegeWithdrawn"`
		}
	}
	body[T any] struct {
		Body T
	}
)

// ExpiringWithin is how soon an active certificate must end to count as
// expiring.
const ExpiringWithin = 30 * 24 * time.Hour

func (a *API) operations(api huma.API) {
	register(a, api, huma.Operation{OperationID: "issue-challenge", Method: http.MethodPost, Path: "/handlers/{name}/challenges",
		Summary: "Get an NDES one-time challenge password", DefaultStatus: http.StatusCreated, Tags: []string{"NDES"},
		Description: "Hands out a one-time password from the NDES challenge handler `name` (format scep-ndes), recorded as an NDES registration, within the handler's cap of unused passwords (503 password_cache_full when reached).",
		Errors:      []int{http.StatusNotFound, http.StatusServiceUnavailable}},
		apiHelpers, a.issueChallenge)
	register(a, api, huma.Operation{OperationID: "list-handlers", Method: http.MethodGet, Path: "/handlers",
		Summary: "List handlers", Tags: []string{"Configuration"}}, apiReaders, a.listHandlers)
	register(a, api, huma.Operation{OperationID: "list-procedures", Method: http.MethodGet, Path: "/procedures",
		Summary: "List certificate and token procedures", Tags: []string{"Configuration"}}, apiReaders, a.listProcedures)
	register(a, api, huma.Operation{OperationID: "get-ca", Method: http.MethodGet, Path: "/ca",
		Summary: "Get the CA certificate chain", Tags: []string{"Configuration"}}, apiEveryone, a.getCA)

	register(a, api, huma.Operation{OperationID: "list-registrations", Method: http.MethodGet, Path: "/registrations",
		Summary: "List and search registrations", Tags: []string{"Registrations"}, Errors: []int{http.StatusNotFound}}, apiEveryone, a.listRegistrations)
	register(a, api, huma.Operation{OperationID: "get-registration", Method: http.MethodGet, Path: "/registrations/{id}",
		Summary: "Get a registration", Tags: []string{"Registrations"}, Errors: []int{http.StatusNotFound}}, apiEveryone, a.getRegistration)
	register(a, api, huma.Operation{OperationID: "create-registration", Method: http.MethodPost, Path: "/registrations",
		Summary: "Pre-register an enrollment", DefaultStatus: http.StatusCreated, Tags: []string{"Registrations"},
		Errors: []int{http.StatusConflict}}, apiAdmins, a.createRegistration)
	register(a, api, huma.Operation{OperationID: "cancel-registration", Method: http.MethodPost, Path: "/registrations/{id}/cancel",
		Summary: "Cancel an open registration", Tags: []string{"Registrations"}, Errors: []int{http.StatusNotFound, http.StatusConflict}}, apiAdmins, a.cancelRegistration)
	register(a, api, huma.Operation{OperationID: "approve-registration", Method: http.MethodPost, Path: "/registrations/{id}/approve",
		Summary: "Approve a pending enrollment", Description: "Issues the certificate; the device gets it at its next poll.",
		Tags: []string{"Registrations"}, Errors: []int{http.StatusNotFound, http.StatusConflict}}, apiAdmins, a.approveRegistration)
	register(a, api, huma.Operation{OperationID: "reject-registration", Method: http.MethodPost, Path: "/registrations/{id}/reject",
		Summary: "Reject a pending enrollment", Tags: []string{"Registrations"}, Errors: []int{http.StatusNotFound, http.StatusConflict}}, apiAdmins, a.rejectRegistration)

	register(a, api, huma.Operation{OperationID: "list-certificates", Method: http.MethodGet, Path: "/certificates",
		Summary: "List and search certificates", Tags: []string{"Certificates"}}, apiReaders, a.listCertificates)
	register(a, api, huma.Operation{OperationID: "get-certificate", Method: http.MethodGet, Path: "/certificates/{id}",
		Summary: "Get a certificate, with its PEM", Tags: []string{"Certificates"}, Errors: []int{http.StatusNotFound}}, apiReaders, a.getCertificate)
	register(a, api, huma.Operation{OperationID: "revoke-certificate", Method: http.MethodPost, Path: "/certificates/{id}/revoke",
		Summary: "Revoke a certificate", Description: "Revokes for an RFC 5280 reason and signs a new CRL at once.",
		Tags: []string{"Certificates"}, Errors: []int{http.StatusNotFound, http.StatusConflict}}, apiAdmins, a.revokeCertificate)
	a.registerMobileconfig(api)
	a.registerHooks(api)
}

func (a *API) snapshot(ctx context.Context) (*enroll.Snapshot, error) {
	snap, err := a.Service.Snapshot(ctx)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	return snap, nil
}

func handlerByName(snap *enroll.Snapshot, name string) (*model.Handler, error) {
	for i := range snap.Config.Handlers {
		if h := &snap.Config.Handlers[i]; h.Name == name {
			return h, nil
		}
	}
	return nil, model.Errorf(model.ENOTFOUND, "There is no handler named %q. GET %s/handlers lists them.", name, APIPrefix)
}

func (a *API) issueChallenge(ctx context.Context, in *handlerPath) (*body[ChallengeJSON], error) {
	snap, err := a.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	h, err := handlerByName(snap, in.Name)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	actor := apiActor(ctx)
	ch, err := a.Service.IssueChallenge(ctx, snap, enroll.ChallengeRequest{Handler: h, RequestedBy: actor.Name, ClientAddr: actor.ClientAddr})
	if err != nil {
		if err == enroll.ErrPasswordCacheFull {
			observer(a.Observer).NDESCacheFull(h.Name)
		}
		return nil, a.fail(ctx, err)
	}
	observer(a.Observer).NDESIssued(h.Name)
	return &body[ChallengeJSON]{Body: ChallengeJSON{Challenge: ch.Password, ExpiresAt: ch.ExpiresAt.UTC(), CAThumbprint: ch.CAThumbprint, RegistrationID: ch.Registration.ID}}, nil
}

func (a *API) listHandlers(ctx context.Context, _ *struct{}) (*body[HandlersJSON], error) {
	snap, err := a.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	out := []HandlerJSON{}
	for _, h := range snap.Config.Handlers {
		j := HandlerJSON{ID: h.ID, Name: h.Name, Format: h.Format, Path: h.Path(), Enabled: h.Enabled, TokenProcedureID: h.TokenProcedureID}
		if snap.Config.PublicURL != "" {
			j.URL = strings.TrimRight(snap.Config.PublicURL, "/") + h.Path()
		}
		if h.Format == model.HandlerNDES {
			j.NDESChallengeValidity, j.NDESPasswordLength, j.NDESPasswordCap = h.NDESChallengeValidity, h.NDESLength(), h.NDESCap()
		}
		out = append(out, j)
	}
	return &body[HandlersJSON]{Body: HandlersJSON{Items: out}}, nil
}

func (a *API) listProcedures(ctx context.Context, _ *struct{}) (*body[ProceduresJSON], error) {
	snap, err := a.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	out := ProceduresJSON{CertificateProcedures: []CertificateProcedureJSON{}, TokenProcedures: []TokenProcedureJSON{}}
	for _, cp := range snap.Config.CertificateProcedures {
		out.CertificateProcedures = append(out.CertificateProcedures, CertificateProcedureJSON{ID: cp.ID, Name: cp.Name, Format: string(cp.Format),
			KeyUsageMode: cp.KeyUsageMode, KeyUsages: cp.KeyUsages, ExtKeyUsages: cp.ExtKeyUsages, ValidityDays: cp.ValidityDays,
			MinRSABits: cp.MinRSABits, SubjectTemplate: cp.SubjectTemplate, DNSNamePatterns: cp.DNSNamePatterns})
	}
	for _, tp := range snap.Config.TokenProcedures {
		ids := append([]int64{}, tp.CertificateProcedureIDs...)
		out.TokenProcedures = append(out.TokenProcedures, TokenProcedureJSON{ID: tp.ID, Name: tp.Name, RequireApproval: tp.RequireApproval, CertificateProcedureIDs: ids})
	}
	return &body[ProceduresJSON]{Body: out}, nil
}

func (a *API) getCA(ctx context.Context, _ *struct{}) (*body[CAJSON], error) {
	snap, err := a.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	ca := snap.Authority.CA
	var b strings.Builder
	for _, c := range append([]*x509.Certificate{ca}, snap.Authority.Chain...) {
		b.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
	}
	return &body[CAJSON]{Body: CAJSON{PEM: b.String(), SHA256: pki.SHA256Fingerprint(ca), NDESThumbprint: pki.NDESThumbprint(ca),
		Subject: ca.Subject.String(), NotAfter: ca.NotAfter.UTC()}}, nil
}

func (a *API) listRegistrations(ctx context.Context, in *registrationsQuery) (*body[Page[RegistrationJSON]], error) {
	f := model.RegistrationFilter{Query: in.Q, State: in.State, From: in.From, To: in.To}
	if in.Handler != "" {
		snap, err := a.snapshot(ctx)
		if err != nil {
			return nil, err
		}
		h, err := handlerByName(snap, in.Handler)
		if err != nil {
			return nil, a.fail(ctx, err)
		}
		f.HandlerID = h.ID
	}
	page, per := in.norm()
	regs, total, err := a.Store.ListRegistrations(ctx, f, page, per)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	out := Page[RegistrationJSON]{Items: []RegistrationJSON{}, Total: total, Page: page, PerPage: per}
	for i := range regs {
		out.Items = append(out.Items, registrationJSON(&regs[i]))
	}
	return &body[Page[RegistrationJSON]]{Body: out}, nil
}

func (a *API) getRegistration(ctx context.Context, in *idPath) (*body[RegistrationJSON], error) {
	r, err := a.Store.FindRegistration(ctx, in.ID)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	return &body[RegistrationJSON]{Body: registrationJSON(r)}, nil
}

func (a *API) createRegistration(ctx context.Context, in *createRegistrationInput) (*body[RegistrationJSON], error) {
	validFor := admin.DefaultPreRegistrationValidity
	if v := strings.TrimSpace(in.Body.ValidFor); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			d = -1 // admin says what to enter
		}
		validFor = d
	}
	r, err := a.Admin.AddPreRegistration(ctx, apiActor(ctx), admin.PreRegistrationInput{TokenProcedure: in.Body.TokenProcedure,
		Password: in.Body.Password, SubjectCN: in.Body.SubjectCN, DNSName: in.Body.DNSName, ValidFor: validFor})
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	return &body[RegistrationJSON]{Body: registrationJSON(r)}, nil
}

func (a *API) cancelRegistration(ctx context.Context, in *idPath) (*body[RegistrationJSON], error) {
	if err := a.Admin.CancelRegistration(ctx, apiActor(ctx), in.ID); err != nil {
		return nil, a.fail(ctx, err)
	}
	return a.getRegistration(ctx, in)
}

func (a *API) approveRegistration(ctx context.Context, in *idPath) (*body[CertificateJSON], error) {
	c, err := a.Admin.Approve(ctx, apiActor(ctx), in.ID)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	return &body[CertificateJSON]{Body: certificateJSON(c, true)}, nil
}

func (a *API) rejectRegistration(ctx context.Context, in *rejectInput) (*body[RegistrationJSON], error) {
	if err := a.Admin.Reject(ctx, apiActor(ctx), in.ID, in.Body.Reason); err != nil {
		return nil, a.fail(ctx, err)
	}
	return a.getRegistration(ctx, &idPath{ID: in.ID})
}

func (a *API) listCertificates(ctx context.Context, in *certificatesQuery) (*body[Page[CertificateJSON]], error) {
	now := a.Now()
	page, per := in.norm()
	certs, total, err := a.Store.SearchCertificates(ctx, model.CertificateFilter{Query: in.Q, State: in.State, Now: now, ExpiringBefore: now.Add(ExpiringWithin)}, page, per)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	out := Page[CertificateJSON]{Items: []CertificateJSON{}, Total: total, Page: page, PerPage: per}
	for i := range certs {
		out.Items = append(out.Items, certificateJSON(&certs[i], false))
	}
	return &body[Page[CertificateJSON]]{Body: out}, nil
}

func (a *API) getCertificate(ctx context.Context, in *idPath) (*body[CertificateJSON], error) {
	c, err := a.Store.FindCertificate(ctx, in.ID)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	return &body[CertificateJSON]{Body: certificateJSON(c, true)}, nil
}

func (a *API) revokeCertificate(ctx context.Context, in *revokeInput) (*body[CertificateJSON], error) {
	reason, err := model.ParseRevocationReason(in.Body.Reason)
	if err != nil {
		return nil, a.fail(ctx, &model.Error{Code: model.EINVALID, Message: model.ErrorMessage(err), Fields: map[string]string{"reason": model.ErrorMessage(err)}})
	}
	c, err := a.Admin.RevokeCertificate(ctx, apiActor(ctx), in.ID, reason)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	return &body[CertificateJSON]{Body: certificateJSON(c, true)}, nil
}
