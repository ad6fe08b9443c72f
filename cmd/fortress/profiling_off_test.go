//go:build !pprof

package main

import "testing"

// TestProfilingNotBuiltIn: a binary without the profiler says so when a profile is asked for, and serves.
func TestProfilingNotBuiltIn(t *testing.T) {
	vars := baseEnv(t)
	vars[envCPUProfile] = t.TempDir() + "/cpu.prof"
	s := startServe(t, vars)
	s.log.waitFor(t, "a profile path is configured ("+envCPUProfile+" or "+envAllocProfile+"), but this binary was built without profiling: build with -tags pprof")
	call(t, "GET", s.base+"/health", "", "", "", nil)
}
