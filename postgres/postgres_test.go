package postgres_test

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/fortress-dev/fortress/internal/pgtest"
	"github.com/fortress-dev/fortress/postgres"
	"github.com/fortress-dev/fortress/storetest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func open(t testing.TB, url string) *postgres.DB {
	t.Helper()
	db, err := postgres.Open(context.Background(), url, postgres.Options{MaxConns: 20})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store {
		db := open(t, pgtest.NewDatabase(t))
		if _, err := db.Migrate(context.Background()); err != nil {
			t.Fatal(err)
		}
		return db
	})
}

func BenchmarkAuthentication(b *testing.B) {
	db := open(b, pgtest.NewDatabase(b))
	if _, err := db.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	storetest.BenchmarkAuthentication(b, db)
}

func TestMigrationStatus(t *testing.T) {
	ctx := context.Background()
	db := open(t, pgtest.NewDatabase(t))
	st, err := db.MigrationStatus(ctx)
	if err != nil || st.Current != 0 || !st.Pending() {
		t.Fatalf("fresh database: got %+v, %v; want pending from 0", st, err)
	}
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	st, err = db.MigrationStatus(ctx)
	if err != nil || st.Pending() {
		t.Fatalf("after Migrate: got %+v, %v; want current", st, err)
	}
	if err := db.Ping(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestConcurrentMigrateAppliesEachMigrationOnce runs several migrators, each with its own pool as
// separate replicas would have, against one empty database at the same time.
func TestConcurrentMigrateAppliesEachMigrationOnce(t *testing.T) {
	url := pgtest.NewDatabase(t)
	const replicas = 6
	dbs := make([]*postgres.DB, replicas)
	for i := range dbs {
		dbs[i] = open(t, url)
	}
	latest, err := dbs[0].MigrationStatus(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	applied := make(chan int64, replicas*int(latest.Latest))
	errs := make(chan error, replicas)
	start := make(chan struct{})
	for _, db := range dbs {
		wg.Go(func() {
			<-start
			versions, err := db.Migrate(context.Background())
			if err != nil {
				errs <- err
			}
			for _, v := range versions {
				applied <- v
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	close(applied)
	for err := range errs {
		t.Errorf("Migrate: %v", err)
	}
	count := map[int64]int{}
	for v := range applied {
		count[v]++
	}
	for v := int64(1); v <= latest.Latest; v++ {
		if count[v] != 1 {
			t.Errorf("migration %d applied %d times, want exactly once", v, count[v])
		}
	}
}

func TestUnreachableServerIsUnavailable(t *testing.T) {
	ctx := context.Background()
	db := open(t, pgtest.NewDatabase(t))
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	if err := db.Ping(ctx); err == nil {
		t.Fatal("Ping on a closed pool: got nil, want an error")
	}
	_, err := postgres.Open(ctx, "postgres://nobody:secret-password@127.0.0.1:1/none?connect_timeout=1", postgres.Options{})
	if err == nil {
		t.Fatal("Open of an unreachable server: got nil error")
	}
	if got := err.Error(); strings.Contains(got, "secret-password") {
		t.Fatalf("error exposes the password: %q", got)
	}
	_, err = postgres.Open(ctx, "postgres://%zz", postgres.Options{})
	if err == nil || strings.Contains(err.Error(), "%zz") {
		t.Fatalf("Open of a malformed URL: got %v, want an error that does not repeat the URL", err)
	}
}
