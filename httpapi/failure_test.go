package httpapi

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fortress-dev/fortress"
	"github.com/fortress-dev/fortress/password"
)

// errInternal looks like what a driver returns: it must reach the log and never a response.
var errInternal = errors.New("sqlite: SQL logic error: no such table: users (/work/main/sqlite/user.go:31)")

// TestDependencyFailures injects failures behind each handler: unexpected errors become a generic 500
// whose cause is logged under the request id; domain errors map through the one table.
func TestDependencyFailures(t *testing.T) {
	users := &faultyUsers{}
	sessions := &faultySessions{}
	hasher := &countingHasher{}
	e := newEnv(t, func(c *Config) {
		users.UserService = c.Users
		sessions.SessionService = c.Sessions
		hasher.PasswordHasher = c.Passwords
		c.Users, c.Sessions, c.Passwords = users, sessions, hasher
	})
	_, tok := e.user("fail@example.com")
	unavailable := fmt.Errorf("ping: %w", fortress.ErrUnavailable)

	form := "application/x-www-form-urlencoded"
	tests := []struct {
		name   string
		setup  func()
		method string
		path   string
		ct     string
		body   string
		status int
		detail string
	}{
		{"register: hash fails", func() { hasher.hashErr = errInternal }, "POST", "/auth/register", "application/json",
			`{"email":"new@example.com","password":"` + testPassword + `"}`, 500, "Internal Server Error"},
		{"register: store fails", func() {
			users.createUser = func(context.Context, string, string) (fortress.User, error) { return fortress.User{}, errInternal }
		}, "POST", "/auth/register", "application/json", `{"email":"new@example.com","password":"` + testPassword + `"}`, 500, "Internal Server Error"},
		{"register: store unavailable", func() {
			users.createUser = func(context.Context, string, string) (fortress.User, error) { return fortress.User{}, unavailable }
		}, "POST", "/auth/register", "application/json", `{"email":"new@example.com","password":"` + testPassword + `"}`, 503, fortress.ErrUnavailable.Message},
		{"login: lookup fails", func() {
			users.findUserByEmail = func(context.Context, string) (fortress.User, error) { return fortress.User{}, errInternal }
		}, "POST", "/auth/login", form, loginBody("fail@example.com", testPassword), 500, "Internal Server Error"},
		{"login: verify fails", func() { hasher.verifyErr = errInternal }, "POST", "/auth/login", form,
			loginBody("fail@example.com", testPassword), 500, "Internal Server Error"},
		{"auth: session check fails", func() {
			sessions.sessionUser = func(context.Context, int64, time.Time) (fortress.User, error) { return fortress.User{}, errInternal }
		}, "GET", "/items/", "", "", 500, "Internal Server Error"},
		{"auth: session check unavailable", func() {
			sessions.sessionUser = func(context.Context, int64, time.Time) (fortress.User, error) { return fortress.User{}, unavailable }
		}, "GET", "/items/", "", "", 503, fortress.ErrUnavailable.Message},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			*users = faultyUsers{UserService: users.UserService}
			*sessions = faultySessions{SessionService: sessions.SessionService}
			hasher.hashErr, hasher.verifyErr = nil, nil
			tc.setup()
			rec := e.serve(bearer(newRequest(tc.method, tc.path, tc.ct, tc.body), tok))
			wantProblem(t, rec, tc.status, tc.detail)
			reqID := rec.Header().Get("X-Request-ID")
			if tc.status == 503 && rec.Header().Get("Retry-After") == "" {
				t.Errorf("503 without Retry-After, want one")
			}
			if !logHas(t, e.log, reqID, "sqlite: SQL logic error", "ping:") {
				t.Errorf("log has no line with request_id %s and the cause, want the cause logged", reqID)
			}
		})
	}
	*users = faultyUsers{UserService: users.UserService}
	hasher.hashErr, hasher.verifyErr = nil, nil

	t.Run("token issue fails", func(t *testing.T) {
		e.rebuild(func(c *Config) { c.Tokens = failingTokens{TokenService: c.Tokens, err: errInternal} })
		defer e.rebuild(func(c *Config) { c.Tokens = e.tokens })
		rec := e.do("POST", "/auth/login", "", form, loginBody("fail@example.com", testPassword))
		wantProblem(t, rec, 500, "Internal Server Error")
	})

	t.Run("a corrupt stored hash is a 500, not a login", func(t *testing.T) {
		e.register("corrupt@example.com", testPassword)
		e.exec("UPDATE users SET password_hash = '$argon2id$v=19$garbage' WHERE email = 'corrupt@example.com'")
		rec := e.do("POST", "/auth/login", "", form, loginBody("corrupt@example.com", testPassword))
		wantProblem(t, rec, 500, "Internal Server Error")
	})

	t.Run("re-hash failure does not fail the login", func(t *testing.T) {
		hasher.PasswordHasher = newTestHasher(t, testParams2)
		defer func() { hasher.PasswordHasher = newTestHasher(t, testParams) }()
		users.updatePasswordHash = func(context.Context, int64, string) error { return errInternal }
		defer func() { users.updatePasswordHash = nil }()
		e.login("fail@example.com", testPassword)
		if !strings.Contains(e.log.String(), "password rehash failed") {
			t.Errorf("log lacks the rehash failure, want it logged")
		}
	})
}

