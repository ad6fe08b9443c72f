package opstest

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"testing"

	"github.com/fortress-dev/fortress/internal/binarytest"
	"github.com/fortress-dev/fortress/internal/pgtest"
)

func TestMain(m *testing.M) {
	code := pgtest.Main(m)
	binarytest.RemoveBuild()
	os.Exit(code)
}

// binary returns the path of the fortress binary, built once per test process; opstest runs real
// processes, so -short skips every test that needs it.
func binary(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("opstest runs real processes; skipped with -short")
	}
	return binarytest.Build(t)
}

// ci reports whether the tests run under CI=true, where a missing tool is a failure, not a skip.
func ci() bool {
	v, _ := strconv.ParseBool(os.Getenv("CI"))
	return v
}

// requireTool returns the path of an external program the test needs. Without it the test is skipped
// with one line saying what is missing, except under CI=true, where it fails: CI installs every tool
// (.ci/run), so a missing one there is a broken build, not a reason to pass.
func requireTool(t testing.TB, name, why string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	missing(t, fmt.Sprintf("no %s on PATH (%s)", name, why))
	return ""
}

// missing ends a test that lacks a tool it needs: skip, or fail under CI=true.
func missing(t testing.TB, reason string) {
	t.Helper()
	if ci() {
		t.Fatalf("opstest: MISSING under CI=true: %s", reason)
	}
	t.Skipf("opstest: SKIPPING: %s", reason)
}

// cannot skips a test whose fault this machine cannot produce (not root, no tmpfs, no chattr support):
// a limit of the environment, not a missing tool, so it is a skip even under CI, said in one line.
func cannot(t testing.TB, format string, args ...any) {
	t.Helper()
	t.Skipf("opstest: SKIPPING, this machine cannot produce the fault: "+format, args...)
}

// figure logs a measured value in one greppable line: `go test -v ./opstest/ | grep FIGURE` lists what
// docs/operations.md reports.
func figure(t testing.TB, format string, args ...any) {
	t.Helper()
	t.Logf("FIGURE %s: "+format, append([]any{t.Name()}, args...)...)
}
