package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// jsonEndpoint is an endpoint that takes a JSON body, with a body it would accept and the string fields
// it reads.
type jsonEndpoint struct {
	name, method, path, tok string
	valid                   map[string]any
	fields                  []string
}

// body renders the endpoint's valid body with changes: a nil value deletes a field, rawFields are
// inserted verbatim (to write values and keys that json.Marshal cannot).
func (ep jsonEndpoint) body(changes map[string]any, rawFields ...string) string {
	m := map[string]any{}
	for k, v := range ep.valid {
		m[k] = v
	}
	for k, v := range changes {
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	b, _ := json.Marshal(m)
	if len(rawFields) == 0 {
		return string(b)
	}
	raw := "{" + strings.Join(rawFields, ",")
	if len(m) > 0 {
		raw += ","
	}
	return raw + string(b[1:])
}

// hostileEnv is a store with one user and one item, and the JSON endpoints that must refuse hostile input.
type hostileEnv struct {
	*env
	tok       string
	itemPath  string
	endpoints []jsonEndpoint
}

func newHostileEnv(t *testing.T) *hostileEnv {
	e := newEnv(t)
	_, tok := e.user("victim@example.com")
	it := e.createItem(tok, "Original", ptr("original description"))
	itemPath := "/items/" + strconv.FormatInt(it.ID, 10)
	return &hostileEnv{env: e, tok: tok, itemPath: itemPath, endpoints: []jsonEndpoint{
		{"register", "POST", "/auth/register", "", map[string]any{"email": "newcomer@example.com", "password": testPassword}, []string{"email", "password"}},
		{"create", "POST", "/items/", tok, map[string]any{"name": "New", "description": "new"}, []string{"name", "description"}},
		{"create without slash", "POST", "/items", tok, map[string]any{"name": "New", "description": "new"}, []string{"name", "description"}},
		{"update", "PUT", itemPath, tok, map[string]any{"name": "Changed", "description": "changed"}, []string{"name", "description"}},
	}}
}

// refuses sends a request that must be refused with status and checks that the store did not change.
func (h *hostileEnv) refuses(t *testing.T, r *http.Request, status int) *httptest.ResponseRecorder {
	t.Helper()
	before := h.snapshot()
	rec := h.serve(r)
	if rec.Code != status {
		t.Errorf("status got %d, want %d (body %.300s)", rec.Code, status, rec.Body.String())
	}
	if after := h.snapshot(); after != before {
		t.Errorf("store changed:\ngot  %s\nwant %s", after, before)
	}
	return rec
}

// TestHostileEndpointsAcceptTheirValidBody makes sure the hostile tables below fail for the reason they
// name, not because the base body was already wrong.
func TestHostileEndpointsAcceptTheirValidBody(t *testing.T) {
	h := newHostileEnv(t)
	for _, ep := range h.endpoints {
		rec := h.serve(bearer(newRequest(ep.method, ep.path, "application/json; charset=UTF-8", ep.body(nil)), ep.tok))
		if rec.Code >= 300 {
			t.Errorf("%s with its valid body: status got %d, want 2xx (%s)", ep.name, rec.Code, rec.Body.String())
		}
	}
	// The media type's name is case-insensitive.
	rec := h.serve(bearer(newRequest("POST", "/items/", "Application/JSON", `{"name":"x"}`), h.tok))
	wantStatus(t, rec, http.StatusCreated)
}

func TestHostileJSON(t *testing.T) {
	h := newHostileEnv(t)
	type bodyCase struct {
		name string
		body func(ep jsonEndpoint) string
	}
	fixed := func(s string) func(jsonEndpoint) string { return func(jsonEndpoint) string { return s } }
	first := func(ep jsonEndpoint) string { return ep.fields[0] }
	cases := []bodyCase{
		{"empty body", fixed("")},
		{"whitespace", fixed("  \n ")},
		{"null", fixed("null")},
		{"array", fixed("[]")},
		{"array of the object", func(ep jsonEndpoint) string { return "[" + ep.body(nil) + "]" }},
		{"string", fixed(`"x"`)},
		{"closing brace", fixed(`}`)},
		{"bare word", fixed(`garbage`)},
		{"number", fixed("1")},
		{"bool", fixed("true")},
		{"malformed", fixed(`{name: "x"}`)},
		{"single quotes", fixed(`{'name': 'x'}`)},
		{"truncated", func(ep jsonEndpoint) string { b := ep.body(nil); return b[:len(b)-1] }},
		{"truncated in a string", func(ep jsonEndpoint) string { b := ep.body(nil); return b[:len(b)/2] }},
		{"missing value", func(ep jsonEndpoint) string { return `{"` + first(ep) + `":}` }},
		{"trailing comma", func(ep jsonEndpoint) string { b := ep.body(nil); return b[:len(b)-1] + ",}" }},
		{"trailing garbage", func(ep jsonEndpoint) string { return ep.body(nil) + " x" }},
		{"two objects", func(ep jsonEndpoint) string { return ep.body(nil) + ep.body(nil) }},
		{"trailing bracket", func(ep jsonEndpoint) string { return ep.body(nil) + "]" }},
		{"trailing NUL", func(ep jsonEndpoint) string { return ep.body(nil) + "\x00" }},
		{"duplicate key", func(ep jsonEndpoint) string { return ep.body(nil, `"`+first(ep)+`":"dup"`) }},
		{"duplicate key escaped", func(ep jsonEndpoint) string {
			f := first(ep)
			return ep.body(nil, fmt.Sprintf(`"\u%04x%s":"dup"`, f[0], f[1:]))
		}},
		{"key in upper case", func(ep jsonEndpoint) string { return ep.body(nil, `"`+strings.ToUpper(first(ep))+`":"x"`) }},
		{"key in upper case alone", func(ep jsonEndpoint) string {
			return ep.body(map[string]any{first(ep): nil}, `"`+strings.ToUpper(first(ep))+`":"x"`)
		}},
		{"key title case alone", func(ep jsonEndpoint) string {
			f := first(ep)
			return ep.body(map[string]any{f: nil}, `"`+strings.ToUpper(f[:1])+f[1:]+`":"x"`)
		}},
		{"unknown field id", func(ep jsonEndpoint) string { return ep.body(map[string]any{"id": 1}) }},
		{"unknown field owner_id", func(ep jsonEndpoint) string { return ep.body(map[string]any{"owner_id": 2}) }},
		{"unknown field is_active", func(ep jsonEndpoint) string { return ep.body(map[string]any{"is_active": false}) }},
		{"unknown field password_hash", func(ep jsonEndpoint) string { return ep.body(map[string]any{"password_hash": "x"}) }},
		{"two unknown fields", func(ep jsonEndpoint) string { return ep.body(map[string]any{"owner_id": 2, "id": 1}) }},
		{"unknown field __proto__", func(ep jsonEndpoint) string { return ep.body(map[string]any{"__proto__": map[string]any{}}) }},
		{"long unknown field", func(ep jsonEndpoint) string { return ep.body(map[string]any{strings.Repeat("é", 100): 1}) }},
		{"invalid UTF-8 in a value", func(ep jsonEndpoint) string {
			return ep.body(map[string]any{first(ep): nil}, `"`+first(ep)+"\":\"a\xffb\"")
		}},
		{"invalid UTF-8 in the last value", func(ep jsonEndpoint) string {
			last := ep.fields[len(ep.fields)-1]
			return ep.body(map[string]any{last: nil}, `"`+last+"\":\"abcdefghijklmn\xc3\x28\"")
		}},
		{"invalid UTF-8 in a key", func(ep jsonEndpoint) string { return ep.body(nil, "\"k\xc3\x28\":1") }},
		{"deep nesting", func(ep jsonEndpoint) string {
			return `{"` + first(ep) + `":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + "}"
		}},
	}
	for _, ep := range h.endpoints {
		for _, f := range ep.fields {
			for _, v := range []struct{ name, raw string }{
				{"number", "12"}, {"float", "1e999"}, {"object", `{"a":"b"}`}, {"bool", "true"},
				{"array", `["x"]`}, {"empty object", "{}"},
				{"NUL", `"a\u0000b"`}, {"raw NUL", "\"a\x00b\""}, {"escape", `"a\u001bb"`}, {"DEL", `"a\u007fb"`},
				{"C1 control", `"a\u0085b"`}, {"bell", `"a\u0007b"`}, {"raw newline", "\"a\nb\""},
				{"lone surrogate", `"a\ud800b"`}, {"replacement char", `"a\ufffdb"`},
			} {
				cases = append(cases, bodyCase{f + " " + v.name, func(e jsonEndpoint) string {
					if e.name != ep.name {
						return ""
					}
					return e.body(map[string]any{f: nil}, `"`+f+`":`+v.raw)
				}})
			}
		}
	}

	for _, ep := range h.endpoints {
		for _, tc := range cases {
			body := tc.body(ep)
			if body == "" && !strings.HasPrefix(tc.name, "empty") {
				continue // a field case of another endpoint
			}
			t.Run(ep.name+"/"+tc.name, func(t *testing.T) {
				rec := h.refuses(t, bearer(newRequest(ep.method, ep.path, "application/json", body), ep.tok), http.StatusUnprocessableEntity)
				p := wantProblem(t, rec, http.StatusUnprocessableEntity, "")
				if len(p.Errors) == 0 {
					t.Errorf("errors got none, want the offending field or body listed")
				}
			})
		}
	}
}

// TestHostileFieldValues checks field rules one endpoint at a time: limits one character past the edge,
// control characters, and values the update endpoint cannot take.
func TestHostileFieldValues(t *testing.T) {
	h := newHostileEnv(t)
	long := func(n int) string { return strings.Repeat("x", n) }
	tests := []struct {
		endpoint string
		changes  map[string]any
		raw      string
		field    string
	}{
		{"create", map[string]any{"name": ""}, "", "name"},
		{"create", map[string]any{"name": long(256)}, "", "name"},
		{"create", map[string]any{"name": strings.Repeat("é", 256)}, "", "name"},
		{"create", map[string]any{"name": strings.Repeat("😀", 256)}, "", "name"},
		{"create", map[string]any{"name": "tab\there"}, "", "name"},
		{"create", map[string]any{"name": "line\nbreak"}, "", "name"},
		{"create", map[string]any{"name": "carriage\rreturn"}, "", "name"},
		{"create", map[string]any{"name": nil}, "", "name"},
		{"create", map[string]any{"name": nil}, `"name":null`, "name"},
		{"create", map[string]any{"description": long(10001)}, "", "description"},
		{"create", map[string]any{"description": strings.Repeat("€", 10001)}, "", "description"},
		{"create", map[string]any{"description": "ctrl\x01char"}, "", "description"},
		{"create", map[string]any{"description": "esc\x1bchar"}, "", "description"},
		{"update", map[string]any{"name": ""}, "", "name"},
		{"update", map[string]any{"name": long(256)}, "", "name"},
		{"update", map[string]any{"name": nil}, `"name":null`, "name"},
		{"update", map[string]any{"name": "a\u2028b\u0000"}, "", "name"},
		{"create", map[string]any{"name": "invoice\u202Efdp.exe"}, "", "name"},
		{"update", map[string]any{"name": "isolate\u2066x\u2069"}, "", "name"},
		{"update", map[string]any{"description": long(10001)}, "", "description"},
		{"register", map[string]any{"password": long(11)}, "", "password"},
		{"register", map[string]any{"password": strings.Repeat("🔒", 11)}, "", "password"},
		{"register", map[string]any{"password": long(257)}, "", "password"},
		{"register", map[string]any{"password": strings.Repeat("é", 257)}, "", "password"},
		{"register", map[string]any{"password": ""}, "", "password"},
		{"register", map[string]any{"password": nil}, "", "password"},
		{"register", map[string]any{"password": "abc\x00defghijklmn"}, "", "password"},
		{"register", map[string]any{"email": nil}, "", "email"},
		{"register", map[string]any{"email": nil, "password": nil}, "", "email"},
	}
	eps := map[string]jsonEndpoint{}
	for _, ep := range h.endpoints {
		eps[ep.name] = ep
	}
	for _, tc := range tests {
		ep := eps[tc.endpoint]
		var body string
		if tc.raw != "" {
			body = ep.body(tc.changes, tc.raw)
		} else {
			body = ep.body(tc.changes)
		}
		t.Run(fmt.Sprintf("%s/%.40s", tc.endpoint, body), func(t *testing.T) {
			rec := h.refuses(t, bearer(newRequest(ep.method, ep.path, "application/json", body), ep.tok), http.StatusUnprocessableEntity)
			p := checkProblemShape(t, newRequest(ep.method, ep.path, "", ""), rec)
			if len(p.Errors) == 0 || p.Errors[0].Field != tc.field {
				t.Errorf("errors got %+v, want the first naming %q", p.Errors, tc.field)
			}
			if !strings.HasPrefix(p.Detail, tc.field+": ") {
				t.Errorf("detail got %q, want it to name %q", p.Detail, tc.field)
			}
		})
	}
}

// TestLimitsCountCharacters: limits are in characters, so multi-byte text up to the limit is accepted.
func TestLimitsCountCharacters(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for i, pw := range []string{
		strings.Repeat("🔒", 12),     // 48 bytes, 12 characters
		strings.Repeat("é", 256),    // 512 bytes, 256 characters
		strings.Repeat("x", 12),     // the minimum
		strings.Repeat("x", 256),    // the maximum
		"pass word\twith\ncontrols", // passwords may hold any printable or whitespace text
	} {
		email := fmt.Sprintf("limits%d@example.com", i)
		e.secrets = append(e.secrets, pw)
		e.register(email, pw)
		tok := e.login(email, pw)
		if i == 0 {
			id, _ := e.tokens.Verify(tok)
			for _, it := range []struct{ name, desc string }{
				{strings.Repeat("é", 255), strings.Repeat("€", 10000)},
				{strings.Repeat("😀", 255), "tabs\tnew\nlines\r\n"},
				{strings.Repeat("x", 255), strings.Repeat("x", 10000)},
				{"a", ""},
			} {
				got := e.createItem(tok, it.name, &it.desc)
				stored, err := e.db.FindItem(ctx, id.UserID, got.ID)
				if err != nil || stored.Name != it.name || stored.Description == nil || *stored.Description != it.desc {
					t.Errorf("stored item got (%.20q, %v), want name and description kept exactly", stored.Name, err)
				}
			}
		}
	}
	// A valid email of the maximum length (254) is accepted.
	longEmail := strings.Repeat("l", 64) + "@" + strings.Repeat("d", 63) + "." + strings.Repeat("d", 63) + "." + strings.Repeat("d", 57) + ".com"
	if len(longEmail) != 254 {
		t.Fatalf("test setup: email length got %d, want 254", len(longEmail))
	}
	e.register(longEmail, testPassword)
}

func TestHostileEmails(t *testing.T) {
	h := newHostileEnv(t)
	long255 := strings.Repeat("l", 64) + "@" + strings.Repeat("d", 63) + "." + strings.Repeat("d", 63) + "." + strings.Repeat("d", 58) + ".com"
	for _, email := range []string{
		"", "a", "a@", "@b.c", "a@b", "a b@c.d", "a@b..c", `"x"@y.z`, "Name <a@b.co>", long255,
		"a@bücher.de", "a@xn--bcher-kva.de\u0000", "ü@", "a@b.c0", "a@-b.co", "a@b-.co", "a@.b.co", "a@b.co.",
		"<a@b.co>", " a@b.co", "a@b.co ", "a@@b.co", "a@b@c.co", "a(comment)@b.co", "a@[127.0.0.1]",
		strings.Repeat("l", 65) + "@b.co", "a@" + strings.Repeat("d", 64) + ".co", "a@b.co\n", "a\u0000@b.co",
		"a\u0001@b.co", "a@b_c.co", "a@b.co,c@d.co", "a@b.co;c@d.co", ".a@b.co", "a.@b.co", "a..b@c.co",
	} {
		t.Run(fmt.Sprintf("%q", email), func(t *testing.T) {
			body, _ := json.Marshal(map[string]string{"email": email, "password": testPassword})
			rec := h.refuses(t, newRequest("POST", "/auth/register", "application/json", string(body)), http.StatusUnprocessableEntity)
			p := wantProblem(t, rec, http.StatusUnprocessableEntity, "")
			if len(p.Errors) != 1 || p.Errors[0].Field != "email" {
				t.Errorf("errors got %+v, want one about email", p.Errors)
			}
		})
	}
}

func TestHostileContentTypes(t *testing.T) {
	h := newHostileEnv(t)
	types := []string{"", "text/plain", "multipart/form-data; boundary=x", "application/json; charset=latin1",
		"application/json; charset=utf-16", "application/x-www-form-urlencoded", "application/jsonx", "json",
		"application/json; charset", "text/json", "application/problem+json", "application/json, text/plain"}
	for _, ep := range h.endpoints {
		for _, ct := range types {
			t.Run(ep.name+"/"+ct, func(t *testing.T) {
				r := bearer(newRequest(ep.method, ep.path, "", ep.body(nil)), ep.tok)
				if ct != "" {
					r.Header.Set("Content-Type", ct)
				}
				h.refuses(t, r, http.StatusUnsupportedMediaType)
			})
		}
	}
	for _, ct := range []string{"", "application/json", "text/plain", "multipart/form-data; boundary=x",
		"application/x-www-form-urlencoded; charset=latin1"} {
		t.Run("login/"+ct, func(t *testing.T) {
			r := newRequest("POST", "/auth/login", "", loginBody("victim@example.com", testPassword))
			if ct != "" {
				r.Header.Set("Content-Type", ct)
			}
			h.refuses(t, r, http.StatusUnsupportedMediaType)
		})
	}
}

// TestBodyCap: bodies over the cap are refused with 413 whether their length is declared or streamed.
func TestBodyCap(t *testing.T) {
	h := newHostileEnv(t)
	megaString := strings.Repeat("a", 1<<20)
	type target struct{ name, method, path, tok, contentType, body string }
	var targets []target
	for _, ep := range h.endpoints {
		targets = append(targets, target{ep.name, ep.method, ep.path, ep.tok, "application/json", ep.body(map[string]any{ep.fields[0]: megaString})})
	}
	targets = append(targets, target{"login", "POST", "/auth/login", "", "application/x-www-form-urlencoded", loginBody("victim@example.com", megaString)})
	for _, tg := range targets {
		for _, chunked := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/chunked=%v", tg.name, chunked), func(t *testing.T) {
				r := bearer(newRequest(tg.method, tg.path, tg.contentType, tg.body), tg.tok)
				if chunked {
					r.ContentLength = -1
					r.TransferEncoding = []string{"chunked"}
					r.Body = io.NopCloser(io.MultiReader(strings.NewReader(tg.body)))
				}
				rec := h.refuses(t, r, http.StatusRequestEntityTooLarge)
				wantProblem(t, rec, http.StatusRequestEntityTooLarge, fmt.Sprintf("The request body must not exceed %d bytes.", testMaxBody))
			})
		}
	}

	// A declared length over the cap is refused before the body is read at all.
	r := bearer(newRequest("POST", "/items/", "application/json", "x"), h.tok)
	probe := &readProbe{}
	r.Body, r.ContentLength = probe, testMaxBody+1
	h.refuses(t, r, http.StatusRequestEntityTooLarge)
	if probe.reads != 0 {
		t.Errorf("body reads got %d, want 0 for a declared length over the cap", probe.reads)
	}

	// Under the cap, a 1 MiB-ish string is refused for its length instead.
	desc := strings.Repeat("d", testMaxBody-200)
	body, _ := json.Marshal(map[string]string{"name": "n", "description": desc})
	rec := h.refuses(t, bearer(newRequest("POST", "/items/", "application/json", string(body)), h.tok), http.StatusUnprocessableEntity)
	wantProblem(t, rec, http.StatusUnprocessableEntity, "description: must be at most 10000 characters long")

	// A body that breaks off mid-read is a 400, not a 500.
	r = bearer(newRequest("POST", "/items/", "application/json", "x"), h.tok)
	r.Body = io.NopCloser(io.MultiReader(strings.NewReader(`{"name":`), errReader{}))
	r.ContentLength = -1
	h.refuses(t, r, http.StatusBadRequest)
}

// TestBodyCapOverTheNetwork sends oversized bodies through a real listener, both with Content-Length and
// chunked, so the cap is shown to hold for what net/http really hands the handler.
func TestBodyCapOverTheNetwork(t *testing.T) {
	const limit = 4096
	e := newEnv(t, func(c *Config) { c.MaxBodyBytes = limit })
	_, tok := e.user("net@example.com")
	before := e.snapshot()
	srv := httptest.NewServer(e.srv)
	defer srv.Close()
	body := `{"name":"` + strings.Repeat("n", limit) + `"}`
	for _, chunked := range []bool{false, true} {
		var rd io.Reader = strings.NewReader(body)
		if chunked {
			rd = io.MultiReader(rd) // an unknown length makes the client send chunks
		}
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/items/", rd)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+tok)
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatalf("chunked=%v: got error %v, want a response", chunked, err)
		}
		got, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if chunked != (req.ContentLength <= 0) {
			t.Fatalf("test setup: ContentLength %d with chunked=%v", req.ContentLength, chunked)
		}
		if res.StatusCode != http.StatusRequestEntityTooLarge || !bytes.Contains(got, []byte("4096 bytes")) {
			t.Errorf("chunked=%v: got %d %q, want 413 naming the cap", chunked, res.StatusCode, got)
		}
	}
	if after := e.snapshot(); after != before {
		t.Errorf("store changed:\ngot  %s\nwant %s", after, before)
	}
}

func TestHostileItemIDs(t *testing.T) {
	h := newHostileEnv(t)
	ids := []string{"-1", "0", "-0", "abc", "9223372036854775808", "99999999999999999999999", "1e3", "%201", "1%20",
		"0x1", "1.0", "%00", "１", "%2B%2B1", "1_000", strings.Repeat("9", 5000), "%ff", "NaN", "%2B1", "01", "007"}
	for _, id := range ids {
		for _, m := range []string{"GET", "PUT", "DELETE"} {
			t.Run(fmt.Sprintf("%s %.30s", m, id), func(t *testing.T) {
				r := bearer(newRequest(m, "/items/"+id, "application/json", `{"name":"Changed"}`), h.tok)
				rec := h.refuses(t, r, http.StatusUnprocessableEntity)
				p := wantProblem(t, rec, http.StatusUnprocessableEntity, "item_id: must be an integer from 1 to 9223372036854775807")
				if len(p.Errors) != 1 || p.Errors[0].Location != "path" {
					t.Errorf("errors got %+v, want one in path", p.Errors)
				}
			})
		}
	}
	// The largest id is valid; there is just no such item.
	h.refuses(t, bearer(newRequest("GET", "/items/9223372036854775807", "", ""), h.tok), http.StatusNotFound)
	h.refuses(t, bearer(newRequest("DELETE", "/items/9223372036854775807", "", ""), h.tok), http.StatusNoContent)
}

func TestHostileListQuery(t *testing.T) {
	h := newHostileEnv(t)
	for _, q := range []string{"limit=0", "limit=101", "limit=-1", "limit=abc", "limit=", "limit=1e1", "limit=9223372036854775808",
		"limit=1&limit=2", "limit=%201", "offset=-1", "offset=1000001", "offset=x", "offset=0&offset=0", "offset=",
		"limit=0&offset=-1"} {
		for _, path := range []string{"/items/", "/items"} {
			t.Run(path+"?"+q, func(t *testing.T) {
				rec := h.refuses(t, bearer(newRequest("GET", path+"?"+q, "", ""), h.tok), http.StatusUnprocessableEntity)
				p := wantProblem(t, rec, http.StatusUnprocessableEntity, "")
				if len(p.Errors) == 0 || p.Errors[0].Location != "query" {
					t.Errorf("errors got %+v, want query errors", p.Errors)
				}
			})
		}
	}
}

func TestHostileLoginForms(t *testing.T) {
	h := newHostileEnv(t)
	ok := loginBody("victim@example.com", testPassword)
	tests := []struct {
		name, form string
		status     int
	}{
		{"repeated username", ok + "&username=victim%40example.com", 422},
		{"repeated password", ok + "&password=x", 422},
		{"unknown field", ok + "&is_admin=1", 422},
		{"unknown field in upper case", ok + "&USERNAME=x", 422},
		{"bad escape", ok + "&x=%zz", 422},
		{"semicolon", "username=victim%40example.com;password=" + testPassword, 422},
		{"invalid UTF-8 password", "username=victim%40example.com&password=%ff%fe" + strings.Repeat("a", 12), 422},
		{"invalid UTF-8 username", "username=victim%ff%40example.com&password=" + testPassword, 422},
		{"NUL in username", "username=victim%00%40example.com&password=" + testPassword, 422},
		{"NUL in password", "username=victim%40example.com&password=" + testPassword + "%00", 422},
		{"password 257", loginBody("victim@example.com", strings.Repeat("p", 257)), 422},
		{"username 255", loginBody(strings.Repeat("u", 243)+"@example.com", testPassword), 422},
		{"JSON body as form", `{"username":"victim@example.com","password":"x"}`, 422},
		{"grant_type twice", "grant_type=password&grant_type=password&" + ok, 422},
		{"grant_type in upper case", "grant_type=PASSWORD&" + ok, 422},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := h.refuses(t, newRequest("POST", "/auth/login", "application/x-www-form-urlencoded", tc.form), tc.status)
			if strings.Contains(rec.Body.String(), "access_token") {
				t.Errorf("body got a token, want none")
			}
		})
	}
}

func TestTruncate(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"abcdef", 3, "abc…"},
		{"ééé", 3, "é…"}, // never cuts a character in two
	} {
		got := truncate(tc.in, tc.n)
		if got != tc.want {
			t.Errorf("truncate(%q, %d): got %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

func TestValidEmail(t *testing.T) {
	for _, tc := range []struct {
		email string
		want  bool
	}{
		{"a@b.co", true},
		{"first.last+tag@sub.example.com", true},
		{"A@EXAMPLE.COM", true},
		{"a@b-c.co", true},
		{"a@b.c0", false},
		{"a@b", false},
		{"a@bücher.de", false},
		{"Name <a@b.co>", false},
	} {
		if got := validEmail(tc.email); got != tc.want {
			t.Errorf("validEmail(%q): got %v, want %v", tc.email, got, tc.want)
		}
	}
}

func TestCheckStringControlClasses(t *testing.T) {
	line, text := rules{line: true, min: -1, max: -1}, rules{text: true, min: -1, max: -1}
	for r := rune(0); r < 0xa0; r++ {
		s := "a" + string(r) + "b"
		if got := checkString(s, line) != ""; got != unicode.IsControl(r) {
			t.Errorf("line rule on %U: rejected got %v, want %v", r, got, unicode.IsControl(r))
		}
		wantText := unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r'
		if got := checkString(s, text) != ""; got != wantText {
			t.Errorf("text rule on %U: rejected got %v, want %v", r, got, wantText)
		}
	}
}

// readProbe is a body that counts how often it is read.
type readProbe struct{ reads int }

func (p *readProbe) Read(b []byte) (int, error) { p.reads++; return 0, io.EOF }
func (p *readProbe) Close() error               { return nil }
