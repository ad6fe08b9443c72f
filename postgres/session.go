package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fortress-dev/fortress"
)

const sessionColumns = `id, user_id, created_at, last_used_at, expires_at, user_agent, client_ip, revoked_at`

// CreateSession implements fortress.SessionService. It refuses a missing user (ENOTFOUND) and an inactive
// one (EUNAUTHORIZED) under a share lock of the user's row, which a concurrent deactivation's update waits
// for: the deactivation then revokes this session too, or commits first and this call sees it.
func (d *DB) CreateSession(ctx context.Context, c fortress.SessionCreate) (fortress.Session, error) {
	if len(c.RefreshHash) != refreshHashLen {
		return fortress.Session{}, errBadRefreshHash
	}
	now := storeTime(time.Now())
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return fortress.Session{}, mapError(err)
	}
	defer rollback(ctx, tx)
	var active bool
	err = tx.QueryRow(ctx, `SELECT is_active FROM users WHERE id = $1 FOR SHARE`, c.UserID).Scan(&active)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return fortress.Session{}, errUserNotFound
	case err != nil:
		return fortress.Session{}, mapError(err)
	case !active:
		return fortress.Session{}, errUserInactive
	}
	s, err := scanSession(tx.QueryRow(ctx, `
		INSERT INTO sessions (user_id, created_at, last_used_at, expires_at, user_agent, client_ip)
		VALUES ($1, $2, $2, $3, $4, $5)
		RETURNING `+sessionColumns,
		c.UserID, now, storeTime(c.ExpiresAt), cleanText(c.UserAgent), cleanText(c.ClientIP)))
	if err != nil {
		return fortress.Session{}, err
	}
	if _, err := tx.Exec(ctx,
		`INSERT INTO refresh_tokens (hash, session_id, created_at) VALUES ($1, $2, $3)`,
		c.RefreshHash, s.ID, now); err != nil {
		return fortress.Session{}, mapError(err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fortress.Session{}, mapError(err)
	}
	return s, nil
}

