package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fortress-dev/fortress/config"
	"github.com/fortress-dev/fortress/internal/bench"
	"github.com/fortress-dev/fortress/internal/pgtest"
	"github.com/fortress-dev/fortress/password"
)

// EnvDatabaseURL names an existing PostgreSQL server (an admin URL) to benchmark on instead of a
// throwaway cluster; the harness creates its own database there and drops it afterwards.
const EnvDatabaseURL = "FORTRESS_BENCH_DATABASE_URL"

// allScenarios is the order a run takes: reads before writes, so the reads see the seeded table; the
// open loop right after the closed one whose rate it halves.
var allScenarios = []string{
	bench.ScenarioHealth, bench.ScenarioItemGet, bench.ScenarioItemOpen, bench.ScenarioItemList,
	bench.ScenarioItemCreate, bench.ScenarioLogin, bench.ScenarioMixed,
}

type options struct {
	bin, jsonPath              string
	warmup, duration, argonDur time.Duration
	engines, scenarios         []string
	conc, loginConc, mixedConc int
	loginDur                   time.Duration
	openConns                  int
	users, items, startups     int
	serverCPUs, loadCPUs       string
	noPin                      bool
	extraEnv                   []string // -server-env: settings for the server and ceiling (b), for experiments
	pairRounds                 int
	pairSlice                  time.Duration
}

func (o *options) register(fs *flag.FlagSet, getenv func(string) string) {
	duration, warmup := 5*time.Second, time.Second
	if d, err := time.ParseDuration(getenv("FORTRESS_BENCH_DURATION")); err == nil && d > 0 {
		duration = d
	}
	if d, err := time.ParseDuration(getenv("FORTRESS_BENCH_WARMUP")); err == nil && d >= 0 {
		warmup = d
	}
	fs.StringVar(&o.jsonPath, "json", "bin/bench.json", "where to write the results as JSON (empty: nowhere)")
	fs.DurationVar(&o.duration, "duration", duration, "measured time per scenario (env FORTRESS_BENCH_DURATION)")
	fs.DurationVar(&o.warmup, "warmup", warmup, "unmeasured warm-up before each scenario (env FORTRESS_BENCH_WARMUP)")
	fs.DurationVar(&o.argonDur, "argon2-duration", 3*time.Second, "time per Argon2id ceiling measurement")
	fs.DurationVar(&o.loginDur, "login-duration", 0, "measured time of the login scenario (0: -duration); logins are Argon2id-bound, tens per second, so a short run may need a longer window for a figure")
	fs.Func("engines", "comma list of engines: sqlite,postgres (default both)", func(s string) error {
		o.engines = strings.Split(s, ",")
		return nil
	})
	fs.Func("scenarios", "comma list of scenarios (default all): "+strings.Join(allScenarios, ","), func(s string) error {
		o.scenarios = strings.Split(s, ",")
		return nil
	})
	fs.IntVar(&o.conc, "concurrency", 32, "connections of the closed-loop scenarios")
	fs.IntVar(&o.loginConc, "login-concurrency", 4, "connections of the login scenario (Argon2id is gated: more only queue)")
	fs.IntVar(&o.mixedConc, "mixed-concurrency", 16, "connections of the mixed scenario")
	fs.IntVar(&o.openConns, "open-connections", 64, "connections of the open-loop scenario")
	fs.IntVar(&o.users, "users", 4, "accounts the scenarios act as")
	fs.IntVar(&o.items, "items", 50, "items seeded per account (at least 20, so that pages are full)")
	fs.IntVar(&o.startups, "startups", 5, "fresh starts timed for the start-up target")
	fs.StringVar(&o.serverCPUs, "server-cpus", "", "CPU list for the server, its database and the ceilings (default: the first half)")
	fs.StringVar(&o.loadCPUs, "load-cpus", "", "CPU list for the load generator (default: the other half)")
	fs.BoolVar(&o.noPin, "no-pin", false, "do not pin processes to CPUs")
	fs.IntVar(&o.pairRounds, "paired-rounds", 6, "rounds of the paired measurement of /health against (a), the item read against (b) and login against (c), which the targets use (0: none)")
	fs.DurationVar(&o.pairSlice, "paired-slice", time.Second, "measured time of each side of a paired round")
	fs.Func("server-env", "KEY=VALUE for the server and ceiling (b), e.g. FORTRESS_DB_MAX_CONNS=4 (repeatable; recorded in the report)", func(s string) error {
		k, _, ok := strings.Cut(s, "=")
		if !ok || k == "" || strings.Contains(k, "SECRET") || k == "JWT_SECRET_KEY" || k == "PATH" {
			return fmt.Errorf("-server-env %q: want KEY=VALUE, not a secret or PATH", s)
		}
		o.extraEnv = append(o.extraEnv, s)
		return nil
	})
}

