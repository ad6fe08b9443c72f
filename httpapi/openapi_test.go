package httpapi

import (
	"bufio"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	gotoken "go/token"
	"log/slog"
	"math"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/fortress-dev/fortress/ratelimit"
)

// openAPIDoc fetches /openapi.json through the server and decodes it.
func openAPIDoc(t *testing.T, e *env) map[string]any {
	t.Helper()
	rec := e.do("GET", "/openapi.json", "", "", "")
	wantStatus(t, rec, http.StatusOK)
	var doc map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
		t.Fatalf("/openapi.json: got invalid JSON (%v), want a document", err)
	}
	return doc
}

// at walks a decoded JSON document along keys, failing the test when a key is missing.
func at(t *testing.T, v any, keys ...string) any {
	t.Helper()
	for i, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s: got %T, want an object", strings.Join(keys[:i], "."), v)
		}
		if v, ok = m[k]; !ok {
			t.Fatalf("%s: missing, want present", strings.Join(keys[:i+1], "."))
		}
	}
	return v
}

// schemaOf resolves a $ref in the document's components.
func schemaOf(t *testing.T, doc map[string]any, s any) map[string]any {
	t.Helper()
	m, _ := s.(map[string]any)
	if ref, ok := m["$ref"].(string); ok {
		name := strings.TrimPrefix(ref, "#/components/schemas/")
		m, _ = at(t, doc, "components", "schemas", name).(map[string]any)
	}
	return m
}

func TestOpenAPIDocument(t *testing.T) {
	e := newEnv(t)
	doc := openAPIDoc(t, e)
	if v := at(t, doc, "openapi"); v != "3.1.0" {
		t.Errorf("openapi got %v, want 3.1.0", v)
	}
	if v := at(t, doc, "info", "version"); v != "test" {
		t.Errorf("info.version got %v, want the configured version", v)
	}

	limits := []struct {
		schema, field string
		min, max      float64
	}{
		{"ItemCreateRequest", "name", 1, 255},
		{"ItemUpdateRequest", "name", 1, 255},
		{"RegisterRequest", "password", 12, 256},
	}
	for _, l := range limits {
		p := at(t, doc, "components", "schemas", l.schema, "properties", l.field).(map[string]any)
		if p["minLength"] != l.min || p["maxLength"] != l.max {
			t.Errorf("%s.%s: minLength/maxLength got %v/%v, want %v/%v", l.schema, l.field, p["minLength"], p["maxLength"], l.min, l.max)
		}
	}
	if v := at(t, doc, "components", "schemas", "ItemCreateRequest", "properties", "description", "maxLength"); v != float64(10000) {
		t.Errorf("ItemCreateRequest.description maxLength got %v, want 10000", v)
	}
	if v := at(t, doc, "components", "schemas", "RegisterRequest", "properties", "email", "format"); v != "email" {
		t.Errorf("RegisterRequest.email format got %v, want email", v)
	}
	if req := at(t, doc, "components", "schemas", "ItemCreateRequest", "required"); !slices.Equal(toStrings(req), []string{"name"}) {
		t.Errorf("ItemCreateRequest required got %v, want [name]", req)
	}

	// Every request body forbids additional properties; every item_id is at least 1; every secured
	// operation names the scheme.
	for path, ops := range at(t, doc, "paths").(map[string]any) {
		for method, op := range ops.(map[string]any) {
			op := op.(map[string]any)
			where := strings.ToUpper(method) + " " + path
			if rb, ok := op["requestBody"].(map[string]any); ok {
				for mt, content := range rb["content"].(map[string]any) {
					s := schemaOf(t, doc, content.(map[string]any)["schema"])
					if ap, ok := s["additionalProperties"].(bool); !ok || ap {
						t.Errorf("%s %s body: additionalProperties got %v, want false", where, mt, s["additionalProperties"])
					}
				}
			}
			params, _ := op["parameters"].([]any)
			for _, p := range params {
				p := p.(map[string]any)
				if p["name"] == "item_id" {
					if lowest := p["schema"].(map[string]any)["minimum"]; lowest != float64(1) {
						t.Errorf("%s item_id minimum got %v, want 1", where, lowest)
					}
					if required, _ := p["required"].(bool); p["in"] != "path" || !required {
						t.Errorf("%s item_id got in=%v required=%v, want a required path parameter", where, p["in"], p["required"])
					}
				}
			}
		}
	}
}

func toStrings(v any) []string {
	var out []string
	for _, s := range v.([]any) {
		out = append(out, s.(string))
	}
	return out
}

