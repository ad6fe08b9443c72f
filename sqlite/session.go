package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/fortress-dev/fortress"
)

const sessionColumns = `id, user_id, created_at, last_used_at, expires_at, user_agent, client_ip, revoked_at`

// CreateSession implements fortress.SessionService. It refuses a missing user (ENOTFOUND) and an inactive
// one (EUNAUTHORIZED) inside the write transaction, so a deactivation that commits first is never
// followed by a new session it did not revoke.
func (d *DB) CreateSession(ctx context.Context, c fortress.SessionCreate) (fortress.Session, error) {
	if len(c.RefreshHash) != refreshHashLen {
		return fortress.Session{}, errBadRefreshHash
	}
	now := formatTime(time.Now())
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fortress.Session{}, mapError(err)
	}
	defer rollback(tx)
	var active bool
	err = tx.QueryRowContext(ctx, `SELECT is_active FROM users WHERE id = ?`, c.UserID).Scan(&active)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return fortress.Session{}, errUserNotFound
	case err != nil:
		return fortress.Session{}, mapError(err)
	case !active:
		return fortress.Session{}, errUserInactive
	}
	s, err := scanSession(tx.QueryRowContext(ctx, `
		INSERT INTO sessions (user_id, created_at, last_used_at, expires_at, user_agent, client_ip)
		VALUES (?, ?, ?, ?, ?, ?)
		RETURNING `+sessionColumns,
		c.UserID, now, now, formatTime(c.ExpiresAt), cleanText(c.UserAgent), cleanText(c.ClientIP)))
	if err != nil {
		return fortress.Session{}, err
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO refresh_tokens (hash, session_id, created_at) VALUES (?, ?, ?)`,
		c.RefreshHash, s.ID, now); err != nil {
		return fortress.Session{}, mapError(err)
	}
	if err := tx.Commit(); err != nil {
		return fortress.Session{}, mapError(err)
	}
	return s, nil
}

// RotateRefreshToken implements fortress.SessionService in one write transaction, which SQLite runs
// alone: of concurrent rotations of one token, the first wins and the others find it rotated. Only the
// revocation that follows a reuse is committed; every other refusal changes nothing.
func (d *DB) RotateRefreshToken(ctx context.Context, oldHash, newHash []byte, now time.Time, idle time.Duration) (fortress.Session, error) {
	if len(newHash) != refreshHashLen {
		return fortress.Session{}, errBadRefreshHash
	}
	at := formatTime(now)
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fortress.Session{}, mapError(err)
	}
	defer rollback(tx)
	var sessionID int64
	var rotatedAt sql.NullString
	err = tx.QueryRowContext(ctx,
		`SELECT session_id, rotated_at FROM refresh_tokens WHERE hash = ?`, oldHash).Scan(&sessionID, &rotatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return fortress.Session{}, errRefreshInvalid
	}
	if err != nil {
		return fortress.Session{}, mapError(err)
	}
	if rotatedAt.Valid {
		reused := fortress.Session{ID: sessionID}
		if err := tx.QueryRowContext(ctx, `SELECT user_id FROM sessions WHERE id = ?`, sessionID).Scan(&reused.UserID); err != nil {
			return fortress.Session{}, mapError(err)
		}
		if _, err := tx.ExecContext(ctx,
			`UPDATE sessions SET revoked_at = ?, revoke_reason = ? WHERE id = ? AND revoked_at IS NULL`,
			at, reasonRefreshReuse, sessionID); err != nil {
			return fortress.Session{}, mapError(err)
		}
		if err := tx.Commit(); err != nil {
			return fortress.Session{}, mapError(err)
		}
		return reused, errRefreshReused
	}
	var userActive bool
	s, err := scanSession(tx.QueryRowContext(ctx, `
		SELECT s.id, s.user_id, s.created_at, s.last_used_at, s.expires_at, s.user_agent, s.client_ip, s.revoked_at,
			u.is_active
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.id = ?`, sessionID), &userActive)
	if fortress.ErrorCode(err) == fortress.ENOTFOUND {
		return fortress.Session{}, errRefreshInvalid
	}
	if err != nil {
		return fortress.Session{}, err
	}
	if !userActive || !s.Active(now, idle) {
		return fortress.Session{}, errRefreshInvalid
	}
	// The write transaction already makes this token ours; the condition keeps a second winner impossible
	// even if a future change runs this outside one.
	res, err := tx.ExecContext(ctx,
		`UPDATE refresh_tokens SET rotated_at = ? WHERE hash = ? AND rotated_at IS NULL`, at, oldHash)
	if err != nil {
		return fortress.Session{}, mapError(err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fortress.Session{}, mapError(err)
	} else if n != 1 {
		return fortress.Session{}, errRefreshInvalid
	}
	if _, err := tx.ExecContext(ctx,
		`INSERT INTO refresh_tokens (hash, session_id, created_at) VALUES (?, ?, ?)`,
		newHash, sessionID, at); err != nil {
		return fortress.Session{}, mapError(err)
	}
	s, err = scanSession(tx.QueryRowContext(ctx,
		`UPDATE sessions SET last_used_at = ? WHERE id = ? RETURNING `+sessionColumns, at, sessionID))
	if err != nil {
		return fortress.Session{}, err
	}
	if err := tx.Commit(); err != nil {
		return fortress.Session{}, mapError(err)
	}
	return s, nil
}

// SessionUser implements fortress.SessionService with one indexed join, on a prepared statement: it runs
// on every authenticated request.
func (d *DB) SessionUser(ctx context.Context, sessionID int64, now time.Time) (fortress.User, error) {
	u, err := scanUser(d.queryRow(ctx, `
		SELECT u.id, u.email, u.password_hash, u.is_active, u.role, u.created_at
		FROM sessions s JOIN users u ON u.id = s.user_id
		WHERE s.id = ? AND s.revoked_at IS NULL AND s.expires_at > ? AND u.is_active = 1`,
		sessionID, formatTime(now)))
	if fortress.ErrorCode(err) == fortress.ENOTFOUND {
		return fortress.User{}, errSessionEnded
	}
	return u, err
}

// FindSession implements fortress.SessionService.
func (d *DB) FindSession(ctx context.Context, id int64) (fortress.Session, error) {
	return scanSession(d.db.QueryRowContext(ctx, `SELECT `+sessionColumns+` FROM sessions WHERE id = ?`, id))
}

// ListSessions implements fortress.SessionService. Sessions past their absolute expiry are left out too:
// they can never be used again.
func (d *DB) ListSessions(ctx context.Context, userID int64) ([]fortress.Session, error) {
	rows, err := d.db.QueryContext(ctx, `
		SELECT `+sessionColumns+` FROM sessions
		WHERE user_id = ? AND revoked_at IS NULL AND expires_at > ?
		ORDER BY created_at DESC, id DESC`,
		userID, formatTime(time.Now()))
	if err != nil {
		return nil, mapError(err)
	}
	defer func() { _ = rows.Close() }() // read-only: rows.Err below reports a failed iteration
	sessions := []fortress.Session{}
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return nil, err
		}
		sessions = append(sessions, s)
	}
	if err := rows.Err(); err != nil {
		return nil, mapError(err)
	}
	return sessions, nil
}

// PruneSessions implements fortress.SessionService in one write transaction; the refresh tokens of the
// deleted sessions go with them (ON DELETE CASCADE).
func (d *DB) PruneSessions(ctx context.Context, now time.Time, idle time.Duration) (int, error) {
	at, cutoff := formatTime(now), formatTime(now.Add(-idle))
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, mapError(err)
	}
	defer rollback(tx)
	res, err := tx.ExecContext(ctx, `
		DELETE FROM sessions WHERE expires_at <= ? OR last_used_at <= ? OR revoked_at <= ?`, at, cutoff, cutoff)
	if err != nil {
		return 0, mapError(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, mapError(err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM refresh_tokens WHERE rotated_at <= ?`, cutoff); err != nil {
		return 0, mapError(err)
	}
	if err := tx.Commit(); err != nil {
		return 0, mapError(err)
	}
	return int(n), nil
}

