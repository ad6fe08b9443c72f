package opstest

import (
	"cmp"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fortress-dev/fortress/internal/pgtest"
	"github.com/fortress-dev/fortress/internal/redistest"
)

// TestKillDuringWrites kills the server with SIGKILL while item writes are in flight, starts it again
// on the same database and checks that every write it had answered 201 is there: an acknowledgement
// means the write is durable, whatever happens to the process next.
func TestKillDuringWrites(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "fortress.db")
		killDuringWrites(t, with(baseEnv(), "DATABASE_URL", "sqlite:"+path))
		integrityCheck(t, path)
	})
	t.Run("postgres", func(t *testing.T) {
		killDuringWrites(t, with(baseEnv(), "DATABASE_URL", pgtest.NewDatabase(t), "AUTO_MIGRATE", "true"))
	})
}

func killDuringWrites(t *testing.T, env map[string]string) {
	p := startProc(t, "server", env)
	a := newAPI(t, p.base())
	a.register("writer@example.com")
	token := a.login("writer@example.com")
	seed := a.createItem(token, "seed")

	l := &load{bases: []string{p.base()}, token: token, rate: 400, workers: 8, seedIDs: []int64{seed.ID}, mix: []op{opCreate}}
	l.start()
	deadline := time.Now().Add(20 * time.Second)
	for len(l.ackedItems()) < 150 {
		if time.Now().After(deadline) {
			l.stop()
			t.Fatalf("only %d writes acknowledged in 20s", len(l.ackedItems()))
		}
		time.Sleep(5 * time.Millisecond)
	}
	p.kill(t) // in the middle of the writes: 8 workers have requests in flight
	l.stop()
	acked := l.ackedItems()
	s := summarize(l.results())
	inFlight := s.byStatus["error"] // requests the kill cut off, or that found the port closed

	p.start(t) // same address, same database
	a.checkItems(token, acked)
	all := a.listItems(token)
	extra := len(all) - 1 - len(acked) // committed, but the answer died with the process
	if extra < 0 {
		t.Fatalf("the database holds %d items, fewer than the %d acknowledged", len(all)-1, len(acked))
	}
	a.createItem(token, "after the restart") // and it takes writes again
	p.terminate(t)
	p.checkLog(t)
	figure(t, "kill -9 during writes: %d acknowledged (201), all %d present after the restart; %d requests cut off or refused; %d items committed without an answer",
		len(acked), len(acked), inFlight, extra)
}

