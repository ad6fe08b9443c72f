package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/fortress-dev/fortress"
)

const userColumns = `id, email, password_hash, is_active, created_at`

// CreateUser implements fortress.UserService.
func (d *DB) CreateUser(ctx context.Context, email, passwordHash string) (fortress.User, error) {
	row := d.pool.QueryRow(ctx,
		`INSERT INTO users (email, email_key, password_hash) VALUES ($1, $2, $3) RETURNING `+userColumns,
		email, fortress.EmailKey(email), passwordHash)
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
		return fortress.Errorf(fortress.ENOTFOUND, "User not found")
	}
	return nil
}

func scanUser(row pgx.Row) (fortress.User, error) {
	var u fortress.User
	err := row.Scan(&u.ID, &u.Email, &u.PasswordHash, &u.IsActive, &u.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return fortress.User{}, fortress.Errorf(fortress.ENOTFOUND, "User not found")
	}
	if err != nil {
		return fortress.User{}, mapError(err)
	}
	return u, nil
}
