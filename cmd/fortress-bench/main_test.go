package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fortress-dev/fortress/internal/bench"
	"github.com/fortress-dev/fortress/internal/ceiling"
	"github.com/fortress-dev/fortress/internal/pgtest"
	"github.com/fortress-dev/fortress/password"
	"github.com/fortress-dev/fortress/sqlite"
)

// The harness re-executes itself for the generator and the ceilings. Under `go test` that executable
// is this test binary, so TestMain plays the part of main for those subcommands.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && slices.Contains([]string{"load", "ceiling-health", "ceiling-item", "argon2"}, os.Args[1]) {
		main()
		return
	}
	os.Exit(pgtest.Main(m))
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// needHarness skips tests that run servers and generators as processes where that cannot work.
func needHarness(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the whole harness")
	}
	if runtime.GOOS != "linux" {
		t.Skip("the harness reads /proc")
	}
}

// fortressBinary builds the server the harness runs, as `make build` would (with -tags tags: as `make
// profile` builds the profiling server).
func fortressBinary(t *testing.T, tags string) string {
	t.Helper()
	needHarness(t)
	bin := filepath.Join(t.TempDir(), "fortress")
	cmd := exec.CommandContext(t.Context(), "go", "build", "-tags", tags, "-o", bin, "../fortress")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// The whole benchmark, with every scenario and ceiling, in a fraction of a second each: every answer
// must be right, every figure present, and the report must judge every target.
func TestHarnessEndToEnd(t *testing.T) {
	t.Parallel()
	bin := fortressBinary(t, "")
	jsonPath := filepath.Join(t.TempDir(), "out", "bench.json")
	var stdout, stderr bytes.Buffer
	// Logins get 5 s: on a machine loaded by the rest of the test suite one hash can take a second.
	err := run(t.Context(), []string{"-bin", bin, "-json", jsonPath, "-duration", "1s", "-warmup", "100ms", "-login-duration", "5s",
		"-argon2-duration", "100ms", "-startups", "2", "-users", "2", "-items", "20", "-concurrency", "4",
		"-paired-rounds", "2", "-paired-slice", "300ms"},
		env(nil), nil, &stdout, &stderr)
	if err != nil {
		t.Fatalf("run: %v\nstderr:\n%s", err, stderr.String())
	}
	var r bench.Report
	b, err := os.ReadFile(jsonPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("bench.json: %v", err)
	}
	if len(r.StartupSQLite) != 2 || r.BinaryBytes == 0 || r.Ceilings.Health == nil || r.Ceilings.HealthHeaders == nil || r.Ceilings.Argon2 == nil {
		t.Errorf("report lacks start-ups, binary size or ceilings: %+v", r)
	}
	if r.ServerEnv["FORTRESS_LOG_LEVEL"] != "warn" || strings.Contains(string(b), "JWT_SECRET_KEY\": \"") && !strings.Contains(string(b), "(random") {
		t.Errorf("server_env got %v, want the settings without the secret", r.ServerEnv)
	}
	for _, e := range r.Engines {
		if e.Skipped != "" {
			t.Logf("%s skipped: %s", e.Name, e.Skipped)
			continue
		}
		var got []string
		for _, res := range e.Results {
			got = append(got, res.Scenario)
			if res.Errors != 0 || res.Requests == 0 {
				t.Errorf("%s %s: %d answers, %d errors %v; want answers and no errors", e.Name, res.Scenario, res.Requests, res.Errors, res.ErrorSamples)
			}
			if res.ServerCPU <= 0 {
				t.Errorf("%s %s: server CPU %v, want it read from /proc", e.Name, res.Scenario, res.ServerCPU)
			}
		}
		if !slices.Equal(got, allScenarios) {
			t.Errorf("%s: scenarios got %v, want %v", e.Name, got, allScenarios)
		}
		if c := r.Ceilings.Item[e.Name]; c == nil || c.Errors != 0 || c.Requests == 0 {
			t.Errorf("%s: item ceiling got %+v, want answers and no errors", e.Name, c)
		}
		for _, scenario := range []string{bench.ScenarioHealth, bench.ScenarioItemGet} {
			if p := e.PairedFor(scenario); p == nil || len(p.Ratios) != 2 || p.Errors != 0 || p.CeilingUS <= 0 {
				t.Errorf("%s: paired %s got %+v, want 2 rounds without errors", e.Name, scenario, p)
			}
		}
		// Login against (c): two rounds, whatever the hashing speed of a loaded machine gives in 2 s.
		if p := e.PairedFor(bench.ScenarioLogin); p == nil || len(p.Ratios) != 2 || p.Errors != 0 {
			t.Errorf("%s: paired login got %+v, want 2 rounds without errors", e.Name, p)
		}
		if e.IdleRSS <= 0 || e.StartupMS <= 0 {
			t.Errorf("%s: idle RSS %d, start-up %v ms; want both measured", e.Name, e.IdleRSS, e.StartupMS)
		}
	}
	for _, want := range []string{"targets:", "of (a)", "of (b)", "of (c)", "start to /readyz 200 < 300 ms", "release binary size"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, stdout.String())
		}
	}
}

