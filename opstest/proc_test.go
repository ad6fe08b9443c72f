package opstest

import (
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fortress-dev/fortress/internal/binarytest"
)

// Bounds of the process helpers: generous for a loaded two-core machine, never a wait without end.
const (
	startBound = 30 * time.Second // from exec to the "fortress started" line
	stopBound  = 20 * time.Second // from SIGTERM to exit (FORTRESS_SHUTDOWN_TIMEOUT is 5s in baseEnv)
)

// testSecret signs the tokens of every replica of a test, as a shared JWT_SECRET_KEY would in production.
const testSecret = "opstest-signing-key-that-is-long-enough-0123456789"

// baseEnv is what every server starts from (binarytest.Env): development mode, fast password hashing
// (the cost is not under test), rate limits off unless a test turns one on, a short shutdown grace period.
func baseEnv() map[string]string { return binarytest.Env(testSecret) }

// with returns a copy of env with the given key/value pairs set.
func with(env map[string]string, kv ...string) map[string]string {
	out := maps.Clone(env)
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

// proc is one `fortress serve` that a test can stop, kill and start again on the same address and
// database, as an orchestrator does. Its stderr is kept run by run.
type proc struct {
	name string
	env  map[string]string
	acct *binarytest.Account // run as this user (a test of file permissions run by root), or nil
	dir  string              // the working directory: empty, so no .env file is picked up

	mu   sync.Mutex
	addr string                // 127.0.0.1:port, fixed after the first start
	runs []*binarytest.Process // one per start; the last is the current run
}

// startProc runs `fortress serve` with env and waits for its "fortress started" line. The process is
// killed when the test ends if it still runs.
func startProc(t *testing.T, name string, env map[string]string) *proc {
	t.Helper()
	p := newProc(t, name, env)
	p.start(t)
	return p
}

// newProc prepares a server without starting it. Its runs are killed when the test that made it ends,
// not the subtest that (re)started one, so a restarted replica serves until the end.
func newProc(t *testing.T, name string, env map[string]string) *proc {
	p := &proc{name: name, env: maps.Clone(env), dir: t.TempDir()}
	t.Cleanup(func() {
		if run := p.current(); run != nil {
			run.Stop(syscall.SIGKILL, stopBound)
		}
		if t.Failed() {
			t.Logf("%s: log of the last run:\n%s", p.name, tail(p.lines(), 40))
		}
	})
	return p
}

// launch starts the process without waiting for it to listen; started waits.
func (p *proc) launch(t *testing.T) {
	t.Helper()
	env := p.env
	if addr := p.hostPort(); addr != "" {
		env = with(env, "FORTRESS_ADDR", addr) // the same port again, as a restarted container keeps its address
	}
	run := binarytest.Serve(t, binary(t), env, p.dir, p.acct)
	p.mu.Lock()
	p.runs = append(p.runs, run)
	p.mu.Unlock()
}

// start launches the process and waits until it listens.
func (p *proc) start(t *testing.T) {
	t.Helper()
	p.launch(t)
	p.started(t)
}

// started waits for the current run's "fortress started" line and records the address.
func (p *proc) started(t *testing.T) {
	t.Helper()
	addr := p.current().Started(t, p.name, startBound)
	p.mu.Lock()
	p.addr = addr
	p.mu.Unlock()
}

// current is the last run, nil before the first start.
func (p *proc) current() *binarytest.Process {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.runs) == 0 {
		return nil
	}
	return p.runs[len(p.runs)-1]
}

// pid is the current run's process id.
func (p *proc) pid() int { return p.current().Pid() }

// base is the server's URL.
func (p *proc) base() string { return "http://" + p.hostPort() }

// hostPort is the server's address, for a load balancer's upstream list.
func (p *proc) hostPort() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.addr
}

// terminate sends SIGTERM and waits for the exit, which must be status 0 (a graceful shutdown).
func (p *proc) terminate(t *testing.T) {
	t.Helper()
	if err := p.stop(t, syscall.SIGTERM, "SIGTERM"); err != nil {
		t.Fatalf("%s after SIGTERM: %v, want exit status 0; log:\n%s", p.name, err, tail(p.lines(), 20))
	}
}

// kill sends SIGKILL (kill -9: no shutdown, no flush, no goodbye to the database) and waits for the exit.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	_ = p.stop(t, syscall.SIGKILL, "SIGKILL") // a killed process has no exit status worth checking
}

