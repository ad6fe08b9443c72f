package httpapi

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fortress-dev/fortress"
)

// checkSecurityHeaders checks the headers that every response must carry, whatever answered it.
func checkSecurityHeaders(t testing.TB, r *http.Request, res *http.Response) {
	t.Helper()
	where := r.Method + " " + r.URL.String()
	h := res.Header
	csp := h.Get("Content-Security-Policy")
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "*"} {
		if strings.Contains(csp, bad) {
			t.Errorf("%s (%d): CSP %q contains %q, want it absent", where, res.StatusCode, csp, bad)
		}
	}
	want := map[string]string{
		"X-Content-Type-Options":       "nosniff",
		"Referrer-Policy":              "no-referrer",
		"X-Frame-Options":              "DENY",
		"Cross-Origin-Resource-Policy": "same-origin",
	}
	// The HTML pages get the document policy; everything else the API one, which lets nothing load.
	document := (r.Method == http.MethodGet || r.Method == http.MethodHead) && (r.URL.Path == "/" || r.URL.Path == "/docs")
	if document {
		for _, part := range []string{"default-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"} {
			if !strings.Contains(csp, part) {
				t.Errorf("%s (%d): CSP %q lacks %q", where, res.StatusCode, csp, part)
			}
		}
		want["Cross-Origin-Opener-Policy"] = "same-origin"
		if h.Get("Permissions-Policy") == "" {
			t.Errorf("%s (%d): Permissions-Policy missing, want present", where, res.StatusCode)
		}
	} else {
		want["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'none'"
		for _, name := range []string{"Permissions-Policy", "Cross-Origin-Opener-Policy"} {
			if got := h.Get(name); got != "" {
				t.Errorf("%s (%d): %s got %q, want none (it applies to documents only)", where, res.StatusCode, name, got)
			}
		}
	}
	// (Redirects are excepted: net/http writes a one-link HTML body, which no browser shows.)
	if ct := h.Get("Content-Type"); strings.HasPrefix(ct, "text/html") && res.StatusCode < 300 && !document {
		t.Errorf("%s (%d): an HTML answer (%s) got the API headers, want the document ones", where, res.StatusCode, ct)
	}
	for name, v := range want {
		if got := h.Get(name); got != v {
			t.Errorf("%s (%d): %s got %q, want %q", where, res.StatusCode, name, got, v)
		}
	}
	wantCache := "no-store"
	switch {
	case strings.HasPrefix(r.URL.Path, "/static/"):
		wantCache = "no-cache"
	case r.URL.Path == "/.well-known/jwks.json" && res.StatusCode == http.StatusOK:
		wantCache = "public, max-age=300" // public keys: verifiers may cache them briefly
	}
	if got := h.Get("Cache-Control"); got != wantCache {
		t.Errorf("%s (%d): Cache-Control got %q, want %q", where, res.StatusCode, got, wantCache)
	}
	hsts := h.Get("Strict-Transport-Security")
	if r.TLS != nil && !strings.Contains(hsts, "max-age=") {
		t.Errorf("%s over TLS (%d): Strict-Transport-Security got %q, want max-age", where, res.StatusCode, hsts)
	}
	if r.TLS == nil && hsts != "" {
		t.Errorf("%s over plain HTTP (%d): Strict-Transport-Security got %q, want none", where, res.StatusCode, hsts)
	}
	if h.Get("X-Request-ID") == "" {
		t.Errorf("%s (%d): X-Request-ID missing", where, res.StatusCode)
	}
}