// TestPostgresOutage stops PostgreSQL under load for a few seconds: the server must answer 503 problems
// quickly (not hang), report not ready, never answer 500, and recover by itself once the database is
// back, without a restart; and nothing it acknowledged may be lost.
func TestPostgresOutage(t *testing.T) {
	binary(t)
	cluster := startPGCluster(t)
	dbURL := cluster.createDatabase("fortress")
	p := startProc(t, "server", with(baseEnv(), "DATABASE_URL", dbURL, "AUTO_MIGRATE", "true"))
	a := newAPI(t, p.base())
	a.register("ops@example.com")
	token := a.login("ops@example.com")
	var seed []int64
	for i := range 3 {
		seed = append(seed, a.createItem(token, fmt.Sprint("seed-", i)).ID)
	}

	l := &load{bases: []string{p.base()}, token: token, rate: 60, workers: 6, seedIDs: seed,
		mix: []op{opCreate, opRead, opList, opMe}}
	l.start()
	defer l.stop() // stop may run twice: the second time waits for nothing
	for len(l.results()) < 30 {
		time.Sleep(10 * time.Millisecond)
	}

	stopping := time.Now()
	cluster.stop()
	down := time.Now()

	// Readiness turns 503 at once, and writes get the contract's 503 problem.
	var readyDown time.Duration
	for {
		ans := a.do(request{method: "GET", path: "/readyz"})
		if ans.status == http.StatusServiceUnavailable {
			readyDown = time.Since(down)
			break
		}
		if time.Since(down) > 5*time.Second {
			t.Fatalf("/readyz still %s 5s after PostgreSQL stopped", ans)
		}
		time.Sleep(10 * time.Millisecond)
	}
	ans := a.do(request{method: "POST", path: "/items/", token: token, json: map[string]string{"name": "during the outage"}})
	checkUnavailable(t, ans)

	const outage = 3 * time.Second
	time.Sleep(time.Until(down.Add(outage))) // the fault's duration, under load; nothing is awaited here
	restarting := time.Now()
	cluster.start()
	back := time.Now()

	// Recovery: the first write answered 201 after PostgreSQL accepts connections again, and /readyz 200.
	var recovered, readyUp time.Duration
	for recovered == 0 || readyUp == 0 {
		if recovered == 0 {
			w := a.do(request{method: "POST", path: "/items/", token: token, json: map[string]string{"name": "after the outage"}})
			if w.status == http.StatusCreated {
				recovered = time.Since(back)
			}
		}
		if readyUp == 0 && a.do(request{method: "GET", path: "/readyz"}).status == http.StatusOK {
			readyUp = time.Since(back)
		}
		if time.Since(back) > 5*time.Second {
			t.Fatalf("not recovered 5s after PostgreSQL came back (write %v, ready %v); log:\n%s", recovered, readyUp, tail(p.lines(), 20))
		}
		time.Sleep(10 * time.Millisecond)
	}
	settle := time.Now()
	for len(l.results()) < 30 || time.Since(settle) < 500*time.Millisecond {
		time.Sleep(10 * time.Millisecond)
	}
	l.stop()

	var during, after []sample
	for _, s := range l.results() {
		switch {
		case s.sent.After(down) && s.sent.Add(s.latency).Before(restarting):
			during = append(during, s)
		case s.sent.After(back.Add(recovered)):
			after = append(after, s)
		}
	}
	ds, as := summarize(during), summarize(after)
	if len(during) < 50 {
		t.Errorf("only %d requests during the %s outage: the load did not run", len(during), outage)
	}
	for k, n := range ds.byStatus {
		if k != "503" {
			t.Errorf("during the outage: %d answers %s, want every one 503 (%s)", n, k, ds)
		}
	}
	slowest := slices.MaxFunc(during, func(a, b sample) int { return cmp.Compare(a.latency, b.latency) })
	t.Logf("slowest answer during the outage: %s %d after %s, sent %s after the stop", slowest.op, slowest.status, slowest.latency, slowest.sent.Sub(down))
	if ds.max > time.Second {
		t.Errorf("during the outage the slowest answer took %s, want 503s within 1s, not a hang", ds.max)
	}
	if len(as.failures) > 0 {
		t.Errorf("after recovery: %s;%s", as, describeFailures(as.failures, 5))
	}
	all := summarize(l.results())
	if all.byStatus["500"] > 0 || all.byStatus["error"] > 0 {
		t.Errorf("whole run: %s; want no 500 and no transport error", all)
	}
	acked := l.ackedItems()
	a.checkItems(token, acked)
	figure(t, "PostgreSQL stopped (fast shutdown took %s) for %s under ~%v req/s: %d requests during the outage, %s; /readyz 503 after %s; "+
		"after PostgreSQL accepted connections again: first write 201 after %s, /readyz 200 after %s, no restart; %d acknowledged writes all present",
		down.Sub(stopping).Round(time.Millisecond), outage, l.rate, len(during), ds, readyDown.Round(time.Millisecond),
		recovered.Round(time.Millisecond), readyUp.Round(time.Millisecond), len(acked))

	postgresHang(t, cluster, p, a, token, seed)
	p.checkLog(t)
}

