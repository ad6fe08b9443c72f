package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/fortress-dev/fortress/internal/bench"
)

// process is a child this harness started: the server under test, a ceiling or the generator.
type process struct {
	name    string
	cmd     *exec.Cmd
	log     *syncBuffer
	exited  chan struct{}
	waitErr error
}

// syncBuffer collects a child's stderr, which its own goroutine writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 1<<20 {
		return len(p), nil // enough to diagnose; a chatty child must not grow without bound
	}
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// pinned prefixes argv with taskset when there are CPUs to pin to. taskset execs the program, so the
// child's pid is the program's.
func (h *harness) pinned(cpus string, argv []string) []string {
	if h.taskset == "" || cpus == "" {
		return argv
	}
	return append([]string{h.taskset, "-c", cpus}, argv...)
}

// start runs argv in dir with exactly env (nothing is inherited, so a developer's DATABASE_URL or
// FORTRESS_* settings cannot leak into a run), its stderr kept for diagnostics.
func start(name, dir string, env []string, stdin io.Reader, stdout io.Writer, argv []string) (*process, error) {
	cmd := exec.Command(argv[0], argv[1:]...) //nolint:gosec,noctx // G204: our own binaries and taskset; stopped by stop()
	cmd.Dir, cmd.Env, cmd.Stdin, cmd.Stdout = dir, env, stdin, stdout
	p := &process{name: name, cmd: cmd, log: &syncBuffer{}, exited: make(chan struct{})}
	cmd.Stderr = p.log
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() { p.waitErr = cmd.Wait(); close(p.exited) }()
	return p, nil
}

func (p *process) pid() int { return p.cmd.Process.Pid }

// stop asks the process to finish (SIGTERM: the server drains and exits 0) and kills it after timeout.
func (p *process) stop(timeout time.Duration) error {
	select {
	case <-p.exited:
		return p.exitError()
	default:
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.exited:
		return p.exitError()
	case <-time.After(timeout):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("%s ignored SIGINT for %v and was killed", p.name, timeout)
	}
}

func (p *process) exitError() error {
	if p.waitErr != nil {
		return fmt.Errorf("%s: %w\n%s", p.name, p.waitErr, tail(p.log.String(), 15))
	}
	return nil
}

// waitReady polls url until it answers 200, and returns how long after since that was.
func (p *process) waitReady(ctx context.Context, url string, since time.Time, limit time.Duration) (time.Duration, error) {
	client := &http.Client{Timeout: time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	deadline := since.Add(limit)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return 0, err
		}
		resp, err := client.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return time.Since(since), nil
			}
		}
		select {
		case <-p.exited:
			return 0, fmt.Errorf("%s exited before it was ready: %w", p.name, p.exitError())
		case <-ctx.Done():
			return 0, ctx.Err()
		default:
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("%s not ready after %v:\n%s", p.name, limit, tail(p.log.String(), 15))
		}
		time.Sleep(time.Millisecond)
	}
}

// freeAddr asks the kernel for a loopback port nobody holds now.
func freeAddr(ctx context.Context) (string, error) {
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	addr := l.Addr().String()
	return addr, l.Close()
}

// generate runs one job in a generator process pinned to the load CPUs.
func (h *harness) generate(ctx context.Context, job bench.Job) (bench.Result, error) {
	in, err := json.Marshal(job)
	if err != nil {
		return bench.Result{}, err
	}
	var out bytes.Buffer
	env := []string{"PATH=" + os.Getenv("PATH")}
	p, err := start("load generator", "", env, bytes.NewReader(in), &out, h.pinned(h.loadCPUs, []string{h.self, "load"}))
	if err != nil {
		return bench.Result{}, err
	}
	limit := job.Warmup + job.Duration + time.Minute
	select {
	case <-p.exited:
	case <-ctx.Done():
		_ = p.stop(5 * time.Second)
		return bench.Result{}, ctx.Err()
	case <-time.After(limit):
		_ = p.stop(5 * time.Second)
		return bench.Result{}, fmt.Errorf("load generator still running after %v", limit)
	}
	if err := p.exitError(); err != nil {
		return bench.Result{}, err
	}
	var res bench.Result
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return bench.Result{}, fmt.Errorf("load generator output: %w", err)
	}
	return res, nil
}

// runLoad is the generator process: a job on stdin, its result on stdout.
func runLoad(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	var job bench.Job
	dec := json.NewDecoder(stdin)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&job); err != nil {
		return fmt.Errorf("load: read the job: %w", err)
	}
	res, err := bench.Run(ctx, job)
	if err != nil {
		return err
	}
	return json.NewEncoder(stdout).Encode(res)
}

// tail keeps the last n lines of a log, for error messages.
func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

var errSkipped = errors.New("skipped")
