package bench

import (
	"strings"
	"testing"
)

func TestRatio(t *testing.T) {
	if r, ok := Ratio(60, 100); !ok || r != 0.6 {
		t.Errorf("Ratio(60, 100) got %v, %v; want 0.6, true", r, ok)
	}
	for _, c := range []float64{0, -1} {
		if _, ok := Ratio(60, c); ok {
			t.Errorf("Ratio against ceiling %v: got ok, want no ratio", c)
		}
	}
}

// sample is a run with every measurement, tuned so that each target's verdict is known.
func sample() *Report {
	res := func(scenario string, rps float64) Result {
		return Result{Scenario: scenario, Mode: "closed", Concurrency: 8, Seconds: 5, Requests: int64(rps * 5), RPS: rps,
			ServerCPU: 5, GenCPU: 2, GenProcs: 1}
	}
	open := res(ScenarioItemOpen, 500)
	open.Mode, open.TargetRate, open.Latency = "open", 500, Summary{Count: 2500, P50: 0.4, P99: 3.2}
	health := res("ceiling-health", 10_000)
	itemSQLite, itemPG := res("ceiling-item", 2000), res("ceiling-item", 1000)
	return &Report{
		Machine: Machine{CPUs: 2, CPUModel: "Test CPU", Kernel: "6.1", GoVersion: "go1.26", ServerCPUs: "0", LoadCPUs: "1", Pinned: true,
			LoadBefore: 0.5, LoadAfter: 1.25},
		Binary:        "bin/fortress",
		BinaryBytes:   20 << 20,
		StartupSQLite: []float64{120, 80, 100},
		Ceilings: Ceilings{Health: &health, Item: map[string]*Result{"sqlite": &itemSQLite, "postgres": &itemPG},
			Argon2: &Argon2Result{PerSecond: 50, Workers: 1, CPUs: "0"}},
		Engines: []Engine{
			{Name: "sqlite", IdleRSS: 20 << 20, Results: []Result{
				res(ScenarioHealth, 7500), res(ScenarioItemGet, 1000), open, res(ScenarioLogin, 40),
			}},
			{Name: "postgres", IdleRSS: 40 << 20, Results: []Result{
				res(ScenarioHealth, 6000), res(ScenarioItemGet, 700), res(ScenarioLogin, 45),
			}},
			{Name: "mysql", Skipped: "not an engine"},
		},
	}
}

func TestEvaluateJudgesEachTarget(t *testing.T) {
	r := sample()
	r.Engines[1].Results[1].Errors = 0
	verdicts := map[string]string{}
	for _, tg := range r.Evaluate() {
		verdicts[tg.Name] = tg.Verdict()
	}
	want := map[string]string{
		"sqlite: authenticated item read >= 60% of ceiling (b)":                "INFO", // 50%, only PostgreSQL is held to it
		"sqlite: /health >= 70% of ceiling (a)":                                "PASS", // 75%
		"sqlite: login >= 85% of ceiling (c)":                                  "FAIL", // 80%
		"sqlite: p99 of authenticated reads at half the maximum rate < 5 ms":   "PASS",
		"sqlite: server idle RSS < 30 MiB":                                     "PASS",
		"postgres: authenticated item read >= 60% of ceiling (b)":              "PASS", // 70%
		"postgres: /health >= 70% of ceiling (a)":                              "FAIL", // 60%
		"postgres: login >= 85% of ceiling (c)":                                "PASS", // 90%
		"postgres: p99 of authenticated reads at half the maximum rate < 5 ms": "SKIP", // not run
		"postgres: server idle RSS < 30 MiB":                                   "INFO", // 40 MiB, reported only
		"sqlite (default): start to /readyz 200 < 300 ms":                      "PASS", // median 100
		"release binary size":                                                  "INFO",
	}
	for name, v := range want {
		if verdicts[name] != v {
			t.Errorf("%s: got %q, want %s", name, verdicts[name], v)
		}
	}
	if len(verdicts) != len(want) {
		t.Errorf("got %d targets, want %d: %v", len(verdicts), len(want), verdicts)
	}
}

