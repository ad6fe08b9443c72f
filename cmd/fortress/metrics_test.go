package main

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// scrape returns the exposition's sample lines by metric name.
func scrape(t *testing.T, base string) map[string][]string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: status %d", resp.StatusCode)
	}
	samples := map[string][]string{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, _, _ := strings.Cut(line, "{")
		name, _, _ = strings.Cut(name, " ")
		samples[name] = append(samples[name], line)
	}
	return samples
}

func hasSample(lines []string, parts ...string) bool {
	for _, l := range lines {
		all := true
		for _, p := range parts {
			all = all && strings.Contains(l, p)
		}
		if all {
			return true
		}
	}
	return false
}

// TestMetrics: the metrics are served on their own listener only, name routes by pattern, count security
// events and rate-limit refusals, and 10,000 distinct random paths add no series.
func TestMetrics(t *testing.T) {
	vars := baseEnv(t)
	vars["FORTRESS_METRICS_ADDR"] = "127.0.0.1:0"
	vars["FORTRESS_RATE_LIMIT"] = "off" // all 10,000 scanner requests reach the router
	s := startServe(t, vars)
	rec := s.log.waitFor(t, "metrics listening")
	metricsBase := "http://" + rec["addr"].(string)

	// Never on the public port.
	resp, err := http.Get(s.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /metrics on the API port: status %d, want 404", resp.StatusCode)
	}

	registerAndLogin(t, s.base, "m@example.com", "a long enough password")
	form := url.Values{"username": {"m@example.com"}, "password": {"wrong password, surely"}}.Encode()
	call(t, "POST", s.base+"/auth/login", "", "application/x-www-form-urlencoded", form, nil)
	// fortress_ready is current without any probe: serve checks readiness itself.
	if got := scrape(t, metricsBase)["fortress_ready"]; len(got) != 1 || got[0] != "fortress_ready 1" {
		t.Fatalf("fortress_ready before any probe: got %q, want 1", got)
	}
	call(t, "GET", s.base+"/readyz", "", "", "", nil)

	before := scrape(t, metricsBase)
	for _, want := range [][]string{
		{"fortress_http_requests_total", `route="/auth/register"`, `method="POST"`, `code="201"`},
		{"fortress_http_requests_total", `route="/auth/login"`, `code="401"`},
		{"fortress_http_request_duration_seconds_bucket", `route="/auth/login"`, `le="0.25"`},
		{"fortress_security_events_total", `event="auth.login.failure"`, `outcome="failure"`},
		{"fortress_security_events_total", `event="user.register"`},
		{"fortress_ready", " 1"},
		{"fortress_build_info", `goversion="go`},
		{"fortress_db_max_open_connections", " 8"},
		{"fortress_password_hash_queue_depth", " 0"},
		{"fortress_http_requests_in_flight"},
		{"go_goroutines"},
		{"process_resident_memory_bytes"},
	} {
		if !hasSample(before[want[0]], want[1:]...) {
			t.Errorf("metrics: no %s sample with %q; got %q", want[0], want[1:], before[want[0]])
		}
	}

	// Scanners cannot grow the series count: every unmatched path is one route label.
	client := &http.Client{}
	b := make([]byte, 8)
	for range 10_000 {
		_, _ = rand.Read(b)
		resp, err := client.Get(s.base + "/" + hex.EncodeToString(b) + "/x")
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	after := scrape(t, metricsBase)
	series := func(m map[string][]string) int {
		n := 0
		for name, lines := range m {
			if strings.HasPrefix(name, "fortress_http_") {
				n += len(lines)
			}
		}
		return n
	}
	// At most one new label set (route="unmatched", GET, 404): one counter, and the histogram's 14 buckets
	// (13 and +Inf), sum and count.
	if grown := series(after) - series(before); grown > 17 {
		t.Fatalf("10,000 random paths added %d series, want at most the 17 of one label set", grown)
	}
	// 10,000 and the GET /metrics on the API port above.
	if !hasSample(after["fortress_http_requests_total"], `route="unmatched"`, `code="404"`, " 10001") {
		t.Fatalf("unmatched requests: got %q", after["fortress_http_requests_total"])
	}
}
