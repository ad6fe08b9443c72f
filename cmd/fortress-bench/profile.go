package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/fortress-dev/fortress/config"
	"github.com/fortress-dev/fortress/internal/bench"
)

// The release binary has no profiling endpoint, on purpose. To see where a scenario's time goes, the
// profile subcommand runs it against serve-profiled: the server newFortressAPI builds as cmd/fortress's
// serve.go does (wiring.go), under a CPU profile, behind the same net/http server settings, pinned and
// loaded exactly as in the benchmark.

// runProfile runs scenarios against serve-profiled on one engine and leaves a CPU profile per run.
func runProfile(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var o options
	fs := flag.NewFlagSet("fortress-bench profile", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o.register(fs, getenv)
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
	h, err := newHarness(o, getenv, stderr)
	if err != nil {
		return err
	}
	for _, engine := range o.engines {
		path, err := filepath.Abs(strings.ReplaceAll(*out, "ENGINE", engine))
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return err
		}
		argv := []string{h.self, "serve-profiled", "-cpuprofile", path}
		if *memOut != "" {
			mem, err := filepath.Abs(strings.ReplaceAll(*memOut, "ENGINE", engine))
			if err != nil {
				return err
			}
			argv = append(argv, "-memprofile", mem)
		}
		h.serverArgv = func(string) []string { return argv }
		e, err := h.engine(ctx, engine, false)
		if err != nil {
			return fmt.Errorf("%s: %w", engine, err)
		}
		h.report.Engines = append(h.report.Engines, e)
		if e.Skipped == "" {
			fmt.Fprintf(stdout, "%s: CPU profile in %s\n  go tool pprof -top -cum %s\n", engine, path, path)
		}
	}
	h.report.WriteTable(stdout)
	return nil
}

// serveProfiled serves the API as `fortress serve` does (newFortressAPI), from the same environment, and
// writes a CPU profile of the whole process, and optionally its allocations, when it is told to stop.
func serveProfiled(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) (err error) {
	fs := flag.NewFlagSet("serve-profiled", flag.ContinueOnError)
	fs.SetOutput(stderr)
	profile := fs.String("cpuprofile", "", "where to write the CPU profile")
	memProfile := fs.String("memprofile", "", "where to write the allocation profile (none when empty)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *profile == "" {
		return errors.New("serve-profiled: -cpuprofile is required")
	}
	getenv, err = config.WithDotEnv(getenv, ".env")
	if err != nil {
		return err
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	f, err := newFortressAPI(ctx, cfg, stderr)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, f.Close()) }()

	out, err := os.Create(*profile)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, out.Close()) }()
	if err := pprof.StartCPUProfile(out); err != nil {
		return err
	}
	defer pprof.StopCPUProfile()
	if *memProfile != "" {
		defer func() { err = errors.Join(err, writeAllocs(*memProfile)) }()
	}

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Addr)
	if err != nil {
		return err
	}
	srv := f.httpServer(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	f.api.Drain()
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

// writeAllocs writes the allocation profile (pprof's allocs: every allocation since the start, sampled).
func writeAllocs(path string) error {
	f, err := os.Create(path) //nolint:gosec // G304: the path the operator gave
	if err != nil {
		return err
	}
	return errors.Join(pprof.Lookup("allocs").WriteTo(f, 0), f.Close())
}
