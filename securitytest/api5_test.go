package securitytest

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
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

// adminOperations are the operations of the admin API as the contract of issue 4 lists them. The matrix
// below reads the operations from /openapi.json; this list makes sure the admin ones are among them, so an
// admin route that is missing from the document (or from the router) cannot pass unnoticed.
var adminOperations = []string{"GET /admin/users", "GET /admin/users/{user_id}", "PATCH /admin/users/{user_id}", "GET /admin/audit"}

// The permissions (OAuth2 scopes in the document) each role holds, as the contract of issue 4 states them:
// users act on their own items and account; administrators also manage accounts and read the audit log.
// This is the black-box expectation the document and the server are both checked against.
var (
	userScopes  = []string{"scope:items:own", "scope:account:own"}
	adminScopes = append(slices.Clone(userScopes), "scope:users:manage", "scope:audit:read")
)

// permissionOf is what the caller of an operation must hold, as the document declares it (see
// openAPI.permission). Operations under /admin must declare one that plain users lack.
func (doc openAPI) permissionOf(t *testing.T, e endpoint) string {
	t.Helper()
	perm := doc.permission(e.op)
	if (e.path == "/admin" || strings.HasPrefix(e.path, "/admin/")) && (perm == "public" || slices.Contains(userScopes, perm)) {
		t.Errorf("%s: the document lets plain users call it (permission %q), want an administrators' permission", e, perm)
	}
	return perm
}