// TestOpenAPIMatchesRoutes: every registered route is documented, and every documented operation is
// answered by the server with one of the statuses it documents (never 404/405), with headers and a body
// that conform to what the document says of that status. It runs with rate limiting off and on, so
// that the RateLimit headers are checked too.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	generous := withLimits(ratelimit.NewMemory(100), ratelimit.Policy{Name: "default", Limit: 1000, Window: time.Minute},
		ratelimit.Policy{Name: "login", Limit: 100, Window: time.Minute},
		ratelimit.Policy{Name: "register", Limit: 100, Window: 10 * time.Minute},
		ratelimit.Policy{Name: "login-failures", Limit: 5, Window: time.Minute})
	for _, tc := range []struct {
		name string
		opts []func(*Config)
	}{{"unlimited", nil}, {"rate-limited", []func(*Config){generous}}} {
		t.Run(tc.name, func(t *testing.T) { checkRoutesAgainstDocument(t, newEnv(t, tc.opts...)) })
	}
}

func checkRoutesAgainstDocument(t *testing.T, e *env) {
	doc := openAPIDoc(t, e)
	paths := at(t, doc, "paths").(map[string]any)
	limited := e.cfg.Limiter != nil

	ids := map[string]bool{}
	documented := 0
	for _, rt := range e.srv.routes() {
		path := strings.ReplaceAll(rt.path, "...}", "}")
		op, ok := paths[path].(map[string]any)[strings.ToLower(rt.method)].(map[string]any)
		if !ok {
			t.Errorf("route %s %s: not in /openapi.json, want documented", rt.method, rt.path)
			continue
		}
		if op["operationId"] != rt.doc.id || ids[rt.doc.id] {
			t.Errorf("route %s %s: operationId got %v, want unique %q", rt.method, rt.path, op["operationId"], rt.doc.id)
		}
		ids[rt.doc.id] = true
		if _, secured := op["security"]; secured != rt.doc.authenticated() {
			t.Errorf("route %s %s: security documented %v, want %v", rt.method, rt.path, secured, rt.doc.authenticated())
		}
	}
	for _, ops := range paths {
		documented += len(ops.(map[string]any))
	}
	if documented != len(e.srv.routes()) {
		t.Errorf("documented operations got %d, want one per route (%d)", documented, len(e.srv.routes()))
	}

	n := 0
	for path, ops := range paths {
		for method, op := range ops.(map[string]any) {
			op := op.(map[string]any)
			method := strings.ToUpper(method)
			n++
			// Each operation gets its own account, so that one that ends sessions or deletes the account
			// leaves the others' tokens working.
			uid, tok := e.user(fmt.Sprintf("openapi-%d@example.com", n))
			t.Run(method+" "+path, func(t *testing.T) {
				target := path
				if strings.Contains(target, "{item_id}") {
					it := e.createItem(tok, "for "+method, nil)
					target = strings.ReplaceAll(target, "{item_id}", strconv.FormatInt(it.ID, 10))
				}
				if strings.Contains(target, "{session_id}") {
					claims, err := e.tokens.Verify(tok)
					if err != nil {
						t.Fatalf("Verify: %v", err)
					}
					target = strings.ReplaceAll(target, "{session_id}", strconv.FormatInt(claims.SessionID, 10))
				}
				target = strings.ReplaceAll(target, "{user_id}", strconv.FormatInt(uid, 10))
				target = strings.ReplaceAll(target, "{path}", "app.js")
				if strings.Contains(target, "{") {
					t.Fatalf("path %s has a parameter this test cannot fill", path)
				}
				ct, body := "", ""
				if rb, ok := op["requestBody"].(map[string]any); ok {
					for mt := range rb["content"].(map[string]any) {
						ct = mt
					}
					if ct == "application/json" {
						body = exampleBody(t, doc, rb["content"].(map[string]any)[ct].(map[string]any)["schema"])
					}
				}
				_, secured := op["security"]
				tk := ""
				if secured {
					tk = tok
					// Without a token the operation is refused.
					rec := e.do(method, target, "", ct, body)
					wantProblem(t, rec, http.StatusUnauthorized, "Not authenticated")
					conformAnswer(t, doc, op, rec, limited)
				}
				rec := e.do(method, target, tk, ct, body)
				if rec.Code == http.StatusNotFound || rec.Code == http.StatusMethodNotAllowed {
					t.Fatalf("status got %d, want the documented operation answered", rec.Code)
				}
				conformAnswer(t, doc, op, rec, limited)
			})
		}
	}
}

// exampleBody is a JSON object of the examples of schema's required properties: a valid body, so that
// the success of an operation is checked too.
func exampleBody(t *testing.T, doc map[string]any, schema any) string {
	t.Helper()
	s := resolve(t, doc, schema)
	props, _ := s["properties"].(map[string]any)
	body := map[string]any{}
	required, _ := s["required"].([]any)
	for _, name := range required {
		examples, _ := props[name.(string)].(map[string]any)["examples"].([]any)
		if len(examples) == 0 {
			t.Fatalf("required property %s has no example", name)
		}
		body[name.(string)] = examples[0]
	}
	b, _ := json.Marshal(body)
	return string(b)
}

