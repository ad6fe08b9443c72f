package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// Defaults for NewRedis.
const (
	// DefaultRedisPrefix keeps the limiter's keys apart from anything else stored in the same Redis.
	DefaultRedisPrefix = "fortress:rl:"
	// DefaultRedisTimeout bounds one Take: Redis answers in about a millisecond on a healthy network, so a
	// Take that needs longer is treated as a failure and WithFallback answers from memory instead. It is
	// not shorter because a CPU-throttled container can stall for a scheduling period (100ms) and a
	// spurious outage costs a WARN and a second of per-instance limits.
	DefaultRedisTimeout = 200 * time.Millisecond
)

// Redis is a Limiter that keeps budgets in Redis, so that every replica spends from the same budget.
type Redis struct {
	client  redis.UniversalClient
	prefix  string
	timeout time.Duration
}

// RedisOption configures NewRedis.
type RedisOption func(*Redis)

// WithPrefix replaces DefaultRedisPrefix, so several deployments (or tests) can share one Redis.
func WithPrefix(prefix string) RedisOption {
	return func(r *Redis) { r.prefix = prefix }
}

// WithTimeout replaces DefaultRedisTimeout; d <= 0 leaves only the caller's context to bound a Take.
func WithTimeout(d time.Duration) RedisOption {
	return func(r *Redis) { r.timeout = d }
}

// NewRedis returns a limiter that keeps budgets in Redis, one atomic Lua script per Take. The timeout
// bounds socket reads only when the client has ContextTimeoutEnabled (NewRedisClient sets it); otherwise
// a hung server can hold a Take for the client's ReadTimeout.
func NewRedis(client redis.UniversalClient, opts ...RedisOption) *Redis {
	r := &Redis{client: client, prefix: DefaultRedisPrefix, timeout: DefaultRedisTimeout}
	for _, opt := range opts {
		opt(r)
	}
	return r
}

// takeScript is GCRA on the server. It reads the server's clock (TIME), so replicas with skewed clocks
// agree, and it counts in microseconds, which a Lua number (a double) holds exactly for centuries. The key
// expires when its budget is full again, so idle clients cost nothing. It returns {allowed, TAT - now}.
var takeScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local new = tat + interval
if new - now > window then
	return {0, tat - now}
end
if ARGV[3] == '1' then
	redis.call('SET', KEYS[1], string.format('%.0f', new), 'PX', math.ceil((new - now) / 1000))
end
return {1, new - now}
`)

// Take consumes one request from key's budget under p. An error means Redis did not answer in time (or
// the policy is invalid); WithFallback then answers from memory.
func (r *Redis) Take(ctx context.Context, key string, p Policy) (Result, error) {
	return r.apply(ctx, key, p, true)
}

// Peek implements Store.
func (r *Redis) Peek(ctx context.Context, key string, p Policy) (Result, error) {
	return r.apply(ctx, key, p, false)
}

// Reset implements Store.
func (r *Redis) Reset(ctx context.Context, key string, p Policy) error {
	if err := p.Validate(); err != nil {
		return err
	}
	ctx, cancel := r.bound(ctx)
	defer cancel()
	if err := r.client.Del(ctx, r.key(key, p)).Err(); err != nil {
		return fmt.Errorf("ratelimit: redis: %w", err)
	}
	return nil
}

func (r *Redis) key(key string, p Policy) string {
	id := append(make([]byte, 0, len(r.prefix)+len(p.Name)+2+maxRawKey), r.prefix...)
	return string(appendKey(id, p.Name, key))
}

func (r *Redis) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if r.timeout > 0 {
		return context.WithTimeout(ctx, r.timeout)
	}
	return ctx, func() {}
}

// apply answers one request under p, spending from the budget only when commit is set.
func (r *Redis) apply(ctx context.Context, key string, p Policy, commit bool) (Result, error) {
	if err := p.Validate(); err != nil {
		return Result{}, err
	}
	interval, window := p.span(time.Microsecond)
	ctx, cancel := r.bound(ctx)
	defer cancel()
	flag := 0
	if commit {
		flag = 1
	}
	vals, err := takeScript.Run(ctx, r.client, []string{r.key(key, p)}, interval, window, flag).Int64Slice()
	if err != nil {
		return Result{}, fmt.Errorf("ratelimit: redis: %w", err)
	}
	if len(vals) != 2 {
		return Result{}, fmt.Errorf("ratelimit: redis: script returned %d values, want 2", len(vals))
	}
	return result(p, vals[0] == 1, vals[1], 0, interval, window, time.Microsecond), nil
}

// NewRedisClient returns a client for redisURL (redis:// or rediss://) with timeouts suited to a rate
// limiter: short dial, read and write timeouts, one retry, and the context's deadline honoured, so an
// unreachable Redis costs a request milliseconds rather than the library's default seconds. Timeouts
// given in the URL's query (dial_timeout=…) take precedence. The error never quotes the URL, which may
// hold a password.
func NewRedisClient(redisURL string) (*redis.Client, error) {
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		return nil, errors.New("ratelimit: the Redis URL does not parse as redis://[user:password@]host[:port][/db]")
	}
	opt.ContextTimeoutEnabled = true
	if opt.DialTimeout == 0 {
		opt.DialTimeout = 250 * time.Millisecond
	}
	if opt.ReadTimeout == 0 {
		opt.ReadTimeout = 250 * time.Millisecond
	}
	if opt.WriteTimeout == 0 {
		opt.WriteTimeout = 250 * time.Millisecond
	}
	if opt.MaxRetries == 0 {
		opt.MaxRetries = 1 // enough to replace a pooled connection that Redis closed on restart
	}
	if opt.DialerRetries == 0 {
		opt.DialerRetries = 1
	}
	return redis.NewClient(opt), nil
}
