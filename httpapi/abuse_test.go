package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fortress-dev/fortress/password"
	"github.com/fortress-dev/fortress/ratelimit"
)

func withLimits(store ratelimit.Store, general, login, register, lockout ratelimit.Policy) func(*Config) {
	return func(c *Config) {
		c.Limiter, c.RateLimit, c.LoginLimit, c.RegisterLimit, c.LoginLockout = store, general, login, register, lockout
	}
}

func TestRateLimitPerClient(t *testing.T) {
	e := newEnv(t, withLimits(ratelimit.NewMemory(100), ratelimit.Policy{Name: "default", Limit: 3, Window: time.Minute},
		ratelimit.Policy{}, ratelimit.Policy{}, ratelimit.Policy{}))
	from := func(ip string, headers ...string) *http.Request {
		r := newRequest("GET", "/openapi.json", "", "")
		r.RemoteAddr = ip + ":1234"
		for i := 0; i+1 < len(headers); i += 2 {
			r.Header.Set(headers[i], headers[i+1])
		}
		return r
	}
	for i := range 3 {
		rec := e.serve(from("198.51.100.1"))
		wantStatus(t, rec, http.StatusOK)
		if got, want := rec.Header().Get("RateLimit"), `"default";r=`+strconv.Itoa(2-i)+`;t=`; !strings.HasPrefix(got, want) {
			t.Fatalf("request %d: RateLimit %q, want prefix %q", i+1, got, want)
		}
		if got := rec.Header().Get("RateLimit-Policy"); got != `"default";q=3;w=60` {
			t.Fatalf("RateLimit-Policy: got %q", got)
		}
	}
	// A spoofed X-Forwarded-For from an untrusted peer does not buy a fresh budget.
	rec := e.serve(from("198.51.100.1", "X-Forwarded-For", "203.0.113.77"))
	wantProblem(t, rec, http.StatusTooManyRequests, "Too many requests; retry later.")
	if ra, err := strconv.Atoi(rec.Header().Get("Retry-After")); err != nil || ra < 1 || ra > 20 {
		t.Fatalf("Retry-After: got %q, want 1..20 seconds", rec.Header().Get("Retry-After"))
	}
	wantStatus(t, e.serve(from("198.51.100.2")), http.StatusOK) // another client has its own budget
	h := newRequest("GET", "/health", "", "")
	h.RemoteAddr = "198.51.100.1:1234"
	wantStatus(t, e.serve(h), http.StatusOK) // probes are never limited
	if !strings.Contains(e.log.String(), `"event":"ratelimit.reject"`) {
		t.Error("the rejection was not logged")
	}
}

// brokenStore fails every call, as an unreachable store without fallback would.
type brokenStore struct{}

func (brokenStore) Take(context.Context, string, ratelimit.Policy) (ratelimit.Result, error) {
	return ratelimit.Result{}, errors.New("store down")
}
func (brokenStore) Peek(context.Context, string, ratelimit.Policy) (ratelimit.Result, error) {
	return ratelimit.Result{}, errors.New("store down")
}
func (brokenStore) Reset(context.Context, string, ratelimit.Policy) error {
	return errors.New("store down")
}

func TestFailingLimiterLetsRequestsThrough(t *testing.T) {
	p := ratelimit.Policy{Name: "default", Limit: 1, Window: time.Minute}
	lock := ratelimit.Policy{Name: "login-failures", Limit: 1, Window: time.Minute}
	e := newEnv(t, withLimits(brokenStore{}, p, p, p, lock))
	e.register("open@example.com", testPassword)
	for range 3 {
		wantStatus(t, e.do("GET", "/openapi.json", "", "", ""), http.StatusOK)
		wantStatus(t, e.do("POST", "/auth/login", "", "application/x-www-form-urlencoded", loginBody("open@example.com", "wrong password!")), http.StatusUnauthorized)
	}
	e.login("open@example.com", testPassword)
	if !strings.Contains(e.log.String(), "request allowed") || !strings.Contains(e.log.String(), "login lockout store failed") {
		t.Error("the store failures were not logged")
	}
}

func TestRouteLimitsAddToTheGeneralOne(t *testing.T) {
	e := newEnv(t, withLimits(ratelimit.NewMemory(100), ratelimit.Policy{Name: "default", Limit: 100, Window: time.Minute},
		ratelimit.Policy{Name: "login", Limit: 100, Window: time.Minute},
		ratelimit.Policy{Name: "register", Limit: 2, Window: time.Hour}, ratelimit.Policy{}))
	e.register("r1@example.com", testPassword)
	e.register("r2@example.com", testPassword)
	rec := e.doJSON("POST", "/auth/register", "", `{"email":"r3@example.com","password":"`+testPassword+`"}`)
	wantStatus(t, rec, http.StatusTooManyRequests)
	if got := strings.Join(rec.Header().Values("RateLimit-Policy"), ", "); !strings.Contains(got, `"default";q=100;w=60`) || !strings.Contains(got, `"register";q=2;w=3600`) {
		t.Fatalf("RateLimit-Policy: got %q, want both budgets", got)
	}
	if _, err := e.cfg.Users.FindUserByEmail(context.Background(), "r3@example.com"); err == nil {
		t.Fatal("a throttled registration created the account")
	}
}

