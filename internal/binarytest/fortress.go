package binarytest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// buildBound bounds `go build`: a cold build cache on a loaded two-core machine takes minutes, a hang
// must still fail the run.
const buildBound = 10 * time.Minute

// logTail is how many of a server's last log lines a failure message shows.
const logTail = 40

// build holds the fortress binary, built once per test binary.
var build struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// Build returns the path of the fortress binary, built from this checkout on first use and shared by
// every test of the test binary (parallel ones included); TestMain calls RemoveBuild once the tests ran.
func Build(t testing.TB) string {
	t.Helper()
	build.once.Do(func() { build.dir, build.path, build.err = compile() })
	if build.err != nil {
		t.Fatalf("go build ./cmd/fortress: %v", build.err)
	}
	return build.path
}

// compile builds cmd/fortress into a new temporary directory, which it returns even on failure, for
// RemoveBuild.
func compile() (dir, path string, err error) {
	dir, err = os.MkdirTemp("", "fortress-binarytest-")
	if err != nil {
		return "", "", err
	}
	// World-readable, so that a test can run the binary as an unprivileged Account.
	if err := os.Chmod(dir, 0o755); err != nil { //nolint:gosec // G302: a directory holding only the test binary
		return dir, "", err
	}
	path = filepath.Join(dir, "fortress")
	ctx, cancel := context.WithTimeout(context.Background(), buildBound)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-o", path, "github.com/fortress-dev/fortress/cmd/fortress").CombinedOutput() //nolint:gosec // G204: go build of this module's own command, into a directory made here
	if err != nil {
		return dir, "", fmt.Errorf("%w\n%s", err, out)
	}
	return dir, path, nil
}

// RemoveBuild deletes the binary Build made, if any. Call it from TestMain after the tests ran, so that
// no binary outlives the test binary.
func RemoveBuild() {
	if build.dir != "" {
		_ = os.RemoveAll(build.dir) // a leftover temporary file cannot change the verdict of the tests that ran
	}
}

// Env is the configuration the end-to-end suites start a server from: a loopback port of the system's
// choosing, the signing secret, fast password hashing (the cost is not under test except where a test
// raises it), every rate limit off (a test turns on exactly the limits it tests) and a short shutdown
// grace period. The map is the caller's to change.
func Env(secret string) map[string]string {
	return map[string]string{
		"FORTRESS_ADDR":                "127.0.0.1:0",
		"JWT_SECRET_KEY":               secret,
		"FORTRESS_ARGON2_MEMORY_KIB":   "8192",
		"FORTRESS_ARGON2_TIME":         "1",
		"FORTRESS_RATE_LIMIT":          "off",
		"FORTRESS_LOGIN_RATE_LIMIT":    "off",
		"FORTRESS_REGISTER_RATE_LIMIT": "off",
		"FORTRESS_SHUTDOWN_TIMEOUT":    "5s",
	}
}

// Command returns the command `bin args...` with exactly env as its environment, so that nothing of the
// test binary's own (a developer's DATABASE_URL, say) changes what a test runs, and dir as its working
// directory: give an empty one, so that no .env file is picked up.
func Command(ctx context.Context, bin string, env map[string]string, dir string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, bin, args...) //nolint:gosec // G204: the fortress binary Build made, run only by tests
	cmd.Dir = dir
	cmd.Env = []string{}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

// Serve starts `bin serve` like Command, as acct unless acct is nil, keeping its log (standard error),
// and returns at once: Started waits for it to listen. The caller stops it (Stop); when the test binary
// dies first, the kernel kills it (Linux).
func Serve(t testing.TB, bin string, env map[string]string, dir string, acct *Account) *Process {
	t.Helper()
	// The server outlives any context of the caller's; Stop ends it.
	p, err := Start(Command(context.Background(), bin, env, dir, "serve"), acct)
	if err != nil {
		t.Fatalf("start fortress serve: %v", err)
	}
	return p
}

// Started waits for the server's "fortress started" log line and returns the address it names. It fails
// the test, with the end of the log, when the server (called name in the message) exits first or the line
// does not come within bound.
func (p *Process) Started(t testing.TB, name string, bound time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(bound)
	read := 0
	for {
		lines := p.Lines()
		for _, line := range lines[read:] {
			var rec struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "fortress started" {
				return rec.Addr
			}
		}
		read = len(lines)
		select {
		case <-p.done:
			t.Fatalf("%s exited before it started (%v); log:\n%s", name, p.err, p.tail(logTail))
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not log \"fortress started\" within %s; log:\n%s", name, bound, p.tail(logTail))
		}
	}
}

// WaitReady polls the server's GET /readyz at base (http://host:port) until it answers 200. It fails the
// test, with the end of the log, when the server (called name in the message) exits first or is not ready
// within bound.
func (p *Process) WaitReady(t testing.TB, name, base string, bound time.Duration) {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(bound)
	var last error
	for time.Now().Before(deadline) {
		last = ready(client, base)
		if last == nil {
			return
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited before it was ready (%v); log:\n%s", name, p.err, p.tail(logTail))
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatalf("%s: GET /readyz: got %v, want 200 within %s; log:\n%s", name, last, bound, p.tail(logTail))
}

// ready asks base's /readyz once: nil for a 200.
func ready(client *http.Client, base string) error {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, base+"/readyz", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close() // the status is the answer; the body says nothing more
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}