// RotateRefreshToken implements fortress.SessionService in one transaction. Concurrent rotations of one
// session queue on the lock of the session's row; each then reads the token afresh (READ COMMITTED takes
// a new snapshot per statement), so after the first has rotated it the others find it rotated. Locking
// the session before the token follows the order in which a cascading delete of the user locks them, so
// the two cannot deadlock. Only the revocation that follows a reuse is committed; every other refusal
// changes nothing.
func (d *DB) RotateRefreshToken(ctx context.Context, oldHash, newHash []byte, now time.Time, idle time.Duration) (fortress.Session, error) {
	if len(newHash) != refreshHashLen {
		return fortress.Session{}, errBadRefreshHash
	}
	at := storeTime(now)
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return fortress.Session{}, mapError(err)
	}
	defer rollback(ctx, tx)
	var sessionID int64
	err = tx.QueryRow(ctx, `SELECT session_id FROM refresh_tokens WHERE hash = $1`, oldHash).Scan(&sessionID)
	if errors.Is(err, pgx.ErrNoRows) {
		return fortress.Session{}, errRefreshInvalid
	}
	if err != nil {
		return fortress.Session{}, mapError(err)
	}
	var userActive bool
	s, err := scanSession(tx.QueryRow(ctx, `
		SELECT s.id, s.user_id, s.created_at, s.last_used_at, s.expires_at, s.user_agent, s.client_ip, s.revoked_at,
			u.is_active
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.id = $1
		FOR NO KEY UPDATE OF s`, sessionID), &userActive)
	if fortress.ErrorCode(err) == fortress.ENOTFOUND {
		return fortress.Session{}, errRefreshInvalid // deleted with its user since the first read
	}
	if err != nil {
		return fortress.Session{}, err
	}
	var rotated bool
	err = tx.QueryRow(ctx, `SELECT rotated_at IS NOT NULL FROM refresh_tokens WHERE hash = $1`, oldHash).Scan(&rotated)
	if errors.Is(err, pgx.ErrNoRows) {
		return fortress.Session{}, errRefreshInvalid
	}
	if err != nil {
		return fortress.Session{}, mapError(err)
	}
	if rotated {
		if _, err := tx.Exec(ctx,
			`UPDATE sessions SET revoked_at = $1, revoke_reason = $2 WHERE id = $3 AND revoked_at IS NULL`,
			at, reasonRefreshReuse, sessionID); err != nil {
			return fortress.Session{}, mapError(err)
		}
		if err := tx.Commit(ctx); err != nil {
			return fortress.Session{}, mapError(err)
		}
		return fortress.Session{ID: s.ID, UserID: s.UserID}, errRefreshReused
	}
	if !userActive || !s.Active(now, idle) {
		return fortress.Session{}, errRefreshInvalid
	}
	// The session's lock already makes this token ours; the condition keeps a second winner impossible
	// even if a future change loses that lock.
	tag, err := tx.Exec(ctx, `UPDATE refresh_tokens SET rotated_at = $1 WHERE hash = $2 AND rotated_at IS NULL`, at, oldHash)
	if err != nil {
		return fortress.Session{}, mapError(err)
	}
	if tag.RowsAffected() != 1 {
		return fortress.Session{}, errRefreshInvalid
	}
	if _, err := tx.Exec(ctx,
		`INSERT INTO refresh_tokens (hash, session_id, created_at) VALUES ($1, $2, $3)`,
		newHash, sessionID, at); err != nil {
		return fortress.Session{}, mapError(err)
	}
	s, err = scanSession(tx.QueryRow(ctx,
		`UPDATE sessions SET last_used_at = $1 WHERE id = $2 RETURNING `+sessionColumns, at, sessionID))
	if err != nil {
		return fortress.Session{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return fortress.Session{}, mapError(err)
	}
	return s, nil
}

// SessionUser implements fortress.SessionService with one indexed join: it runs on every authenticated
// request.
func (d *DB) SessionUser(ctx context.Context, sessionID int64, now time.Time) (fortress.User, error) {
	u, err := scanUser(d.pool.QueryRow(ctx, `
		SELECT u.id, u.email, u.password_hash, u.is_active, u.role, u.created_at
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.id = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 AND u.is_active`,
		sessionID, storeTime(now)))
	if fortress.ErrorCode(err) == fortress.ENOTFOUND {
		return fortress.User{}, errSessionEnded
	}
	return u, err
}

