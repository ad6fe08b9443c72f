package postgres

import (
	"context"
	"io/fs"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"

	"github.com/fortress-dev/fortress"
	"github.com/fortress-dev/fortress/internal/migration"
	"github.com/fortress-dev/fortress/internal/pgtest"
)

func openTest(t *testing.T) *DB {
	t.Helper()
	d, err := Open(context.Background(), pgtest.NewDatabase(t), Options{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	return d
}

// provider gives a test control over single migrations, which the Migrator, made for deployments, does
// not offer.
func provider(t *testing.T, d *DB) *goose.Provider {
	t.Helper()
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	db := stdlib.OpenDBFromPool(d.pool)
	t.Cleanup(func() { _ = db.Close() })
	p, err := goose.NewProvider(goose.DialectPostgres, db, sub,
		goose.WithTableName(migration.TableName), goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestUpgradeKeepsAccounts migrates a database that holds accounts of the first schema: they become
// ordinary users and keep working; and the accounts migration can be rolled back and applied again.
func TestUpgradeKeepsAccounts(t *testing.T) {
	ctx := context.Background()
	d := openTest(t)
	p := provider(t, d)
	if _, err := p.UpTo(ctx, 1); err != nil {
		t.Fatalf("migrate to version 1: %v", err)
	}
	if _, err := d.pool.Exec(ctx,
		`INSERT INTO users (email, email_key, password_hash, is_active) VALUES ('Old@Example.com', 'old@example.com', 'h', true), ('off@example.com', 'off@example.com', 'h', false)`); err != nil {
		t.Fatal(err)
	}
	applied, err := d.Migrate(ctx)
	if err != nil || len(applied) != 1 || applied[0] != 2 {
		t.Fatalf("upgrade: got %v, %v; want [2]", applied, err)
	}
	for email, active := range map[string]bool{"old@example.com": true, "off@example.com": false} {
		u, err := d.FindUserByEmail(ctx, email)
		if err != nil || u.Role != fortress.RoleUser || u.IsActive != active {
			t.Fatalf("%s after the upgrade: got %+v, %v; want role user, active %t", email, u, err, active)
		}
	}
	old, _ := d.FindUserByEmail(ctx, "old@example.com")
	if _, _, err := d.UpdateUser(ctx, old.ID, fortress.UserUpdate{Role: new(fortress.RoleAdmin)}); err != nil {
		t.Fatalf("promote an upgraded account: %v", err)
	}
	if _, err := d.CreateSession(ctx, fortress.SessionCreate{UserID: old.ID, RefreshHash: make([]byte, 32), ExpiresAt: time.Now().Add(time.Hour)}); err != nil {
		t.Fatalf("session of an upgraded account: %v", err)
	}

	if _, err := p.DownTo(ctx, 1); err != nil {
		t.Fatalf("roll back to version 1: %v", err)
	}
	var tables int
	if err := d.pool.QueryRow(ctx,
		`SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename IN ('sessions', 'refresh_tokens', 'audit_events')`).Scan(&tables); err != nil || tables != 0 {
		t.Fatalf("tables after rollback: got %d, %v; want none", tables, err)
	}
	var users int
	if err := d.pool.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&users); err != nil || users != 2 {
		t.Fatalf("users after rollback: got %d, %v; want 2", users, err)
	}
	if applied, err := d.Migrate(ctx); err != nil || len(applied) != 1 {
		t.Fatalf("upgrade again: got %v, %v; want [2]", applied, err)
	}
}

// TestAuditLogIsAppendOnly shows that the schema itself refuses to change or delete audit events, even
// to SQL that does not go through the store.
func TestAuditLogIsAppendOnly(t *testing.T) {
	ctx := context.Background()
	d := openTest(t)
	if _, err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	e, err := d.AppendAudit(ctx, fortress.AuditEvent{Event: "auth.login.failure", Outcome: "failure"})
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`UPDATE audit_events SET outcome = 'success' WHERE id = $1`,
		`DELETE FROM audit_events WHERE id = $1`,
		`TRUNCATE audit_events`,
	} {
		args := []any{e.ID}
		if stmt == `TRUNCATE audit_events` {
			args = nil
		}
		if _, err := d.pool.Exec(ctx, stmt, args...); err == nil {
			t.Errorf("%s: got nil error, want the trigger to refuse it", stmt)
		}
	}
	events, total, err := d.ListAudit(ctx, fortress.AuditFilter{Limit: 10})
	if err != nil || total != 1 || !events[0].Time.Equal(e.Time) || events[0].Outcome != "failure" {
		t.Fatalf("after refused changes: got %+v, %d, %v; want the event unchanged", events, total, err)
	}
}
