package opstest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/fortress-dev/fortress/internal/pgtest"
)

func TestMain(m *testing.M) {
	code := pgtest.Main(m)
	if build.dir != "" {
		_ = os.RemoveAll(build.dir)
	}
	os.Exit(code)
}

// build holds the fortress binary, built once per test process.
var build struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// binary returns the path of the fortress binary, building it on first use.
func binary(t testing.TB) string {
	t.Helper()
	if testing.Short() {
		t.Skip("opstest runs real processes; skipped with -short")
	}
	build.once.Do(func() {
		dir, err := os.MkdirTemp("", "fortress-opstest-") //nolint:usetesting // shared by every test of the process; TestMain removes it
		if err != nil {
			build.err = err
			return
		}
		// World-readable so that tests running the binary as an unprivileged user can execute it.
		if err := os.Chmod(dir, 0o755); err != nil { //nolint:gosec // G302: a directory holding only the test binary
			build.err = err
			return
		}
		build.dir = dir
		build.path = filepath.Join(dir, "fortress")
		out, err := exec.Command("go", "build", "-o", build.path, "github.com/fortress-dev/fortress/cmd/fortress").CombinedOutput()
		if err != nil {
			build.err = fmt.Errorf("%w: %s", err, out)
		}
	})
	if build.err != nil {
		t.Fatalf("go build: %v", build.err)
	}
	return build.path
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
