// Package sqlite stores Fortress's data in an embedded SQLite file through a pure-Go driver, so that
// CGO_ENABLED=0 static builds work. It is the default engine: nothing to install, one file to back up.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/pressly/goose/v3"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/fortress-dev/fortress"
	"github.com/fortress-dev/fortress/internal/migration"
)

//go:embed migrations/*.sql
var migrations embed.FS

// DB is an open SQLite database. It implements the domain's storage services.
type DB struct {
	db       *sql.DB
	migrator *migration.Migrator
	stmts    sync.Map // query text -> *sql.Stmt: the hot reads, parsed once per connection, not per call
}

// queryRow runs a hot read through a prepared statement, so that SQLite parses and plans it once per
// connection instead of on every call (re-parsing was 15% of the CPU of an authenticated read).
func (d *DB) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if st, ok := d.stmts.Load(query); ok {
		return st.(*sql.Stmt).QueryRowContext(ctx, args...) //nolint:errcheck // the map holds only *sql.Stmt
	}
	st, err := d.db.PrepareContext(ctx, query)
	if err != nil {
		return d.db.QueryRowContext(ctx, query, args...) // the query reports the error (e.g. before migrating)
	}
	if prev, loaded := d.stmts.LoadOrStore(query, st); loaded {
		_ = st.Close()        //nolint:sqlclosecheck // a duplicate: another caller prepared it first, and theirs is kept
		st = prev.(*sql.Stmt) //nolint:errcheck // the map holds only *sql.Stmt
	}
	return st.QueryRowContext(ctx, args...)
}

var (
	_ fortress.UserService    = (*DB)(nil)
	_ fortress.ItemService    = (*DB)(nil)
	_ fortress.SessionService = (*DB)(nil)
	_ fortress.AuditService   = (*DB)(nil)
)

// Open opens (creating if needed) the database file at path. It does not migrate: call Migrate.
//
// Every connection runs in WAL mode (readers never block the writer), with foreign keys enforced, a busy
// timeout so that concurrent writers queue instead of failing, write transactions that take the write
// lock when they begin (no deadlock when a reader upgrades), and synchronous=FULL so that a write that
// was acknowledged survives a crash of the process or of the machine.
func Open(ctx context.Context, path string) (*DB, error) {
	q := url.Values{}
	for _, p := range []string{"journal_mode(WAL)", "foreign_keys(ON)", "busy_timeout(10000)", "synchronous(FULL)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	dsn := "file:" + path + "?" + q.Encode()
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite database: %w", err)
	}
	db.SetMaxOpenConns(8)
	db.SetMaxIdleConns(8)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open sqlite database: %w", err)
	}
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	d := &DB{db: db}
	d.migrator, err = migration.New(goose.DialectSQLite3, db, sub, nil, d.versionTableExists)
	if err != nil {
		_ = db.Close()
		return nil, err
	}
	return d, nil
}

// Close closes the database.
func (d *DB) Close() error {
	var errs []error
	d.stmts.Range(func(_, st any) bool {
		errs = append(errs, st.(*sql.Stmt).Close()) //nolint:errcheck // the map holds only *sql.Stmt
		return true
	})
	return errors.Join(append(errs, d.db.Close())...)
}

// Migrate applies pending migrations and returns the versions applied.
func (d *DB) Migrate(ctx context.Context) ([]int64, error) { return d.migrator.Up(ctx) }

// MigrationStatus tells how the schema compares with the binary's migrations.
func (d *DB) MigrationStatus(ctx context.Context) (migration.Status, error) {
	return d.migrator.Status(ctx)
}

// Ping checks that the database answers.
func (d *DB) Ping(ctx context.Context) error {
	if err := d.db.PingContext(ctx); err != nil {
		return mapError(err)
	}
	return nil
}

func (d *DB) versionTableExists(ctx context.Context) (bool, error) {
	var n int
	err := d.db.QueryRowContext(ctx,
		`SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?`, migration.TableName).Scan(&n)
	return n > 0, err
}

// mapError turns driver errors that have a meaning for the domain into domain errors, keeping the
// cause in the chain for the log.
func mapError(err error) error {
	var e *sqlite.Error
	if errors.As(err, &e) {
		switch e.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w (%w)", &fortress.Error{Code: fortress.ECONFLICT, Message: "The value is already in use."}, err)
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY,
			sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN:
			return fmt.Errorf("%w (%w)", fortress.ErrUnavailable, err)
		}
		switch e.Code() & 0xff { // extended codes share the primary code's low byte
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY,
			sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN:
			return fmt.Errorf("%w (%w)", fortress.ErrUnavailable, err)
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w (%w)", fortress.ErrUnavailable, err)
	}
	return err
}

// timeLayout is how the tables of migration 00002 store times: UTC, always six fractional digits, so that
// comparing two of them as text compares them as times. The CHECKs of the schema hold it to this form.
const timeLayout = "2006-01-02T15:04:05.000000Z"

// Bounds of the years timeLayout writes in four digits; times beyond them are clamped, which no real
// session or audit event comes near.
var (
	minTime = time.Date(0, time.January, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9999, time.December, 31, 23, 59, 59, 999999000, time.UTC)
)

// formatTime turns t into the stored form, truncated to the microsecond as PostgreSQL stores it.
func formatTime(t time.Time) string {
	t = t.UTC()
	switch {
	case t.Before(minTime):
		t = minTime
	case t.After(maxTime):
		t = maxTime
	}
	return t.Format(timeLayout)
}

// parseTime reads a stored time.
func parseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("stored time %q: %w", s, err)
	}
	return t.UTC(), nil
}

// parseNullTime reads a stored time that may be NULL.
func parseNullTime(s sql.NullString) (*time.Time, error) {
	if !s.Valid {
		return nil, nil
	}
	t, err := parseTime(s.String)
	if err != nil {
		return nil, err
	}
	return &t, nil
}

// cleanText makes a client-supplied string such as a User-Agent storable the same way in every engine:
// PostgreSQL refuses invalid UTF-8 and NUL characters in text, so both become U+FFFD.
func cleanText(s string) string {
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// scanner is a row of either a QueryRow or a Query, so that one function maps each table's rows.
type scanner interface {
	Scan(dest ...any) error
}

// rollback ends a transaction that did not commit; after a commit it does nothing.
func rollback(tx *sql.Tx) { _ = tx.Rollback() }
