package opstest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fortress-dev/fortress/internal/pgtest"
	"github.com/fortress-dev/fortress/internal/redistest"
)

// loginBudget is the login rate limit of the replica test: per client, per hour, so that nothing refills
// during the test and "N allowed" is exact.
const loginBudget = 12

// TestReplicasBehindCaddy runs three `fortress serve` processes on one PostgreSQL database and one Redis,
// behind Caddy, and shows what a scaled deployment relies on: migrations applied once when every replica
// starts at once, sessions valid on every replica (no sticky sessions), a logout honoured by the others
// at once, client addresses taken from the load balancer only, one rate-limit budget across replicas, and
// a rolling restart under load in which no request fails at a replica, none is answered 5xx and nothing
// acknowledged is lost.
func TestReplicasBehindCaddy(t *testing.T) {
	binary(t) // build first, so that nothing below measures the compiler
	dbURL := pgtest.NewDatabase(t)
	redis := redistest.Start(t)
	env := with(baseEnv(),
		"DATABASE_URL", dbURL,
		"AUTO_MIGRATE", "true",
		"REDIS_URL", redis.URL,
		"FORTRESS_TRUSTED_PROXIES", "127.0.0.1/32",
		"ALLOWED_HOSTS", "127.0.0.1",
		"FORTRESS_RATE_LIMIT", "100000/1m",
		"FORTRESS_LOGIN_RATE_LIMIT", fmt.Sprintf("%d/1h", loginBudget),
		// After SIGTERM, serve on unready for longer than Caddy's health checks take to notice.
		"FORTRESS_SHUTDOWN_DELAY", "1s",
	)

	// Three replicas started at once on an empty database, each with AUTO_MIGRATE=true.
	replicas := make([]*proc, 3)
	for i := range replicas {
		replicas[i] = newProc(t, fmt.Sprintf("replica-%d", i), env)
	}
	launched := time.Now()
	for _, r := range replicas {
		r.launch(t)
	}
	spread := time.Since(launched)
	for _, r := range replicas {
		r.started(t)
	}
	upstreams := make([]string, len(replicas))
	for i, r := range replicas {
		upstreams[i] = r.hostPort()
	}
	lb := startCaddy(t, upstreams)

	t.Run("migrations applied exactly once", func(t *testing.T) {
		migrateOnce(t, dbURL, replicas, spread)
	})

	front := lb.api(t)
	direct := make([]*api, len(replicas))
	for i, r := range replicas {
		direct[i] = newAPI(t, r.base())
	}
	front.register("alice@example.com")
	front.register("bob@example.com")

	t.Run("a session works on every replica", func(t *testing.T) {
		token := direct[0].login("alice@example.com")
		it := direct[1].createItem(token, "made on replica 1")
		for i, a := range direct {
			var got item
			a.expect(request{method: "GET", path: fmt.Sprintf("/items/%d", it.ID), token: token}, http.StatusOK, &got)
			if got.Name != it.Name {
				t.Errorf("replica %d: item %d is %q, want %q", i, it.ID, got.Name, it.Name)
			}
		}
		// And through the load balancer, whichever replica answers: several requests in a row.
		for range 6 {
			front.expect(request{method: "GET", path: "/auth/me", token: token}, http.StatusOK, nil)
		}
	})

	t.Run("logout through one replica is honoured by the others", func(t *testing.T) {
		logoutEverywhere(t, direct)
	})

	t.Run("client address comes from the load balancer", func(t *testing.T) {
		clientAddress(t, front, replicas)
	})

	t.Run("the rate limit is one budget across replicas", func(t *testing.T) {
		globalRateLimit(t, direct, replicas)
	})

	t.Run("rolling restart under load", func(t *testing.T) {
		rollingRestart(t, lb, front, replicas)
	})

	for _, r := range replicas {
		r.checkLog(t)
	}
}

