package httpapi

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/fortress-dev/fortress/ratelimit"
)

// BenchmarkRateLimitReject measures how fast the server answers a client that is over its budget:
// the whole middleware chain, the in-memory limiter and the 429 problem.
func BenchmarkRateLimitReject(b *testing.B) {
	e := newEnv(b, withLimits(ratelimit.NewMemory(1000), ratelimit.Policy{Name: "default", Limit: 1, Window: time.Hour},
		ratelimit.Policy{}, ratelimit.Policy{}, ratelimit.Policy{}))
	req := newRequest("GET", "/items/", "", "")
	req.RemoteAddr = "198.51.100.9:1000"
	e.srv.ServeHTTP(httptest.NewRecorder(), req) // spends the budget
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		e.srv.ServeHTTP(rec, req)
		if rec.Code != http.StatusTooManyRequests {
			b.Fatalf("got %d, want 429", rec.Code)
		}
	}
}
