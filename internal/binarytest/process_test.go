package binarytest

import (
	"context"
	"errors"
	"os/exec"
	"slices"
	"syscall"
	"testing"
	"time"
)

// shell runs a POSIX shell script as a child, skipping where there is no sh.
func shell(t *testing.T, script string) *Process {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("binarytest: SKIPPING: no sh on PATH")
	}
	p, err := Start(exec.CommandContext(context.Background(), sh, "-c", script), nil)
	if err != nil {
		t.Fatalf("start sh: %v", err)
	}
	t.Cleanup(func() { p.Stop(syscall.SIGKILL, 10*time.Second) })
	return p
}

func TestProcessKeepsStandardErrorAndExitStatus(t *testing.T) {
	p := shell(t, `echo one >&2; echo two >&2; echo out; exit 3`)
	select {
	case <-p.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("sh did not exit within 10s")
	}
	if got, want := p.Lines(), []string{"one", "two"}; !slices.Equal(got, want) {
		t.Errorf("Lines: got %q, want %q (standard error only)", got, want)
	}
	var exit *exec.ExitError
	if err := p.Err(); !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Errorf("Err: got %v, want exit status 3", err)
	}
}

func TestStop(t *testing.T) {
	t.Run("a child that exits on the signal", func(t *testing.T) {
		p := shell(t, `echo ready >&2; exec sleep 60`)
		waitLine(t, p)
		if !p.Stop(syscall.SIGTERM, 10*time.Second) {
			t.Errorf("Stop(SIGTERM): got false, want true for sleep, which SIGTERM ends")
		}
		if p.Err() == nil {
			t.Errorf("Err after SIGTERM: got nil, want the signal")
		}
	})
	t.Run("a child that ignores the signal is killed", func(t *testing.T) {
		p := shell(t, `trap '' TERM; echo ready >&2; while :; do sleep 1 2>/dev/null; done`)
		waitLine(t, p)
		began := time.Now()
		if p.Stop(syscall.SIGTERM, 200*time.Millisecond) {
			t.Errorf("Stop(SIGTERM): got true, want false for a shell that ignores SIGTERM")
		}
		if d := time.Since(began); d > 10*time.Second {
			t.Errorf("Stop took %s, want about the 200ms grace and a kill", d)
		}
	})
	t.Run("a child that already exited", func(t *testing.T) {
		p := shell(t, `exit 0`)
		<-p.Done()
		if !p.Stop(syscall.SIGTERM, time.Second) || p.Err() != nil {
			t.Errorf("Stop on an exited child: got false or %v, want true and exit status 0", p.Err())
		}
	})
}

// waitLine waits for the child's first line on standard error: its signal handling is in place by then.
func waitLine(t *testing.T, p *Process) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(p.Lines()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("sh wrote nothing within 10s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestLookupAccount(t *testing.T) {
	acct, err := LookupAccount("binarytest-no-such-user", "root")
	if err != nil {
		t.Skipf("binarytest: SKIPPING: no user root here: %v", err)
	}
	if acct.UID != 0 || acct.GID != 0 {
		t.Errorf("LookupAccount(…, root): got %+v, want uid 0 and gid 0", *acct)
	}
	if _, err := LookupAccount("binarytest-no-such-user"); err == nil {
		t.Error("LookupAccount of a user that does not exist: got no error, want one")
	}
}