// conformAnswer checks that rec's status is documented for op, and that its headers and JSON body
// conform to what the document says of that status. limited says whether the RateLimit headers must
// be present (on operations that document them).
func conformAnswer(t *testing.T, doc map[string]any, op map[string]any, rec *httptest.ResponseRecorder, limited bool) {
	t.Helper()
	responses := op["responses"].(map[string]any)
	resp, ok := responses[strconv.Itoa(rec.Code)].(map[string]any)
	if !ok {
		t.Errorf("status got %d, want one of the documented %v", rec.Code, keys(responses))
		return
	}
	headers, _ := resp["headers"].(map[string]any)
	for name, h := range headers {
		values := rec.Header().Values(name)
		if len(values) == 0 {
			if limited && strings.HasPrefix(name, "RateLimit") {
				t.Errorf("header %s: absent, want present while rate limiting is on", name)
			}
			continue
		}
		schema := resolve(t, doc, resolve(t, doc, h)["schema"])
		value := strings.Join(values, ", ")
		if hasType(schema, "integer") {
			n, err := strconv.ParseInt(value, 10, 64)
			if err != nil {
				t.Errorf("header %s: got %q, want an integer", name, value)
				continue
			}
			conform(t, doc, "header "+name, schema, float64(n))
			continue
		}
		conform(t, doc, "header "+name, schema, value)
	}
	for _, name := range []string{"RateLimit", "RateLimit-Policy", "Retry-After", "WWW-Authenticate", "Location", "Link", "X-Total-Count"} {
		if _, documented := headers[name]; rec.Header().Get(name) != "" && !documented {
			t.Errorf("header %s: sent with status %d, want it documented", name, rec.Code)
		}
	}
	content, _ := resp["content"].(map[string]any)
	if rec.Body.Len() == 0 {
		if len(content) > 0 {
			t.Errorf("body: got none, want one of %v", keys(content))
		}
		return
	}
	mt, _, _ := mime.ParseMediaType(rec.Header().Get("Content-Type"))
	media, ok := content[mt].(map[string]any)
	if !ok {
		media, ok = content["*/*"].(map[string]any)
	}
	if !ok {
		t.Errorf("Content-Type got %q, want one of %v", mt, keys(content))
		return
	}
	if schema, ok := media["schema"].(map[string]any); ok && strings.HasSuffix(mt, "json") {
		var v any
		if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
			t.Errorf("body: got invalid JSON (%v), want %s", err, mt)
			return
		}
		conform(t, doc, "body", schema, v)
	}
}

func keys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestWriteOpenAPI writes the served document to the file named by OPENAPI_OUT, so that
// scripts/openapi-lint.sh can lint it without starting a server or a database. It skips when the
// variable is unset, which is how the ordinary test run sees it.
func TestWriteOpenAPI(t *testing.T) {
	out := os.Getenv("OPENAPI_OUT")
	if out == "" {
		t.Skip("OPENAPI_OUT is not set")
	}
	version := os.Getenv("OPENAPI_VERSION")
	if version == "" {
		version = "dev"
	}
	s := NewServer(Config{Logger: slog.New(slog.DiscardHandler), Version: version})
	if !json.Valid(s.openapi) {
		t.Fatal("the OpenAPI document: got invalid JSON, want a document")
	}
	// OPENAPI_OUT is a path the developer chose, on their own machine.
	if err := os.MkdirAll(filepath.Dir(out), 0o750); err != nil { //nolint:gosec // G703: the developer's own path
		t.Fatalf("creating the directory of %s: got %v, want nil", out, err)
	}
	if err := os.WriteFile(out, append(s.openapi, '\n'), 0o600); err != nil { //nolint:gosec // G703: the developer's own path
		t.Fatalf("writing %s: got %v, want nil", out, err)
	}
}

// resolve follows v's $ref, if any, within doc.
func resolve(t *testing.T, doc map[string]any, v any) map[string]any {
	t.Helper()
	m, _ := v.(map[string]any)
	for range 8 {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		var cur any = doc
		for _, k := range strings.Split(strings.TrimPrefix(ref, "#/"), "/") {
			cur = at(t, cur, k)
		}
		m, _ = cur.(map[string]any)
	}
	t.Fatalf("$ref chain too long at %v", m)
	return nil
}

// goPattern turns a JSON Schema (ECMAScript) pattern into Go syntax: \uXXXX becomes \x{XXXX}.
func goPattern(t *testing.T, p string) *regexp.Regexp {
	t.Helper()
	re, err := regexp.Compile(regexp.MustCompile(`\\u([0-9a-fA-F]{4})`).ReplaceAllString(p, `\x{$1}`))
	if err != nil {
		t.Fatalf("pattern %q: got %v, want a valid regular expression", p, err)
	}
	return re
}

