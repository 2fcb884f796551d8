package web_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/scepgate/scepgate/admin"

	"github.com/scepgate/scepgate/handlers"
	"github.com/scepgate/scepgate/internal/testenv"
	"github.com/scepgate/scepgate/model"
)

// access says who may use a route.
type access struct {
	// public: the route is not the portal's. Everyone, signed in or not,
	// gets the same answer, never a sign-in redirect or a role refusal.
	public bool
	// session: the sign-in routes themselves, open to everyone.
	session bool
	// bearer: a JSON API route, for bearer tokens only: roles' tokens get
	// through, other roles' tokens get 403, and a portal session without a
	// token gets 401.
	bearer bool
	// roles may use the route; the other roles get 403 and anonymous
	// visitors a redirect to /signin.
	roles []string
}

// The access classes, written out here rather than taken from web so that
// a change of web's role sets shows as a failing test.
var (
	public   = access{public: true}
	session  = access{session: true}
	everyone = access{roles: []string{model.RoleAdmin, model.RoleHelpdesk, model.RoleAuditor}}
	readers  = access{roles: []string{model.RoleAdmin, model.RoleAuditor}}
	helpers  = access{roles: []string{model.RoleAdmin, model.RoleHelpdesk}}
	admins   = access{roles: []string{model.RoleAdmin}}

	apiEveryone = access{bearer: true, roles: everyone.roles}
	apiReaders  = access{bearer: true, roles: readers.roles}
	apiHelpers  = access{bearer: true, roles: helpers.roles}
	apiAdmins   = access{bearer: true, roles: admins.roles}
)

// anyMethod stands for every method Echo registers with Any.
const anyMethod = "ANY"

// routeAccess lists every route of web.New with who may use it. A route
// that web.New has and this table lacks fails TestRouteAccessMatrix, and
// so does a row for a route that no longer exists.
var routeAccess = []struct {
	method, path string
	who          access
}{
	// SCEP and NDES clients, Microsoft's paths, publication, probes.
	{anyMethod, "/pgwy/scep", public},
	{anyMethod, "/pgwy/scep/*", public},
	{anyMethod, "/pgwy/*", public},
	{anyMethod, "/certsrv/mscep_admin", public},
	{anyMethod, "/certsrv/mscep_admin/*", public},
	{anyMethod, "/certsrv/mscep/mscep.dll", public},
	{anyMethod, "/certsrv/mscep/mscep.dll/*", public},
	{"GET", "/pgwy/ca/:id/cert", public},
	{"GET", "/pgwy/ca/:id/crl", public},
	{"GET", "/healthz", public},
	{"GET", "/readyz", public},
	{"GET", "/metrics", public},
	{"GET", "/static*", public},

	{"GET", "/signin", session},
	{"POST", "/signin", session},
	{"POST", "/signout", session},

	{"GET", "/", everyone},
	{"GET", "/ca", readers},
	{"GET", "/ca/:file", readers},
	{"POST", "/ca/import", admins},

	{"GET", "/procedures", readers},
	{"GET", "/procedures/certificate/new", admins},
	{"POST", "/procedures/certificate", admins},
	{"GET", "/procedures/certificate/:id", readers},
	{"POST", "/procedures/certificate/:id", admins},
	{"POST", "/procedures/certificate/:id/delete", admins},
	{"GET", "/procedures/token/new", admins},
	{"POST", "/procedures/token", admins},
	{"GET", "/procedures/token/:id", readers},
	{"POST", "/procedures/token/:id", admins},
	{"POST", "/procedures/token/:id/delete", admins},

	{"GET", "/handlers", readers},
	{"GET", "/handlers/new", admins},
	{"POST", "/handlers", admins},
	{"POST", "/handlers/aliases", admins},
	{"GET", "/handlers/:id", readers},
	{"POST", "/handlers/:id", admins},
	{"POST", "/handlers/:id/toggle", admins},

	{"GET", "/ndes", helpers},
	{"POST", "/ndes", helpers},

	{"GET", "/registrations", everyone},
	{"GET", "/registrations/new", admins},
	{"POST", "/registrations", admins},
	{"GET", "/registrations/:id", everyone},
	{"POST", "/registrations/:id/cancel", admins},
	{"POST", "/registrations/:id/approve", admins},
	{"POST", "/registrations/:id/reject", admins},

	{"GET", "/certificates", readers},
	{"GET", "/certificates/:id", readers},
	{"GET", "/certificates/:id/:file", readers},
	{"POST", "/certificates/:id/revoke", admins},

	{"GET", "/users", admins},
	{"GET", "/users/new", admins},
	{"POST", "/users", admins},
	{"GET", "/users/:id", admins},
	{"POST", "/users/:id/:what", admins},

	{"GET", "/audit", readers},
	{"GET", "/audit.csv", readers},

	{"GET", "/signout", session},
	{"GET", "/registrations.csv", readers},
	{"POST", "/registrations/cancel", admins},
	{"GET", "/certificates.csv", readers},
	{"POST", "/certificates/revoke", admins},
	{"POST", "/handlers/:id/mobileconfig", admins},
	{"POST", "/users/:id/unlock", admins},
	{"GET", "/tokens", admins},
	{"POST", "/tokens", admins},
	{"POST", "/tokens/revoke", admins},

	// The JSON API: bearer tokens, and its OpenAPI document for everyone.
	{"GET", "/api/v1/openapi.json", public},
	{"GET", "/api/v1/openapi.yaml", public},
	{"GET", "/api/v1/openapi-3.0.json", public},
	{"GET", "/api/v1/openapi-3.0.yaml", public},
	{"POST", "/api/v1/handlers/:name/challenges", apiHelpers},
	{"GET", "/api/v1/handlers", apiReaders},
	{"GET", "/api/v1/procedures", apiReaders},
	{"GET", "/api/v1/ca", apiEveryone},
	{"GET", "/api/v1/registrations", apiEveryone},
	{"GET", "/api/v1/registrations/:id", apiEveryone},
	{"POST", "/api/v1/registrations", apiAdmins},
	{"POST", "/api/v1/registrations/:id/cancel", apiAdmins},
	{"POST", "/api/v1/registrations/:id/approve", apiAdmins},
	{"POST", "/api/v1/registrations/:id/reject", apiAdmins},
	{"GET", "/api/v1/certificates", apiReaders},
	{"GET", "/api/v1/certificates/:id", apiReaders},
	{"POST", "/api/v1/certificates/:id/revoke", apiAdmins},
	{"GET", "/api/v1/handlers/:name/mobileconfig", apiHelpers},
	{"PUT", "/api/v1/handlers/:name/hooks", apiAdmins},
}

