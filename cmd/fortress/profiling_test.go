package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// linkedPackages lists the packages a build of this command with the given tags links.
func linkedPackages(t *testing.T, tags string) []string {
	t.Helper()
	out, err := exec.CommandContext(t.Context(), "go", "list", "-deps", "-tags", tags, "-f", "{{.ImportPath}}", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	return strings.Fields(string(out))
}

// TestReleaseBuildHasNoProfiler: the profiler is only in a binary built with -tags pprof; the release
// binary does not link runtime/pprof at all (nor net/http/pprof, its endpoint).
func TestReleaseBuildHasNoProfiler(t *testing.T) {
	release := linkedPackages(t, "")
	for _, pkg := range []string{"runtime/pprof", "net/http/pprof"} {
		if slices.Contains(release, pkg) {
			t.Errorf("the release build links %s, want no profiler", pkg)
		}
	}
	if !slices.Contains(linkedPackages(t, "pprof"), "runtime/pprof") {
		t.Error("the -tags pprof build does not link runtime/pprof: is the check above still looking at the right thing?")
	}
}