// jsonTypeOf names the JSON Schema type of a decoded JSON value.
func jsonTypeOf(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case bool:
		return "boolean"
	case float64:
		if v == math.Trunc(v) {
			return "integer"
		}
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// conform checks a decoded JSON value against schema, in the subset of JSON Schema that the document
// uses, so that a test shows the document is true of what the server sends.
func conform(t *testing.T, doc map[string]any, where string, schema map[string]any, v any) {
	t.Helper()
	schema = resolve(t, doc, schema)
	if typ := jsonTypeOf(v); !hasType(schema, typ) {
		t.Errorf("%s: got %s %.100v, want type %v", where, typ, v, schema["type"])
		return
	}
	if enum, ok := schema["enum"].([]any); ok && !slices.Contains(enum, v) {
		t.Errorf("%s: got %q, want one of %v", where, v, enum)
	}
	num := func(k string) (float64, bool) { f, ok := schema[k].(float64); return f, ok }
	switch v := v.(type) {
	case string:
		n := float64(utf8.RuneCountInString(v))
		if most, ok := num("maxLength"); ok && n > most {
			t.Errorf("%s: got %v characters, want at most %v", where, n, most)
		}
		if least, ok := num("minLength"); ok && n < least {
			t.Errorf("%s: got %v characters, want at least %v", where, n, least)
		}
		if p, ok := schema["pattern"].(string); ok && !goPattern(t, p).MatchString(v) {
			t.Errorf("%s: got %.100q, want a match of %s", where, v, p)
		}
	case float64:
		if most, ok := num("maximum"); ok && v > most {
			t.Errorf("%s: got %v, want at most %v", where, v, most)
		}
		if least, ok := num("minimum"); ok && v < least {
			t.Errorf("%s: got %v, want at least %v", where, v, least)
		}
	case []any:
		if most, ok := num("maxItems"); ok && float64(len(v)) > most {
			t.Errorf("%s: got %d items, want at most %v", where, len(v), most)
		}
		for i, item := range v {
			conform(t, doc, fmt.Sprintf("%s[%d]", where, i), schema["items"].(map[string]any), item)
		}
	case map[string]any:
		props, _ := schema["properties"].(map[string]any)
		required, _ := schema["required"].([]any)
		for _, name := range required {
			if _, ok := v[name.(string)]; !ok {
				t.Errorf("%s: %s absent, want present", where, name)
			}
		}
		for name, value := range v {
			p, ok := props[name].(map[string]any)
			if !ok {
				if ap, isBool := schema["additionalProperties"].(bool); isBool && !ap {
					t.Errorf("%s: got property %q, want none but %v", where, name, keys(props))
				}
				continue
			}
			conform(t, doc, where+"."+name, p, value)
		}
	}
}

// TestOpenAPIBounds: every string, integer and array that the document describes is bounded, as the
// OWASP ruleset demands, so that a regression is caught by go test without Spectral.
func TestOpenAPIBounds(t *testing.T) {
	doc := openAPIDoc(t, newEnv(t))
	var walk func(where string, v any)
	walk = func(where string, v any) {
		switch v := v.(type) {
		case []any:
			for i, item := range v {
				walk(fmt.Sprintf("%s[%d]", where, i), item)
			}
		case map[string]any:
			_, enum := v["enum"]
			_, maxLength := v["maxLength"]
			_, minimum := v["minimum"]
			_, maximum := v["maximum"]
			_, format := v["format"]
			_, maxItems := v["maxItems"]
			switch {
			case hasType(v, "string") && !enum && !maxLength:
				t.Errorf("%s: a string without maxLength or enum", where)
			case hasType(v, "integer") && !(minimum && maximum && format):
				t.Errorf("%s: an integer without minimum, maximum and format", where)
			case hasType(v, "array") && !maxItems:
				t.Errorf("%s: an array without maxItems", where)
			}
			for k, child := range v {
				if k != "examples" && k != "enum" && k != "default" {
					walk(where+"."+k, child)
				}
			}
		}
	}
	walk("$", doc)

	for name, s := range at(t, doc, "components", "schemas").(map[string]any) {
		if ap, ok := s.(map[string]any)["additionalProperties"].(bool); !ok || ap {
			t.Errorf("components.schemas.%s: additionalProperties got %v, want false", name, s.(map[string]any)["additionalProperties"])
		}
	}
	for path, ops := range at(t, doc, "paths").(map[string]any) {
		for method, op := range ops.(map[string]any) {
			probe := path == "/health" || path == "/readyz"
			for code, resp := range op.(map[string]any)["responses"].(map[string]any) {
				headers, _ := resp.(map[string]any)["headers"].(map[string]any)
				where := fmt.Sprintf("%s %s %s", method, path, code)
				_, rl := headers["RateLimit"]
				_, rlp := headers["RateLimit-Policy"]
				if rl != !probe || rlp != !probe {
					t.Errorf("%s: RateLimit documented %v, RateLimit-Policy %v; want both %v", where, rl, rlp, !probe)
				}
				if _, ok := headers["Retry-After"]; (code == "429" || code == "503") && !ok {
					t.Errorf("%s: Retry-After not documented, want it", where)
				}
				if _, ok := headers["WWW-Authenticate"]; code == "401" && !ok {
					t.Errorf("%s: WWW-Authenticate not documented, want it", where)
				}
			}
		}
	}
}

// TestOpenAPIProblemsConform: problems provoked by hostile input (many unknown keys, long keys full of
// control characters, repeated keys) stay within what the document says of a problem.
func TestOpenAPIProblemsConform(t *testing.T) {
	e := newEnv(t)
	doc := openAPIDoc(t, e)
	_, tok := e.user("problems@example.com")
	problemSchema := map[string]any{"$ref": "#/components/schemas/Problem"}
	long := strings.Repeat("\u0001\u0085\u202e\u00e9", 40)
	var many strings.Builder
	many.WriteString("{")
	for i := range 500 {
		fmt.Fprintf(&many, "%q:0,", fmt.Sprint("k", i))
	}
	many.WriteString(`"name":"x"}`)
	jsonLong, _ := json.Marshal(map[string]any{long: 1})
	dupLong := `{` + strings.Repeat(string(jsonLong[1:len(jsonLong)-1])+",", 2) + `"name":"x"}`
	// The longest echoes: 64 ASCII bytes of a field name, and 64 control bytes quoted as \x01 each.
	jsonASCII, _ := json.Marshal(map[string]any{strings.Repeat("a", 100): 1})
	jsonControl, _ := json.Marshal(map[string]any{strings.Repeat("\u0001", 100): 1})
	dupControl := `{` + strings.Repeat(string(jsonControl[1:len(jsonControl)-1])+",", 2) + `"name":"x"}`
	cases := []struct {
		name                  string
		method, target, ct    string
		body                  string
		status, errorsAtLeast int
	}{
		{"many unknown keys", "POST", "/items/", "application/json", many.String(), 422, maxFieldErrors},
		{"long control-character key", "POST", "/items/", "application/json", string(jsonLong), 422, 1},
		{"repeated long key", "POST", "/items/", "application/json", dupLong, 422, 1},
		{"long ASCII key", "POST", "/items/", "application/json", string(jsonASCII), 422, 1},
		{"repeated control-character key", "POST", "/items/", "application/json", dupControl, 422, 1},
		{"form with unknown and repeated keys", "POST", "/auth/login", "application/x-www-form-urlencoded",
			"username=a&username=b&" + url.QueryEscape(long) + "=1&x&y&z", 422, 3},
		{"bad query parameters", "GET", "/items/?limit=0&offset=-1", "", "", 422, 2},
		{"bad path parameter", "GET", "/items/00", "", "", 422, 1},
		{"wrong media type", "POST", "/items/", "text/plain", "{}", 415, 0},
		{"bad grant type", "POST", "/auth/login", "application/x-www-form-urlencoded", "grant_type=" + url.QueryEscape(long) + "&username=a&password=b", 422, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := e.do(c.method, c.target, tok, c.ct, c.body)
			if rec.Code != c.status {
				t.Fatalf("status got %d, want %d (body %.300s)", rec.Code, c.status, rec.Body.String())
			}
			var v map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
				t.Fatalf("body: got invalid JSON (%v), want a problem", err)
			}
			if errs, _ := v["errors"].([]any); len(errs) < c.errorsAtLeast || len(errs) > maxFieldErrors {
				t.Errorf("errors got %d, want %d to %d", len(errs), c.errorsAtLeast, maxFieldErrors)
			}
			conform(t, doc, "problem", problemSchema, v)
		})
	}
}

