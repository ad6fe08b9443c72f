//go:build pprof

package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestProfilingWritesProfilesAtStop: a binary built with -tags pprof writes the CPU and allocation
// profiles the environment names when serve stops.
func TestProfilingWritesProfilesAtStop(t *testing.T) {
	dir := t.TempDir()
	vars := baseEnv(t)
	vars[envCPUProfile] = filepath.Join(dir, "cpu.prof")
	vars[envAllocProfile] = filepath.Join(dir, "allocs.prof")
	s := startServe(t, vars)
	exercise(t, s.base)
	if err := s.stop(t); err != nil {
		t.Fatalf("serve after SIGTERM: got %v, want nil", err)
	}
	for _, path := range []string{vars[envCPUProfile], vars[envAllocProfile]} {
		if fi, err := os.Stat(path); err != nil || fi.Size() == 0 {
			t.Errorf("%s: got %v, %v; want a non-empty profile", path, fi, err)
		}
	}
}

// TestProfilingRefusesAnUnwritablePath: a profile that cannot be written fails start-up, not the end of
// a long measurement.
func TestProfilingRefusesAnUnwritablePath(t *testing.T) {
	vars := baseEnv(t)
	vars[envCPUProfile] = filepath.Join(t.TempDir(), "missing", "cpu.prof")
	if err := run(t.Context(), []string{"fortress", "serve"}, env(vars), os.Stdout, &logSink{}); err == nil {
		t.Fatal("serve with an unwritable CPU profile path: got no error, want one")
	}
}
