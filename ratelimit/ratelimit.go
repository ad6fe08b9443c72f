package ratelimit

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"
)

// Policy is a budget: Limit requests per Window, refilled continuously, with a burst of Limit. Name
// identifies the budget — the same key under two names spends from two budgets — and is what the HTTP
// layer shows in the RateLimit-Policy header, so it is restricted to a header-safe token.
type Policy struct {
	Name   string
	Limit  int
	Window time.Duration
}

// Bounds on a Policy. The emission interval (Window/Limit) must be at least a microsecond because the
// Redis store counts in microseconds; a week is ample for any window and keeps the arithmetic far from
// overflow.
const (
	MaxNameLen = 64
	MinWindow  = time.Millisecond
	MaxWindow  = 7 * 24 * time.Hour
)

// ErrInvalidPolicy is wrapped by Validate and by Take for a malformed Policy: a programming error, never
// a sign that a store is failing, so WithFallback does not treat it as an outage.
var ErrInvalidPolicy = errors.New("ratelimit: invalid policy")

// Validate reports why p cannot be enforced, so a bad configuration fails at startup rather than on the
// first request.
func (p Policy) Validate() error {
	if p.Name == "" || len(p.Name) > MaxNameLen {
		return fmt.Errorf("%w: name must be 1 to %d characters", ErrInvalidPolicy, MaxNameLen)
	}
	for i := 0; i < len(p.Name); i++ {
		if !isNameByte(p.Name[i]) {
			return fmt.Errorf("%w: name %q may only hold letters, digits, '_', '-' and '.'", ErrInvalidPolicy, p.Name)
		}
	}
	if p.Limit < 1 {
		return fmt.Errorf("%w: %s: limit %d, want at least 1", ErrInvalidPolicy, p.Name, p.Limit)
	}
	if p.Window < MinWindow || p.Window > MaxWindow {
		return fmt.Errorf("%w: %s: window %v, want %v to %v", ErrInvalidPolicy, p.Name, p.Window, MinWindow, MaxWindow)
	}
	if p.Window/time.Duration(p.Limit) < time.Microsecond {
		return fmt.Errorf("%w: %s: %d per %v refills faster than one per microsecond",
			ErrInvalidPolicy, p.Name, p.Limit, p.Window)
	}
	return nil
}

// isNameByte keeps a policy name a token that needs no quoting in a header and no escaping in a Redis key.
func isNameByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.'
}

// Result is the outcome of one Take, carrying what the HTTP layer needs for 429, Retry-After and the
// RateLimit headers. Durations are exact; headers must round them up to whole seconds.
type Result struct {
	Allowed    bool
	Limit      int           // the policy's Limit, for the RateLimit-Policy header's q
	Remaining  int           // requests still allowed right now (>= 0), for the RateLimit header's r
	Reset      time.Duration // until the budget is full again, for the RateLimit header's t
	RetryAfter time.Duration // when !Allowed: until one request will be allowed (> 0); else 0
}

// Limiter is what the HTTP layer depends on, so the store (memory, Redis, Redis with fallback) is chosen
// once, at wiring time.
type Limiter interface {
	// Take consumes one request from key's budget under p. The error is ErrInvalidPolicy for a bad
	// policy, or the store's failure (Redis unreachable); a denied request is not an error.
	Take(ctx context.Context, key string, p Policy) (Result, error)
}

// Store is a Limiter that can also look at a budget without spending it and refill it: what a lockout
// of failed logins needs (look before trying, spend on failure, refill on success).
type Store interface {
	Limiter
	// Peek reports what Take would answer now, without spending anything.
	Peek(ctx context.Context, key string, p Policy) (Result, error)
	// Reset refills key's budget under p.
	Reset(ctx context.Context, key string, p Policy) error
}

// span returns the emission interval and the burst span in multiples of unit. The span is Limit whole
// intervals rather than Window, so rounding the interval down can never allow more than Limit in a burst.
func (p Policy) span(unit time.Duration) (interval, window int64) {
	interval = int64(p.Window/unit) / int64(p.Limit)
	return interval, interval * int64(p.Limit)
}

// gcra applies one request to a budget whose theoretical arrival time is tat, at time now; all values
// are in one unit (nanoseconds in Memory, microseconds in Redis). It returns the new TAT, unchanged
// when the request is denied.
func gcra(tat, now, interval, window int64) (newTAT int64, allowed bool) {
	next := max(tat, now) + interval
	if next-now > window {
		return tat, false
	}
	return next, true
}

// result builds a Result from the TAT after the request (all values in multiples of unit).
func result(p Policy, allowed bool, tat, now, interval, window int64, unit time.Duration) Result {
	reset := max(tat-now, 0)
	r := Result{
		Allowed:   allowed,
		Limit:     p.Limit,
		Remaining: int(min(max((window-reset)/interval, 0), int64(p.Limit))),
		Reset:     time.Duration(reset) * unit,
	}
	if !allowed {
		r.RetryAfter = time.Duration(max(tat+interval-window-now, 1)) * unit
	}
	return r
}

// maxRawKey is the longest key stored as given; longer keys are stored as their SHA-256, so a hostile
// 1 MB key costs as little as a short one. Keys are taken as given up to this length because typical
// keys (an IP address, "user:" and an id) are short and stay readable in Redis.
const maxRawKey = 64

// hashedKeyMark starts a hashed key. No text key starts with 0xff (it is never valid UTF-8); a binary
// key could collide with the hash of a long key only by knowing that key, which would give nothing the
// long key itself does not.
const hashedKeyMark = 0xff

// appendKey appends name, a separator and the (possibly hashed) key: the identity of a budget. Name
// cannot contain ':' (Validate), so the result is unambiguous.
func appendKey(b []byte, name, key string) []byte {
	b = append(b, name...)
	b = append(b, ':')
	if len(key) <= maxRawKey {
		return append(b, key...)
	}
	sum := sha256.Sum256([]byte(key))
	b = append(b, hashedKeyMark)
	return append(b, sum[:]...)
}