// TestOpenAPISuccessHeadersConform: the headers of a created item and of a page of items are as
// documented.
func TestOpenAPISuccessHeadersConform(t *testing.T) {
	e := newEnv(t)
	doc := openAPIDoc(t, e)
	_, tok := e.user("headers@example.com")
	create := at(t, doc, "paths", "/items/", "post").(map[string]any)
	list := at(t, doc, "paths", "/items/", "get").(map[string]any)
	for range 3 {
		rec := e.doJSON("POST", "/items/", tok, `{"name":"n","description":"line one\nline two"}`)
		wantStatus(t, rec, http.StatusCreated)
		conformAnswer(t, doc, create, rec, false)
	}
	for target, next := range map[string]bool{"/items/?limit=1": true, "/items?limit=1&offset=1": true, "/items/?limit=100": false} {
		rec := e.do("GET", target, tok, "", "")
		wantStatus(t, rec, http.StatusOK)
		conformAnswer(t, doc, list, rec, false)
		if got := rec.Header().Get("Link") != ""; got != next {
			t.Errorf("GET %s: Link present %v, want %v", target, got, next)
		}
	}
}

// TestProblemTitlesMatchDocument: every error status's text fits the documented title.
func TestProblemTitlesMatchDocument(t *testing.T) {
	re := goPattern(t, problemTitlePattern)
	for code := 400; code <= 599; code++ {
		title := http.StatusText(code)
		if title == "" {
			continue
		}
		if !re.MatchString(title) || len(title) > problemTitleMax {
			t.Errorf("StatusText(%d) = %q: want a match of %s of at most %d characters", code, title, problemTitlePattern, problemTitleMax)
		}
	}
}

