package securitytest

import (
	"crypto/rand"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestAPI2_SessionLifecycle attacks the ways a session ends: logout, refresh-token rotation and reuse,
// password change, account deletion, deactivation, expiry and ending sessions one by one or all at once.
// Each must stop the session's access and refresh tokens at once, not when the access token expires; and
// the browser's refresh cookie must neither leave the /auth routes nor work from another origin.
func TestAPI2_SessionLifecycle(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, eng engine) {
		s := startOn(t, eng, map[string]string{"FORTRESS_LOGIN_FAILURES_MAX": "3", "FORTRESS_LOGIN_LOCKOUT": "15m"})
		bystander := s.newAccount(t, "bystander")

		// works and dead check one access token against an authenticated route.
		works := func(t *testing.T, token string) {
			t.Helper()
			s.do(t, "GET", "/auth/me", bearer(token)).want(t, http.StatusOK, "")
		}
		dead := func(t *testing.T, token string) {
			t.Helper()
			s.do(t, "GET", "/auth/me", bearer(token)).want(t, http.StatusUnauthorized, detailInvalidToken)
			s.do(t, "GET", "/items/", bearer(token)).want(t, http.StatusUnauthorized, detailInvalidToken)
		}
		deadRefresh := func(t *testing.T, refresh string) {
			t.Helper()
			s.refresh(t, refresh).want(t, http.StatusUnauthorized, detailInvalidToken)
		}
		// The bystander's session must survive everything the others do.
		t.Cleanup(func() { works(t, bystander.token) })

		t.Run("logout refuses the access token at once", func(t *testing.T) {
			u := s.newAccount(t, "logout")
			const rounds = 50
			var lags, logouts []time.Duration
			for range rounds {
				tok := s.tokens(t, u.email, u.password)
				works(t, tok.AccessToken)
				begin := time.Now()
				out := s.do(t, "POST", "/auth/logout", bearer(tok.AccessToken))
				done := time.Now() // the 204 has been read
				logouts = append(logouts, done.Sub(begin))
				out.want(t, http.StatusNoContent, "")
				if len(out.body) != 0 {
					t.Errorf("%s: body %q, want none", out, out.body)
				}
				// The first request after the 204 must already be refused; if it is not, keep asking to
				// measure how long the token outlives its session.
				for try := 1; ; try++ {
					r, err := s.send("GET", "/items/", bearer(tok.AccessToken))
					lag := time.Since(done)
					if err != nil {
						t.Fatal(err)
					}
					inspect(t, r)
					if r.status == http.StatusUnauthorized {
						r.want(t, http.StatusUnauthorized, detailInvalidToken)
						lags = append(lags, lag)
						break
					}
					if try == 1 {
						t.Errorf("%s: the first request after the logout's 204 got %d, want 401", r, r.status)
					}
					if lag > 10*time.Second {
						t.Fatalf("%s: the access token still works %s after logout", r, lag)
					}
				}
				deadRefresh(t, tok.RefreshToken)
				s.do(t, "POST", "/auth/logout", bearer(tok.AccessToken)).want(t, http.StatusUnauthorized, detailInvalidToken)
			}
			slices.Sort(lags)
			slices.Sort(logouts)
			t.Logf("%s: logout's 204 to the first 401 of the same access token, over %d rounds: median %s, p90 %s, max %s "+
				"(the first request after the 204 was refused in every round; logout itself took median %s, max %s)",
				eng.name, len(lags), lags[len(lags)/2], lags[len(lags)*9/10], lags[len(lags)-1],
				logouts[len(logouts)/2], logouts[len(logouts)-1])
			if n := s.db.queryInt(t, "SELECT COUNT(*) FROM sessions WHERE user_id = ? AND revoked_at IS NULL", u.id); n != 1 {
				t.Errorf("%d open sessions in the database, want 1 (the first login's)", n)
			}
			if n := s.auditCount(t, "auth.logout", u.id); n != rounds {
				t.Errorf("%d auth.logout audit events, want %d", n, rounds)
			}
		})

		t.Run("refresh rotates the refresh token", func(t *testing.T) {
			u := s.newAccount(t, "rotate")
			seen := map[string]bool{u.refresh: true}
			access := []string{u.token}
			refresh := u.refresh
			for range 3 {
				r := s.refresh(t, refresh)
				r.want(t, http.StatusOK, "")
				if got := r.header.Get("Pragma"); got != "no-cache" {
					t.Errorf("%s: Pragma %q, want no-cache", r, got)
				}
				var tok tokens
				r.decode(t, &tok)
				if tok.TokenType != "bearer" || tok.ExpiresIn <= 0 || tok.ExpiresIn > 24*3600 {
					t.Errorf("%s: token_type %q, expires_in %d; want bearer and a positive lifetime up to a day", r, tok.TokenType, tok.ExpiresIn)
				}
				if seen[tok.RefreshToken] || len(tok.RefreshToken) != 43 {
					t.Errorf("%s: refresh token %.8s… (%d characters), want a fresh 256-bit token", r, tok.RefreshToken, len(tok.RefreshToken))
				}
				seen[tok.RefreshToken] = true
				if got := sidOf(t, tok.AccessToken); got != u.sid {
					t.Errorf("%s: the new access token's sid %s, want the session's %s", r, got, u.sid)
				}
				access = append(access, tok.AccessToken)
				refresh = tok.RefreshToken
			}
			for _, a := range access {
				works(t, a) // access tokens live on with their session
			}
			if n := s.db.queryInt(t, "SELECT COUNT(*) FROM sessions WHERE user_id = ?", u.id); n != 1 {
				t.Errorf("%d sessions after three refreshes, want 1: a refresh continues the session", n)
			}
		})

		t.Run("a reused refresh token ends the whole session", func(t *testing.T) {
			u := s.newAccount(t, "reuse")
			other := u
			other.signIn(t, s) // a second session of the same user, e.g. another device
			first := u.refresh
			t1 := s.refreshed(t, first)
			t2 := s.refreshed(t, t1.RefreshToken)
			before := s.auditCount(t, "auth.refresh.reuse", u.id)

			// Whoever replays the stolen first token is refused, and so is everyone holding the session.
			deadRefresh(t, first)
			if n := s.auditCount(t, "auth.refresh.reuse", u.id); n != before+1 {
				t.Errorf("%d auth.refresh.reuse audit events about the user, want %d", n, before+1)
			}
			deadRefresh(t, t2.RefreshToken) // the newest one, the legitimate client's
			for _, a := range []string{u.token, t1.AccessToken, t2.AccessToken} {
				dead(t, a)
			}
			deadRefresh(t, t1.RefreshToken)
			if n := s.db.queryInt(t, "SELECT COUNT(*) FROM sessions WHERE id = ? AND revoked_at IS NOT NULL", atoi(u.sid)); n != 1 {
				t.Errorf("session %s is not marked revoked in the database", u.sid)
			}
			// Only that session: the user's other session and other users go on.
			works(t, other.token)
			s.refreshed(t, other.refresh)
			works(t, bystander.token)
		})

		t.Run("concurrent refreshes of one token: at most one wins", func(t *testing.T) {
			u := s.newAccount(t, "race")
			const n = 8
			answers := atOnce(t, n, func(int) (response, error) {
				return s.send("POST", "/auth/refresh", jsonBody(jsonOf(map[string]string{"refresh_token": u.refresh})))
			})
			var winners []tokens
			for _, r := range answers {
				switch r.status {
				case http.StatusOK:
					var tok tokens
					r.decode(t, &tok)
					winners = append(winners, tok)
				case http.StatusUnauthorized:
					r.want(t, http.StatusUnauthorized, detailInvalidToken)
				default:
					t.Errorf("%s: got %d, want 200 or 401", r, r.status)
				}
			}
			if len(winners) > 1 {
				t.Errorf("%d of %d concurrent refreshes of one token got new tokens, want at most 1: the token was spent twice", len(winners), n)
			}
			// Every loser presented a token already exchanged: the session has ended, the winner's tokens
			// with it.
			for _, w := range winners {
				dead(t, w.AccessToken)
				deadRefresh(t, w.RefreshToken)
			}
			dead(t, u.token)
			t.Logf("%s: %d concurrent refreshes of one token: %d got tokens", eng.name, n, len(winners))
		})

		t.Run("malformed refresh requests", func(t *testing.T) {
			u := s.newAccount(t, "malformed")
			var random [32]byte
			_, _ = rand.Read(random[:])
			never := base64.RawURLEncoding.EncodeToString(random[:]) // the right form, never issued
			last := u.refresh[len(u.refresh)-1:]
			flipped := u.refresh[:len(u.refresh)-1] + map[bool]string{true: "B", false: "A"}[last == "A"]
			for _, tc := range []struct {
				name, body string
				want       []int
			}{
				{"garbage", `{"refresh_token":"garbage"}`, []int{401}},
				{"right form, never issued", jsonOf(map[string]string{"refresh_token": never}), []int{401}},
				{"last character changed", jsonOf(map[string]string{"refresh_token": flipped}), []int{401}},
				{"with padding", jsonOf(map[string]string{"refresh_token": u.refresh + "="}), []int{401}},
				{"standard base64", jsonOf(map[string]string{"refresh_token": strings.NewReplacer("-", "+", "_", "/").Replace(u.refresh) + "="}), []int{401}},
				{"upper-cased", jsonOf(map[string]string{"refresh_token": strings.ToUpper(u.refresh)}), []int{401}},
				{"with blanks", jsonOf(map[string]string{"refresh_token": " " + u.refresh + " "}), []int{401, 422}},
				{"the access token", jsonOf(map[string]string{"refresh_token": u.token}), []int{401, 422}},
				{"SQL", `{"refresh_token":"' OR '1'='1"}`, []int{401}},
				{"NUL", `{"refresh_token":"a\u0000b"}`, []int{401, 422}},
				{"257 characters", jsonOf(map[string]string{"refresh_token": strings.Repeat("a", 257)}), []int{422}},
				{"64 KiB", jsonOf(map[string]string{"refresh_token": strings.Repeat("a", 64<<10)}), []int{422}},
				{"empty", `{"refresh_token":""}`, []int{422}},
				{"number", `{"refresh_token":12345}`, []int{422}},
				{"true", `{"refresh_token":true}`, []int{422}},
				{"null", `{"refresh_token":null}`, []int{422}},
				{"list", jsonOf(map[string]any{"refresh_token": []string{u.refresh}}), []int{422}},
				{"object", jsonOf(map[string]any{"refresh_token": map[string]string{"$ne": ""}}), []int{422}},
				{"no field", `{}`, []int{422}},
				{"another field", jsonOf(map[string]string{"token": u.refresh}), []int{422}},
				{"an unknown field too", jsonOf(map[string]string{"refresh_token": u.refresh, "role": "admin"}), []int{422}},
				{"duplicate field", `{"refresh_token":"` + u.refresh + `","refresh_token":"` + never + `"}`, []int{422}},
				{"a list body", `["` + u.refresh + `"]`, []int{422}},
				{"a string body", `"` + u.refresh + `"`, []int{422}},
				{"null body", `null`, []int{422}},
				{"truncated JSON", `{"refresh_token":"` + u.refresh, []int{422}},
			} {
				r := s.do(t, "POST", "/auth/refresh", jsonBody(tc.body))
				if !slices.Contains(tc.want, r.status) {
					t.Errorf("%s (%s): got %d, want one of %v; body %s", r, tc.name, r.status, tc.want, short(r.body, 300))
				}
				if r.status == http.StatusUnauthorized && r.detail() != detailInvalidToken {
					t.Errorf("%s (%s): detail %q, want %q", r, tc.name, r.detail(), detailInvalidToken)
				}
			}
			// Other media types, and the token where it does not belong.
			s.do(t, "POST", "/auth/refresh", formBody(url.Values{"refresh_token": {u.refresh}})).want(t, http.StatusUnsupportedMediaType, "")
			s.do(t, "POST", "/auth/refresh", func(r *http.Request) {
				setBody(r, "text/plain", strings.NewReader(u.refresh), int64(len(u.refresh)))
			}).want(t, http.StatusUnsupportedMediaType, "")
			s.do(t, "POST", "/auth/refresh?refresh_token="+url.QueryEscape(u.refresh)).want(t, http.StatusUnauthorized, detailNotAuthenticated)
			s.do(t, "POST", "/auth/refresh", bearer(u.refresh)).want(t, http.StatusUnauthorized, detailNotAuthenticated)
			s.do(t, "POST", "/auth/refresh", header("Cookie", "refresh_token="+u.refresh), header("Origin", s.base)).
				want(t, http.StatusUnauthorized, detailNotAuthenticated)
			s.do(t, "GET", "/items/", bearer(u.refresh)).want(t, http.StatusUnauthorized, detailInvalidToken)
			// None of it spent the real token or harmed the session.
			works(t, u.token)
			s.refreshed(t, u.refresh)
		})

		t.Run("password change ends every session", func(t *testing.T) {
			u := s.newAccount(t, "passwd")
			sessions := []account{u}
			for range 2 {
				more := u
				more.signIn(t, s)
				sessions = append(sessions, more)
			}
			cookie := s.cookieLogin(t, u)
			change := func(current, next string) response {
				return s.do(t, "POST", "/auth/password", bearer(u.token),
					jsonBody(jsonOf(map[string]string{"current_password": current, "new_password": next})))
			}
			newPassword := "a brand new passphrase for passwd"
			s.remember(newPassword)

			// Refusals end nothing.
			change("not the password at all", newPassword).want(t, http.StatusForbidden, detailWrongPassword)
			change(u.password, "short").want(t, http.StatusUnprocessableEntity, "")
			s.do(t, "POST", "/auth/password", bearer(u.token), jsonBody(jsonOf(map[string]string{
				"current_password": u.password, "new_password": newPassword, "role": "admin"}))).want(t, http.StatusUnprocessableEntity, "")
			for _, a := range sessions {
				works(t, a.token)
			}

			r := change(u.password, newPassword)
			r.want(t, http.StatusNoContent, "")
			checkClearedCookie(t, r)
			for _, a := range sessions {
				dead(t, a.token)
				deadRefresh(t, a.refresh)
			}
			dead(t, cookie.AccessToken)
			s.cookieRefresh(t, cookie.cookie, header("Origin", s.base)).want(t, http.StatusUnauthorized, detailInvalidToken)
			if n := s.db.queryInt(t, "SELECT COUNT(*) FROM sessions WHERE user_id = ? AND revoked_at IS NULL", u.id); n != 0 {
				t.Errorf("%d sessions still open in the database, want 0", n)
			}
			s.login(t, u.email, u.password).want(t, http.StatusUnauthorized, detailBadCredentials)
			works(t, s.token(t, u.email, newPassword))
			if n := s.auditCount(t, "auth.password.change", u.id); n != 2 {
				t.Errorf("%d auth.password.change audit events, want 2 (the refused one and the change)", n)
			}
		})

		t.Run("password confirmation is throttled like a login", func(t *testing.T) {
			// A stolen access token must not guess the password faster than a login could.
			u := s.newAccount(t, "confirm")
			for range 3 {
				s.do(t, "POST", "/auth/password", bearer(u.token),
					jsonBody(jsonOf(map[string]string{"current_password": "a guessed password", "new_password": "whatever it is now"}))).
					want(t, http.StatusForbidden, detailWrongPassword)
			}
			for _, r := range []response{
				s.do(t, "POST", "/auth/password", bearer(u.token),
					jsonBody(jsonOf(map[string]string{"current_password": "a guessed password", "new_password": "whatever it is now"}))),
				s.do(t, "POST", "/auth/password", bearer(u.token),
					jsonBody(jsonOf(map[string]string{"current_password": u.password, "new_password": "whatever it is now"}))),
				s.do(t, "DELETE", "/auth/me", bearer(u.token), jsonBody(jsonOf(map[string]string{"password": u.password}))),
				s.login(t, u.email, u.password),
			} {
				r.want(t, http.StatusTooManyRequests, detailLockedOut)
			}
			works(t, u.token)
			s.login(t, u.email, "whatever it is now").want(t, http.StatusTooManyRequests, detailLockedOut)
			if n := s.db.queryInt(t, "SELECT COUNT(*) FROM users WHERE id = ?", u.id); n != 1 {
				t.Errorf("the account is gone")
			}
		})

		t.Run("account deletion ends every session", func(t *testing.T) {
			u := s.newAccount(t, "deleteme")
			second := u
			second.signIn(t, s)
			it := s.createItem(t, u.token, "deleteme's", "")
			s.do(t, "DELETE", "/auth/me", bearer(u.token), jsonBody(`{"password":"not the password at all"}`)).want(t, http.StatusForbidden, detailWrongPassword)
			s.do(t, "DELETE", "/auth/me", bearer(u.token), jsonBody(`{}`)).want(t, http.StatusUnprocessableEntity, "")
			s.do(t, "DELETE", "/auth/me", bearer(u.token)).want(t, http.StatusUnsupportedMediaType, "")
			s.do(t, "DELETE", "/auth/me", bearer(bystander.token), jsonBody(jsonOf(map[string]string{"password": u.password}))).
				want(t, http.StatusForbidden, detailWrongPassword) // another account's password deletes nothing
			works(t, u.token)
			works(t, second.token)

			r := s.do(t, "DELETE", "/auth/me", bearer(second.token), jsonBody(jsonOf(map[string]string{"password": u.password})))
			r.want(t, http.StatusNoContent, "")
			checkClearedCookie(t, r)
			for _, a := range []account{u, second} {
				dead(t, a.token)
				deadRefresh(t, a.refresh)
			}
			s.login(t, u.email, u.password).want(t, http.StatusUnauthorized, detailBadCredentials)
			for table, query := range map[string]string{
				"users":    "SELECT COUNT(*) FROM users WHERE id = ?",
				"sessions": "SELECT COUNT(*) FROM sessions WHERE user_id = ?",
				"items":    "SELECT COUNT(*) FROM items WHERE owner_id = ?",
			} {
				if n := s.db.queryInt(t, query, u.id); n != 0 {
					t.Errorf("%d rows of the deleted account left in %s, want 0", n, table)
				}
			}
			s.do(t, "GET", itemPath(it.ID), bearer(bystander.token)).want(t, http.StatusNotFound, detailItemNotFound)
			if n := s.auditCount(t, "account.delete", u.id); n < 1 {
				t.Errorf("no account.delete audit event about user %d", u.id)
			}
		})

		t.Run("a deactivated account loses access at once", func(t *testing.T) {
			root := s.newAdmin(t, "root")
			u := s.newAccount(t, "deactivated")
			second := u
			second.signIn(t, s)
			patch := func(body string) {
				t.Helper()
				r := s.do(t, "PATCH", adminUserPath(u.id), bearer(root.token), jsonBody(body))
				if r.status != http.StatusOK {
					t.Fatalf("%s %s as an administrator: got %d, want 200; body %s", r, body, r.status, short(r.body, 300))
				}
			}
			patch(`{"is_active":false}`)
			for _, a := range []account{u, second} {
				dead(t, a.token)
				deadRefresh(t, a.refresh)
			}
			right := s.login(t, u.email, u.password)
			right.want(t, http.StatusUnauthorized, detailBadCredentials)
			sameAnswer(t, right, s.login(t, u.email, "a wrong password entirely"))
			// Reactivation lets the account sign in again, but what was ended stays ended.
			patch(`{"is_active":true}`)
			for _, a := range []account{u, second} {
				dead(t, a.token)
				deadRefresh(t, a.refresh)
			}
			works(t, s.token(t, u.email, u.password))
			works(t, root.token)
		})

		t.Run("sessions that have expired or gone idle", func(t *testing.T) {
			u := s.newAccount(t, "expiry")
			idle := u
			idle.signIn(t, s)
			stamp := func(at time.Time) string { return at.UTC().Format("2006-01-02T15:04:05.000000Z") }
			// Past its absolute end: both tokens die.
			if n := s.db.exec(t, "UPDATE sessions SET expires_at = ? WHERE id = ?", stamp(time.Now().Add(-time.Second)), atoi(u.sid)); n != 1 {
				t.Fatalf("updated %d sessions, want 1", n)
			}
			dead(t, u.token)
			deadRefresh(t, u.refresh)
			// Unrefreshed past the idle timeout (7 days by default): the refresh token dies. The access token is
			// not checked for idleness, by design: it lives 15 minutes, far less than the idle timeout.
			if n := s.db.exec(t, "UPDATE sessions SET last_used_at = ? WHERE id = ?", stamp(time.Now().Add(-7*24*time.Hour-time.Minute)), atoi(idle.sid)); n != 1 {
				t.Fatalf("updated %d sessions, want 1", n)
			}
			deadRefresh(t, idle.refresh)
			// Neither is listed among the sessions that can still be used.
			fresh := u
			fresh.signIn(t, s)
			for _, row := range s.sessionList(t, fresh.token) {
				if id := strconv.FormatInt(row.ID, 10); id == u.sid || id == idle.sid {
					t.Errorf("GET /auth/sessions lists the ended session %s", id)
				}
			}
		})

		t.Run("ending sessions one by one and all at once", func(t *testing.T) {
			u := s.newAccount(t, "ender")
			ua := "securitytest-device-" + strconv.FormatInt(time.Now().UnixNano(), 36)
			phone := u
			phone.signIn(t, s, header("User-Agent", ua))
			laptop := u
			laptop.signIn(t, s)

			list := s.sessionList(t, laptop.token)
			ids := map[string]bool{}
			current := 0
			for _, row := range list {
				ids[strconv.FormatInt(row.ID, 10)] = true
				if row.Current {
					current++
					if strconv.FormatInt(row.ID, 10) != laptop.sid {
						t.Errorf("GET /auth/sessions marks session %d current, want the token's %s", row.ID, laptop.sid)
					}
				}
				if strconv.FormatInt(row.ID, 10) == phone.sid && row.UserAgent != ua {
					t.Errorf("the phone's session has user_agent %q, want %q", row.UserAgent, ua)
				}
			}
			if current != 1 || len(list) != 3 || !ids[u.sid] || !ids[phone.sid] || !ids[laptop.sid] {
				t.Errorf("GET /auth/sessions: %+v, want sessions %s, %s and %s with exactly one current", list, u.sid, phone.sid, laptop.sid)
			}

			// The laptop ends the phone's session: the phone is out at once, the laptop stays.
			s.do(t, "DELETE", sessionPath(phone.sid), bearer(laptop.token)).want(t, http.StatusNoContent, "")
			dead(t, phone.token)
			deadRefresh(t, phone.refresh)
			works(t, laptop.token)
			// Ending it again is idempotent or not found, never a revival.
			if r := s.do(t, "DELETE", sessionPath(phone.sid), bearer(laptop.token)); r.status != http.StatusNoContent && r.status != http.StatusNotFound {
				t.Errorf("%s: ending an ended session again got %d, want 204 or 404", r, r.status)
			}
			dead(t, phone.token)
			if got := s.sessionList(t, laptop.token); slices.ContainsFunc(got, func(r sessionRow) bool { return strconv.FormatInt(r.ID, 10) == phone.sid }) {
				t.Errorf("GET /auth/sessions still lists the ended session %s: %+v", phone.sid, got)
			}
			// Its own session, by id: a logout.
			r := s.do(t, "DELETE", sessionPath(laptop.sid), bearer(laptop.token))
			r.want(t, http.StatusNoContent, "")
			checkClearedCookie(t, r)
			dead(t, laptop.token)

			// Everywhere: every session of the user, the caller's included, and no one else's.
			more := u
			more.signIn(t, s)
			r = s.do(t, "DELETE", "/auth/sessions", bearer(more.token))
			r.want(t, http.StatusNoContent, "")
			checkClearedCookie(t, r)
			for _, a := range []account{u, more} {
				dead(t, a.token)
				deadRefresh(t, a.refresh)
			}
			if n := s.db.queryInt(t, "SELECT COUNT(*) FROM sessions WHERE user_id = ? AND revoked_at IS NULL", u.id); n != 0 {
				t.Errorf("%d sessions still open, want 0", n)
			}
			works(t, bystander.token)
		})

		t.Run("refresh cookie", func(t *testing.T) {
			u := s.newAccount(t, "browser")
			c := s.cookieLogin(t, u)
			works(t, c.AccessToken)
			if c.cookie.MaxAge < 29*24*3600 || c.cookie.MaxAge > 30*24*3600 {
				t.Errorf("Set-Cookie %q: Max-Age %d, want the session's 30-day lifetime", c.cookie.Raw, c.cookie.MaxAge)
			}
			if len(c.cookie.Value) != 43 {
				t.Errorf("the cookie's value has %d characters, want a 256-bit token (43)", len(c.cookie.Value))
			}

			// The cookie is a refresh token only: no other route takes it as a credential.
			for _, path := range []string{"/items/", "/auth/me", "/auth/sessions"} {
				s.do(t, "GET", path, header("Cookie", refreshCookie+"="+c.cookie.Value), header("Origin", s.base)).
					want(t, http.StatusUnauthorized, detailNotAuthenticated)
			}

			// Same-origin refreshes rotate the cookie; Sec-Fetch-Site alone is enough.
			next := s.cookieRefreshed(t, c.cookie, header("Origin", s.base))
			next = s.cookieRefreshed(t, next.cookie, header("Sec-Fetch-Site", "same-origin"))
			next = s.cookieRefreshed(t, next.cookie, header("Origin", s.base), header("Sec-Fetch-Site", "same-origin"))
			works(t, next.AccessToken)

			// Another origin is refused, and the refusal does not spend the cookie.
			for _, tc := range crossSite(s) {
				r := s.cookieRefresh(t, next.cookie, tc.opts...)
				r.want(t, http.StatusForbidden, detailCrossSite)
				if len(r.header.Values("Set-Cookie")) != 0 {
					t.Errorf("%s (%s): Set-Cookie %q on a refused request", r, tc.name, r.header.Values("Set-Cookie"))
				}
			}
			next = s.cookieRefreshed(t, next.cookie, header("Origin", s.base))
			s.do(t, "POST", "/auth/refresh", header("Origin", s.base)).want(t, http.StatusUnauthorized, detailNotAuthenticated)

			// A replayed cookie ends the session and clears the cookie.
			r := s.cookieRefresh(t, c.cookie, header("Origin", s.base))
			r.want(t, http.StatusUnauthorized, detailInvalidToken)
			checkClearedCookie(t, r)
			s.cookieRefresh(t, next.cookie, header("Origin", s.base)).want(t, http.StatusUnauthorized, detailInvalidToken)
			dead(t, next.AccessToken)
			dead(t, c.AccessToken)

			// Logout clears it.
			c = s.cookieLogin(t, u)
			r = s.do(t, "POST", "/auth/logout", bearer(c.AccessToken), header("Cookie", refreshCookie+"="+c.cookie.Value))
			r.want(t, http.StatusNoContent, "")
			checkClearedCookie(t, r)
			s.cookieRefresh(t, c.cookie, header("Origin", s.base)).want(t, http.StatusUnauthorized, detailInvalidToken)
		})

		t.Run("cookie login from another origin is refused", func(t *testing.T) {
			// A cross-site login would sign the victim's browser into the attacker's account.
			u := s.newAccount(t, "csrf")
			before := s.db.queryInt(t, "SELECT COUNT(*) FROM sessions WHERE user_id = ?", u.id)
			for _, tc := range crossSite(s) {
				r := s.login(t, u.email, u.password, append([]option{cookieDelivery()}, tc.opts...)...)
				r.want(t, http.StatusForbidden, detailCrossSite)
				if len(r.header.Values("Set-Cookie")) != 0 || strings.Contains(string(r.body), "token") {
					t.Errorf("%s (%s): a refused login answered a token: Set-Cookie %q, body %s", r, tc.name, r.header.Values("Set-Cookie"), r.body)
				}
			}
			if n := s.db.queryInt(t, "SELECT COUNT(*) FROM sessions WHERE user_id = ?", u.id); n != before {
				t.Errorf("%d sessions after refused logins, want %d: a refused login opened a session", n, before)
			}
			// The body delivery needs no origin: API clients have none.
			s.login(t, u.email, u.password, formBody(url.Values{"username": {u.email}, "password": {u.password}, "refresh_delivery": {"body"}})).
				want(t, http.StatusOK, "")
			s.login(t, u.email, u.password, formBody(url.Values{"username": {u.email}, "password": {u.password}, "refresh_delivery": {"both"}})).
				want(t, http.StatusUnprocessableEntity, "")
		})
	})
}