func (o *options) validate() error {
	if o.engines == nil {
		o.engines = []string{"sqlite", "postgres"}
	}
	if o.scenarios == nil {
		o.scenarios = allScenarios
	}
	for _, e := range o.engines {
		if e != "sqlite" && e != "postgres" {
			return fmt.Errorf("unknown engine %q (want sqlite or postgres)", e)
		}
	}
	for _, s := range o.scenarios {
		if !slices.Contains(allScenarios, s) {
			return fmt.Errorf("unknown scenario %q (want one of %s)", s, strings.Join(allScenarios, ","))
		}
	}
	switch {
	case o.loginDur < 0:
		return errors.New("-login-duration must not be negative")
	case o.duration <= 0:
		return errors.New("-duration must be positive")
	case o.conc < 1 || o.loginConc < 1 || o.mixedConc < 1 || o.openConns < 1:
		return errors.New("concurrency must be at least 1")
	case o.users < 1 || o.items < bench.ListLimit:
		return fmt.Errorf("want at least 1 user and %d items each", bench.ListLimit)
	case o.pairRounds < 0 || o.pairRounds > 0 && o.pairSlice <= 0:
		return errors.New("-paired-rounds must not be negative, and -paired-slice must be positive")
	}
	return nil
}

// harness runs servers, ceilings and generators as separate, pinned processes.
type harness struct {
	opts       options
	getenv     func(string) string
	self       string // this executable: the generator and the ceilings
	taskset    string
	serverCPUs string
	loadCPUs   string
	pinnedOK   bool
	progress   io.Writer
	// serverArgv is the command of the server under test, run in dir.
	serverArgv func(dir string) []string
	// profileEnv is what the server under test alone is given on top of its configuration: the profile
	// paths of the profile subcommand.
	profileEnv []string
	report     *bench.Report
}

func newHarness(o options, getenv func(string) string, progress io.Writer) (*harness, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	h := &harness{opts: o, getenv: getenv, self: self, progress: progress, report: &bench.Report{Started: time.Now()}}
	allowed, err := bench.AllowedCPUs()
	if err != nil {
		allowed = make([]int, runtime.NumCPU())
		for i := range allowed {
			allowed[i] = i
		}
	}
	server, load, ok := bench.SplitCPUs(allowed)
	h.serverCPUs, h.loadCPUs = bench.FormatCPUList(server), bench.FormatCPUList(load)
	if o.serverCPUs != "" {
		h.serverCPUs = o.serverCPUs
	}
	if o.loadCPUs != "" {
		h.loadCPUs = o.loadCPUs
	}
	h.pinnedOK = ok && !o.noPin
	if h.pinnedOK {
		if h.taskset, err = exec.LookPath("taskset"); err != nil {
			h.pinnedOK = false
			h.note("taskset not found (util-linux): processes are not pinned, so server and generator compete for CPUs")
		}
	}
	if !h.pinnedOK {
		h.taskset, h.serverCPUs, h.loadCPUs = "", bench.FormatCPUList(allowed), bench.FormatCPUList(allowed)
	}
	h.report.Machine = bench.Machine{CPUs: len(allowed), CPUModel: cpuModel(), Kernel: kernel(), GoVersion: runtime.Version(),
		ServerCPUs: h.serverCPUs, LoadCPUs: h.loadCPUs, Pinned: h.pinnedOK, LoadBefore: bench.LoadAverage()}
	return h, nil
}

func (h *harness) note(format string, args ...any) {
	h.report.Notes = append(h.report.Notes, fmt.Sprintf(format, args...))
}

func (h *harness) logf(format string, args ...any) { fmt.Fprintf(h.progress, format+"\n", args...) }

