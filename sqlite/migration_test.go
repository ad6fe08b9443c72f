package sqlite

import (
	"context"
	"database/sql"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/fortress-dev/fortress"
	"github.com/fortress-dev/fortress/internal/migration"
)

// provider gives a test control over single migrations, which the Migrator, made for deployments, does
// not offer.
func provider(t *testing.T, db *sql.DB) *goose.Provider {
	t.Helper()
	sub, err := fs.Sub(migrations, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, sub,
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
	d, err := Open(ctx, filepath.Join(t.TempDir(), "old.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	p := provider(t, d.db)
	if _, err := p.UpTo(ctx, 1); err != nil {
		t.Fatalf("migrate to version 1: %v", err)
	}
	if _, err := d.db.ExecContext(ctx,
		`INSERT INTO users (email, email_key, password_hash, is_active) VALUES ('Old@Example.com', 'old@example.com', 'h', 1), ('off@example.com', 'off@example.com', 'h', 0)`); err != nil {
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
	if err := d.db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE name IN ('sessions', 'refresh_tokens', 'audit_events')`).Scan(&tables); err != nil || tables != 0 {
		t.Fatalf("tables after rollback: got %d, %v; want none", tables, err)
	}
	var users int
	if err := d.db.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&users); err != nil || users != 2 {
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
	d, err := Open(ctx, filepath.Join(t.TempDir(), "audit.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	e, err := d.AppendAudit(ctx, fortress.AuditEvent{Event: "auth.login.failure", Outcome: "failure"})
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`UPDATE audit_events SET outcome = 'success' WHERE id = ?`,
		`DELETE FROM audit_events WHERE id = ?`,
	} {
		if _, err := d.db.ExecContext(ctx, stmt, e.ID); err == nil {
			t.Errorf("%s: got nil error, want the trigger to refuse it", stmt)
		}
	}
	events, total, err := d.ListAudit(ctx, fortress.AuditFilter{Limit: 10})
	if err != nil || total != 1 || !events[0].Time.Equal(e.Time) || events[0].Outcome != "failure" {
		t.Fatalf("after refused changes: got %+v, %d, %v; want the event unchanged", events, total, err)
	}
}

// TestFormatTimeOrdersAsText checks what the SQL comparisons of stored times rely on: two stored times
// compare as text the way they compare as times.
func TestFormatTimeOrdersAsText(t *testing.T) {
	times := []time.Time{
		time.Date(1, time.January, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2024, time.March, 1, 9, 59, 59, 999999999, time.UTC),
		time.Date(2024, time.March, 1, 10, 0, 0, 0, time.FixedZone("CET", 3600)), // 09:00 UTC
		time.Date(2024, time.March, 1, 10, 0, 0, 0, time.UTC),
		time.Date(2024, time.March, 1, 10, 0, 0, 1000, time.UTC),
		time.Date(2024, time.March, 1, 10, 0, 0, 1999, time.UTC), // the same microsecond as the previous one
		time.Date(9999, time.December, 31, 23, 59, 59, 999999000, time.UTC),
	}
	for _, a := range times {
		fa := formatTime(a)
		if len(fa) != len(timeLayout) {
			t.Fatalf("formatTime(%v): got %q, want %d characters", a, fa, len(timeLayout))
		}
		back, err := parseTime(fa)
		if err != nil || !back.Equal(a.Truncate(time.Microsecond)) {
			t.Errorf("parseTime(%q): got %v, %v; want %v", fa, back, err, a.Truncate(time.Microsecond))
		}
		for _, b := range times {
			fb := formatTime(b)
			if got, want := strings.Compare(fa, fb), a.Truncate(time.Microsecond).Compare(b.Truncate(time.Microsecond)); got != want {
				t.Errorf("%q vs %q: got text order %d, want time order %d", fa, fb, got, want)
			}
		}
	}
	if got, want := formatTime(time.Date(12000, time.January, 1, 0, 0, 0, 0, time.UTC)), "9999-12-31T23:59:59.999999Z"; got != want {
		t.Errorf("formatTime(year 12000): got %q, want it clamped to %q", got, want)
	}
	if got, want := formatTime(time.Date(-5, time.January, 1, 0, 0, 0, 0, time.UTC)), "0000-01-01T00:00:00.000000Z"; got != want {
		t.Errorf("formatTime(year -5): got %q, want it clamped to %q", got, want)
	}
}
