package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/fortress-dev/fortress"
	"github.com/fortress-dev/fortress/internal/pgtest"
)

// TestStatementTimeout shows that a statement, and a wait for a pooled connection, cannot outlast the
// statement timeout (a server that stops answering costs a 503, not a hang), that the database is
// usable afterwards, and that migrations are exempt.
func TestStatementTimeout(t *testing.T) {
	ctx := context.Background()
	const timeout = 300 * time.Millisecond
	db, err := Open(ctx, pgtest.NewDatabase(t), Options{MaxConns: 1, StatementTimeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	unavailableWithin := func(what string, op func() error) {
		t.Helper()
		start := time.Now()
		err := op()
		elapsed := time.Since(start)
		if err == nil || elapsed > timeout+time.Second {
			t.Fatalf("%s: got %v after %s, want an error within about %s", what, err, elapsed, timeout)
		}
		if code := fortress.ErrorCode(mapError(err)); code != fortress.EUNAVAILABLE {
			t.Fatalf("%s: error %v maps to code %q, want %q", what, err, code, fortress.EUNAVAILABLE)
		}
	}
	unavailableWithin("a statement slower than the timeout", func() error {
		_, err := db.pool.Exec(ctx, "SELECT pg_sleep(5)")
		return err
	})
	unavailableWithin("a query slower than the timeout", func() error {
		var x any
		return db.pool.QueryRow(ctx, "SELECT pg_sleep(5)").Scan(&x)
	})
	if err := db.Ping(ctx); err != nil {
		t.Fatalf("Ping after the timeouts: %v", err)
	}

	// The only connection is busy with an exempt statement (a migration's): the wait for it is bounded.
	exempt := context.WithValue(ctx, noDeadline{}, true)
	busy := make(chan error, 1)
	go func() {
		_, err := db.pool.Exec(exempt, "SELECT pg_sleep(1.5)")
		busy <- err
	}()
	time.Sleep(100 * time.Millisecond) // let the exempt statement take the connection; the bound below is what is tested
	unavailableWithin("waiting for a busy pool", func() error {
		_, err := db.pool.Exec(ctx, "SELECT 1")
		return err
	})
	if err := <-busy; err != nil {
		t.Fatalf("an exempt statement longer than the timeout: %v, want it to run to its end", err)
	}

	// A caller's own, earlier deadline still wins.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := db.pool.Exec(short, "SELECT pg_sleep(5)"); err == nil || time.Since(start) > timeout {
		t.Fatalf("caller deadline of 50ms: got %v after %s", err, time.Since(start))
	}
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
}
