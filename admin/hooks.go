package admin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"

	"github.com/scepgate/scepgate/model"
	"github.com/scepgate/scepgate/pki"
)

// MaxHookURL bounds a webhook's URL.
const MaxHookURL = 2048

// HooksInput sets a SCEP handler's webhooks; an empty URL removes that
// hook.
type HooksInput struct {
	ChallengeURL string // decides each enrollment's challenge
	EventURL     string // hears of certificates issued, renewed and revoked
	// NewSecrets makes new secrets for hooks that already have one.
	NewSecrets bool
}

// HookSecrets are the secrets just made, shown once; empty for a hook that
// kept its secret or has none.
type HookSecrets struct {
	Challenge, Event string
}

// SetHandlerHooks sets the webhooks of SCEP handler id. A hook gets a new
// secret when it is first set, or when in.NewSecrets; the secrets are
// returned this once and stored sealed under the master key.
func (s *Service) SetHandlerHooks(ctx context.Context, actor Actor, id int64, in HooksInput) (*HookSecrets, error) {
	h, err := s.store.FindHandler(ctx, id)
	if err != nil {
		return nil, err
	}
	var f fieldErrors
	in.ChallengeURL, in.EventURL = strings.TrimSpace(in.ChallengeURL), strings.TrimSpace(in.EventURL)
	checkHookURL(&f, "challenge_hook_url", in.ChallengeURL)
	checkHookURL(&f, "event_hook_url", in.EventURL)
	if h.Format != model.HandlerSCEP && (in.ChallengeURL != "" || in.EventURL != "") {
		f.add("challenge_hook_url", "Webhooks belong to SCEP request handlers (format scep); handler %q hands out NDES passwords.", h.Name)
	}
	if err := f.err(); err != nil {
		return nil, err
	}
	var out HookSecrets
	set := func(url string, secret *[]byte, shown *string) error {
		if url == "" {
			*secret = nil
			return nil
		}
		if len(*secret) > 0 && !in.NewSecrets {
			return nil
		}
		raw := make([]byte, 32)
		if _, err := rand.Read(raw); err != nil {
			return err
		}
		*shown = "whsec_" + hex.EncodeToString(raw)
		sealed, err := s.mk.Seal(pki.WebhookSecretPurpose, []byte(*shown))
		if err != nil {
			return err
		}
		*secret = sealed
		return nil
	}
	if err := set(in.ChallengeURL, &h.ChallengeHookSecret, &out.Challenge); err != nil {
		return nil, err
	}
	if err := set(in.EventURL, &h.EventHookSecret, &out.Event); err != nil {
		return nil, err
	}
	h.ChallengeHookURL, h.EventHookURL = in.ChallengeURL, in.EventURL
	detail := fmt.Sprintf("challenge hook %q, event hook %q", in.ChallengeURL, in.EventURL)
	if out.Challenge != "" || out.Event != "" {
		detail += "; new secrets"
	}
	if err := s.store.SaveHandlers(ctx, []model.Handler{*h}, actor.audit("handler.hooks", "handler "+h.Name, detail)); err != nil {
		return nil, err
	}
	s.changed()
	return &out, nil
}

// checkHookURL accepts an empty URL, or an absolute https URL of at most
// MaxHookURL characters without credentials in it.
func checkHookURL(f *fieldErrors, field, v string) {
	if v == "" {
		return
	}
	u, err := url.Parse(v)
	switch {
	case len(v) > MaxHookURL:
		f.add(field, "Use at most %d characters for the webhook's URL.", MaxHookURL)
	case err != nil || u.Host == "" || u.Scheme == "":
		f.add(field, "Enter the webhook's full URL, such as https://mdm.example.com/scep/hook.")
	case u.Scheme != "https":
		f.add(field, "Webhooks are called over HTTPS only: the calls carry challenges. Use an https:// URL.")
	case u.User != nil:
		f.add(field, "Remove the user name and password from the URL: the calls are signed with the hook's secret instead.")
	case u.Fragment != "":
		f.add(field, "Remove the #fragment from the URL.")
	}
}