// TestOpenAPIRefusalsConform: a 429 of the per-client budget and of the login lockout carry the
// documented headers, in the documented formats.
func TestOpenAPIRefusalsConform(t *testing.T) {
	e := newEnv(t, withLimits(ratelimit.NewMemory(100), ratelimit.Policy{Name: "default", Limit: 1000, Window: time.Minute},
		ratelimit.Policy{Name: "login", Limit: 3, Window: time.Minute}, ratelimit.Policy{Name: "register", Limit: 100, Window: time.Minute},
		ratelimit.Policy{Name: "login-failures", Limit: 1, Window: time.Hour}))
	doc := openAPIDoc(t, e)
	login := at(t, doc, "paths", "/auth/login", "post").(map[string]any)
	form := "application/x-www-form-urlencoded"
	bad := "username=nobody%40example.com&password=wrong-password"

	rec := e.do("POST", "/auth/login", "", form, bad)
	wantStatus(t, rec, http.StatusUnauthorized)
	conformAnswer(t, doc, login, rec, true)
	if n := len(rec.Header().Values("RateLimit-Policy")); n != 2 {
		t.Errorf("RateLimit-Policy on login: got %d values, want 2 (the general and the login budget)", n)
	}

	rec = e.do("POST", "/auth/login", "", form, bad) // the email's one failure is spent: locked
	wantStatus(t, rec, http.StatusTooManyRequests)
	conformAnswer(t, doc, login, rec, true)

	rec = e.do("POST", "/auth/login", "", form, "username=other%40example.com&password=x")
	wantStatus(t, rec, http.StatusUnauthorized)
	rec = e.do("POST", "/auth/login", "", form, bad) // the client's login budget of 3 is spent
	wantStatus(t, rec, http.StatusTooManyRequests)
	conformAnswer(t, doc, login, rec, true)
	if rec.Header().Get("Retry-After") == "" {
		t.Error("Retry-After: absent on 429, want present")
	}
}

// TestOpenAPISecurity: every authenticated operation requires its route's permission, as a scope of each
// scheme; the scopes are the permissions that roles grant, declared in the OAuth2 flow whose URLs are this
// API's public login and refresh; and no admin operation shares a security requirement with another one
// (what Spectral's owasp:api5:2023-admin-security-unique and oas3-operation-security-defined check).
func TestOpenAPISecurity(t *testing.T) {
	e := newEnv(t)
	doc := openAPIDoc(t, e)
	schemes := at(t, doc, "components", "securitySchemes").(map[string]any)
	flow := at(t, doc, "components", "securitySchemes", "OAuth2PasswordBearer", "flows", "password").(map[string]any)
	for key, path := range map[string]string{"tokenUrl": "/auth/login", "refreshUrl": "/auth/refresh"} {
		if flow[key] != path {
			t.Errorf("password flow %s got %v, want %s", key, flow[key], path)
		}
		if _, secured := at(t, doc, "paths", path, "post").(map[string]any)["security"]; secured {
			t.Errorf("POST %s (the flow's %s): security documented, want a public operation", path, key)
		}
	}
	// The schemes' description says that the refreshUrl does not take RFC 6749's refresh form.
	rec := e.do("POST", "/auth/refresh", "", "application/x-www-form-urlencoded", "grant_type=refresh_token&refresh_token=x")
	wantStatus(t, rec, http.StatusUnsupportedMediaType)

	declared := flow["scopes"].(map[string]any)
	var granted []string
	for _, perms := range rolePermissions {
		granted = append(granted, perms...)
	}
	slices.Sort(granted)
	if got := keys(declared); !slices.Equal(got, slices.Compact(granted)) {
		t.Errorf("declared scopes got %v, want the permissions roles grant %v", got, slices.Compact(granted))
	}

	paths := at(t, doc, "paths").(map[string]any)
	admin, other := map[string]string{}, map[string]bool{}
	for _, rt := range e.srv.routes() {
		path := strings.ReplaceAll(rt.path, "...}", "}")
		op := at(t, paths, path, strings.ToLower(rt.method)).(map[string]any)
		reqs, _ := op["security"].([]any)
		if !rt.doc.authenticated() {
			continue // checkRoutesAgainstDocument: a public operation documents no security
		}
		if len(reqs) != len(schemes) {
			t.Errorf("%s %s: %d security requirements, want one per scheme (%d)", rt.method, path, len(reqs), len(schemes))
		}
		for _, req := range reqs {
			for scheme, scopes := range req.(map[string]any) {
				if _, ok := schemes[scheme]; !ok {
					t.Errorf("%s %s: requirement of scheme %q, want a declared scheme %v", rt.method, path, scheme, keys(schemes))
				}
				got := toStrings(scopes)
				if !slices.Equal(got, []string{rt.doc.permission}) {
					t.Errorf("%s %s: %s scopes got %v, want [%s]", rt.method, path, scheme, got, rt.doc.permission)
				}
				for _, s := range got {
					if _, ok := declared[s]; !ok {
						t.Errorf("%s %s: scope %q, want one of the declared %v", rt.method, path, s, keys(declared))
					}
				}
			}
			b, _ := json.Marshal(req)
			if strings.HasPrefix(path, "/admin/") {
				admin[string(b)] = rt.method + " " + path
			} else {
				other[string(b)] = true
			}
		}
	}
	if len(admin) == 0 {
		t.Fatal("no admin operation documents security, want some")
	}
	for req, where := range admin {
		if other[req] {
			t.Errorf("%s: requirement %s is shared with a non-admin operation, want it unique to admin ones", where, req)
		}
	}
}

