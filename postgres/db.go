// Package postgres stores Fortress's data in PostgreSQL through pgx and its connection pool, for
// deployments with several replicas on one database.
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/fortress-dev/fortress"
	"github.com/fortress-dev/fortress/internal/migration"
)

//go:embed migrations/*.sql
var migrations embed.FS

// migrationLockID names the advisory lock that serializes `migrate up` across replicas. It is constant
// so that every version of the binary takes the same lock.
const migrationLockID int64 = 0x666f7274726573 // "fortres"

// DB is a PostgreSQL connection pool. It implements the domain's storage services.
type DB struct {
	pool     *pgxpool.Pool
	migrator *migration.Migrator
}

var (
	_ fortress.UserService    = (*DB)(nil)
	_ fortress.ItemService    = (*DB)(nil)
	_ fortress.SessionService = (*DB)(nil)
	_ fortress.AuditService   = (*DB)(nil)
)

// Options tune the pool.
type Options struct {
	MaxConns int32 // upper bound on open connections; 0 keeps pgx's default
}

// Open connects to the database at url. It does not migrate: call Migrate. Errors never contain the URL,
// which may hold a password.
func Open(ctx context.Context, url string, opt Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, errors.New("parse DATABASE_URL: not a valid PostgreSQL connection string")
	}
	if opt.MaxConns > 0 {
		cfg.MaxConns = opt.MaxConns
	}
	cfg.MaxConnIdleTime = 5 * time.Minute
	// Bound how long a request can wait for a connection to an unreachable server: callers get a quick
	// 503 instead of a hung request.
	if cfg.ConnConfig.ConnectTimeout == 0 || cfg.ConnConfig.ConnectTimeout > 5*time.Second {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", safeError(err))
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to postgres: %w", safeError(err))
	}
	locker, err := lock.NewPostgresSessionLocker(
		lock.WithLockID(migrationLockID),
		lock.WithLockTimeout(1, 600), // poll every second, for up to ten minutes
	)
	if err != nil {
		pool.Close()
		return nil, err
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		pool.Close()
		return nil, err
	}
	d := &DB{pool: pool}
	d.migrator, err = migration.New(goose.DialectPostgres, stdlib.OpenDBFromPool(pool), sub, locker, d.versionTableExists)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return d, nil
}

// Close closes every connection of the pool.
func (d *DB) Close() error {
	d.pool.Close()
	return nil
}

// Migrate applies pending migrations under an advisory lock, so that replicas that migrate at the same
// time apply each migration exactly once. It returns the versions this call applied.
func (d *DB) Migrate(ctx context.Context) ([]int64, error) { return d.migrator.Up(ctx) }

// MigrationStatus tells how the schema compares with the binary's migrations.
func (d *DB) MigrationStatus(ctx context.Context) (migration.Status, error) {
	return d.migrator.Status(ctx)
}

// Ping checks that the database answers.
func (d *DB) Ping(ctx context.Context) error {
	if err := d.pool.Ping(ctx); err != nil {
		return mapError(err)
	}
	return nil
}

func (d *DB) versionTableExists(ctx context.Context) (bool, error) {
	var exists bool
	err := d.pool.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, migration.TableName).Scan(&exists)
	return exists, err
}

// mapError turns driver errors that have a meaning for the domain into domain errors, keeping the cause
// in the chain for the log.
func mapError(err error) error {
	if err == nil {
		return nil
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "23505": // unique_violation
			return fmt.Errorf("%w (%w)", &fortress.Error{Code: fortress.ECONFLICT, Message: "The value is already in use."}, err)
		case pgErr.Code[:2] == "08", pgErr.Code[:2] == "53", pgErr.Code[:2] == "57": // connection, resources, operator intervention
			return fmt.Errorf("%w (%w)", fortress.ErrUnavailable, err)
		}
		return err
	}
	var netErr net.Error
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) || errors.As(err, &netErr) || pgconn.Timeout(err) ||
		errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w (%w)", fortress.ErrUnavailable, err)
	}
	return err
}

// safeError drops the text of connection errors, which can repeat the connection string.
func safeError(err error) error {
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return errors.New("the server cannot be reached or refused the connection")
	}
	return err
}

// storeTime is t as the store keeps it: UTC, truncated to the microsecond of PostgreSQL's timestamps, so
// that a value handed back equals the one read later.
func storeTime(t time.Time) time.Time {
	return t.UTC().Truncate(time.Microsecond)
}

// cleanText makes a client-supplied string such as a User-Agent storable: PostgreSQL refuses invalid
// UTF-8 and NUL characters in text, so both become U+FFFD, as they do in every engine.
func cleanText(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// rollback ends a transaction that did not commit; after a commit it does nothing.
func rollback(ctx context.Context, tx pgx.Tx) { _ = tx.Rollback(ctx) }
