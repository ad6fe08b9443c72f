package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/fortress-dev/fortress/token"
)

// The tests in this file follow /work/shared/API.md path by path.

func TestRegister(t *testing.T) {
	e := newEnv(t)
	rec := e.doJSON("POST", "/auth/register", "", `{"email":"Alice@Example.COM","password":"`+testPassword+`"}`)
	wantStatus(t, rec, http.StatusCreated)
	var got map[string]any
	decodeBody(t, rec, &got)
	if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, []string{"email", "id", "is_active"}) {
		t.Errorf("register body keys got %v, want exactly [email id is_active]", keys)
	}
	if got["email"] != "Alice@example.com" {
		t.Errorf("email got %v, want Alice@example.com (domain lower-cased, local part kept)", got["email"])
	}
	if active, ok := got["is_active"].(bool); !ok || !active {
		t.Errorf("is_active got %v, want true", got["is_active"])
	}
	if id, ok := got["id"].(float64); !ok || id < 1 {
		t.Errorf("id got %v, want a positive integer", got["id"])
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type got %q, want application/json", ct)
	}

	// The same address in any letter case is taken.
	before := e.snapshot()
	for _, email := range []string{"Alice@Example.COM", "alice@example.com", "ALICE@EXAMPLE.COM", "aLiCe@eXaMpLe.cOm"} {
		t.Run(email, func(t *testing.T) {
			rec := e.doJSON("POST", "/auth/register", "", `{"email":"`+email+`","password":"another password 123"}`)
			wantProblem(t, rec, http.StatusBadRequest, "The provided email may already be in use.")
		})
	}
	if after := e.snapshot(); after != before {
		t.Errorf("duplicate registrations changed the store:\ngot  %s\nwant %s", after, before)
	}
}

func TestLogin(t *testing.T) {
	e := newEnv(t)
	u := e.register("bob@example.com", testPassword)

	t.Run("success", func(t *testing.T) {
		for _, form := range []string{
			loginBody("bob@example.com", testPassword),
			loginBody("BOB@EXAMPLE.COM", testPassword), // emails are equal regardless of case
			"grant_type=password&" + loginBody("bob@example.com", testPassword),
			"grant_type=password&scope=&client_id=x&client_secret=y&" + loginBody("bob@example.com", testPassword),
		} {
			rec := e.do("POST", "/auth/login", "", "application/x-www-form-urlencoded", form)
			wantStatus(t, rec, http.StatusOK)
			var got map[string]any
			decodeBody(t, rec, &got)
			if keys := slices.Sorted(maps.Keys(got)); !slices.Equal(keys, []string{"access_token", "expires_in", "refresh_token", "token_type"}) {
				t.Errorf("login body keys got %v, want [access_token expires_in refresh_token token_type]", keys)
			}
			if rt, _ := got["refresh_token"].(string); len(rt) != 43 {
				t.Errorf("refresh_token got %q, want 43 characters of base64url (256 bits)", rt)
			}
			if c := rec.Header().Get("Set-Cookie"); c != "" {
				t.Errorf("Set-Cookie got %q, want none: API clients get the refresh token in the body", c)
			}
			if got["token_type"] != "bearer" {
				t.Errorf("token_type got %v, want bearer", got["token_type"])
			}
			if got["expires_in"] != float64(testTTL/time.Second) {
				t.Errorf("expires_in got %v, want %d", got["expires_in"], testTTL/time.Second)
			}
			tok, _ := got["access_token"].(string)
			claims, err := e.tokens.Verify(tok)
			if err != nil || claims.UserID != u.ID {
				t.Errorf("access_token verifies as (%+v, %v), want user %d", claims, err, u.ID)
			}
			if cc := rec.Header().Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control got %q, want no-store on a token response", cc)
			}
		}
	})

	t.Run("failures", func(t *testing.T) {
		tests := []struct {
			name, form string
			status     int
			detail     string
		}{
			{"wrong password", loginBody("bob@example.com", "wrong password 1234"), 401, "Incorrect email or password"},
			{"unknown email", loginBody("nobody@example.com", testPassword), 401, "Incorrect email or password"},
			{"not an email", loginBody("bob", testPassword), 401, "Incorrect email or password"},
			{"no username", "password=" + testPassword, 422, ""},
			{"no password", "username=bob%40example.com", 422, ""},
			{"empty password", "username=bob%40example.com&password=", 422, ""},
			{"empty form", "", 422, ""},
			{"grant_type client_credentials", "grant_type=client_credentials&" + loginBody("bob@example.com", testPassword), 422, `grant_type: must be "password"`},
			{"grant_type empty", "grant_type=&" + loginBody("bob@example.com", testPassword), 422, `grant_type: must be "password"`},
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				rec := e.do("POST", "/auth/login", "", "application/x-www-form-urlencoded", tc.form)
				wantProblem(t, rec, tc.status, tc.detail)
				if tc.status == 401 {
					if got := rec.Header().Get("WWW-Authenticate"); got != "Bearer" {
						t.Errorf("WWW-Authenticate got %q, want Bearer", got)
					}
				}
			})
		}
	})
}