// FindSession implements fortress.SessionService.
func (d *DB) FindSession(ctx context.Context, id int64) (fortress.Session, error) {
	return scanSession(d.pool.QueryRow(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = $1`, id))
}

// ListSessions implements fortress.SessionService. Sessions past their absolute expiry are left out too:
// they can never be used again.
func (d *DB) ListSessions(ctx context.Context, userID int64) ([]fortress.Session, error) {
	rows, err := d.pool.Query(ctx, `
		SELECT `+sessionColumns+` FROM sessions
		WHERE user_id = $1 AND revoked_at IS NULL AND expires_at > $2
		ORDER BY created_at DESC, id DESC`,
		userID, storeTime(time.Now()))
	if err != nil {
		return nil, mapError(err)
	}
	sessions, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (fortress.Session, error) { return scanSession(r) })
	if err != nil {
		return nil, mapError(err)
	}
	return sessions, nil
}

// PruneSessions implements fortress.SessionService in one transaction; the refresh tokens of the deleted
// sessions go with them (ON DELETE CASCADE).
func (d *DB) PruneSessions(ctx context.Context, now time.Time, idle time.Duration) (int, error) {
	at, cutoff := storeTime(now), storeTime(now.Add(-idle))
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return 0, mapError(err)
	}
	defer rollback(ctx, tx)
	tag, err := tx.Exec(ctx, `
		DELETE FROM sessions WHERE expires_at <= $1 OR last_used_at <= $2 OR revoked_at <= $2`, at, cutoff)
	if err != nil {
		return 0, mapError(err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM refresh_tokens WHERE rotated_at <= $1`, cutoff); err != nil {
		return 0, mapError(err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, mapError(err)
	}
	return int(tag.RowsAffected()), nil
}

// RevokeSession implements fortress.SessionService. A revoked session keeps its first revocation's time
// and reason.
func (d *DB) RevokeSession(ctx context.Context, userID, sessionID int64) error {
	tag, err := d.pool.Exec(ctx, `
		UPDATE sessions SET revoked_at = coalesce(revoked_at, $1), revoke_reason = coalesce(revoke_reason, $2)
		WHERE id = $3 AND user_id = $4`,
		storeTime(time.Now()), reasonRevoked, sessionID, userID)
	if err != nil {
		return mapError(err)
	}
	if tag.RowsAffected() == 0 {
		return errSessionNotFound
	}
	return nil
}

// RevokeUserSessions implements fortress.SessionService.
func (d *DB) RevokeUserSessions(ctx context.Context, userID, except int64) (int, error) {
	tag, err := d.pool.Exec(ctx, `
		UPDATE sessions SET revoked_at = $1, revoke_reason = $2
		WHERE user_id = $3 AND id <> $4 AND revoked_at IS NULL`,
		storeTime(time.Now()), reasonRevokedAll, userID, except)
	if err != nil {
		return 0, mapError(err)
	}
	return int(tag.RowsAffected()), nil
}

// refreshHashLen is the length of a SHA-256 hash, the only form in which refresh tokens are stored.
const refreshHashLen = 32

// Reasons recorded with a revocation, for the operator reading the table.
const (
	reasonRevoked      = "revoked"       // RevokeSession: logout, or one session ended from the list
	reasonRevokedAll   = "revoked_all"   // RevokeUserSessions: sign out everywhere, password change
	reasonDeactivated  = "deactivated"   // UpdateUser deactivating the account
	reasonRefreshReuse = "refresh_reuse" // a rotated refresh token was presented again
)

var (
	errSessionNotFound = fortress.Errorf(fortress.ENOTFOUND, "Session not found")
	errUserInactive    = fortress.Errorf(fortress.EUNAUTHORIZED, "The account is inactive.")
	errRefreshInvalid  = fortress.Errorf(fortress.EUNAUTHORIZED, "The refresh token is invalid or expired.")
	errSessionEnded    = fortress.Errorf(fortress.EUNAUTHORIZED, "The session has ended.")
	errRefreshReused   = fortress.Errorf(fortress.EREUSED, "The refresh token was already used; the session has been ended.")
	errBadRefreshHash  = fortress.Errorf(fortress.EINVALID, "A refresh token hash must be 32 bytes.")
)

// scanSession maps a row of sessionColumns, followed by the extra columns in extra, if any. Times come
// back in UTC, as from every engine.
func scanSession(row pgx.Row, extra ...any) (fortress.Session, error) {
	var s fortress.Session
	dest := append([]any{&s.ID, &s.UserID, &s.CreatedAt, &s.LastUsedAt, &s.ExpiresAt, &s.UserAgent, &s.ClientIP, &s.RevokedAt}, extra...)
	err := row.Scan(dest...)
	if errors.Is(err, pgx.ErrNoRows) {
		return fortress.Session{}, errSessionNotFound
	}
	if err != nil {
		return fortress.Session{}, mapError(err)
	}
	s.CreatedAt, s.LastUsedAt, s.ExpiresAt = s.CreatedAt.UTC(), s.LastUsedAt.UTC(), s.ExpiresAt.UTC()
	if s.RevokedAt != nil {
		r := s.RevokedAt.UTC()
		s.RevokedAt = &r
	}
	return s, nil
}
