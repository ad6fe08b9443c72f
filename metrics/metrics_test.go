package metrics_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fortress-dev/fortress/metrics"
)

// exercised is a Metrics whose every series exists: each method called once.
func exercised(t *testing.T) *metrics.Metrics {
	t.Helper()
	m := metrics.New(metrics.Build{Version: "v1.2.3", Revision: "abc123", GoVersion: "go1.26.8"})
	m.WatchHashing(func() metrics.HashStats { return metrics.HashStats{InFlight: 1, Waiting: 2} })
	m.WatchPool(func() metrics.PoolStats {
		return metrics.PoolStats{Open: 3, InUse: 1, Idle: 2, MaxOpen: 8, WaitCount: 5, WaitDuration: 1500 * time.Millisecond}
	})
	m.RequestStarted()
	m.RequestDone("/items/{item_id}", "GET", 200, 3*time.Millisecond)
	m.RequestStarted()
	m.RequestDone("", "BREW", 404, time.Millisecond)
	m.SecurityEvent("auth.login.failure", "failure")
	m.RateLimited("login")
	m.Ready(true)
	m.HashWaited(20 * time.Millisecond)
	m.HashRejected()
	return m
}

func exposition(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

func TestExposition(t *testing.T) {
	out := exposition(t, exercised(t))
	for _, want := range []string{
		`fortress_http_requests_total{code="200",method="GET",route="/items/{item_id}"} 1`,
		`fortress_http_requests_total{code="404",method="OTHER",route="unmatched"} 1`, // bounded method and route
		`fortress_http_request_duration_seconds_bucket{method="GET",route="/items/{item_id}",le="0.005"} 1`,
		`fortress_http_requests_in_flight 0`,
		`fortress_security_events_total{event="auth.login.failure",outcome="failure"} 1`,
		`fortress_rate_limited_total{policy="login"} 1`,
		`fortress_ready 1`,
		`fortress_password_hash_in_flight 1`,
		`fortress_password_hash_queue_depth 2`,
		`fortress_password_hash_wait_seconds_count 1`,
		`fortress_password_hash_rejected_total 1`,
		`fortress_db_open_connections 3`,
		`fortress_db_max_open_connections 8`,
		`fortress_db_wait_total 5`,
		`fortress_db_wait_seconds_total 1.5`,
		`fortress_build_info{goversion="go1.26.8",revision="abc123",version="v1.2.3"} 1`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("exposition lacks %s", want)
		}
	}
}

// TestMonitoringKnowsEveryMetric: tools/deploycheck checks the alert rules and the dashboard against its
// own list of the server's metrics (it is a separate module and cannot import this one). This test closes
// the loop: that list names exactly the fortress_* metrics registered here, with the same types.
func TestMonitoringKnowsEveryMetric(t *testing.T) {
	src, err := os.ReadFile("../tools/deploycheck/promql.go")
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]string{}
	for _, m := range regexp.MustCompile(`"(fortress_[a-z_]+)":\s*\{kind: "([a-z]+)"`).FindAllStringSubmatch(string(src), -1) {
		listed[m[1]] = m[2]
	}
	served := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^# TYPE (fortress_[a-z_]+) ([a-z]+)$`).FindAllStringSubmatch(exposition(t, exercised(t)), -1) {
		served[m[1]] = m[2]
	}
	if len(served) == 0 || len(listed) == 0 {
		t.Fatalf("found %d served and %d listed metrics, want both read", len(served), len(listed))
	}
	for name, kind := range served {
		if listed[name] != kind {
			t.Errorf("%s (%s) is served, but tools/deploycheck/promql.go lists it as %q", name, kind, listed[name])
		}
	}
	for name := range listed {
		if _, ok := served[name]; !ok {
			t.Errorf("tools/deploycheck/promql.go lists %s, which the server does not expose", name)
		}
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for n := range served {
			if !yield(n) {
				return
			}
		}
	})
	t.Logf("%d fortress_* metrics: %s", len(names), strings.Join(names, " "))
}