func TestEvaluateDistrustsRunsWithErrors(t *testing.T) {
	r := sample()
	r.Engines[0].Results[0].Errors = 3 // /health answered wrongly three times
	r.Engines[0].Results[2].Errors = 1 // and the open loop once
	for _, tg := range r.Evaluate() {
		switch tg.Name {
		case "sqlite: /health >= 70% of ceiling (a)":
			if tg.Verdict() != "SKIP" {
				t.Errorf("%s with wrong answers: got %s, want SKIP", tg.Name, tg.Verdict())
			}
		case "sqlite: p99 of authenticated reads at half the maximum rate < 5 ms":
			if tg.Verdict() != "INFO" {
				t.Errorf("%s with an error: got %s, want INFO (reported, not judged)", tg.Name, tg.Verdict())
			}
		}
	}
}

func TestWriteTableShowsRatiosAndVerdicts(t *testing.T) {
	r := sample()
	r.Targets = r.Evaluate()
	r.Notes = []string{"a note"}
	r.Ceilings.Argon2All = &Argon2Result{PerSecond: 90, Workers: 2, CPUs: "all"}
	headers := Result{Scenario: "ceiling-health-headers", Mode: "closed", Seconds: 5, RPS: 8000}
	r.Ceilings.HealthHeaders = &headers
	var b strings.Builder
	r.WriteTable(&b)
	out := b.String()
	for _, want := range []string{
		"2 CPUs, Test CPU", "load average (1 min): 0.50 before the run, 1.25 after", "server, database and ceilings on CPU 0; load generator on CPU 1",
		"75% of (a), 94% of (a')", "ceiling (a'): (a) + Fortress's headers", "50% of (b)", "80% of (c)", "open@500", "ceiling (a)", "ceiling (b)",
		"ceiling (c): 50.0 Argon2id hashes/s", "skipped: not an engine",
		"FAIL postgres: /health >= 70% of ceiling (a): 60% (6000/s of 10000/s)",
		"PASS sqlite (default): start to /readyz 200 < 300 ms: 100.00 ms", "note: a note",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	r.Machine.Pinned = false
	b.Reset()
	r.WriteTable(&b)
	if !strings.Contains(b.String(), "pinning: NONE") {
		t.Errorf("unpinned run: table does not say so:\n%s", b.String())
	}
}

func TestPairedRoundsDecideTheRatioTargets(t *testing.T) {
	r := sample()
	var p Paired
	for _, rps := range []float64{700, 650, 900} { // against a ceiling of 1000/s in every round
		p.AddRound(Result{RPS: rps, Requests: int64(rps), ServerCPU: 1}, Result{RPS: 1000, Requests: 1000, ServerCPU: 0.5})
	}
	p.AddRound(Result{RPS: 100, Errors: 3}, Result{RPS: 1000}) // wrong answers: left out, counted
	p.Scenario, p.Ceiling = ScenarioItemGet, "(b)"
	if p.Median != 0.7 || p.Min != 0.65 || p.Max != 0.9 || p.Errors != 3 || len(p.Ratios) != 3 {
		t.Fatalf("paired got %+v, want median 0.7 of 3 rounds, 0.65 to 0.9, 3 errors", p)
	}
	if p.CeilingUS != 500 || p.ServerUS < 1000 || p.ServerUS > 1600 {
		t.Errorf("CPU per request got server %v, ceiling %v µs; want the rounds' medians", p.ServerUS, p.CeilingUS)
	}
	r.Engines[1].Paired = []Paired{p} // postgres: apart it is 70% of (b) too, but the paired median decides
	r.Engines[1].Results[1].RPS = 100
	for _, target := range r.Evaluate() {
		if target.Name == "postgres: authenticated item read >= 60% of ceiling (b)" {
			if target.Verdict() != "PASS" || target.Value != 0.7 || !strings.Contains(target.Detail, "paired median of 3 rounds, 65% to 90%") {
				t.Errorf("target got %s %v (%s), want PASS on the paired median", target.Verdict(), target.Value, target.Detail)
			}
		}
	}
	var b strings.Builder
	r.WriteTable(&b)
	if !strings.Contains(b.String(), "paired postgres item-get / (b): median 70% (65% to 90% in 3 rounds)") {
		t.Errorf("table lacks the paired line:\n%s", b.String())
	}
	r.Engines[1].Paired = []Paired{{Scenario: ScenarioHealth, Ceiling: "(a)", Errors: 2}}
	b.Reset()
	r.WriteTable(&b)
	if !strings.Contains(b.String(), "no round without errors (2 errors)") {
		t.Errorf("table does not say the paired rounds all failed:\n%s", b.String())
	}
}
