package httpapi

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/fortress-dev/fortress"
	"github.com/fortress-dev/fortress/ratelimit"
)

const formType = "application/x-www-form-urlencoded"

// loginTokens logs in (API-client style) and returns the token response.
func (e *env) signIn(email, pw string) tokenResponse {
	e.t.Helper()
	rec := e.do("POST", "/auth/login", "", formType, loginBody(email, pw))
	wantStatus(e.t, rec, http.StatusOK)
	var tr tokenResponse
	decodeBody(e.t, rec, &tr)
	return tr
}

// refresh presents a refresh token in the body.
func (e *env) refresh(token string) *httptest.ResponseRecorder {
	e.t.Helper()
	body, _ := json.Marshal(refreshRequest{RefreshToken: token}) //nolint:gosec // G117: sending the token is the point
	return e.doJSON("POST", "/auth/refresh", "", string(body))
}

// wantTokenWorks checks whether an access token is accepted.
func (e *env) wantTokenWorks(tok string, works bool) {
	e.t.Helper()
	rec := e.do("GET", "/items/", tok, "", "")
	switch {
	case works && rec.Code != http.StatusOK:
		e.t.Fatalf("access token: got %d, want it accepted (200)", rec.Code)
	case !works:
		wantProblem(e.t, rec, http.StatusUnauthorized, detailInvalidToken)
	}
}

// auditEvents returns "event outcome detail" of the stored audit events, oldest first.
func (e *env) auditEvents() []string {
	e.t.Helper()
	events, _, err := e.db.ListAudit(context.Background(), fortress.AuditFilter{Limit: 1000})
	if err != nil {
		e.t.Fatalf("ListAudit: %v", err)
	}
	var out []string
	for i := len(events) - 1; i >= 0; i-- {
		ev := events[i]
		out = append(out, strings.TrimSpace(ev.Event+" "+ev.Outcome+" "+ev.Detail))
		if ev.RequestID == "" || ev.ClientIP == "" {
			e.t.Errorf("audit event %+v: want its request id and client address", ev)
		}
	}
	return out
}

func TestRefreshRotatesAndDetectsReuse(t *testing.T) {
	e := newEnv(t)
	e.register("rot@example.com", testPassword)
	first := e.signIn("rot@example.com", testPassword)
	e.secrets = append(e.secrets, first.RefreshToken)

	rec := e.refresh(first.RefreshToken)
	wantStatus(t, rec, http.StatusOK)
	var second tokenResponse
	decodeBody(t, rec, &second)
	if second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken || len(second.RefreshToken) != 43 {
		t.Fatalf("refresh: got %+v, want a new access token and a new 43-character refresh token", second)
	}
	e.wantTokenWorks(second.AccessToken, true)
	e.wantTokenWorks(first.AccessToken, true) // same session: still open

	// The first token again: a copy exists somewhere, so the whole session ends.
	wantProblem(t, e.refresh(first.RefreshToken), http.StatusUnauthorized, detailInvalidToken)
	wantProblem(t, e.refresh(second.RefreshToken), http.StatusUnauthorized, detailInvalidToken)
	e.wantTokenWorks(second.AccessToken, false)
	e.wantTokenWorks(first.AccessToken, false)

	events := e.auditEvents()
	if !slices.Contains(events, "auth.refresh.reuse denied session_revoked") {
		t.Fatalf("audit: got %q, want the reuse recorded", events)
	}
	if log := e.log.String(); !strings.Contains(log, `"msg":"auth.refresh.reuse"`) || strings.Contains(log, first.RefreshToken) ||
		strings.Contains(log, second.AccessToken) {
		t.Fatalf("log: want the reuse logged under its event name, and no token")
	}
}