// TestLoginLockout: failures for one email lock it, existing or not, with the same answer and no
// password work; a success clears it; other emails are unaffected.
func TestLoginLockout(t *testing.T) {
	counter := &countingHasher{}
	lock := ratelimit.Policy{Name: "login-failures", Limit: 3, Window: 15 * time.Minute}
	e := newEnv(t, withLimits(ratelimit.NewMemory(100), ratelimit.Policy{}, ratelimit.Policy{}, ratelimit.Policy{}, lock),
		func(c *Config) { counter.PasswordHasher = c.Passwords; c.Passwords = counter })
	e.register("victim@example.com", testPassword)
	loginAs := func(email, pw string) *http.Response {
		return e.do("POST", "/auth/login", "", "application/x-www-form-urlencoded", loginBody(email, pw)).Result()
	}

	for _, email := range []string{"victim@example.com", "ghost@example.com"} {
		for i := range 3 {
			if got := loginAs(email, "wrong password!").StatusCode; got != http.StatusUnauthorized {
				t.Fatalf("%s failure %d: got %d, want 401", email, i+1, got)
			}
		}
		counter.reset()
		resp := loginAs(email, "wrong password!")
		retry, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		if resp.StatusCode != http.StatusTooManyRequests || retry < 1 || retry > 300 {
			t.Fatalf("%s after 3 failures: got %d, Retry-After %q; want 429 within 5 minutes", email, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		if n := counter.verifies.Load() + counter.dummies.Load(); n != 0 {
			t.Fatalf("%s locked: %d password verifications, want none", email, n)
		}
	}
	if got := loginAs("VICTIM@example.com", testPassword).StatusCode; got != http.StatusTooManyRequests {
		t.Fatalf("right password while locked (other letter case): got %d, want 429", got)
	}
	if !strings.Contains(e.log.String(), `"event":"auth.login.throttled"`) {
		t.Error("the lockout was not logged")
	}

	e2 := newEnv(t, withLimits(ratelimit.NewMemory(100), ratelimit.Policy{}, ratelimit.Policy{}, ratelimit.Policy{}, lock))
	e2.register("resets@example.com", testPassword)
	for range 2 {
		wantStatus(t, e2.do("POST", "/auth/login", "", "application/x-www-form-urlencoded", loginBody("resets@example.com", "wrong password!")), http.StatusUnauthorized)
	}
	e2.login("resets@example.com", testPassword) // resets the count
	for range 2 {
		wantStatus(t, e2.do("POST", "/auth/login", "", "application/x-www-form-urlencoded", loginBody("resets@example.com", "wrong password!")), http.StatusUnauthorized)
	}
	e2.login("resets@example.com", testPassword) // would be locked had the first success not reset it
}

// TestBusyHashingAnswers503: when the Argon2id gate refuses, logins and registrations get 503 with
// Retry-After, not a hang and not a 500.
func TestBusyHashingAnswers503(t *testing.T) {
	h, err := password.NewHasher(testParams)
	if err != nil {
		t.Fatal(err)
	}
	gate := password.NewGate(1, 0, time.Second)
	e := newEnv(t, func(c *Config) { c.Passwords = password.NewGuarded(h, gate) })
	e.register("busy@example.com", testPassword)

	hold, started := make(chan struct{}), make(chan struct{})
	go func() { _ = gate.Do(context.Background(), func() { close(started); <-hold }) }()
	<-started
	defer close(hold)
	for _, rec := range []*http.Response{
		e.do("POST", "/auth/login", "", "application/x-www-form-urlencoded", loginBody("busy@example.com", testPassword)).Result(),
		e.do("POST", "/auth/login", "", "application/x-www-form-urlencoded", loginBody("nobody@example.com", testPassword)).Result(),
		e.doJSON("POST", "/auth/register", "", `{"email":"new@example.com","password":"`+testPassword+`"}`).Result(),
	} {
		if rec.StatusCode != http.StatusServiceUnavailable || rec.Header.Get("Retry-After") == "" {
			t.Fatalf("busy hashing: got %d, Retry-After %q; want 503 with Retry-After", rec.StatusCode, rec.Header.Get("Retry-After"))
		}
	}
}
