package browsertest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/fortress-dev/fortress/internal/binarytest"
)

// Bounds: generous for a loaded 2-core machine (make test runs other packages at the same time), short
// enough that a hang fails the run well within CI's time.
const (
	startBound  = 30 * time.Second
	scriptBound = 5 * time.Minute
)

// defaultChromium is Debian's chromium package; the test never uses a browser that playwright downloads.
const defaultChromium = "/usr/bin/chromium"

// jwtShape matches a JWT (base64url of '{"' starts every header and payload): no log line may hold one.
var jwtShape = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}`)

func TestMain(m *testing.M) {
	code := m.Run()
	binarytest.RemoveBuild()
	os.Exit(code)
}

// TestBrowser runs e2e.mjs in headless Chromium against the real binary; every check it prints is a
// subtest-like line in the log, and any failed check fails the test.
func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs a browser")
	}
	chromium, node := prerequisites(t)
	srv := start(t)

	artifacts, err := os.MkdirTemp("", "fortress-browsertest-") //nolint:usetesting // kept after a failure, for its screenshots
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), scriptBound)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "e2e.mjs")
	cmd.Env = append(os.Environ(), "BASE_URL="+srv.base, "CHROMIUM="+chromium, "ARTIFACTS="+artifacts)
	cmd.WaitDelay = 10 * time.Second
	began := time.Now()
	out, runErr := cmd.CombinedOutput()
	elapsed := time.Since(began)

	summary := ""
	var failures []string
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		switch {
		case strings.HasPrefix(line, "FAIL - "):
			failures = append(failures, strings.TrimPrefix(line, "FAIL - "))
		case strings.HasPrefix(line, "browser checks: "):
			summary = line
		}
		t.Log(line)
	}
	for _, f := range failures {
		t.Errorf("browser check failed: %s", f)
	}
	switch {
	case ctx.Err() != nil:
		t.Errorf("e2e.mjs did not finish within %s", scriptBound)
	case summary == "":
		t.Errorf("e2e.mjs printed no summary line (exit: %v), want \"browser checks: N passed, ...\"", runErr)
	case runErr != nil && len(failures) == 0:
		t.Errorf("e2e.mjs: %v with no failed check printed, want exit status 0", runErr)
	case runErr == nil && !strings.Contains(summary, " 0 failed, 0 not run"):
		t.Errorf("e2e.mjs exited 0 with %q, want 0 failed and 0 not run", summary)
	}

	srv.checkLog(t)
	if t.Failed() {
		t.Logf("screenshots of the failures, if any: %s", artifacts)
		srv.dumpLog(t)
	} else {
		_ = os.RemoveAll(artifacts)
	}
	t.Logf("%s; the script took %s", summary, elapsed.Round(100*time.Millisecond))
}

// prerequisites finds Chromium, node and the installed playwright-core, or skips (fails under CI=true).
func prerequisites(t *testing.T) (chromium, node string) {
	t.Helper()
	var missing []string
	chromium = os.Getenv("FORTRESS_TEST_CHROMIUM")
	if chromium == "" {
		chromium = defaultChromium
	}
	if _, err := exec.LookPath(chromium); err != nil { // an absolute path: checks that it is an executable file
		missing = append(missing, "chromium ("+chromium+"; apt-get install chromium)")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing = append(missing, "node (apt-get install nodejs npm)")
	}
	if _, err := os.Stat(filepath.Join("node_modules", "playwright-core", "package.json")); err != nil {
		missing = append(missing, "browsertest/node_modules (cd browsertest && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund)")
	}
	if len(missing) > 0 {
		msg := "browser tests need " + strings.Join(missing, ", ")
		if os.Getenv("CI") == "true" {
			t.Fatal(msg + "; under CI=true a missing prerequisite is a failure (.ci/run installs them)")
		}
		t.Skip("SKIP: " + msg)
	}
	return chromium, node
}

// server is one running `fortress serve` process and what it logged.
type server struct {
	base string
	proc *binarytest.Process
}

// start runs `fortress serve` on a free loopback port with a throwaway SQLite database and development
// settings: a random signing key, cheap hashing and no rate limits (the script logs in often from one
// address), and waits until /readyz answers 200. The test's end kills it.
func start(t *testing.T) *server {
	t.Helper()
	dir := t.TempDir()
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		t.Fatal(err)
	}
	env := binarytest.Env(hex.EncodeToString(key))
	maps.Copy(env, map[string]string{
		"PATH":                os.Getenv("PATH"),
		"FORTRESS_ENV":        "development",
		"DATABASE_URL":        "sqlite:" + filepath.Join(dir, "fortress.db"),
		"FORTRESS_LOG_FORMAT": "json",
	})
	proc := binarytest.Serve(t, binarytest.Build(t), env, dir, nil) // dir holds no .env file to pick up
	t.Cleanup(func() { proc.Stop(os.Kill, startBound) })
	s := &server{proc: proc}
	s.base = "http://" + proc.Started(t, "fortress serve", startBound)
	proc.WaitReady(t, "fortress serve", s.base, startBound)
	return s
}

// checkLog fails on what the browser's work must never cause on the server: a 5xx answer, an ERROR log
// line, or a token in the log.
func (s *server) checkLog(t *testing.T) {
	t.Helper()
	requests := 0
	for _, line := range s.proc.Lines() {
		if jwtShape.MatchString(line) {
			t.Errorf("server log shows a JWT: %.300s", line)
		}
		var rec struct {
			Level  string `json:"level"`
			Msg    string `json:"msg"`
			Status int    `json:"status"`
		}
		if json.Unmarshal([]byte(line), &rec) != nil {
			continue
		}
		if rec.Msg == "request" {
			requests++
		}
		if rec.Status >= 500 || rec.Level == "ERROR" {
			t.Errorf("server log: got %.300s, want no 5xx and no error", line)
		}
	}
	if requests == 0 {
		t.Error("server log: got no request lines, want the access log of the browser's requests")
	}
}

func (s *server) dumpLog(t *testing.T) {
	t.Helper()
	const keep = 80
	lines := s.proc.Lines()
	if len(lines) > keep {
		lines = lines[len(lines)-keep:]
	}
	t.Logf("last %d lines of the server log:\n%s", len(lines), strings.Join(lines, "\n"))
}
