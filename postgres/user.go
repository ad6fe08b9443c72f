package postgres

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fortress-dev/fortress"
)

const userColumns = `id, email, password_hash, is_active, role, created_at`

// CreateUser implements fortress.UserService.
func (d *DB) CreateUser(ctx context.Context, email, passwordHash string) (fortress.User, error) {
	return d.CreateUserWithRole(ctx, email, passwordHash, fortress.RoleUser)
}

// CreateUserWithRole implements fortress.UserService.
func (d *DB) CreateUserWithRole(ctx context.Context, email, passwordHash, role string) (fortress.User, error) {
	if !validRole(role) {
		return fortress.User{}, errUnknownRole
	}
	row := d.pool.QueryRow(ctx,
		`INSERT INTO users (email, email_key, password_hash, role) VALUES ($1, $2, $3, $4) RETURNING `+userColumns,
		email, fortress.EmailKey(email), passwordHash, role)
	u, err := scanUser(row)
	if fortress.ErrorCode(err) == fortress.ECONFLICT {
		return fortress.User{}, fortress.Errorf(fortress.ECONFLICT, "The email is already registered.")
	}
	return u, err
}

// FindUserByID implements fortress.UserService.
func (d *DB) FindUserByID(ctx context.Context, id int64) (fortress.User, error) {
	return scanUser(d.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1`, id))
}

// FindUserByEmail implements fortress.UserService.
func (d *DB) FindUserByEmail(ctx context.Context, email string) (fortress.User, error) {
	return scanUser(d.pool.QueryRow(ctx,
		`SELECT `+userColumns+` FROM users WHERE email_key = $1`, fortress.EmailKey(email)))
}

// UpdatePasswordHash implements fortress.UserService.
func (d *DB) UpdatePasswordHash(ctx context.Context, id int64, passwordHash string) error {
	tag, err := d.pool.Exec(ctx, `UPDATE users SET password_hash = $1 WHERE id = $2`, passwordHash, id)
	if err != nil {
		return mapError(err)
	}
	if tag.RowsAffected() == 0 {
		return errUserNotFound
	}
	return nil
}

// ListUsers implements fortress.UserService. The query is matched against the lower-cased email key, so
// the search ignores case beyond ASCII, and LIKE's wildcards in it match themselves. The page and the
// total come from one repeatable-read snapshot, so they agree with each other.
func (d *DB) ListUsers(ctx context.Context, f fortress.UserFilter) (users []fortress.User, total int, err error) {
	pattern := "%" + escapeLike(fortress.EmailKey(f.Query)) + "%"
	tx, err := d.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, 0, mapError(err)
	}
	defer rollback(ctx, tx)
	if err := tx.QueryRow(ctx,
		`SELECT count(*) FROM users WHERE email_key LIKE $1 ESCAPE '\'`, pattern).Scan(&total); err != nil {
		return nil, 0, mapError(err)
	}
	rows, err := tx.Query(ctx,
		`SELECT `+userColumns+` FROM users WHERE email_key LIKE $1 ESCAPE '\' ORDER BY id LIMIT $2 OFFSET $3`,
		pattern, f.Limit, f.Offset)
	if err != nil {
		return nil, 0, mapError(err)
	}
	users, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (fortress.User, error) { return scanUser(r) })
	if err != nil {
		return nil, 0, mapError(err)
	}
	return users, total, mapError(tx.Commit(ctx))
}

