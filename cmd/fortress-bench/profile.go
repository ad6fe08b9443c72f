package main

import (
	"context"
	"debug/buildinfo"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/fortress-dev/fortress/internal/bench"
)

// The release binary has no profiler, on purpose. To see where a scenario's time goes, the profile
// subcommand runs the scenarios against `fortress serve` from a binary built with -tags pprof (make
// profile builds bin/fortress-pprof): the server itself, wired by cmd/fortress alone, pinned and loaded
// exactly as in the benchmark. The variables below ask it for its profiles, which it writes when the
// harness stops it (cmd/fortress/profiling_pprof.go).
const (
	envCPUProfile   = "FORTRESS_CPU_PROFILE"
	envAllocProfile = "FORTRESS_ALLOC_PROFILE"
)

// runProfile runs scenarios against the profiling build on each engine and leaves a CPU profile per run.
func runProfile(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var o options
	fs := flag.NewFlagSet("fortress-bench profile", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o.register(fs, getenv)
	fs.StringVar(&o.bin, "bin", "bin/fortress-pprof", "cmd/fortress built with -tags pprof (make profile builds it)")
	out := fs.String("cpuprofile", "bin/profile-ENGINE.prof", "where to write the CPU profile (ENGINE is replaced)")
	memOut := fs.String("memprofile", "", "where to write the allocation profile (ENGINE is replaced; none when empty)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.engines == nil {
		o.engines = []string{"sqlite"}
	}
	if o.scenarios == nil {
		o.scenarios = []string{bench.ScenarioItemGet}
	}
	if err := o.validate(); err != nil {
		return err
	}
	bin, err := profilingBinary(o.bin)
	if err != nil {
		return err
	}
	h, err := newHarness(o, getenv, stderr)
	if err != nil {
		return err
	}
	h.serverArgv = func(string) []string { return []string{bin, "serve"} }
	for _, engine := range o.engines {
		cpuPath, err := profilePath(*out, engine)
		if err != nil {
			return err
		}
		h.profileEnv = []string{envCPUProfile + "=" + cpuPath}
		if *memOut != "" {
			allocsPath, err := profilePath(*memOut, engine)
			if err != nil {
				return err
			}
			h.profileEnv = append(h.profileEnv, envAllocProfile+"="+allocsPath)
		}
		e, err := h.engine(ctx, engine, false)
		if err != nil {
			return fmt.Errorf("%s: %w", engine, err)
		}
		h.report.Engines = append(h.report.Engines, e)
		if e.Skipped != "" {
			continue
		}
		if fi, err := os.Stat(cpuPath); err != nil || fi.Size() == 0 {
			return fmt.Errorf("%s: the server stopped without writing its CPU profile %s", engine, cpuPath)
		}
		fmt.Fprintf(stdout, "%s: CPU profile in %s\n  go tool pprof -top -cum %s\n", engine, cpuPath, cpuPath)
	}
	h.report.WriteTable(stdout)
	return nil
}

// profilePath is where an engine's profile goes (pattern with ENGINE replaced), as an absolute path: the
// server runs in a directory of its own. The directory is created.
func profilePath(pattern, engine string) (string, error) {
	path, err := filepath.Abs(strings.ReplaceAll(pattern, "ENGINE", engine))
	if err != nil {
		return "", err
	}
	return path, os.MkdirAll(filepath.Dir(path), 0o750)
}

// profilingBinary checks that bin is cmd/fortress built with -tags pprof, from the build information the
// Go toolchain records in it, and returns its absolute path. A release binary would serve, warn that it
// has no profiler and leave no profile at the end of the run.
func profilingBinary(bin string) (string, error) {
	const how = "run `make profile`, or build cmd/fortress with -tags pprof and pass -bin"
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		return "", fmt.Errorf("the profiling binary: %w (%s)", err, how)
	}
	for _, s := range info.Settings {
		if s.Key == "-tags" && slices.Contains(strings.Split(s.Value, ","), "pprof") {
			return filepath.Abs(bin)
		}
	}
	return "", fmt.Errorf("%s was built without -tags pprof, so it has no profiler (%s)", bin, how)
}