// RevokeSession implements fortress.SessionService. A revoked session keeps its first revocation's time
// and reason.
func (d *DB) RevokeSession(ctx context.Context, userID, sessionID int64) error {
	res, err := d.db.ExecContext(ctx, `
		UPDATE sessions SET revoked_at = coalesce(revoked_at, ?), revoke_reason = coalesce(revoke_reason, ?)
		WHERE id = ? AND user_id = ?`,
		formatTime(time.Now()), reasonRevoked, sessionID, userID)
	if err != nil {
		return mapError(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return mapError(err)
	}
	if n == 0 {
		return errSessionNotFound
	}
	return nil
}

// RevokeUserSessions implements fortress.SessionService.
func (d *DB) RevokeUserSessions(ctx context.Context, userID, except int64) (int, error) {
	res, err := d.db.ExecContext(ctx, `
		UPDATE sessions SET revoked_at = ?, revoke_reason = ?
		WHERE user_id = ? AND id <> ? AND revoked_at IS NULL`,
		formatTime(time.Now()), reasonRevokedAll, userID, except)
	if err != nil {
		return 0, mapError(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, mapError(err)
	}
	return int(n), nil
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

// scanSession maps a row of sessionColumns, followed by the extra columns in extra, if any.
func scanSession(row scanner, extra ...any) (fortress.Session, error) {
	var s fortress.Session
	var created, lastUsed, expires string
	var revoked sql.NullString
	dest := append([]any{&s.ID, &s.UserID, &created, &lastUsed, &expires, &s.UserAgent, &s.ClientIP, &revoked}, extra...)
	err := row.Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return fortress.Session{}, errSessionNotFound
	}
	if err != nil {
		return fortress.Session{}, mapError(err)
	}
	if s.CreatedAt, err = parseTime(created); err != nil {
		return fortress.Session{}, err
	}
	if s.LastUsedAt, err = parseTime(lastUsed); err != nil {
		return fortress.Session{}, err
	}
	if s.ExpiresAt, err = parseTime(expires); err != nil {
		return fortress.Session{}, err
	}
	if s.RevokedAt, err = parseNullTime(revoked); err != nil {
		return fortress.Session{}, err
	}
	return s, nil
}
