package handlers

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"
	"github.com/labstack/echo/v4"
	"github.com/scepgate/scepgate/enroll"
	"github.com/scepgate/scepgate/model"
	"github.com/smallstep/pkcs7"
	"howett.net/plist"
)

// MobileconfigType is the media type of Apple configuration profiles.
const MobileconfigType = "application/x-apple-aspen-config"

// Apple's SCEP payload: Key Usage bits.
const (
	appleKeyUsageSigning    = 1
	appleKeyUsageEncryption = 4
)

// ProfileRequest asks for an Apple configuration profile that enrolls a
// device at a SCEP handler.
type ProfileRequest struct {
	Handler *model.Handler // a SCEP request handler (format scep)
	// Subject is the certificate's subject, as CN=...,O=...; MDMs replace
	// their variables (such as $SERIALNUMBER) in the profile's text.
	Subject string
	// BaseURL is the server's URL when the configuration names none.
	BaseURL string
	// Sign signs the profile (CMS SignedData) with the RA certificate.
	Sign bool
	// RequestedBy and ClientAddr say who asked, for the one-time password
	// an NDES request handler's profile carries.
	RequestedBy, ClientAddr string
}

// Profiles makes Apple configuration profiles (.mobileconfig) with a SCEP
// payload and the CA certificate, for the API and the portal.
type Profiles struct {
	Service ChallengeIssuer
	Rand    io.Reader // for payload UUIDs; crypto/rand when nil
}

// Make returns the profile req asks for. For an NDES request handler (its
// certificate procedure has format scepndesdynamicenroll) the profile
// carries a fresh one-time password from the first enabled NDES challenge
// handler, counted against that handler's cap like any other.
func (p *Profiles) Make(ctx context.Context, snap *enroll.Snapshot, req ProfileRequest) ([]byte, error) {
	h := req.Handler
	if h.Format != model.HandlerSCEP {
		return nil, model.Errorf(model.EINVALID, "Handler %q hands out challenge passwords; profiles are made for SCEP request handlers (format scep).", h.Name)
	}
	_, cp, err := snap.Procedures(h)
	if err != nil {
		return nil, err
	}
	subject, err := profileSubject(req.Subject)
	if err != nil {
		return nil, err
	}
	base := strings.TrimRight(snap.Config.PublicURL, "/")
	if base == "" {
		base = strings.TrimRight(req.BaseURL, "/")
	}
	content := map[string]any{
		"URL":        base + h.Path(),
		"Name":       h.Name,
		"Subject":    subject,
		"Keysize":    max(2048, cp.MinRSABits),
		"Key Type":   "RSA",
		"Key Usage":  appleKeyUsage(cp),
		"Retries":    3,
		"RetryDelay": 10,
		"CAFingerprint": func() []byte {
			// Apple takes the CA certificate's digest as data; SHA-256 is
			// the strongest it documents.
			sum := sha256.Sum256(snap.Authority.CA.Raw)
			return sum[:]
		}(),
	}
	if cp.Format == model.FormatNDESDynamic {
		var ndes *model.Handler
		for i := range snap.Config.Handlers {
			if c := &snap.Config.Handlers[i]; c.Format == model.HandlerNDES && c.Enabled {
				ndes = c
				break
			}
		}
		if ndes == nil {
			return nil, model.Errorf(model.EINVALID, "Handler %q takes NDES one-time passwords, but no NDES challenge handler is enabled to hand one out. Enable one first.", h.Name)
		}
		ch, err := p.Service.IssueChallenge(ctx, snap, enroll.ChallengeRequest{Handler: ndes, RequestedBy: req.RequestedBy, ClientAddr: req.ClientAddr})
		if err != nil {
			return nil, err
		}
		content["Challenge"] = ch.Password
	}
	id := "scepgate." + h.Name
	uuid := func() string { return p.uuid() }
	payloads := []map[string]any{{
		"PayloadType": "com.apple.security.scep", "PayloadVersion": 1, "PayloadIdentifier": id + ".scep", "PayloadUUID": uuid(),
		"PayloadDisplayName": "SCEP enrollment at " + h.Name, "PayloadDescription": "Enrolls a device certificate at " + content["URL"].(string) + ".",
		"PayloadContent": content,
	}}
	for i, c := range snap.Authority.Chain {
		payloads = append(payloads, certPayload(id+".chain"+strconv.Itoa(i), uuid(), c.Raw, c.Subject.CommonName, bytes.Equal(c.RawIssuer, c.RawSubject)))
	}
	ca := snap.Authority.CA
	payloads = append(payloads, certPayload(id+".ca", uuid(), ca.Raw, ca.Subject.CommonName, bytes.Equal(ca.RawIssuer, ca.RawSubject)))
	profile := map[string]any{
		"PayloadType": "Configuration", "PayloadVersion": 1, "PayloadIdentifier": id, "PayloadUUID": uuid(),
		"PayloadDisplayName": "scepgate: " + h.Name, "PayloadDescription": "The CA certificate and a SCEP enrollment at " + content["URL"].(string) + ".",
		"PayloadOrganization": "scepgate", "PayloadContent": payloads,
	}
	out, err := plist.MarshalIndent(profile, plist.XMLFormat, "\t")
	if err != nil {
		return nil, fmt.Errorf("write profile: %w", err)
	}
	if !req.Sign {
		return out, nil
	}
	sd, err := pkcs7.NewSignedData(out)
	if err != nil {
		return nil, fmt.Errorf("sign profile: %w", err)
	}
	if err := sd.AddSigner(snap.Authority.RA, snap.Authority.RAKey, pkcs7.SignerInfoConfig{}); err != nil {
		return nil, fmt.Errorf("sign profile: %w", err)
	}
	return sd.Finish()
}