func TestRefreshRefusesWhatIsNotAToken(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		name, body string
		status     int
	}{
		{"unknown token", `{"refresh_token":"` + strings.Repeat("A", 43) + `"}`, http.StatusUnauthorized},
		{"short", `{"refresh_token":"abc"}`, http.StatusUnauthorized},
		{"padded", `{"refresh_token":"` + strings.Repeat("A", 43) + `="}`, http.StatusUnauthorized},
		{"not base64url", `{"refresh_token":"` + strings.Repeat("+", 43) + `"}`, http.StatusUnauthorized},
		{"too long", `{"refresh_token":"` + strings.Repeat("A", 300) + `"}`, http.StatusUnprocessableEntity},
		{"number", `{"refresh_token":42}`, http.StatusUnprocessableEntity},
		{"null", `{"refresh_token":null}`, http.StatusUnprocessableEntity},
		{"missing", `{}`, http.StatusUnprocessableEntity},
		{"unknown field", `{"refresh_token":"x","user_id":1}`, http.StatusUnprocessableEntity},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantProblem(t, e.doJSON("POST", "/auth/refresh", "", tc.body), tc.status, "")
		})
	}
	// No body and no cookie: nothing to refresh with.
	wantProblem(t, e.do("POST", "/auth/refresh", "", "", ""), http.StatusUnauthorized, detailNotAuthenticated)
}

func TestSessionLifetimes(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  func(*Config)
	}{
		{"absolute lifetime", func(c *Config) { c.SessionLifetime = time.Millisecond }},
		{"idle timeout", func(c *Config) { c.SessionIdle = time.Millisecond }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, tc.opt)
			e.register("life@example.com", testPassword)
			tr := e.signIn("life@example.com", testPassword)
			time.Sleep(5 * time.Millisecond) // past the 1 ms limit, whatever the clock's resolution
			wantProblem(t, e.refresh(tr.RefreshToken), http.StatusUnauthorized, detailInvalidToken)
		})
	}
}

// cookieRequest is a browser's request: same origin unless origin says otherwise.
func cookieRequest(method, target, contentType, body, origin, cookie string) *http.Request {
	r := newRequest(method, target, contentType, body)
	if origin != "" {
		r.Header.Set("Origin", origin)
	}
	if cookie != "" {
		r.AddCookie(&http.Cookie{Name: refreshCookie, Value: cookie}) //nolint:gosec // G124: a request's cookie carries no attributes
	}
	return r
}

// refreshCookieOf returns the refresh cookie an answer sets, or nil.
func refreshCookieOf(rec *httptest.ResponseRecorder) *http.Cookie {
	for _, c := range rec.Result().Cookies() {
		if c.Name == refreshCookie {
			return c
		}
	}
	return nil
}

