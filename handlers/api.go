package handlers

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humaecho"
	"github.com/labstack/echo/v4"
	"github.com/scepgate/scepgate/admin"
	"github.com/scepgate/scepgate/enroll"
	"github.com/scepgate/scepgate/model"
)

// APIPrefix is where the JSON API lives.
const APIPrefix = "/api/v1"

// MaxAPIBody caps every request body of the JSON API.
const MaxAPIBody = 64 << 10

// APIAdmin is what the JSON API needs from the administrators' operations.
type APIAdmin interface {
	AuthenticateToken(ctx context.Context, secret string) (*model.Token, error)
	AddPreRegistration(ctx context.Context, actor admin.Actor, in admin.PreRegistrationInput) (*model.Registration, error)
	CancelRegistration(ctx context.Context, actor admin.Actor, id int64) error
	Approve(ctx context.Context, actor admin.Actor, id int64) (*model.Certificate, error)
	Reject(ctx context.Context, actor admin.Actor, id int64, reason string) error
	RevokeCertificate(ctx context.Context, actor admin.Actor, id int64, reason int) (*model.Certificate, error)
	SetHandlerHooks(ctx context.Context, actor admin.Actor, id int64, in admin.HooksInput) (*admin.HookSecrets, error)
}

// APIStore is what the JSON API reads from storage.
type APIStore interface {
	ListRegistrations(ctx context.Context, f model.RegistrationFilter, page, perPage int) ([]model.Registration, int64, error)
	FindRegistration(ctx context.Context, id int64) (*model.Registration, error)
	SearchCertificates(ctx context.Context, f model.CertificateFilter, page, perPage int) ([]model.Certificate, int64, error)
	FindCertificate(ctx context.Context, id int64) (*model.Certificate, error)
	AddAuditEvent(ctx context.Context, e *model.AuditEvent) error
}

// TokenLimiter counts wrong tokens per client address in the attempts
// every instance shares, with the NDES handlers' policy unless told
// otherwise: an address that keeps sending wrong tokens is slowed down
// and then refused.
type TokenLimiter struct {
	Store  AttemptStore
	Policy model.AttemptPolicy // model.DefaultNDESAttempts when zero
}

func (l *TokenLimiter) policy() model.AttemptPolicy {
	return l.Policy.OrDefault(model.DefaultNDESAttempts)
}

// API serves the JSON API under /api/v1 and its OpenAPI document at
// /api/v1/openapi.json. Callers authenticate with a bearer token
// (admin.CreateToken); each operation lets the roles of the portal page it
// mirrors through.
type API struct {
	Admin   APIAdmin
	Store   APIStore
	Service ChallengeIssuer
	Limiter *TokenLimiter
	Now     func() time.Time
	Log     *slog.Logger
	// Observer counts the NDES passwords handed out; nil counts nothing.
	Observer Observer

	huma huma.API
}

// APIVersion is the version of the API's OpenAPI document; it changes
// when the API changes.
const APIVersion = "1.0.0"

// APIError is the body of every error answer of the JSON API:
// {"error": {"code": ..., "message": ..., "fields": {...}}}.
type APIError struct {
	status int
	Err    APIErrorDetail `json:"error"`
}

// APIErrorDetail says what went wrong, in words safe to show.
type APIErrorDetail struct {
	Code    string            `json:"code" doc:"What kind of failure: invalid, unauthorized, forbidden, not_found, conflict, too_large, too_many_requests, password_cache_full, unavailable or internal." example:"invalid"`
	Message string            `json:"message" doc:"What went wrong and what to do, in sentences safe to show." example:"Enter a name."`
	Fields  map[string]string `json:"fields,omitempty" doc:"What is wrong with each input, by field name."`
}

// Error implements error.
func (e *APIError) Error() string { return e.Err.Message }

// GetStatus implements huma.StatusError.
func (e *APIError) GetStatus() int { return e.status }

func init() {
	// huma makes every error it answers (validation, body too large,
	// unknown content type) through NewError; ours have the API's shape.
	huma.NewError = newAPIError
	huma.NewErrorWithContext = func(_ huma.Context, status int, msg string, errs ...error) huma.StatusError {
		return newAPIError(status, msg, errs...)
	}
}

func newAPIError(status int, msg string, errs ...error) huma.StatusError {
	e := &APIError{status: status, Err: APIErrorDetail{Code: apiCode(status), Message: msg}}
	if status >= 500 {
		e.Err.Message = "Internal error."
	}
	var parts []string
	for _, err := range errs {
		var d *huma.ErrorDetail
		if !errors.As(err, &d) || status >= 500 {
			continue
		}
		field := d.Location
		for _, p := range []string{"body.", "path.", "query.", "header."} {
			field = strings.TrimPrefix(field, p)
		}
		if e.Err.Fields == nil {
			e.Err.Fields = map[string]string{}
		}
		if field == "" || field == "body" {
			field = "body"
		}
		e.Err.Fields[field] = d.Message
		parts = append(parts, field+": "+d.Message+".")
	}
	if len(parts) > 0 {
		e.Err.Message = "The request is not valid. " + strings.Join(parts, " ")
	}
	if status == http.StatusRequestEntityTooLarge {
		e.Err.Message = fmt.Sprintf("The request body is larger than %d KiB.", MaxAPIBody>>10)
	}
	return e
}