// postgresHang freezes PostgreSQL (every process stopped, connections left open) for longer than the
// statement timeout under load: requests must end with 503 within the bound (postgres.
// DefaultStatementTimeout, 5s, for a statement, and as much again for a wait for a free connection),
// /readyz must turn 503, and service must resume by itself when the server thaws.
func postgresHang(t *testing.T, cluster *pgCluster, p *proc, a *api, token string, seed []int64) {
	const (
		hang  = 7 * time.Second
		bound = 11 * time.Second
	)
	l := &load{bases: []string{p.base()}, token: token, rate: 30, workers: 30, seedIDs: seed,
		mix: []op{opCreate, opRead, opList, opMe}}
	l.start()
	defer l.stop()
	for len(l.results()) < 20 {
		time.Sleep(10 * time.Millisecond)
	}
	thaw := cluster.freeze()
	frozen := time.Now()
	ready := a.do(request{method: "GET", path: "/readyz"})
	if ready.status != http.StatusServiceUnavailable {
		t.Errorf("/readyz with PostgreSQL hung: got %s, want 503", ready)
	}
	time.Sleep(time.Until(frozen.Add(hang))) // the fault's duration, under load; nothing is awaited here
	thawing := time.Now()
	thaw()
	var recovered time.Duration
	for {
		w := a.do(request{method: "POST", path: "/items/", token: token, json: map[string]string{"name": "after the hang"}})
		if w.status == http.StatusCreated {
			recovered = time.Since(thawing)
			break
		}
		if time.Since(thawing) > 5*time.Second {
			t.Fatalf("not recovered 5s after PostgreSQL thawed: %s", w)
		}
		time.Sleep(10 * time.Millisecond)
	}
	l.stop()

	var during []sample
	for _, s := range l.results() {
		if s.sent.After(frozen) && s.sent.Add(s.latency).Before(thawing) {
			during = append(during, s)
		}
	}
	ds := summarize(during)
	if len(during) < 10 {
		t.Errorf("only %d requests ended during the %s hang", len(during), hang)
	}
	for k, n := range ds.byStatus {
		if k != "503" {
			t.Errorf("during the hang: %d answers %s, want 503 (%s)", n, k, ds)
		}
	}
	if ds.max > bound {
		t.Errorf("during the hang the slowest answer took %s, want at most %s", ds.max, bound)
	}
	all := summarize(l.results())
	if all.byStatus["500"] > 0 || all.byStatus["error"] > 0 {
		t.Errorf("hang: %s; want no 500 and no transport error", all)
	}
	a.checkItems(token, l.ackedItems())
	figure(t, "PostgreSQL hung (SIGSTOP, connections open) for %s under ~%v req/s: %d requests ended during the hang, %s; /readyz answered %d after %s; first write 201 %s after the thaw, no restart",
		hang, l.rate, len(during), ds, ready.status, ready.latency.Round(time.Millisecond), recovered.Round(time.Millisecond))
}