// testParams2 differ from testParams, so hashes made with testParams need a re-hash.
var testParams2 = password.Params{MemoryKiB: 8192, Time: 2, Threads: 1}

func logHas(t *testing.T, log *syncBuffer, requestID string, causes ...string) bool {
	t.Helper()
	for _, line := range log.lines(t) {
		if line["request_id"] != requestID || line["msg"] == "request" {
			continue
		}
		errText, _ := line["err"].(string)
		for _, c := range causes {
			if strings.Contains(errText, c) {
				return true
			}
		}
	}
	return false
}

func TestItemStoreFailures(t *testing.T) {
	for _, tc := range []struct {
		err    error
		status int
		detail string
	}{
		{errInternal, 500, "Internal Server Error"},
		{fmt.Errorf("wrapped: %w", fortress.ErrUnavailable), 503, fortress.ErrUnavailable.Message},
		{fortress.Errorf(fortress.EINVALID, "Name is invalid."), 422, "Name is invalid."},
		{fortress.Errorf(fortress.ECONFLICT, "Already there."), 409, "Already there."},
		{fortress.Errorf(fortress.EUNAUTHORIZED, "No."), 401, "No."},
		{fortress.Errorf("unknown-code", "Secret internals."), 500, "Internal Server Error"},
	} {
		t.Run(fmt.Sprint(tc.status, " ", tc.err), func(t *testing.T) {
			e := newEnv(t)
			_, tok := e.user("items@example.com")
			e.rebuild(func(c *Config) { c.Items = failingItems{err: tc.err} })
			for _, r := range []struct{ method, path, body string }{
				{"POST", "/items/", `{"name":"x"}`},
				{"GET", "/items/", ""},
				{"GET", "/items/1", ""},
				{"PUT", "/items/1", `{"name":"x"}`},
				{"DELETE", "/items/1", ""},
			} {
				rec := e.doJSON(r.method, r.path, tok, r.body)
				if rec.Code != tc.status {
					t.Errorf("%s %s: status got %d, want %d", r.method, r.path, rec.Code, tc.status)
				}
				p := checkProblemShape(t, newRequest(r.method, r.path, "", ""), rec)
				if p.Detail != tc.detail {
					t.Errorf("%s %s: detail got %q, want %q", r.method, r.path, p.Detail, tc.detail)
				}
			}
			// A 500 is logged at error level with its cause.
			if tc.status == 500 {
				var errs int
				for _, line := range e.log.lines(t) {
					if line["msg"] == "request" && line["status"] == float64(500) && line["level"] == "ERROR" {
						errs++
					}
				}
				if errs != 5 {
					t.Errorf("access log lines at ERROR with status 500: got %d, want 5", errs)
				}
			}
		})
	}
}