// UpdateUser implements fortress.UserService in one transaction; see changeUser for how the last
// administrator is kept. Deactivation revokes the user's sessions in the same transaction, so no session
// outlives it.
func (d *DB) UpdateUser(ctx context.Context, id int64, up fortress.UserUpdate) (before, after fortress.User, err error) {
	if up.Role != nil && !validRole(*up.Role) {
		return fortress.User{}, fortress.User{}, errUnknownRole
	}
	return d.changeUser(ctx, id, up.RemovesAdmin(), func(tx pgx.Tx) (fortress.User, error) {
		u, err := scanUser(tx.QueryRow(ctx,
			`UPDATE users SET role = COALESCE($1, role), is_active = COALESCE($2, is_active) WHERE id = $3 RETURNING `+userColumns,
			up.Role, up.IsActive, id))
		if err != nil || up.IsActive == nil || *up.IsActive {
			return u, err
		}
		_, err = tx.Exec(ctx,
			`UPDATE sessions SET revoked_at = $1, revoke_reason = $2 WHERE user_id = $3 AND revoked_at IS NULL`,
			storeTime(time.Now()), reasonDeactivated, id)
		return u, mapError(err)
	})
}

// DeleteUser implements fortress.UserService. The schema cascades the deletion to items, sessions and
// refresh tokens; the audit log has no foreign key and keeps its events.
func (d *DB) DeleteUser(ctx context.Context, id int64) error {
	_, _, err := d.changeUser(ctx, id, true, func(tx pgx.Tx) (fortress.User, error) {
		_, err := tx.Exec(ctx, `DELETE FROM users WHERE id = $1`, id)
		return fortress.User{}, mapError(err)
	})
	return err
}

// changeUser runs change on user id in one transaction, after checking, when the change takes the user
// out of the active administrators (removesAdmin), that another active administrator remains. It returns
// the user as it was, read under the transaction's lock, and as change left it.
//
// The check is race-free because every such change first locks the rows of all active administrators,
// in id order, and only then the target: two concurrent demotions of the last two administrators queue
// on the same first row, and the second one, once it has the lock, re-reads the rows (READ COMMITTED
// re-checks locked rows) and finds one administrator left. Taking the locks in one order, always
// administrators before the target, is also what keeps the changes from deadlocking one another. The
// locks are FOR NO KEY UPDATE, which do not block inserts of items or sessions that reference the rows.
func (d *DB) changeUser(ctx context.Context, id int64, removesAdmin bool, change func(pgx.Tx) (fortress.User, error)) (before, after fortress.User, err error) {
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return fortress.User{}, fortress.User{}, mapError(err)
	}
	defer rollback(ctx, tx)
	rows, err := tx.Query(ctx,
		`SELECT id FROM users WHERE role = 'admin' AND is_active ORDER BY id FOR NO KEY UPDATE`)
	if err != nil {
		return fortress.User{}, fortress.User{}, mapError(err)
	}
	admins, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fortress.User{}, fortress.User{}, mapError(err)
	}
	before, err = scanUser(tx.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = $1 FOR NO KEY UPDATE`, id))
	if err != nil {
		return fortress.User{}, fortress.User{}, err
	}
	if removesAdmin && before.IsActive && before.Role == fortress.RoleAdmin {
		others := 0
		for _, a := range admins {
			if a != id {
				others++
			}
		}
		if others == 0 {
			return fortress.User{}, fortress.User{}, errLastAdmin
		}
	}
	after, err = change(tx)
	if err != nil {
		return fortress.User{}, fortress.User{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return fortress.User{}, fortress.User{}, mapError(err)
	}
	return before, after, nil
}

var (
	errUserNotFound = fortress.Errorf(fortress.ENOTFOUND, "User not found")
	errUnknownRole  = fortress.Errorf(fortress.EINVALID, "The role is not one of user, admin.")
	errLastAdmin    = fortress.Errorf(fortress.ECONFLICT, "At least one active administrator must remain.")
)

func validRole(role string) bool {
	return role == fortress.RoleUser || role == fortress.RoleAdmin
}

// likeEscaper makes LIKE's wildcards and its escape character match themselves (with ESCAPE '\').
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

func escapeLike(s string) string { return likeEscaper.Replace(s) }

func scanUser(row pgx.Row) (fortress.User, error) {
	var u fortress.User
	err := row.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.IsActive, &u.Role, &u.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return fortress.User{}, errUserNotFound
	}
	if err != nil {
		return fortress.User{}, mapError(err)
	}
	return u, nil
}
