package ratelimit

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// conformance is the behaviour every store must share. Windows are an hour long, so the time a test
// takes is negligible refill; tol is how far a store's durations may drift from the exact values while
// the test runs (0 for Memory on a frozen clock, some seconds for Redis on the server's clock).
func conformance(t *testing.T, newLimiter func(t *testing.T) Store, tol time.Duration) {
	near := func(t *testing.T, what string, got, want time.Duration) {
		t.Helper()
		if got > want || got < want-tol {
			t.Errorf("%s = %v, want %v (tolerance -%v)", what, got, want, tol)
		}
	}

	t.Run("BurstOfLimitThenDeniedWithRetryAfter", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t)
		p := Policy{"burst", 5, time.Hour} // one request per 12 minutes
		interval := time.Hour / 5
		for i := 1; i <= 5; i++ {
			r := take(t, l, "client", p)
			if !r.Allowed || r.Limit != 5 || r.Remaining != 5-i || r.RetryAfter != 0 {
				t.Fatalf("request %d: got %+v, want allowed, limit 5, remaining %d, no RetryAfter", i, r, 5-i)
			}
			near(t, "Reset", r.Reset, time.Duration(i)*interval)
		}
		for i := 6; i <= 8; i++ { // a denied request spends nothing, so each denial reads the same
			r := take(t, l, "client", p)
			if r.Allowed || r.Limit != 5 || r.Remaining != 0 {
				t.Fatalf("request %d: got %+v, want denied, limit 5, remaining 0", i, r)
			}
			near(t, "RetryAfter", r.RetryAfter, interval)
			near(t, "Reset", r.Reset, time.Hour)
			if r.RetryAfter <= 0 {
				t.Errorf("RetryAfter = %v, want > 0", r.RetryAfter)
			}
		}
	})

	t.Run("PeekSpendsNothingAndResetRefills", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t)
		ctx := context.Background()
		p := Policy{"lockout", 2, time.Hour}
		for i := range 3 {
			r, err := l.Peek(ctx, "victim", p)
			if err != nil || !r.Allowed {
				t.Fatalf("peek %d on a full budget: got %+v, %v; want allowed", i, r, err)
			}
		}
		take(t, l, "victim", p)
		take(t, l, "victim", p)
		r, err := l.Peek(ctx, "victim", p)
		if err != nil || r.Allowed || r.RetryAfter <= 0 {
			t.Fatalf("peek on a spent budget: got %+v, %v; want denied with RetryAfter", r, err)
		}
		if err := l.Reset(ctx, "victim", p); err != nil {
			t.Fatal(err)
		}
		if r := take(t, l, "victim", p); !r.Allowed || r.Remaining != 1 {
			t.Fatalf("take after Reset: got %+v, want allowed with 1 remaining", r)
		}
		if err := l.Reset(ctx, "never-seen", p); err != nil {
			t.Fatalf("Reset of an unknown key: %v", err)
		}
		if _, err := l.Peek(ctx, "x", Policy{}); !errors.Is(err, ErrInvalidPolicy) {
			t.Fatalf("Peek with a bad policy: got %v", err)
		}
		if err := l.Reset(ctx, "x", Policy{}); !errors.Is(err, ErrInvalidPolicy) {
			t.Fatalf("Reset with a bad policy: got %v", err)
		}
	})

	t.Run("KeysAndPoliciesAreIndependent", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t)
		p := Policy{"one", 1, time.Hour}
		if r := take(t, l, "a", p); !r.Allowed {
			t.Fatalf("a: got %+v, want allowed", r)
		}
		if r := take(t, l, "a", p); r.Allowed {
			t.Fatalf("a again: got %+v, want denied", r)
		}
		if r := take(t, l, "b", p); !r.Allowed {
			t.Errorf("b after a is spent: got %+v, want allowed", r)
		}
		if r := take(t, l, "a", Policy{"other", 1, time.Hour}); !r.Allowed {
			t.Errorf("a under another policy name: got %+v, want allowed", r)
		}
	})

	t.Run("ConcurrentTakesOnOneKeyAllowExactlyLimit", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t)
		p := Policy{"race", 50, time.Hour}
		var allowed atomic.Int64
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() {
				for range 5 {
					r, err := l.Take(context.Background(), "hot", p)
					if err != nil {
						t.Errorf("Take: %v", err)
						return
					}
					if r.Allowed {
						allowed.Add(1)
					}
				}
			})
		}
		wg.Wait()
		if got := allowed.Load(); got != 50 {
			t.Errorf("500 concurrent requests against a limit of 50: %d allowed, want exactly 50", got)
		}
	})

	t.Run("HostileKeysGetTheirOwnBudgets", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t)
		p := Policy{"hostile", 1, time.Hour}
		huge := strings.Repeat("A", 1<<20)
		allBytes := make([]byte, 256)
		for i := range allBytes {
			allBytes[i] = byte(i)
		}
		keys := []string{
			"", "\x00", "\xff\xfe", string(allBytes), "a:b*?[x]\r\n", "api:x",
			huge, huge[:len(huge)-1] + "B", string(rune(0x1F600)),
		}
		for _, k := range keys {
			if r := take(t, l, k, p); !r.Allowed {
				t.Errorf("first request for a %d-byte key: got %+v, want allowed", len(k), r)
			}
		}
		for _, k := range keys {
			if r := take(t, l, k, p); r.Allowed {
				t.Errorf("second request for a %d-byte key: got %+v, want denied", len(k), r)
			}
		}
	})

	t.Run("InvalidPolicyIsAnError", func(t *testing.T) {
		t.Parallel()
		l := newLimiter(t)
		_, err := l.Take(context.Background(), "k", Policy{"bad name", 1, time.Second})
		if !errors.Is(err, ErrInvalidPolicy) {
			t.Errorf("got error %v, want ErrInvalidPolicy", err)
		}
	})
}