// TestInactiveUser: an inactive account can neither log in nor use a token issued before.
func TestInactiveUser(t *testing.T) {
	e := newEnv(t)
	id, tok := e.user("carol@example.com")
	e.exec("UPDATE users SET is_active = 0 WHERE id = ?", id)

	rec := e.do("POST", "/auth/login", "", "application/x-www-form-urlencoded", loginBody("carol@example.com", testPassword))
	wantProblem(t, rec, http.StatusUnauthorized, "Incorrect email or password")
	rec = e.do("GET", "/items/", tok, "", "")
	wantProblem(t, rec, http.StatusUnauthorized, "Could not validate credentials")
}

func TestItemsCRUD(t *testing.T) {
	e := newEnv(t)
	aliceID, alice := e.user("alice@example.com")
	bobID, bob := e.user("bob@example.com")

	// Create, both with and without the trailing slash, never redirected.
	rec := e.doJSON("POST", "/items/", alice, `{"name":"Notebook","description":"A5, dotted"}`)
	wantStatus(t, rec, http.StatusCreated)
	var a1 itemResponse
	decodeBody(t, rec, &a1)
	if a1.Name != "Notebook" || a1.Description == nil || *a1.Description != "A5, dotted" || a1.OwnerID != aliceID || a1.ID < 1 {
		t.Errorf("created item got %+v, want Notebook/A5, dotted owned by %d", a1, aliceID)
	}
	if loc := rec.Header().Get("Location"); loc != "/items/"+strconv.FormatInt(a1.ID, 10) {
		t.Errorf("Location got %q, want /items/%d", loc, a1.ID)
	}
	var raw map[string]any
	decodeBody(t, rec, &raw)
	if keys := slices.Sorted(maps.Keys(raw)); !slices.Equal(keys, []string{"description", "id", "name", "owner_id"}) {
		t.Errorf("item keys got %v, want [description id name owner_id]", keys)
	}

	rec = e.doJSON("POST", "/items", alice, `{"name":"Pen"}`)
	wantStatus(t, rec, http.StatusCreated)
	var a2 itemResponse
	decodeBody(t, rec, &a2)
	if a2.Description != nil {
		t.Errorf("item without description: got description %q, want null", *a2.Description)
	}
	b1 := e.createItem(bob, "Bob's", nil)

	// List: only the caller's items, at both paths.
	for _, path := range []string{"/items/", "/items"} {
		rec := e.do("GET", path, alice, "", "")
		wantStatus(t, rec, http.StatusOK)
		var list []itemResponse
		decodeBody(t, rec, &list)
		if len(list) != 2 || list[0].ID != a1.ID || list[1].ID != a2.ID {
			t.Errorf("GET %s as alice: got %+v, want her two items %d and %d", path, list, a1.ID, a2.ID)
		}
		if got := rec.Header().Get("X-Total-Count"); got != "2" {
			t.Errorf("X-Total-Count got %q, want 2", got)
		}
	}
	rec = e.do("GET", "/items/", bob, "", "")
	var bobList []itemResponse
	decodeBody(t, rec, &bobList)
	if len(bobList) != 1 || bobList[0].ID != b1.ID || bobList[0].OwnerID != bobID {
		t.Errorf("GET /items/ as bob: got %+v, want only item %d", bobList, b1.ID)
	}

	// An empty list is [], not null.
	_, carol := e.user("carol@example.com")
	rec = e.do("GET", "/items", carol, "", "")
	if body := strings.TrimSpace(rec.Body.String()); body != "[]" {
		t.Errorf("empty list body got %q, want []", body)
	}

	// Read.
	rec = e.do("GET", "/items/"+strconv.FormatInt(a1.ID, 10), alice, "", "")
	wantStatus(t, rec, http.StatusOK)
	var got itemResponse
	decodeBody(t, rec, &got)
	if got.ID != a1.ID || got.Name != a1.Name || !equalPtr(got.Description, a1.Description) || got.OwnerID != a1.OwnerID {
		t.Errorf("GET item got %+v (description %s), want %+v (description %s)", got, deref(got.Description), a1, deref(a1.Description))
	}

	// Someone else's item is "not found" for GET and PUT, and survives DELETE.
	other := "/items/" + strconv.FormatInt(b1.ID, 10)
	wantProblem(t, e.do("GET", other, alice, "", ""), http.StatusNotFound, "Item not found")
	wantProblem(t, e.doJSON("PUT", other, alice, `{"name":"stolen"}`), http.StatusNotFound, "Item not found")
	rec = e.do("DELETE", other, alice, "", "")
	wantStatus(t, rec, http.StatusNoContent)
	if rec.Body.Len() != 0 {
		t.Errorf("DELETE body got %q, want empty", rec.Body.String())
	}
	if it, err := e.db.FindItem(context.Background(), bobID, b1.ID); err != nil || it.Name != "Bob's" {
		t.Errorf("bob's item after alice's PUT and DELETE: got (%+v, %v), want it unchanged", it, err)
	}
	wantProblem(t, e.do("GET", "/items/999999", alice, "", ""), http.StatusNotFound, "Item not found")
	wantProblem(t, e.doJSON("PUT", "/items/999999", alice, `{"name":"x"}`), http.StatusNotFound, "Item not found")
	wantStatus(t, e.do("DELETE", "/items/999999", alice, "", ""), http.StatusNoContent)

	// Partial update.
	a1Path := "/items/" + strconv.FormatInt(a1.ID, 10)
	updates := []struct {
		body      string
		wantName  string
		wantDesc  *string
		wantCode  int
		wantInErr string
	}{
		{`{"name":"Notebook 2"}`, "Notebook 2", ptr("A5, dotted"), 200, ""},
		{`{"description":"ruled\nlines\twith tab"}`, "Notebook 2", ptr("ruled\nlines\twith tab"), 200, ""},
		{`{}`, "Notebook 2", ptr("ruled\nlines\twith tab"), 200, ""},
		{`{"name":null}`, "Notebook 2", ptr("ruled\nlines\twith tab"), 422, "name"},
		{`{"name":""}`, "Notebook 2", ptr("ruled\nlines\twith tab"), 422, "name"},
		{`{"description":null}`, "Notebook 2", nil, 200, ""},
		{`{"name":"Both","description":"set"}`, "Both", ptr("set"), 200, ""},
	}
	for _, u := range updates {
		rec := e.doJSON("PUT", a1Path, alice, u.body)
		if rec.Code != u.wantCode {
			t.Errorf("PUT %s: status got %d, want %d (%s)", u.body, rec.Code, u.wantCode, rec.Body.String())
		}
		if u.wantCode == 422 {
			p := checkProblemShape(t, newRequest("PUT", a1Path, "", ""), rec)
			if len(p.Errors) == 0 || p.Errors[0].Field != u.wantInErr {
				t.Errorf("PUT %s: errors got %+v, want one naming %q", u.body, p.Errors, u.wantInErr)
			}
		}
		it, err := e.db.FindItem(context.Background(), aliceID, a1.ID)
		if err != nil {
			t.Fatalf("FindItem: got error %v, want nil", err)
		}
		if it.Name != u.wantName || !equalPtr(it.Description, u.wantDesc) {
			t.Errorf("after PUT %s: stored (%q, %v), want (%q, %v)", u.body, it.Name, deref(it.Description), u.wantName, deref(u.wantDesc))
		}
		if u.wantCode == 200 {
			var resp itemResponse
			decodeBody(t, rec, &resp)
			if resp.Name != it.Name || !equalPtr(resp.Description, it.Description) || resp.ID != a1.ID || resp.OwnerID != aliceID {
				t.Errorf("PUT %s answered %+v, want the stored item", u.body, resp)
			}
		}
	}

	// Delete.
	rec = e.do("DELETE", a1Path, alice, "", "")
	wantStatus(t, rec, http.StatusNoContent)
	if rec.Body.Len() != 0 {
		t.Errorf("DELETE body got %q, want empty", rec.Body.String())
	}
	wantProblem(t, e.do("GET", a1Path, alice, "", ""), http.StatusNotFound, "Item not found")
	wantStatus(t, e.do("DELETE", a1Path, alice, "", ""), http.StatusNoContent) // again: still 204
}

