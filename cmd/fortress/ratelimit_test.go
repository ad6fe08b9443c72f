package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/fortress-dev/fortress/internal/redistest"
)

func status(t *testing.T, method, u, contentType, body string) *http.Response {
	t.Helper()
	return call(t, method, u, "", contentType, body, nil)
}

func TestLoginRateLimit(t *testing.T) {
	vars := baseEnv(t)
	vars["FORTRESS_LOGIN_RATE_LIMIT"] = "3/1m"
	s := startServe(t, vars)
	form := url.Values{"username": {"nobody@example.com"}, "password": {"wrong password!"}}.Encode()
	for i := range 3 {
		if resp := status(t, "POST", s.base+"/auth/login", "application/x-www-form-urlencoded", form); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("login %d: got %d, want 401", i+1, resp.StatusCode)
		}
	}
	resp := status(t, "POST", s.base+"/auth/login", "application/x-www-form-urlencoded", form)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("4th login: got %d, Retry-After %q; want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	policies := strings.Join(resp.Header.Values("RateLimit-Policy"), ", ")
	if !strings.Contains(policies, `"login";q=3;w=60`) || !strings.Contains(strings.Join(resp.Header.Values("RateLimit"), ","), `"login";r=0;`) {
		t.Fatalf("RateLimit headers: got policy %q, limit %q", policies, resp.Header.Values("RateLimit"))
	}
	// Other routes keep their own, larger budget.
	if resp := status(t, "GET", s.base+"/openapi.json", "", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("another route after the login budget is spent: got %d, want 200", resp.StatusCode)
	}
}

// TestReplicasShareOneBudgetThroughRedis runs two servers on one Redis: the budget is global, and it
// keeps being enforced per instance while Redis is down.
func TestReplicasShareOneBudgetThroughRedis(t *testing.T) {
	redis := redistest.Start(t)
	start := func() *served {
		vars := baseEnv(t)
		vars["REDIS_URL"] = redis.URL
		vars["FORTRESS_RATE_LIMIT"] = "6/1m"
		return startServe(t, vars)
	}
	a, b := start(), start()
	codes := func(base string, n int) (ok, limited int) {
		for range n {
			switch status(t, "GET", base+"/openapi.json", "", "").StatusCode {
			case http.StatusOK:
				ok++
			case http.StatusTooManyRequests:
				limited++
			default:
				t.Fatal("unexpected status")
			}
		}
		return ok, limited
	}
	okA, _ := codes(a.base, 4)
	okB, limitedB := codes(b.base, 4)
	if okA != 4 || okB != 2 || limitedB != 2 {
		t.Fatalf("two replicas, one budget of 6: got A %d ok, B %d ok %d limited; want 4, 2, 2", okA, okB, limitedB)
	}

	redis.Stop()
	okA, limitedA := codes(a.base, 8)
	if okA == 0 || limitedA == 0 {
		t.Fatalf("Redis down: got %d ok, %d limited; want the instance to keep serving under its own budget", okA, limitedA)
	}
	if n := strings.Count(a.log.String(), "rate limit store unavailable"); n > 1 {
		t.Errorf("outage logged %d times, want once", n)
	}
	if !strings.Contains(a.log.String(), `"level":"WARN"`) {
		t.Error("the outage was not logged")
	}
	if strings.Contains(a.log.String(), redis.URL) {
		t.Error("the log shows REDIS_URL")
	}
}
