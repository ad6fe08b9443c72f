// Package binarytest runs real programs as children of a test binary: the fortress binary, built once per
// test binary from this checkout, and the servers the tests start beside it (PostgreSQL, Redis, Caddy).
// Every child dies with the test binary (on Linux, through the parent-death signal), can run as another
// account, keeps its standard error line by line, and stops with a signal followed by a kill when it
// ignores the signal for too long: the process handling that every end-to-end suite needs, written once.
package binarytest

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Account is a user to run a child as: root runs initdb and postgres as one, because they refuse root,
// and file-permission tests run the server as one, because permissions do not apply to root.
type Account struct{ UID, GID uint32 }

// LookupAccount returns the first of names that exists on this machine.
func LookupAccount(names ...string) (*Account, error) {
	for _, name := range names {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("user %s has a non-numeric uid or gid", u.Username)
		}
		return &Account{UID: uint32(uid), GID: uint32(gid)}, nil
	}
	return nil, fmt.Errorf("none of the users %s exists", strings.Join(names, ", "))
}

// Process is a running child of the test binary.
type Process struct {
	cmd  *exec.Cmd
	done chan struct{} // closed once the child has exited and its standard error is read
	err  error         // cmd.Wait's result, written before done is closed

	mu    sync.Mutex
	lines []string // standard error, when Start keeps it
}

// Start starts cmd as a child that the kernel kills if the test binary dies (Linux), as acct unless acct
// is nil; it sets cmd.SysProcAttr. When cmd has no Stderr of its own, the Process keeps what the child
// writes there, line by line, for Lines. Nothing stops the child but Stop, Signal or the test binary's end.
func Start(cmd *exec.Cmd, acct *Account) (*Process, error) {
	attr, err := ProcAttr(acct)
	if err != nil {
		return nil, err
	}
	cmd.SysProcAttr = attr
	p := &Process{cmd: cmd, done: make(chan struct{})}
	var stderr io.Reader
	if cmd.Stderr == nil {
		if stderr, err = cmd.StderrPipe(); err != nil {
			return nil, err
		}
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		if stderr != nil {
			p.keep(stderr)
		}
		p.err = cmd.Wait() // only after the pipe is drained, as exec requires
		close(p.done)
	}()
	return p, nil
}

// keep reads the child's standard error into lines until it closes.
func (p *Process) keep(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		p.mu.Lock()
		p.lines = append(p.lines, sc.Text())
		p.mu.Unlock()
	}
	// A line longer than the buffer ends the scan; the rest is drained so the child never blocks on a full pipe.
	_, _ = io.Copy(io.Discard, r)
}

// Pid is the child's process id, for /proc and for signals to the children it starts in turn.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed once the child has exited (and Lines holds everything it wrote).
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is the child's exit status, nil for status 0; it is nil too while the child runs.
func (p *Process) Err() error {
	select {
	case <-p.done:
		return p.err
	default:
		return nil
	}
}

// Signal sends sig to the child: SIGSTOP and SIGCONT to freeze and thaw a server, for one.
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Stop sends sig and waits up to grace for the child to exit; a child still running then is killed, and
// Stop reports false. A child that had already exited is left alone. Stop always returns after the exit,
// so Err and Lines are final.
func (p *Process) Stop(sig os.Signal, grace time.Duration) (exited bool) {
	select {
	case <-p.done:
		return true
	default:
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		// Signal fails only when the child is gone or cannot be signalled; Kill is the last resort, and
		// done, not Kill's result, proves the child stopped.
		_ = p.cmd.Process.Kill()
	}
	select {
	case <-p.done:
		return true
	case <-time.After(grace):
		_ = p.cmd.Process.Kill()
		<-p.done
		return false
	}
}

// Lines returns what the child has written to its standard error so far, when Start keeps it.
func (p *Process) Lines() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.lines...)
}

// tail keeps failure messages readable: the last n lines of the child's standard error.
func (p *Process) tail(n int) string {
	lines := p.Lines()
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