// TestSecurityHeadersOnEveryKindOfAnswer reaches each part of the stack that can answer and checks the
// headers (env.serve checks them on every response; this test makes sure each kind is reached).
func TestSecurityHeadersOnEveryKindOfAnswer(t *testing.T) {
	sessions := &faultySessions{}
	e := newEnv(t, func(c *Config) {
		sessions.SessionService = c.Sessions
		c.Sessions = sessions
	})
	_, tok := e.user("headers@example.com")

	hugeBody := `{"name":"` + strings.Repeat("a", testMaxBody) + `"}`
	tests := []struct {
		name   string
		req    func() *http.Request
		status int
	}{
		{"success JSON", func() *http.Request { return bearer(newRequest("GET", "/items/", "", ""), tok) }, 200},
		{"success HTML", func() *http.Request { return newRequest("GET", "/", "", "") }, 200},
		{"docs page", func() *http.Request { return newRequest("GET", "/docs", "", "") }, 200},
		{"docs page HEAD", func() *http.Request { return newRequest("HEAD", "/docs", "", "") }, 200},
		{"static asset", func() *http.Request { return newRequest("GET", "/static/app.js", "", "") }, 200},
		{"static 404", func() *http.Request { return newRequest("GET", "/static/docs/", "", "") }, 404},
		{"created", func() *http.Request {
			return bearer(newRequest("POST", "/items/", "application/json", `{"name":"n"}`), tok)
		}, 201},
		{"no content", func() *http.Request { return bearer(newRequest("DELETE", "/items/5", "", ""), tok) }, 204},
		{"401", func() *http.Request { return newRequest("GET", "/items/", "", "") }, 401},
		{"422", func() *http.Request { return bearer(newRequest("POST", "/items/", "application/json", `{}`), tok) }, 422},
		{"415", func() *http.Request { return bearer(newRequest("POST", "/items/", "text/plain", `x`), tok) }, 415},
		{"404", func() *http.Request { return newRequest("GET", "/nope", "", "") }, 404},
		{"405", func() *http.Request { return newRequest("DELETE", "/health", "", "") }, 405},
		{"413", func() *http.Request {
			return bearer(newRequest("POST", "/items/", "application/json", hugeBody), tok)
		}, 413},
		{"400 host", func() *http.Request {
			r := newRequest("GET", "/", "", "")
			r.Host = "evil.com"
			return r
		}, 400},
		{"over TLS", func() *http.Request {
			r := newRequest("GET", "/health", "", "")
			r.TLS = &tls.ConnectionState{}
			return r
		}, 200},
		{"404 over TLS", func() *http.Request {
			r := newRequest("GET", "/nope", "", "")
			r.TLS = &tls.ConnectionState{}
			return r
		}, 404},
		{"500 from a panic", func() *http.Request {
			sessions.sessionUser = func(context.Context, int64, time.Time) (fortress.User, error) {
				panic("boom: runtime error in sqlite.go:12")
			}
			return bearer(newRequest("GET", "/items/", "", ""), tok)
		}, 500},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := e.serve(tc.req()) // checks the headers
			if rec.Code != tc.status {
				t.Errorf("status got %d, want %d (%s)", rec.Code, tc.status, rec.Body.String())
			}
		})
	}
	if !strings.Contains(e.log.String(), "panic serving request") || !strings.Contains(e.log.String(), "goroutine") {
		t.Errorf("log got no panic with stack, want the panic logged for the operators")
	}
}

// TestHSTSOverRealTLS serves through a real TLS listener: HSTS appears only there.
func TestHSTSOverRealTLS(t *testing.T) {
	e := newEnv(t)
	tlsSrv := httptest.NewTLSServer(e.srv)
	defer tlsSrv.Close()
	plain := httptest.NewServer(e.srv)
	defer plain.Close()

	for _, tc := range []struct {
		client   *http.Client
		url      string
		wantHSTS bool
	}{
		{tlsSrv.Client(), tlsSrv.URL + "/health", true},
		{tlsSrv.Client(), tlsSrv.URL + "/nope", true},
		{plain.Client(), plain.URL + "/health", false},
		{plain.Client(), plain.URL + "/nope", false},
	} {
		res, err := tc.client.Get(tc.url)
		if err != nil {
			t.Fatalf("GET %s: got error %v, want a response", tc.url, err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if got := res.Header.Get("Strict-Transport-Security") != ""; got != tc.wantHSTS {
			t.Errorf("GET %s: HSTS present got %v, want %v", tc.url, got, tc.wantHSTS)
		}
		if res.Header.Get("Content-Security-Policy") == "" {
			t.Errorf("GET %s: CSP missing", tc.url)
		}
	}
}

func TestHTTPSRedirect(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.HTTPSRedirect = true })
	tests := []struct {
		name, method, target, host string
		tls                        bool
		status                     int
		location                   string
	}{
		{"GET", "GET", "/items/?limit=2", "example.com", false, 308, "https://example.com/items/?limit=2"},
		{"POST keeps method", "POST", "/auth/login", "example.com:8080", false, 308, "https://example.com:8080/auth/login"},
		{"health is a probe", "GET", "/health", "10.1.2.3", false, 200, ""},
		{"readyz is a probe", "GET", "/readyz", "10.1.2.3", false, 200, ""},
		{"TLS is served", "GET", "/health", "example.com", true, 200, ""},
		{"TLS unknown path", "GET", "/nope", "example.com", true, 404, ""},
		// A redirect must never point to a host the server does not own (Host-header injection).
		{"untrusted host", "GET", "/", "evil.com", false, 400, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRequest(tc.method, tc.target, "", "")
			r.Host = tc.host
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			rec := e.serve(r)
			if rec.Code != tc.status {
				t.Fatalf("status got %d (Location %q), want %d", rec.Code, rec.Header().Get("Location"), tc.status)
			}
			if got := rec.Header().Get("Location"); got != tc.location {
				t.Errorf("Location got %q, want %q", got, tc.location)
			}
		})
	}
}