func TestBrowserSessionsUseAnHttpOnlyCookie(t *testing.T) {
	e := newEnv(t)
	e.register("browser@example.com", testPassword)
	const self = "http://example.com"
	login := loginBody("browser@example.com", testPassword) + "&refresh_delivery=cookie"

	rec := e.serve(cookieRequest("POST", "/auth/login", formType, login, self, ""))
	wantStatus(t, rec, http.StatusOK)
	var tr map[string]any
	decodeBody(t, rec, &tr)
	if _, ok := tr["refresh_token"]; ok {
		t.Fatalf("login body: got a refresh_token, want it only in the cookie")
	}
	c := refreshCookieOf(rec)
	if c == nil || len(c.Value) != 43 || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/auth" ||
		c.Secure || c.MaxAge < int(DefaultSessionLifetime/time.Second)-5 {
		t.Fatalf("cookie: got %+v, want HttpOnly, SameSite=Strict, Path=/auth, not Secure over HTTP, for the session's life", c)
	}

	// The cookie refreshes from the same origin, and rotates.
	rec = e.serve(cookieRequest("POST", "/auth/refresh", "", "", self, c.Value))
	wantStatus(t, rec, http.StatusOK)
	next := refreshCookieOf(rec)
	if next == nil || next.Value == c.Value || len(next.Value) != 43 {
		t.Fatalf("refresh cookie: got %+v, want a new token", next)
	}
	// Sec-Fetch-Site alone is enough, from a browser that sends no Origin.
	r := cookieRequest("POST", "/auth/refresh", "", "", "", next.Value)
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	rec = e.serve(r)
	wantStatus(t, rec, http.StatusOK)
	last := refreshCookieOf(rec)

	// Cross-site attempts are refused before the token is used, so the token still works afterwards.
	for _, tc := range []struct{ name, origin, site string }{
		{"other origin", "https://evil.example", ""},
		{"other scheme", "https://example.com", ""},
		{"other port", "http://example.com:8080", ""},
		{"null origin", "null", ""},
		{"cross-site fetch", "", "cross-site"},
		{"same-site sibling", "", "same-site"},
		{"same origin but cross-site metadata", self, "cross-site"},
		{"neither header", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := cookieRequest("POST", "/auth/refresh", "", "", tc.origin, last.Value)
			if tc.site != "" {
				r.Header.Set("Sec-Fetch-Site", tc.site)
			}
			wantProblem(t, e.serve(r), http.StatusForbidden, detailCrossSite)
			r = cookieRequest("POST", "/auth/login", formType, login, tc.origin, "")
			if tc.site != "" {
				r.Header.Set("Sec-Fetch-Site", tc.site)
			}
			wantProblem(t, e.serve(r), http.StatusForbidden, detailCrossSite)
		})
	}
	wantStatus(t, e.serve(cookieRequest("POST", "/auth/refresh", "", "", self, last.Value)), http.StatusOK)

	// Over HTTPS the cookie is Secure.
	r = cookieRequest("POST", "/auth/login", formType, login, "https://example.com", "")
	r.TLS = &tls.ConnectionState{}
	rec = e.serve(r)
	wantStatus(t, rec, http.StatusOK)
	if c := refreshCookieOf(rec); c == nil || !c.Secure {
		t.Fatalf("cookie over HTTPS: got %+v, want Secure", c)
	}
}

func TestLogoutRevokesAtOnce(t *testing.T) {
	e := newEnv(t)
	e.register("bye@example.com", testPassword)
	tr := e.signIn("bye@example.com", testPassword)
	other := e.signIn("bye@example.com", testPassword)
	e.wantTokenWorks(tr.AccessToken, true)

	rec := e.do("POST", "/auth/logout", tr.AccessToken, "", "")
	wantStatus(t, rec, http.StatusNoContent)
	if c := refreshCookieOf(rec); c == nil || c.MaxAge >= 0 || c.Value != "" {
		t.Fatalf("logout cookie: got %+v, want it cleared", c)
	}
	e.wantTokenWorks(tr.AccessToken, false)
	wantProblem(t, e.refresh(tr.RefreshToken), http.StatusUnauthorized, detailInvalidToken)
	e.wantTokenWorks(other.AccessToken, true) // the user's other session is untouched
	wantProblem(t, e.do("POST", "/auth/logout", tr.AccessToken, "", ""), http.StatusUnauthorized, detailInvalidToken)
}

