// Package pgtest gives tests a fresh PostgreSQL database on a real server, never a mock: the server named
// by FORTRESS_TEST_DATABASE_URL, or else a throwaway cluster started from the local PostgreSQL binaries.
// Without either, tests skip loudly — or fail under CI=true, where a missing PostgreSQL is a broken build.
// StartCluster gives a program outside `go test` (the benchmark harness) the same throwaway server.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the variable holding the admin URL of an existing server to create test databases on.
const EnvURL = "FORTRESS_TEST_DATABASE_URL"

// server is decided once per process, because starting a cluster costs about a second.
var server struct {
	once     sync.Once
	url      string        // admin URL, when a server is available
	noServer string        // why no server can be had (skip, or fail under CI)
	err      error         // a server should exist but could not be started or reached
	cluster  *cluster      // the throwaway cluster to stop in Main, if one was started
	startup  time.Duration // how long the throwaway cluster took to accept connections
}

// mainCalled guards against a throwaway cluster started without Main, which would leak its directory.
var mainCalled bool

// Main wraps testing.M: call it from TestMain as `os.Exit(pgtest.Main(m))`. It runs the tests and then
// stops and removes the throwaway server, if one was started, so no cluster outlives the test binary.
func Main(m *testing.M) int {
	mainCalled = true
	code := m.Run()
	if c := server.cluster; c != nil {
		if err := c.close(); err != nil {
			fmt.Fprintf(os.Stderr, "pgtest: stopping the throwaway PostgreSQL in %s: %v\n", c.dir, err)
		}
	}
	return code
}

// ServerURL returns the admin URL of the server, starting the throwaway one on first use, so packages that
// never ask for a database pay nothing. It skips or fails the test like NewDatabase when there is none.
func ServerURL(t testing.TB) string {
	t.Helper()
	if !mainCalled {
		t.Fatal("pgtest: call pgtest.Main from TestMain: os.Exit(pgtest.Main(m))")
	}
	server.once.Do(func() {
		server.url, server.noServer, server.err = findServer()
	})
	switch {
	case server.err != nil:
		t.Fatalf("pgtest: %v", server.err)
	case server.noServer != "":
		unavailable(t, os.Getenv, server.noServer)
	}
	return server.url
}

// NewDatabase returns the URL of a brand-new, empty database, so each test owns its data and tests can run
// in parallel; it drops the database, closing any connection left open, when the test ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	admin := ServerURL(t)
	name := "pgtest_" + randomHex(8)
	ident := pgx.Identifier{name}.Sanitize()
	// template0 cannot be connected to, so it is empty and never "being accessed by other users".
	if err := execAdmin(admin, "CREATE DATABASE "+ident+" TEMPLATE template0"); err != nil {
		t.Fatalf("pgtest: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if err := execAdmin(admin, "DROP DATABASE IF EXISTS "+ident+" WITH (FORCE)"); err != nil {
			t.Errorf("pgtest: drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin) // already checked by findServer
	if err != nil {
		t.Fatalf("pgtest: admin URL does not parse")
	}
	u.Path = "/" + name
	return u.String()
}

// unavailable ends a test that cannot get a server: a loud skip on a developer machine, a failure under
// CI, where skipping would let a missing PostgreSQL pass the build unnoticed.
func unavailable(t testing.TB, getenv func(string) string, reason string) {
	t.Helper()
	if ci, _ := strconv.ParseBool(getenv("CI")); ci {
		t.Fatalf("pgtest: NO POSTGRESQL under CI=true: %s; set %s or install the PostgreSQL server", reason, EnvURL)
		return // only reached with a fake testing.TB
	}
	t.Skipf("pgtest: SKIPPING, NO POSTGRESQL: %s; set %s or install the PostgreSQL server", reason, EnvURL)
}

// findServer decides where the server comes from: the configured URL, else a throwaway cluster.
func findServer() (adminURL, noServer string, err error) {
	if env := os.Getenv(EnvURL); env != "" {
		u, err := url.Parse(env)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			// The URL may hold a password, so neither it nor url's error (which quotes it) is shown.
			return "", "", fmt.Errorf("%s is not a postgres:// URL", EnvURL)
		}
		return env, "", nil
	}
	start := time.Now()
	c, err := StartCluster()
	if errors.Is(err, ErrNoPostgres) {
		return "", "no " + EnvURL + " and " + ErrNoPostgres.Error()[len("pgtest: "):], nil
	}
	if err != nil {
		return "", "", err
	}
	server.cluster, server.startup = c.c, time.Since(start)
	return c.URL(), "", nil
}

// ErrNoPostgres is StartCluster's error when no PostgreSQL server binaries are installed.
var ErrNoPostgres = errors.New("pgtest: no initdb/postgres on PATH or in /usr/lib/postgresql/*/bin")

// Cluster is a throwaway PostgreSQL server for a program rather than a test binary (the benchmark
// harness): its own temporary directory, port and socket, tuned for throughput over durability
// (fsync, full_page_writes and synchronous_commit off), so it must never hold data worth keeping.
type Cluster struct{ c *cluster }

// StartCluster starts a throwaway PostgreSQL server from the local binaries, as the tests do. The
// caller must Close it; if the caller dies instead, the kernel kills the server (Linux), and only its
// temporary directory is left behind. It returns ErrNoPostgres when no binaries are installed.
func StartCluster() (*Cluster, error) {
	initdb, postgres, ok := findBinaries()
	if !ok {
		return nil, ErrNoPostgres
	}
	c, err := startCluster(initdb, postgres)
	if err != nil {
		return nil, fmt.Errorf("starting a throwaway PostgreSQL with %s: %w", initdb, err)
	}
	return &Cluster{c: c}, nil
}

// URL is the admin URL of the server (user postgres, database postgres, over TCP on 127.0.0.1).
func (c *Cluster) URL() string { return c.c.url }

// PID is the postmaster's process id, whose children are the backends: for reading their CPU time or
// pinning them to CPUs.
func (c *Cluster) PID() int { return c.c.proc.Pid() }

// Close stops the server and removes its directory.
func (c *Cluster) Close() error { return c.c.close() }

// execAdmin runs one statement on its own connection; CREATE/DROP DATABASE cannot run in a transaction.
func execAdmin(adminURL, sql string) (err error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, conn.Close(ctx)) }()
	_, err = conn.Exec(ctx, sql)
	return err
}

// randomHex makes database names unique across parallel tests and concurrent test binaries.
func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(errors.New("pgtest: no randomness: " + err.Error()))
	}
	return hex.EncodeToString(b)
}
