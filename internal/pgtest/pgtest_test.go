package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func connect(t *testing.T, dbURL string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(t.Context(), dbURL)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func dbName(t *testing.T, dbURL string) string {
	t.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		t.Fatalf("database URL does not parse: %v", err)
	}
	return strings.TrimPrefix(u.Path, "/")
}

func TestNewDatabaseIsEmptyAndWritable(t *testing.T) {
	t.Parallel()
	dbURL := NewDatabase(t)
	if server.cluster != nil {
		t.Logf("throwaway cluster started in %v", server.startup)
	}
	conn := connect(t, dbURL)
	ctx := t.Context()

	var current string
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&current); err != nil {
		t.Fatal(err)
	}
	if want := dbName(t, dbURL); current != want {
		t.Errorf("current_database() = %q, want %q", current, want)
	}
	var tables int
	err := conn.QueryRow(ctx, `SELECT count(*) FROM information_schema.tables
		WHERE table_schema NOT IN ('pg_catalog', 'information_schema')`).Scan(&tables)
	if err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Errorf("new database has %d user tables, want 0", tables)
	}
	if _, err := conn.Exec(ctx, "CREATE TABLE t (id int PRIMARY KEY, name text NOT NULL)"); err != nil {
		t.Fatalf("create table: %v", err)
	}
	if _, err := conn.Exec(ctx, "INSERT INTO t VALUES (1, 'fortress')"); err != nil {
		t.Fatalf("insert: %v", err)
	}
	var name string
	if err := conn.QueryRow(ctx, "SELECT name FROM t WHERE id = 1").Scan(&name); err != nil {
		t.Fatal(err)
	}
	if name != "fortress" {
		t.Errorf("got name %q, want %q", name, "fortress")
	}
}

func TestNewDatabaseGivesDistinctDatabases(t *testing.T) {
	t.Parallel()
	a, b := dbName(t, NewDatabase(t)), dbName(t, NewDatabase(t))
	if a == b {
		t.Errorf("two NewDatabase calls both gave %q, want different databases", a)
	}
}

func TestNewDatabaseIsDroppedAfterCleanup(t *testing.T) {
	t.Parallel()
	admin := connect(t, ServerURL(t))
	exists := func(name string) bool {
		t.Helper()
		var n int
		if err := admin.QueryRow(t.Context(), "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n == 1
	}
	var name string
	parent := t
	t.Run("owner", func(t *testing.T) {
		dbURL := NewDatabase(t)
		name = dbName(t, dbURL)
		// Left open past the cleanup, as a leaky test would: the drop must still succeed (WITH (FORCE)).
		leaked, err := pgx.Connect(t.Context(), dbURL)
		if err != nil {
			t.Fatalf("connect: %v", err)
		}
		parent.Cleanup(func() { leaked.Close(context.Background()) }) // after the subtest's drop
		if !exists(name) {
			t.Fatalf("database %s missing while its test runs, want it present", name)
		}
	})
	if exists(name) {
		t.Errorf("database %s still exists after its test's cleanup, want it dropped", name)
	}
}

// recorder is a testing.TB that records Skip and Fatal instead of stopping the goroutine.
type recorder struct {
	testing.TB
	skipped, failed string
}

func (r *recorder) Helper()                        {}
func (r *recorder) Skipf(format string, a ...any)  { r.skipped = fmt.Sprintf(format, a...) }
func (r *recorder) Fatalf(format string, a ...any) { r.failed = fmt.Sprintf(format, a...) }

func TestUnavailableSkipsLocallyAndFailsUnderCI(t *testing.T) {
	for _, tc := range []struct {
		ci       string
		wantFail bool
	}{
		{"", false}, {"false", false}, {"0", false}, {"true", true}, {"1", true},
	} {
		t.Run("CI="+tc.ci, func(t *testing.T) {
			r := &recorder{TB: t}
			getenv := func(k string) string {
				if k == "CI" {
					return tc.ci
				}
				return ""
			}
			unavailable(r, getenv, "no binaries here")
			got := r.skipped
			if tc.wantFail {
				got = r.failed
			}
			if !strings.Contains(got, "no binaries here") || !strings.Contains(got, EnvURL) {
				t.Errorf("message %q, want it to name the reason and %s", got, EnvURL)
			}
			if gotFail := r.failed != ""; gotFail != tc.wantFail || (r.skipped != "") == tc.wantFail {
				t.Errorf("got failed=%q skipped=%q, want fail=%v", r.failed, r.skipped, tc.wantFail)
			}
		})
	}
}

func TestByVersionDescPicksHighest(t *testing.T) {
	dirs := []string{"/usr/lib/postgresql/9.6/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/10/bin"}
	got := byVersionDesc(dirs)
	want := []string{"/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/10/bin", "/usr/lib/postgresql/9.6/bin"}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// Two clusters racing for one port: the loser must report errPortInUse (so startCluster retries) rather
// than mistake the winner for itself.
func TestLaunchReportsPortClash(t *testing.T) {
	t.Parallel()
	winner := ServerURL(t)
	if server.cluster == nil {
		t.Skip("server comes from " + EnvURL + "; no throwaway cluster to race")
	}
	u, err := url.Parse(winner)
	if err != nil {
		t.Fatal(err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatal(err)
	}
	initdb, postgres, _ := findBinaries()
	dir, data, acct, err := initCluster(initdb)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	c, err := launch(dir, data, postgres, port, acct)
	if c != nil {
		if err := c.stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	}
	if !errors.Is(err, errPortInUse) {
		t.Errorf("launch on a taken port: got error %v, want errPortInUse", err)
	}
}

// StartCluster is what the benchmark harness uses outside `go test`: a server that answers on its URL,
// whose PID is the postmaster, and that Close stops and removes.
func TestStartClusterServesUntilClosed(t *testing.T) {
	t.Parallel()
	c, err := StartCluster()
	if errors.Is(err, ErrNoPostgres) {
		unavailable(t, os.Getenv, err.Error())
	}
	if err != nil {
		t.Fatal(err)
	}
	dir := c.c.dir
	var one int
	if err := connect(t, c.URL()).QueryRow(t.Context(), "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1: got %d, %v; want 1, nil", one, err)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", c.PID())); err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	} else if err != nil && fileExists("/proc/self") {
		t.Errorf("PID %d: no such process, want the running postmaster", c.PID())
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if fileExists(dir) {
		t.Errorf("cluster directory %s still exists after Close, want it removed", dir)
	}
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
