package securitytest

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx", to reach behind the API
	_ "modernc.org/sqlite"             // database/sql driver "sqlite"

	"github.com/fortress-dev/fortress/internal/pgtest"
)

// engine is a storage engine the server can run on.
type engine struct {
	name string
	// open makes a fresh, empty database and returns the server's settings for it and direct access to it.
	open func(t *testing.T) (map[string]string, database)
}

var (
	sqliteEngine = engine{"sqlite", func(t *testing.T) (map[string]string, database) {
		path := filepath.Join(t.TempDir(), "fortress.db")
		return map[string]string{"DATABASE_URL": "sqlite:" + path},
			database{driver: "sqlite", dsn: "file:" + path + "?_pragma=busy_timeout(10000)&_pragma=foreign_keys(ON)"}
	}}
	postgresEngine = engine{"postgres", func(t *testing.T) (map[string]string, database) {
		u := pgtest.NewDatabase(t)
		return map[string]string{"DATABASE_URL": u, "AUTO_MIGRATE": "true"}, database{driver: "pgx", dsn: u}
	}}
)

// forEachEngine runs fn as a subtest per engine, in parallel: ownership and property checks are SQL, so
// they must hold on both.
func forEachEngine(t *testing.T, fn func(t *testing.T, eng engine)) {
	for _, eng := range []engine{sqliteEngine, postgresEngine} {
		t.Run(eng.name, func(t *testing.T) {
			t.Parallel()
			fn(t, eng)
		})
	}
}

// database reaches the server's data directly, as an operator (or a deleted account) changes it.
type database struct {
	driver, dsn string
}

// rebind turns ? placeholders into PostgreSQL's $n.
func (d database) rebind(query string) string {
	if d.driver != "pgx" {
		return query
	}
	var b strings.Builder
	n := 0
	for _, c := range query {
		if c == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

func (d database) conn(t *testing.T) (*sql.DB, context.Context, context.CancelFunc) {
	t.Helper()
	db, err := sql.Open(d.driver, d.dsn)
	if err != nil {
		t.Fatalf("open %s: %v", d.driver, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	return db, ctx, func() { cancel(); _ = db.Close() }
}

// exec runs a statement and returns the number of rows it changed.
func (d database) exec(t *testing.T, query string, args ...any) int64 {
	t.Helper()
	db, ctx, done := d.conn(t)
	defer done()
	res, err := db.ExecContext(ctx, d.rebind(query), args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	n, _ := res.RowsAffected()
	return n
}

// queryInt runs a query that returns one integer.
func (d database) queryInt(t *testing.T, query string, args ...any) int64 {
	t.Helper()
	db, ctx, done := d.conn(t)
	defer done()
	var n int64
	if err := db.QueryRowContext(ctx, d.rebind(query), args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// queryString runs a query that returns one string.
func (d database) queryString(t *testing.T, query string, args ...any) string {
	t.Helper()
	db, ctx, done := d.conn(t)
	defer done()
	var s string
	if err := db.QueryRowContext(ctx, d.rebind(query), args...).Scan(&s); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return s
}

// queryRows runs a query and returns each row as text, its columns formatted and joined by " | ", so that
// two snapshots of a table compare as strings.
func (d database) queryRows(t *testing.T, query string, args ...any) []string {
	t.Helper()
	db, ctx, done := d.conn(t)
	defer done()
	rows, err := db.QueryContext(ctx, d.rebind(query), args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	var out []string
	for rows.Next() {
		values := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range values {
			ptrs[i] = &values[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		text := make([]string, len(values))
		for i, v := range values {
			if b, ok := v.([]byte); ok {
				v = string(b)
			}
			text[i] = fmt.Sprint(v)
		}
		out = append(out, strings.Join(text, " | "))
	}
	if err := rows.Err(); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return out
}
