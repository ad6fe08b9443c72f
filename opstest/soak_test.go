package opstest

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fortress-dev/fortress/internal/pgtest"
)

// Soak bounds: how much the server may grow between the end of the warm-up and the end of the run. A
// leak of one kilobyte per request at the default rate exceeds the RSS bound within ten minutes.
const (
	soakRSSGrowthMiB   = 16   // RSS may grow this much...
	soakRSSGrowthRatio = 0.25 // ...or this share of the warmed-up RSS, whichever is larger
	soakThreadGrowth   = 4    // OS threads
	soakGoroutines     = 20   // goroutines (the workload keeps 8 connections, each with its goroutines)
	// Open files grow with the pools as concurrency finds its level (up to 8 SQLite connections with
	// their database and WAL files, the client's keep-alive connections), so they get a ceiling rather
	// than a growth bound: a leak of one descriptor per thousand requests passes it within ten minutes.
	soakFDCeiling = 64
)

// TestSoak runs a steady mixed workload (reads, writes, updates, deletes, logins with logouts) against
// the real binary for SOAK_DURATION (make soak; 10 minutes by default there) and checks at the end that
// the process did not grow: resident memory (/proc/PID/status), goroutines (go_goroutines from the
// binary's own metrics listener, FORTRESS_METRICS_ADDR) and OS threads stay within the growth bounds
// above, open files under their ceiling, and not one request failed or answered 5xx.
//
// SOAK_RATE sets requests per second (default 50); SOAK_DATABASE=postgres runs it on PostgreSQL
// (internal/pgtest) instead of SQLite. Password hashing uses the production settings.
func TestSoak(t *testing.T) {
	raw := os.Getenv("SOAK_DURATION")
	if raw == "" {
		t.Skip("opstest: soak not run: set SOAK_DURATION (make soak runs 10m)")
	}
	duration, err := time.ParseDuration(raw)
	if err != nil || duration < 30*time.Second || duration > 24*time.Hour {
		t.Fatalf("SOAK_DURATION=%q: want a duration from 30s to 24h", raw)
	}
	rate := 50.0
	if s := os.Getenv("SOAK_RATE"); s != "" {
		if rate, err = strconv.ParseFloat(s, 64); err != nil || rate <= 0 || rate > 1000 {
			t.Fatalf("SOAK_RATE=%q: want requests per second from 1 to 1000", s)
		}
	}
	env := with(baseEnv(), "DATABASE_URL", "sqlite:"+filepath.Join(t.TempDir(), "fortress.db"))
	if os.Getenv("SOAK_DATABASE") == "postgres" {
		env = with(baseEnv(), "DATABASE_URL", pgtest.NewDatabase(t), "AUTO_MIGRATE", "true")
	}
	delete(env, "FORTRESS_ARGON2_MEMORY_KIB") // production cost: its memory is part of what is measured
	delete(env, "FORTRESS_ARGON2_TIME")
	env["FORTRESS_METRICS_ADDR"] = "127.0.0.1:0"

	p := startProc(t, "server", env)
	rec, ok := p.find("metrics listening")
	if !ok {
		t.Fatal(`the server did not log "metrics listening": no way to read its goroutines`)
	}
	metricsBase := "http://" + fmt.Sprint(rec["addr"])
	mc := newHTTPClient()
	defer mc.CloseIdleConnections()
	goroutines := func() int64 {
		t.Helper()
		ans := send(context.Background(), mc, metricsBase, request{method: "GET", path: "/metrics"})
		if ans.err != nil || ans.status != http.StatusOK {
			t.Fatalf("GET %s/metrics: %s", metricsBase, ans)
		}
		for _, line := range strings.Split(string(ans.body), "\n") {
			if v, ok := strings.CutPrefix(line, "go_goroutines "); ok {
				n, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err == nil {
					return int64(n)
				}
			}
		}
		t.Fatal("/metrics has no go_goroutines")
		return 0
	}
	a := newAPI(t, p.base())
	a.register("soak@example.com")
	a.register("soak-login@example.com")
	token := a.login("soak@example.com")
	var seed []int64
	for i := range 20 {
		seed = append(seed, a.createItem(token, fmt.Sprint("seed-", i)).ID)
	}

	l := &load{bases: []string{p.base()}, token: token, rate: rate, workers: 8, seedIDs: seed, email: "soak-login@example.com",
		mix: []op{opRead, opList, opCreate, opRead, opUpdate, opMe, opRead, opDelete, opList, opRead,
			opCreate, opRead, opMe, opUpdate, opRead, opList, opRead, opDelete, opRead, opLogin}}
	warmUp := max(20*time.Second, duration/5)
	type reading struct {
		at                          time.Duration
		rssKiB, threads, goroutines int64
		fds                         int
		requests, failed            int
	}
	var readings []reading
	sample := func(start time.Time) {
		rss, threads, err := procStatus(p.pid())
		if err != nil {
			t.Fatalf("reading /proc: %v", err)
		}
		fds, err := openFiles(p.pid())
		if err != nil {
			t.Fatalf("reading /proc: %v", err)
		}
		s := summarize(l.results())
		readings = append(readings, reading{time.Since(start).Round(time.Second), rss, threads, goroutines(), fds, s.total, len(s.failures)})
	}

	start := time.Now()
	l.start()
	defer l.stop()
	sample(start)
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for time.Since(start) < duration {
		select {
		case <-p.current().Done():
			t.Fatalf("the server exited during the soak: %v; log:\n%s", p.current().Err(), tail(p.lines(), 20))
		case <-tick.C:
			sample(start)
			if last := readings[len(readings)-1]; last.failed > 0 {
				s := summarize(l.results())
				t.Fatalf("after %s: %s;%s", last.at, s, describeFailures(s.failures, 10))
			}
		}
	}
	l.stop()
	sample(start)

	var base reading
	for _, r := range readings {
		if r.at >= warmUp {
			base = r
			break
		}
	}
	final := readings[len(readings)-1]
	peak := slices.MaxFunc(readings, func(a, b reading) int { return int(a.rssKiB - b.rssKiB) })
	for i, r := range readings {
		if i%12 == 0 || i == len(readings)-1 { // one line a minute
			t.Logf("at %6s: RSS %6.1f MiB, %3d goroutines, %2d threads, %2d open files, %6d requests",
				r.at, float64(r.rssKiB)/1024, r.goroutines, r.threads, r.fds, r.requests)
		}
	}

	s := summarize(l.results())
	codes := slices.Sorted(maps.Keys(s.byStatus))
	for _, c := range codes {
		if c != "200" && c != "201" && c != "204" {
			t.Errorf("%d answers with status %s, want only 200, 201 and 204", s.byStatus[c], c)
		}
	}
	allowedRSS := max(int64(soakRSSGrowthMiB)<<10, int64(float64(base.rssKiB)*soakRSSGrowthRatio))
	if growth := final.rssKiB - base.rssKiB; growth > allowedRSS {
		t.Errorf("RSS grew %d KiB from %s (%d KiB) to the end (%d KiB), want at most %d KiB", growth, base.at, base.rssKiB, final.rssKiB, allowedRSS)
	}
	if growth := final.goroutines - base.goroutines; growth > soakGoroutines {
		t.Errorf("goroutines grew from %d to %d, want at most +%d", base.goroutines, final.goroutines, soakGoroutines)
	}
	if growth := final.threads - base.threads; growth > soakThreadGrowth {
		t.Errorf("threads grew from %d to %d, want at most +%d", base.threads, final.threads, soakThreadGrowth)
	}
	if most := slices.MaxFunc(readings, func(a, b reading) int { return a.fds - b.fds }); most.fds > soakFDCeiling {
		t.Errorf("open files reached %d at %s, want at most %d", most.fds, most.at, soakFDCeiling)
	}
	ops := map[op]int{}
	for _, x := range l.results() {
		ops[x.op]++
	}
	var mix []string
	for _, o := range slices.Sorted(maps.Keys(ops)) {
		mix = append(mix, fmt.Sprintf("%s %d", o, ops[o]))
	}
	p.terminate(t)
	p.checkLog(t)
	figure(t, "soak of %s at %v req/s on %s: %s (%s); %d ticks dropped; after the %s warm-up RSS %.1f → %.1f MiB (peak %.1f, bound +%.1f), goroutines %d → %d (bound +%d), threads %d → %d (bound +%d), open files %d → %d (ceiling %d)",
		duration, rate, strings.SplitN(env["DATABASE_URL"], ":", 2)[0], s, strings.Join(mix, ", "), l.dropped, warmUp,
		float64(base.rssKiB)/1024, float64(final.rssKiB)/1024, float64(peak.rssKiB)/1024, float64(allowedRSS)/1024,
		base.goroutines, final.goroutines, soakGoroutines, base.threads, final.threads, soakThreadGrowth, base.fds, final.fds, soakFDCeiling)
}
