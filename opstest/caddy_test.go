package opstest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fortress-dev/fortress/internal/binarytest"
)

// caddyfile is the load balancer in front of the replicas, as docs/operations.md recommends it:
//
//   - round robin over the replicas, no sticky sessions (any replica serves any session);
//   - active health checks of /readyz every 200ms, so a replica that drains (503) or is gone leaves the
//     rotation, and one that is back rejoins it;
//   - passive health checks: a replica that refused a connection is skipped for fail_duration;
//   - lb_try_duration/lb_retries: a request that could not be delivered goes to the next replica. Caddy
//     retries every method when the connection could not even be made (the request never reached a
//     backend) and, after a connection was made, only GET: a POST that reached a replica is never sent
//     twice. (Caddy 2.6, Debian's, loses the body of a request it retries after a refused connection,
//     caddyserver/caddy#5454 and #7546, fixed in 2.11: such a POST is answered 502. Its buffer_requests
//     works around that for one retry only, and hands the buffer back to a shared pool while the retry
//     still reads it, which can send another request's body; so it is not used. A rolling restart
//     therefore takes a replica out of the configuration, and waits for Caddy to let go of it, before
//     stopping it: see rollingRestart.)
//   - the X-Forwarded-For it sends is the client's address; it ignores the one a client sends, since it
//     trusts no proxy before it;
//   - the admin API on a loopback port, for the configuration reloads of a rolling restart.
const caddyfile = `{
	admin 127.0.0.1:{{admin}}
	auto_https off
	log {
		output stderr
		format json
		level WARN
	}
}
http://127.0.0.1:{{port}} {
	bind 127.0.0.1
	reverse_proxy {{upstreams}} {
		lb_policy round_robin
		lb_try_duration 5s
		lb_try_interval 50ms
		lb_retries 10
		health_uri /readyz
		health_interval 200ms
		health_timeout 2s
		fail_duration 1s
	}
}
`

// caddy is a running Caddy load balancer.
type caddy struct {
	base  string
	admin string // the admin API's URL
	port  int
	proc  *binarytest.Process // its log is standard error
}

// startCaddy writes the Caddyfile for upstreams (host:port) and runs Caddy until the test ends; it
// returns once a request through it reaches a replica.
func startCaddy(t *testing.T, upstreams []string) *caddy {
	t.Helper()
	bin := requireTool(t, "caddy", "the replica tests put Caddy in front of the replicas; .ci/run installs it")
	dir := t.TempDir()
	port, admin := freePort(t), freePort(t)
	conf := caddyConfig(port, admin, upstreams)
	path := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "run", "--config", path, "--adapter", "caddyfile")
	cmd.Dir = dir
	// Caddy keeps its state under HOME/XDG directories: give it the test's own.
	cmd.Env = []string{"HOME=" + dir, "XDG_DATA_HOME=" + filepath.Join(dir, "data"), "XDG_CONFIG_HOME=" + filepath.Join(dir, "config")}
	proc, err := binarytest.Start(cmd, nil)
	if err != nil {
		t.Fatalf("caddy: %v", err)
	}
	c := &caddy{base: fmt.Sprintf("http://127.0.0.1:%d", port), admin: fmt.Sprintf("http://127.0.0.1:%d", admin), port: port, proc: proc}
	t.Cleanup(func() {
		proc.Stop(syscall.SIGTERM, 10*time.Second)
		if t.Failed() {
			t.Logf("caddy log:\n%s", tail(c.lines(), 30))
		}
	})

	deadline := time.Now().Add(startBound)
	var a answer
	for {
		hc := c.client()
		a = send(context.Background(), hc, c.base, request{method: "GET", path: "/health"})
		hc.CloseIdleConnections()
		if a.err == nil && a.status == http.StatusOK {
			return c
		}
		select {
		case <-proc.Done():
			t.Fatalf("caddy exited; log:\n%s\nCaddyfile:\n%s", tail(c.lines(), 30), conf)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("caddy did not proxy /health within %s (last: %s); log:\n%s", startBound, a, tail(c.lines(), 30))
		}
	}
}

func (c *caddy) lines() []string { return c.proc.Lines() }

// caddyConfig is the Caddyfile for a listener, an admin port and the upstreams (host:port).
func caddyConfig(port, admin int, upstreams []string) string {
	return strings.NewReplacer("{{port}}", strconv.Itoa(port), "{{admin}}", strconv.Itoa(admin),
		"{{upstreams}}", strings.Join(upstreams, " ")).Replace(caddyfile)
}

// setUpstreams replaces the upstream list through the admin API, as `caddy reload` does: requests in
// flight finish on the old configuration, new ones see only the new list.
func (c *caddy) setUpstreams(t *testing.T, upstreams []string) {
	t.Helper()
	adminPort, _ := strconv.Atoi(c.admin[strings.LastIndex(c.admin, ":")+1:])
	conf := caddyConfig(c.port, adminPort, upstreams)
	hc := newHTTPClient()
	defer hc.CloseIdleConnections()
	a := send(context.Background(), hc, c.admin, request{method: "POST", path: "/load",
		header: http.Header{"Content-Type": {"text/caddyfile"}}, raw: []byte(conf)})
	if a.err != nil || a.status != http.StatusOK {
		t.Fatalf("caddy reload with upstreams %v: %s", upstreams, a)
	}
}

// client is a client of the load balancer.
func (c *caddy) client() *http.Client { return newHTTPClient() }

// api is a client of the load balancer for the test's goroutine.
func (c *caddy) api(t *testing.T) *api {
	hc := c.client()
	t.Cleanup(hc.CloseIdleConnections)
	return &api{t: t, base: c.base, hc: hc}
}
