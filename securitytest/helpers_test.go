package securitytest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// The contract's detail texts (docs/API.md) that clients match on.
const (
	detailNotAuthenticated = "Not authenticated"
	detailInvalidToken     = "Could not validate credentials"
	detailBadCredentials   = "Incorrect email or password"
	detailItemNotFound     = "Item not found"
	detailNotFound         = "Not Found"
	detailMethodNotAllowed = "Method Not Allowed"
	detailTooMany          = "Too many requests; retry later."
	detailLockedOut        = "Too many failed logins for this account; retry later."
	detailHashBusy         = "Too many sign-ins are being processed; retry shortly."
	detailInvalidHost      = "Invalid host header"
)

// account is a registered user with a fresh access token.
type account struct {
	id              int64
	email, password string
	token           string
}

// register creates an account and returns the answer.
func (s *server) register(t *testing.T, email, password string, opts ...option) response {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	return s.do(t, "POST", "/auth/register", append([]option{jsonBody(string(body))}, opts...)...)
}

// login asks for a token and returns the answer.
func (s *server) login(t *testing.T, email, password string, opts ...option) response {
	t.Helper()
	return s.do(t, "POST", "/auth/login", append([]option{formBody(url.Values{"username": {email}, "password": {password}})}, opts...)...)
}

// newAccount registers name@example.com and logs it in.
func (s *server) newAccount(t *testing.T, name string) account {
	t.Helper()
	a := account{email: name + "@example.com", password: "correct horse battery " + name}
	r := s.register(t, a.email, a.password)
	r.want(t, http.StatusCreated, "")
	var u struct {
		ID int64 `json:"id"`
	}
	r.decode(t, &u)
	a.id = u.ID
	a.token = s.token(t, a.email, a.password)
	return a
}

// token logs in and returns the access token.
func (s *server) token(t *testing.T, email, password string) string {
	t.Helper()
	r := s.login(t, email, password)
	if r.status != http.StatusOK {
		t.Fatalf("%s: got %d, want 200; body %s", r, r.status, short(r.body, 500))
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	r.decode(t, &tok)
	return tok.AccessToken
}

// item is an item as the API answers it.
type item struct {
	ID          int64   `json:"id"`
	Name        string  `json:"name"`
	Description *string `json:"description"`
	OwnerID     int64   `json:"owner_id"`
}

// createItem creates an item as the token's owner.
func (s *server) createItem(t *testing.T, token, name, description string) item {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"name": name, "description": description})
	r := s.do(t, "POST", "/items/", bearer(token), jsonBody(string(body)))
	if r.status != http.StatusCreated {
		t.Fatalf("%s: got %d, want 201; body %s", r, r.status, short(r.body, 500))
	}
	var it item
	r.decode(t, &it)
	return it
}

// listAll returns all of the token owner's items, following the pages.
func (s *server) listAll(t *testing.T, token string) []item {
	t.Helper()
	var all []item
	next := "/items/?limit=100"
	for range 100 {
		r := s.do(t, "GET", next, bearer(token))
		r.want(t, http.StatusOK, "")
		var page []item
		r.decode(t, &page)
		all = append(all, page...)
		link := r.header.Get("Link")
		if link == "" {
			return all
		}
		m := regexp.MustCompile(`^<([^>]+)>; rel="next"$`).FindStringSubmatch(link)
		if m == nil {
			t.Fatalf("%s: Link %q, want <url>; rel=\"next\"", r, link)
		}
		next = m[1]
	}
	t.Fatal("more than 100 pages")
	return nil
}

func itemPath(id int64) string { return "/items/" + strconv.FormatInt(id, 10) }

// openAPI is the part of the OpenAPI document the suite reads.
type openAPI struct {
	Security   *[]map[string][]string          `json:"security"`
	Paths      map[string]map[string]operation `json:"paths"`
	Components struct {
		Schemas map[string]schema `json:"schemas"`
	} `json:"components"`
}

// operation is one documented operation.
type operation struct {
	OperationID string                 `json:"operationId"`
	Security    *[]map[string][]string `json:"security"`
	Parameters  []struct {
		Name   string `json:"name"`
		In     string `json:"in"`
		Schema schema `json:"schema"`
	} `json:"parameters"`
	RequestBody *struct {
		Content map[string]struct {
			Schema schema `json:"schema"`
		} `json:"content"`
	} `json:"requestBody"`
	Responses map[string]struct {
		Content map[string]struct {
			Schema schema `json:"schema"`
		} `json:"content"`
	} `json:"responses"`
}

