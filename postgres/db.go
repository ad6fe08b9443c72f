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
	migrator *migration.Migrator // applies migrations under the advisory lock
	status   *migration.Migrator // reads the schema version without the lock (readiness probes)
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
	// StatementTimeout bounds each statement, each wait for a free connection and each health ping of
	// a pooled connection; 0 means DefaultStatementTimeout. Migrations are exempt.
	StatementTimeout time.Duration
}

// DefaultStatementTimeout is how long a statement may take before it is abandoned as unavailable: far
// above any statement of the API (they take milliseconds), and short enough that a server that stopped
// answering without closing its connections (hung, or cut off by a network that drops packets) costs a
// request a few seconds and a 503, not a hang until TCP gives up.
const DefaultStatementTimeout = 5 * time.Second

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
	// And how long a request can wait on a server that accepted the connection but does not answer.
	timeout := opt.StatementTimeout
	if timeout <= 0 {
		timeout = DefaultStatementTimeout
	}
	cfg.ConnConfig.Tracer = deadlines{timeout: timeout}
	cfg.PingTimeout = timeout
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
	sqlDB := stdlib.OpenDBFromPool(pool)
	d.migrator, err = migration.New(goose.DialectPostgres, sqlDB, sub, locker, d.versionTableExists)
	if err != nil {
		pool.Close()
		return nil, err
	}
	// Reading the version needs no lock, and must not take one: goose takes the migration lock even to
	// read, and /readyz reads it on every probe of every replica, so probes queued for the lock (polled
	// once a second) and for any running migration, and healthy replicas failed their health checks.
	d.status, err = migration.New(goose.DialectPostgres, sqlDB, sub, nil, d.versionTableExists)
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
// time apply each migration exactly once. It returns the versions this call applied. Its statements are
// not bound by the statement timeout: a migration may rightly take minutes.
func (d *DB) Migrate(ctx context.Context) ([]int64, error) {
	return d.migrator.Up(context.WithValue(ctx, noDeadline{}, true))
}

// MigrationStatus tells how the schema compares with the binary's migrations. It does not wait for the
// migration lock, so it answers at once even while another replica migrates.
func (d *DB) MigrationStatus(ctx context.Context) (migration.Status, error) {
	return d.status.Status(ctx)
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

// deadlines bounds every statement and every wait for a pooled connection (pgx hands the context a
// tracer returns to the operation it traces): without it a statement on a connection to a server that
// stopped answering waits as long as the caller's context, which for a request is forever.
type deadlines struct{ timeout time.Duration }

type (
	noDeadline struct{} // context key: the operation is exempt (migrations)
	cancelKey  struct{} // context key: the CancelFunc of the deadline deadlines added
)

var (
	_ pgx.QueryTracer       = deadlines{}
	_ pgxpool.AcquireTracer = deadlines{}
)

// bound returns ctx with the deadline, unless it is exempt or already has an earlier one.
func (t deadlines) bound(ctx context.Context) context.Context {
	if ctx.Value(noDeadline{}) != nil {
		return ctx
	}
	if d, ok := ctx.Deadline(); ok && time.Until(d) <= t.timeout {
		return ctx
	}
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	return context.WithValue(ctx, cancelKey{}, cancel)
}

// release stops the timer of a deadline bound added.
func release(ctx context.Context) {
	if cancel, ok := ctx.Value(cancelKey{}).(context.CancelFunc); ok {
		cancel()
	}
}

// TraceQueryStart implements pgx.QueryTracer.
func (t deadlines) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return t.bound(ctx)
}

// TraceQueryEnd implements pgx.QueryTracer.
func (deadlines) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryEndData) {
	release(ctx)
}

// TraceAcquireStart implements pgxpool.AcquireTracer.
func (t deadlines) TraceAcquireStart(ctx context.Context, _ *pgxpool.Pool, _ pgxpool.TraceAcquireStartData) context.Context {
	return t.bound(ctx)
}

// TraceAcquireEnd implements pgxpool.AcquireTracer.
func (deadlines) TraceAcquireEnd(ctx context.Context, _ *pgxpool.Pool, _ pgxpool.TraceAcquireEndData) {
	release(ctx)
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
