package httpapi

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fortress-dev/fortress"
)

// testClientIP is the address httptest gives every request, which the audit log must record.
const testClientIP = "192.0.2.1"

// adminUser registers and signs in an account and makes it an administrator through the store. The
// session check loads the role on every request, so the token returned has admin rights at once.
func (e *env) adminUser(email string) (int64, string) {
	e.t.Helper()
	id, tok := e.user(email)
	if _, _, err := e.db.UpdateUser(context.Background(), id, fortress.UserUpdate{Role: new(fortress.RoleAdmin)}); err != nil {
		e.t.Fatalf("UpdateUser(%d, role admin): got error %v, want nil", id, err)
	}
	return id, tok
}

// loginTokens signs in and returns both tokens of the new session.
func (e *env) loginTokens(email string) tokenResponse {
	e.t.Helper()
	rec := e.do("POST", "/auth/login", "", "application/x-www-form-urlencoded", loginBody(email, testPassword))
	wantStatus(e.t, rec, http.StatusOK)
	var tr tokenResponse
	decodeBody(e.t, rec, &tr)
	if tr.AccessToken == "" || tr.RefreshToken == "" {
		e.t.Fatalf("login of %s: got tokens %q/%q, want both", email, tr.AccessToken, tr.RefreshToken)
	}
	return tr
}

// auditLog reads the stored audit log (newest first) behind the API's back.
func (e *env) auditLog(f fortress.AuditFilter) []fortress.AuditEvent {
	e.t.Helper()
	if f.Limit == 0 {
		f.Limit = 1000
	}
	events, total, err := e.db.ListAudit(context.Background(), f)
	if err != nil {
		e.t.Fatalf("ListAudit(%+v): got error %v, want nil", f, err)
	}
	if len(events) != total {
		e.t.Fatalf("ListAudit(%+v): got %d of %d events, want all", f, len(events), total)
	}
	return events
}

// storedUser reads an account behind the API's back.
func (e *env) storedUser(id int64) fortress.User {
	e.t.Helper()
	u, err := e.db.FindUserByID(context.Background(), id)
	if err != nil {
		e.t.Fatalf("FindUserByID(%d): got error %v, want nil", id, err)
	}
	return u
}

// patchUser sends PATCH /admin/users/{id} with a JSON body.
func (e *env) patchUser(tok string, id int64, body string) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.doJSON("PATCH", "/admin/users/"+strconv.FormatInt(id, 10), tok, body)
}

