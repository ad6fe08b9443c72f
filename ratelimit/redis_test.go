package ratelimit

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fortress-dev/fortress/internal/redistest"
)

func TestRedisConformance(t *testing.T) {
	conformance(t, func(t *testing.T) Store {
		l, _, _ := sharedRedis(t)
		return l
	}, 10*time.Second)
}

// Refill runs on the server's clock, so the test waits for what the result itself reports (RetryAfter),
// in a bounded loop, rather than sleeping a guessed amount.
func TestRedisRefillsAfterRetryAfter(t *testing.T) {
	t.Parallel()
	l, _, _ := sharedRedis(t)
	p := Policy{"refill", 2, 600 * time.Millisecond} // one request per 300ms
	ctx := t.Context()
	take(t, l, "k", p)
	take(t, l, "k", p)
	denied := take(t, l, "k", p)
	if denied.Allowed || denied.RetryAfter <= 0 || denied.RetryAfter > 300*time.Millisecond {
		t.Fatalf("third request: got %+v, want denied with 0 < RetryAfter <= 300ms", denied)
	}
	deadline := time.Now().Add(5 * time.Second)
	waits := 0
	for r := denied; !r.Allowed; waits++ {
		if time.Now().After(deadline) {
			t.Fatalf("still denied 5s after a RetryAfter of %v (%d waits)", denied.RetryAfter, waits)
		}
		time.Sleep(r.RetryAfter) // the duration the limiter promised
		var err error
		if r, err = l.Take(ctx, "k", p); err != nil {
			t.Fatal(err)
		}
	}
	if waits > 2 {
		t.Errorf("allowed only after %d waits of the reported RetryAfter, want 1 (2 at most on a busy clock)", waits)
	}
}

// Two clients are two replicas: they spend from one budget.
func TestRedisReplicasShareOneBudget(t *testing.T) {
	t.Parallel()
	url := redistest.NewURL(t)
	prefix := redistest.Prefix(t)
	replicas := []*Redis{
		NewRedis(redisClient(t, url), WithPrefix(prefix), WithTimeout(2*time.Second)),
		NewRedis(redisClient(t, url), WithPrefix(prefix), WithTimeout(2*time.Second)),
	}
	p := Policy{"shared", 10, time.Hour}
	allowed := 0
	for i := range 30 {
		r := take(t, replicas[i%2], "client", p)
		if r.Allowed {
			allowed++
		}
		if want := max(10-i-1, 0); r.Remaining != want {
			t.Errorf("request %d via replica %d: Remaining %d, want %d", i, i%2, r.Remaining, want)
		}
	}
	if allowed != 10 {
		t.Errorf("30 requests over two replicas against a limit of 10: %d allowed, want 10", allowed)
	}
}

// Idle keys vanish with their debt, and a hostile key costs bounded Redis memory.
func TestRedisKeysExpireAndStayShort(t *testing.T) {
	t.Parallel()
	l, c, prefix := sharedRedis(t)
	ctx := t.Context()
	p := Policy{"ttl", 10, time.Minute} // one request per 6s
	take(t, l, "short", p)
	take(t, l, "short", p)
	take(t, l, strings.Repeat("x", 1<<20), p)

	ttl, err := c.PTTL(ctx, prefix+"ttl:short").Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl <= 6*time.Second || ttl > 12*time.Second {
		t.Errorf("PTTL after two requests = %v, want (6s, 12s]: the key lives until its budget is full", ttl)
	}
	keys, err := c.Keys(ctx, prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 {
		t.Fatalf("keys under the prefix: %q, want 2", keys)
	}
	for _, k := range keys {
		if len(k) > len(prefix)+len("ttl:")+maxRawKey {
			t.Errorf("Redis key of %d bytes, want at most %d", len(k), len(prefix)+len("ttl:")+maxRawKey)
		}
	}

	// A key spent once under a short window is gone once full again; wait for what Redis reports.
	short := Policy{"gone", 1, 50 * time.Millisecond}
	r := take(t, l, "k", short)
	deadline := time.Now().Add(5 * time.Second)
	for {
		n, err := c.Exists(ctx, prefix+"gone:k").Result()
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("key still exists 5s after its budget was full again (Reset %v)", r.Reset)
		}
		time.Sleep(r.Reset)
	}
}

