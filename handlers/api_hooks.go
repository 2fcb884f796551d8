package handlers

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"
	"github.com/scepgate/scepgate/admin"
)

type (
	hooksInput struct {
		Name string `path:"name" maxLength:"64" doc:"The SCEP request handler's name."`
		Body struct {
			ChallengeURL string `json:"challenge_url,omitempty" maxLength:"2048" doc:"HTTPS URL asked to allow each enrollment's challenge, instead of the registrations; empty removes the hook."`
			EventURL     string `json:"event_url,omitempty" maxLength:"2048" doc:"HTTPS URL told of certificates issued, renewed and revoked; empty removes the hook."`
			NewSecrets   bool   `json:"new_secrets,omitempty" doc:"Make new secrets for hooks that have one."`
		}
	}
	// HooksJSON are a handler's webhooks and the secrets just made.
	HooksJSON struct {
		ChallengeURL    string `json:"challenge_url"`
		EventURL        string `json:"event_url"`
		ChallengeSecret string `json:"challenge_secret,omitempty" doc:"The challenge hook's new secret, shown only this once."`
		EventSecret     string `json:"event_secret,omitempty" doc:"The event hook's new secret, shown only this once."`
	}
)

func (a *API) registerHooks(api huma.API) {
	register(a, api, huma.Operation{OperationID: "set-handler-hooks", Method: http.MethodPut, Path: "/handlers/{name}/hooks",
		Summary: "Set a SCEP handler's webhooks", Tags: []string{"Webhooks"},
		Description: "Each call is an HTTPS POST of JSON signed with the hook's secret: `X-Scepgate-Signature: sha256=HEX(HMAC-SHA256(secret, X-Scepgate-Timestamp + \".\" + body))`. " +
			"A challenge hook answers `{\"allow\": true}` (HTTP 2xx) to let an enrollment through; anything else refuses it.",
		Errors: []int{http.StatusNotFound}}, apiAdmins, a.setHooks)
}

func (a *API) setHooks(ctx context.Context, in *hooksInput) (*body[HooksJSON], error) {
	snap, err := a.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	h, err := handlerByName(snap, in.Name)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	s, err := a.Admin.SetHandlerHooks(ctx, apiActor(ctx), h.ID, admin.HooksInput{ChallengeURL: in.Body.ChallengeURL, EventURL: in.Body.EventURL, NewSecrets: in.Body.NewSecrets})
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	return &body[HooksJSON]{Body: HooksJSON{ChallengeURL: in.Body.ChallengeURL, EventURL: in.Body.EventURL, ChallengeSecret: s.Challenge, EventSecret: s.Event}}, nil
}
