//go:build !pprof

package main

import "log/slog"

// startProfiling is the profiling of a binary built without it (the default: the release binary has no
// profiler and no profiling endpoint, on purpose). Build with `-tags pprof` for profiles written when the
// server stops (profiling_pprof.go); paths configured for this binary are reported, not ignored.
func startProfiling(getenv func(string) string, logger *slog.Logger) (stop func() error, err error) {
	if cpu, allocs := profilePaths(getenv); cpu != "" || allocs != "" {
		logger.Warn("a profile path is configured (" + envCPUProfile + " or " + envAllocProfile + "), but this binary was built without profiling: build with -tags pprof")
	}
	return func() error { return nil }, nil
}
