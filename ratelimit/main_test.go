package ratelimit

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/fortress-dev/fortress/internal/redistest"
)

func TestMain(m *testing.M) { os.Exit(redistest.Main(m)) }

// clock is a hand-moved time source for Memory, so refill is tested without sleeping.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// redisClient returns a client for url configured as production would configure it.
func redisClient(t testing.TB, url string) *redis.Client {
	t.Helper()
	c, err := NewRedisClient(url)
	if err != nil {
		t.Fatalf("NewRedisClient: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// sharedRedis returns a limiter on the shared test server under a prefix of this test's own.
func sharedRedis(t testing.TB) (*Redis, *redis.Client, string) {
	t.Helper()
	c := redisClient(t, redistest.NewURL(t))
	prefix := redistest.Prefix(t)
	// A generous timeout: a loaded CI machine under -race must not turn slowness into test failures.
	return NewRedis(c, WithPrefix(prefix), WithTimeout(2*time.Second)), c, prefix
}

func take(t testing.TB, l Limiter, key string, p Policy) Result {
	t.Helper()
	r, err := l.Take(context.Background(), key, p)
	if err != nil {
		t.Fatalf("Take(%q): %v", key, err)
	}
	return r
}

// logRecorder is a slog.Handler that keeps records, to count what an outage logs.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (h *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *logRecorder) WithGroup(string) slog.Handler            { return h }
func (h *logRecorder) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r.Clone())
	return nil
}

func (h *logRecorder) count(level slog.Level) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, r := range h.records {
		if r.Level == level {
			n++
		}
	}
	return n
}
