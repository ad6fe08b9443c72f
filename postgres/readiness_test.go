package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/fortress-dev/fortress/internal/pgtest"
)

// TestMigrationStatusDoesNotWaitForTheMigrationLock holds the migration advisory lock from another
// session, as a replica running `migrate up` does, and reads the schema status, as every /readyz probe
// does: the read must answer at once, while migrations still wait for the lock. (goose takes the lock
// even to read the version, so the probes of several replicas queued behind each other for a second or
// more and healthy replicas failed their load balancer's health checks.)
func TestMigrationStatusDoesNotWaitForTheMigrationLock(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	db := open(t, url)
	holder, err := pgx.Connect(ctx, url) // advisory locks belong to a database: same one
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(ctx)
	const migrationLockID int64 = 0x666f7274726573 // postgres.migrationLockID
	lock := func() {
		t.Helper()
		if _, err := holder.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLockID); err != nil {
			t.Fatal(err)
		}
	}
	unlock := func() {
		t.Helper()
		if _, err := holder.Exec(ctx, `SELECT pg_advisory_unlock($1)`, migrationLockID); err != nil {
			t.Fatal(err)
		}
	}
	probe := func(wantPending bool) {
		t.Helper()
		for range 5 { // several probes in a row, as a load balancer sends them
			pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
			start := time.Now()
			st, err := db.MigrationStatus(pctx)
			cancel()
			if err != nil || st.Pending() != wantPending {
				t.Fatalf("MigrationStatus while another session holds the migration lock: got %+v, %v after %s; want pending=%v at once",
					st, err, time.Since(start), wantPending)
			}
		}
	}

	lock()
	// The lock still serializes migrations: a pending migration waits for it.
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := db.Migrate(short); err == nil {
		t.Fatal("Migrate while another session holds the migration lock: got nil, want it to wait (and time out)")
	}
	probe(true)
	unlock()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	lock()
	probe(false)
}