// profile runs the server built with -tags pprof, as the harness runs the release binary, and that
// server leaves its profiles when the harness stops it. Not parallel: its build and load would run next
// to TestHarnessEndToEnd's measured windows, whose login scenario has few answers to spare.
func TestProfileWritesACPUProfile(t *testing.T) {
	bin := fortressBinary(t, "pprof")
	dir := t.TempDir()
	out, memOut := filepath.Join(dir, "p-ENGINE.prof"), filepath.Join(dir, "a-ENGINE.prof")
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"profile", "-bin", bin, "-engines", "sqlite", "-scenarios", "health,item-get", "-duration", "200ms",
		"-warmup", "0s", "-users", "1", "-items", "20", "-concurrency", "2", "-cpuprofile", out, "-memprofile", memOut}, env(nil), nil, &stdout, &stderr)
	if err != nil {
		t.Fatalf("profile: %v\nstderr:\n%s", err, stderr.String())
	}
	for _, path := range []string{out, memOut} {
		fi, err := os.Stat(strings.ReplaceAll(path, "ENGINE", "sqlite"))
		if err != nil || fi.Size() == 0 {
			t.Errorf("profile %s: got %v, %v; want a non-empty file", path, fi, err)
		}
	}
	if !strings.Contains(stdout.String(), "go tool pprof") {
		t.Errorf("output does not say how to read the profile:\n%s", stdout.String())
	}
}

func TestBadCommandLines(t *testing.T) {
	for _, args := range [][]string{
		{"frobnicate"},
		{"-engines", "mysql"},
		{"-scenarios", "everything"},
		{"-duration", "0s"},
		{"-login-duration", "-1s"},
		{"-concurrency", "0"},
		{"-items", "5"},
		{"-paired-rounds", "-1"},
		{"-bin", filepath.Join(t.TempDir(), "missing")},
		{"-no-such-flag"},
		{"-server-env", "JWT_SECRET_KEY=x"},
		{"-server-env", "novalue"},
		{"argon2", "-memory", "1"},
		{"argon2", "-bogus"},
		{"ceiling-health", "-bogus"},
		{"ceiling-health", "-fortress-headers=maybe"},
		{"ceiling-item", "-bogus"},
		{"profile", "-engines", "oracle"},
		{"profile", "-bin", filepath.Join(t.TempDir(), "missing")},
		{"profile", "-bin", "main_test.go"}, // not a Go binary, let alone one with the profiler
	} {
		var stdout, stderr bytes.Buffer
		if err := run(t.Context(), args, env(nil), nil, &stdout, &stderr); err == nil {
			t.Errorf("run %q: got no error, want one", args)
		}
	}
	var stdout bytes.Buffer
	err := run(t.Context(), []string{"load"}, env(nil), strings.NewReader(`{"scenario":"x","unknown":1}`), &stdout, &stdout)
	if err == nil {
		t.Error("load with an unknown field in the job: got no error, want one")
	}
	err = run(t.Context(), []string{"ceiling-item"}, env(map[string]string{"DATABASE_URL": "mysql://x"}), nil, &stdout, &stdout)
	if err == nil {
		t.Error("ceiling-item on an unknown database: got no error, want one")
	}
}

func TestArgon2CeilingCountsHashes(t *testing.T) {
	var stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"argon2", "-memory", "64", "-time", "1", "-threads", "1", "-duration", "50ms", "-cpus", "0"},
		env(nil), nil, &stdout, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	var res bench.Argon2Result
	if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	if res.Hashes == 0 || res.PerSecond <= 0 || res.Workers != runtime.GOMAXPROCS(0) || res.MemoryKiB != 64 || res.CPUs != "0" {
		t.Errorf("got %+v, want hashes counted by one worker per CPU with the given parameters", res)
	}
}

