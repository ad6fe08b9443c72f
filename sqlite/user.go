package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

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
	row := d.db.QueryRowContext(ctx,
		`INSERT INTO users (email, email_key, password_hash, role) VALUES (?, ?, ?, ?) RETURNING `+userColumns,
		email, fortress.EmailKey(email), passwordHash, role)
	u, err := scanUser(row)
	if fortress.ErrorCode(err) == fortress.ECONFLICT {
		return fortress.User{}, fortress.Errorf(fortress.ECONFLICT, "The email is already registered.")
	}
	return u, err
}

// FindUserByID implements fortress.UserService.
func (d *DB) FindUserByID(ctx context.Context, id int64) (fortress.User, error) {
	return scanUser(d.queryRow(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
}

// FindUserByEmail implements fortress.UserService.
func (d *DB) FindUserByEmail(ctx context.Context, email string) (fortress.User, error) {
	return scanUser(d.db.QueryRowContext(ctx,
		`SELECT `+userColumns+` FROM users WHERE email_key = ?`, fortress.EmailKey(email)))
}

// UpdatePasswordHash implements fortress.UserService.
func (d *DB) UpdatePasswordHash(ctx context.Context, id int64, passwordHash string) error {
	res, err := d.db.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE id = ?`, passwordHash, id)
	if err != nil {
		return mapError(err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return mapError(err)
	} else if n == 0 {
		return errUserNotFound
	}
	return nil
}

// ListUsers implements fortress.UserService. The query is matched against the lower-cased email key, so
// the search ignores case beyond ASCII, and LIKE's wildcards in it match themselves. The page and the
// total come from one read transaction, so they agree with each other.
func (d *DB) ListUsers(ctx context.Context, f fortress.UserFilter) (users []fortress.User, total int, err error) {
	pattern := "%" + escapeLike(fortress.EmailKey(f.Query)) + "%"
	tx, err := d.db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, mapError(err)
	}
	defer rollback(tx)
	if err := tx.QueryRowContext(ctx,
		`SELECT count(*) FROM users WHERE email_key LIKE ? ESCAPE '\'`, pattern).Scan(&total); err != nil {
		return nil, 0, mapError(err)
	}
	rows, err := tx.QueryContext(ctx,
		`SELECT `+userColumns+` FROM users WHERE email_key LIKE ? ESCAPE '\' ORDER BY id LIMIT ? OFFSET ?`,
		pattern, f.Limit, f.Offset)
	if err != nil {
		return nil, 0, mapError(err)
	}
	defer func() { _ = rows.Close() }() // read-only: rows.Err below reports a failed iteration
	users = []fortress.User{}
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, 0, err
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, mapError(err)
	}
	return users, total, nil
}

// UpdateUser implements fortress.UserService. The check of the last administrator and the change happen
// in one write transaction, which SQLite runs alone, so two concurrent demotions cannot both pass it.
// Deactivation revokes the user's sessions in the same transaction, so no session outlives it.
func (d *DB) UpdateUser(ctx context.Context, id int64, up fortress.UserUpdate) (before, after fortress.User, err error) {
	if up.Role != nil && !validRole(*up.Role) {
		return fortress.User{}, fortress.User{}, errUnknownRole
	}
	return d.changeUser(ctx, id, up.RemovesAdmin(), func(tx *sql.Tx) (fortress.User, error) {
		u, err := scanUser(tx.QueryRowContext(ctx,
			`UPDATE users SET role = COALESCE(?, role), is_active = COALESCE(?, is_active) WHERE id = ? RETURNING `+userColumns,
			up.Role, up.IsActive, id))
		if err != nil || up.IsActive == nil || *up.IsActive {
			return u, err
		}
		_, err = tx.ExecContext(ctx,
			`UPDATE sessions SET revoked_at = ?, revoke_reason = ? WHERE user_id = ? AND revoked_at IS NULL`,
			formatTime(time.Now()), reasonDeactivated, id)
		return u, mapError(err)
	})
}

// DeleteUser implements fortress.UserService. The schema cascades the deletion to items, sessions and
// refresh tokens; the audit log has no foreign key and keeps its events.
func (d *DB) DeleteUser(ctx context.Context, id int64) error {
	_, _, err := d.changeUser(ctx, id, true, func(tx *sql.Tx) (fortress.User, error) {
		_, err := tx.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, id)
		return fortress.User{}, mapError(err)
	})
	return err
}

// changeUser runs change on user id in one write transaction, after checking, when the change takes
// the user out of the active administrators (removesAdmin), that another active administrator remains.
// It returns the user as it was inside the transaction and as change left it.
func (d *DB) changeUser(ctx context.Context, id int64, removesAdmin bool, change func(*sql.Tx) (fortress.User, error)) (before, after fortress.User, err error) {
	tx, err := d.db.BeginTx(ctx, nil)
	if err != nil {
		return fortress.User{}, fortress.User{}, mapError(err)
	}
	defer rollback(tx)
	before, err = scanUser(tx.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
	if err != nil {
		return fortress.User{}, fortress.User{}, err
	}
	if removesAdmin && before.IsActive && before.Role == fortress.RoleAdmin {
		var others int
		if err := tx.QueryRowContext(ctx,
			`SELECT count(*) FROM users WHERE role = 'admin' AND is_active = 1 AND id <> ?`, id).Scan(&others); err != nil {
			return fortress.User{}, fortress.User{}, mapError(err)
		}
		if others == 0 {
			return fortress.User{}, fortress.User{}, errLastAdmin
		}
	}
	after, err = change(tx)
	if err != nil {
		return fortress.User{}, fortress.User{}, err
	}
	if err := tx.Commit(); err != nil {
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

func scanUser(row scanner) (fortress.User, error) {
	var u fortress.User
	var created string
	err := row.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.IsActive, &u.Role, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return fortress.User{}, errUserNotFound
	}
	if err != nil {
		return fortress.User{}, mapError(err)
	}
	u.CreatedAt, err = time.Parse(time.RFC3339Nano, created)
	return u, err
}
