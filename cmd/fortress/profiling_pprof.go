//go:build pprof

package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
)

// startProfiling starts a CPU profile of the serving process when FORTRESS_CPU_PROFILE names a file, and
// stop ends it and writes the allocation profile FORTRESS_ALLOC_PROFILE names. Only a binary built with
// `-tags pprof` (`make profile`, cmd/fortress-bench profile) has it: the release binary has no profiler.
// serve starts it once the API is built, so the profile is of serving, not of start-up and migrations.
func startProfiling(getenv func(string) string, logger *slog.Logger) (stop func() error, err error) {
	cpuPath, allocsPath := profilePaths(getenv)
	stopCPU := func() error { return nil }
	if cpuPath != "" {
		out, err := os.Create(cpuPath) //nolint:gosec // G304: the path the operator configured
		if err != nil {
			return nil, fmt.Errorf("%s: %w", envCPUProfile, err)
		}
		if err := pprof.StartCPUProfile(out); err != nil {
			_ = out.Close()
			return nil, fmt.Errorf("%s: %w", envCPUProfile, err)
		}
		stopCPU = func() error {
			pprof.StopCPUProfile()
			return out.Close()
		}
	}
	// The allocation profile's file is created now too, so that a path that cannot be written fails
	// start-up rather than the end of a long run.
	writeAllocs := func() error { return nil }
	if allocsPath != "" {
		f, err := os.Create(allocsPath) //nolint:gosec // G304: the path the operator configured
		if err != nil {
			return nil, errors.Join(fmt.Errorf("%s: %w", envAllocProfile, err), stopCPU())
		}
		writeAllocs = func() error {
			runtime.GC() // the profile reports as of the last collection: include what came after it
			return errors.Join(pprof.Lookup("allocs").WriteTo(f, 0), f.Close())
		}
	}
	if cpuPath != "" || allocsPath != "" {
		logger.Info("profiling", "cpu_profile", cpuPath, "alloc_profile", allocsPath)
	}
	return func() error {
		return errors.Join(stopCPU(), writeAllocs())
	}, nil
}