// TestAbortHandlerPanicPropagates: http.ErrAbortHandler is net/http's way to abort a response; it must
// reach the server untouched instead of becoming a 500.
func TestAbortHandlerPanicPropagates(t *testing.T) {
	sessions := &faultySessions{}
	e := newEnv(t, func(c *Config) {
		sessions.SessionService = c.Sessions
		c.Sessions = sessions
	})
	_, tok := e.user("abort@example.com")
	sessions.sessionUser = func(context.Context, int64, time.Time) (fortress.User, error) { panic(http.ErrAbortHandler) }
	defer func() {
		if v := recover(); v != http.ErrAbortHandler { //nolint:errorlint // recover() yields the panic value itself, never a wrapped error
			t.Errorf("recovered %v, want http.ErrAbortHandler to propagate", v)
		}
	}()
	e.srv.ServeHTTP(httptest.NewRecorder(), bearer(newRequest("GET", "/items/", "", ""), tok))
	t.Errorf("ServeHTTP returned, want the abort panic to propagate")
}

func TestClientIPWithoutPort(t *testing.T) {
	r := newRequest("GET", "/", "", "")
	r.RemoteAddr = "@unix" // a unix-socket peer has no IP address
	if got := clientIP(r); got != "unknown" {
		t.Errorf("clientIP got %q, want unknown", got)
	}
	r.RemoteAddr = "192.0.2.7:5555"
	if got := clientIP(r); got != "192.0.2.7" {
		t.Errorf("clientIP got %q, want 192.0.2.7", got)
	}
}

// TestValidateTagsArePanicsAtStartup: a wrong tag is a programming error found by the first test run.
func TestValidateTagsArePanicsAtStartup(t *testing.T) {
	for _, tag := range []string{"min=x", "max=", "bogus"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("parseRules(%q): no panic, want one", tag)
				}
			}()
			parseRules(tag)
		}()
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Errorf("typeSchema(map): no panic, want one")
			}
		}()
		typeSchema(reflect.TypeFor[map[string]int](), rules{min: -1, max: -1})
	}()
}

func TestJSONTypeNames(t *testing.T) {
	for kind, want := range map[string]string{"string": "string", "ptr": "string", "int": "integer", "int64": "integer", "bool": "boolean", "float64": "float64"} {
		if got := jsonType(kind); got != want {
			t.Errorf("jsonType(%q): got %q, want %q", kind, got, want)
		}
	}
}

// TestClientGoneIsNotAServerError: a request whose client hung up, and whose store call was cancelled
// with it, is recorded as 499 without an ERROR line, so it cannot inflate the 5xx ratio that pages.
func TestClientGoneIsNotAServerError(t *testing.T) {
	sessions := &faultySessions{}
	e := newEnv(t, func(c *Config) { sessions.SessionService = c.Sessions; c.Sessions = sessions })
	_, tok := e.user("gone-client@example.com")
	ctx, cancel := context.WithCancel(context.Background())
	sessions.sessionUser = func(ctx context.Context, _ int64, _ time.Time) (fortress.User, error) {
		cancel() // the client disconnects while the query runs
		return fortress.User{}, fmt.Errorf("query: %w", ctx.Err())
	}
	r := bearer(newRequest("GET", "/items/", "", ""), tok).WithContext(ctx)
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, r)
	if rec.Code != statusClientClosedRequest {
		t.Fatalf("status got %d, want %d", rec.Code, statusClientClosedRequest)
	}
	if strings.Contains(e.log.String(), `"level":"ERROR"`) {
		t.Fatalf("log: got an ERROR line for a client that went away: %s", e.log.String())
	}
}