// TestOpenAPIQueryParameters: every documented query parameter is one its handler reads, and the
// document and the handler agree on its values: a probe that the schema admits is served, and one that it
// refuses is answered 422 naming the parameter.
func TestOpenAPIQueryParameters(t *testing.T) {
	e := newEnv(t)
	doc := openAPIDoc(t, e)
	_, tok := e.adminUser("query@example.com") // an administrator may call every operation
	probed := map[string]bool{}
	for path, ops := range at(t, doc, "paths").(map[string]any) {
		for method, op := range ops.(map[string]any) {
			params, _ := op.(map[string]any)["parameters"].([]any)
			for _, p := range params {
				p := p.(map[string]any)
				if p["in"] != "query" {
					continue
				}
				name := p["name"].(string)
				where := strings.ToUpper(method) + " " + path + " ?" + name
				if required, _ := p["required"].(bool); required {
					t.Errorf("%s: required, want optional (every query parameter is)", where)
				}
				if d, _ := p["description"].(string); d == "" {
					t.Errorf("%s: no description, want one", where)
				}
				if strings.Contains(path, "{") {
					t.Fatalf("%s: the path has a parameter this test cannot fill", where)
				}
				schema := p["schema"].(map[string]any)
				for _, v := range queryProbes(t, schema) {
					target := path + "?" + url.Values{name: {v}}.Encode()
					rec := e.do(strings.ToUpper(method), target, tok, "", "")
					admitted := admits(t, schema, v)
					switch {
					case admitted && rec.Code != http.StatusOK:
						t.Errorf("%s=%q: the schema admits it, but got %d (body %.200s), want 200", where, v, rec.Code, rec.Body.String())
					case !admitted && !refusesQuery(rec, name):
						t.Errorf("%s=%q: the schema refuses it, but got %d (body %.200s), want 422 naming %s", where, v, rec.Code, rec.Body.String(), name)
					}
				}
				probed[name] = true
			}
		}
	}
	for _, name := range []string{"limit", "offset", "q", "event", "since", "until", "user_id"} {
		if !probed[name] {
			t.Errorf("query parameter %s: not documented, want it probed", name)
		}
	}
}

// queryProbes are values for a query parameter of schema: its edges, values just outside them, and for
// strings the control characters that checkString refuses, appended to a value the schema admits.
func queryProbes(t *testing.T, schema map[string]any) []string {
	t.Helper()
	if hasType(schema, "integer") {
		low, high := schema["minimum"].(float64), schema["maximum"].(float64)
		probes := []string{fmt.Sprint(int64(low)), "x", ""}
		if high < math.MaxInt64 {
			probes = append(probes, fmt.Sprint(int64(high)), fmt.Sprint(int64(high)+1))
		}
		if low > math.MinInt64 {
			probes = append(probes, fmt.Sprint(int64(low)-1))
		}
		return probes
	}
	candidates := []string{"", "a", "example", "admin.role.change", "2000-01-01T00:00:00Z", "2000-01-01T00:00:00+01:00"}
	probes := slices.Clone(candidates)
	valid := ""
	for _, c := range candidates {
		if c != "" && admits(t, schema, c) {
			valid = c
			break
		}
	}
	if valid == "" {
		t.Fatalf("schema %v: admits none of %q, want a value to probe with", schema, candidates)
	}
	for _, bad := range []string{"\x00", "\x01", "\t", "\n", "\x7f", "\u0085", "\u202e", "\u2066", "\ufffd"} {
		probes = append(probes, valid+bad)
	}
	if most, ok := schema["maxLength"].(float64); ok {
		probes = append(probes, strings.Repeat("a", int(most)), strings.Repeat("a", int(most)+1))
	}
	return probes
}