// wantAuditEvent checks the one stored event of name about subject that the response rec caused.
func wantAuditEvent(t *testing.T, e *env, rec *httptest.ResponseRecorder, event string, actor, subject int64, outcome, detail string) {
	t.Helper()
	reqID := rec.Header().Get("X-Request-ID")
	var found []fortress.AuditEvent
	for _, ev := range e.auditLog(fortress.AuditFilter{Event: event}) {
		if ev.RequestID == reqID {
			found = append(found, ev)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%s events of request %s: got %d (%+v), want 1", event, reqID, len(found), found)
	}
	got := found[0]
	want := fortress.AuditEvent{ID: got.ID, Time: got.Time, Event: event, ActorID: actor, SubjectID: subject,
		ClientIP: testClientIP, RequestID: reqID, Outcome: outcome, Detail: detail}
	if got != want {
		t.Errorf("audit event: got %+v, want %+v", got, want)
	}
}

// wantNoSecrets fails when a secret, or any password hash, appears in the log output or in a stored
// audit event.
func wantNoSecrets(t *testing.T, e *env, secrets ...string) {
	t.Helper()
	logged := e.log.String()
	if logged == "" {
		t.Fatal("log output: got none, want the requests' lines")
	}
	var events strings.Builder
	for _, ev := range e.auditLog(fortress.AuditFilter{}) {
		fmt.Fprintf(&events, "%+v\n", ev)
	}
	for i, s := range append(secrets, "$argon2id", "password_hash") {
		if s == "" {
			t.Fatalf("wantNoSecrets: secret %d is empty, want a real one", i)
		}
		// The secret itself is not printed: test output is a log too.
		if strings.Contains(logged, s) {
			t.Errorf("log output contains secret %d (%d bytes), want none", i, len(s))
		}
		if strings.Contains(events.String(), s) {
			t.Errorf("audit log contains secret %d (%d bytes), want none", i, len(s))
		}
	}
}

// adminUsers answers GET target with tok, which must succeed, and decodes the accounts.
func adminUsers(t *testing.T, e *env, tok, target string) ([]adminUserResponse, *httptest.ResponseRecorder) {
	t.Helper()
	rec := e.do("GET", target, tok, "", "")
	wantStatus(t, rec, http.StatusOK)
	var out []adminUserResponse
	decodeBody(t, rec, &out)
	return out, rec
}

// auditPage answers GET target with tok, which must succeed, and decodes the events.
func auditPage(t *testing.T, e *env, tok, target string) ([]auditEventResponse, *httptest.ResponseRecorder) {
	t.Helper()
	rec := e.do("GET", target, tok, "", "")
	wantStatus(t, rec, http.StatusOK)
	var out []auditEventResponse
	decodeBody(t, rec, &out)
	return out, rec
}

var linkNext = regexp.MustCompile(`^<([^>]+)>; rel="next"$`)

// nextPage returns the target of the Link to the next page, or "" when there is none.
func nextPage(t *testing.T, rec *httptest.ResponseRecorder) string {
	t.Helper()
	link := rec.Header().Get("Link")
	if link == "" {
		return ""
	}
	m := linkNext.FindStringSubmatch(link)
	if m == nil {
		t.Fatalf("Link got %q, want <target>; rel=\"next\"", link)
	}
	return m[1]
}

func wantTotal(t *testing.T, rec *httptest.ResponseRecorder, want int) {
	t.Helper()
	if got := rec.Header().Get("X-Total-Count"); got != strconv.Itoa(want) {
		t.Errorf("X-Total-Count got %q, want %d", got, want)
	}
}

func userIDs(users []adminUserResponse) []int64 {
	out := make([]int64, len(users))
	for i, u := range users {
		out[i] = u.ID
	}
	return out
}

func eventIDs(events []auditEventResponse) []int64 {
	out := make([]int64, len(events))
	for i, ev := range events {
		out[i] = ev.ID
	}
	return out
}

// sameUser compares accounts, their creation times as instants.
func sameUser(a, b adminUserResponse) bool {
	same := a.CreatedAt.Equal(b.CreatedAt)
	a.CreatedAt, b.CreatedAt = time.Time{}, time.Time{}
	return same && a == b
}

// sameEvent compares audit events, their times as instants.
func sameEvent(a, b auditEventResponse) bool {
	same := a.Time.Equal(b.Time)
	a.Time, b.Time = time.Time{}, time.Time{}
	return same && a == b
}

// TestAdminRoutesRefuseNonAdmins: every admin route answers a plain user 403, records each refusal as
// authz.denied, and changes nothing; without a token it is 401.
func TestAdminRoutesRefuseNonAdmins(t *testing.T) {
	e := newEnv(t)
	uid, tok := e.user("plain@example.com")
	routes := e.srv.adminRoutes()
	var got []string
	for _, rt := range routes {
		got = append(got, rt.method+" "+rt.path)
	}
	want := []string{"GET /admin/users", "GET /admin/users/{user_id}", "PATCH /admin/users/{user_id}", "GET /admin/audit"}
	if !slices.Equal(got, want) {
		t.Fatalf("admin routes got %v, want %v", got, want)
	}

	deniedPerm := map[string]string{} // request id -> permission refused
	for _, rt := range routes {
		if !strings.HasPrefix(rt.path, "/admin/") || rt.doc.tag != "admin" {
			t.Errorf("%s %s: path/tag got %s/%q, want under /admin/ with tag admin", rt.method, rt.path, rt.path, rt.doc.tag)
		}
		if p := rt.doc.permission; slices.Contains(rolePermissions[fortress.RoleUser], p) || !slices.Contains(rolePermissions[fortress.RoleAdmin], p) {
			t.Errorf("%s %s: permission %q, want one that only admins have", rt.method, rt.path, p)
		}
		target := strings.ReplaceAll(rt.path, "{user_id}", strconv.FormatInt(uid, 10))
		body := ""
		if rt.doc.body != nil {
			body = `{"role":"admin"}` // the user tries to promote themself
		}
		wantProblem(t, e.doJSON(rt.method, target, "", body), http.StatusUnauthorized, detailNotAuthenticated)
		rec := e.doJSON(rt.method, target, tok, body)
		wantProblem(t, rec, http.StatusForbidden, "Not enough permissions")
		deniedPerm[rec.Header().Get("X-Request-ID")] = rt.doc.permission
	}

	denied := e.auditLog(fortress.AuditFilter{Event: eventAuthorizationDeny})
	if len(denied) != len(routes) {
		t.Fatalf("authz.denied events got %d, want one per refused request (%d): %+v", len(denied), len(routes), denied)
	}
	for _, ev := range denied {
		perm, ok := deniedPerm[ev.RequestID]
		if !ok || ev.ActorID != uid || ev.SubjectID != uid || ev.Outcome != outcomeDenied || ev.Detail != perm || ev.ClientIP != testClientIP {
			t.Errorf("authz.denied event got %+v, want actor and subject %d, outcome denied, detail %q, client %s and a refused request's id",
				ev, uid, perm, testClientIP)
		}
	}
	if u := e.storedUser(uid); u.Role != fortress.RoleUser || !u.IsActive {
		t.Errorf("after the refused requests: role %q active %v, want user and active", u.Role, u.IsActive)
	}
	if evs := e.auditLog(fortress.AuditFilter{Event: eventRoleChange}); len(evs) != 0 {
		t.Errorf("role change events got %+v, want none", evs)
	}
}

// TestAdminUserList: all accounts in id order with exactly the documented fields, searched by email
// regardless of case, paged with X-Total-Count and a Link that keeps the search; bad parameters are 422.
func TestAdminUserList(t *testing.T) {
	e := newEnv(t)
	aid, tok := e.adminUser("root@example.com")
	alice := e.register("alice@example.com", testPassword).ID
	bob := e.register("Bob@Example.COM", testPassword).ID
	carol := e.register("carol@other.org", testPassword).ID

	users, rec := adminUsers(t, e, tok, "/admin/users")
	if got, want := userIDs(users), []int64{aid, alice, bob, carol}; !slices.Equal(got, want) {
		t.Fatalf("ids got %v, want %v", got, want)
	}
	wantTotal(t, rec, 4)
	if link := rec.Header().Get("Link"); link != "" {
		t.Errorf("Link got %q, want none on the only page", link)
	}
	for _, u := range users {
		s := e.storedUser(u.ID)
		want := adminUserResponse{ID: s.ID, Email: s.Email, IsActive: true, Role: s.Role, CreatedAt: s.CreatedAt.UTC()}
		if !sameUser(u, want) || u.CreatedAt.IsZero() {
			t.Errorf("account got %+v, want %+v", u, want)
		}
	}
	if users[0].Role != fortress.RoleAdmin || users[1].Role != fortress.RoleUser || users[2].Email != "Bob@example.com" {
		t.Errorf("accounts got %+v, want root an admin, alice a user, Bob's domain lower-cased", users)
	}
	var raw []map[string]any
	decodeBody(t, rec, &raw)
	for _, m := range raw {
		if got := slices.Sorted(maps.Keys(m)); !slices.Equal(got, []string{"created_at", "email", "id", "is_active", "role"}) {
			t.Errorf("fields got %v, want exactly id, email, is_active, role, created_at", got)
		}
	}
	if strings.Contains(rec.Body.String(), "password") || strings.Contains(rec.Body.String(), e.storedUser(alice).PasswordHash) {
		t.Errorf("body %s: mentions a password, want none", rec.Body.String())
	}

	for _, c := range []struct {
		target string
		want   []int64
	}{
		{"/admin/users?q=BOB", []int64{bob}},
		{"/admin/users?q=EXAMPLE.com", []int64{aid, alice, bob}},
		{"/admin/users?q=" + url.QueryEscape("@other."), []int64{carol}},
		{"/admin/users?q=%25", []int64{}}, // LIKE's wildcard matches itself only
		{"/admin/users?q=_", []int64{}},
		{"/admin/users?q=", []int64{aid, alice, bob, carol}},
		{"/admin/users?offset=10", []int64{}},
	} {
		users, rec := adminUsers(t, e, tok, c.target)
		if got := userIDs(users); !slices.Equal(got, c.want) {
			t.Errorf("GET %s: ids got %v, want %v", c.target, got, c.want)
		}
		total := len(c.want)
		if strings.Contains(c.target, "offset=10") {
			total = 4
		}
		wantTotal(t, rec, total)
		if len(c.want) == 0 && strings.TrimSpace(rec.Body.String()) != "[]" {
			t.Errorf("GET %s: body got %s, want []", c.target, rec.Body.String())
		}
	}

	// Paging follows Link, which keeps the search.
	var seen []int64
	target := "/admin/users?q=example.com&limit=2"
	wantLinks := []string{"/admin/users?limit=2&offset=2&q=example.com", ""}
	for i := 0; target != ""; i++ {
		if i == len(wantLinks) {
			t.Fatalf("pages: got more than %d, want %d", i, len(wantLinks))
		}
		users, rec := adminUsers(t, e, tok, target)
		wantTotal(t, rec, 3)
		seen = append(seen, userIDs(users)...)
		target = nextPage(t, rec)
		if target != wantLinks[i] {
			t.Errorf("page %d: next got %q, want %q", i, target, wantLinks[i])
		}
	}
	if want := []int64{aid, alice, bob}; !slices.Equal(seen, want) {
		t.Errorf("paged ids got %v, want %v", seen, want)
	}

	for _, c := range []struct{ query, field string }{
		{"q=" + strings.Repeat("a", 255), "q"},
		{"q=a%01b", "q"},
		{"q=a%E2%80%AEb", "q"}, // a bidirectional override
		{"q=%FF", "q"},         // not UTF-8
		{"q=a&q=b", "q"},
		{"limit=0", "limit"},
		{"limit=101", "limit"},
		{"offset=-1", "offset"},
	} {
		p := wantProblem(t, e.do("GET", "/admin/users?"+c.query, tok, "", ""), http.StatusUnprocessableEntity, "")
		if len(p.Errors) != 1 || p.Errors[0].Field != c.field || p.Errors[0].Location != "query" {
			t.Errorf("GET /admin/users?%.40s: errors got %+v, want one about query parameter %s", c.query, p.Errors, c.field)
		}
	}
	users, _ = adminUsers(t, e, tok, "/admin/users?q="+strings.Repeat("a", 254))
	if len(users) != 0 {
		t.Errorf("q of 254 characters: got %v, want accepted and no match", users)
	}
}

// TestAdminUserGet: one account by id; a missing one is 404 and a malformed id 422, for GET and PATCH.
func TestAdminUserGet(t *testing.T) {
	e := newEnv(t)
	_, tok := e.adminUser("root@example.com")
	uid := e.register("view@example.com", testPassword).ID

	rec := e.do("GET", "/admin/users/"+strconv.FormatInt(uid, 10), tok, "", "")
	wantStatus(t, rec, http.StatusOK)
	var got adminUserResponse
	decodeBody(t, rec, &got)
	s := e.storedUser(uid)
	if want := (adminUserResponse{ID: uid, Email: "view@example.com", IsActive: true, Role: fortress.RoleUser, CreatedAt: s.CreatedAt}); !sameUser(got, want) {
		t.Errorf("account got %+v, want %+v", got, want)
	}

	wantProblem(t, e.do("GET", "/admin/users/999999", tok, "", ""), http.StatusNotFound, detailUserNotFound)
	wantProblem(t, e.patchUser(tok, 999999, `{"role":"admin"}`), http.StatusNotFound, detailUserNotFound)
	for _, id := range []string{"0", "01", "-1", "x", "9223372036854775808", "1.0"} {
		for _, method := range []string{"GET", "PATCH"} {
			p := wantProblem(t, e.doJSON(method, "/admin/users/"+id, tok, `{"role":"admin"}`), http.StatusUnprocessableEntity, "")
			if len(p.Errors) != 1 || p.Errors[0].Field != "user_id" || p.Errors[0].Location != "path" {
				t.Errorf("%s /admin/users/%s: errors got %+v, want one about path parameter user_id", method, id, p.Errors)
			}
		}
	}
	if evs := e.auditLog(fortress.AuditFilter{Event: eventRoleChange}); len(evs) != 0 {
		t.Errorf("role change events got %+v, want none", evs)
	}
}

// TestAdminRoleChange: an admin promotes and demotes a user; the user's existing token gains and loses
// admin rights at once; each change is an audit event with actor, subject, client and request id; a change
// to the present role changes and records nothing; no secret reaches the log or the audit log.
func TestAdminRoleChange(t *testing.T) {
	e := newEnv(t)
	aid, atok := e.adminUser("root@example.com")
	uid, utok := e.user("pat@example.com")
	wantProblem(t, e.do("GET", "/admin/audit", utok, "", ""), http.StatusForbidden, "Not enough permissions")

	rec := e.patchUser(atok, uid, `{"role":"admin"}`)
	wantStatus(t, rec, http.StatusOK)
	var got adminUserResponse
	decodeBody(t, rec, &got)
	if got.ID != uid || got.Role != fortress.RoleAdmin || !got.IsActive || got.Email != "pat@example.com" {
		t.Errorf("promoted account got %+v, want pat, active, admin", got)
	}
	if r := e.storedUser(uid).Role; r != fortress.RoleAdmin {
		t.Errorf("stored role got %q, want admin", r)
	}
	wantAuditEvent(t, e, rec, eventRoleChange, aid, uid, outcomeSuccess, "user->admin")
	wantStatus(t, e.do("GET", "/admin/audit", utok, "", ""), http.StatusOK) // the same token, now an admin's

	rec = e.patchUser(atok, uid, `{"role":"admin","is_active":true}`) // nothing to change
	wantStatus(t, rec, http.StatusOK)
	if n := len(e.auditLog(fortress.AuditFilter{Event: eventRoleChange})); n != 1 {
		t.Errorf("role change events after a no-op got %d, want still 1", n)
	}
	if n := len(e.auditLog(fortress.AuditFilter{Event: eventUserReactivate})); n != 0 {
		t.Errorf("reactivation events after a no-op got %d, want 0", n)
	}

	rec = e.patchUser(atok, uid, `{"role":"user"}`)
	wantStatus(t, rec, http.StatusOK)
	decodeBody(t, rec, &got)
	if got.Role != fortress.RoleUser || e.storedUser(uid).Role != fortress.RoleUser {
		t.Errorf("demoted account got %+v, stored %q; want user", got, e.storedUser(uid).Role)
	}
	wantAuditEvent(t, e, rec, eventRoleChange, aid, uid, outcomeSuccess, "admin->user")
	wantProblem(t, e.do("GET", "/admin/audit", utok, "", ""), http.StatusForbidden, "Not enough permissions")
	wantStatus(t, e.do("GET", "/auth/me", utok, "", ""), http.StatusOK) // still signed in, as a user

	wantNoSecrets(t, e, testPassword, atok, utok, e.storedUser(uid).PasswordHash, e.storedUser(aid).PasswordHash)
}

// TestAdminDeactivateReactivate: deactivation stops the user's access and refresh tokens at once and
// refuses their logins; reactivation lets them sign in again but revives no old session; both are audited.
func TestAdminDeactivateReactivate(t *testing.T) {
	e := newEnv(t)
	aid, atok := e.adminUser("root@example.com")
	uid := e.register("dana@example.com", testPassword).ID
	s1, s2 := e.loginTokens("dana@example.com"), e.loginTokens("dana@example.com")
	wantStatus(t, e.do("GET", "/auth/me", s1.AccessToken, "", ""), http.StatusOK)

	rec := e.patchUser(atok, uid, `{"is_active":false}`)
	wantStatus(t, rec, http.StatusOK)
	var got adminUserResponse
	decodeBody(t, rec, &got)
	if got.ID != uid || got.IsActive || got.Role != fortress.RoleUser {
		t.Errorf("deactivated account got %+v, want dana inactive", got)
	}
	if e.storedUser(uid).IsActive {
		t.Error("stored account: active, want inactive")
	}
	wantAuditEvent(t, e, rec, eventUserDeactivate, aid, uid, outcomeSuccess, "")

	dead := func(when string) {
		t.Helper()
		for _, s := range []tokenResponse{s1, s2} {
			wantProblem(t, e.do("GET", "/auth/me", s.AccessToken, "", ""), http.StatusUnauthorized, detailInvalidToken)
			body := `{"refresh_token":"` + s.RefreshToken + `"}` // base64url: nothing to escape
			wantProblem(t, e.doJSON("POST", "/auth/refresh", "", body), http.StatusUnauthorized, detailInvalidToken)
		}
		if t.Failed() {
			t.Fatalf("%s: an old session still works", when)
		}
	}
	dead("after deactivation")
	wantProblem(t, e.do("POST", "/auth/login", "", "application/x-www-form-urlencoded", loginBody("dana@example.com", testPassword)),
		http.StatusUnauthorized, detailBadCredentials)

	rec = e.patchUser(atok, uid, `{"is_active":true}`)
	wantStatus(t, rec, http.StatusOK)
	decodeBody(t, rec, &got)
	if !got.IsActive || !e.storedUser(uid).IsActive {
		t.Errorf("reactivated account got %+v, stored active %v; want active", got, e.storedUser(uid).IsActive)
	}
	wantAuditEvent(t, e, rec, eventUserReactivate, aid, uid, outcomeSuccess, "")
	dead("after reactivation")
	s3 := e.loginTokens("dana@example.com")
	wantStatus(t, e.do("GET", "/auth/me", s3.AccessToken, "", ""), http.StatusOK)

	wantNoSecrets(t, e, testPassword, atok, s1.AccessToken, s1.RefreshToken, s2.RefreshToken, s3.RefreshToken,
		e.storedUser(uid).PasswordHash)
}

// TestAdminUpdateBothFields: a role change and a deactivation in one PATCH happen together, each with its
// own audit event, and the deactivation still ends the account's sessions.
func TestAdminUpdateBothFields(t *testing.T) {
	e := newEnv(t)
	aid, atok := e.adminUser("root@example.com")
	uid := e.register("erin@example.com", testPassword).ID
	s1 := e.loginTokens("erin@example.com")

	rec := e.patchUser(atok, uid, `{"role":"admin","is_active":false}`)
	wantStatus(t, rec, http.StatusOK)
	var got adminUserResponse
	decodeBody(t, rec, &got)
	if got.ID != uid || got.Role != fortress.RoleAdmin || got.IsActive {
		t.Errorf("answer: got %+v, want erin as an inactive admin", got)
	}
	if u := e.storedUser(uid); u.Role != fortress.RoleAdmin || u.IsActive {
		t.Errorf("stored: got role %q active %v, want admin and inactive", u.Role, u.IsActive)
	}
	wantAuditEvent(t, e, rec, eventRoleChange, aid, uid, outcomeSuccess, "user->admin")
	wantAuditEvent(t, e, rec, eventUserDeactivate, aid, uid, outcomeSuccess, "")
	wantProblem(t, e.do("GET", "/auth/me", s1.AccessToken, "", ""), http.StatusUnauthorized, detailInvalidToken)
}

// TestAdminLastActiveAdmin: the last active administrator can neither demote nor deactivate themself,
// and the refusal changes nothing but is audited as a failure; an inactive admin does not count; with two
// active admins either may demote the other or themself.
func TestAdminLastActiveAdmin(t *testing.T) {
	e := newEnv(t)
	aid, atok := e.adminUser("first@example.com")
	before := e.snapshot()
	for _, body := range []string{`{"role":"user"}`, `{"is_active":false}`, `{"role":"user","is_active":false}`} {
		rec := e.patchUser(atok, aid, body)
		wantProblem(t, rec, http.StatusConflict, detailLastAdmin)
		if body != `{"is_active":false}` {
			wantAuditEvent(t, e, rec, eventRoleChange, aid, aid, outcomeFailure, "last_admin")
		}
		if body != `{"role":"user"}` {
			wantAuditEvent(t, e, rec, eventUserDeactivate, aid, aid, outcomeFailure, "last_admin")
		}
	}
	if after := e.snapshot(); after != before {
		t.Errorf("after the refusals the store got\n%s\nwant unchanged\n%s", after, before)
	}
	if u := e.storedUser(aid); u.Role != fortress.RoleAdmin || !u.IsActive {
		t.Errorf("the last admin got role %q active %v, want admin and active", u.Role, u.IsActive)
	}
	wantStatus(t, e.do("GET", "/admin/users", atok, "", ""), http.StatusOK)

	// A second admin, deactivated, does not count.
	bid, _ := e.adminUser("second@example.com")
	wantStatus(t, e.patchUser(atok, bid, `{"is_active":false}`), http.StatusOK)
	wantProblem(t, e.patchUser(atok, aid, `{"role":"user"}`), http.StatusConflict, detailLastAdmin)
	wantStatus(t, e.patchUser(atok, bid, `{"is_active":true}`), http.StatusOK)
	btok := e.login("second@example.com", testPassword)

	// Two active admins: one demotes the other, and the other's token loses its rights at once.
	rec := e.patchUser(atok, bid, `{"role":"user"}`)
	wantStatus(t, rec, http.StatusOK)
	wantAuditEvent(t, e, rec, eventRoleChange, aid, bid, outcomeSuccess, "admin->user")
	wantProblem(t, e.do("GET", "/admin/users", btok, "", ""), http.StatusForbidden, "Not enough permissions")
	wantStatus(t, e.patchUser(atok, bid, `{"role":"admin"}`), http.StatusOK)

	// An admin may demote themself while another remains; then the other is the last.
	rec = e.patchUser(atok, aid, `{"role":"user"}`)
	wantStatus(t, rec, http.StatusOK)
	wantAuditEvent(t, e, rec, eventRoleChange, aid, aid, outcomeSuccess, "admin->user")
	wantProblem(t, e.do("GET", "/admin/users", atok, "", ""), http.StatusForbidden, "Not enough permissions")
	wantProblem(t, e.patchUser(btok, bid, `{"is_active":false}`), http.StatusConflict, detailLastAdmin)
	if u := e.storedUser(bid); u.Role != fortress.RoleAdmin || !u.IsActive {
		t.Errorf("the new last admin got role %q active %v, want admin and active", u.Role, u.IsActive)
	}
}

// TestAdminAuditLog: the log newest first, exactly as stored; filtered by event, by user (actor or
// subject), by time range (since inclusive, until exclusive, any offset) and combined; paged with Links that
// keep the filters; malformed filters are 422.
func TestAdminAuditLog(t *testing.T) {
	e := newEnv(t)
	aid, tok := e.adminUser("root@example.com")
	u1, u1tok := e.user("one@example.com")
	u2, _ := e.user("two@example.com")
	wantProblem(t, e.do("POST", "/auth/login", "", "application/x-www-form-urlencoded", loginBody("one@example.com", "wrong password!")),
		http.StatusUnauthorized, detailBadCredentials)
	wantStatus(t, e.patchUser(tok, u2, `{"role":"admin"}`), http.StatusOK)
	wantProblem(t, e.do("GET", "/admin/audit", u1tok, "", ""), http.StatusForbidden, "")
	all := e.auditLog(fortress.AuditFilter{})
	if len(all) < 8 {
		t.Fatalf("stored events got %d, want at least 8", len(all))
	}

	page, rec := auditPage(t, e, tok, "/admin/audit?limit=100")
	wantTotal(t, rec, len(all))
	if len(page) != len(all) {
		t.Fatalf("events got %d, want %d", len(page), len(all))
	}
	for i, ev := range all {
		if want := newAuditEventResponse(ev); !sameEvent(page[i], want) || page[i].Time.Location() != time.UTC {
			t.Errorf("event %d got %+v, want %+v", i, page[i], want)
		}
		if i > 0 && (page[i].Time.After(page[i-1].Time) || page[i].Time.Equal(page[i-1].Time) && page[i].ID > page[i-1].ID) {
			t.Errorf("event %d (%v, id %d) after event %d (%v, id %d): want newest first", i, page[i].Time, page[i].ID, i-1, page[i-1].Time, page[i-1].ID)
		}
	}

	filtered := func(keep func(fortress.AuditEvent) bool) []int64 {
		out := []int64{}
		for _, ev := range all {
			if keep(ev) {
				out = append(out, ev.ID)
			}
		}
		return out
	}
	pivot := all[len(all)/2].Time
	plus2 := pivot.In(time.FixedZone("", 2*60*60)).Format(time.RFC3339Nano)
	for _, c := range []struct {
		query string
		want  []int64
	}{
		{"event=auth.login.failure", filtered(func(ev fortress.AuditEvent) bool { return ev.Event == eventLoginFailure && ev.SubjectID == u1 })},
		{"event=user.register", filtered(func(ev fortress.AuditEvent) bool { return ev.Event == eventRegister })},
		{"event=no.such.event", []int64{}},
		{"user_id=" + strconv.FormatInt(u2, 10), filtered(func(ev fortress.AuditEvent) bool { return ev.ActorID == u2 || ev.SubjectID == u2 })},
		{"user_id=0", filtered(func(fortress.AuditEvent) bool { return true })},
		{"event=admin.role.change&user_id=" + strconv.FormatInt(aid, 10), filtered(func(ev fortress.AuditEvent) bool {
			return ev.Event == eventRoleChange && ev.ActorID == aid && ev.SubjectID == u2 && ev.Detail == "user->admin"
		})},
		{"event=authz.denied&user_id=" + strconv.FormatInt(u1, 10), filtered(func(ev fortress.AuditEvent) bool {
			return ev.Event == eventAuthorizationDeny && ev.ActorID == u1 && ev.Detail == permAuditRead
		})},
		{"since=" + pivot.Format(time.RFC3339Nano), filtered(func(ev fortress.AuditEvent) bool { return !ev.Time.Before(pivot) })},
		{"since=" + url.QueryEscape(plus2), filtered(func(ev fortress.AuditEvent) bool { return !ev.Time.Before(pivot) })},
		{"until=" + pivot.Format(time.RFC3339Nano), filtered(func(ev fortress.AuditEvent) bool { return ev.Time.Before(pivot) })},
		{"since=" + pivot.Format(time.RFC3339Nano) + "&until=" + pivot.Format(time.RFC3339Nano), []int64{}},
		{"since=2000-01-01T00:00:00Z&until=2000-01-02T00:00:00Z", []int64{}},
		{"since=2000-01-01T00:00:00Z&until=9999-12-31T23:59:59Z", filtered(func(fortress.AuditEvent) bool { return true })},
	} {
		page, rec := auditPage(t, e, tok, "/admin/audit?limit=100&"+c.query)
		if got := eventIDs(page); !slices.Equal(got, c.want) {
			t.Errorf("?%s: ids got %v, want %v", c.query, got, c.want)
		}
		wantTotal(t, rec, len(c.want))
	}
	if since, until := filtered(func(ev fortress.AuditEvent) bool { return !ev.Time.Before(pivot) }),
		filtered(func(ev fortress.AuditEvent) bool { return ev.Time.Before(pivot) }); len(since) == 0 || len(until) == 0 {
		t.Errorf("the time range cases split the log into %d and %d events, want both sides non-empty", len(since), len(until))
	}
	if n := len(filtered(func(ev fortress.AuditEvent) bool { return ev.Event == eventLoginFailure })); n != 1 {
		t.Errorf("stored login failures got %d, want 1", n)
	}

	// Paging follows Link, which keeps the filters.
	want := filtered(func(ev fortress.AuditEvent) bool { return ev.ActorID == u1 || ev.SubjectID == u1 })
	var seen []int64
	target := fmt.Sprintf("/admin/audit?user_id=%d&limit=2", u1)
	for pages := 0; target != ""; pages++ {
		if pages > len(want) {
			t.Fatalf("pages: got more than %d, want at most %d", pages, (len(want)+1)/2)
		}
		page, rec := auditPage(t, e, tok, target)
		wantTotal(t, rec, len(want))
		seen = append(seen, eventIDs(page)...)
		target = nextPage(t, rec)
		if wantLink := fmt.Sprintf("/admin/audit?limit=2&offset=%d&user_id=%d", len(seen), u1); target != "" && target != wantLink {
			t.Errorf("next got %q, want %q", target, wantLink)
		}
	}
	if !slices.Equal(seen, want) || len(want) < 3 {
		t.Errorf("paged ids got %v, want %v (at least 3, over two pages)", seen, want)
	}

	for _, c := range []struct{ query, field string }{
		{"since=yesterday", "since"},
		{"since=2025-01-31", "since"},
		{"since=2025-01-31T23:59:59+02:00", "since"}, // an unescaped '+' is a space
		{"until=2025-13-01T00:00:00Z", "until"},
		{"until=2025-01-31T23:59:59Z&until=2025-02-01T00:00:00Z", "until"},
		{"until=" + strings.Repeat("9", 36), "until"},
		{"event=AUTH.LOGIN.FAILURE", "event"},
		{"event=", "event"},
		{"event=auth_login", "event"},
		{"event=auth.login%0A", "event"},
		{"event=" + strings.Repeat("a", 65), "event"},
		{"user_id=-1", "user_id"},
		{"user_id=abc", "user_id"},
		{"user_id=01", "user_id"},
		{"limit=0", "limit"},
		{"offset=1000001", "offset"},
	} {
		p := wantProblem(t, e.do("GET", "/admin/audit?"+c.query, tok, "", ""), http.StatusUnprocessableEntity, "")
		if len(p.Errors) != 1 || p.Errors[0].Field != c.field || p.Errors[0].Location != "query" {
			t.Errorf("GET /admin/audit?%.40s: errors got %+v, want one about query parameter %s", c.query, p.Errors, c.field)
		}
	}
	if n := len(e.auditLog(fortress.AuditFilter{})); n != len(all) {
		t.Errorf("stored events after reading got %d, want still %d: reads are not audited", n, len(all))
	}
}

// TestAdminUpdateRefusesHostileInput: unknown fields (a password hash among them), roles outside the two,
// wrong types, null, an empty or oversized body: each is refused with the right 4xx and changes nothing.
func TestAdminUpdateRefusesHostileInput(t *testing.T) {
	e := newEnv(t)
	_, tok := e.adminUser("root@example.com")
	uid := e.register("target@example.com", testPassword).ID
	before := e.snapshot()
	fakeHash := "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo"
	for _, c := range []struct {
		name, contentType, body string
		status                  int
		field                   string // the field the 422 names, if any
	}{
		{"password hash", "application/json", `{"password_hash":"` + fakeHash + `"}`, 422, "password_hash"},
		{"password hash beside a role", "application/json", `{"role":"admin","password_hash":"x"}`, 422, "password_hash"},
		{"email", "application/json", `{"email":"evil@example.com"}`, 422, "email"},
		{"id", "application/json", `{"id":1,"is_active":false}`, 422, "id"},
		{"role root", "application/json", `{"role":"root"}`, 422, "role"},
		{"role in capitals", "application/json", `{"role":"ADMIN"}`, 422, "role"},
		{"empty role", "application/json", `{"role":""}`, 422, "role"},
		{"role padded", "application/json", `{"role":" admin"}`, 422, "role"},
		{"role as a number", "application/json", `{"role":1}`, 422, "role"},
		{"role as a list", "application/json", `{"role":["admin"]}`, 422, "role"},
		{"null role", "application/json", `{"role":null}`, 422, "role"},
		{"is_active yes", "application/json", `{"is_active":"yes"}`, 422, "is_active"},
		{"is_active 0", "application/json", `{"is_active":0}`, 422, "is_active"},
		{"null is_active", "application/json", `{"is_active":null,"role":"admin"}`, 422, "is_active"},
		{"key in capitals", "application/json", `{"Role":"admin"}`, 422, "Role"},
		{"nothing to change", "application/json", `{}`, 422, ""},
		{"duplicate key", "application/json", `{"role":"user","role":"admin"}`, 422, ""},
		{"array", "application/json", `[{"role":"admin"}]`, 422, ""},
		{"null body", "application/json", `null`, 422, ""},
		{"two objects", "application/json", `{"role":"admin"}{"role":"admin"}`, 422, ""},
		{"not JSON", "application/json", `role=admin`, 422, ""},
		{"empty body", "application/json", ``, 422, ""},
		{"huge body", "application/json", `{"role":"admin","x":"` + strings.Repeat("a", testMaxBody) + `"}`, 413, ""},
		{"form", "application/x-www-form-urlencoded", `role=admin`, 415, ""},
		{"no media type", "", `{"role":"admin"}`, 415, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := e.do("PATCH", "/admin/users/"+strconv.FormatInt(uid, 10), tok, c.contentType, c.body)
			p := wantProblem(t, rec, c.status, "")
			if c.field != "" && (len(p.Errors) == 0 || p.Errors[0].Field != c.field) {
				t.Errorf("errors got %+v, want the first about %s", p.Errors, c.field)
			}
			if strings.Contains(rec.Body.String(), fakeHash) {
				t.Errorf("body %s echoes the hash, want not", rec.Body.String())
			}
		})
	}
	if after := e.snapshot(); after != before {
		t.Errorf("store got\n%s\nwant unchanged\n%s", after, before)
	}
	if u := e.storedUser(uid); u.Role != fortress.RoleUser || !u.IsActive || u.PasswordHash == fakeHash {
		t.Errorf("target got role %q active %v, want an active user with their own hash", u.Role, u.IsActive)
	}
	for _, event := range []string{eventRoleChange, eventUserDeactivate, eventUserReactivate} {
		if evs := e.auditLog(fortress.AuditFilter{Event: event}); len(evs) != 0 {
			t.Errorf("%s events got %+v, want none", event, evs)
		}
	}
}