// viewer is who sends a request: a signed-in role, or "" for anonymous.
type viewer struct {
	role    string
	cookies []*http.Cookie
	csrf    string
	token   string // a JSON API bearer token of role, sent to API routes
}

// TestRouteAccessMatrix sends every route of web.New as every role and
// anonymously, with a valid form token, and checks the answer against
// routeAccess: a role allowed gets past the role check, a role not allowed
// gets 403, an anonymous visitor is sent to sign in, and a public route
// answers everyone alike.
func TestRouteAccessMatrix(t *testing.T) {
	p := newPortal(t, func(o *testenv.Options) { o.Metrics = true })
	e := p.env.Echo

	// Every route must have a row, and every row a route.
	registered := map[string]bool{}
	anyPaths := map[string][]string{} // path -> methods, for rows of anyMethod
	for _, r := range e.Routes() {
		registered[r.Method+" "+r.Path] = true
		anyPaths[r.Path] = append(anyPaths[r.Path], r.Method)
	}
	listed := map[string]access{}
	for _, row := range routeAccess {
		methods := []string{row.method}
		if row.method == anyMethod {
			methods = anyPaths[row.path]
			if len(methods) < 2 {
				t.Errorf("routeAccess lists %s %s, which web.New does not serve for every method", row.method, row.path)
			}
		}
		for _, m := range methods {
			listed[m+" "+row.path] = row.who
		}
	}
	var missing, stale []string
	for k := range registered {
		if _, ok := listed[k]; !ok {
			missing = append(missing, k)
		}
	}
	for k := range listed {
		if !registered[k] {
			stale = append(stale, k)
		}
	}
	sort.Strings(missing)
	sort.Strings(stale)
	for _, k := range missing {
		t.Errorf("route %s has no row in routeAccess: say who may use it", k)
	}
	for _, k := range stale {
		t.Errorf("routeAccess lists %s, which web.New does not serve", k)
	}

	// Real things for the parameters to name.
	ctx := context.Background()
	regID, certID := p.enrolled("rbac device")
	cfg, err := p.db.LoadConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	victim, err := p.db.FindUserByUsername(ctx, "auditor")
	if err != nil {
		t.Fatal(err)
	}
	params := map[string]string{
		"/certificates/":           fmt.Sprint(certID),
		"/registrations/":          fmt.Sprint(regID),
		"/handlers/":               fmt.Sprint(cfg.Handlers[0].ID),
		"/procedures/certificate/": fmt.Sprint(cfg.CertificateProcedures[0].ID),
		"/procedures/token/":       fmt.Sprint(cfg.TokenProcedures[0].ID),
		"/users/":                  fmt.Sprint(victim.ID),
		"/pgwy/ca/":                fmt.Sprint(p.env.Authority.ID),
		"/api/v1/certificates/":    fmt.Sprint(certID),
		"/api/v1/registrations/":   fmt.Sprint(regID),
	}
	concrete := func(path string) string {
		switch path {
		case "/static*":
			return "/static/app.css"
		case "/ca/:file":
			return "/ca/ca.pem"
		case "/certificates/:id/:file":
			return "/certificates/" + params["/certificates/"] + "/cert.pem"
		case "/users/:id/:what":
			return "/users/" + params["/users/"] + "/role"
		}
		if rest, ok := strings.CutPrefix(path, "/api/v1/handlers/:name"); ok {
			return "/api/v1/handlers/" + cfg.Handlers[0].Name + rest
		}
		if strings.HasSuffix(path, "/*") {
			return strings.TrimSuffix(path, "*") + "pkiclient.exe"
		}
		for prefix, id := range params {
			if strings.HasPrefix(path, prefix+":id") {
				return prefix + id + strings.TrimPrefix(path, prefix+":id")
			}
		}
		if strings.Contains(path, ":") {
			t.Fatalf("no value for the parameters of %s", path)
		}
		return path
	}

	viewers := []viewer{anonymous(t, e)}
	// The auditor last: admins change the victim's role.
	for _, role := range []string{model.RoleHelpdesk, model.RoleAdmin, model.RoleAuditor} {
		v := signedIn(t, p, role)
		_, v.token, err = p.env.Admin.CreateToken(ctx, admin.CLI, admin.TokenInput{Name: "rbac-" + role, Role: role})
		if err != nil {
			t.Fatal(err)
		}
		viewers = append(viewers, v)
	}
	// Sign-out last, so that every viewer keeps its session to the end.
	keys := make([]string, 0, len(listed))
	for k := range listed {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if a, b := strings.HasSuffix(keys[i], " /signout"), strings.HasSuffix(keys[j], " /signout"); a != b {
			return b
		}
		return keys[i] < keys[j]
	})
	for _, k := range keys {
		method, path, _ := strings.Cut(k, " ")
		who := listed[k]
		target := concrete(path)
		statuses := map[int]bool{}
		for _, v := range viewers {
			if !who.bearer {
				v.token = ""
			}
			rec := sendAs(e, v, method, target)
			loc := rec.Header().Get("Location")
			toSignIn := rec.Code >= 300 && rec.Code < 400 && strings.HasPrefix(loc, "/signin")
			name := v.role
			if name == "" {
				name = "anonymous"
			}
			where := fmt.Sprintf("%s %s as %s: %d %s", method, target, name, rec.Code, loc)
			switch {
			case rec.Code >= 500:
				t.Errorf("%s; want no server error", where)
			case who.public:
				statuses[rec.Code] = true
				if toSignIn || rec.Code == http.StatusForbidden {
					t.Errorf("%s; want a public answer, neither sign-in nor role refusal", where)
				}
			case who.session:
				if rec.Code == http.StatusForbidden {
					t.Errorf("%s; want the sign-in route open to everyone", where)
				}
			case who.bearer && v.role == "":
				if rec.Code != http.StatusUnauthorized {
					t.Errorf("%s; want 401 without a token", where)
				}
			case who.bearer && !allowed(who, v.role):
				if rec.Code != http.StatusForbidden {
					t.Errorf("%s; want 403 for the token's role", where)
				}
			case v.role == "":
				if rec.Code != http.StatusSeeOther || !toSignIn {
					t.Errorf("%s; want 303 to /signin", where)
				}
			case allowed(who, v.role):
				if rec.Code == http.StatusForbidden || rec.Code == http.StatusUnauthorized || toSignIn {
					t.Errorf("%s; want the role let through", where)
				}
			default:
				if rec.Code != http.StatusForbidden {
					t.Errorf("%s; want 403", where)
				}
			}
		}
		if who.public && len(statuses) > 1 {
			t.Errorf("%s %s answers viewers differently (%v); want one answer for everyone", method, target, statuses)
		}
	}
}