func TestSessionList(t *testing.T) {
	e := newEnv(t)
	e.register("list@example.com", testPassword)
	_, stranger := e.user("stranger@example.com")
	a := e.signIn("list@example.com", testPassword)
	r := newRequest("POST", "/auth/login", formType, loginBody("list@example.com", testPassword))
	r.Header.Set("User-Agent", "Second-Browser/1.0")
	rec := e.serve(r)
	wantStatus(t, rec, http.StatusOK)
	var b tokenResponse
	decodeBody(t, rec, &b)

	rec = e.do("GET", "/auth/sessions", b.AccessToken, "", "")
	wantStatus(t, rec, http.StatusOK)
	var list []sessionResponse
	decodeBody(t, rec, &list)
	if len(list) != 2 || !list[0].Current || list[1].Current || list[0].UserAgent != "Second-Browser/1.0" ||
		list[0].ClientIP != "192.0.2.1" || list[0].ID <= list[1].ID || list[0].ExpiresAt.Before(list[0].CreatedAt) {
		t.Fatalf("sessions: got %+v, want two, newest first, this one current, with agent and address", list)
	}

	// Another user's session is a 404 like a missing one, and stays open.
	strangerClaims, err := e.tokens.Verify(stranger)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []int64{strangerClaims.SessionID, 1 << 40} {
		wantProblem(t, e.do("DELETE", "/auth/sessions/"+strconv.FormatInt(id, 10), b.AccessToken, "", ""), http.StatusNotFound, "Session not found")
	}
	e.wantTokenWorks(stranger, true)
	wantProblem(t, e.do("DELETE", "/auth/sessions/0", b.AccessToken, "", ""), http.StatusUnprocessableEntity, "")
	wantProblem(t, e.do("DELETE", "/auth/sessions/abc", b.AccessToken, "", ""), http.StatusUnprocessableEntity, "")

	// Ending the other session from this one.
	wantStatus(t, e.do("DELETE", "/auth/sessions/"+strconv.FormatInt(list[1].ID, 10), b.AccessToken, "", ""), http.StatusNoContent)
	e.wantTokenWorks(a.AccessToken, false)
	e.wantTokenWorks(b.AccessToken, true)

	// Signing out everywhere ends this one too, and nobody else's.
	c := e.signIn("list@example.com", testPassword)
	wantStatus(t, e.do("DELETE", "/auth/sessions", b.AccessToken, "", ""), http.StatusNoContent)
	e.wantTokenWorks(b.AccessToken, false)
	e.wantTokenWorks(c.AccessToken, false)
	wantProblem(t, e.refresh(c.RefreshToken), http.StatusUnauthorized, detailInvalidToken)
	e.wantTokenWorks(stranger, true)
}

func TestMe(t *testing.T) {
	e := newEnv(t)
	id, tok := e.user("Me@Example.COM")
	rec := e.do("GET", "/auth/me", tok, "", "")
	wantStatus(t, rec, http.StatusOK)
	var raw map[string]any
	decodeBody(t, rec, &raw)
	if keys := slices.Sorted(func(yield func(string) bool) {
		for k := range raw {
			if !yield(k) {
				return
			}
		}
	}); !slices.Equal(keys, []string{"created_at", "email", "id", "is_active", "role"}) {
		t.Fatalf("me: keys %v, want exactly id, email, is_active, role, created_at", keys)
	}
	if active, _ := raw["is_active"].(bool); raw["id"] != float64(id) || raw["email"] != "Me@example.com" || raw["role"] != "user" || !active {
		t.Fatalf("me: got %v", raw)
	}
}

func TestPasswordChangeEndsEverySession(t *testing.T) {
	e := newEnv(t)
	const newPassword = "a brand-new passphrase, long enough"
	e.secrets = append(e.secrets, newPassword)
	e.register("pw@example.com", testPassword)
	a := e.signIn("pw@example.com", testPassword)
	b := e.signIn("pw@example.com", testPassword)
	body := func(current, next string) string {
		j, _ := json.Marshal(passwordChangeRequest{CurrentPassword: current, NewPassword: next})
		return string(j)
	}

	wantProblem(t, e.doJSON("POST", "/auth/password", a.AccessToken, body("wrong password!!", newPassword)), http.StatusForbidden, detailWrongPassword)
	wantProblem(t, e.doJSON("POST", "/auth/password", a.AccessToken, body(testPassword, "short")), http.StatusUnprocessableEntity, "")
	e.wantTokenWorks(a.AccessToken, true)

	wantStatus(t, e.doJSON("POST", "/auth/password", a.AccessToken, body(testPassword, newPassword)), http.StatusNoContent)
	e.wantTokenWorks(a.AccessToken, false)
	e.wantTokenWorks(b.AccessToken, false)
	wantProblem(t, e.refresh(b.RefreshToken), http.StatusUnauthorized, detailInvalidToken)
	wantProblem(t, e.do("POST", "/auth/login", "", formType, loginBody("pw@example.com", testPassword)), http.StatusUnauthorized, detailBadCredentials)
	e.signIn("pw@example.com", newPassword)

	events := e.auditEvents()
	for _, want := range []string{"auth.password.change failure wrong_password", "auth.password.change success 2 sessions ended"} {
		if !slices.Contains(events, want) {
			t.Errorf("audit: got %q, want %q", events, want)
		}
	}
	if log := e.log.String(); strings.Contains(log, newPassword) || strings.Contains(log, testPassword) {
		t.Fatalf("log: contains a password")
	}
}