func apiCode(status int) string {
	switch status {
	case http.StatusBadRequest, http.StatusUnprocessableEntity, http.StatusUnsupportedMediaType:
		return model.EINVALID
	case http.StatusUnauthorized:
		return model.EUNAUTHORIZED
	case http.StatusForbidden:
		return model.EFORBIDDEN
	case http.StatusNotFound:
		return model.ENOTFOUND
	case http.StatusConflict:
		return model.ECONFLICT
	case http.StatusRequestEntityTooLarge:
		return "too_large"
	case http.StatusTooManyRequests:
		return "too_many_requests"
	case http.StatusServiceUnavailable:
		return "unavailable"
	case http.StatusMethodNotAllowed:
		return "method_not_allowed"
	}
	if status >= 500 {
		return model.EINTERNAL
	}
	return model.EINVALID
}

// APIErrorFor returns the answer the JSON API gives for err outside its
// operations (an unknown path, a method not allowed), for web's error
// handler.
func APIErrorFor(status int, msg string) *APIError {
	if status == http.StatusNotFound {
		msg = "There is nothing at this address. See " + APIPrefix + "/openapi.json for what the API offers."
	}
	return newAPIError(status, msg).(*APIError)
}

// apiStatus is the status of a model error code.
func apiStatus(code string) int {
	switch code {
	case model.EINVALID:
		return http.StatusUnprocessableEntity
	case model.ENOTFOUND:
		return http.StatusNotFound
	case model.ECONFLICT:
		return http.StatusConflict
	case model.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case model.EFORBIDDEN:
		return http.StatusForbidden
	}
	return http.StatusInternalServerError
}

// fail turns an error of the operations into the API's answer: a
// model.Error keeps its message and fields, anything else is logged and
// answered "Internal error.".
func (a *API) fail(ctx context.Context, err error) error {
	if errors.Is(err, enroll.ErrPasswordCacheFull) {
		return &APIError{status: http.StatusServiceUnavailable, Err: APIErrorDetail{Code: "password_cache_full", Message: model.ErrorMessage(err)}}
	}
	code := model.ErrorCode(err)
	status := apiStatus(code)
	if status >= 500 {
		LogFrom(ctx, a.Log).Error("api request failed", "err", err)
		return &APIError{status: status, Err: APIErrorDetail{Code: model.EINTERNAL, Message: "Internal error."}}
	}
	return &APIError{status: status, Err: APIErrorDetail{Code: code, Message: model.ErrorMessage(err), Fields: model.ErrorFields(err)}}
}

type apiTokenKey struct{}

// apiToken returns the token that authenticated the call of ctx.
func apiToken(ctx context.Context) *model.Token {
	t, _ := ctx.Value(apiTokenKey{}).(*model.Token)
	return t
}

// apiActor returns who performs the call of ctx, for the operations.
func apiActor(ctx context.Context) admin.Actor {
	a := admin.Actor{Name: "token:?"}
	if t := apiToken(ctx); t != nil {
		a.Name = t.Actor()
	}
	if ip, ok := ctx.Value(apiClientKey{}).(string); ok {
		a.ClientAddr = ip
	}
	return a
}

type apiClientKey struct{}

// bearerScheme names the security scheme in the OpenAPI document.
const bearerScheme = "bearer"

