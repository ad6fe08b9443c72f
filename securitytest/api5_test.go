package securitytest

import (
	"net/http"
	"slices"
	"strings"
	"testing"
)

// caller is one kind of client of the API5 matrix.
type caller struct {
	name string
	// auth returns the request options that present this caller's credentials.
	auth func() []option
	// holds lists the permissions this caller has (see openAPI.permission).
	holds []string
	// refusal is the answer when the caller lacks an operation's permission.
	refusalStatus int
	refusalDetail string // "" when any detail will do
}

// TestAPI5_BrokenFunctionLevelAuthorization calls every documented operation as every kind of caller and
// checks the answer against the permission the operation declares in /openapi.json. The list of operations
// comes from the document, never from a hand list, so a new route is covered the day it is added.
//
// It is built to grow with RBAC: an operation that declares scopes (say "admin") has permission
// "scope:admin"; add a caller that holds it (an admin account) to callers below, and every other caller,
// the plain user included, is then expected to be refused with 403.
func TestAPI5_BrokenFunctionLevelAuthorization(t *testing.T) {
	t.Parallel()
	s := start(t, nil)
	alice := s.newAccount(t, "alice")
	aliceItem := s.createItem(t, alice.token, "alice's", "")

	callers := []caller{
		{name: "anonymous", auth: func() []option { return nil },
			refusalStatus: http.StatusUnauthorized, refusalDetail: detailNotAuthenticated},
		{name: "another scheme", auth: func() []option { return []option{header("Authorization", "Basic YWxpY2U6cGFzc3dvcmQ=")} },
			refusalStatus: http.StatusUnauthorized, refusalDetail: detailNotAuthenticated},
		{name: "bad token", auth: func() []option { return []option{bearer("eyJhbGciOiJIUzI1NiJ9.e30.invalid")} },
			refusalStatus: http.StatusUnauthorized, refusalDetail: detailInvalidToken},
		{name: "user", auth: func() []option { return []option{bearer(alice.token)} }, holds: []string{"user"},
			refusalStatus: http.StatusForbidden},
	}

	doc := s.fetchOpenAPI(t)
	assets := s.uiAssets(t)
	seen := map[string]int{}
	for _, e := range doc.endpoints() {
		perm := doc.permission(e.op)
		seen[perm]++
		path := e.concretePath(func(string) int64 { return aliceItem.ID }, strings.TrimPrefix(assets[0], "/static/"))
		methods := []string{e.method}
		if e.method == "GET" {
			methods = append(methods, "HEAD") // the router answers HEAD for every GET: same permission
		}
		for _, method := range methods {
			for _, c := range callers {
				t.Run(method+" "+e.path+" as "+c.name, func(t *testing.T) {
					opts := c.auth()
					if e.op.RequestBody != nil {
						// A well-formed but empty body: the permission check must come first regardless.
						for mt := range e.op.RequestBody.Content {
							opts = append(opts, func(r *http.Request) { r.Body, r.ContentLength = http.NoBody, 0 }, header("Content-Type", mt))
						}
					}
					r := s.do(t, method, path, opts...)
					allowed := perm == "public" || slices.Contains(c.holds, perm)
					switch {
					case allowed && (r.status == http.StatusUnauthorized || r.status == http.StatusForbidden):
						t.Errorf("%s (permission %q): got %d %q, want the operation to run for %s", r, perm, r.status, r.detail(), c.name)
					case !allowed && r.status != c.refusalStatus:
						t.Errorf("%s (permission %q): got %d, want %d for %s", r, perm, r.status, c.refusalStatus, c.name)
					case !allowed && method != "HEAD" && c.refusalDetail != "" && r.detail() != c.refusalDetail:
						t.Errorf("%s (permission %q): detail %q, want %q", r, perm, r.detail(), c.refusalDetail)
					}
				})
			}
		}
	}
	t.Logf("operations by permission: %v", seen)
	for perm := range seen {
		if perm == "public" {
			continue
		}
		held := false
		for _, c := range callers {
			held = held || slices.Contains(c.holds, perm)
		}
		if !held {
			t.Errorf("operations require %q but no caller holds it: add one to callers, so they are also tested as allowed", perm)
		}
	}
	if seen["user"] == 0 || seen["public"] == 0 {
		t.Errorf("permissions %v: want both public and user operations; the document's security is not being read", seen)
	}

	t.Run("method override headers do not change the operation", func(t *testing.T) {
		aliceItem := s.createItem(t, alice.token, "alice's other", "")
		for _, h := range []string{"X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"} {
			s.do(t, "GET", itemPath(aliceItem.ID), bearer(alice.token), header(h, "DELETE")).want(t, http.StatusOK, "")
			s.do(t, "GET", "/items/", header(h, "GET")).want(t, http.StatusUnauthorized, detailNotAuthenticated)
		}
		s.do(t, "GET", itemPath(aliceItem.ID), bearer(alice.token)).want(t, http.StatusOK, "")
	})
}
