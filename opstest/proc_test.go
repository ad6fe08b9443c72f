package opstest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Bounds of the process helpers: generous for a loaded two-core machine, never a wait without end.
const (
	startBound = 30 * time.Second // from exec to the "fortress started" line
	stopBound  = 20 * time.Second // from SIGTERM to exit (FORTRESS_SHUTDOWN_TIMEOUT is 5s in baseEnv)
)

// testSecret signs the tokens of every replica of a test, as a shared JWT_SECRET_KEY would in production.
const testSecret = "opstest-signing-key-that-is-long-enough-0123456789"

// baseEnv is what every server starts from: development mode, fast password hashing (the cost is not
// under test), rate limits off unless a test turns one on, and a short shutdown grace period.
func baseEnv() map[string]string {
	return map[string]string{
		"FORTRESS_ADDR":                "127.0.0.1:0",
		"JWT_SECRET_KEY":               testSecret,
		"FORTRESS_ARGON2_MEMORY_KIB":   "8192",
		"FORTRESS_ARGON2_TIME":         "1",
		"FORTRESS_RATE_LIMIT":          "off",
		"FORTRESS_LOGIN_RATE_LIMIT":    "off",
		"FORTRESS_REGISTER_RATE_LIMIT": "off",
		"FORTRESS_SHUTDOWN_TIMEOUT":    "5s",
	}
}

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
	cred *syscall.Credential // run as this user (a test of file permissions run by root), or nil
	dir  string              // the working directory: empty, so no .env file is picked up

	mu   sync.Mutex
	addr string     // 127.0.0.1:port, fixed after the first start
	runs [][]string // stderr lines, one slice per run
	cmd  *exec.Cmd
	done chan struct{} // closed when the current run has exited
	err  error         // the current run's exit status, valid after done
}

// startProc runs `fortress serve` with env and waits for its "fortress started" line. The process is
// killed when the test ends if it still runs.
func startProc(t *testing.T, name string, env map[string]string) *proc {
	t.Helper()
	p := newProc(t, name, env)
	p.start(t)
	return p
}

// newProc prepares a server without starting it.
func newProc(t *testing.T, name string, env map[string]string) *proc {
	p := &proc{name: name, env: maps.Clone(env), dir: t.TempDir()}
	t.Cleanup(func() {
		p.mu.Lock()
		cmd, done := p.cmd, p.done
		p.mu.Unlock()
		if cmd != nil {
			select {
			case <-done:
			default:
				_ = cmd.Process.Kill()
				<-done
			}
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
	p.mu.Lock()
	if p.addr != "" {
		env = with(env, "FORTRESS_ADDR", p.addr) // the same port again, as a restarted container keeps its address
	}
	p.mu.Unlock()
	cmd := exec.Command(binary(t), "serve")
	cmd.Dir = p.dir
	cmd.Env = []string{}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	// The kernel kills the server if the test binary dies, so no replica outlives a crashed test run.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Credential: p.cred}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("%s: start: %v", p.name, err)
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.done = cmd, done
	p.runs = append(p.runs, nil)
	run := len(p.runs) - 1
	p.mu.Unlock()
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			p.mu.Lock()
			p.runs[run] = append(p.runs[run], sc.Text())
			p.mu.Unlock()
		}
		_, _ = io.Copy(io.Discard, stderr)
		err := cmd.Wait() // only after the pipe is drained, as exec requires
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(done)
	}()
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
	deadline := time.Now().Add(startBound)
	for {
		if rec, ok := p.find("fortress started"); ok {
			addr, _ := rec["addr"].(string)
			p.mu.Lock()
			p.addr = addr
			p.mu.Unlock()
			return
		}
		select {
		case <-p.exited():
			t.Fatalf("%s exited before it started (%v); log:\n%s", p.name, p.exitErr(), tail(p.lines(), 40))
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not log \"fortress started\" within %s; log:\n%s", p.name, startBound, tail(p.lines(), 40))
		}
	}
}

func (p *proc) exited() chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}

func (p *proc) exitErr() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// pid is the current run's process id.
func (p *proc) pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd.Process.Pid
}

// base is the server's URL.
func (p *proc) base() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return "http://" + p.addr
}

// hostPort is the server's address, for a load balancer's upstream list.
func (p *proc) hostPort() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.addr
}

// terminate sends SIGTERM and waits for the exit, which must be status 0 (a graceful shutdown).
func (p *proc) terminate(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("%s: SIGTERM: %v", p.name, err)
	}
	select {
	case <-p.exited():
	case <-time.After(stopBound):
		t.Fatalf("%s did not exit within %s of SIGTERM", p.name, stopBound)
	}
	if err := p.exitErr(); err != nil {
		t.Fatalf("%s after SIGTERM: %v, want exit status 0; log:\n%s", p.name, err, tail(p.lines(), 20))
	}
}

// kill sends SIGKILL (kill -9: no shutdown, no flush, no goodbye to the database) and waits for the exit.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("%s: SIGKILL: %v", p.name, err)
	}
	select {
	case <-p.exited():
	case <-time.After(stopBound):
		t.Fatalf("%s did not die within %s of SIGKILL", p.name, stopBound)
	}
}

// wait waits for the current run to exit on its own and returns its status.
func (p *proc) wait(t *testing.T, bound time.Duration) error {
	t.Helper()
	select {
	case <-p.exited():
		return p.exitErr()
	case <-time.After(bound):
		t.Fatalf("%s still runs after %s", p.name, bound)
		return nil
	}
}

// lines returns the current run's stderr lines.
func (p *proc) lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.runs) == 0 {
		return nil
	}
	return append([]string(nil), p.runs[len(p.runs)-1]...)
}

// allLines returns the stderr lines of every run.
func (p *proc) allLines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, r := range p.runs {
		out = append(out, r...)
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