// certPayload is a certificate payload: com.apple.security.root for a
// self-signed CA, com.apple.security.pkcs1 for an intermediate.
func certPayload(id, uuid string, der []byte, name string, root bool) map[string]any {
	typ := "com.apple.security.pkcs1"
	if root {
		typ = "com.apple.security.root"
	}
	return map[string]any{
		"PayloadType": typ, "PayloadVersion": 1, "PayloadIdentifier": id, "PayloadUUID": uuid,
		"PayloadDisplayName": name, "PayloadCertificateFileName": "ca.cer", "PayloadContent": der,
	}
}

// appleKeyUsage is the procedure's key usages as Apple's bitmask: 1 for
// signing, 4 for encryption.
func appleKeyUsage(cp *model.CertificateProcedure) int {
	n := 0
	for _, u := range strings.Split(cp.KeyUsages, ",") {
		switch strings.TrimSpace(u) {
		case "digitalSignature", "nonRepudiation", "contentCommitment":
			n |= appleKeyUsageSigning
		case "keyEncipherment", "dataEncipherment", "keyAgreement":
			n |= appleKeyUsageEncryption
		}
	}
	if n == 0 {
		n = appleKeyUsageSigning | appleKeyUsageEncryption
	}
	return n
}

// profileSubject reads CN=...,O=... as Apple's Subject: an array of RDNs,
// each an array of [type, value] pairs.
func profileSubject(s string) ([][][]string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		s = "CN=scepgate device"
	}
	if len(s) > 1024 || strings.ContainsAny(s, "\\+\"") {
		return nil, &model.Error{Code: model.EINVALID, Message: "Write the subject as CN=name,O=organisation, without quotes, backslashes or '+'.",
			Fields: map[string]string{"subject": "Write the subject as CN=name,O=organisation, without quotes, backslashes or '+'."}}
	}
	var rdns [][][]string
	for _, part := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(part, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || v == "" {
			msg := fmt.Sprintf("The subject part %q is not TYPE=value, such as CN=router-7.", part)
			return nil, &model.Error{Code: model.EINVALID, Message: msg, Fields: map[string]string{"subject": msg}}
		}
		rdns = append(rdns, [][]string{{strings.ToUpper(k), v}})
	}
	return rdns, nil
}