func TestHealthCeilingServesUntilCancelled(t *testing.T) {
	addr, err := freeAddr(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- run(ctx, []string{"ceiling-health", "-addr", addr}, env(nil), nil, nil, os.Stderr) }()
	res, err := waitAnswer(t, "http://"+addr+"/health")
	if err != nil || res != `{"status":"ok"}` {
		t.Errorf("GET /health got %q, %v; want Fortress's body", res, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("ceiling-health after cancel: got %v, want a clean stop", err)
	}
}

// Ceiling (a') sends what Fortress's /health sends, headers included, so that its gap to (a) is the
// headers' cost alone.
func TestHealthCeilingWithFortressHeaders(t *testing.T) {
	want := fortressHeaders(t.Context())
	for _, name := range []string{"Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy",
		"Cross-Origin-Resource-Policy", "Cache-Control", "X-Request-Id"} {
		if want.Get(name) == "" {
			t.Errorf("Fortress's /health headers lack %s: got %v", name, want)
		}
	}
	rec := httptest.NewRecorder()
	ceiling.Health(want).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/health", nil))
	for name := range want {
		if got := rec.Header().Get(name); got != want.Get(name) {
			t.Errorf("ceiling (a') %s: got %q, want %q", name, got, want.Get(name))
		}
	}
	if rec.Body.String() != `{"status":"ok"}` || rec.Header().Get("Content-Type") != "application/json" {
		t.Errorf("ceiling (a') answered %q (%s), want Fortress's body", rec.Body, rec.Header().Get("Content-Type"))
	}
}

func TestItemCeilingAnswersLikeFortress(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "fortress.db")
	s, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateUser(t.Context(), "ceiling@example.com", "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$a2V5a2V5a2V5a2V5")
	if err != nil {
		t.Fatal(err)
	}
	it, err := s.CreateItem(t.Context(), u.ID, itemCreate("one"))
	if err != nil {
		t.Fatal(err)
	}
	_ = s.Close()

	addr, err := freeAddr(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"ceiling-item", "-addr", addr}, env(map[string]string{"DATABASE_URL": "sqlite:" + path}), nil, nil, os.Stderr)
	}()
	base := "http://" + addr
	if _, err := waitAnswer(t, base+"/readyz"); err != nil {
		t.Fatal(err)
	}
	user := bench.User{ID: u.ID, ItemIDs: []int64{it.ID}}
	_, expect := bench.Build(nil, addr, bench.KindCeilingItem, &user, 0)
	body, status := get(t, base+"/owners/"+itoa(u.ID)+"/items/"+itoa(it.ID))
	if err := bench.Check(expect, status, []byte(body)); err != nil {
		t.Errorf("ceiling answer %d %s: %v", status, body, err)
	}
	if _, status := get(t, base+"/owners/"+itoa(u.ID+1)+"/items/"+itoa(it.ID)); status != 404 {
		t.Errorf("someone else's item: status %d, want 404", status)
	}
	if _, status := get(t, base+"/owners/x/items/1"); status != 422 {
		t.Errorf("a bad owner: status %d, want 422", status)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("ceiling-item after cancel: got %v, want a clean stop", err)
	}
}

func TestHelpers(t *testing.T) {
	if got := tail("a\nb\nc\n", 2); got != "b\nc" {
		t.Errorf("tail got %q, want %q", got, "b\nc")
	}
	env := publicServerEnv([]string{"FORTRESS_DB_MAX_CONNS=4"})
	for k, v := range env {
		if strings.Contains(k, "SECRET") && !strings.HasPrefix(v, "(") {
			t.Errorf("public server env shows %s=%q, want the secret described, not given", k, v)
		}
	}
	if env["FORTRESS_RATE_LIMIT"] != "off" || env["FORTRESS_ENV"] != "production" || env["FORTRESS_DB_MAX_CONNS"] != "4" {
		t.Errorf("public server env got %v, want rate limits off in production mode and the -server-env setting", env)
	}
	h := &harness{report: &bench.Report{}}
	h.serverLog("sqlite", `{"level":"WARN","msg":"dependency unavailable"}`+"\nnot json\n")
	if len(h.report.Notes) != 1 || !strings.Contains(h.report.Notes[0], "dependency unavailable") {
		t.Errorf("notes got %v, want the server's warning reported", h.report.Notes)
	}
	h.report.Ceilings.Health = &bench.Result{Mode: "closed", Seconds: 1, GenCPU: 0.95, GenProcs: 1, OtherCPU: 0.5}
	h.flagDoubts()
	if len(h.report.Notes) != 3 {
		t.Errorf("notes got %v, want the generator limit and the noise flagged", h.report.Notes)
	}
	if err := writeJSONFile(filepath.Join(t.TempDir(), "x", "r.json"), map[string]int{"a": 1}); err != nil {
		t.Error(err)
	}
	if cpuModel() == "" || (runtime.GOOS == "linux" && kernel() == "") {
		t.Errorf("machine description got %q / %q, want both", cpuModel(), kernel())
	}
	var o options
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	o.register(fs, func(k string) string {
		return map[string]string{"FORTRESS_BENCH_DURATION": "2s", "FORTRESS_BENCH_WARMUP": "0s"}[k]
	})
	if o.duration != 2*time.Second || o.warmup != 0 {
		t.Errorf("durations from the environment got %v and %v, want 2s and 0s", o.duration, o.warmup)
	}
	if !errors.Is(errSkipped, errSkipped) {
		t.Error("errSkipped")
	}
}

// Ceiling (c) hashes with the server's parameters: the production defaults, or what -server-env sets.
func TestArgon2ParamsFollowTheServer(t *testing.T) {
	p, err := argon2Params(nil)
	if err != nil || p != password.DefaultParams() {
		t.Fatalf("defaults: got %+v, %v; want %+v", p, err, password.DefaultParams())
	}
	p, err = argon2Params([]string{"FORTRESS_ARGON2_MEMORY_KIB=65536", "FORTRESS_ARGON2_TIME=3"})
	if err != nil || p.MemoryKiB != 65536 || p.Time != 3 || p.Threads != password.DefaultParams().Threads {
		t.Fatalf("from -server-env: got %+v, %v; want m=65536 t=3", p, err)
	}
	if _, err := argon2Params([]string{"FORTRESS_ARGON2_MEMORY_KIB=12"}); err == nil {
		t.Fatal("an invalid setting: got no error, want the server's own refusal")
	}
}
