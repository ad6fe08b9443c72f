package httpapi

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fortress-dev/fortress"
)

// TestEveryRouteDeclaresAKnownPermission is the deny-by-default rule: a route added without a
// permission, or with one no role has, fails here (and NewServer refuses to build).
func TestEveryRouteDeclaresAKnownPermission(t *testing.T) {
	s := &Server{cfg: Config{}}
	for _, rt := range s.routes() {
		if !knownPermission(rt.doc.permission) {
			t.Errorf("%s %s: permission %q is not public and no role has it", rt.method, rt.path, rt.doc.permission)
		}
	}
	defer func() {
		if v := recover(); v == nil || !strings.Contains(v.(string), "GET /new") {
			t.Fatalf("checkPermissions of a route without a permission: got panic %v, want one naming it", v)
		}
	}()
	checkPermissions([]route{{method: "GET", path: "/new", doc: operation{id: "new"}}})
}

func TestRequirePermission(t *testing.T) {
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	for _, tc := range []struct {
		role string
		perm string
		want int
	}{
		{fortress.RoleUser, permItemsOwn, http.StatusNoContent},
		{fortress.RoleAdmin, permItemsOwn, http.StatusNoContent},
		{"", permItemsOwn, http.StatusForbidden},
		{"superuser", permItemsOwn, http.StatusForbidden},
		{fortress.RoleUser, "admin:everything", http.StatusForbidden},
	} {
		r := newRequest(http.MethodGet, "/x", "", "")
		r = r.WithContext(withUser(r.Context(), fortress.User{ID: 1, Role: tc.role}))
		rec := httptest.NewRecorder()
		requirePermission(auditor{log: slog.New(slog.DiscardHandler)}, tc.perm)(ok).ServeHTTP(rec, r)
		if rec.Code != tc.want {
			t.Errorf("role %q, permission %q: got %d, want %d", tc.role, tc.perm, rec.Code, tc.want)
		}
	}
}

func TestJWKS(t *testing.T) {
	e := newEnv(t)
	rec := e.do(http.MethodGet, "/.well-known/jwks.json", "", "", "")
	wantStatus(t, rec, http.StatusOK)
	if ct, cc := rec.Header().Get("Content-Type"), rec.Header().Get("Cache-Control"); ct != "application/jwk-set+json" || cc != "public, max-age=300" {
		t.Fatalf("headers: Content-Type %q, Cache-Control %q", ct, cc)
	}
	if rec.Body.String() != testJWKS {
		t.Fatalf("body: got %q", rec.Body.String())
	}
	e.rebuild(func(c *Config) { c.JWKS = nil }) // HS256 only: nothing to publish
	wantProblem(t, e.do(http.MethodGet, "/.well-known/jwks.json", "", "", ""), http.StatusNotFound, "Not Found")
}