// TestAPI5_BrokenFunctionLevelAuthorization calls every documented operation as every kind of caller and
// checks the answer against the permission the operation requires. The list of operations comes from
// the document, never from a hand list, so a new route is covered the day it is added.
//
// The signed-in callers log in afresh for every request: some operations (logout, signing out
// everywhere) end the session they are called with.
func TestAPI5_BrokenFunctionLevelAuthorization(t *testing.T) {
	t.Parallel()
	s := start(t, map[string]string{"FORTRESS_LOGIN_FAILURES_MAX": "1000"})
	alice := s.newAccount(t, "alice")
	aliceItem := s.createItem(t, alice.token, "alice's", "")
	root := s.newAdmin(t, "root")
	fresh := func(a account) func() []option {
		return func() []option {
			a.signIn(t, s)
			return []option{bearer(a.token)}
		}
	}

	callers := []caller{
		{name: "anonymous", auth: func() []option { return nil },
			refusalStatus: http.StatusUnauthorized, refusalDetail: detailNotAuthenticated},
		{name: "another scheme", auth: func() []option { return []option{header("Authorization", "Basic YWxpY2U6cGFzc3dvcmQ=")} },
			refusalStatus: http.StatusUnauthorized, refusalDetail: detailNotAuthenticated},
		{name: "bad token", auth: func() []option { return []option{bearer("eyJhbGciOiJIUzI1NiJ9.e30.invalid")} },
			refusalStatus: http.StatusUnauthorized, refusalDetail: detailInvalidToken},
		{name: "user", auth: fresh(alice), holds: userScopes,
			refusalStatus: http.StatusForbidden, refusalDetail: detailForbidden},
		{name: "admin", auth: fresh(root), holds: adminScopes,
			refusalStatus: http.StatusForbidden, refusalDetail: detailForbidden},
	}

	doc := s.fetchOpenAPI(t)
	assets := s.uiAssets(t)
	seen := map[string]int{}
	documented := map[string]bool{}
	deniedBefore := s.auditCount(t, "authz.denied", alice.id)
	userRefusals := 0
	ids := func(name string) int64 {
		switch name {
		case "user_id":
			return alice.id
		case "session_id":
			return int64(atoi(alice.sid))
		}
		return aliceItem.ID
	}
	for _, e := range doc.endpoints() {
		documented[e.String()] = true
		perm := doc.permissionOf(t, e)
		seen[perm]++
		path := e.concretePath(ids, strings.TrimPrefix(assets[0], "/static/"))
		methods := []string{e.method}
		if e.method == "GET" {
			methods = append(methods, "HEAD") // the router answers HEAD for every GET: same permission
		}
		for _, method := range methods {
			var anonymous response
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
					if c.name == "anonymous" {
						anonymous = r
					}
					allowed := perm == "public" || slices.Contains(c.holds, perm)
					if !allowed && c.name == "user" {
						userRefusals++
					}
					switch {
					case perm == "public" && (r.status == http.StatusUnauthorized || r.status == http.StatusForbidden):
						// A public operation may refuse its own credential (a refresh token), but then the same
						// way whoever asks: a bearer token plays no part in it.
						if r.status != anonymous.status || r.detail() != anonymous.detail() {
							t.Errorf("%s (public): got %d %q for %s but %d %q anonymously, want the bearer token to change nothing",
								r, r.status, r.detail(), c.name, anonymous.status, anonymous.detail())
						}
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
	// The matrix signed alice and root out everywhere (DELETE /auth/sessions): sign them in again.
	alice.signIn(t, s)
	root.signIn(t, s)
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
	if seen["scope:items:own"] == 0 || seen["public"] == 0 {
		t.Errorf("permissions %v: want both public and user operations; the document's security is not being read", seen)
	}
	for _, op := range adminOperations {
		if !documented[op] {
			t.Errorf("%s is not documented in /openapi.json: the matrix cannot test it", op)
		}
	}
	// Every refusal of a signed-in user is in the audit log, under the user's id.
	if got := s.auditCount(t, "authz.denied", alice.id) - deniedBefore; got != int64(userRefusals) {
		t.Errorf("%d authz.denied audit events about alice, want one per refusal (%d)", got, userRefusals)
	}

	t.Run("admin routes by other paths", func(t *testing.T) {
		// The same routes written differently must not slip past the permission: answered as a refusal,
		// a 404, or a redirect to the real path (which refuses in turn), never served.
		for _, path := range []string{"/admin/users/", "/admin//users", "//admin/users", "/admin/./users", "/admin/x/../users",
			"/ADMIN/users", "/Admin/Users", "/admin/users%2F", "/admin%2Fusers", "/%61dmin/users", "/admin/users;x", "/admin/users?role=user",
			"/admin/users/" + strconv.FormatInt(alice.id, 10) + "/", "/admin/audit/", "/admin/audit;", "/admin/audit%00"} {
			for _, method := range []string{"GET", "PATCH"} {
				r := s.do(t, method, path, bearer(alice.token), jsonBody(`{"role":"admin"}`))
				if r.status < 300 || r.status == http.StatusNotModified {
					t.Errorf("%s as a plain user: got %d, want a refusal", r, r.status)
				}
			}
		}
		if got := s.roleOf(t, alice.id); got != "user" {
			t.Errorf("alice's role %q, want user", got)
		}
	})

	t.Run("no way to make oneself an administrator", func(t *testing.T) {
		eve := s.newAccount(t, "eve")
		self := adminUserPath(eve.id)
		for _, body := range []string{`{"role":"admin"}`, `{"role":"admin","is_active":true}`, `{"is_active":true}`} {
			s.do(t, "PATCH", self, bearer(eve.token), jsonBody(body)).want(t, http.StatusForbidden, detailForbidden)
		}
		s.do(t, "GET", self, bearer(eve.token)).want(t, http.StatusForbidden, detailForbidden)
		// Unknown fields that would grant the role are refused, not ignored, wherever a body is read.
		for _, tc := range []struct{ method, path, body string }{
			{"POST", "/auth/register", `{"email":"eve2@example.com","password":"a good long password","role":"admin"}`},
			{"POST", "/items/", `{"name":"n","role":"admin"}`},
			{"PUT", itemPath(s.createItem(t, eve.token, "eve's", "").ID), `{"name":"n","role":"admin"}`},
			{"POST", "/auth/password", `{"current_password":"` + eve.password + `","new_password":"another good password","role":"admin"}`},
			{"DELETE", "/auth/me", `{"password":"not eve's password","role":"admin"}`},
			{"POST", "/auth/refresh", `{"refresh_token":"` + eve.refresh + `","role":"admin"}`},
		} {
			r := s.do(t, tc.method, tc.path, bearer(eve.token), jsonBody(tc.body))
			r.want(t, http.StatusUnprocessableEntity, "")
		}
		r := s.do(t, "POST", "/auth/login", formBody(url.Values{"username": {eve.email}, "password": {eve.password}, "role": {"admin"}}))
		r.want(t, http.StatusUnprocessableEntity, "")
		// Claims in a token signed with the real key grant nothing: the role is the database's.
		sub := strconv.FormatInt(eve.id, 10)
		for _, extra := range []map[string]any{
			{"role": "admin"}, {"roles": []string{"admin"}}, {"scope": "users:manage audit:read"}, {"is_admin": true},
			{"permissions": []string{"users:manage", "audit:read"}}, {"admin": true},
		} {
			c := claimsFor(sub, eve.sid)
			maps.Copy(c, extra)
			tok := forge(t, jwt.SigningMethodHS256, []byte(jwtSecret), c, nil)
			s.do(t, "GET", "/auth/me", bearer(tok)).want(t, http.StatusOK, "") // the token itself is good
			s.do(t, "GET", "/admin/users", bearer(tok)).want(t, http.StatusForbidden, detailForbidden)
			s.do(t, "PATCH", self, bearer(tok), jsonBody(`{"role":"admin"}`)).want(t, http.StatusForbidden, detailForbidden)
		}
		me := s.do(t, "GET", "/auth/me", bearer(eve.token))
		var got struct {
			Role string `json:"role"`
		}
		me.decode(t, &got)
		if got.Role != "user" || s.roleOf(t, eve.id) != "user" {
			t.Errorf("eve's role: %q in /auth/me, %q in the database; want user", got.Role, s.roleOf(t, eve.id))
		}
		if n := s.db.queryInt(t, "SELECT COUNT(*) FROM users WHERE role = 'admin'"); n != 1 {
			t.Errorf("%d administrators, want only root", n)
		}
	})

	t.Run("a role change takes effect at once", func(t *testing.T) {
		// An operator promotes and demotes with the CLI; the tokens already issued follow the new role on
		// their next request.
		op := s.newAccount(t, "operator")
		s.do(t, "GET", "/admin/users", bearer(op.token)).want(t, http.StatusForbidden, detailForbidden)
		s.setRole(t, op.email, "admin")
		s.do(t, "GET", "/admin/users", bearer(op.token)).want(t, http.StatusOK, "")
		s.setRole(t, op.email, "user")
		s.do(t, "GET", "/admin/users", bearer(op.token)).want(t, http.StatusForbidden, detailForbidden)
		// An administrator demoted through the API likewise.
		s.setRole(t, op.email, "admin")
		s.do(t, "PATCH", adminUserPath(op.id), bearer(root.token), jsonBody(`{"role":"user"}`)).want(t, http.StatusOK, "")
		s.do(t, "GET", "/admin/audit", bearer(op.token)).want(t, http.StatusForbidden, detailForbidden)
		// And a deactivated administrator is signed out altogether.
		s.setRole(t, op.email, "admin")
		s.do(t, "PATCH", adminUserPath(op.id), bearer(root.token), jsonBody(`{"is_active":false}`)).want(t, http.StatusOK, "")
		s.do(t, "GET", "/admin/users", bearer(op.token)).want(t, http.StatusUnauthorized, detailInvalidToken)
	})

	t.Run("method override headers do not change the operation", func(t *testing.T) {
		aliceItem := s.createItem(t, alice.token, "alice's other", "")
		for _, h := range []string{"X-HTTP-Method-Override", "X-HTTP-Method", "X-Method-Override"} {
			s.do(t, "GET", itemPath(aliceItem.ID), bearer(alice.token), header(h, "DELETE")).want(t, http.StatusOK, "")
			s.do(t, "GET", "/items/", header(h, "GET")).want(t, http.StatusUnauthorized, detailNotAuthenticated)
		}
		s.do(t, "GET", itemPath(aliceItem.ID), bearer(alice.token)).want(t, http.StatusOK, "")
	})
}

// TestAPI5_LastAdministrator checks the one rule that keeps the admin functions reachable: the only active
// administrator cannot demote, deactivate or delete themself, and two administrators removing each other
// at the same moment cannot leave none. The check and the change are SQL, so both engines run it.
func TestAPI5_LastAdministrator(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, eng engine) {
		s := startOn(t, eng, nil)
		root := s.newAdmin(t, "root")
		// Someone must be able to administer the service; demoting, deactivating or deleting the only
		// active administrator is refused and changes nothing.
		if n := s.db.queryInt(t, "SELECT COUNT(*) FROM users WHERE role = 'admin' AND is_active = ?", true); n != 1 {
			t.Fatalf("%d active administrators, want only root", n)
		}
		for _, body := range []string{`{"role":"user"}`, `{"is_active":false}`} {
			r := s.do(t, "PATCH", adminUserPath(root.id), bearer(root.token), jsonBody(body))
			r.want(t, http.StatusConflict, "")
		}
		s.do(t, "DELETE", "/auth/me", bearer(root.token), jsonBody(jsonOf(map[string]string{"password": root.password}))).
			want(t, http.StatusConflict, "")
		// The operator's command line keeps the rule too.
		if msg := s.cliRefused(t, "user", "set-role", "-email", root.email, "-role", "user"); !strings.Contains(msg, "administrator") {
			t.Errorf("fortress user set-role on the last administrator: stderr %q, want it to say why", msg)
		}
		if s.roleOf(t, root.id) != "admin" {
			t.Errorf("root's role %q, want admin", s.roleOf(t, root.id))
		}
		s.do(t, "GET", "/admin/users", bearer(root.token)).want(t, http.StatusOK, "")

		// Two administrators removing each other at the same moment must not leave none: one change wins,
		// the other is refused (409 as the last administrator, or 403/401 once the winner has demoted or
		// deactivated its author).
		second := s.newAdmin(t, "second")
		pair := []*account{&root, &second}
		outcomes := map[string]int{}
		for round := range 10 {
			body := []string{`{"role":"user"}`, `{"is_active":false}`}[round%2]
			answers := atOnce(t, len(pair), func(i int) (response, error) {
				return s.send("PATCH", adminUserPath(pair[1-i].id), bearer(pair[i].token), jsonBody(body))
			})
			var statuses []int
			for _, r := range answers {
				statuses = append(statuses, r.status)
			}
			slices.Sort(statuses)
			outcomes[body+" "+fmt.Sprint(statuses)]++
			if n := s.db.queryInt(t, "SELECT COUNT(*) FROM users WHERE role = 'admin' AND is_active = ?", true); n != 1 {
				t.Fatalf("round %d, both sent %s: answers %v and %d active administrators, want exactly 1 left", round, body, statuses, n)
			}
			if statuses[0] != http.StatusOK || statuses[1] < http.StatusBadRequest {
				t.Errorf("round %d, both sent %s: answers %v, want one 200 and one refusal", round, body, statuses)
			}
			// The survivor restores the other for the next round.
			survivor, loser := pair[0], pair[1]
			if s.roleOf(t, root.id) != "admin" || s.db.queryInt(t, "SELECT COUNT(*) FROM users WHERE id = ? AND is_active = ?", root.id, true) != 1 {
				survivor, loser = loser, survivor
			}
			s.do(t, "PATCH", adminUserPath(loser.id), bearer(survivor.token), jsonBody(`{"role":"admin","is_active":true}`)).want(t, http.StatusOK, "")
			loser.signIn(t, s)
		}
		t.Logf("%s: concurrent mutual removals of the last two administrators: %v", eng.name, outcomes)
		s.do(t, "PATCH", adminUserPath(second.id), bearer(root.token), jsonBody(`{"role":"user"}`)).want(t, http.StatusOK, "")
	})
}
