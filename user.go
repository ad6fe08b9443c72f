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
	Role         string // RoleUser or RoleAdmin
	CreatedAt    time.Time
}

// Roles. Every account has exactly one; what each may do is decided in one permission map (httpapi).
const (
	RoleUser  = "user"
	RoleAdmin = "admin"
)

// UserFilter selects a page of users, ordered by id, for the admin API.
type UserFilter struct {
	Query  string // matches the email case-insensitively as a substring; empty matches all
	Limit  int
	Offset int
}

// UserUpdate is an administrator's change to an account: a nil field keeps its value.
type UserUpdate struct {
	Role     *string // RoleUser or RoleAdmin
	IsActive *bool   // false deactivates the account and ends its sessions; true reactivates it
}

// RemovesAdmin reports whether the update takes an active administrator out of the active administrators.
func (up UserUpdate) RemovesAdmin() bool {
	return (up.Role != nil && *up.Role != RoleAdmin) || (up.IsActive != nil && !*up.IsActive)
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

	// CreateUserWithRole is CreateUser with a role, for bootstrapping administrators. ECONFLICT when the
	// email is taken, EINVALID for an unknown role.
	CreateUserWithRole(ctx context.Context, email, passwordHash, role string) (User, error)

	// ListUsers returns a page of users and the number of users matching the filter.
	ListUsers(ctx context.Context, filter UserFilter) (users []User, total int, err error)

	// UpdateUser applies update to user id in one transaction, so that a change of both fields happens
	// whole or not at all, and returns the account before and after it. Deactivating also revokes all of
	// the user's sessions in that transaction. ENOTFOUND for a missing user, EINVALID for an unknown role,
	// ECONFLICT when the change would leave no active administrator.
	UpdateUser(ctx context.Context, id int64, update UserUpdate) (before, after User, err error)

	// DeleteUser deletes the user with its items and sessions (the audit log keeps its events).
	// ENOTFOUND for a missing user, ECONFLICT when it is the last active administrator.
	DeleteUser(ctx context.Context, id int64) error
}
