package httpapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
)

// TestAccessLog runs a whole session and checks the log: one line per request naming the route pattern
// (not the raw path) and the status, under the id the client saw; and no password or token anywhere.
func TestAccessLog(t *testing.T) {
	e := newEnv(t)
	const wrongPassword = "n0t-the-right-password-XYZ"
	e.secrets = append(e.secrets, wrongPassword)

	var tok string
	var itemPath string
	type step struct {
		method, path, contentType string
		body                      func() string
		auth                      bool
		host                      string
		wantRoute                 string
		wantStatus                int
	}
	steps := []step{
		{"POST", "/auth/register", "application/json", func() string { return `{"email":"log@example.com","password":"` + testPassword + `"}` }, false, "", "POST /auth/register", 201},
		{"POST", "/auth/register", "application/json", func() string { return `{"email":"LOG@example.com","password":"` + testPassword + `"}` }, false, "", "POST /auth/register", 400},
		{"POST", "/auth/login", "application/x-www-form-urlencoded", func() string { return loginBody("log@example.com", wrongPassword) }, false, "", "POST /auth/login", 401},
		{"POST", "/auth/login", "application/x-www-form-urlencoded", func() string { return loginBody("log@example.com", testPassword) }, false, "", "POST /auth/login", 200},
		{"POST", "/items/", "application/json", func() string { return `{"name":"logged"}` }, true, "", "POST /items/", 201},
		{"POST", "/items", "application/json", func() string { return `{"name":"logged too"}` }, true, "", "POST /items", 201},
		{"GET", "/items/", "", nil, true, "", "GET /items/", 200},
		{"GET", "/items?limit=1", "", nil, true, "", "GET /items", 200},
		{"GET", "{item}", "", nil, true, "", "GET /items/{item_id}", 200},
		{"PUT", "{item}", "application/json", func() string { return `{"description":"d"}` }, true, "", "PUT /items/{item_id}", 200},
		{"DELETE", "{item}", "", nil, true, "", "DELETE /items/{item_id}", 204},
		{"GET", "{item}", "", nil, true, "", "GET /items/{item_id}", 404},
		{"GET", "/items/abc", "", nil, true, "", "GET /items/{item_id}", 422},
		{"GET", "/items/", "", nil, false, "", "GET /items/", 401},
		{"GET", "/static/app.js", "", nil, false, "", "GET /static/{path...}", 200},
		{"GET", "/health", "", nil, false, "", "GET /health", 200},
		{"GET", "/does/not/exist", "", nil, false, "", "", 404},
		{"DELETE", "/health", "", nil, false, "", "", 405},
		{"GET", "/health", "", nil, false, "evil.com", "GET /health", 200},
		{"GET", "/items/", "", nil, true, "evil.com", "GET /items/", 400}, // refused before routing, still named
	}

	type sent struct {
		step
		id string
	}
	var all []sent
	for _, s := range steps {
		path := strings.ReplaceAll(s.path, "{item}", itemPath)
		body := ""
		if s.body != nil {
			body = s.body()
		}
		r := newRequest(s.method, path, s.contentType, body)
		if s.auth {
			r.Header.Set("Authorization", "Bearer "+tok)
		}
		if s.host != "" {
			r.Host = s.host
		}
		rec := e.serve(r)
		if rec.Code != s.wantStatus {
			t.Fatalf("%s %s: status got %d, want %d (%s)", s.method, path, rec.Code, s.wantStatus, rec.Body.String())
		}
		switch {
		case s.path == "/auth/login" && rec.Code == 200:
			var tr tokenResponse
			decodeBody(t, rec, &tr)
			tok = tr.AccessToken
		case s.path == "/items/" && rec.Code == 201:
			var it itemResponse
			decodeBody(t, rec, &it)
			itemPath = "/items/" + strconv.FormatInt(it.ID, 10)
		}
		all = append(all, sent{s, rec.Header().Get("X-Request-ID")})
	}

	byID := map[string][]map[string]any{}
	requestLines := 0
	for _, line := range e.log.lines(t) {
		if line["msg"] != "request" {
			continue
		}
		requestLines++
		id, _ := line["request_id"].(string)
		byID[id] = append(byID[id], line)
	}
	if requestLines != len(all) {
		t.Errorf("access log lines got %d, want one per request (%d)", requestLines, len(all))
	}
	for _, s := range all {
		lines := byID[s.id]
		if len(lines) != 1 {
			t.Errorf("%s %s: access log lines for request %s got %d, want 1", s.method, s.path, s.id, len(lines))
			continue
		}
		l := lines[0]
		if l["route"] != s.wantRoute {
			t.Errorf("%s %s: route got %v, want %q", s.method, s.path, l["route"], s.wantRoute)
		}
		if l["status"] != float64(s.wantStatus) {
			t.Errorf("%s %s: status got %v, want %d", s.method, s.path, l["status"], s.wantStatus)
		}
		if l["method"] != s.method {
			t.Errorf("%s %s: method got %v, want %s", s.method, s.path, l["method"], s.method)
		}
		if _, ok := l["duration_ms"].(float64); !ok {
			t.Errorf("%s %s: duration_ms got %v, want a number", s.method, s.path, l["duration_ms"])
		}
	}

	// Nothing secret, anywhere in the log.
	log := e.log.String()
	sig := tok[strings.LastIndex(tok, ".")+1:]
	for name, secret := range map[string]string{
		"the password": testPassword, "the wrong password": wrongPassword, "the access token": tok,
		"the token's signature": sig, "a password hash": "$argon2id",
	} {
		if strings.Contains(log, secret) {
			t.Errorf("log contains %s, want it never logged", name)
		}
	}
	// The query string is not logged either: it is where some clients put credentials.
	if strings.Contains(log, "limit=1") {
		t.Errorf("log contains a query string, want paths only")
	}
}

// TestLogIsJSONOnePerLine guards the test helper's assumption and the operators' parser: every line is
// one JSON record, even with hostile paths.
func TestLogIsJSONOnePerLine(t *testing.T) {
	e := newEnv(t)
	r := httptest.NewRequest(http.MethodGet, "/x%0Ainjected%22%7D", nil)
	e.serve(r)
	for _, line := range strings.Split(strings.TrimSpace(e.log.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Errorf("log line %q: got invalid JSON, want one record per line", line)
		}
	}
	if lines := e.log.lines(t); len(lines) != 1 || lines[0]["path"] != "/x\ninjected\"}" {
		t.Errorf("log got %v, want one record with the path quoted", lines)
	}
}