func TestPasswordConfirmationIsThrottled(t *testing.T) {
	e := newEnv(t, withLimits(ratelimit.NewMemory(100), ratelimit.Policy{}, ratelimit.Policy{}, ratelimit.Policy{},
		ratelimit.Policy{Name: "login-failures", Limit: 3, Window: time.Hour}))
	_, tok := e.user("guess@example.com")
	wrong := `{"password":"not the password"}`
	for range 3 {
		wantProblem(t, e.doJSON("DELETE", "/auth/me", tok, wrong), http.StatusForbidden, detailWrongPassword)
	}
	// Guessing through a stolen token is no faster than through the login form; the right password
	// is refused too until the budget refills.
	wantProblem(t, e.doJSON("DELETE", "/auth/me", tok, `{"password":"`+testPassword+`"}`), http.StatusTooManyRequests, "")
	wantProblem(t, e.do("POST", "/auth/login", "", formType, loginBody("guess@example.com", testPassword)), http.StatusTooManyRequests, "")
	e.wantTokenWorks(tok, true)
}

func TestAccountDeletion(t *testing.T) {
	e := newEnv(t)
	id, tok := e.user("gone@example.com")
	_, keep := e.user("keep@example.com")
	e.createItem(tok, "mine", nil)
	kept := e.createItem(keep, "theirs", nil)

	wantProblem(t, e.doJSON("DELETE", "/auth/me", tok, `{"password":"not the password"}`), http.StatusForbidden, detailWrongPassword)
	wantProblem(t, e.doJSON("DELETE", "/auth/me", tok, `{}`), http.StatusUnprocessableEntity, "")
	e.wantTokenWorks(tok, true)

	rec := e.doJSON("DELETE", "/auth/me", tok, `{"password":"`+testPassword+`"}`)
	wantStatus(t, rec, http.StatusNoContent)
	if c := refreshCookieOf(rec); c == nil || c.MaxAge >= 0 {
		t.Fatalf("cookie: got %+v, want it cleared", c)
	}
	e.wantTokenWorks(tok, false)
	wantProblem(t, e.do("POST", "/auth/login", "", formType, loginBody("gone@example.com", testPassword)), http.StatusUnauthorized, detailBadCredentials)
	if _, err := e.db.FindUserByID(context.Background(), id); fortress.ErrorCode(err) != fortress.ENOTFOUND {
		t.Fatalf("FindUserByID after deletion: got %v, want ENOTFOUND", err)
	}
	if _, total, err := e.db.ListItems(context.Background(), id, fortress.ItemFilter{Limit: 10}); err != nil || total != 0 {
		t.Fatalf("items after deletion: got %d, %v; want none", total, err)
	}
	rec = e.do("GET", "/items/"+strconv.FormatInt(kept.ID, 10), keep, "", "")
	wantStatus(t, rec, http.StatusOK)
	if events := e.auditEvents(); !slices.Contains(events, "account.delete success") || !slices.Contains(events, "account.delete failure wrong_password") {
		t.Fatalf("audit: got %q, want the deletion and the failed attempt", events)
	}

	// The last administrator cannot delete their account.
	adminID, admin := e.user("root@example.com")
	if _, _, err := e.db.UpdateUser(context.Background(), adminID, fortress.UserUpdate{Role: new(fortress.RoleAdmin)}); err != nil {
		t.Fatal(err)
	}
	wantProblem(t, e.doJSON("DELETE", "/auth/me", admin, `{"password":"`+testPassword+`"}`), http.StatusConflict, detailLastAdmin)
	e.wantTokenWorks(admin, true)
}