func equalPtr(a, b *string) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }

func deref(s *string) string {
	if s == nil {
		return "<nil>"
	}
	return strconv.Quote(*s)
}

func TestItemsPaging(t *testing.T) {
	e := newEnv(t)
	_, tok := e.user("pager@example.com")
	var ids []int64
	for i := range 5 {
		ids = append(ids, e.createItem(tok, "item "+strconv.Itoa(i), nil).ID)
	}
	tests := []struct {
		query    string
		wantIDs  []int64
		wantLink string
	}{
		{"", ids, ""},
		{"?limit=2", ids[:2], `</items/?limit=2&offset=2>; rel="next"`},
		{"?limit=2&offset=2", ids[2:4], `</items/?limit=2&offset=4>; rel="next"`},
		{"?limit=2&offset=4", ids[4:], ""},
		{"?offset=5", nil, ""},
		{"?limit=100&offset=1000000", nil, ""},
		{"?unknown=1", ids, ""},
	}
	for _, tc := range tests {
		rec := e.do("GET", "/items/"+tc.query, tok, "", "")
		wantStatus(t, rec, http.StatusOK)
		var list []itemResponse
		decodeBody(t, rec, &list)
		var got []int64
		for _, it := range list {
			got = append(got, it.ID)
		}
		if !slices.Equal(got, tc.wantIDs) {
			t.Errorf("GET /items/%s: ids got %v, want %v", tc.query, got, tc.wantIDs)
		}
		if link := rec.Header().Get("Link"); link != tc.wantLink {
			t.Errorf("GET /items/%s: Link got %q, want %q", tc.query, link, tc.wantLink)
		}
		if n := rec.Header().Get("X-Total-Count"); n != "5" {
			t.Errorf("GET /items/%s: X-Total-Count got %q, want 5", tc.query, n)
		}
	}
}