// TestAdminAnswersMatchDocument: what the admin routes answer, successes and problems, paging headers
// included, conforms to /openapi.json.
func TestAdminAnswersMatchDocument(t *testing.T) {
	e := newEnv(t)
	doc := openAPIDoc(t, e)
	aid, tok := e.adminUser("root@example.com")
	uid := e.register("doc@example.com", testPassword).ID
	e.register("doc2@example.com", testPassword)
	for _, name := range []string{"AdminUserResponse", "AuditEventResponse", "AdminUserUpdateRequest"} {
		at(t, doc, "components", "schemas", name)
	}
	if roles := at(t, doc, "components", "schemas", "AdminUserUpdateRequest", "properties", "role", "enum"); !slices.Equal(toStrings(roles), []string{"user", "admin"}) {
		t.Errorf("AdminUserUpdateRequest.role enum got %v, want [user admin]", roles)
	}
	user := "/admin/users/" + strconv.FormatInt(uid, 10)
	self := "/admin/users/" + strconv.FormatInt(aid, 10)
	for _, c := range []struct {
		path, method, target, body string
		status                     int
	}{
		{"/admin/users", "get", "/admin/users?q=example&limit=1", "", 200},
		{"/admin/users", "get", "/admin/users?limit=1000", "", 422},
		{"/admin/users/{user_id}", "get", user, "", 200},
		{"/admin/users/{user_id}", "get", "/admin/users/999999", "", 404},
		{"/admin/users/{user_id}", "patch", user, `{"role":"admin","is_active":false}`, 200},
		{"/admin/users/{user_id}", "patch", user, `{"role":"admin","is_active":true}`, 200},
		{"/admin/users/{user_id}", "patch", user, `{"role":"user"}`, 200},
		{"/admin/users/{user_id}", "patch", self, `{"is_active":false}`, 409},
		{"/admin/users/{user_id}", "patch", user, `{"role":"root"}`, 422},
		{"/admin/audit", "get", "/admin/audit?limit=1&event=admin.role.change&since=2000-01-01T00:00:00Z", "", 200},
		{"/admin/audit", "get", "/admin/audit?limit=1", "", 200},
		{"/admin/audit", "get", "/admin/audit?since=then", "", 422},
	} {
		rec := e.doJSON(strings.ToUpper(c.method), c.target, tok, c.body)
		if rec.Code != c.status {
			t.Errorf("%s %.60s: status got %d, want %d (body %.200s)", c.method, c.target, rec.Code, c.status, rec.Body.String())
			continue
		}
		if c.status == 200 && strings.Contains(c.target, "limit=") && rec.Header().Get("Link") == "" {
			t.Errorf("%s %.60s: no Link, want a next page to check against the document", c.method, c.target)
		}
		conformAnswer(t, doc, at(t, doc, "paths", c.path, c.method).(map[string]any), rec, false)
	}
}

