package securitytest

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestAPI9_ImproperInventoryManagement checks that the routes the server answers and the operations
// /openapi.json documents are the same set. Documented to served: every documented operation is routed
// (not the router's 404 or 405). Served to documented: for each documented path the router's own list of
// methods (its Allow header) is exactly the documented one, and paths an attacker looks for (debug
// handlers, metrics, admin, version control and config files, other API versions) are not served at all.
func TestAPI9_ImproperInventoryManagement(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	doc := s.fetchOpenAPI(t)
	assets := s.uiAssets(t)
	asset := strings.TrimPrefix(assets[0], "/static/")

	t.Run("every documented operation is routed", func(t *testing.T) {
		for _, e := range doc.endpoints() {
			path := e.concretePath(nil, asset)
			r := s.do(t, e.method, path)
			if r.status == http.StatusNotFound && r.detail() == detailNotFound || r.status == http.StatusMethodNotAllowed {
				t.Errorf("%s is documented as %s but the router does not serve it: %d %q", r, e, r.status, r.detail())
			}
		}
		for _, a := range assets {
			s.do(t, "GET", a).want(t, http.StatusOK, "")
		}
	})

	t.Run("the router serves exactly the documented methods", func(t *testing.T) {
		documented := map[string][]string{}
		for _, e := range doc.endpoints() {
			documented[e.path] = append(documented[e.path], e.method)
		}
		for path, methods := range documented {
			// An unknown method gets the router's 405, whose Allow lists every method it routes for the
			// path. HEAD is served wherever GET is, by net/http's design, and is not documented separately.
			want := slices.Clone(methods)
			if slices.Contains(want, "GET") {
				want = append(want, "HEAD")
			}
			slices.Sort(want)
			r := s.do(t, "UNDOCUMENTED", endpoint{path: path, op: doc.Paths[path][strings.ToLower(methods[0])]}.concretePath(nil, asset))
			r.want(t, http.StatusMethodNotAllowed, "")
			var got []string
			for _, m := range strings.Split(r.header.Get("Allow"), ",") {
				if m = strings.TrimSpace(m); m != "" {
					got = append(got, m)
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("%s: the router serves %v, the document lists %v", path, got, want)
			}
		}
	})

	t.Run("the document describes the tokens the server issues", func(t *testing.T) {
		// The security schemes' text is what a client developer reads about tokens; it must not deny a
		// documented operation.
		if _, ok := doc.Paths["/auth/refresh"]; !ok {
			t.Fatal("/auth/refresh is not documented")
		}
		for name, scheme := range doc.Components.SecuritySchemes {
			if strings.Contains(strings.ToLower(scheme.Description), "no refresh token") {
				t.Errorf("security scheme %s says %q, but POST /auth/refresh is documented and issues refresh tokens", name, scheme.Description)
			}
		}
	})

	t.Run("undocumented paths are not served", func(t *testing.T) {
		for _, path := range []string{
			"/admin", "/admin/", "/debug/pprof/", "/debug/pprof/goroutine", "/debug/vars", "/metrics", "/server-status",
			"/.env", "/.git/config", "/.git/HEAD", "/go.mod", "/fortress.db", "/config.json", "/.well-known/openid-configuration",
			"/items/1/extra", "/items/1/", "/items/1/owner", "/auth", "/auth/", "/auth/logout/", "/auth/refresh/", "/auth/me/",
			"/auth/sessions/1/extra", "/auth/sessions/1/", "/auth/token", "/auth/revoke", "/auth/password/reset", "/auth/users",
			"/oauth/token", "/admin/users/1/sessions", "/admin/users/1/password", "/admin/users/1/role", "/admin/sessions",
			"/admin/audit/1", "/admin/config", "/admin/users/1/", "/admin/audit/",
			"/auth/login/", "/auth/register/", "/users", "/users/1", "/users/me", "/me", "/api", "/api/v1/items",
			"/v1/items/", "/v2/items/", "/swagger.json", "/swagger-ui/", "/openapi.yaml", "/openapi.json/", "/docs/", "/redoc",
			"/index.html", "/docs.html", "/health/", "/healthz", "/readyz/",
		} {
			for _, method := range []string{"GET", "POST", "PUT", "DELETE"} {
				r := s.do(t, method, path)
				r.want(t, http.StatusNotFound, detailNotFound)
			}
		}
		// Directories under the documented /static/{path} are not listed.
		for _, path := range []string{"/static/", "/static/docs/"} {
			s.do(t, "GET", path).want(t, http.StatusNotFound, detailNotFound)
		}
		// Paths with dot segments are cleaned by the router with a redirect inside the site; what they lead
		// to is not served either.
		for _, path := range []string{"/static/../go.mod", "/static/%2e%2e/go.mod", "/static/..%2fgo.mod", "/items/../admin",
			"/static/docs/../../.env"} {
			r := s.do(t, "GET", path)
			for hop := 0; isRedirect(r.status) && hop < 3; hop++ {
				r = s.do(t, "GET", r.header.Get("Location"))
			}
			r.want(t, http.StatusNotFound, detailNotFound)
		}
	})
}