// forgeToken signs claims with key under the given header, for tokens the server must refuse.
func forgeToken(t *testing.T, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tk := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tk.Header["kid"] = kid
	}
	s, err := tk.SignedString(key)
	if err != nil {
		t.Fatalf("sign forged token: got error %v, want nil", err)
	}
	return s
}

func TestAuthFailures(t *testing.T) {
	e := newEnv(t)
	id, good := e.user("dave@example.com")
	now := time.Now()
	claims := func() jwt.MapClaims {
		return jwt.MapClaims{"sub": strconv.FormatInt(id, 10), "iss": "fortress", "aud": "fortress-api",
			"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix(), "jti": "x"}
	}
	kid := token.DeriveKeyID(testSecret)
	forged := forgeToken(t, jwt.SigningMethodHS256, []byte("another secret that is 32+ bytes long!!"), kid, claims())
	algNone := forgeToken(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, kid, claims())
	hs512 := forgeToken(t, jwt.SigningMethodHS512, testSecret, kid, claims())
	goodClaims, err := e.tokens.Verify(good)
	if err != nil {
		t.Fatalf("Verify: got error %v, want nil", err)
	}
	sid := goodClaims.SessionID
	issue := func(m *token.Manager, userID, sessionID int64) string {
		t.Helper()
		tok, _, err := m.Issue(userID, sessionID)
		if err != nil {
			t.Fatalf("Issue: got error %v, want nil", err)
		}
		return tok
	}
	expired := issue(newTestTokens(t, func() time.Time { return now.Add(-time.Hour) }), id, sid)
	ghost := issue(e.tokens, id+1000, sid)     // well signed, for a user that never existed, in a live session
	noSession := issue(e.tokens, id, sid+1000) // well signed, for a session that never existed
	_, other := e.user("dave-other@example.com")
	otherClaims, err := e.tokens.Verify(other)
	if err != nil {
		t.Fatalf("Verify: got error %v, want nil", err)
	}
	stolenSession := issue(e.tokens, id, otherClaims.SessionID) // our user id in someone else's session
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + parts[1] + "x." + parts[2]

	tests := []struct {
		name, auth, detail string
	}{
		{"no header", "", "Not authenticated"},
		{"basic", "Basic xyz", "Not authenticated"},
		{"basic with a good token", "Basic " + good, "Not authenticated"},
		{"bearer alone", "Bearer", "Not authenticated"},
		{"bearer and spaces", "Bearer    ", "Not authenticated"},
		{"token without scheme", good, "Not authenticated"},
		{"malformed", "Bearer not-a-jwt", "Could not validate credentials"},
		{"three dots", "Bearer a.b.c", "Could not validate credentials"},
		{"tampered payload", "Bearer " + tampered, "Could not validate credentials"},
		{"forged with another key", "Bearer " + forged, "Could not validate credentials"},
		{"alg none", "Bearer " + algNone, "Could not validate credentials"},
		{"alg HS512", "Bearer " + hs512, "Could not validate credentials"},
		{"expired", "Bearer " + expired, "Could not validate credentials"},
		{"user does not exist", "Bearer " + ghost, "Could not validate credentials"},
		{"session does not exist", "Bearer " + noSession, "Could not validate credentials"},
		{"another user's session", "Bearer " + stolenSession, "Could not validate credentials"},
		{"huge token", "Bearer " + strings.Repeat("a", 10000), "Could not validate credentials"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, m := range []struct{ method, path string }{{"GET", "/items/"}, {"GET", "/items"}, {"POST", "/items/"}, {"GET", "/items/1"}, {"PUT", "/items/1"}, {"DELETE", "/items/1"}} {
				r := newRequest(m.method, m.path, "application/json", `{"name":"x"}`)
				if tc.auth != "" {
					r.Header.Set("Authorization", tc.auth)
				}
				rec := e.serve(r)
				wantProblem(t, rec, http.StatusUnauthorized, tc.detail)
				if got := rec.Header().Get("WWW-Authenticate"); got != "Bearer" {
					t.Errorf("%s %s: WWW-Authenticate got %q, want Bearer", m.method, m.path, got)
				}
			}
		})
	}

	// The scheme is case-insensitive (RFC 9110 §11.1).
	for _, scheme := range []string{"Bearer", "bearer", "BEARER"} {
		r := newRequest("GET", "/items/", "", "")
		r.Header.Set("Authorization", scheme+" "+good)
		wantStatus(t, e.serve(r), http.StatusOK)
	}

	// A deleted user's token stops working at once.
	e.exec("DELETE FROM users WHERE id = ?", id)
	wantProblem(t, e.do("GET", "/items/", good, "", ""), http.StatusUnauthorized, "Could not validate credentials")
}

