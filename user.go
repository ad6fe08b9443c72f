package fortress

import (
	"context"
	"strings"
	"time"
)

// User is an account. PasswordHash is a PHC string and must never leave the process: HTTP responses use
// their own types that name their fields explicitly.
type User struct {
	ID           int64
	Email        string
	PasswordHash string
	IsActive     bool
	CreatedAt    time.Time
}

// EmailKey returns the form of an email address under which it is unique. Two addresses that differ only
// in letter case name the same account (the original let `a@x.com` and `A@x.com` be two users).
func EmailKey(email string) string {
	return strings.ToLower(email)
}

// UserService stores accounts. Implementations compare emails through EmailKey.
type UserService interface {
	// CreateUser stores a new active user. It returns ECONFLICT when the email is taken.
	CreateUser(ctx context.Context, email, passwordHash string) (User, error)

	// FindUserByID returns ENOTFOUND when no user has the id.
	FindUserByID(ctx context.Context, id int64) (User, error)

	// FindUserByEmail matches the email case-insensitively. It returns ENOTFOUND when no user has it.
	FindUserByEmail(ctx context.Context, email string) (User, error)

	// UpdatePasswordHash replaces a user's hash, for example to upgrade its parameters after a login.
	// It returns ENOTFOUND when no user has the id.
	UpdatePasswordHash(ctx context.Context, id int64, passwordHash string) error
}