// schema is the part of a JSON Schema the suite reads.
type schema struct {
	Ref        string            `json:"$ref"`
	Type       any               `json:"type"`
	Format     string            `json:"format"`
	Minimum    *float64          `json:"minimum"`
	Maximum    *float64          `json:"maximum"`
	Default    any               `json:"default"`
	MaxLength  *int              `json:"maxLength"`
	Properties map[string]schema `json:"properties"`
	Items      *schema           `json:"items"`
}

// endpoint is a documented operation with its path and method.
type endpoint struct {
	method, path string // method upper-case; path as documented, e.g. /items/{item_id}
	op           operation
}

func (e endpoint) String() string { return e.method + " " + e.path }

// fetchOpenAPI reads /openapi.json from the server: the suite derives its lists of operations from it.
func (s *server) fetchOpenAPI(t *testing.T) openAPI {
	t.Helper()
	r := s.do(t, "GET", "/openapi.json")
	r.want(t, http.StatusOK, "")
	var doc openAPI
	r.decode(t, &doc)
	if len(doc.Paths) == 0 {
		t.Fatal("/openapi.json documents no paths")
	}
	return doc
}

// endpoints lists every documented operation, sorted.
func (doc openAPI) endpoints() []endpoint {
	var out []endpoint
	for path, methods := range doc.Paths {
		for method, op := range methods {
			out = append(out, endpoint{method: strings.ToUpper(method), path: path, op: op})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// resolve follows a local $ref.
func (doc openAPI) resolve(s schema) schema {
	for range 10 {
		name, ok := strings.CutPrefix(s.Ref, "#/components/schemas/")
		if !ok {
			return s
		}
		s = doc.Components.Schemas[name]
	}
	return s
}

// permission is what an operation requires of its caller, read from its security requirements: "public"
// when there are none, "user" for a bearer token without scopes, "scope:a,b" when it names scopes (RBAC).
func (doc openAPI) permission(op operation) string {
	reqs := doc.Security
	if op.Security != nil {
		reqs = op.Security
	}
	if reqs == nil || len(*reqs) == 0 {
		return "public"
	}
	var scopes []string
	for _, req := range *reqs {
		if len(req) == 0 {
			return "public" // an empty requirement object makes authentication optional
		}
		for _, s := range req {
			scopes = append(scopes, s...)
		}
	}
	if len(scopes) == 0 {
		return "user"
	}
	slices.Sort(scopes)
	return "scope:" + strings.Join(slices.Compact(scopes), ",")
}

// concretePath fills the path parameters of e: integers with value(name) or their minimum, strings with
// str.
func (e endpoint) concretePath(ints func(name string) int64, str string) string {
	path := e.path
	for _, p := range e.op.Parameters {
		if p.In != "path" {
			continue
		}
		var v string
		if p.Schema.Type == "integer" {
			n := int64(1)
			if ints != nil {
				n = ints(p.Name)
			} else if p.Schema.Minimum != nil {
				n = int64(*p.Schema.Minimum)
			}
			v = strconv.FormatInt(n, 10)
		} else {
			v = str
		}
		path = strings.ReplaceAll(path, "{"+p.Name+"}", v)
	}
	return path
}

// uiAssets returns the /static/ paths the web UI and the docs page load, read from their HTML.
func (s *server) uiAssets(t *testing.T) []string {
	t.Helper()
	var assets []string
	for _, page := range []string{"/", "/docs"} {
		r := s.do(t, "GET", page)
		r.want(t, http.StatusOK, "")
		for _, m := range regexp.MustCompile(`(?:src|href)="(/static/[^"]+)"`).FindAllStringSubmatch(string(r.body), -1) {
			if !slices.Contains(assets, m[1]) {
				assets = append(assets, m[1])
			}
		}
	}
	if len(assets) == 0 {
		t.Fatal("the UI pages load no /static/ asset; cannot exercise /static/{path}")
	}
	return assets
}

// jsonOf marshals v for a request body.
func jsonOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprint("securitytest: marshal: ", err))
	}
	return string(b)
}