func TestInfrastructure(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		method, path string
		status       int
		detail       string
		contentType  string // prefix
	}{
		{"GET", "/health", 200, "", "application/json"},
		{"HEAD", "/health", 200, "", "application/json"},
		{"GET", "/readyz", 200, "", "application/json"},
		{"GET", "/docs", 200, "", "text/html"},
		{"GET", "/", 200, "", "text/html"},
		{"GET", "/openapi.json", 200, "", "application/json"},
		{"GET", "/static/app.js", 200, "", "text/javascript"},
		{"GET", "/static/style.css", 200, "", "text/css"},
		{"GET", "/static/docs/init.js", 200, "", "text/javascript"},
		{"GET", "/static/", 404, "Not Found", ""},
		{"GET", "/static/docs/", 404, "Not Found", ""},
		{"GET", "/static/docs", 404, "Not Found", ""},
		{"GET", "/static/nope.js", 404, "Not Found", ""},
		{"GET", "/nope", 404, "Not Found", ""},
		{"GET", "/index.html", 404, "Not Found", ""},
		{"GET", "/docs.html", 404, "Not Found", ""},
		{"GET", "/items/1/extra", 404, "Not Found", ""},
		{"GET", "/auth", 404, "Not Found", ""},
		{"GET", "/health/", 404, "Not Found", ""},
		{"POST", "/nope", 404, "Not Found", ""},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			rec := e.serve(newRequest(tc.method, tc.path, "", ""))
			if tc.status >= 400 {
				wantProblem(t, rec, tc.status, tc.detail)
				return
			}
			wantStatus(t, rec, tc.status)
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, tc.contentType) {
				t.Errorf("Content-Type got %q, want %s…", ct, tc.contentType)
			}
		})
	}

	rec := e.serve(newRequest("GET", "/health", "", ""))
	if body := rec.Body.String(); body != `{"status":"ok"}` {
		t.Errorf("/health body got %q, want {\"status\":\"ok\"}", body)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		method, path string
		allow        []string
	}{
		{"POST", "/health", []string{"GET", "HEAD"}},
		{"DELETE", "/items/", []string{"GET", "HEAD", "POST"}},
		{"PATCH", "/items", []string{"GET", "HEAD", "POST"}},
		{"POST", "/items/1", []string{"DELETE", "GET", "HEAD", "PUT"}},
		{"GET", "/auth/login", []string{"POST"}},
		{"GET", "/auth/register", []string{"POST"}},
		{"PUT", "/openapi.json", []string{"GET", "HEAD"}},
		{"OPTIONS", "/items/", []string{"GET", "HEAD", "POST"}},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			rec := e.serve(newRequest(tc.method, tc.path, "", ""))
			wantProblem(t, rec, http.StatusMethodNotAllowed, "Method Not Allowed")
			var got []string
			for _, m := range strings.Split(rec.Header().Get("Allow"), ",") {
				got = append(got, strings.TrimSpace(m))
			}
			slices.Sort(got)
			if !slices.Equal(got, tc.allow) {
				t.Errorf("Allow got %v, want %v", got, tc.allow)
			}
		})
	}
}

