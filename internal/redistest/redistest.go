// Package redistest gives tests a real Redis, never a mock: the server named by FORTRESS_TEST_REDIS_URL,
// or else one throwaway redis-server per test binary, started on a free 127.0.0.1 port with nothing
// persisted. Tests share it and stay apart by key prefix (Prefix). A test that needs to stop, restart or
// freeze Redis starts a server of its own (Start). Without a server, tests skip loudly — or fail under
// CI=true, where a missing Redis is a broken build.
package redistest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// EnvURL names the variable holding the URL of an existing Redis to run the tests against.
const EnvURL = "FORTRESS_TEST_REDIS_URL"

// shared is decided once per process, because starting a server costs a few milliseconds and each test
// binary needs only one.
var shared struct {
	once     sync.Once
	url      string   // when a server is available
	noServer string   // why no server can be had (skip, or fail under CI)
	err      error    // a server should exist but could not be started
	proc     *process // the throwaway server to stop in Main, if one was started
}

// mainCalled guards against a throwaway server started without Main, which would leak its directory.
var mainCalled bool

// Main wraps testing.M: call it from TestMain as `os.Exit(redistest.Main(m))`. It runs the tests and then
// stops the shared throwaway server, if one was started, so none outlives the test binary.
func Main(m *testing.M) int {
	mainCalled = true
	code := m.Run()
	if p := shared.proc; p != nil {
		if err := errors.Join(p.stop(), os.RemoveAll(p.dir)); err != nil {
			fmt.Fprintf(os.Stderr, "redistest: stopping the throwaway redis-server in %s: %v\n", p.dir, err)
		}
	}
	return code
}

// NewURL returns the URL of the shared server, starting the throwaway one on first use, so packages that
// never ask for Redis pay nothing. The server is shared by every test of the binary: isolate by key,
// with Prefix. It skips the test (or fails it under CI=true) when no server can be had.
func NewURL(t testing.TB) string {
	t.Helper()
	if !mainCalled {
		t.Fatal("redistest: call redistest.Main from TestMain: os.Exit(redistest.Main(m))")
	}
	shared.once.Do(func() {
		shared.url, shared.noServer, shared.err = findServer(os.Getenv)
	})
	switch {
	case shared.err != nil:
		t.Fatalf("redistest: %v", shared.err)
	case shared.noServer != "":
		unavailable(t, os.Getenv, shared.noServer)
	}
	return shared.url
}

// Prefix returns a key prefix unique to this test (and to this test binary, so concurrent runs against
// one FORTRESS_TEST_REDIS_URL do not meet), and deletes the shared server's keys under it when the test
// ends.
func Prefix(t testing.TB) string {
	t.Helper()
	serverURL := NewURL(t)
	prefix := "redistest:" + randomHex(8) + ":"
	t.Cleanup(func() {
		if err := deletePrefix(serverURL, prefix); err != nil {
			t.Errorf("redistest: deleting keys under %s: %v", prefix, err)
		}
	})
	return prefix
}

// Server is a redis-server owned by one test, for tests that stop, restart or freeze Redis. Its methods
// call t.Fatal, so call them from the test's goroutine.
type Server struct {
	// URL stays the same across Restart: the server comes back on the same port, as a real one would.
	URL string

	t      testing.TB
	binary string
	mu     sync.Mutex
	proc   *process // nil while stopped
	dir    string
	port   int
}

// Start starts a redis-server for this test alone and stops it when the test ends. It needs the
// redis-server binary even when FORTRESS_TEST_REDIS_URL is set, because an external server cannot be
// stopped and restarted; without the binary it skips the test (or fails it under CI=true).
func Start(t testing.TB) *Server {
	t.Helper()
	binary, ok := findBinary()
	if !ok {
		unavailable(t, os.Getenv, "Start needs redis-server on PATH to stop and restart it")
	}
	p, err := startOnFreePort(binary)
	if err != nil {
		t.Fatalf("redistest: starting redis-server: %v", err)
	}
	s := &Server{URL: p.url(), t: t, binary: binary, proc: p, dir: p.dir, port: p.port}
	t.Cleanup(func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.proc != nil {
			if err := s.proc.stop(); err != nil {
				t.Errorf("redistest: %v", err)
			}
		}
		if err := os.RemoveAll(s.dir); err != nil {
			t.Errorf("redistest: removing %s: %v", s.dir, err)
		}
	})
	return s
}

