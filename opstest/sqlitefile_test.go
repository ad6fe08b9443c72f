package opstest

import (
	"context"
	"database/sql"
	"net/url"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite" // the same pure-Go SQLite the server uses, to check and back up its files
)

// openSQLite opens a database file the way an operator's tool would while the server may be running:
// a busy timeout so that it waits for the server's writer instead of failing.
func openSQLite(t testing.TB, path string) *sql.DB {
	t.Helper()
	q := url.Values{}
	q.Add("_pragma", "busy_timeout(10000)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// integrityCheck runs PRAGMA integrity_check on a database file and fails the test unless it says ok.
func integrityCheck(t testing.TB, path string) {
	t.Helper()
	db := openSQLite(t, path)
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rows, err := db.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		t.Fatalf("integrity_check of %s: %v", path, err)
	}
	defer rows.Close()
	var lines []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		lines = append(lines, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(lines) != 1 || lines[0] != "ok" {
		t.Fatalf("PRAGMA integrity_check of %s: %s, want ok", path, strings.Join(lines, "; "))
	}
}

// vacuumInto writes a consistent copy of a live database to dst with VACUUM INTO, which reads one
// snapshot of the database in a read transaction: the server keeps reading and writing meanwhile.
// It is the statement docs/operations.md gives for the sqlite3 shell.
func vacuumInto(t testing.TB, src, dst string) {
	t.Helper()
	db := openSQLite(t, src)
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := db.ExecContext(ctx, "VACUUM INTO ?", dst); err != nil {
		t.Fatalf("VACUUM INTO %s: %v", dst, err)
	}
}
