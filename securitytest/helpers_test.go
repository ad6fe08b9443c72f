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
	detailForbidden        = "Not enough permissions"
	detailCrossSite        = "Cross-site request refused"
	detailWrongPassword    = "Incorrect password"
	detailSessionNotFound  = "Session not found"
)

// account is a registered user signed in once: a fresh access token, the session's refresh token and the
// session's id as the token's sid claim names it.
type account struct {
	id              int64
	email, password string
	token           string
	refresh         string
	sid             string
}

// tokens is the token response of POST /auth/login and POST /auth/refresh.
type tokens struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int64  `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
}

// register creates an account and returns the answer.
func (s *server) register(t *testing.T, email, password string, opts ...option) response {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	s.remember(password)
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
	a.signIn(t, s)
	return a
}

// signIn logs the account in again, opening a new session, and keeps its tokens.
func (a *account) signIn(t *testing.T, s *server, opts ...option) {
	t.Helper()
	tok := s.tokens(t, a.email, a.password, opts...)
	a.token, a.refresh, a.sid = tok.AccessToken, tok.RefreshToken, sidOf(t, tok.AccessToken)
}

// token logs in and returns the access token.
func (s *server) token(t *testing.T, email, password string) string {
	t.Helper()
	return s.tokens(t, email, password).AccessToken
}

// tokens logs in, opening a session, and returns the token response.
func (s *server) tokens(t *testing.T, email, password string, opts ...option) tokens {
	t.Helper()
	r := s.login(t, email, password, opts...)
	if r.status != http.StatusOK {
		t.Fatalf("%s: got %d, want 200; body %s", r, r.status, short(r.body, 500))
	}
	var tok tokens
	r.decode(t, &tok)
	if tok.AccessToken == "" || tok.RefreshToken == "" || tok.TokenType != "bearer" {
		t.Fatalf("%s: token response %s, want an access token, a refresh token and token_type bearer", r, short(r.body, 500))
	}
	return tok
}

// refresh exchanges a refresh token the way an API client does, in a JSON body.
func (s *server) refresh(t *testing.T, refreshToken string, opts ...option) response {
	t.Helper()
	return s.do(t, "POST", "/auth/refresh", append([]option{jsonBody(jsonOf(map[string]string{"refresh_token": refreshToken}))}, opts...)...)
}

// refreshed exchanges a refresh token that must still be good and returns the new tokens.
func (s *server) refreshed(t *testing.T, refreshToken string) tokens {
	t.Helper()
	r := s.refresh(t, refreshToken)
	if r.status != http.StatusOK {
		t.Fatalf("%s: got %d, want 200; body %s", r, r.status, short(r.body, 500))
	}
	var tok tokens
	r.decode(t, &tok)
	if tok.AccessToken == "" || tok.RefreshToken == "" {
		t.Fatalf("%s: token response %s, want an access and a refresh token", r, short(r.body, 500))
	}
	return tok
}

// sidOf returns the sid claim of a token the server issued: the id of its session, as a decimal string.
func sidOf(t *testing.T, token string) string {
	t.Helper()
	_, payload, _ := segments(t, token)
	sid, ok := payload["sid"].(string)
	if !ok || sid == "" {
		t.Fatalf("token claims %v: sid %v, want the session id as a string", payload, payload["sid"])
	}
	return sid
}

// newAdmin creates an administrator the way an operator bootstraps one, with `fortress user create -admin`
// on the server's database, and signs it in through the API.
func (s *server) newAdmin(t *testing.T, name string) account {
	t.Helper()
	a := account{email: name + "@example.com", password: "correct horse battery " + name}
	s.remember(a.password)
	out := s.cli(t, a.password+"\n", "user", "create", "-email", a.email, "-admin")
	m := regexp.MustCompile(`^created user (\d+) \(` + regexp.QuoteMeta(a.email) + `\) with role admin\n$`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("fortress user create -admin printed %q, want \"created user N (%s) with role admin\"", out, a.email)
	}
	a.id, _ = strconv.ParseInt(m[1], 10, 64)
	a.signIn(t, s)
	return a
}

// setRole changes a role with `fortress user set-role`, as an operator does.
func (s *server) setRole(t *testing.T, email, role string) {
	t.Helper()
	out := s.cli(t, "", "user", "set-role", "-email", email, "-role", role)
	if !strings.HasSuffix(out, "now has role "+role+"\n") {
		t.Fatalf("fortress user set-role printed %q, want \"... now has role %s\"", out, role)
	}
}

// roleOf reads a user's role from the database.
func (s *server) roleOf(t *testing.T, id int64) string {
	t.Helper()
	return s.db.queryString(t, "SELECT role FROM users WHERE id = ?", id)
}

// adminUserPath is the admin API's path of one account.
func adminUserPath(id int64) string { return "/admin/users/" + strconv.FormatInt(id, 10) }

// sessionPath is the path that ends one of the caller's sessions.
func sessionPath(id string) string { return "/auth/sessions/" + id }

// auditCount counts the audit events of a name about (actor or subject) a user, read from the database.
func (s *server) auditCount(t *testing.T, event string, userID int64) int64 {
	t.Helper()
	return s.db.queryInt(t, "SELECT COUNT(*) FROM audit_events WHERE event = ? AND (actor_id = ? OR subject_id = ?)", event, userID, userID)
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
		Schemas         map[string]schema `json:"schemas"`
		SecuritySchemes map[string]struct {
			Description string `json:"description"`
		} `json:"securitySchemes"`
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