// sessionRow is one session of GET /auth/sessions.
type sessionRow struct {
	ID         int64     `json:"id"`
	CreatedAt  time.Time `json:"created_at"`
	LastUsedAt time.Time `json:"last_used_at"`
	ExpiresAt  time.Time `json:"expires_at"`
	UserAgent  string    `json:"user_agent"`
	ClientIP   string    `json:"client_ip"`
	Current    bool      `json:"current"`
}

// sessionList reads the caller's sessions.
func (s *server) sessionList(t *testing.T, token string) []sessionRow {
	t.Helper()
	r := s.do(t, "GET", "/auth/sessions", bearer(token))
	r.want(t, http.StatusOK, "")
	var rows []sessionRow
	r.decode(t, &rows)
	return rows
}

// cookieTokens is a browser's sign-in: the access token from the body, the refresh token in the cookie.
type cookieTokens struct {
	tokens
	cookie *http.Cookie
}

// cookieDelivery asks login for the refresh token in the cookie.
func cookieDelivery() option {
	return func(r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		form, _ := url.ParseQuery(string(b))
		form.Set("refresh_delivery", "cookie")
		body := form.Encode()
		setBody(r, "application/x-www-form-urlencoded", strings.NewReader(body), int64(len(body)))
	}
}

// cookieLogin signs in as a browser page of this origin does.
func (s *server) cookieLogin(t *testing.T, a account) cookieTokens {
	t.Helper()
	r := s.login(t, a.email, a.password, cookieDelivery(), header("Origin", s.base), header("Sec-Fetch-Site", "same-origin"))
	return s.cookieAnswer(t, r)
}

