package ratelimit

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fortress-dev/fortress/internal/redistest"
)

// The whole outage story on a real Redis: it stops, Takes keep answering (from memory, per instance)
// within a deadline, one WARN is logged; it comes back, Takes use it again, one INFO is logged.
func TestFallbackSurvivesARedisOutageAndRecovers(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	client := redisClient(t, srv.URL)
	logs := &logRecorder{}
	// A timeout a loaded machine cannot exceed by accident: the outage here is a stopped server, whose
	// connection refused comes at once.
	primary := NewRedis(client, WithTimeout(10*time.Second))
	l := WithFallback(primary, NewMemory(1000), slog.New(logs), 50*time.Millisecond)
	p := Policy{"outage", 3, time.Hour}
	key := DefaultRedisPrefix + "outage:client"

	takeWithin := func(t *testing.T, limit time.Duration) Result {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), limit)
		defer cancel()
		r, err := l.Take(ctx, "client", p)
		if err != nil {
			t.Fatalf("Take: %v", err)
		}
		if ctx.Err() != nil {
			t.Fatalf("Take outlived its %v deadline", limit)
		}
		return r
	}

	if r := takeWithin(t, time.Second); !r.Allowed || r.Remaining != 2 {
		t.Fatalf("healthy: got %+v, want allowed with 2 remaining", r)
	}
	if n := client.Exists(t.Context(), key).Val(); n != 1 {
		t.Fatalf("healthy: the budget is not in Redis (EXISTS = %d)", n)
	}

	srv.Stop()
	allowed := 0
	for range 20 {
		if takeWithin(t, time.Second).Allowed {
			allowed++
		}
	}
	// The instance's own budget starts full: limits still apply during the outage, per instance.
	if allowed != 3 {
		t.Errorf("during the outage: %d of 20 allowed, want 3 (the in-memory budget)", allowed)
	}
	if w, i := logs.count(slog.LevelWarn), logs.count(slog.LevelInfo); w != 1 || i != 0 {
		t.Errorf("during the outage: %d WARN and %d INFO logged, want 1 and 0", w, i)
	}

	srv.Restart()
	deadline := time.Now().Add(10 * time.Second)
	for logs.count(slog.LevelInfo) == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("no recovery logged 10s after Redis came back")
		}
		takeWithin(t, time.Second)
		time.Sleep(10 * time.Millisecond) // polling step; the retry interval is 50ms
	}
	if n := client.Exists(t.Context(), key).Val(); n != 1 {
		t.Errorf("after recovery: the budget is not in the restarted Redis (EXISTS = %d)", n)
	}
	for range 5 {
		takeWithin(t, time.Second)
	}
	if w, i := logs.count(slog.LevelWarn), logs.count(slog.LevelInfo); w != 1 || i != 1 {
		t.Errorf("after recovery: %d WARN and %d INFO logged, want 1 and 1", w, i)
	}
}

// A hung Redis (connections accepted, nothing answered) costs the Redis timeout, not the client's
// default read timeout of seconds.
func TestFallbackAnswersQuicklyWhenRedisHangs(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	logs := &logRecorder{}
	l := WithFallback(NewRedis(redisClient(t, srv.URL)), NewMemory(1000), slog.New(logs), time.Hour)
	p := Policy{"hang", 10, time.Hour}
	take(t, l, "k", p)
	srv.Pause()
	for range 10 {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		r, err := l.Take(ctx, "k", p)
		if err != nil || !r.Allowed || ctx.Err() != nil {
			t.Fatalf("hung Redis: got %+v, %v (deadline passed: %v); want allowed from memory within 1s", r, err, ctx.Err() != nil)
		}
		cancel()
	}
	if w := logs.count(slog.LevelWarn); w != 1 {
		t.Errorf("%d WARN logged, want 1", w)
	}
}

// failingLimiter is a primary whose health the test controls; it counts calls to show how rarely a
// failing primary is tried.
type failingLimiter struct {
	calls atomic.Int64
	fail  atomic.Bool
}

func (f *failingLimiter) Take(ctx context.Context, _ string, p Policy) (Result, error) {
	f.calls.Add(1)
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	if f.fail.Load() {
		return Result{}, errors.New("connection refused")
	}
	return Result{Allowed: true, Limit: p.Limit, Remaining: 42}, nil
}

// Peek and Reset fail or succeed with Take, so that the failover of every method is exercised.
func (f *failingLimiter) Peek(ctx context.Context, key string, p Policy) (Result, error) {
	return f.Take(ctx, key, p)
}

func (f *failingLimiter) Reset(ctx context.Context, key string, p Policy) error {
	_, err := f.Take(ctx, key, p)
	return err
}

