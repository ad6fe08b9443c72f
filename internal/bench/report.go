package bench

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Scenario names, as the report and bench.json use them.
const (
	ScenarioHealth     = "health"
	ScenarioItemGet    = "item-get"
	ScenarioItemList   = "item-list"
	ScenarioItemCreate = "item-create"
	ScenarioLogin      = "login"
	ScenarioMixed      = "mixed"
	ScenarioItemOpen   = "item-get-open" // item-get in an open loop at half the measured maximum rate
)

// Mixes is the requests of each scenario. The mixed workload is 90% reads (80 points of single-item
// reads, 10 of pages of 20), 9% writes and 1% logins.
var Mixes = map[string]Mix{
	ScenarioHealth:     {{KindHealth, 100}},
	ScenarioItemGet:    {{KindItemGet, 100}},
	ScenarioItemOpen:   {{KindItemGet, 100}},
	ScenarioItemList:   {{KindItemList, 100}},
	ScenarioItemCreate: {{KindItemCreate, 100}},
	ScenarioLogin:      {{KindLogin, 100}},
	ScenarioMixed:      {{KindItemGet, 80}, {KindItemList, 10}, {KindItemCreate, 9}, {KindLogin, 1}},
}

// Machine is where the figures come from: absolute numbers mean little without it.
type Machine struct {
	CPUs       int    `json:"cpus"` // online CPUs this process may use
	CPUModel   string `json:"cpu_model"`
	Kernel     string `json:"kernel"`
	GoVersion  string `json:"go_version"`
	ServerCPUs string `json:"server_cpus"` // the server, its database and the ceilings run here
	LoadCPUs   string `json:"load_cpus"`   // the generator runs here
	Pinned     bool   `json:"pinned"`      // false when the CPUs could not be kept apart
	// LoadBefore and LoadAfter are the 1-minute load average when the run began and ended: a busy machine
	// makes every figure noisy, ceilings included.
	LoadBefore float64 `json:"load_before,omitempty"`
	LoadAfter  float64 `json:"load_after,omitempty"`
}