func allowed(a access, role string) bool {
	for _, r := range a.roles {
		if r == role {
			return true
		}
	}
	return false
}

// anonymous is a visitor who has opened the sign-in page: a form token
// cookie, no session.
func anonymous(t *testing.T, e http.Handler) viewer {
	t.Helper()
	rec := sendAs(e, viewer{}, http.MethodGet, "/signin")
	v := viewer{cookies: rec.Result().Cookies()}
	for _, c := range v.cookies {
		if len(c.Value) >= 32 {
			v.csrf = c.Value
		}
	}
	if v.csrf == "" {
		t.Fatal("the sign-in page set no form token cookie")
	}
	return v
}

// signedIn signs role's user in over HTTP and returns its cookies and
// form token.
func signedIn(t *testing.T, p *portal, role string) viewer {
	t.Helper()
	b := p.browser()
	b.signIn(role)
	m := csrfRE.FindStringSubmatch(b.get("/registrations").body)
	if m == nil {
		t.Fatalf("no form token for %s", role)
	}
	u, _ := url.Parse(p.srv.URL)
	v := viewer{role: role, cookies: b.client.Jar.Cookies(u), csrf: m[1]}
	if b.cookie(handlers.SessionCookie) == nil {
		t.Fatalf("%s has no session cookie", role)
	}
	return v
}

// send answers one request in process, as v, with v's form token in the
// body of anything but GET and HEAD.
func sendAs(e http.Handler, v viewer, method, target string) *httptest.ResponseRecorder {
	var req *http.Request
	if method == http.MethodGet || method == http.MethodHead {
		req = httptest.NewRequest(method, target, nil)
	} else {
		req = httptest.NewRequest(method, target, strings.NewReader(url.Values{"csrf": {v.csrf}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for _, c := range v.cookies {
		req.AddCookie(c)
	}
	if v.token != "" {
		req.Header.Set("Authorization", "Bearer "+v.token)
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}