func TestRedisUnreachableIsAnError(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	l := NewRedis(redisClient(t, srv.URL), WithTimeout(time.Second))
	srv.Stop()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, err := l.Take(ctx, "k", Policy{"down", 1, time.Second})
	if err == nil || !strings.HasPrefix(err.Error(), "ratelimit: redis:") {
		t.Errorf("Take on a stopped Redis: got error %v, want one starting %q", err, "ratelimit: redis:")
	}
	if ctx.Err() != nil {
		t.Errorf("Take on a stopped Redis outlived a 5s deadline")
	}
}

// The limiter's own timeout bounds a Take even when the server accepts the connection and never answers.
func TestRedisTimeoutBoundsAHungServer(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	c := redisClient(t, srv.URL)
	p := Policy{"hung", 10, time.Second}
	// Warm up without the short timeout, which a loaded machine may exceed on a first connection.
	take(t, NewRedis(c, WithTimeout(10*time.Second)), "k", p) // a pooled connection now exists
	l := NewRedis(c)                                          // DefaultRedisTimeout
	srv.Pause()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
	defer cancel()
	_, err := l.Take(ctx, "k", p)
	if err == nil {
		t.Errorf("Take on a hung Redis: error nil, want a timeout")
	}
	if ctx.Err() != nil {
		t.Errorf("Take on a hung Redis outlived a 2s deadline; DefaultRedisTimeout is %v", DefaultRedisTimeout)
	}
}

// The script runs with EVALSHA; a restarted Redis has lost it and must be sent the script again.
func TestRedisReloadsTheScriptAfterARestart(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	l := NewRedis(redisClient(t, srv.URL), WithTimeout(2*time.Second))
	p := Policy{"reload", 1, time.Hour}
	take(t, l, "k", p)
	srv.Restart()
	var r Result
	var err error
	for range 3 { // the first attempt may meet the connection the restart closed
		if r, err = l.Take(t.Context(), "k", p); err == nil {
			break
		}
	}
	if err != nil || !r.Allowed {
		t.Errorf("after a restart (budgets lost): got %+v, %v; want allowed", r, err)
	}
}

func TestNewRedisClient(t *testing.T) {
	c, err := NewRedisClient("redis://:s3cret@127.0.0.1:6379/2")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	o := c.Options()
	if !o.ContextTimeoutEnabled || o.DialTimeout != 250*time.Millisecond || o.ReadTimeout != 250*time.Millisecond ||
		o.WriteTimeout != 250*time.Millisecond || o.MaxRetries != 1 || o.DB != 2 || o.Password != "s3cret" {
		t.Errorf("options %+v, want context timeouts, 250ms dial/read/write, 1 retry, db 2, the password", o)
	}
	c2, err := NewRedisClient("redis://127.0.0.1:6379?dial_timeout=3s&max_retries=5")
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if o := c2.Options(); o.DialTimeout != 3*time.Second || o.MaxRetries != 5 {
		t.Errorf("URL settings: dial %v, retries %d; want the URL's 3s and 5", o.DialTimeout, o.MaxRetries)
	}
	for _, bad := range []string{"http://user:hunter2@host", "redis://user:hunter2@host:notaport", "%zz:hunter2"} {
		_, err := NewRedisClient(bad)
		if err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("NewRedisClient(bad URL): error %v, want one that does not quote the password", err)
		}
	}
}

func TestRedisRejectsInvalidPolicyWithoutCallingRedis(t *testing.T) {
	l := NewRedis(nil) // would panic if used
	if _, err := l.Take(t.Context(), "k", Policy{}); !errors.Is(err, ErrInvalidPolicy) {
		t.Errorf("got error %v, want ErrInvalidPolicy", err)
	}
}

func BenchmarkRedisTake(b *testing.B) {
	c := redisClient(b, redistest.NewURL(b))
	l := NewRedis(c, WithPrefix(redistest.Prefix(b)), WithTimeout(2*time.Second))
	p := Policy{"bench", 1_000_000, time.Second}
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = "ip:10.0." + strconv.Itoa(i/256) + "." + strconv.Itoa(i%256)
	}
	ctx := context.Background()
	b.Run("serial", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := l.Take(ctx, keys[i%len(keys)], p); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := l.Take(ctx, keys[i%len(keys)], p); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	})
}
