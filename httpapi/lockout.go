package httpapi

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"time"

	"github.com/fortress-dev/fortress"
	"github.com/fortress-dev/fortress/ratelimit"
)

// loginLockout slows password guessing against one account. Each failed login spends from the email's
// budget (policy: Limit failures per Window, refilled continuously); an empty budget answers 429 before
// any password is checked; a successful login refills it. Unknown emails are tracked exactly like
// existing ones, so neither the answer nor its timing tells whether an account exists. The lock is never
// permanent: one more attempt is allowed every Window/Limit, so an attacker cannot lock a victim out for
// good, only slow both down to that pace.
type loginLockout struct {
	log    *slog.Logger
	store  ratelimit.Store // nil: no lockout
	policy ratelimit.Policy
}

// key names the email's budget without storing the address itself in Redis or memory.
func (l *loginLockout) key(email string) string {
	sum := sha256.Sum256([]byte(fortress.EmailKey(email)))
	return hex.EncodeToString(sum[:16])
}

func (l *loginLockout) enabled() bool { return l.store != nil && l.policy.Limit > 0 }

// locked reports whether the email must wait, and for how long. A failing store does not lock anyone out.
func (l *loginLockout) locked(ctx context.Context, email string) (time.Duration, bool) {
	if !l.enabled() {
		return 0, false
	}
	res, err := l.store.Peek(ctx, l.key(email), l.policy)
	if err != nil {
		l.log.WarnContext(ctx, "login lockout store failed", "err", err)
		return 0, false
	}
	return res.RetryAfter, !res.Allowed
}

// failed records a failed login.
func (l *loginLockout) failed(ctx context.Context, email string) {
	if !l.enabled() {
		return
	}
	if _, err := l.store.Take(ctx, l.key(email), l.policy); err != nil {
		l.log.WarnContext(ctx, "login lockout store failed", "err", err)
	}
}

// succeeded clears the email's failures.
func (l *loginLockout) succeeded(ctx context.Context, email string) {
	if !l.enabled() {
		return
	}
	if err := l.store.Reset(ctx, l.key(email), l.policy); err != nil {
		l.log.WarnContext(ctx, "login lockout store failed", "err", err)
	}
}
