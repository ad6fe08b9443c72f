package opstest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fortress-dev/fortress/internal/binarytest"
)

// pgBinDir returns the directory of the PostgreSQL server binaries, the one internal/pgtest uses
// (initdb on PATH, followed through its symlink, else the newest /usr/lib/postgresql/*/bin), so that
// pg_dump and pg_restore come from the same version as the server. It skips the test (fails it under
// CI=true) when there is none.
func pgBinDir(t testing.TB) string {
	t.Helper()
	if p, err := exec.LookPath("initdb"); err == nil {
		if target, err := filepath.EvalSymlinks(p); err == nil {
			dir := filepath.Dir(target)
			if executable(filepath.Join(dir, "postgres")) {
				return dir
			}
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { // newest version first
		va, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(a)), 64)
		vb, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(b)), 64)
		switch {
		case va > vb:
			return -1
		case va < vb:
			return 1
		}
		return 0
	})
	for _, dir := range dirs {
		if executable(filepath.Join(dir, "initdb")) && executable(filepath.Join(dir, "postgres")) {
			return dir
		}
	}
	missing(t, "no PostgreSQL server binaries (initdb, postgres) on PATH or in /usr/lib/postgresql/*/bin")
	return ""
}

func executable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// pgCluster is a PostgreSQL server this test alone owns, so that it can stop and start it: the shared
// server of internal/pgtest cannot be stopped under the other tests, and pgtest has no restart. Unlike
// pgtest's, it keeps fsync on: its data survives a stop like a real server's.
type pgCluster struct {
	t    *testing.T
	bin  string
	dir  string
	data string
	port int
	acct *binarytest.Account // the unprivileged account that runs it when the tests run as root
	proc *binarytest.Process // nil while stopped
}

// startPGCluster runs initdb and starts the server on a free port; the test's end stops it.
func startPGCluster(t *testing.T) *pgCluster {
	t.Helper()
	c := &pgCluster{t: t, bin: pgBinDir(t), dir: t.TempDir()}
	c.data = filepath.Join(c.dir, "data")
	if os.Geteuid() == 0 { // initdb refuses root: hand the directory to an unprivileged account
		acct, err := binarytest.LookupAccount("postgres", "nobody")
		if err != nil {
			t.Fatalf("running as root: %v", err)
		}
		c.acct = acct
		if err := os.Chown(c.dir, int(acct.UID), int(acct.GID)); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Dir(c.dir), 0o755); err != nil { //nolint:gosec // G302: the test's temporary directory, so the account can reach its own
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	initdb := exec.CommandContext(ctx, filepath.Join(c.bin, "initdb"), "-D", c.data, "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync")
	initdb.Dir = c.dir
	attr, err := binarytest.ProcAttr(c.acct)
	if err != nil {
		t.Fatal(err)
	}
	initdb.SysProcAttr = attr
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	c.port = freePort(t)
	c.start()
	t.Cleanup(func() { c.stop() })
	return c
}

// url is the admin URL of database name.
func (c *pgCluster) url(name string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, name)
}

// start runs the server on its port and waits until it accepts connections.
func (c *pgCluster) start() {
	c.t.Helper()
	logFile, err := os.OpenFile(filepath.Join(c.dir, "postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644) //nolint:gosec // G302,G304: the server's log in the test's directory
	if err != nil {
		c.t.Fatal(err)
	}
	defer logFile.Close()
	cmd := exec.Command(filepath.Join(c.bin, "postgres"), "-D", c.data, "-h", "127.0.0.1", "-p", strconv.Itoa(c.port),
		"-k", c.dir, "-c", "max_connections=100")
	cmd.Dir, cmd.Stdout, cmd.Stderr = c.dir, logFile, logFile
	proc, err := binarytest.Start(cmd, c.acct)
	if err != nil {
		c.t.Fatalf("postgres: %v", err)
	}
	c.proc = proc
	c.waitReady()
}

// waitReady polls until the server accepts a connection, failing after a bound.
func (c *pgCluster) waitReady() {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn, err := pgx.Connect(ctx, c.url("postgres"))
		if err == nil {
			_ = conn.Close(ctx)
			cancel()
			return
		}
		cancel()
		select {
		case <-c.proc.Done():
			log, _ := os.ReadFile(filepath.Join(c.dir, "postgres.log"))
			c.t.Fatalf("postgres exited; log:\n%s", tail(strings.Split(string(log), "\n"), 20))
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("postgres not accepting connections after 30s: %v", err)
		}
	}
}

// stop shuts the server down (fast mode: open transactions roll back, clients are disconnected) and
// waits for the postmaster to exit; clients then get "connection refused".
func (c *pgCluster) stop() {
	if c.proc == nil {
		return
	}
	if !c.proc.Stop(syscall.SIGINT, 30*time.Second) {
		c.t.Errorf("postgres ignored a fast shutdown for 30s and was killed")
	}
	c.proc = nil
}

// createDatabase creates an empty database and returns its URL.
func (c *pgCluster) createDatabase(name string) string {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.url("postgres"))
	if err != nil {
		c.t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()+" TEMPLATE template0"); err != nil {
		c.t.Fatal(err)
	}
	return c.url(name)
}

// freeze stops every process of the server with SIGSTOP: connections stay open and nothing answers,
// as with a hung server or a network that drops packets. thaw resumes them.
func (c *pgCluster) freeze() (thaw func()) {
	c.t.Helper()
	pids := append([]int{c.proc.Pid()}, children(c.proc.Pid())...)
	for _, pid := range pids {
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			c.t.Fatalf("SIGSTOP %d: %v", pid, err)
		}
	}
	thawed := false
	thaw = func() {
		if thawed {
			return
		}
		thawed = true
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGCONT)
		}
	}
	c.t.Cleanup(thaw)
	return thaw
}

// children lists the processes whose parent is pid (the postmaster's backends and workers).
func children(pid int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// The fields after the command name, which is in parentheses and may hold spaces: state, ppid, ...
		i := strings.LastIndexByte(string(stat), ')')
		if i < 0 {
			continue
		}
		fields := strings.Fields(string(stat[i+1:]))
		if len(fields) > 1 {
			if ppid, _ := strconv.Atoi(fields[1]); ppid == pid {
				out = append(out, n)
			}
		}
	}
	return out
}
