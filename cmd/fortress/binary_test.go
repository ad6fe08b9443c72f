package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fortress-dev/fortress/internal/pgtest"
)

// These tests run the real binary, as an operator or a container runtime would.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

func binary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "fortress-bin-") //nolint:usetesting // built once and shared by every test of the package; TestMain removes it
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "fortress")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = errors.New(string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("go build: %v", buildErr)
	}
	return binPath
}

// command prepares the binary with exactly the given environment, in a temporary working directory.
func command(t *testing.T, vars map[string]string, args ...string) *exec.Cmd {
	cmd := exec.Command(binary(t), args...)
	cmd.Dir = t.TempDir()
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	for k, v := range vars {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	return cmd
}

func exitCode(err error) int {
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return exit.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

func TestBinaryExitCodes(t *testing.T) {
	tests := []struct {
		args []string
		vars map[string]string
		code int
		want string
	}{
		{[]string{"bogus"}, nil, 2, "Usage: fortress"},
		{[]string{"serve", "--nope"}, nil, 2, "flag provided but not defined"},
		{[]string{"version"}, nil, 0, "fortress "},
		{[]string{"serve"}, map[string]string{"FORTRESS_ENV": "production", "JWT_SECRET_KEY": "change-me-to-a-long-random-string-at-least-32-bytes"}, 1, "JWT_SECRET_KEY"},
		{[]string{"healthcheck", "http://127.0.0.1:1/health"}, nil, 1, "healthcheck"},
	}
	for _, tc := range tests {
		out, err := command(t, tc.vars, tc.args...).CombinedOutput()
		if got := exitCode(err); got != tc.code {
			t.Errorf("fortress %v: exit %d, want %d; output %q", tc.args, got, tc.code, out)
		}
		if !strings.Contains(string(out), tc.want) {
			t.Errorf("fortress %v: output %q, want it to contain %q", tc.args, out, tc.want)
		}
		if strings.Contains(string(out), "goroutine") || strings.Contains(string(out), "panic") {
			t.Errorf("fortress %v: output shows a panic: %q", tc.args, out)
		}
	}
}

// TestBinaryConcurrentMigrations starts several `migrate up` processes at once on one empty PostgreSQL
// database, as replicas of a scaled deployment would: each migration must be applied exactly once.
func TestBinaryConcurrentMigrations(t *testing.T) {
	vars := map[string]string{"DATABASE_URL": pgtest.NewDatabase(t)}
	const processes = 4
	outputs := make([]string, processes)
	errs := make([]error, processes)
	var wg sync.WaitGroup
	for i := range processes {
		cmd := command(t, vars, "migrate", "up")
		wg.Go(func() {
			out, err := cmd.CombinedOutput()
			outputs[i], errs[i] = string(out), err
		})
	}
	wg.Wait()
	applied := map[string]int{}
	for i := range processes {
		if errs[i] != nil {
			t.Fatalf("process %d: %v: %s", i, errs[i], outputs[i])
		}
		for _, line := range strings.Split(outputs[i], "\n") {
			if v, ok := strings.CutPrefix(line, "applied migration "); ok {
				applied[v]++
			}
		}
		if !strings.Contains(outputs[i], "(current)") {
			t.Errorf("process %d did not end current: %q", i, outputs[i])
		}
	}
	if len(applied) == 0 {
		t.Fatal("no process applied any migration")
	}
	for v, n := range applied {
		if n != 1 {
			t.Errorf("migration %s applied %d times, want exactly once", v, n)
		}
	}
}

// TestBinaryServeAndTerminate runs the server, uses it over HTTP, checks the healthcheck command, and
// stops it with SIGTERM: it must exit 0 after a graceful shutdown.
func TestBinaryServeAndTerminate(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { serveAndTerminate(t, baseEnv(t)) })
	t.Run("postgres", func(t *testing.T) {
		vars := baseEnv(t)
		vars["DATABASE_URL"] = pgtest.NewDatabase(t)
		vars["AUTO_MIGRATE"] = "true"
		serveAndTerminate(t, vars)
	})
}

// startBinary runs `fortress serve` as a process and returns it with its base URL once it listens.
func startBinary(t *testing.T, vars map[string]string) (*exec.Cmd, string) {
	cmd, base, _ := startBinaryLogs(t, vars)
	return cmd, base
}

// startBinaryLogs is startBinary that also returns a function waiting for a log line by its msg.
func startBinaryLogs(t *testing.T, vars map[string]string) (*exec.Cmd, string, func(string) map[string]any) {
	t.Helper()
	cmd := command(t, vars, "serve")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	lines := make(chan map[string]any, 100)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var rec map[string]any
			if json.Unmarshal(sc.Bytes(), &rec) == nil {
				select {
				case lines <- rec:
				default: // nobody is waiting for a line: drop it rather than block the server's stderr
				}
			}
		}
		close(lines)
	}()
	waitLine := func(msg string) map[string]any {
		timeout := time.After(20 * time.Second)
		for {
			select {
			case rec, ok := <-lines:
				if !ok {
					t.Fatalf("the server exited before logging %q", msg)
				}
				if rec["msg"] == msg {
					return rec
				}
			case <-timeout:
				t.Fatalf("no log line %q within the bound", msg)
			}
		}
	}
	base := "http://" + waitLine("fortress started")["addr"].(string)
	return cmd, base, waitLine
}

func serveAndTerminate(t *testing.T, vars map[string]string) {
	cmd, base, waitLine := startBinaryLogs(t, vars)
	exercise(t, base)

	if out, err := command(t, nil, "healthcheck", base+"/health").CombinedOutput(); err != nil {
		t.Fatalf("healthcheck: %v: %s", err, out)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitLine("stopped")
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v, want status 0", err)
	}
	if out, err := command(t, nil, "healthcheck", "-timeout", "2s", base+"/health").CombinedOutput(); exitCode(err) != 1 {
		t.Fatalf("healthcheck of a stopped server: exit %d, want 1 (%s)", exitCode(err), out)
	}
}