// admits reports whether the query value v conforms to schema, in the subset of JSON Schema that query
// parameters use. A date-time is read as time.Parse reads RFC 3339, which is stricter than some
// validators: the probes avoid the difference (lower-case t and z, leap seconds).
func admits(t *testing.T, schema map[string]any, v string) bool {
	t.Helper()
	if hasType(schema, "integer") {
		n, err := strconv.ParseInt(v, 10, 64)
		return err == nil && float64(n) >= schema["minimum"].(float64) && float64(n) <= schema["maximum"].(float64)
	}
	if most, ok := schema["maxLength"].(float64); ok && float64(utf8.RuneCountInString(v)) > most {
		return false
	}
	if least, ok := schema["minLength"].(float64); ok && float64(utf8.RuneCountInString(v)) < least {
		return false
	}
	if p, ok := schema["pattern"].(string); ok && !goPattern(t, p).MatchString(v) {
		return false
	}
	if schema["format"] == "date-time" {
		if _, err := time.Parse(time.RFC3339, v); err != nil {
			return false
		}
	}
	return true
}

// refusesQuery reports whether rec is a 422 that lists the query parameter name among its errors.
func refusesQuery(rec *httptest.ResponseRecorder, name string) bool {
	if rec.Code != http.StatusUnprocessableEntity {
		return false
	}
	var p struct {
		Errors []fieldError `json:"errors"`
	}
	if json.Unmarshal(rec.Body.Bytes(), &p) != nil {
		return false
	}
	return slices.ContainsFunc(p.Errors, func(fe fieldError) bool { return fe.Location == "query" && fe.Field == name })
}

// TestAuditEventNamesMatchDocument: every event name of audit.go fits what the document says of
// AuditEventResponse.event (the event filter's pattern), so that no stored event contradicts it.
func TestAuditEventNamesMatchDocument(t *testing.T) {
	f, err := parser.ParseFile(gotoken.NewFileSet(), "audit.go", nil, 0)
	if err != nil {
		t.Fatalf("parsing audit.go: got %v, want nil", err)
	}
	n := 0
	ast.Inspect(f, func(node ast.Node) bool {
		spec, ok := node.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, name := range spec.Names {
			if !strings.HasPrefix(name.Name, "event") || i >= len(spec.Values) {
				continue
			}
			lit, ok := spec.Values[i].(*ast.BasicLit)
			if !ok {
				t.Errorf("%s: got %T, want a string literal", name.Name, spec.Values[i])
				continue
			}
			v, _ := strconv.Unquote(lit.Value)
			if !eventParam.Pattern.MatchString(v) || len(v) > eventParam.Max {
				t.Errorf("%s = %q: want a match of %s of at most %d characters", name.Name, v, eventParam.Pattern, eventParam.Max)
			}
			n++
		}
		return true
	})
	if n == 0 {
		t.Fatal("audit.go: no event constants found, want some")
	}
}

// TestStoredStringPatterns: the patterns the document states for stored client addresses and User-Agent
// headers hold for what clientIP writes and what net/http admits in a header.
func TestStoredStringPatterns(t *testing.T) {
	ip := goPattern(t, patternClientIP)
	for _, remote := range []string{"192.0.2.1:1234", "[2001:db8::1]:443", "[fe80::1%eth0]:443", "[fe80::1%7]:443",
		"[::ffff:192.0.2.1]:80", "[2001:db8:1:2:3:4:5:6]:1", "not an address", ""} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = remote
		if got := clientIP(r); !ip.MatchString(got) || utf8.RuneCountInString(got) > 64 {
			t.Errorf("clientIP of peer %q = %q: want a match of %s of at most 64 characters", remote, got, patternClientIP)
		}
	}
	if !ip.MatchString("") {
		t.Errorf("%s: does not admit \"\" (the command line's audit events), want it to", patternClientIP)
	}

	ua := goPattern(t, patternHeaderValue)
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { got <- r.UserAgent() }))
	defer srv.Close()
	for b := range 0x80 {
		value := "a" + string(rune(b)) + "a"
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatalf("dial: got %v, want nil", err)
		}
		_, _ = fmt.Fprintf(conn, "GET / HTTP/1.1\r\nHost: x\r\nUser-Agent: %s\r\nConnection: close\r\n\r\n", value)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatalf("User-Agent %q: reading the response: got %v, want nil", value, err)
		}
		_ = resp.Body.Close()
		_ = conn.Close()
		if resp.StatusCode != http.StatusOK {
			continue // refused: nothing is stored
		}
		if seen := <-got; !ua.MatchString(seen) {
			t.Errorf("User-Agent %q: admitted by net/http, but not a match of %s", seen, patternHeaderValue)
		}
	}
}