// uuid returns a random (version 4) UUID in upper case, as Apple writes
// them.
func (p *Profiles) uuid() string {
	r := p.Rand
	if r == nil {
		r = rand.Reader
	}
	var b [16]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		panic(err) // crypto/rand does not fail
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return strings.ToUpper(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]))
}

// profileFile names the download.
func profileFile(h *model.Handler) string {
	return "scepgate-" + h.Name + ".mobileconfig"
}

type (
	mobileconfigInput struct {
		Name     string `path:"name" maxLength:"64" doc:"The SCEP request handler's name."`
		Subject  string `query:"subject" maxLength:"1024" doc:"The certificate's subject, such as CN=$SERIALNUMBER,O=Company (default CN=scepgate device)."`
		Unsigned bool   `query:"unsigned" doc:"Answer the plain property list instead of one signed with the RA certificate."`
	}
	mobileconfigOutput struct {
		ContentType        string `header:"Content-Type"`
		ContentDisposition string `header:"Content-Disposition"`
		Body               []byte
	}
)

func (a *API) registerMobileconfig(api huma.API) {
	register(a, api, huma.Operation{OperationID: "get-mobileconfig", Method: http.MethodGet, Path: "/handlers/{name}/mobileconfig",
		Summary: "Get an Apple configuration profile for a SCEP handler", Tags: []string{"Apple"},
		Description: "A .mobileconfig with the CA certificate and a SCEP payload (com.apple.security.scep) for the handler, signed with the RA certificate unless `unsigned` is set. " +
			"For an NDES request handler the payload carries a fresh one-time password (each download makes one).",
		Errors: []int{http.StatusNotFound, http.StatusServiceUnavailable},
		Responses: map[string]*huma.Response{"200": {Description: "The profile: a property list, or CMS SignedData (DER) over one.",
			Content: map[string]*huma.MediaType{MobileconfigType: {Schema: &huma.Schema{Type: "string", Format: "binary"}}}}},
	}, apiHelpers, a.mobileconfig)
}

func (a *API) mobileconfig(ctx context.Context, in *mobileconfigInput) (*mobileconfigOutput, error) {
	snap, err := a.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	h, err := handlerByName(snap, in.Name)
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	actor := apiActor(ctx)
	base, _ := ctx.Value(apiBaseURLKey{}).(string)
	b, err := (&Profiles{Service: a.Service}).Make(ctx, snap, ProfileRequest{Handler: h, Subject: in.Subject, BaseURL: base, Sign: !in.Unsigned,
		RequestedBy: actor.Name, ClientAddr: actor.ClientAddr})
	if err != nil {
		return nil, a.fail(ctx, err)
	}
	return &mobileconfigOutput{ContentType: MobileconfigType, ContentDisposition: `attachment; filename="` + profileFile(h) + `"`, Body: b}, nil
}

type apiBaseURLKey struct{}

// Download handles "POST /handlers/:id/mobileconfig": the portal's
// download of the handler's Apple configuration profile. It is a POST
// because a profile for an NDES request handler hands out a password.
func (p *Profiles) Download(c echo.Context) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	snap, err := p.Service.Snapshot(ctx)
	if err != nil {
		return err
	}
	var h *model.Handler
	for i := range snap.Config.Handlers {
		if snap.Config.Handlers[i].ID == id {
			h = &snap.Config.Handlers[i]
		}
	}
	if h == nil {
		return model.Errorf(model.ENOTFOUND, "There is no handler %d.", id)
	}
	b, err := p.Make(ctx, snap, ProfileRequest{Handler: h, Subject: c.FormValue("subject"), BaseURL: c.Scheme() + "://" + c.Request().Host,
		Sign: true, RequestedBy: actor(c), ClientAddr: c.RealIP()})
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	c.Response().Header().Set(echo.HeaderContentDisposition, `attachment; filename="`+profileFile(h)+`"`)
	return c.Blob(http.StatusOK, MobileconfigType, b)
}