// TestPathCleaning: paths that are not clean are redirected to their clean form, never served as is.
func TestPathCleaning(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct{ path, location string }{
		{"/nope/../nothing", "/nothing"},
		{"/static/../health", "/health"},
		{"//health", "/health"},
	} {
		rec := e.serve(newRequest("GET", tc.path, "", ""))
		if rec.Code < 300 || rec.Code > 399 || rec.Header().Get("Location") != tc.location {
			t.Errorf("GET %s: got %d Location %q, want a redirect to %s", tc.path, rec.Code, rec.Header().Get("Location"), tc.location)
		}
	}
}

func TestTrustedHosts(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		host, path string
		status     int
	}{
		{"example.com", "/openapi.json", 200},
		{"example.com:8443", "/openapi.json", 200},
		{"EXAMPLE.com.", "/openapi.json", 200},
		{"localhost:8000", "/openapi.json", 200},
		{"127.0.0.1:8000", "/openapi.json", 200},
		{"evil.com", "/openapi.json", 400},
		{"evil.com:80", "/items/", 400},
		{"example.com.evil.com", "/openapi.json", 400},
		{"sub.example.com", "/openapi.json", 400},
		{"", "/openapi.json", 400},
		{"[::1]:8000", "/openapi.json", 400},
		// Probes are reachable by any name: orchestrators call them by IP.
		{"10.0.0.7:8000", "/health", 200},
		{"10.0.0.7:8000", "/readyz", 200},
	}
	for _, tc := range tests {
		t.Run(tc.host+tc.path, func(t *testing.T) {
			r := newRequest("GET", tc.path, "", "")
			r.Host = tc.host
			rec := e.serve(r)
			if tc.status == 400 {
				wantProblem(t, rec, 400, "Invalid host header")
			} else {
				wantStatus(t, rec, tc.status)
			}
		})
	}
}