// Argon2Result is ceiling (c): Argon2id hashes per second with the server's parameters.
type Argon2Result struct {
	MemoryKiB uint32  `json:"memory_kib"`
	Time      uint32  `json:"time"`
	Threads   uint8   `json:"threads"`
	Workers   int     `json:"workers"` // goroutines hashing at once: one per CPU of the process
	CPUs      string  `json:"cpus"`
	Hashes    int64   `json:"hashes"`
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"per_second"`
}

// Ceilings are the hardware's own limits, measured in the same run, with the same pinning as the server.
type Ceilings struct {
	Health *Result `json:"health,omitempty"` // (a) bare net/http answering /health
	// HealthHeaders is (a'): (a) with Fortress's response headers, for reference: the gap between (a) and
	// (a') is what writing those headers costs net/http, the gap from (a') to /health is Fortress's code.
	HealthHeaders *Result            `json:"health_headers,omitempty"`
	Item          map[string]*Result `json:"item,omitempty"`       // (b) per engine: bare handler, one query
	Argon2        *Argon2Result      `json:"argon2,omitempty"`     // (c) on the server's CPUs
	Argon2All     *Argon2Result      `json:"argon2_all,omitempty"` // (c) on every CPU, for reference
}

// Engine is the run of every scenario on one storage engine.
type Engine struct {
	Name      string   `json:"name"`
	Source    string   `json:"source"` // where the database lives, and how it is tuned
	StartupMS float64  `json:"startup_ms"`
	IdleRSS   int64    `json:"idle_rss_bytes"` // after start-up and a pause, before any load
	Results   []Result `json:"results"`
	Paired    []Paired `json:"paired,omitempty"`
	Skipped   string   `json:"skipped,omitempty"`
}

// Paired is a scenario measured side by side with its ceiling: short windows of each, alternating, for
// several rounds, so that the machine's changing load falls on both alike. Its median ratio is what the
// targets judge; the spread tells how much to trust it.
type Paired struct {
	Scenario string    `json:"scenario"`
	Ceiling  string    `json:"ceiling"` // (a) or (b)
	Ratios   []float64 `json:"ratios"`  // per round, of rounds without errors on either side
	Median   float64   `json:"median"`
	Min      float64   `json:"min"`
	Max      float64   `json:"max"`
	// ServerUS and CeilingUS are the medians of the server's and the ceiling's CPU per request, in µs.
	ServerUS  float64 `json:"server_us_per_request"`
	CeilingUS float64 `json:"ceiling_us_per_request"`
	Errors    int64   `json:"errors"`
	serverUS  []float64
	ceilingUS []float64
}

// AddRound records one round: the scenario's result and the ceiling's. A round with wrong answers on
// either side is counted in Errors and left out of the ratios.
func (p *Paired) AddRound(scenario, ceiling Result) {
	if scenario.Errors > 0 || ceiling.Errors > 0 || ceiling.RPS <= 0 {
		p.Errors += scenario.Errors + ceiling.Errors
		return
	}
	p.Ratios = append(p.Ratios, scenario.RPS/ceiling.RPS)
	if scenario.Requests > 0 && ceiling.Requests > 0 {
		p.serverUS = append(p.serverUS, scenario.ServerCPU/float64(scenario.Requests)*1e6)
		p.ceilingUS = append(p.ceilingUS, ceiling.ServerCPU/float64(ceiling.Requests)*1e6)
	}
	p.Median, p.Min, p.Max = Median(p.Ratios), slices.Min(p.Ratios), slices.Max(p.Ratios)
	p.ServerUS, p.CeilingUS = Median(p.serverUS), Median(p.ceilingUS)
}

// PairedFor returns the engine's paired measurement of scenario, or nil when it has no usable round.
func (e *Engine) PairedFor(scenario string) *Paired {
	for i := range e.Paired {
		if e.Paired[i].Scenario == scenario && len(e.Paired[i].Ratios) > 0 {
			return &e.Paired[i]
		}
	}
	return nil
}

// Result returns the engine's result for scenario, or nil.
func (e *Engine) Result(scenario string) *Result {
	for i := range e.Results {
		if e.Results[i].Scenario == scenario {
			return &e.Results[i]
		}
	}
	return nil
}

// Report is everything one run measured; bench.json is its JSON.
type Report struct {
	Started        time.Time         `json:"started"`
	Machine        Machine           `json:"machine"`
	Binary         string            `json:"binary"`
	BinaryBytes    int64             `json:"binary_bytes"`
	ServerEnv      map[string]string `json:"server_env"` // the settings the server ran with (no secrets)
	StartupSQLite  []float64         `json:"startup_sqlite_ms"`
	Ceilings       Ceilings          `json:"ceilings"`
	Engines        []Engine          `json:"engines"`
	Targets        []Target          `json:"targets"`
	Notes          []string          `json:"notes,omitempty"`
	ElapsedSeconds float64           `json:"elapsed_s"`
}

// Target is one goal of the performance issue and whether this run met it. Pass is nil for a figure
// that is only reported, or that this run could not measure.
type Target struct {
	Name   string  `json:"name"`
	Value  float64 `json:"value"`
	Limit  float64 `json:"limit,omitempty"`
	Unit   string  `json:"unit"`
	Pass   *bool   `json:"pass,omitempty"`
	Detail string  `json:"detail,omitempty"`
}

// Verdict is PASS, FAIL, INFO or SKIP.
func (t Target) Verdict() string {
	switch {
	case t.Pass != nil && *t.Pass:
		return "PASS"
	case t.Pass != nil:
		return "FAIL"
	case t.Detail == "not measured":
		return "SKIP"
	}
	return "INFO"
}

// Ratio is value/ceiling, and false when there is no ceiling to compare with.
func Ratio(value, ceiling float64) (float64, bool) {
	if ceiling <= 0 || math.IsNaN(ceiling) || math.IsNaN(value) {
		return 0, false
	}
	return value / ceiling, true
}

// CeilingFor is the throughput a scenario is compared with, and the ceiling's label; 0 when it has none.
func (r *Report) CeilingFor(engine, scenario string) (float64, string) {
	c := r.Ceilings
	switch scenario {
	case ScenarioHealth:
		if c.Health != nil {
			return c.Health.RPS, "(a)"
		}
	case ScenarioItemGet:
		if it := c.Item[engine]; it != nil {
			return it.RPS, "(b)"
		}
	case ScenarioLogin:
		if c.Argon2 != nil {
			return c.Argon2.PerSecond, "(c)"
		}
	}
	return 0, ""
}

func ratioTarget(name string, value, ceiling, limit float64, enforce bool) Target {
	t := Target{Name: name, Limit: limit, Unit: "ratio"}
	ratio, ok := Ratio(value, ceiling)
	if !ok {
		t.Detail = "not measured"
		return t
	}
	t.Value = ratio
	t.Detail = fmt.Sprintf("%.0f/s of %.0f/s", value, ceiling)
	if enforce {
		pass := ratio >= limit
		t.Pass = &pass
	}
	return t
}

// pairedTarget judges the median of the paired rounds when there are some, else the ratio of the
// scenario's own run to its ceiling's, measured apart.
func pairedTarget(name string, p *Paired, value, ceiling, limit float64, enforce bool) Target {
	t := ratioTarget(name, value, ceiling, limit, enforce)
	if p == nil {
		return t
	}
	apart := t.Detail
	t.Value = p.Median
	t.Detail = fmt.Sprintf("paired median of %d rounds, %.0f%% to %.0f%%; measured apart: %s", len(p.Ratios), p.Min*100, p.Max*100, apart)
	if apart == "not measured" {
		t.Detail = fmt.Sprintf("paired median of %d rounds, %.0f%% to %.0f%%", len(p.Ratios), p.Min*100, p.Max*100)
	}
	if enforce {
		pass := p.Median >= limit
		t.Pass = &pass
	}
	return t
}

func below(name string, value, limit float64, unit string, measured, enforce bool, detail string) Target {
	t := Target{Name: name, Value: value, Limit: limit, Unit: unit, Detail: detail}
	if !measured {
		t.Detail = "not measured"
		return t
	}
	if enforce {
		pass := value < limit
		t.Pass = &pass
	}
	return t
}

// Median is the middle value (the mean of the two middle ones for an even count); 0 for none.
func Median(values []float64) float64 {
	if len(values) == 0 {
		return 0
	}
	s := append([]float64(nil), values...)
	for i := 1; i < len(s); i++ { // insertion sort: a handful of values
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

const mib = 1 << 20

// Evaluate computes the targets of the performance issue from the measurements.
func (r *Report) Evaluate() []Target {
	var ts []Target
	for i := range r.Engines {
		e := &r.Engines[i]
		if e.Skipped != "" {
			continue
		}
		rps := func(s string) float64 {
			if res := e.Result(s); res != nil && res.Errors == 0 {
				return res.RPS
			}
			return math.NaN() // a run with wrong answers is no evidence of speed
		}
		ceil := func(s string) float64 { v, _ := r.CeilingFor(e.Name, s); return v }
		ts = append(ts,
			pairedTarget(e.Name+": authenticated item read >= 60% of ceiling (b)", e.PairedFor(ScenarioItemGet), rps(ScenarioItemGet), ceil(ScenarioItemGet), 0.60, e.Name == "postgres"),
			pairedTarget(e.Name+": /health >= 70% of ceiling (a)", e.PairedFor(ScenarioHealth), rps(ScenarioHealth), ceil(ScenarioHealth), 0.70, true),
			pairedTarget(e.Name+": login >= 85% of ceiling (c)", e.PairedFor(ScenarioLogin), rps(ScenarioLogin), ceil(ScenarioLogin), 0.85, true),
		)
		open := e.Result(ScenarioItemOpen)
		var p99 float64
		detail := ""
		if open != nil {
			p99 = open.Latency.P99
			detail = fmt.Sprintf("at %.0f/s; %d errors", open.TargetRate, open.Errors)
		}
		ts = append(ts,
			below(e.Name+": p99 of authenticated reads at half the maximum rate < 5 ms", p99, 5, "ms",
				open != nil && open.Latency.Count > 0, open != nil && open.Errors == 0, detail),
			below(e.Name+": server idle RSS < 30 MiB", float64(e.IdleRSS)/mib, 30, "MiB", e.IdleRSS > 0, e.Name == "sqlite", ""),
		)
	}
	startup := Median(r.StartupSQLite)
	ts = append(ts,
		below("sqlite (default): start to /readyz 200 < 300 ms", startup, 300, "ms", len(r.StartupSQLite) > 0, true,
			fmt.Sprintf("median of %d fresh starts", len(r.StartupSQLite))),
		Target{Name: "release binary size", Value: float64(r.BinaryBytes) / mib, Unit: "MiB", Detail: r.Binary},
	)
	return ts
}

// WriteTable prints the report for a reader: the machine, every scenario with its ratio to its
// ceiling, the ceilings and the targets.
func (r *Report) WriteTable(w io.Writer) {
	m := r.Machine
	fmt.Fprintf(w, "machine: %d CPUs, %s, Linux %s, %s\n", m.CPUs, m.CPUModel, m.Kernel, m.GoVersion)
	if m.Pinned {
		fmt.Fprintf(w, "pinning: server, database and ceilings on CPU %s; load generator on CPU %s\n", m.ServerCPUs, m.LoadCPUs)
	} else {
		fmt.Fprintf(w, "pinning: NONE (one CPU): server and generator share it; figures are pessimistic\n")
	}
	if m.LoadBefore > 0 || m.LoadAfter > 0 {
		fmt.Fprintf(w, "load average (1 min): %.2f before the run, %.2f after\n", m.LoadBefore, m.LoadAfter)
	}
	fmt.Fprintf(w, "binary: %s (%.1f MiB)\n\n", r.Binary, float64(r.BinaryBytes)/mib)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "engine\tscenario\tmode\tconc\treq/s\tp50 ms\tp90 ms\tp99 ms\tmax ms\terrors\tsrv CPU s\tsrv µs/req\tdb CPU s\tpeak RSS MiB\tgen CPU\tother CPU s\tvs ceiling\t")
	row := func(engine string, res *Result, ratio string) {
		mode := res.Mode
		if res.Mode == "open" {
			mode = fmt.Sprintf("open@%.0f", res.TargetRate)
		}
		perReq := "-"
		if res.Requests > 0 && res.ServerCPU > 0 {
			perReq = fmt.Sprintf("%.0f", res.ServerCPU/float64(res.Requests)*1e6)
		}
		gen := "-"
		if res.Seconds > 0 && res.GenProcs > 0 {
			gen = fmt.Sprintf("%.0f%%", res.GenCPU/res.Seconds/float64(res.GenProcs)*100)
		}
		db := "-"
		if res.DBCPU > 0 {
			db = fmt.Sprintf("%.2f", res.DBCPU)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%.0f\t%.2f\t%.2f\t%.2f\t%.1f\t%d\t%.2f\t%s\t%s\t%.1f\t%s\t%.2f\t%s\t\n",
			engine, res.Scenario, mode, res.Concurrency, res.RPS, res.Latency.P50, res.Latency.P90, res.Latency.P99,
			res.Latency.Max, res.Errors, res.ServerCPU, perReq, db, float64(res.ServerPeakRSS)/mib, gen, res.OtherCPU, ratio)
	}
	for i := range r.Engines {
		e := &r.Engines[i]
		if e.Skipped != "" {
			fmt.Fprintf(tw, "%s\t(skipped: %s)\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\n", e.Name, e.Skipped)
			continue
		}
		for j := range e.Results {
			res := &e.Results[j]
			ratio := "-"
			if c, label := r.CeilingFor(e.Name, res.Scenario); c > 0 {
				ratio = fmt.Sprintf("%.0f%% of %s", res.RPS/c*100, label)
			}
			if hh := r.Ceilings.HealthHeaders; res.Scenario == ScenarioHealth && hh != nil && hh.RPS > 0 {
				ratio += fmt.Sprintf(", %.0f%% of (a')", res.RPS/hh.RPS*100)
			}
			row(e.Name, res, ratio)
		}
	}
	if c := r.Ceilings.Health; c != nil {
		row("-", c, "ceiling (a)")
	}
	if c := r.Ceilings.HealthHeaders; c != nil {
		row("-", c, "ceiling (a'): (a) + Fortress's headers")
	}
	for i := range r.Engines {
		if c := r.Ceilings.Item[r.Engines[i].Name]; c != nil {
			row(r.Engines[i].Name, c, "ceiling (b)")
		}
	}
	_ = tw.Flush()
	for i := range r.Engines {
		for _, p := range r.Engines[i].Paired {
			if len(p.Ratios) == 0 {
				fmt.Fprintf(w, "paired %s %s / %s: no round without errors (%d errors)\n", r.Engines[i].Name, p.Scenario, p.Ceiling, p.Errors)
				continue
			}
			cpu := fmt.Sprintf("server %.0f µs/req, ceiling %.0f µs/req", p.ServerUS, p.CeilingUS)
			if p.CeilingUS == 0 { // ceiling (c) is hashes, not requests
				cpu = fmt.Sprintf("server %.0f µs/req", p.ServerUS)
			}
			fmt.Fprintf(w, "paired %s %s / %s: median %.0f%% (%.0f%% to %.0f%% in %d rounds); %s\n",
				r.Engines[i].Name, p.Scenario, p.Ceiling, p.Median*100, p.Min*100, p.Max*100, len(p.Ratios), cpu)
		}
	}
	for _, a := range []*Argon2Result{r.Ceilings.Argon2, r.Ceilings.Argon2All} {
		if a != nil {
			fmt.Fprintf(w, "ceiling (c): %.1f Argon2id hashes/s (m=%d KiB, t=%d, p=%d) with %d workers on CPU %s\n",
				a.PerSecond, a.MemoryKiB, a.Time, a.Threads, a.Workers, a.CPUs)
		}
	}
	fmt.Fprintln(w, "\n(srv CPU s: user+system CPU of the server process in the measured window, and per answered request;")
	fmt.Fprintln(w, " db CPU s: PostgreSQL's postmaster and backends when the harness started it; gen CPU: the generator's")
	fmt.Fprintln(w, " share of its own CPUs; other CPU s: what the rest of the machine used meanwhile (noise);")
	fmt.Fprintln(w, " open@N: open loop at N requests/s, latency from the scheduled release)")
	fmt.Fprintln(w, "\ntargets:")
	for _, t := range r.Targets {
		value := fmt.Sprintf("%.2f %s", t.Value, t.Unit)
		if t.Unit == "ratio" {
			value = fmt.Sprintf("%.0f%%", t.Value*100)
		}
		if t.Verdict() == "SKIP" {
			value = "-"
		}
		line := fmt.Sprintf("  %-4s %s: %s", t.Verdict(), t.Name, value)
		if t.Detail != "" && t.Verdict() != "SKIP" {
			line += " (" + t.Detail + ")"
		}
		fmt.Fprintln(w, line)
	}
	for _, n := range r.Notes {
		fmt.Fprintln(w, "note: "+strings.TrimSpace(n))
	}
}
