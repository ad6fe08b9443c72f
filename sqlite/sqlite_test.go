package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/fortress-dev/fortress/sqlite"
	"github.com/fortress-dev/fortress/storetest"
)

func openMigrated(t testing.TB) *sqlite.DB {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "test.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store { return openMigrated(t) })
}

func BenchmarkAuthentication(b *testing.B) { storetest.BenchmarkAuthentication(b, openMigrated(b)) }

func TestMigrationStatus(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "fresh.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := db.MigrationStatus(ctx)
	if err != nil || st.Current != 0 || st.Latest < 1 || !st.Pending() {
		t.Fatalf("fresh database: got %+v, %v; want pending from 0", st, err)
	}
	applied, err := db.Migrate(ctx)
	if err != nil || len(applied) != int(st.Latest) {
		t.Fatalf("Migrate: got %v, %v; want %d versions", applied, err, st.Latest)
	}
	again, err := db.Migrate(ctx)
	if err != nil || len(again) != 0 {
		t.Fatalf("second Migrate: got %v, %v; want nothing applied", again, err)
	}
	st, err = db.MigrationStatus(ctx)
	if err != nil || st.Pending() || st.Current != st.Latest {
		t.Fatalf("after Migrate: got %+v, %v; want current", st, err)
	}
	if err := db.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}