// migrateOnce checks goose's table (each version recorded once) and the logs (one process applied
// every migration; the others found nothing to do).
func migrateOnce(t *testing.T, dbURL string, replicas []*proc, spread time.Duration) {
	files, err := filepath.Glob(filepath.Join("..", "postgres", "migrations", "*.sql"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations found in ../postgres/migrations (%v)", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT version_id, count(*) FROM schema_migrations WHERE version_id > 0 GROUP BY version_id ORDER BY version_id`)
	if err != nil {
		t.Fatal(err)
	}
	recorded := map[int64]int64{}
	for rows.Next() {
		var v, n int64
		if err := rows.Scan(&v, &n); err != nil {
			t.Fatal(err)
		}
		recorded[v] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(recorded) != len(files) {
		t.Errorf("schema_migrations records %d versions, want the %d migrations of the binary", len(recorded), len(files))
	}
	for v, n := range recorded {
		if n != 1 {
			t.Errorf("migration %d recorded %d times, want once", v, n)
		}
	}

	var appliers []string
	var applied []any
	for _, r := range replicas {
		recs := r.records("migrations applied")
		if len(recs) > 0 {
			appliers = append(appliers, r.name)
			applied, _ = recs[0]["versions"].([]any)
		}
	}
	if len(appliers) != 1 {
		t.Fatalf("processes that logged \"migrations applied\": %v, want exactly one", appliers)
	}
	if len(applied) != len(files) {
		t.Errorf("%s applied versions %v, want all %d", appliers[0], applied, len(files))
	}
	figure(t, "3 replicas launched within %s on an empty database: %d migrations, each recorded once in schema_migrations, all applied by %s; the other two applied none",
		spread.Round(time.Millisecond), len(files), appliers[0])
}

// logoutEverywhere ends a session through replica 0 and measures how long the other replicas accept its
// token afterwards: nothing is cached, so the very next request must be refused.
func logoutEverywhere(t *testing.T, direct []*api) {
	token := direct[0].login("bob@example.com")
	me := request{method: "GET", path: "/auth/me", token: token}
	for _, a := range direct {
		a.expect(me, http.StatusOK, nil) // the session works everywhere before the logout
	}
	direct[0].expect(request{method: "POST", path: "/auth/logout", token: token}, http.StatusNoContent, nil)
	loggedOut := time.Now()

	var worst time.Duration
	for i, a := range direct[1:] {
		stale := 0
		for {
			ans := a.do(me)
			if ans.status == http.StatusUnauthorized {
				break
			}
			if ans.status != http.StatusOK {
				t.Fatalf("replica %d after logout: got %s, want 401 (or 200 while stale)", i+1, ans)
			}
			stale++
			if time.Since(loggedOut) > time.Second {
				t.Fatalf("replica %d still accepts the token 1s after the logout (%d requests accepted)", i+1, stale)
			}
		}
		if stale > 0 {
			t.Errorf("replica %d accepted the logged-out token %d more times, want 0: every request checks the session", i+1, stale)
		}
		worst = max(worst, time.Since(loggedOut))
	}
	figure(t, "logout through replica 0: the first request to each other replica was already refused 401; all refused within %s of the logout answer, 0 stale acceptances",
		worst.Round(time.Microsecond))
}

// clientAddress shows that through Caddy the replicas see the client's address from X-Forwarded-For and
// cannot be lied to by a client that sends its own X-Forwarded-For.
func clientAddress(t *testing.T, front *api, replicas []*proc) {
	const spoofed = "198.51.100.77"
	before := 0
	for _, r := range replicas {
		before += len(r.records("request"))
	}
	for range 3 {
		front.expect(request{method: "GET", path: "/health", header: http.Header{"X-Forwarded-For": {spoofed}}}, http.StatusOK, nil)
	}
	var ips []string
	deadline := time.Now().Add(5 * time.Second)
	for len(ips) < 3 && time.Now().Before(deadline) {
		ips = ips[:0]
		for _, r := range replicas {
			for _, rec := range r.records("request") {
				if rec["path"] == "/health" {
					ips = append(ips, fmt.Sprint(rec["client_ip"]))
				}
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(ips) < 3 {
		t.Fatalf("access log lines of the 3 proxied /health requests: %d found", len(ips))
	}
	for _, ip := range ips {
		if ip != "127.0.0.1" {
			t.Errorf("client_ip %q logged for a request through Caddy, want 127.0.0.1 (Caddy's X-Forwarded-For; the client's %s ignored)", ip, spoofed)
		}
	}
}

// globalRateLimit sends loginBudget+k logins for one client, in turn to each replica: the first
// loginBudget succeed and the rest get 429, although each replica has itself allowed only a third of the
// budget; per-instance budgets would have allowed them all. (One after the other rather than at once:
// on a starved machine a Redis answer slower than the limiter's 200ms timeout makes a replica fall back
// to its own budget, by design, which would make the count depend on the machine's load.)
func globalRateLimit(t *testing.T, direct []*api, replicas []*proc) {
	const extra = 6
	// A client of its own: replicas trust 127.0.0.1 as a proxy, so this address is the client's.
	hdr := http.Header{"X-Forwarded-For": {"203.0.113.50"}}
	codes := make([]int, loginBudget+extra)
	perReplica := make([]int, len(direct))
	for i := range codes {
		r := loginRequest("alice@example.com")
		r.header = hdr
		ans := direct[i%len(direct)].do(r)
		codes[i] = ans.status
		switch {
		case ans.status == http.StatusOK && i < loginBudget:
			perReplica[i%len(direct)]++
		case ans.status == http.StatusTooManyRequests && i >= loginBudget:
			if !strings.Contains(strings.Join(ans.header.Values("RateLimit-Policy"), ","), `"login"`) {
				t.Errorf("login %d: 429 without the login policy in RateLimit-Policy: %v", i+1, ans.header.Values("RateLimit-Policy"))
			}
		default:
			var fallback []string
			for _, rp := range replicas {
				for _, line := range rp.lines() {
					if strings.Contains(line, "rate limiter") {
						fallback = append(fallback, rp.name+": "+line)
					}
				}
			}
			t.Fatalf("login %d of %d (replica %d), budget %d across replicas: got %s; statuses so far %v; limiter log lines: %v",
				i+1, len(codes), i%len(direct), loginBudget, ans, codes[:i+1], fallback)
		}
	}
	figure(t, "budget %d/h per client, %d logins in turn over 3 replicas: the first %d succeeded (per replica %v), the last %d answered 429",
		loginBudget, len(codes), loginBudget, perReplica, extra)
}

// rollingRestart restarts each replica in turn under a steady client load through Caddy and counts
// every answer. The procedure, which docs/operations.md gives: take the replica out of Caddy's
// configuration, wait until the requests Caddy's old configuration was serving are done, SIGTERM, wait
// for the exit (status 0), start it again, wait for its /readyz, put it back, wait until it serves load
// again, next. No request may fail at a replica or come back 5xx, and every acknowledged write must be
// there afterwards.
//
// What the server cannot help: Caddy 2.6 reloading its configuration ends the old configuration's client
// connections, and a POST or DELETE that a keep-alive client sends on such a connection at that instant
// fails with EOF at the client, which may resend only idempotent requests (measured: about one request
// in a third of the runs on a loaded machine). Those failures are counted and must each fall within a
// reload; the server change that removes the reloads altogether (keep serving while draining) is in
// docs/operations.md; by default the restart runs without reloads, strictly (FORTRESS_SHUTDOWN_DELAY).
func rollingRestart(t *testing.T, c *caddy, front *api, replicas []*proc) {
	token := front.login("alice@example.com")
	var seed []int64
	for i := range 5 {
		seed = append(seed, front.createItem(token, fmt.Sprintf("seed-%d", i)).ID)
	}
	// The restart is SIGTERM alone: the replica keeps serving, unready, for FORTRESS_SHUTDOWN_DELAY, so
	// Caddy's health checks take it out before its listener closes, and not one request may fail.
	// OPSTEST_ROLLING=reload instead takes each replica out of Caddy's configuration first (a load
	// balancer's deregistration), where Caddy 2.6's reloads may drop a connection (counted, see above).
	plain := os.Getenv("OPSTEST_ROLLING") != "reload"
	l := &load{bases: []string{c.base}, hc: c.client(), token: token, rate: 80, workers: 8, seedIDs: seed,
		mix: []op{opRead, opCreate, opList, opUpdate, opRead, opCreate, opMe, opDelete}}
	l.start()
	defer l.stop()

	waitServed := func(r *proc, n int) { // wait until the replica has served n load requests in this run
		r.waitLog(t, 10*time.Second, fmt.Sprintf("of %d load requests", n), func(map[string]any) bool {
			count := 0
			for _, rec := range r.records("request") {
				if p, _ := rec["path"].(string); strings.HasPrefix(p, "/items") {
					count++
				}
			}
			return count >= n
		})
	}
	for _, r := range replicas {
		waitServed(r, 10)
	}
	all := make([]string, len(replicas))
	for i, r := range replicas {
		all[i] = r.hostPort()
	}
	var reloads [][2]time.Time // when each configuration reload began and ended
	reload := func(upstreams []string) {
		begin := time.Now()
		c.setUpstreams(t, upstreams)
		reloads = append(reloads, [2]time.Time{begin, time.Now()})
	}
	started := time.Now()
	var downtimes []time.Duration
	for i, r := range replicas {
		begin := time.Now()
		if !plain {
			// Caddy's reload returns while its old configuration still serves the requests it had, and
			// may send one to this replica later: wait until the client connections it was serving are
			// gone, as a load balancer's deregistration delay does.
			before := established(t, c.port)
			reload(slices.Delete(slices.Clone(all), i, i+1))
			waitDrained(t, c.port, before, 10*time.Second)
		}
		r.terminate(t)
		if _, ok := r.find("shutting down"); !ok {
			t.Errorf("%s exited without logging its drain", r.name)
		}
		r.start(t)
		ready := newAPI(t, r.base())
		ready.expect(request{method: "GET", path: "/readyz"}, http.StatusOK, nil)
		if !plain {
			reload(all)
		}
		waitServed(r, 15) // back in Caddy's rotation
		downtimes = append(downtimes, time.Since(begin))
	}
	waitServed(replicas[0], 30)
	l.stop()
	elapsed := time.Since(started)

	s := summarize(l.results())
	var atReload []sample
	for _, f := range s.failures {
		during := f.err != nil && slices.ContainsFunc(reloads, func(w [2]time.Time) bool {
			return !f.sent.Before(w[0].Add(-50*time.Millisecond)) && f.sent.Before(w[1].Add(500*time.Millisecond))
		})
		if during && !plain {
			atReload = append(atReload, f)
			continue
		}
		t.Errorf("rolling restart: a request failed outside any load balancer reload:%s", describeFailures([]sample{f}, 1))
	}
	for k, n := range s.byStatus {
		if k != "200" && k != "201" && k != "204" && k != "error" {
			t.Errorf("rolling restart: %d answers with status %s, want only 200, 201 and 204 (%s)", n, k, s)
		}
	}
	for _, r := range replicas {
		for _, rec := range r.records("request") {
			if st, _ := rec["status"].(float64); st >= 500 {
				t.Errorf("%s answered %v to %v %v", r.name, st, rec["method"], rec["path"])
			}
		}
	}
	if s.total < 100 {
		t.Errorf("rolling restart: only %d requests in %s: the load did not run", s.total, elapsed)
	}
	acked := l.ackedItems()
	front.checkItems(token, acked)
	how := "each taken out of Caddy's configuration, its requests drained, SIGTERM, started, ready, put back"
	if plain {
		how = "SIGTERM alone, Caddy's health checks and retries"
	}
	figure(t, "rolling restart (%s) of 3 replicas in %s (each out and back in %v) under ~%v req/s through Caddy: %s; no 5xx, no request failed at a replica; "+
		"%d failed at the client, each a connection Caddy closed in one of its %d configuration reloads%s; %d acknowledged creates all present",
		how, elapsed.Round(time.Millisecond), roundAll(downtimes), l.rate, s, len(atReload), len(reloads), describeFailures(atReload, 5), len(acked))
}

func roundAll(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}

// established returns the remote ends of the established TCP connections whose local end is port: for
// a listening server, its clients' connections.
func established(t *testing.T, port int) map[string]bool {
	t.Helper()
	local := fmt.Sprintf(":%04X", port)
	out := map[string]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			// sl local_address rem_address st ...: state 01 is ESTABLISHED
			f := strings.Fields(line)
			if len(f) > 3 && strings.HasSuffix(f[1], local) && f[3] == "01" {
				out[f[2]] = true
			}
		}
	}
	return out
}

// waitDrained waits until none of the given client connections to port is established any more.
func waitDrained(t *testing.T, port int, conns map[string]bool, bound time.Duration) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for {
		left := 0
		for remote := range established(t, port) {
			if conns[remote] {
				left++
			}
		}
		if left == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections to port %d open before the reload are still established after %s", left, port, bound)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
