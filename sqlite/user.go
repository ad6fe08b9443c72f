package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/fortress-dev/fortress"
)

const userColumns = `id, email, password_hash, is_active, created_at`

// CreateUser implements fortress.UserService.
func (d *DB) CreateUser(ctx context.Context, email, passwordHash string) (fortress.User, error) {
	row := d.db.QueryRowContext(ctx,
		`INSERT INTO users (email, email_key, password_hash) VALUES (?, ?, ?) RETURNING `+userColumns,
		email, fortress.EmailKey(email), passwordHash)
	u, err := scanUser(row)
	if fortress.ErrorCode(err) == fortress.ECONFLICT {
		return fortress.User{}, fortress.Errorf(fortress.ECONFLICT, "The email is already registered.")
	}
	return u, err
}

// FindUserByID implements fortress.UserService.
func (d *DB) FindUserByID(ctx context.Context, id int64) (fortress.User, error) {
	return scanUser(d.db.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE id = ?`, id))
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
		return fortress.Errorf(fortress.ENOTFOUND, "User not found")
	}
	return nil
}

func scanUser(row *sql.Row) (fortress.User, error) {
	var u fortress.User
	var created string
	err := row.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.IsActive, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return fortress.User{}, fortress.Errorf(fortress.ENOTFOUND, "User not found")
	}
	if err != nil {
		return fortress.User{}, mapError(err)
	}
	u.CreatedAt, err = time.Parse(time.RFC3339Nano, created)
	return u, err
}
