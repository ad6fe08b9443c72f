package redistest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/fortress-dev/fortress/internal/binarytest"
)

// process is one run of redis-server: its own port and unix socket, so several test binaries can each run
// one at the same time.
type process struct {
	dir   string // temporary directory: the log and the unix socket
	port  int
	child *binarytest.Process
}

// errPortInUse means another process took the port between our probe and redis-server binding it.
var errPortInUse = errors.New("port already in use")

// findBinary looks for redis-server on PATH.
func findBinary() (string, bool) {
	path, err := exec.LookPath("redis-server")
	return path, err == nil
}

// freePort asks the kernel for a port nobody holds now; redis-server may still lose it to a racing process.
func freePort() (int, error) {
	var lc net.ListenConfig
	l, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	addr, ok := l.Addr().(*net.TCPAddr)
	if err := l.Close(); err != nil || !ok {
		return 0, errors.Join(errors.New("no free TCP port on 127.0.0.1"), err)
	}
	return addr.Port, nil
}

// startOnFreePort starts redis-server in a new temporary directory, retrying on a fresh port if another
// process won the race for the one we picked.
func startOnFreePort(binary string) (p *process, err error) {
	dir, err := os.MkdirTemp("", "redistest-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, os.RemoveAll(dir))
		}
	}()
	for range 5 {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		p, err := launch(binary, dir, port)
		if !errors.Is(err, errPortInUse) {
			return p, err
		}
	}
	return nil, errors.New("no free port after 5 attempts")
}

// launch starts redis-server as our direct child (no --daemonize), so the parent-death signal reaches it
// if the test binary is killed. Nothing is persisted: a restarted server starts empty, like a real one
// that lost its memory.
func launch(binary, dir string, port int) (*process, error) {
	logPath := filepath.Join(dir, "redis.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600) //nolint:gosec // G304: a file in the server's own temporary directory
	if err != nil {
		return nil, err
	}
	// The child keeps its own descriptor, so closing ours can lose nothing the server writes.
	defer func() { _ = logFile.Close() }()
	socket := filepath.Join(dir, "redis.sock")
	// The server outlives any one test's context; stop, called when its test or the test binary is done, ends it.
	cmd := exec.Command(binary, //nolint:gosec,noctx // G204: the redis-server binary findBinary located, run only by tests
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--unixsocket", socket, "--unixsocketperm", "700",
		"--save", "", "--appendonly", "no", "--daemonize", "no", "--dir", dir)
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, logFile, logFile
	child, err := binarytest.Start(cmd, nil)
	if err != nil {
		return nil, err
	}
	p := &process{dir: dir, port: port, child: child}
	// Poll through our own unix socket: over TCP a racing server that won our port would answer instead.
	// redis-server binds TCP before the socket and exits if it cannot, so the socket proves both.
	if err := p.waitReady(socket, 30*time.Second); err != nil {
		stopErr := p.stop()
		logText, _ := os.ReadFile(logPath) //nolint:gosec // G304: the log this function created; a missing log only shortens the message
		if strings.Contains(string(logText), "Address already in use") {
			return nil, errPortInUse
		}
		return nil, errors.Join(fmt.Errorf("%w; server log:\n%s", err, tail(logText)), stopErr)
	}
	return p, nil
}

func (p *process) url() string { return fmt.Sprintf("redis://127.0.0.1:%d/0", p.port) }

func (p *process) waitReady(socket string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		err := ping("unix", socket)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server not answering PING after %v: %w", limit, err)
		}
		select {
		case <-p.child.Done():
			return fmt.Errorf("redis-server exited: %w", p.child.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// ping speaks just enough RESP to learn whether a server is up, without a client library's retries.
func ping(network, addr string) error {
	d := net.Dialer{Timeout: time.Second}
	conn, err := d.DialContext(context.Background(), network, addr)
	if err != nil {
		return err
	}
	// The answer, read before this runs, is all a probe needs; a failed close changes nothing.
	defer func() { _ = conn.Close() }()
	if err := conn.SetDeadline(time.Now().Add(time.Second)); err != nil {
		return err
	}
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", strings.TrimSpace(line))
	}
	return nil
}

// stop asks redis-server to shut down (SIGINT; with nothing to save it exits at once), and kills it if
// that hangs. A paused server is resumed first so that it can act on the signal.
func (p *process) stop() error {
	if resumeSignal != nil {
		// A server that is not paused ignores the resume; one that is gone is left alone by Stop.
		_ = p.child.Signal(resumeSignal)
	}
	if !p.child.Stop(os.Interrupt, 10*time.Second) {
		return errors.New("redis-server ignored SIGINT for 10s and was killed")
	}
	return nil
}

// tail keeps error messages readable: the last lines of a log say why the server died.
func tail(b []byte) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}