func TestFallbackLogsOnceAndProbesOncePerInterval(t *testing.T) {
	primary := &failingLimiter{}
	primary.fail.Store(true)
	logs := &logRecorder{}
	l := WithFallback(primary, NewMemory(1000), slog.New(logs), time.Hour).(*fallbackLimiter)
	p := Policy{"probe", 1_000_000, time.Hour}

	// Many requests meet the failure at once: one WARN.
	var wg sync.WaitGroup
	start := make(chan struct{})
	for range 50 {
		wg.Go(func() {
			<-start
			if r, err := l.Take(context.Background(), "k", p); err != nil || !r.Allowed {
				t.Errorf("got %+v, %v; want allowed from the fallback", r, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if w := logs.count(slog.LevelWarn); w != 1 {
		t.Errorf("50 concurrent failures: %d WARN logged, want 1", w)
	}

	// Within the interval the primary is not tried at all.
	before := primary.calls.Load()
	for range 100 {
		take(t, l, "k", p)
	}
	if got := primary.calls.Load() - before; got != 0 {
		t.Errorf("within the retry interval: primary called %d times, want 0", got)
	}

	// Once the interval has passed, exactly one of many concurrent requests probes it.
	l.nextProbe.Store(time.Now().Add(-time.Millisecond).UnixNano())
	before = primary.calls.Load()
	for range 50 {
		wg.Go(func() { take(t, l, "k", p) })
	}
	wg.Wait()
	if got := primary.calls.Load() - before; got != 1 {
		t.Errorf("after the retry interval: primary called %d times by 50 requests, want 1", got)
	}
	if w := logs.count(slog.LevelWarn); w != 1 {
		t.Errorf("a failed probe logged again: %d WARN, want 1", w)
	}

	// The primary heals; the next probe answers from it and logs one INFO.
	primary.fail.Store(false)
	l.nextProbe.Store(0)
	if r := take(t, l, "k", p); r.Remaining != 42 {
		t.Errorf("probe after healing: got %+v, want the primary's answer (Remaining 42)", r)
	}
	if r := take(t, l, "k", p); r.Remaining != 42 {
		t.Errorf("after recovery: got %+v, want the primary's answer (Remaining 42)", r)
	}
	if w, i := logs.count(slog.LevelWarn), logs.count(slog.LevelInfo); w != 1 || i != 1 {
		t.Errorf("after recovery: %d WARN and %d INFO, want 1 and 1", w, i)
	}
}

// Late news about the previous state does not flip it: a failure of a request begun before the
// recovery, or a success of one begun before the outage.
func TestFallbackIgnoresStaleOutcomes(t *testing.T) {
	logs := &logRecorder{}
	l := WithFallback(&failingLimiter{}, NewMemory(10), slog.New(logs), time.Hour).(*fallbackLimiter)
	old := time.Now().Add(-time.Second)
	l.failed(time.Now(), errors.New("down"))
	l.recovered(old) // began before the outage
	if !l.down.Load() {
		t.Errorf("a success begun before the outage ended it")
	}
	l.recovered(time.Now())
	l.failed(old, errors.New("late")) // began before the recovery
	if l.down.Load() {
		t.Errorf("a failure begun before the recovery started a new outage")
	}
	if w, i := logs.count(slog.LevelWarn), logs.count(slog.LevelInfo); w != 1 || i != 1 {
		t.Errorf("%d WARN and %d INFO, want 1 and 1", w, i)
	}
}

func TestFallbackDoesNotCountCallerErrorsAsOutages(t *testing.T) {
	logs := &logRecorder{}
	primary := &failingLimiter{}
	l := WithFallback(primary, NewMemory(10), slog.New(logs), 0).(*fallbackLimiter)
	if l.interval != DefaultRetryInterval {
		t.Errorf("retry interval %v, want DefaultRetryInterval for 0", l.interval)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Take(ctx, "k", Policy{"gone", 1, time.Second}); !errors.Is(err, context.Canceled) {
		t.Errorf("caller's context cancelled: got error %v, want context.Canceled", err)
	}
	if _, err := l.Take(context.Background(), "k", Policy{"bad name", 1, time.Second}); !errors.Is(err, ErrInvalidPolicy) {
		t.Errorf("invalid policy: got error %v, want ErrInvalidPolicy", err)
	}
	if l.down.Load() || logs.count(slog.LevelWarn) != 0 {
		t.Errorf("a cancelled caller or a bad policy was taken for an outage")
	}
	if got := primary.calls.Load(); got != 1 {
		t.Errorf("primary called %d times, want 1 (a bad policy never reaches it)", got)
	}
}

func TestFallbackWithoutLoggerDoesNotPanic(t *testing.T) {
	primary := &failingLimiter{}
	primary.fail.Store(true)
	l := WithFallback(primary, NewMemory(10), nil, time.Hour)
	if r := take(t, l, "k", Policy{"nolog", 1, time.Second}); !r.Allowed {
		t.Errorf("got %+v, want allowed from the fallback", r)
	}
}