// auth returns middleware that lets through only calls with a usable token
// of one of roles, and records each call in the audit log.
func (a *API) auth(api huma.API, roles []string) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		ec := humaecho.Unwrap(ctx)
		client := ec.RealIP()
		rctx := ctx.Context()
		log := LogFrom(rctx, a.Log).With("client", client, "operation", ctx.Operation().OperationID)
		ctx.SetHeader("Cache-Control", "no-store")
		// A token is an HMAC to compare, not a bcrypt to pay for: the check
		// comes first and only a wrong token is counted, but a locked
		// address is refused before anything.
		if v, err := a.Limiter.Store.LookupAttempts(rctx, model.AttemptAPI, client); err != nil {
			log.Error("api attempts", "err", err)
			_ = huma.WriteErr(api, ctx, http.StatusInternalServerError, "Internal error.")
			return
		} else if v.Refused {
			log.Warn("api token refused: client locked out", "retry_after_s", seconds(v.RetryAfter))
			a.tooMany(api, ctx, v.RetryAfter)
			return
		}
		scheme, secret, _ := strings.Cut(ctx.Header("Authorization"), " ")
		if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(secret) == "" {
			// Not a failure: nobody guessed anything.
			a.unauthorized(api, ctx)
			return
		}
		tok, err := a.Admin.AuthenticateToken(rctx, strings.TrimSpace(secret))
		if model.ErrorCode(err) == model.EUNAUTHORIZED {
			v, err := a.Limiter.Store.CountAttempt(rctx, model.AttemptAPI, client, a.Limiter.policy())
			if err != nil {
				log.Error("api attempts", "err", err)
				_ = huma.WriteErr(api, ctx, http.StatusInternalServerError, "Internal error.")
				return
			}
			observer(a.Observer).AuthFailure(AuthAPI)
			log.Warn("api token refused")
			if v.Locks || v.Refused {
				observer(a.Observer).Lockout(AuthAPI)
				log.Warn("api client locked out after repeated failures", "retry_after_s", seconds(v.RetryAfter))
				a.tooMany(api, ctx, v.RetryAfter)
				return
			}
			if sleep(rctx, v.Delay) != nil {
				return // the client went away
			}
			a.unauthorized(api, ctx)
			return
		} else if err != nil {
			_ = huma.WriteErr(api, ctx, http.StatusInternalServerError, "", a.fail(rctx, err))
			return
		}
		if !slices.Contains(roles, tok.Role) {
			log.Warn("api call forbidden", "token", tok.Name, "role", tok.Role)
			_ = huma.WriteErr(api, ctx, http.StatusForbidden, fmt.Sprintf("The token's role (%s) may not do this; it needs one of: %s.", tok.Role, strings.Join(roles, ", ")))
			return
		}
		ctx = huma.WithValue(ctx, apiTokenKey{}, tok)
		ctx = huma.WithValue(ctx, apiClientKey{}, client)
		ctx = huma.WithValue(ctx, apiBaseURLKey{}, ec.Scheme()+"://"+ec.Request().Host)
		next(ctx)
		// Changes are audited by the operations themselves, as
		// token:NAME; reads are recorded here.
		if ctx.Method() == http.MethodGet {
			e := &model.AuditEvent{Actor: tok.Actor(), Action: "api.read", Target: ctx.URL().Path,
				Detail: "HTTP " + strconv.Itoa(ctx.Status()), ClientAddr: client}
			if err := a.Store.AddAuditEvent(context.WithoutCancel(rctx), e); err != nil {
				log.Error("audit api read", "err", err)
			}
		}
	}
}

func (a *API) unauthorized(api huma.API, ctx huma.Context) {
	ctx.SetHeader("WWW-Authenticate", `Bearer realm="scepgate"`)
	_ = huma.WriteErr(api, ctx, http.StatusUnauthorized, model.ErrorMessage(admin.ErrBadToken))
}

func (a *API) tooMany(api huma.API, ctx huma.Context, wait time.Duration) {
	ctx.SetHeader("Retry-After", strconv.Itoa(seconds(wait)))
	_ = huma.WriteErr(api, ctx, http.StatusTooManyRequests,
		fmt.Sprintf("Too many wrong tokens from this address. Try again in %s.", inMinutes(wait)))
}

// Register adds the API's operations and its OpenAPI document to e.
func (a *API) Register(e *echo.Echo) huma.API {
	if a.Now == nil {
		a.Now = time.Now
	}
	api := humaecho.New(e, APIConfig())
	a.operations(api)
	a.huma = api
	return api
}

// OpenAPI returns the API's OpenAPI document, once Register has run.
func (a *API) OpenAPI() *huma.OpenAPI { return a.huma.OpenAPI() }

// APIConfig is the huma configuration of the API: the OpenAPI document at
// /api/v1/openapi.json, a bearer security scheme, no docs page and no
// $schema links in answers.
func APIConfig() huma.Config {
	cfg := huma.DefaultConfig("scepgate API", APIVersion)
	cfg.CreateHooks = nil
	cfg.DocsPath = ""
	cfg.SchemasPath = ""
	cfg.OpenAPIPath = APIPrefix + "/openapi"
	cfg.Info.Description = "The JSON API of scepgate, for MDMs and automation. Authenticate with a bearer token made by `scepgate token create` or on the portal's Tokens page."
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		bearerScheme: {Type: "http", Scheme: "bearer", Description: "An API token, such as sgt_..., sent as \"Authorization: Bearer TOKEN\"."},
	}
	return cfg
}

// register adds one operation that roles may call.
func register[I, O any](a *API, api huma.API, op huma.Operation, roles []string, h func(context.Context, *I) (*O, error)) {
	op.Path = APIPrefix + op.Path
	op.Security = []map[string][]string{{bearerScheme: {}}}
	op.Middlewares = huma.Middlewares{a.auth(api, roles)}
	op.MaxBodyBytes = MaxAPIBody
	op.Errors = append(op.Errors, http.StatusUnauthorized, http.StatusForbidden, http.StatusTooManyRequests)
	if op.Method == http.MethodPost || op.Method == http.MethodPut {
		op.Errors = append(op.Errors, http.StatusRequestEntityTooLarge)
	}
	op.Description += fmt.Sprintf("\n\nRoles: %s.", strings.Join(roles, ", "))
	huma.Register(api, op, h)
}
