package securitytest

import (
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"maps"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestAPI3_BrokenObjectPropertyLevelAuthorization tries to write the properties a client does not own
// (ids, owner, activation, hash, email key) through every body that creates or changes something, and
// checks that answers name their fields exactly, so a hash or a key can never ride along. Every JSON
// answer of the whole suite is also checked for such fields by inspect.
func TestAPI3_BrokenObjectPropertyLevelAuthorization(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, eng engine) {
		s := startOn(t, eng, nil)
		alice := s.newAccount(t, "alice")
		bob := s.newAccount(t, "bob")
		original := s.createItem(t, alice.token, "alice's", "unchanged")

		// Properties a client must never set, with values an attacker would like to set them to.
		hidden := map[string]any{
			"id":              1,
			"owner_id":        bob.id,
			"is_active":       false,
			"is_admin":        true,
			"role":            "admin",
			"password_hash":   "$argon2id$v=19$m=8192,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
			"hashed_password": "x",
			"email_key":       alice.email,
			"created_at":      "2000-01-01T00:00:00Z",
		}
		names := slices.Sorted(maps.Keys(hidden))

		// rejected checks a 422 that names the property.
		rejected := func(t *testing.T, r response, field string) {
			t.Helper()
			r.want(t, http.StatusUnprocessableEntity, "")
			p := r.problem(t)
			if !slices.ContainsFunc(p.Errors, func(e struct {
				Location string `json:"location"`
				Field    string `json:"field"`
				Message  string `json:"message"`
			}) bool {
				return e.Field == field && e.Location == "body"
			}) {
				t.Errorf("%s: errors %+v, want one for body field %q", r, p.Errors, field)
			}
		}

		t.Run("register", func(t *testing.T) {
			for i, field := range append(names, "Email", "PASSWORD", "user") {
				email := "api3-" + strconv.Itoa(i) + "@example.com"
				body := map[string]any{"email": email, "password": "a good long password"}
				switch field {
				case "Email", "PASSWORD": // a second spelling of a real field
					body[field] = "other"
				case "user":
					body[field] = map[string]any{"is_active": false, "id": 1}
				default:
					body[field] = hidden[field]
				}
				rejected(t, s.do(t, "POST", "/auth/register", jsonBody(jsonOf(body))), field)
				if n := s.db.queryInt(t, "SELECT COUNT(*) FROM users WHERE email_key = ?", email); n != 0 {
					t.Errorf("register with %q: the account was created anyway", field)
				}
				s.login(t, email, "a good long password").want(t, http.StatusUnauthorized, detailBadCredentials)
			}
		})

		itemsOf := func(id int64) int64 {
			return s.db.queryInt(t, "SELECT COUNT(*) FROM items WHERE owner_id = ?", id)
		}

		t.Run("create item", func(t *testing.T) {
			aliceBefore, bobBefore := itemsOf(alice.id), itemsOf(bob.id)
			for _, field := range append(names, "Name", "owner") {
				body := map[string]any{"name": "smuggled", "description": "d"}
				switch field {
				case "Name":
					body[field] = "second name"
				case "owner":
					body[field] = map[string]any{"id": bob.id}
				default:
					body[field] = hidden[field]
				}
				rejected(t, s.do(t, "POST", "/items/", bearer(alice.token), jsonBody(jsonOf(body))), field)
			}
			// Also with the key spelled by escapes, which a lenient parser would unescape into the real name.
			r := s.do(t, "POST", "/items/", bearer(alice.token), jsonBody(`{"name":"smuggled","owner\u005fid":`+strconv.FormatInt(bob.id, 10)+`}`))
			r.want(t, http.StatusUnprocessableEntity, "")
			if a, b := itemsOf(alice.id), itemsOf(bob.id); a != aliceBefore || b != bobBefore {
				t.Errorf("items: alice %d, bob %d; want %d and %d, nothing created", a, b, aliceBefore, bobBefore)
			}
		})

		t.Run("update item", func(t *testing.T) {
			for _, field := range append(names, "Description") {
				for _, body := range []map[string]any{
					{field: hidden[field]},
					{"name": "renamed", field: hidden[field]},
				} {
					if field == "Description" {
						body[field] = "second description"
					}
					rejected(t, s.do(t, "PUT", itemPath(original.ID), bearer(alice.token), jsonBody(jsonOf(body))), field)
				}
			}
			r := s.do(t, "GET", itemPath(original.ID), bearer(alice.token))
			r.want(t, http.StatusOK, "")
			var got item
			r.decode(t, &got)
			if !reflect.DeepEqual(got, original) {
				t.Errorf("after the rejected updates: got %+v, want %+v", got, original)
			}
			if owner := s.db.queryInt(t, "SELECT owner_id FROM items WHERE id = ?", original.ID); owner != alice.id {
				t.Errorf("owner_id in the database %d, want alice %d", owner, alice.id)
			}
			s.do(t, "GET", itemPath(original.ID), bearer(bob.token)).want(t, http.StatusNotFound, detailItemNotFound)
		})

		t.Run("login form", func(t *testing.T) {
			// The form takes only the OAuth2 fields; anything else is refused, not ignored.
			form := "username=" + alice.email + "&password=" + strings.ReplaceAll(alice.password, " ", "+") + "&is_admin=true"
			r := s.do(t, "POST", "/auth/login", func(r *http.Request) {
				setBody(r, "application/x-www-form-urlencoded", strings.NewReader(form), int64(len(form)))
			})
			rejected(t, r, "is_admin")
		})

		t.Run("answers name their fields exactly", func(t *testing.T) {
			keys := func(t *testing.T, r response) []string {
				t.Helper()
				var m map[string]json.RawMessage
				r.decode(t, &m)
				return slices.Sorted(maps.Keys(m))
			}
			reg := s.register(t, "exact@example.com", "a good long password")
			reg.want(t, http.StatusCreated, "")
			if got := keys(t, reg); !slices.Equal(got, []string{"email", "id", "is_active"}) {
				t.Errorf("%s: keys %v, want [email id is_active]", reg, got)
			}
			login := s.login(t, "exact@example.com", "a good long password")
			login.want(t, http.StatusOK, "")
			if got := keys(t, login); !slices.Equal(got, []string{"access_token", "expires_in", "refresh_token", "token_type"}) {
				t.Errorf("%s: keys %v, want [access_token expires_in refresh_token token_type]", login, got)
			}
			var tok tokens
			login.decode(t, &tok)
			// The token is readable by anyone who holds it: it carries ids and its lifetime, nothing else.
			_, claims, _ := segments(t, tok.AccessToken)
			if got := slices.Sorted(maps.Keys(claims)); !slices.Equal(got, []string{"aud", "exp", "iat", "iss", "jti", "nbf", "sid", "sub"}) {
				t.Errorf("token claims %v, want [aud exp iat iss jti nbf sid sub]", got)
			}
			refreshed := s.refresh(t, tok.RefreshToken)
			if got := keys(t, refreshed); !slices.Equal(got, []string{"access_token", "expires_in", "refresh_token", "token_type"}) {
				t.Errorf("%s: keys %v, want [access_token expires_in refresh_token token_type]", refreshed, got)
			}
			exact := account{email: "exact@example.com", password: "a good long password"}
			browser := s.cookieLogin(t, exact)
			if got := keys(t, s.login(t, exact.email, exact.password, cookieDelivery(), header("Origin", s.base))); !slices.Equal(got, []string{"access_token", "expires_in", "token_type"}) {
				t.Errorf("cookie login: keys %v, want [access_token expires_in token_type]: the refresh token only in the cookie", got)
			}
			if got := keys(t, s.cookieRefresh(t, browser.cookie, header("Origin", s.base))); !slices.Equal(got, []string{"access_token", "expires_in", "token_type"}) {
				t.Errorf("cookie refresh: keys %v, want [access_token expires_in token_type]", got)
			}
			me := s.do(t, "GET", "/auth/me", bearer(alice.token))
			if got := keys(t, me); !slices.Equal(got, []string{"created_at", "email", "id", "is_active", "role"}) {
				t.Errorf("%s: keys %v, want [created_at email id is_active role]", me, got)
			}
			sessions := s.do(t, "GET", "/auth/sessions", bearer(alice.token))
			var sessionRows []map[string]json.RawMessage
			sessions.decode(t, &sessionRows)
			for _, row := range sessionRows {
				if got := slices.Sorted(maps.Keys(row)); !slices.Equal(got, []string{"client_ip", "created_at", "current", "expires_at", "id", "last_used_at", "user_agent"}) {
					t.Errorf("%s: row keys %v, want [client_ip created_at current expires_at id last_used_at user_agent]", sessions, got)
				}
			}
			root := s.newAdmin(t, "root")
			adminUser := []string{"created_at", "email", "id", "is_active", "role"}
			for _, r := range []response{
				s.do(t, "GET", adminUserPath(alice.id), bearer(root.token)),
				s.do(t, "PATCH", adminUserPath(alice.id), bearer(root.token), jsonBody(`{"is_active":true}`)),
			} {
				r.want(t, http.StatusOK, "")
				if got := keys(t, r); !slices.Equal(got, adminUser) {
					t.Errorf("%s: keys %v, want %v", r, got, adminUser)
				}
			}
			for path, want := range map[string][]string{
				"/admin/users": adminUser,
				"/admin/audit": {"actor_id", "client_ip", "detail", "event", "id", "outcome", "request_id", "subject_id", "time"},
			} {
				r := s.do(t, "GET", path, bearer(root.token))
				r.want(t, http.StatusOK, "")
				var rows []map[string]json.RawMessage
				r.decode(t, &rows)
				if len(rows) == 0 {
					t.Errorf("%s: an empty list, want rows to check", r)
				}
				for _, row := range rows {
					if got := slices.Sorted(maps.Keys(row)); !slices.Equal(got, want) {
						t.Errorf("%s: row keys %v, want %v", r, got, want)
					}
				}
			}
			if payload, _ := json.Marshal(claims); strings.Contains(string(payload), "exact@") || strings.Contains(string(payload), "password") {
				t.Errorf("token claims %s show the email or the password", payload)
			}
			one := s.do(t, "GET", itemPath(original.ID), bearer(alice.token))
			if got := keys(t, one); !slices.Equal(got, []string{"description", "id", "name", "owner_id"}) {
				t.Errorf("%s: keys %v, want [description id name owner_id]", one, got)
			}
			list := s.do(t, "GET", "/items/", bearer(alice.token))
			var rows []map[string]json.RawMessage
			list.decode(t, &rows)
			for _, row := range rows {
				if got := slices.Sorted(maps.Keys(row)); !slices.Equal(got, []string{"description", "id", "name", "owner_id"}) {
					t.Errorf("%s: row keys %v, want [description id name owner_id]", list, got)
				}
			}
		})

		t.Run("the stored hash never leaves the server", func(t *testing.T) {
			// The database does hold Argon2id hashes, so inspect's search for "$argon2" in every answer is
			// a search for something that exists.
			hash := s.db.queryString(t, "SELECT password_hash FROM users WHERE id = ?", alice.id)
			if !strings.HasPrefix(hash, "$argon2id$") {
				t.Fatalf("stored hash starts %.12q, want $argon2id$", hash)
			}
			root := s.newAdmin(t, "hashroot")
			answers := []response{
				s.do(t, "GET", "/items/", bearer(alice.token)),
				s.login(t, alice.email, alice.password),
				s.register(t, alice.email, alice.password),
				s.do(t, "GET", "/openapi.json"),
				s.do(t, "GET", "/auth/me", bearer(alice.token)),
				s.do(t, "GET", "/auth/sessions", bearer(alice.token)),
				s.refresh(t, alice.refresh),
				s.do(t, "GET", "/admin/users?limit=100", bearer(root.token)),
				s.do(t, "GET", adminUserPath(alice.id), bearer(root.token)),
				s.do(t, "GET", "/admin/audit?limit=100", bearer(root.token)),
			}
			// Only SHA-256 hashes of refresh tokens are stored; they never leave the server either, in any
			// encoding.
			stored := s.db.queryRows(t, "SELECT hash FROM refresh_tokens")
			if len(stored) == 0 {
				t.Fatal("no refresh token hashes in the database: nothing to look for")
			}
			for _, r := range answers {
				if strings.Contains(string(r.body), hash[strings.LastIndex(hash, "$")+1:]) {
					t.Errorf("%s: the body contains alice's password hash", r)
				}
				for _, h := range stored {
					raw := []byte(h)
					for _, enc := range []string{hex.EncodeToString(raw), base64.StdEncoding.EncodeToString(raw),
						base64.RawURLEncoding.EncodeToString(raw), base64.RawStdEncoding.EncodeToString(raw)} {
						if strings.Contains(strings.ToLower(string(r.body)), strings.ToLower(enc)) {
							t.Errorf("%s: the body contains a stored refresh token hash", r)
						}
					}
				}
			}
		})

		t.Run("the audit log holds no secret", func(t *testing.T) {
			// Events say who did what; never with a password, a token or a hash, even the wrong password of a
			// failed login (often a typo of the right one).
			const typo = "correct horse battery alicf"
			s.login(t, alice.email, typo).want(t, http.StatusUnauthorized, detailBadCredentials)
			victim := s.newAccount(t, "audited")
			s.do(t, "POST", "/auth/password", bearer(victim.token), jsonBody(jsonOf(map[string]string{
				"current_password": typo, "new_password": "never stored anywhere"}))).want(t, http.StatusForbidden, detailWrongPassword)
			t1 := s.refreshed(t, victim.refresh)
			s.refresh(t, victim.refresh).want(t, http.StatusUnauthorized, detailInvalidToken) // reuse: audited
			root := s.newAdmin(t, "auditroot")
			stored := strings.Join(s.db.queryRows(t, "SELECT * FROM audit_events"), "\n")
			listed := s.do(t, "GET", "/admin/audit?limit=100", bearer(root.token))
			listed.want(t, http.StatusOK, "")
			if !strings.Contains(stored, "auth.refresh.reuse") || !strings.Contains(string(listed.body), "auth.refresh.reuse") {
				t.Errorf("the audit log lacks the refresh reuse: nothing meaningful to search")
			}
			s.mu.Lock()
			secrets := append(slices.Clone(s.secrets), typo, "never stored anywhere", victim.refresh, t1.RefreshToken, t1.AccessToken, "$argon2")
			s.mu.Unlock()
			for _, secret := range secrets {
				if strings.Contains(stored, secret) {
					t.Errorf("the audit_events table contains a secret: %.12s…", secret)
				}
				if strings.Contains(string(listed.body), secret) {
					t.Errorf("%s: the audit log shows a secret: %.12s…", listed, secret)
				}
			}
		})

		t.Run("admin changes write only role and activity", func(t *testing.T) {
			root := s.newAdmin(t, "proproot")
			target := s.newAccount(t, "target")
			row := func() []string {
				return s.db.queryRows(t, "SELECT id, email, role, is_active, password_hash, created_at FROM users WHERE id = ?", target.id)
			}
			before := row()
			for _, field := range append(names, "Role", "IS_ACTIVE", "user") {
				if field == "role" || field == "is_active" {
					continue // the two the operation does write
				}
				body := map[string]any{"role": "user", field: hidden[field]}
				switch field {
				case "Role":
					body[field] = "admin"
				case "IS_ACTIVE":
					body[field] = false
				case "user":
					body[field] = map[string]any{"role": "admin"}
				}
				rejected(t, s.do(t, "PATCH", adminUserPath(target.id), bearer(root.token), jsonBody(jsonOf(body))), field)
			}
			if after := row(); !slices.Equal(after, before) {
				t.Errorf("after refused changes the account is %q, want %q", after, before)
			}
			s.do(t, "GET", "/auth/me", bearer(target.token)).want(t, http.StatusOK, "")
		})

		t.Run("documented answers have no hidden fields", func(t *testing.T) {
			doc := s.fetchOpenAPI(t)
			for _, e := range doc.endpoints() {
				for status, resp := range e.op.Responses {
					for mt, c := range resp.Content {
						sc := doc.resolve(c.Schema)
						if sc.Items != nil {
							sc = doc.resolve(*sc.Items)
						}
						for prop := range sc.Properties {
							readable := []string{"id", "owner_id", "is_active", "role", "created_at"} // clients may read, not write
							if slices.Contains(forbiddenKeys, prop) || slices.Contains(names, prop) && !slices.Contains(readable, prop) {
								t.Errorf("%s %s %s documents a %q property", e, status, mt, prop)
							}
						}
					}
				}
			}
		})
	})
}