// cookieRefresh sends a browser's refresh: no body, the cookie, and the given origin headers.
func (s *server) cookieRefresh(t *testing.T, c *http.Cookie, opts ...option) response {
	t.Helper()
	return s.do(t, "POST", "/auth/refresh", append([]option{header("Cookie", refreshCookie+"="+c.Value)}, opts...)...)
}

// cookieRefreshed is a cookie refresh that must succeed, and its new tokens.
func (s *server) cookieRefreshed(t *testing.T, c *http.Cookie, opts ...option) cookieTokens {
	t.Helper()
	got := s.cookieAnswer(t, s.cookieRefresh(t, c, opts...))
	if got.cookie.Value == c.Value {
		t.Errorf("a cookie refresh set the same refresh token again, want a new one")
	}
	return got
}

// cookieAnswer checks a token answer for a browser: the refresh token in the cookie and not in the body.
func (s *server) cookieAnswer(t *testing.T, r response) cookieTokens {
	t.Helper()
	if r.status != http.StatusOK {
		t.Fatalf("%s: got %d, want 200; body %s", r, r.status, short(r.body, 300))
	}
	var got cookieTokens
	r.decode(t, &got.tokens)
	if got.RefreshToken != "" || strings.Contains(string(r.body), "refresh") {
		t.Errorf("%s: body %s carries the refresh token, want it only in the HttpOnly cookie", r, short(r.body, 300))
	}
	cookies := (&http.Response{Header: r.header}).Cookies()
	if len(cookies) != 1 || cookies[0].Name != refreshCookie || cookies[0].Value == "" {
		t.Fatalf("%s: Set-Cookie %q, want one %s cookie with a value", r, r.header.Values("Set-Cookie"), refreshCookie)
	}
	got.cookie = cookies[0]
	raw := cookies[0].Raw
	for _, want := range []string{"HttpOnly", "SameSite=Strict", "Path=/auth", "Max-Age="} {
		if !strings.Contains(raw, want) {
			t.Errorf("%s: Set-Cookie %q lacks %s", r, raw, want)
		}
	}
	for _, bad := range []string{"Secure", "Domain="} {
		if strings.Contains(raw, bad) {
			t.Errorf("%s: Set-Cookie %q has %s, want none over plain HTTP on a host-only cookie", r, raw, bad)
		}
	}
	return got
}