// stop sends sig (called name in messages) to the current run, which must still run, and returns its
// exit status; an exit that takes longer than stopBound fails the test.
func (p *proc) stop(t *testing.T, sig syscall.Signal, name string) error {
	t.Helper()
	run := p.current()
	select {
	case <-run.Done():
		t.Fatalf("%s: %s: it had already exited (%v)", p.name, name, run.Err())
	default:
	}
	if !run.Stop(sig, stopBound) {
		t.Fatalf("%s did not exit within %s of %s", p.name, stopBound, name)
	}
	return run.Err()
}

// wait waits for the current run to exit on its own and returns its status.
func (p *proc) wait(t *testing.T, bound time.Duration) error {
	t.Helper()
	run := p.current()
	select {
	case <-run.Done():
		return run.Err()
	case <-time.After(bound):
		t.Fatalf("%s still runs after %s", p.name, bound)
		return nil
	}
}

// lines returns the current run's stderr lines.
func (p *proc) lines() []string {
	if run := p.current(); run != nil {
		return run.Lines()
	}
	return nil
}

// allLines returns the stderr lines of every run.
func (p *proc) allLines() []string {
	p.mu.Lock()
	runs := slices.Clone(p.runs)
	p.mu.Unlock()
	var out []string
	for _, r := range runs {
		out = append(out, r.Lines()...)
	}
	return out
}

// records returns the current run's JSON log records whose msg is msg.
func (p *proc) records(msg string) []map[string]any {
	var out []map[string]any
	for _, line := range p.lines() {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == msg {
			out = append(out, rec)
		}
	}
	return out
}

// find returns the current run's first record whose msg is msg.
func (p *proc) find(msg string) (map[string]any, bool) {
	recs := p.records(msg)
	if len(recs) == 0 {
		return nil, false
	}
	return recs[0], true
}

// waitLog polls the current run's log until match accepts a record, failing after bound.
func (p *proc) waitLog(t *testing.T, bound time.Duration, what string, match func(map[string]any) bool) map[string]any {
	t.Helper()
	deadline := time.Now().Add(bound)
	for {
		for _, line := range p.lines() {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && match(rec) {
				return rec
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no log record %s within %s; log:\n%s", p.name, what, bound, tail(p.lines(), 30))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkLog fails the test on a panic or an ERROR line in any run's log other than the access log's line
// for a 503 (an expected refusal during a fault) and the lines allowed by tolerate.
func (p *proc) checkLog(t *testing.T, tolerate ...string) {
	t.Helper()
	for _, line := range p.allLines() {
		if strings.Contains(line, testSecret) {
			t.Errorf("%s: the log shows JWT_SECRET_KEY", p.name)
		}
		if strings.Contains(line, "panic") || strings.Contains(line, "goroutine ") {
			t.Errorf("%s: log line shows a panic: %s", p.name, line)
			continue
		}
		if !strings.Contains(line, `"level":"ERROR"`) {
			continue
		}
		ok := strings.Contains(line, `"msg":"request"`) && strings.Contains(line, `"status":503`)
		for _, s := range tolerate {
			ok = ok || strings.Contains(line, s)
		}
		if !ok {
			t.Errorf("%s: log line at ERROR: %s", p.name, line)
		}
	}
}

// procStatus reads fields of /proc/PID/status: VmRSS in KiB, Threads.
func procStatus(pid int) (rssKiB, threads int64, err error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(data), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		fields := strings.Fields(v)
		if len(fields) == 0 {
			continue
		}
		n, _ := strconv.ParseInt(fields[0], 10, 64)
		switch k {
		case "VmRSS":
			rssKiB = n
		case "Threads":
			threads = n
		}
	}
	if rssKiB == 0 || threads == 0 {
		return 0, 0, fmt.Errorf("/proc/%d/status has no VmRSS or Threads", pid)
	}
	return rssKiB, threads, nil
}

// openFiles counts the descriptors a process holds.
func openFiles(pid int) (int, error) {
	entries, err := os.ReadDir("/proc/" + strconv.Itoa(pid) + "/fd")
	return len(entries), err
}

// freePort asks the kernel for a port nobody holds now (for Caddy's listener, which needs it in its file).
func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port //nolint:forcetypeassert // a TCP listener has a TCP address
}

// tail keeps failure messages readable: the last n lines.
func tail(lines []string, n int) string {
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
