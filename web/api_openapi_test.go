package web_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/danielgtaylor/huma/v2"
	"github.com/scepgate/scepgate/handlers"
	"github.com/scepgate/scepgate/internal/testenv"
	"github.com/scepgate/scepgate/model"
)

var update = flag.Bool("update", false, "rewrite docs/openapi.json from the running API")

// openAPIFile is the checked-in OpenAPI document.
var openAPIFile = filepath.Join("..", "docs", "openapi.json")

// TestOpenAPIDocument proves that the checked-in document is the one the
// server serves, that every API route is documented, and that every
// documented operation answers with a documented status and a body of
// the documented shape. Run with -update (make openapi) after changing the
// API.
func TestOpenAPIDocument(t *testing.T) {
	env := testenv.New(t, testenv.Options{Seed: apiSeed(t)})
	served := (&apiClient{t: t, env: env}).do(http.MethodGet, "/api/v1/openapi.json", nil)
	if served.status != http.StatusOK {
		t.Fatalf("GET /api/v1/openapi.json: got %d, want 200", served.status)
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, served.raw, "", "  "); err != nil {
		t.Fatal(err)
	}
	pretty.WriteString("\n")
	if *update {
		if err := os.WriteFile(openAPIFile, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	checked, err := os.ReadFile(openAPIFile)
	if err != nil {
		t.Fatalf("%v: run make openapi", err)
	}
	if !bytes.Equal(checked, pretty.Bytes()) {
		t.Fatalf("%s differs from what /api/v1/openapi.json serves: run make openapi and commit it", openAPIFile)
	}

	doc := env.API.OpenAPI()
	// Every route of the API is documented.
	for _, r := range env.Echo.Routes() {
		if !strings.HasPrefix(r.Path, handlers.APIPrefix+"/") || strings.HasPrefix(r.Path, handlers.APIPrefix+"/openapi") {
			continue
		}
		path := r.Path
		for _, seg := range strings.Split(path, "/") {
			if strings.HasPrefix(seg, ":") {
				path = strings.Replace(path, seg, "{"+seg[1:]+"}", 1)
			}
		}
		item := doc.Paths[path]
		if item == nil || operationOf(item, r.Method) == nil {
			t.Errorf("route %s %s is not in the OpenAPI document", r.Method, r.Path)
		}
	}

	// Every documented operation answers as documented.
	adm := newToken(t, env, "automation", model.RoleAdmin, 0)
	p := &portal{t: t, db: env.DB, svc: env.Enroll, clock: env.Clock, srv: env.Server, admin: env.Admin}
	_, certID := p.enrolled("laptop-1")
	open := adm.do(http.MethodPost, "/api/v1/registrations", map[string]string{"token_procedure": "Device enroll", "password": "device-secret-1"})
	openID := itoa(int64(open.body["id"].(float64)))
	approve, reject := itoa(p.pending("pending-1")), itoa(p.pending("pending-2"))
	calls := map[string][]struct {
		method, path string
		body         any
		status       int
	}{
		"issue-challenge":      {{"POST", "/api/v1/handlers/ndeschallenge/challenges", nil, 201}, {"POST", "/api/v1/handlers/nope/challenges", nil, 404}},
		"list-handlers":        {{"GET", "/api/v1/handlers", nil, 200}},
		"list-procedures":      {{"GET", "/api/v1/procedures", nil, 200}},
		"get-ca":               {{"GET", "/api/v1/ca", nil, 200}},
		"list-registrations":   {{"GET", "/api/v1/registrations?state=open&page=1&per_page=10", nil, 200}, {"GET", "/api/v1/registrations?state=bogus", nil, 422}},
		"get-registration":     {{"GET", "/api/v1/registrations/" + openID, nil, 200}, {"GET", "/api/v1/registrations/99999", nil, 404}},
		"create-registration":  {{"POST", "/api/v1/registrations", map[string]string{"token_procedure": "Device enroll", "password": "device-secret-2"}, 201}, {"POST", "/api/v1/registrations", map[string]string{"password": "x"}, 422}},
		"cancel-registration":  {{"POST", "/api/v1/registrations/" + openID + "/cancel", nil, 200}},
		"approve-registration": {{"POST", "/api/v1/registrations/" + approve + "/approve", nil, 200}, {"POST", "/api/v1/registrations/" + approve + "/approve", nil, 409}},
		"reject-registration":  {{"POST", "/api/v1/registrations/" + reject + "/reject", map[string]string{"reason": "unknown device"}, 200}},
		"list-certificates":    {{"GET", "/api/v1/certificates?state=active", nil, 200}},
		"get-certificate":      {{"GET", "/api/v1/certificates/" + itoa(certID), nil, 200}},
		"revoke-certificate":   {{"POST", "/api/v1/certificates/" + itoa(certID) + "/revoke", map[string]string{"reason": "superseded"}, 200}},
		"set-handler-hooks":    {{"PUT", "/api/v1/handlers/scep/hooks", map[string]string{"event_url": "https://mdm.example/events"}, 200}, {"PUT", "/api/v1/handlers/scep/hooks", map[string]string{"event_url": "http://mdm.example/events"}, 422}},
		"get-mobileconfig":     {{"GET", "/api/v1/handlers/ndesrequest/mobileconfig", nil, 200}, {"GET", "/api/v1/handlers/ndeschallenge/mobileconfig", nil, 422}},
	}
	seen := map[string]bool{}
	for path, item := range doc.Paths {
		for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			op := operationOf(item, method)
			if op == nil || strings.HasPrefix(path, handlers.APIPrefix+"/openapi") {
				continue
			}
			seen[op.OperationID] = true
			cs, ok := calls[op.OperationID]
			if !ok {
				t.Errorf("operation %s (%s %s) is documented but this test does not call it: add it to calls", op.OperationID, method, path)
				continue
			}
			if len(op.Security) == 0 {
				t.Errorf("operation %s: documented without security", op.OperationID)
			}
			// Unauthenticated, it answers the documented 401.
			cs = append(cs, struct {
				method, path string
				body         any
				status       int
			}{"", "", nil, 401})
			for _, c := range cs {
				client := adm
				if c.method == "" {
					client = &apiClient{t: t, env: env}
					c.method, c.path, c.body = cs[0].method, cs[0].path, cs[0].body
				}
				a := client.do(c.method, c.path, c.body)
				if a.status != c.status {
					t.Errorf("%s %s: got %d, want %d (%s)", c.method, c.path, a.status, c.status, a.raw)
					continue
				}
				resp := op.Responses[strconv.Itoa(a.status)]
				if resp == nil {
					t.Errorf("%s %s: status %d is not documented", c.method, c.path, a.status)
					continue
				}
				ct := a.header.Get("Content-Type")
				mt := resp.Content[ct]
				if mt == nil || mt.Schema == nil {
					t.Errorf("%s %s: status %d has no documented %s body", c.method, c.path, a.status, ct)
					continue
				}
				if ct != "application/json" {
					continue // a binary body; its own test reads it
				}
				var v any
				if err := json.Unmarshal(a.raw, &v); err != nil {
					t.Errorf("%s %s: %v", c.method, c.path, err)
					continue
				}
				res := &huma.ValidateResult{}
				huma.Validate(doc.Components.Schemas, mt.Schema, huma.NewPathBuffer([]byte{}, 0), huma.ModeReadFromServer, v, res)
				for _, err := range res.Errors {
					t.Errorf("%s %s (%d): the body does not match the document: %v", c.method, c.path, a.status, err)
				}
			}
		}
	}
	for id := range calls {
		if !seen[id] {
			t.Errorf("operation %s is called here but not documented", id)
		}
	}
}

func operationOf(item *huma.PathItem, method string) *huma.Operation {
	switch method {
	case http.MethodGet:
		return item.Get
	case http.MethodPost:
		return item.Post
	case http.MethodPut:
		return item.Put
	case http.MethodPatch:
		return item.Patch
	case http.MethodDelete:
		return item.Delete
	}
	return nil
}
