package pgtest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fortress-dev/fortress/internal/binarytest"
)

// cluster is a throwaway PostgreSQL server: its own directory, port and socket, so several test binaries
// can each run one at the same time.
type cluster struct {
	dir  string // temporary directory: data/, the log and the unix socket
	url  string // admin URL over TCP on 127.0.0.1
	proc *binarytest.Process
}

// errPortInUse means another process took the port between our probe and postgres binding it.
var errPortInUse = errors.New("port already in use")

// findBinaries looks on PATH first, so a developer can choose, then in Debian's per-version directories.
func findBinaries() (initdb, postgres string, ok bool) {
	i, err1 := exec.LookPath("initdb")
	p, err2 := exec.LookPath("postgres")
	if err1 == nil && err2 == nil {
		return i, p, true
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	for _, dir := range byVersionDesc(dirs) {
		i, p := filepath.Join(dir, "initdb"), filepath.Join(dir, "postgres")
		if isExecutable(i) && isExecutable(p) {
			return i, p, true
		}
	}
	return "", "", false
}

// byVersionDesc orders /usr/lib/postgresql/<version>/bin directories newest first ("16" before "9.6").
func byVersionDesc(dirs []string) []string {
	version := func(dir string) float64 {
		v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(dir)), 64)
		return v
	}
	sorted := slices.Clone(dirs)
	slices.SortFunc(sorted, func(a, b string) int { return cmp.Compare(version(b), version(a)) })
	return sorted
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// startCluster runs initdb once, then starts postgres, retrying on a fresh port if another process won
// the race for the one we picked.
func startCluster(initdb, postgres string) (c *cluster, err error) {
	dir, data, acct, err := initCluster(initdb)
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
		c, err := launch(dir, data, postgres, port, acct)
		if !errors.Is(err, errPortInUse) {
			return c, err
		}
	}
	return nil, errors.New("no free port after 5 attempts")
}

// initCluster creates a temporary directory holding a new cluster in data/. initdb refuses to run as
// root, so root hands the directory to an unprivileged account, returned for starting postgres too.
func initCluster(initdb string) (dir, data string, acct *binarytest.Account, err error) {
	if dir, err = os.MkdirTemp("", "pgtest-"); err != nil {
		return "", "", nil, err
	}
	defer func() {
		if err != nil {
			err = errors.Join(err, os.RemoveAll(dir))
		}
	}()
	if os.Geteuid() == 0 {
		if acct, err = binarytest.LookupAccount("postgres", "nobody"); err != nil {
			return "", "", nil, fmt.Errorf("running as root: %w", err)
		}
		if err := os.Chown(dir, int(acct.UID), int(acct.GID)); err != nil {
			return "", "", nil, err
		}
	}
	attr, err := binarytest.ProcAttr(acct)
	if err != nil {
		return "", "", nil, err
	}
	data = filepath.Join(dir, "data")
	// initdb takes about a second; a minute means it hangs, and the tests should say so, not wait forever.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, initdb, "-D", data, //nolint:gosec // G204: initdb is the server binary findBinaries located, run only by tests and the benchmark harness
		"-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8", "--locale=C")
	cmd.Dir, cmd.SysProcAttr = dir, attr
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", "", nil, fmt.Errorf("initdb: %w\n%s", err, tail(out))
	}
	return dir, data, acct, nil
}

// freePort asks the kernel for a port nobody holds now; postgres may still lose it to a racing process.
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

// launch starts postgres itself (no pg_ctl in between), so the postmaster is our direct child and the
// parent-death signal reaches it if the test binary is killed.
func launch(dir, data, postgres string, port int, acct *binarytest.Account) (*cluster, error) {
	logPath := filepath.Join(dir, "postgres.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600) //nolint:gosec // G304: a file in the cluster's own temporary directory
	if err != nil {
		return nil, err
	}
	// The child keeps its own descriptor, so closing ours can lose nothing the server writes.
	defer func() { _ = logFile.Close() }()
	// The shared server outlives any one test's context; stop, called when the test binary is done, ends it.
	cmd := exec.Command(postgres, "-D", data, //nolint:gosec,noctx // G204: the server binary findBinaries located, run only by tests and the benchmark harness
		"-h", "127.0.0.1", "-p", strconv.Itoa(port), "-k", dir,
		"-c", "fsync=off", "-c", "full_page_writes=off", "-c", "synchronous_commit=off",
		"-c", "max_connections=200")
	cmd.Dir, cmd.Stdout, cmd.Stderr = dir, logFile, logFile
	proc, err := binarytest.Start(cmd, acct)
	if err != nil {
		return nil, err
	}
	c := &cluster{
		dir:  dir,
		url:  fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port),
		proc: proc,
	}
	// Poll through our own unix socket: over TCP a racing cluster that won our port would answer instead.
	// Postgres binds TCP before it creates the socket and exits if it cannot, so the socket proves both.
	socketURL := fmt.Sprintf("postgres://postgres@/postgres?host=%s&port=%d&sslmode=disable", url.QueryEscape(dir), port)
	if err := c.waitReady(socketURL, 30*time.Second); err != nil {
		stopErr := c.stop()
		logTail, _ := os.ReadFile(logPath) //nolint:gosec // G304: the log this function created; a missing log only shortens the message
		if strings.Contains(string(logTail), "Address already in use") {
			return nil, errPortInUse
		}
		return nil, errors.Join(fmt.Errorf("%w; server log:\n%s", err, tail(logTail)), stopErr)
	}
	return c, nil
}

func (c *cluster) waitReady(connURL string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, connURL)
		if err == nil {
			// Readiness is proven by the connect; a failed goodbye on this probe changes nothing.
			_ = conn.Close(ctx)
			cancel()
			return nil
		}
		cancel()
		if time.Now().After(deadline) {
			return fmt.Errorf("postgres not accepting connections after %v: %w", limit, err)
		}
		select {
		case <-c.proc.Done():
			return fmt.Errorf("postgres exited: %w", c.proc.Err())
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// stop asks for a fast shutdown (SIGINT: roll back and disconnect), and kills if that hangs.
func (c *cluster) stop() error {
	if !c.proc.Stop(os.Interrupt, 30*time.Second) {
		return errors.New("postgres ignored fast shutdown for 30s and was killed")
	}
	return nil
}

func (c *cluster) close() error {
	return errors.Join(c.stop(), os.RemoveAll(c.dir))
}

// tail keeps error messages readable: the last lines of a log say why the server died.
func tail(b []byte) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}