// TestRedisOutage stops Redis under load with two replicas sharing it: requests keep succeeding, the
// rate limits fall back to each instance's own budget, and when Redis is back the replicas share one
// budget again by themselves.
func TestRedisOutage(t *testing.T) {
	binary(t)
	redis := redistest.Start(t)
	const budget = 4
	env := with(baseEnv(),
		"DATABASE_URL", pgtest.NewDatabase(t),
		"AUTO_MIGRATE", "true",
		"REDIS_URL", redis.URL,
		"FORTRESS_TRUSTED_PROXIES", "127.0.0.1/32",
		"FORTRESS_RATE_LIMIT", "100000/1m",
		"FORTRESS_LOGIN_RATE_LIMIT", fmt.Sprintf("%d/1h", budget),
	)
	r1 := startProc(t, "replica-1", env)
	r2 := startProc(t, "replica-2", env)
	a1, a2 := newAPI(t, r1.base()), newAPI(t, r2.base())
	a1.register("limited@example.com")
	token := a1.login("limited@example.com")
	seed := []int64{a2.createItem(token, "seed").ID}

	var client atomic.Int32
	// logins sends n logins for a client address of its own, in turn to the given replicas, and counts
	// the 200s.
	logins := func(n int, replicas ...*api) int {
		t.Helper()
		ip := fmt.Sprintf("203.0.113.%d", 10+client.Add(1))
		ok := 0
		for i := range n {
			r := loginRequest("limited@example.com")
			r.header = http.Header{"X-Forwarded-For": {ip}}
			ans := replicas[i%len(replicas)].do(r)
			switch ans.status {
			case http.StatusOK:
				ok++
			case http.StatusTooManyRequests:
			default:
				t.Fatalf("login %d: got %s, want 200 or 429", i, ans)
			}
		}
		return ok
	}

	// limiterLog lists what the replicas logged about the limiter, to tell a slow Redis (a fall back to
	// per-instance budgets after the 200ms timeout, by design) from a wrong count.
	limiterLog := func() []string {
		var out []string
		for _, r := range []*proc{r1, r2} {
			for _, line := range r.lines() {
				if strings.Contains(line, "rate limiter") {
					out = append(out, r.name+": "+line)
				}
			}
		}
		return out
	}
	if got := logins(budget+2, a1, a2); got != budget {
		t.Fatalf("Redis up: %d of %d logins over two replicas succeeded, want the shared budget %d; limiter log: %v", got, budget+2, budget, limiterLog())
	}

	l := &load{bases: []string{r1.base(), r2.base()}, token: token, rate: 60, workers: 6, seedIDs: seed,
		mix: []op{opRead, opCreate, opList, opMe}}
	l.start()
	defer l.stop() // stop may run twice: the second time waits for nothing
	for len(l.results()) < 30 {
		time.Sleep(10 * time.Millisecond)
	}

	redis.Stop()
	down := time.Now()
	// Each instance now limits on its own: one client gets the budget on each replica.
	on1 := logins(budget+2, a1)
	on2 := logins(budget+2, a2)
	if on1 != budget || on2 != budget {
		t.Errorf("Redis down: one client's logins succeeded %d times on replica 1 and %d on replica 2, want %d on each (per-instance budgets)",
			on1, on2, budget)
	}
	time.Sleep(time.Until(down.Add(2 * time.Second))) // the fault's duration, under load; nothing is awaited here
	redis.Restart()
	back := time.Now()

	var recovered time.Duration
	for _, r := range []*proc{r1, r2} {
		r.waitLog(t, 5*time.Second, "of the rate limiter's recovery", func(rec map[string]any) bool {
			return strings.HasPrefix(fmt.Sprint(rec["msg"]), "rate limiter: primary store recovered")
		})
		recovered = max(recovered, time.Since(back))
	}
	if got := logins(budget+2, a1, a2); got != budget {
		t.Errorf("Redis back: %d of %d logins over two replicas succeeded, want the shared budget %d again; limiter log: %v", got, budget+2, budget, limiterLog())
	}
	l.stop()

	var during []sample
	for _, s := range l.results() {
		if s.sent.After(down) && s.sent.Before(back) {
			during = append(during, s)
		}
	}
	ds, all := summarize(during), summarize(l.results())
	if len(all.failures) > 0 || len(during) < 30 {
		t.Errorf("load across the Redis outage: %s (%d during the outage);%s", all, len(during), describeFailures(all.failures, 5))
	}
	for _, r := range []*proc{r1, r2} {
		if n := strings.Count(strings.Join(r.lines(), "\n"), "rate limiter: primary store failing"); n != 1 {
			t.Errorf("%s logged the outage %d times, want once; limiter log: %v", r.name, n, limiterLog())
		}
		r.checkLog(t)
	}
	a1.checkItems(token, l.ackedItems())
	figure(t, "Redis stopped for %s under ~%v req/s over 2 replicas: %d requests during the outage, %s; per-instance budgets: %d and %d logins of one client allowed (budget %d each); "+
		"sharing resumed by itself on both replicas within %s of Redis's return (shared budget %d enforced again)",
		back.Sub(down).Round(time.Millisecond), l.rate, len(during), ds, on1, on2, budget, recovered.Round(time.Millisecond), budget)
}