func TestCORS(t *testing.T) {
	const allowed = "http://app.example"
	preflight := func(origin, path string) *http.Request {
		r := newRequest("OPTIONS", path, "", "")
		r.Header.Set("Origin", origin)
		r.Header.Set("Access-Control-Request-Method", "POST")
		r.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
		return r
	}
	simple := func(origin, path string) *http.Request {
		r := newRequest("GET", path, "", "")
		r.Header.Set("Origin", origin)
		return r
	}

	t.Run("configured", func(t *testing.T) {
		e := newEnv(t, func(c *Config) { c.CORSOrigins = []string{allowed} })
		_, tok := e.user("cors@example.com")
		tests := []struct {
			name      string
			req       *http.Request
			wantAllow string
		}{
			{"preflight allowed", preflight(allowed, "/items/"), allowed},
			{"preflight allowed item", preflight(allowed, "/items/1"), allowed},
			{"request allowed", bearer(simple(allowed, "/items/"), tok), allowed},
			{"error for allowed origin", simple(allowed, "/items/"), allowed},
			{"preflight other", preflight("http://evil.example", "/items/"), ""},
			{"preflight null", preflight("null", "/items/"), ""},
			{"preflight look-alike", preflight("http://app.example.evil", "/items/"), ""},
			{"preflight other scheme", preflight("https://app.example", "/items/"), ""},
			{"request other", bearer(simple("http://evil.example", "/items/"), tok), ""},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				rec := e.serve(tc.req)
				h := rec.Header()
				if got := h.Get("Access-Control-Allow-Origin"); got != tc.wantAllow {
					t.Errorf("Access-Control-Allow-Origin got %q, want %q", got, tc.wantAllow)
				}
				if tc.wantAllow != "" && h.Get("Access-Control-Allow-Credentials") != "true" {
					t.Errorf("Access-Control-Allow-Credentials got %q, want true", h.Get("Access-Control-Allow-Credentials"))
				}
				if tc.wantAllow == "" && h.Get("Access-Control-Allow-Credentials") != "" {
					t.Errorf("Access-Control-Allow-Credentials got %q, want none", h.Get("Access-Control-Allow-Credentials"))
				}
				if tc.req.Method == http.MethodOptions && tc.wantAllow != "" {
					methods := h.Get("Access-Control-Allow-Methods")
					if !strings.Contains(methods, "POST") {
						t.Errorf("Access-Control-Allow-Methods got %q, want POST", methods)
					}
				}
			})
		}
	})

	t.Run("not configured", func(t *testing.T) {
		e := newEnv(t)
		_, tok := e.user("nocors@example.com")
		for _, origin := range []string{allowed, "http://evil.example", "null", "http://example.com"} {
			for _, r := range []*http.Request{preflight(origin, "/items/"), bearer(simple(origin, "/items/"), tok), simple(origin, "/health")} {
				rec := e.serve(r)
				if got := rec.Header().Get("Access-Control-Allow-Origin"); got != "" {
					t.Errorf("%s %s from %s: Access-Control-Allow-Origin got %q, want none", r.Method, r.URL, origin, got)
				}
			}
		}
	})
}