// checkClearedCookie fails unless the answer tells the browser to forget the refresh cookie.
func checkClearedCookie(t *testing.T, r response) {
	t.Helper()
	cookies := (&http.Response{Header: r.header}).Cookies()
	if len(cookies) != 1 || cookies[0].Name != refreshCookie || cookies[0].Value != "" || cookies[0].MaxAge >= 0 {
		t.Errorf("%s: Set-Cookie %q, want %s cleared (empty, Max-Age=0)", r, r.header.Values("Set-Cookie"), refreshCookie)
	}
}

// crossSite lists the origin headers of requests that do not come from a page of s's origin.
func crossSite(s *server) []struct {
	name string
	opts []option
} {
	port := strconv.Itoa(s.port)
	return []struct {
		name string
		opts []option
	}{
		{"neither Origin nor Sec-Fetch-Site", nil},
		{"another site", []option{header("Origin", "http://evil.example")}},
		{"null origin", []option{header("Origin", "null")}},
		{"another port", []option{header("Origin", "http://127.0.0.1:1")}},
		{"no port", []option{header("Origin", "http://127.0.0.1")}},
		{"another host name for the same address", []option{header("Origin", "http://localhost:"+port)}},
		{"https", []option{header("Origin", "https://127.0.0.1:"+port)}},
		{"a path after the origin", []option{header("Origin", s.base+"/")}},
		{"the origin as a prefix", []option{header("Origin", s.base+".evil.example")}},
		{"Sec-Fetch-Site cross-site", []option{header("Sec-Fetch-Site", "cross-site")}},
		{"Sec-Fetch-Site same-site", []option{header("Sec-Fetch-Site", "same-site")}},
		{"Sec-Fetch-Site none", []option{header("Sec-Fetch-Site", "none")}},
		{"our Origin but cross-site", []option{header("Origin", s.base), header("Sec-Fetch-Site", "cross-site")}},
		{"same-origin but another Origin", []option{header("Origin", "http://evil.example"), header("Sec-Fetch-Site", "same-origin")}},
		{"Referer only", []option{header("Referer", s.base+"/")}},
	}
}
