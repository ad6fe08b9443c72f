package redistest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func client(t *testing.T, serverURL string) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(serverURL)
	if err != nil {
		t.Fatalf("URL does not parse: %v", err)
	}
	opt.MaxRetries, opt.ContextTimeoutEnabled = -1, true
	c := redis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

// up reports whether the server answers a PING within a short deadline.
func up(t *testing.T, c *redis.Client) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	return c.Ping(ctx).Err()
}

func TestNewURLServesRedis(t *testing.T) {
	t.Parallel()
	c := client(t, NewURL(t))
	key := Prefix(t) + "k"
	if err := c.Set(t.Context(), key, "fortress", 0).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	got, err := c.Get(t.Context(), key).Result()
	if err != nil || got != "fortress" {
		t.Errorf("GET = %q, %v; want %q, nil", got, err, "fortress")
	}
	if again := NewURL(t); again != NewURL(t) {
		t.Errorf("NewURL gave %q then %q, want the one shared server", again, NewURL(t))
	}
}

func TestPrefixIsUniqueAndItsKeysAreDeleted(t *testing.T) {
	t.Parallel()
	c := client(t, NewURL(t))
	var prefix string
	t.Run("owner", func(t *testing.T) {
		prefix = Prefix(t)
		if other := Prefix(t); other == prefix {
			t.Errorf("two Prefix calls both gave %q, want different prefixes", prefix)
		}
		for i := range 2500 { // more than one SCAN page and one UNLINK batch
			if err := c.Set(t.Context(), fmt.Sprintf("%s%d", prefix, i), "v", 0).Err(); err != nil {
				t.Fatalf("SET: %v", err)
			}
		}
	})
	keys, err := c.Keys(t.Context(), prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 0 {
		t.Errorf("got %d keys under %s after the test's cleanup, want 0", len(keys), prefix)
	}
}

func TestServerStopsAndRestartsOnTheSamePort(t *testing.T) {
	t.Parallel()
	srv := Start(t)
	c := client(t, srv.URL)
	if err := up(t, c); err != nil {
		t.Fatalf("new server: PING error %v, want nil", err)
	}
	if err := c.Set(t.Context(), "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	srv.Stop() // idempotent
	if err := up(t, c); err == nil {
		t.Fatalf("stopped server: PING error nil, want an error")
	}
	url := srv.URL
	srv.Restart()
	if srv.URL != url {
		t.Errorf("URL after Restart %q, want %q", srv.URL, url)
	}
	if err := up(t, c); err != nil {
		t.Fatalf("restarted server: PING error %v, want nil", err)
	}
	if n, err := c.Exists(t.Context(), "k").Result(); err != nil || n != 0 {
		t.Errorf("EXISTS k after restart = %d, %v; want 0 (nothing persisted)", n, err)
	}
	srv.Restart() // restarting a running server works too
	if err := up(t, c); err != nil {
		t.Fatalf("restarted again: PING error %v, want nil", err)
	}
}

func TestServerPauseHangsAndResumeAnswers(t *testing.T) {
	t.Parallel()
	srv := Start(t)
	c := client(t, srv.URL)
	if err := up(t, c); err != nil {
		t.Fatal(err)
	}
	srv.Pause()
	if err := up(t, c); err == nil {
		t.Fatalf("paused server: PING error nil, want a timeout")
	}
	srv.Resume()
	if err := up(t, c); err != nil {
		t.Fatalf("resumed server: PING error %v, want nil", err)
	}
	srv.Pause() // the cleanup must still stop a paused server
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

func TestFindServerUsesEnvURLAndNeverQuotesABadOne(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == EnvURL {
				return v
			}
			return ""
		}
	}
	got, noServer, err := findServer(env("redis://127.0.0.1:1/2"))
	if got != "redis://127.0.0.1:1/2" || noServer != "" || err != nil {
		t.Errorf("findServer = %q, %q, %v; want the env URL", got, noServer, err)
	}
	_, _, err = findServer(env("http://admin:hunter2@example.com"))
	if err == nil || strings.Contains(err.Error(), "hunter2") || !strings.Contains(err.Error(), EnvURL) {
		t.Errorf("bad env URL: error %v, want one naming %s without the password", err, EnvURL)
	}
}

// Two servers racing for one port: the loser must report errPortInUse (so startOnFreePort retries)
// rather than mistake the winner for itself.
func TestLaunchReportsPortClash(t *testing.T) {
	t.Parallel()
	srv := Start(t)
	binary, _ := findBinary()
	dir := t.TempDir()
	p, err := launch(binary, dir, srv.port)
	if p != nil {
		if err := p.stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	}
	if !errors.Is(err, errPortInUse) {
		t.Errorf("launch on a taken port: got error %v, want errPortInUse", err)
	}
}
