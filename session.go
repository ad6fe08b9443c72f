package fortress

import (
	"context"
	"time"
)

// Session is one sign-in: it lives from a login until logout, revocation, its absolute expiry or an idle
// period without refresh. Its refresh token rotates on every refresh; only hashes of refresh tokens are
// ever stored.
type Session struct {
	ID         int64
	UserID     int64
	CreatedAt  time.Time
	LastUsedAt time.Time // the last login or refresh
	ExpiresAt  time.Time // the absolute end, whatever the activity
	UserAgent  string
	ClientIP   string
	RevokedAt  *time.Time
}

// Active reports whether the session can still be used at now, given the idle timeout.
func (s Session) Active(now time.Time, idle time.Duration) bool {
	return s.RevokedAt == nil && now.Before(s.ExpiresAt) && now.Before(s.LastUsedAt.Add(idle))
}

// SessionCreate opens a session with its first refresh token.
type SessionCreate struct {
	UserID      int64
	RefreshHash []byte // SHA-256 of the refresh token
	UserAgent   string // truncated by the caller to a sane length
	ClientIP    string
	ExpiresAt   time.Time
}

// EREUSED is the code of a refresh token presented again after it was rotated: a sign that it was
// stolen. The store has revoked the whole session when it returns it.
const EREUSED = "refresh_token_reused"

// SessionService stores sessions and their refresh tokens.
type SessionService interface {
	// CreateSession stores a new session and its first refresh token.
	CreateSession(ctx context.Context, create SessionCreate) (Session, error)

	// RotateRefreshToken exchanges the refresh token whose hash is oldHash for newHash, atomically, and
	// marks the session used at now. It returns EUNAUTHORIZED when the token is unknown or its session is
	// revoked, expired (absolute) or idle longer than idle; and EREUSED, after revoking the session, when
	// oldHash was already rotated (the returned Session then has only ID and UserID, for the audit log).
	RotateRefreshToken(ctx context.Context, oldHash, newHash []byte, now time.Time, idle time.Duration) (Session, error)

	// SessionUser returns the user of a usable session: not revoked, not past its absolute expiry at now,
	// and of an active user. It returns EUNAUTHORIZED otherwise, a missing session included. Every
	// authenticated request asks it, so that ending a session revokes its access tokens at once; it is one
	// query by primary key. The idle timeout is not checked here: it is enforced when the refresh token
	// is used, and access tokens live shorter than it.
	SessionUser(ctx context.Context, sessionID int64, now time.Time) (User, error)

	// FindSession returns ENOTFOUND when no session has the id.
	FindSession(ctx context.Context, id int64) (Session, error)

	// ListSessions returns the user's sessions that are not revoked, newest first.
	ListSessions(ctx context.Context, userID int64) ([]Session, error)

	// RevokeSession ends one of the user's sessions. It returns ENOTFOUND when the user has no such
	// session (whether it is missing or someone else's). Revoking a revoked session is not an error.
	RevokeSession(ctx context.Context, userID, sessionID int64) error

	// PruneSessions deletes, with their refresh tokens, the sessions that can never be used again at now:
	// past their absolute expiry, idle longer than idle, or revoked longer than idle ago (long enough for a
	// reused refresh token to be recognised); and the rotated refresh tokens of live sessions that were
	// rotated longer than idle ago. It returns how many sessions it deleted. Storage then stays
	// proportional to the sessions in use.
	PruneSessions(ctx context.Context, now time.Time, idle time.Duration) (int, error)

	// RevokeUserSessions ends all of the user's sessions, except the one with id except (0: none), and
	// returns how many it ended.
	RevokeUserSessions(ctx context.Context, userID, except int64) (int, error)
}