func TestHostAllowed(t *testing.T) {
	tests := []struct {
		host    string
		allowed []string
		want    bool
	}{
		{"a.example.com", []string{"*.example.com"}, true},
		{"a.b.example.com:1", []string{"*.example.com"}, true},
		{"example.com", []string{"*.example.com"}, false},
		{"badexample.com", []string{"*.example.com"}, false},
		{"anything", []string{"*"}, true},
		{"", []string{"*"}, false},
		{"[::1]", []string{"::1"}, true},
		{"[::1]:80", []string{"::1"}, true},
		{"x", nil, false},
	}
	for _, tc := range tests {
		if got := hostAllowed(tc.host, tc.allowed); got != tc.want {
			t.Errorf("hostAllowed(%q, %q): got %v, want %v", tc.host, tc.allowed, got, tc.want)
		}
	}
}

func TestReadiness(t *testing.T) {
	var readyErr error
	e := newEnv(t, func(c *Config) {
		c.Ready = func(context.Context) error { return readyErr }
	})
	wantStatus(t, e.do("GET", "/readyz", "", "", ""), http.StatusOK)

	readyErr = errors.New("sqlite: database is locked (SQL logic error) at /work/main/sqlite/db.go:42")
	rec := e.do("GET", "/readyz", "", "", "")
	wantProblem(t, rec, http.StatusServiceUnavailable, "The service is not ready.")
	if got := rec.Header().Get("Retry-After"); got == "" {
		t.Errorf("Retry-After got %q, want a value", got)
	}
	if !strings.Contains(e.log.String(), "database is locked") {
		t.Errorf("log got %q, want the readiness failure's cause", e.log.String())
	}

	readyErr = nil
	wantStatus(t, e.do("GET", "/readyz", "", "", ""), http.StatusOK)
	e.srv.Drain()
	wantProblem(t, e.do("GET", "/readyz", "", "", ""), http.StatusServiceUnavailable, "The service is shutting down.")
	// Liveness does not depend on draining.
	wantStatus(t, e.do("GET", "/health", "", "", ""), http.StatusOK)
}

// TestRequestIDIsNotTakenFromTheClient: an id chosen by the client could forge or garble log lines.
func TestRequestIDIsNotTakenFromTheClient(t *testing.T) {
	e := newEnv(t)
	seen := map[string]bool{}
	for range 3 {
		r := newRequest("GET", "/nope", "", "")
		r.Header.Set("X-Request-ID", "client-chosen\nid")
		rec := e.serve(r)
		id := rec.Header().Get("X-Request-ID")
		if id == "client-chosen\nid" || len(id) != 32 || seen[id] {
			t.Errorf("X-Request-ID got %q, want a fresh 32-hex id", id)
		}
		seen[id] = true
	}
}

// TestResponsesAreJSON: bodies parse, and bodies named JSON are JSON.
func TestOpenAPIServedIsJSON(t *testing.T) {
	e := newEnv(t)
	rec := e.do("GET", "/openapi.json", "", "", "")
	if !json.Valid(rec.Body.Bytes()) {
		t.Errorf("/openapi.json: got invalid JSON, want a document")
	}
}