func TestSecurityEventsAreAudited(t *testing.T) {
	e := newEnv(t)
	e.register("audit@example.com", testPassword)
	wantProblem(t, e.do("POST", "/auth/login", "", formType, loginBody("audit@example.com", "wrong password!")), http.StatusUnauthorized, "")
	wantProblem(t, e.do("POST", "/auth/login", "", formType, loginBody("nobody@example.com", testPassword)), http.StatusUnauthorized, "")
	tr := e.signIn("audit@example.com", testPassword)
	wantStatus(t, e.do("POST", "/auth/logout", tr.AccessToken, "", ""), http.StatusNoContent)

	want := []string{"user.register success", "auth.login.failure failure wrong_password",
		"auth.login.failure failure unknown_email", "auth.login.success success", "auth.logout success"}
	if got := e.auditEvents(); !slices.Equal(got, want) {
		t.Fatalf("audit: got %q, want %q", got, want)
	}
	// The same events reach the structured log under their names, at WARN when they are not successes.
	lines := e.log.lines(t)
	levels := map[string]string{}
	for _, l := range lines {
		if ev, ok := l["event"].(string); ok && l["msg"] == ev {
			levels[ev+" "+l["outcome"].(string)] = l["level"].(string)
		}
	}
	for ev, level := range map[string]string{"auth.login.failure failure": "WARN", "auth.login.success success": "INFO",
		"auth.logout success": "INFO", "user.register success": "INFO"} {
		if levels[ev] != level {
			t.Errorf("log: %s at %q, want %s", ev, levels[ev], level)
		}
	}
	if log := e.log.String(); strings.Contains(log, tr.AccessToken) || strings.Contains(log, tr.RefreshToken) || strings.Contains(log, testPassword) {
		t.Fatalf("log: contains a token or password")
	}
}

// TestHostileUserAgentsAreStoredSafely: whatever a client sends as User-Agent, the login succeeds and the
// session lists a bounded, valid version of it.
func TestHostileUserAgentsAreStoredSafely(t *testing.T) {
	e := newEnv(t)
	e.register("agent@example.com", testPassword)
	for _, tc := range []struct{ name, ua string }{
		{"huge ASCII", strings.Repeat("A", 10_000)},
		{"exactly at the bound", strings.Repeat("B", maxUserAgent)},
		{"huge multibyte", strings.Repeat("é", 5_000)},
		{"invalid UTF-8", "Mozilla/5.0 \xff\xfe\x80 " + strings.Repeat("\xc3", 600)},
		{"NUL and controls", "agent\x00with\x01nul\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRequest("POST", "/auth/login", formType, loginBody("agent@example.com", testPassword))
			r.Header.Set("User-Agent", tc.ua)
			rec := e.serve(r)
			wantStatus(t, rec, http.StatusOK)
			var tr tokenResponse
			decodeBody(t, rec, &tr)
			rec = e.do("GET", "/auth/sessions", tr.AccessToken, "", "")
			wantStatus(t, rec, http.StatusOK)
			var list []sessionResponse
			decodeBody(t, rec, &list)
			if len(list) == 0 || !list[0].Current {
				t.Fatalf("sessions: got %+v, want this one first", list)
			}
			if ua := list[0].UserAgent; utf8.RuneCountInString(ua) > maxUserAgent || !utf8.ValidString(ua) || strings.ContainsRune(ua, 0) {
				t.Fatalf("stored user agent: %d characters, valid %v; want at most %d valid ones without NUL",
					utf8.RuneCountInString(ua), utf8.ValidString(ua), maxUserAgent)
			}
		})
	}
}