// TestAdminAuditLogWithoutStore: a server that keeps the audit log in the structured log only answers
// GET /admin/audit 404, and still logs the admin's changes.
func TestAdminAuditLogWithoutStore(t *testing.T) {
	e := newEnv(t)
	aid, tok := e.adminUser("root@example.com")
	uid := e.register("nostore@example.com", testPassword).ID
	e.rebuild(func(c *Config) { c.Audit = nil })
	wantProblem(t, e.do("GET", "/admin/audit", tok, "", ""), http.StatusNotFound, "The audit log is not stored on this server.")
	rec := e.patchUser(tok, uid, `{"role":"admin"}`)
	wantStatus(t, rec, http.StatusOK)
	if n := len(e.auditLog(fortress.AuditFilter{Event: eventRoleChange})); n != 0 {
		t.Errorf("stored role changes got %d, want none without a store", n)
	}
	var logged []map[string]any
	for _, line := range e.log.lines(t) {
		if line["event"] == eventRoleChange {
			logged = append(logged, line)
		}
	}
	if len(logged) != 1 || logged[0]["actor_id"] != float64(aid) || logged[0]["subject_id"] != float64(uid) ||
		logged[0]["detail"] != "user->admin" || logged[0]["request_id"] != rec.Header().Get("X-Request-ID") {
		t.Errorf("logged role changes got %v, want one by %d of %d, user->admin, with the request id", logged, aid, uid)
	}
}
