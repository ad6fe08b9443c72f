package ratelimit

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultRetryInterval is how often WithFallback probes a failing primary when given no interval.
const DefaultRetryInterval = time.Second

// fallbackLimiter answers from primary while it works and from fallback while it fails. Only the fast
// path (is primary down?) is lock-free; state changes, which happen once per outage, take mu.
type fallbackLimiter struct {
	primary, fallback Store
	log               *slog.Logger
	interval          time.Duration

	down      atomic.Bool
	nextProbe atomic.Int64 // UnixNano before which a failing primary is not tried again

	mu        sync.Mutex
	downSince time.Time // when the current outage began
	upSince   time.Time // when the last outage ended
}

// WithFallback returns a Limiter that uses primary and, when primary fails, answers from fallback (the
// in-memory limiter) instead, so a Redis outage degrades limits to per-instance rather than failing
// requests. It logs one WARN when an outage begins and one INFO when primary works again. While primary
// is failing it is tried again at most once per retryInterval (DefaultRetryInterval when <= 0), by one
// request, so a dead Redis does not add latency to every request. A failure caused by the caller's own
// context ending is returned as is and does not count as an outage.
func WithFallback(primary, fallback Store, log *slog.Logger, retryInterval time.Duration) Store {
	if retryInterval <= 0 {
		retryInterval = DefaultRetryInterval
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &fallbackLimiter{primary: primary, fallback: fallback, log: log, interval: retryInterval}
}

// Take answers from primary, or from fallback while primary is failing.
func (f *fallbackLimiter) Take(ctx context.Context, key string, p Policy) (Result, error) {
	return do(ctx, f, p, func(s Store) (Result, error) { return s.Take(ctx, key, p) })
}

// Peek implements Store, with the same failover as Take.
func (f *fallbackLimiter) Peek(ctx context.Context, key string, p Policy) (Result, error) {
	return do(ctx, f, p, func(s Store) (Result, error) { return s.Peek(ctx, key, p) })
}

// Reset implements Store, with the same failover as Take.
func (f *fallbackLimiter) Reset(ctx context.Context, key string, p Policy) error {
	_, err := do(ctx, f, p, func(s Store) (struct{}, error) { return struct{}{}, s.Reset(ctx, key, p) })
	return err
}

// do runs op on primary, or on fallback while primary is failing.
func do[T any](ctx context.Context, f *fallbackLimiter, p Policy, op func(Store) (T, error)) (T, error) {
	var zero T
	if err := p.Validate(); err != nil {
		return zero, err // a bad policy is not an outage
	}
	if f.down.Load() {
		next, now := f.nextProbe.Load(), time.Now().UnixNano()
		// Exactly one request per interval wins the swap and probes primary; the rest do not wait for it.
		if now < next || !f.nextProbe.CompareAndSwap(next, now+int64(f.interval)) {
			return op(f.fallback)
		}
	}
	start := time.Now()
	r, err := op(f.primary)
	if err == nil {
		if f.down.Load() {
			f.recovered(start)
		}
		return r, nil
	}
	if ctx.Err() != nil {
		return zero, err
	}
	f.failed(start, err)
	return op(f.fallback)
}

// failed records a primary failure, logging only the first of an outage. A failure of a request that
// began before the last recovery is stale news and does not start a new outage.
func (f *fallbackLimiter) failed(start time.Time, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.down.Load() || start.Before(f.upSince) {
		return
	}
	f.downSince = time.Now()
	f.nextProbe.Store(f.downSince.Add(f.interval).UnixNano())
	f.down.Store(true)
	f.log.Warn("rate limiter: primary store failing; limiting per instance until it recovers",
		"err", err, "retry_interval", f.interval)
}

// recovered ends the outage, logging once. A success of a request that began before the outage proves
// nothing about now and is ignored.
func (f *fallbackLimiter) recovered(start time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.down.Load() || start.Before(f.downSince) {
		return
	}
	f.upSince = time.Now()
	f.down.Store(false)
	f.log.Info("rate limiter: primary store recovered; limits are shared again",
		"outage", f.upSince.Sub(f.downSince).Round(time.Millisecond))
}
