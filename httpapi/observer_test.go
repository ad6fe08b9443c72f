package httpapi

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fortress-dev/fortress/clientip"
	"github.com/fortress-dev/fortress/ratelimit"
)

// recordingObserver keeps what the server reported.
type recordingObserver struct {
	mu        sync.Mutex
	started   int
	done      []string // "route method status"
	events    []string // "event outcome"
	limited   []string
	readiness []bool
}

func (o *recordingObserver) RequestStarted() { o.mu.Lock(); o.started++; o.mu.Unlock() }
func (o *recordingObserver) RequestDone(route, method string, status int, d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if d <= 0 {
		panic("RequestDone without a duration")
	}
	o.done = append(o.done, fmt.Sprintf("%s %s %d", route, method, status))
}
func (o *recordingObserver) SecurityEvent(event, outcome string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events = append(o.events, event+" "+outcome)
}
func (o *recordingObserver) RateLimited(policy string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.limited = append(o.limited, policy)
}
func (o *recordingObserver) Ready(ok bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.readiness = append(o.readiness, ok)
}

func TestObserverSeesRoutesEventsLimitsAndReadiness(t *testing.T) {
	obs := &recordingObserver{}
	e := newEnv(t, func(c *Config) { c.Observer = obs },
		withLimits(ratelimit.NewMemory(100), ratelimit.Policy{Name: "default", Limit: 2, Window: time.Hour},
			ratelimit.Policy{}, ratelimit.Policy{}, ratelimit.Policy{}))
	_, tok := e.user("observed@example.com") // register + login: 2 requests of the 2-request budget
	wantStatus(t, e.do("GET", "/items/", tok, "", ""), http.StatusTooManyRequests)
	wantStatus(t, e.do("GET", "/no/such/path/"+strings.Repeat("x", 10), "", "", ""), http.StatusTooManyRequests)
	wantStatus(t, e.do("GET", "/readyz", "", "", ""), http.StatusOK) // probes are not limited
	e.srv.Drain()
	wantStatus(t, e.do("GET", "/readyz", "", "", ""), http.StatusServiceUnavailable)

	want := []string{"/auth/register POST 201", "/auth/login POST 200", "/items/ GET 429", " GET 429",
		"/readyz GET 200", "/readyz GET 503"}
	if !slices.Equal(obs.done, want) || obs.started != len(want) {
		t.Fatalf("requests: got %d started, done %q; want %q", obs.started, obs.done, want)
	}
	if !slices.Equal(obs.events, []string{"user.register success", "auth.login.success success"}) {
		t.Fatalf("security events: got %q", obs.events)
	}
	if !slices.Equal(obs.limited, []string{"default", "default"}) {
		t.Fatalf("rate limited: got %q", obs.limited)
	}
	if !slices.Equal(obs.readiness, []bool{true, false}) {
		t.Fatalf("readiness: got %v", obs.readiness)
	}
}

func TestRequestIDFromTrustedProxiesOnly(t *testing.T) {
	proxies, err := clientip.New([]string{"10.0.0.1/32"})
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *Config) { c.Clients = proxies })
	const proxyID = "5f0c6a1e-3b7d-4c6e-9a59-2b1f0c9d8e7a"
	for _, tc := range []struct {
		name, peer, id string
		kept           bool
	}{
		{"trusted proxy, UUID", "10.0.0.1:5000", proxyID, true},
		{"trusted proxy, hex", "10.0.0.1:5000", "0123456789abcdef0123456789abcdef", true},
		{"untrusted peer", "192.0.2.7:5000", proxyID, false},
		{"trusted proxy, too short", "10.0.0.1:5000", "abc", false},
		{"trusted proxy, too long", "10.0.0.1:5000", strings.Repeat("a", 65), false},
		{"trusted proxy, log injection", "10.0.0.1:5000", "abcdefgh\n{\"level\":\"ERROR\"}", false},
		{"trusted proxy, spaces", "10.0.0.1:5000", "abcd efgh", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRequest("GET", "/nope", "", "")
			r.RemoteAddr = tc.peer
			r.Header.Set("X-Request-ID", tc.id)
			rec := e.serve(r)
			got := rec.Header().Get("X-Request-ID")
			p := checkProblemShape(t, r, rec)
			switch {
			case tc.kept && (got != tc.id || p.RequestID != tc.id):
				t.Fatalf("request id: got header %q, problem %q; want the proxy's %q", got, p.RequestID, tc.id)
			case !tc.kept && (got == tc.id || len(got) != 32 || p.RequestID != got):
				t.Fatalf("request id: got header %q, problem %q; want a fresh random one", got, p.RequestID)
			}
		})
	}
}

func TestAccessLogNamesTheUser(t *testing.T) {
	e := newEnv(t)
	id, tok := e.user("whoami@example.com")
	wantStatus(t, e.do("GET", "/items/", tok, "", ""), http.StatusOK)
	var found bool
	for _, l := range e.log.lines(t) {
		if l["msg"] == "request" && l["route"] == "GET /items/" {
			found = true
			if l["user_id"] != float64(id) {
				t.Fatalf("access log: user_id got %v, want %d", l["user_id"], id)
			}
		}
		if l["msg"] == "request" && l["route"] == "POST /auth/register" && l["user_id"] != float64(0) {
			t.Fatalf("access log of an anonymous request: user_id got %v, want 0", l["user_id"])
		}
	}
	if !found {
		t.Fatal("access log: no line for GET /items/")
	}
}