func runBench(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var o options
	fs := flag.NewFlagSet("fortress-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o.register(fs, getenv)
	fs.StringVar(&o.bin, "bin", "bin/fortress", "the release binary to benchmark")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := o.validate(); err != nil {
		return err
	}
	fi, err := os.Stat(o.bin)
	if err != nil {
		return fmt.Errorf("the release binary: %w (run `make build` first, or pass -bin)", err)
	}
	bin, err := filepath.Abs(o.bin)
	if err != nil {
		return err
	}
	h, err := newHarness(o, getenv, stderr)
	if err != nil {
		return err
	}
	h.serverArgv = func(string) []string { return []string{bin, "serve"} }
	r := h.report
	r.Binary, r.BinaryBytes = o.bin, fi.Size()
	r.ServerEnv = publicServerEnv(o.extraEnv)
	h.note("the server runs with FORTRESS_LOG_LEVEL=warn: at the default (info) it writes one JSON access-log line per request, which costs more than some requests themselves; rate limits are off so that they measure nothing but the server")

	if err := h.measureStartup(ctx); err != nil {
		return err
	}
	if err := h.measureArgon2(ctx); err != nil {
		return err
	}
	if slices.Contains(o.scenarios, bench.ScenarioHealth) {
		if err := h.healthCeiling(ctx); err != nil {
			return err
		}
	}
	for _, name := range o.engines {
		e, err := h.engine(ctx, name, true)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		r.Engines = append(r.Engines, e)
	}
	h.flagDoubts()
	r.Targets = r.Evaluate()
	r.ElapsedSeconds = time.Since(r.Started).Seconds()
	r.Machine.LoadAfter = bench.LoadAverage()
	fmt.Fprintln(stdout)
	r.WriteTable(stdout)
	if o.jsonPath != "" {
		if err := writeJSONFile(o.jsonPath, r); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\nresults: %s (%.0f s)\n", o.jsonPath, r.ElapsedSeconds)
	}
	return nil
}

// argon2Params are the Argon2id parameters the server under test hashes with: the production defaults,
// or what -server-env sets, read by the server's own configuration loader, so that ceiling (c) does the
// work a login does.
func argon2Params(extraEnv []string) (password.Params, error) {
	vars := map[string]string{"JWT_SECRET_KEY": randomHex(32)} // only to pass production's checks
	for _, kv := range append(bench.ServerSettings(), extraEnv...) {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	cfg, err := config.Load(func(k string) string { return vars[k] })
	if err != nil {
		return password.Params{}, fmt.Errorf("the server's configuration: %w", err)
	}
	return password.Params{MemoryKiB: cfg.Argon2MemoryKiB, Time: cfg.Argon2Time, Threads: cfg.Argon2Threads}, nil
}

// publicServerEnv is the configuration the server runs with, as recorded in the report: every
// variable the harness sets except the secrets.
func publicServerEnv(extra []string) map[string]string {
	m := map[string]string{}
	for _, kv := range append(baseServerEnv(), extra...) {
		k, v, _ := strings.Cut(kv, "=")
		if k != "PATH" {
			m[k] = v
		}
	}
	m["JWT_SECRET_KEY"] = "(random, 32 bytes)"
	if _, ok := m["FORTRESS_ARGON2_MEMORY_KIB"]; !ok {
		m["FORTRESS_ARGON2_*"] = "(defaults: the production parameters)"
	}
	return m
}

func baseServerEnv() []string {
	return append([]string{"PATH=" + os.Getenv("PATH")}, bench.ServerSettings()...)
}

// serverEnv is the whole environment of a server under test: nothing inherited.
func serverEnv(addr, secret string, extra ...string) []string {
	env := append(baseServerEnv(), "FORTRESS_ADDR="+addr, "JWT_SECRET_KEY="+secret)
	return append(env, extra...)
}

// startServer starts the server under test in dir and waits for /readyz; it returns the server, its
// address and how long it took from the start of the process.
func (h *harness) startServer(ctx context.Context, name, dir string, argv []string, extraEnv []string) (*process, string, time.Duration, error) {
	addr, err := freeAddr(ctx)
	if err != nil {
		return nil, "", 0, err
	}
	env := serverEnv(addr, randomHex(32), extraEnv...)
	began := time.Now()
	p, err := start(name, dir, env, nil, nil, h.pinned(h.serverCPUs, argv))
	if err != nil {
		return nil, "", 0, err
	}
	took, err := p.waitReady(ctx, "http://"+addr+"/readyz", began, 60*time.Second)
	if err != nil {
		_ = p.stop(5 * time.Second)
		return nil, "", 0, err
	}
	return p, addr, took, nil
}

// measureStartup times fresh starts of the default configuration: SQLite in the working directory,
// created and migrated at start-up, until /readyz answers 200.
func (h *harness) measureStartup(ctx context.Context) error {
	for i := range h.opts.startups {
		dir, err := os.MkdirTemp("", "fortress-bench-start-")
		if err != nil {
			return err
		}
		p, _, took, err := h.startServer(ctx, "fortress", dir, h.serverArgv(dir), nil)
		if err == nil {
			err = p.stop(20 * time.Second)
		}
		_ = os.RemoveAll(dir)
		if err != nil {
			return fmt.Errorf("start-up %d: %w", i+1, err)
		}
		h.report.StartupSQLite = append(h.report.StartupSQLite, float64(took.Microseconds())/1000)
	}
	if len(h.report.StartupSQLite) > 0 {
		h.logf("start-up (SQLite default, fresh database): %v ms", h.report.StartupSQLite)
	}
	return nil
}

// runChild runs one of this executable's subcommands to completion, pinned to cpus, and decodes its
// JSON output into out.
func (h *harness) runChild(ctx context.Context, cpus string, out any, args ...string) error {
	var stdout bytes.Buffer
	p, err := start(args[0], "", []string{"PATH=" + os.Getenv("PATH")}, nil, &stdout, h.pinned(cpus, append([]string{h.self}, args...)))
	if err != nil {
		return err
	}
	select {
	case <-p.exited:
	case <-ctx.Done():
		_ = p.stop(5 * time.Second)
		return ctx.Err()
	}
	if err := p.exitError(); err != nil {
		return err
	}
	return json.Unmarshal(stdout.Bytes(), out)
}

// measureArgon2 is ceiling (c), on the server's CPUs (what the login scenario can use) and, for
// reference, on every CPU.
func (h *harness) measureArgon2(ctx context.Context) error {
	if !slices.Contains(h.opts.scenarios, bench.ScenarioLogin) {
		return nil
	}
	p, err := argon2Params(h.opts.extraEnv)
	if err != nil {
		return err
	}
	args := []string{"argon2", "-memory", strconv.FormatUint(uint64(p.MemoryKiB), 10), "-time", strconv.FormatUint(uint64(p.Time), 10),
		"-threads", strconv.FormatUint(uint64(p.Threads), 10), "-duration", h.opts.argonDur.String()}
	var pinned bench.Argon2Result
	if err := h.runChild(ctx, h.serverCPUs, &pinned, append(args, "-cpus", h.serverCPUs)...); err != nil {
		return fmt.Errorf("argon2 ceiling: %w", err)
	}
	h.report.Ceilings.Argon2 = &pinned
	h.logf("ceiling (c): %.1f Argon2id hashes/s on CPU %s", pinned.PerSecond, pinned.CPUs)
	if h.pinnedOK {
		var all bench.Argon2Result
		allCPUs := h.report.Machine.CPUs
		if err := h.runChild(ctx, "", &all, append(args, "-cpus", "all "+strconv.Itoa(allCPUs))...); err != nil {
			return fmt.Errorf("argon2 ceiling: %w", err)
		}
		h.report.Ceilings.Argon2All = &all
		h.logf("ceiling (c), every CPU: %.1f Argon2id hashes/s", all.PerSecond)
	}
	return nil
}

// healthCeiling is ceiling (a), loaded exactly like the health scenario, and then (a'): the same with
// Fortress's response headers, which tells what writing those headers costs net/http.
func (h *harness) healthCeiling(ctx context.Context) error {
	for _, c := range []struct {
		name, scenario string
		args           []string
		result         **bench.Result
	}{
		{"ceiling (a)", "ceiling-health", nil, &h.report.Ceilings.Health},
		{"ceiling (a')", "ceiling-health-headers", []string{"-fortress-headers"}, &h.report.Ceilings.HealthHeaders},
	} {
		addr, err := freeAddr(ctx)
		if err != nil {
			return err
		}
		p, err := start(c.name, "", []string{"PATH=" + os.Getenv("PATH")}, nil, nil,
			h.pinned(h.serverCPUs, append([]string{h.self, "ceiling-health", "-addr", addr}, c.args...)))
		if err != nil {
			return err
		}
		if _, err := p.waitReady(ctx, "http://"+addr+"/readyz", time.Now(), 30*time.Second); err != nil {
			_ = p.stop(10 * time.Second)
			return err
		}
		res, err := h.generate(ctx, h.job(bench.ScenarioHealth, addr, nil, p.pid(), 0))
		if err != nil {
			_ = p.stop(10 * time.Second)
			return fmt.Errorf("%s: %w", c.name, err)
		}
		res.Scenario = c.scenario
		*c.result = &res
		h.logf("%s: %.0f req/s", c.name, res.RPS)
		if err := p.stop(10 * time.Second); err != nil {
			return err
		}
	}
	return nil
}

// job is the generator's work for one scenario.
func (h *harness) job(scenario, addr string, users []bench.User, serverPID, dbPID int) bench.Job {
	conc, duration := h.opts.conc, h.opts.duration
	switch scenario {
	case bench.ScenarioLogin:
		conc = h.opts.loginConc
		if h.opts.loginDur > 0 {
			duration = h.opts.loginDur
		}
	case bench.ScenarioMixed:
		conc = h.opts.mixedConc
	case bench.ScenarioItemOpen:
		conc = h.opts.openConns
	}
	return bench.Job{Scenario: scenario, Mix: bench.Mixes[scenario], Addr: addr, Users: users, Concurrency: conc,
		Warmup: h.opts.warmup, Duration: duration, ServerPID: serverPID, DBPID: dbPID}
}

// database is where an engine keeps its data for a run.
type database struct {
	env     []string // DATABASE_URL and AUTO_MIGRATE for the server and the item ceiling
	source  string
	dbPID   int // PostgreSQL's postmaster when the harness started it, else 0
	cleanup func()
}

// engine runs every scenario on one engine, then its item ceiling (b).
func (h *harness) engine(ctx context.Context, name string, ceilings bool) (bench.Engine, error) {
	e := bench.Engine{Name: name}
	dir, err := os.MkdirTemp("", "fortress-bench-"+name+"-")
	if err != nil {
		return e, err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	db, err := h.database(ctx, name)
	if errors.Is(err, errSkipped) {
		e.Skipped = db.source
		h.logf("%s: SKIPPED: %s", name, db.source)
		return e, nil
	}
	if err != nil {
		return e, err
	}
	defer db.cleanup()
	e.Source = db.source
	h.logf("%s: %s", name, db.source)

	srv, addr, took, err := h.startServer(ctx, "fortress", dir, h.serverArgv(dir), slices.Concat(db.env, h.opts.extraEnv, h.profileEnv))
	if err != nil {
		return e, err
	}
	defer func() { _ = srv.stop(20 * time.Second) }()
	e.StartupMS = float64(took.Microseconds()) / 1000
	time.Sleep(time.Second) // idle: let start-up's garbage be collected before reading RSS
	if mem, err := bench.ProcMemory(srv.pid()); err == nil {
		e.IdleRSS = mem.RSS
	}
	users, err := seed(ctx, "http://"+addr, h.opts.users, h.opts.items)
	if err != nil {
		return e, err
	}
	for _, scenario := range h.opts.scenarios {
		job := h.job(scenario, addr, users, srv.pid(), db.dbPID)
		if scenario == bench.ScenarioItemOpen {
			closed := e.Result(bench.ScenarioItemGet)
			if closed == nil || closed.RPS <= 0 {
				continue
			}
			job.Rate = closed.RPS / 2
		}
		res, err := h.generate(ctx, job)
		if err != nil {
			return e, fmt.Errorf("%s: %w", scenario, err)
		}
		h.progressLine(name, &res)
		e.Results = append(e.Results, res)
	}
	if ceilings && h.opts.pairRounds > 0 {
		if err := h.paired(ctx, &e, dir, db, addr, srv.pid(), users); err != nil {
			return e, err
		}
	}
	if err := srv.stop(20 * time.Second); err != nil {
		return e, err
	}
	h.serverLog(name, srv.log.String())
	if ceilings && slices.Contains(h.opts.scenarios, bench.ScenarioItemGet) {
		if err := h.itemCeiling(ctx, name, dir, db, users); err != nil {
			return e, err
		}
	}
	return e, nil
}

// paired measures the ratio targets again, each side by side with its ceiling: the ceiling's process runs
// next to the server, and short windows of the two alternate (ABBA) for several rounds, so that a change in
// what the rest of the machine does (the noise of a shared VM, minutes long) falls on both sides alike. The
// targets use the median of the rounds' ratios.
func (h *harness) paired(ctx context.Context, e *bench.Engine, dir string, db database, addr string, serverPID int, users []bench.User) error {
	type pair struct {
		scenario, ceiling string
		argv              []string
		env               []string
		mix               bench.Mix
	}
	var pairs []pair
	if slices.Contains(h.opts.scenarios, bench.ScenarioHealth) {
		pairs = append(pairs, pair{bench.ScenarioHealth, "(a)", []string{"ceiling-health"}, nil, bench.Mixes[bench.ScenarioHealth]})
	}
	if slices.Contains(h.opts.scenarios, bench.ScenarioItemGet) {
		pairs = append(pairs, pair{bench.ScenarioItemGet, "(b)", []string{"ceiling-item"}, append(slices.Clone(db.env), h.opts.extraEnv...),
			bench.Mix{{Kind: bench.KindCeilingItem, Percent: 100}}})
	}
	if slices.Contains(h.opts.scenarios, bench.ScenarioLogin) {
		res, err := h.pairedLogin(ctx, addr, users, serverPID, db.dbPID)
		if err != nil {
			return err
		}
		h.logf("%s paired %s/%s: median %.0f%% (%.0f%% to %.0f%%, %d rounds)", e.Name, res.Scenario, res.Ceiling,
			res.Median*100, res.Min*100, res.Max*100, len(res.Ratios))
		e.Paired = append(e.Paired, res)
	}
	for _, pr := range pairs {
		caddr, err := freeAddr(ctx)
		if err != nil {
			return err
		}
		env := append([]string{"PATH=" + os.Getenv("PATH")}, pr.env...)
		p, err := start("ceiling "+pr.ceiling, dir, env, nil, nil, h.pinned(h.serverCPUs, append(append([]string{h.self}, pr.argv...), "-addr", caddr)))
		if err != nil {
			return err
		}
		if _, err := p.waitReady(ctx, "http://"+caddr+"/readyz", time.Now(), 30*time.Second); err != nil {
			_ = p.stop(10 * time.Second)
			return err
		}
		res := bench.Paired{Scenario: pr.scenario, Ceiling: pr.ceiling}
		for round := range h.opts.pairRounds {
			fj := h.job(pr.scenario, addr, users, serverPID, db.dbPID)
			cj := h.job(pr.scenario, caddr, users, p.pid(), db.dbPID)
			cj.Mix = pr.mix
			for _, j := range []*bench.Job{&fj, &cj} {
				j.Warmup, j.Duration = min(h.opts.warmup, 300*time.Millisecond), h.opts.pairSlice
			}
			order := []*bench.Job{&fj, &cj}
			if round%2 == 1 {
				order = []*bench.Job{&cj, &fj}
			}
			var got [2]bench.Result
			for _, j := range order {
				r, err := h.generate(ctx, *j)
				if err != nil {
					_ = p.stop(10 * time.Second)
					return fmt.Errorf("paired %s: %w", pr.scenario, err)
				}
				if j == &fj {
					got[0] = r
				} else {
					got[1] = r
				}
			}
			res.AddRound(got[0], got[1])
		}
		h.logf("%s paired %s/%s: median %.0f%% (%.0f%% to %.0f%%, %d rounds)", e.Name, pr.scenario, pr.ceiling,
			res.Median*100, res.Min*100, res.Max*100, len(res.Ratios))
		e.Paired = append(e.Paired, res)
		if err := p.stop(10 * time.Second); err != nil {
			return err
		}
	}
	return nil
}

// pairedLogin alternates, ABBA, windows of the login scenario with windows of ceiling (c), the Argon2id
// child pinned to the server's CPUs, so that login is judged against the hashing speed of the same
// minute: Argon2id, bound by memory bandwidth, is the figure the host's other tenants move most. A
// window is at least 2 s: logins come at tens per second.
func (h *harness) pairedLogin(ctx context.Context, addr string, users []bench.User, serverPID, dbPID int) (bench.Paired, error) {
	slice := max(h.opts.pairSlice, 2*time.Second)
	p, err := argon2Params(h.opts.extraEnv)
	if err != nil {
		return bench.Paired{}, err
	}
	args := []string{"argon2", "-memory", strconv.FormatUint(uint64(p.MemoryKiB), 10), "-time", strconv.FormatUint(uint64(p.Time), 10),
		"-threads", strconv.FormatUint(uint64(p.Threads), 10), "-duration", slice.String(), "-cpus", h.serverCPUs}
	res := bench.Paired{Scenario: bench.ScenarioLogin, Ceiling: "(c)"}
	for round := range h.opts.pairRounds {
		var login, hashing bench.Result
		steps := []func() error{
			func() error {
				j := h.job(bench.ScenarioLogin, addr, users, serverPID, dbPID)
				j.Warmup, j.Duration = min(h.opts.warmup, 300*time.Millisecond), slice
				var err error
				login, err = h.generate(ctx, j)
				return err
			},
			func() error {
				var a bench.Argon2Result
				if err := h.runChild(ctx, h.serverCPUs, &a, args...); err != nil {
					return err
				}
				hashing = bench.Result{RPS: a.PerSecond, Requests: a.Hashes}
				return nil
			},
		}
		if round%2 == 1 {
			steps[0], steps[1] = steps[1], steps[0]
		}
		for _, step := range steps {
			if err := step(); err != nil {
				return res, fmt.Errorf("paired login: %w", err)
			}
		}
		res.AddRound(login, hashing)
	}
	return res, nil
}

func (h *harness) progressLine(engine string, res *bench.Result) {
	h.logf("%s %s: %.0f req/s, p50 %.2f ms, p99 %.2f ms, %d errors%s", engine, res.Scenario, res.RPS,
		res.Latency.P50, res.Latency.P99, res.Errors, errorSamples(res))
}

func errorSamples(res *bench.Result) string {
	if len(res.ErrorSamples) == 0 {
		return ""
	}
	return " (" + strings.Join(res.ErrorSamples, "; ") + ")"
}

// serverLog notes what the server logged at WARN or above during the run (the level it ran at):
// under a correct load it should be silent.
func (h *harness) serverLog(engine, log string) {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(log))
	for sc.Scan() {
		var rec struct {
			Level string `json:"level"`
			Msg   string `json:"msg"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg != "" {
			lines = append(lines, rec.Level+" "+rec.Msg)
		}
	}
	if len(lines) > 0 {
		h.note("%s: the server logged %d lines at WARN or above; the first: %q", engine, len(lines), lines[0])
	}
}

// itemCeiling is ceiling (b) on the engine's database, loaded like the item-get scenario.
func (h *harness) itemCeiling(ctx context.Context, engine, dir string, db database, users []bench.User) error {
	addr, err := freeAddr(ctx)
	if err != nil {
		return err
	}
	env := append(append([]string{"PATH=" + os.Getenv("PATH")}, db.env...), h.opts.extraEnv...)
	p, err := start("ceiling (b)", dir, env, nil, nil, h.pinned(h.serverCPUs, []string{h.self, "ceiling-item", "-addr", addr}))
	if err != nil {
		return err
	}
	defer func() { _ = p.stop(10 * time.Second) }()
	if _, err := p.waitReady(ctx, "http://"+addr+"/readyz", time.Now(), 30*time.Second); err != nil {
		return err
	}
	job := h.job(bench.ScenarioItemGet, addr, users, p.pid(), db.dbPID)
	job.Mix = bench.Mix{{Kind: bench.KindCeilingItem, Percent: 100}}
	res, err := h.generate(ctx, job)
	if err != nil {
		return fmt.Errorf("ceiling (b): %w", err)
	}
	res.Scenario = "ceiling-item"
	if h.report.Ceilings.Item == nil {
		h.report.Ceilings.Item = map[string]*bench.Result{}
	}
	h.report.Ceilings.Item[engine] = &res
	h.logf("%s ceiling (b): %.0f req/s, p99 %.2f ms, %d errors%s", engine, res.RPS, res.Latency.P99, res.Errors, errorSamples(&res))
	return p.stop(10 * time.Second)
}

// database prepares the engine's storage: the default SQLite file in the server's directory, or a
// fresh database on PostgreSQL (FORTRESS_BENCH_DATABASE_URL, else a throwaway cluster pinned to the
// server's CPUs). errSkipped means PostgreSQL is not available; source then says why.
func (h *harness) database(ctx context.Context, engine string) (database, error) {
	if engine == "sqlite" {
		return database{source: "SQLite file in a temporary directory (the default DATABASE_URL), synchronous=FULL", cleanup: func() {}}, nil
	}
	db := database{cleanup: func() {}}
	admin, external := h.getenv(EnvDatabaseURL), true
	where := EnvDatabaseURL + " (not pinned; its CPU is not measured)"
	if admin == "" {
		external = false
		c, err := pgtest.StartCluster() //nolint:contextcheck // the cluster outlives any one call; Close ends it
		if errors.Is(err, pgtest.ErrNoPostgres) {
			return database{source: "no " + EnvDatabaseURL + " and no PostgreSQL server binaries"}, errSkipped
		}
		if err != nil {
			return db, err
		}
		db.cleanup = func() { _ = c.Close() }
		admin, db.dbPID = c.URL(), c.PID()
		where = "throwaway cluster, not pinned"
		if h.pinnedOK {
			// The backends the pool opens later are forked from the postmaster and inherit its CPUs.
			for i, pid := range append([]int{c.PID()}, bench.Children(c.PID())...) {
				out, err := exec.CommandContext(ctx, h.taskset, "-a", "-p", "-c", h.serverCPUs, strconv.Itoa(pid)).CombinedOutput() //nolint:gosec // G204: taskset on our own child
				// A backend may end between listing and pinning; only the postmaster must be pinned.
				if err != nil && (i == 0 || processExists(pid)) {
					db.cleanup()
					return db, fmt.Errorf("pin PostgreSQL: %w: %s", err, out)
				}
			}
			where = "throwaway cluster on CPU " + h.serverCPUs + " with the server"
		}
		where += " (fsync, full_page_writes and synchronous_commit off)"
	}
	name := "fortress_bench_" + randomHex(6)
	version, err := adminExec(ctx, admin, "CREATE DATABASE "+name)
	if err != nil {
		db.cleanup()
		return db, fmt.Errorf("create the benchmark database: %w", err)
	}
	db.source = "PostgreSQL " + version + ", " + where
	if external {
		db.cleanup = func() {
			_, _ = adminExec(context.WithoutCancel(ctx), admin, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
		}
	}
	u, err := url.Parse(admin)
	if err != nil {
		db.cleanup()
		return db, fmt.Errorf("%s is not a URL", EnvDatabaseURL) // the URL may hold a password: not shown
	}
	u.Path = "/" + name
	db.env = []string{"DATABASE_URL=" + u.String(), "AUTO_MIGRATE=true"}
	return db, nil
}

// processExists tells whether pid is still a live process.
func processExists(pid int) bool {
	_, err := os.Stat("/proc/" + strconv.Itoa(pid))
	return err == nil
}

// adminExec runs one statement on its own connection and returns the server's version.
func adminExec(ctx context.Context, adminURL, sql string) (version string, err error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", errors.New("cannot connect to the PostgreSQL server") // pgx's text can quote the URL
	}
	defer func() { _ = conn.Close(ctx) }()
	if _, err := conn.Exec(ctx, sql); err != nil {
		return "", err
	}
	err = conn.QueryRow(ctx, "SELECT current_setting('server_version')").Scan(&version)
	return version, err
}

// flagDoubts notes every measurement where the generator was busy enough to be the limit, and every
// one that other processes on the machine disturbed.
func (h *harness) flagDoubts() {
	check := func(where string, res *bench.Result) {
		if res == nil || res.Seconds <= 0 || res.GenProcs <= 0 {
			return
		}
		if use := res.GenCPU / res.Seconds / float64(res.GenProcs); use >= 0.9 && res.Mode == "closed" {
			h.note("%s: the generator used %.0f%% of its CPUs: this figure may be the generator's limit, not the server's", where, use*100)
		}
		if other := res.OtherCPU / res.Seconds; other >= 0.2 {
			h.note("%s: other processes used %.1f CPUs meanwhile: the machine was not quiet, so this figure is noisy", where, other)
		}
	}
	check("ceiling (a)", h.report.Ceilings.Health)
	check("ceiling (a')", h.report.Ceilings.HealthHeaders)
	for name, res := range h.report.Ceilings.Item {
		check(name+" ceiling (b)", res)
	}
	for i := range h.report.Engines {
		e := &h.report.Engines[i]
		for j := range e.Results {
			check(e.Name+" "+e.Results[j].Scenario, &e.Results[j])
		}
	}
}

func writeJSONFile(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o600)
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for line := range strings.Lines(string(b)) {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func kernel() string {
	b, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	return strings.TrimSpace(string(b))
}