// Stop shuts the server down, so clients get connection refused until Restart. Stopping a stopped
// server does nothing.
func (s *Server) Stop() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return
	}
	err := s.proc.stop()
	s.proc = nil
	if err != nil {
		s.t.Fatalf("redistest: %v", err)
	}
}

// Restart stops the server if it runs and starts it again, empty, on the same port. It retries for a
// few seconds in case the port is briefly held, and fails the test if another process took it.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	for range 50 {
		var p *process
		if p, err = launch(s.binary, s.dir, s.port); err == nil {
			s.proc = p
			return
		}
		if !errors.Is(err, errPortInUse) {
			break
		}
		time.Sleep(100 * time.Millisecond) // the port's holder is outside our control; give it time
	}
	s.t.Fatalf("redistest: restarting redis-server on port %d: %v", s.port, err)
}

// Pause freezes the server (SIGSTOP): connections stay open but nothing answers, as with a hung server
// or a black-holed network. Resume, Stop or the test's end thaws it.
func (s *Server) Pause() {
	s.t.Helper()
	s.signal(pauseSignal, "Pause")
}

// Resume thaws a paused server.
func (s *Server) Resume() {
	s.t.Helper()
	s.signal(resumeSignal, "Resume")
}

func (s *Server) signal(sig os.Signal, name string) {
	s.t.Helper()
	if sig == nil {
		s.t.Skipf("redistest: %s needs SIGSTOP/SIGCONT, which this platform lacks", name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		s.t.Fatalf("redistest: %s on a stopped server", name)
	}
	if err := s.proc.child.Signal(sig); err != nil {
		s.t.Fatalf("redistest: %s: %v", name, err)
	}
}

// unavailable ends a test that cannot get a server: a loud skip on a developer machine, a failure under
// CI, where skipping would let a missing Redis pass the build unnoticed.
func unavailable(t testing.TB, getenv func(string) string, reason string) {
	t.Helper()
	if ci, _ := strconv.ParseBool(getenv("CI")); ci {
		t.Fatalf("redistest: NO REDIS under CI=true: %s; set %s or install redis-server", reason, EnvURL)
		return // only reached with a fake testing.TB
	}
	t.Skipf("redistest: SKIPPING, NO REDIS: %s; set %s or install redis-server", reason, EnvURL)
}

// findServer decides where the shared server comes from: the configured URL, else a throwaway server.
func findServer(getenv func(string) string) (serverURL, noServer string, err error) {
	if env := getenv(EnvURL); env != "" {
		if _, err := redis.ParseURL(env); err != nil {
			// The URL may hold a password, so neither it nor the parser's error (which may quote it) is shown.
			return "", "", fmt.Errorf("%s is not a redis:// URL", EnvURL)
		}
		return env, "", nil
	}
	binary, ok := findBinary()
	if !ok {
		return "", "no " + EnvURL + " and no redis-server on PATH", nil
	}
	p, err := startOnFreePort(binary)
	if err != nil {
		return "", "", fmt.Errorf("starting a throwaway redis-server: %w", err)
	}
	shared.proc = p
	return p.url(), "", nil
}

// deletePrefix removes a finished test's keys, so a long-lived FORTRESS_TEST_REDIS_URL server does not
// accumulate them.
func deletePrefix(serverURL, prefix string) (err error) {
	opt, err := redis.ParseURL(serverURL)
	if err != nil {
		return errors.New("server URL does not parse")
	}
	client := redis.NewClient(opt)
	defer func() { err = errors.Join(err, client.Close()) }()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	iter := client.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	if err := iter.Err(); err != nil {
		return err
	}
	for len(keys) > 0 {
		n := min(len(keys), 1000)
		if err := client.Unlink(ctx, keys[:n]...).Err(); err != nil {
			return err
		}
		keys = keys[n:]
	}
	return nil
}

// randomHex makes prefixes unique across parallel tests and concurrent test binaries.
func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(errors.New("redistest: no randomness: " + err.Error()))
	}
	return hex.EncodeToString(b)
}
