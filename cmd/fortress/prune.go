package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/fortress-dev/fortress"
)

// pruneInterval is how often serve deletes the sessions that can never be used again.
const pruneInterval = time.Hour

// pruneSessions runs pruneOnce at start and then every interval until ctx ends. Every replica runs it:
// the deletes are idempotent, and a replica that misses a round leaves the work to the next.
func pruneSessions(ctx context.Context, s fortress.SessionService, idle, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		pruneOnce(ctx, s, idle, log)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// pruneOnce deletes expired, idle and long-revoked sessions and long-rotated refresh tokens, so that the
// tables stay proportional to the sessions in use. A failure is logged and retried next round.
func pruneOnce(ctx context.Context, s fortress.SessionService, idle time.Duration, log *slog.Logger) {
	n, err := s.PruneSessions(ctx, time.Now(), idle)
	switch {
	case err != nil && ctx.Err() == nil:
		log.WarnContext(ctx, "session pruning failed; retrying next round", "err", err)
	case n > 0:
		log.InfoContext(ctx, "sessions pruned", "sessions", n)
	}
}
