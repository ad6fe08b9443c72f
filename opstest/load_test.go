package opstest

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// op is one kind of request of a workload.
type op string

const (
	opCreate op = "create" // POST /items/
	opRead   op = "read"   // GET /items/{id}
	opList   op = "list"   // GET /items/?limit=10
	opUpdate op = "update" // PUT /items/{id}
	opDelete op = "delete" // DELETE /items/{id} of an item this workload created for it
	opLogin  op = "login"  // POST /auth/login, then POST /auth/logout with the new token
	opMe     op = "me"     // GET /auth/me
)

// sample is one answer of a load, kept whole so that a test can look at any instant of a fault.
type sample struct {
	op      op
	status  int
	err     error
	sent    time.Time
	latency time.Duration
	body    string // kept for 5xx and errors only, to say what failed
}

func (s sample) failed() bool { return s.err != nil || s.status >= 500 }

// load sends a steady mixed workload to one base URL (or, with bases, spreads it over several in turn):
// a fixed rate of ticks shared by the workers; a tick finding every worker busy is dropped and counted,
// so a slow server lowers the rate rather than piling requests up.
type load struct {
	bases   []string
	token   string
	rate    float64 // requests per second, all workers together
	workers int
	mix     []op    // drawn in turn, so the mix is exact
	seedIDs []int64 // items that exist for reads and updates
	email   string  // the account of opLogin

	mu      sync.Mutex
	samples []sample
	acked   map[int64]string // items whose creation was answered 201, by id, with their names
	deleted map[int64]bool   // items this load sent a DELETE for (whatever the answer: a failed one may have run)
	dropped int              // ticks that found every worker busy

	hc     *http.Client // nil: a plain HTTP client
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// start begins sending; stop ends it.
func (l *load) start() {
	l.acked, l.deleted = map[int64]string{}, map[int64]bool{}
	if l.hc == nil {
		l.hc = newHTTPClient()
	}
	// Stopping ends the ticks, not the requests in flight: a request canceled by its client would be an
	// answer nobody reads, which the server logs as a failure.
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	ticks := make(chan int, l.workers)
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		defer close(ticks)
		interval := time.Duration(float64(time.Second) / l.rate)
		tk := time.NewTicker(interval)
		defer tk.Stop()
		for seq := 0; ; seq++ {
			select {
			case <-ctx.Done():
				return
			case <-tk.C:
			}
			select {
			case ticks <- seq:
			default:
				l.mu.Lock()
				l.dropped++
				l.mu.Unlock()
			}
		}
	}()
	for w := range l.workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for seq := range ticks {
				l.one(context.Background(), w, seq)
			}
		}()
	}
}

// stop ends the load and waits for the requests in flight.
func (l *load) stop() {
	l.cancel()
	l.wg.Wait()
	l.hc.CloseIdleConnections()
}

// one sends the seq-th request of the mix.
func (l *load) one(ctx context.Context, worker, seq int) {
	kind := l.mix[seq%len(l.mix)]
	base := l.bases[seq%len(l.bases)]
	id := l.seedIDs[seq%len(l.seedIDs)]
	var r request
	name := fmt.Sprintf("load-%d-%d", worker, seq)
	switch kind {
	case opCreate:
		r = request{method: "POST", path: "/items/", token: l.token, json: map[string]string{"name": name}}
	case opRead:
		r = request{method: "GET", path: "/items/" + strconv.FormatInt(id, 10), token: l.token}
	case opList:
		r = request{method: "GET", path: "/items/?limit=10", token: l.token}
	case opUpdate:
		r = request{method: "PUT", path: "/items/" + strconv.FormatInt(id, 10), token: l.token, json: map[string]string{"description": name}}
	case opMe:
		r = request{method: "GET", path: "/auth/me", token: l.token}
	case opDelete:
		// Create an item, then delete it: the delete is what is measured; the create is recorded too.
		var it item
		a := send(ctx, l.hc, base, request{method: "POST", path: "/items/", token: l.token, json: map[string]string{"name": name}})
		l.record(opCreate, a, name)
		if a.status != http.StatusCreated || json.Unmarshal(a.body, &it) != nil {
			return
		}
		r = request{method: "DELETE", path: "/items/" + strconv.FormatInt(it.ID, 10), token: l.token}
		l.mu.Lock()
		l.deleted[it.ID] = true // from now on its state is the delete's to decide, answered or not
		l.mu.Unlock()
		a = send(ctx, l.hc, base, r)
		l.record(opDelete, a, "")
		return
	case opLogin:
		a := send(ctx, l.hc, base, loginRequest(l.email))
		l.record(opLogin, a, "")
		var tok struct {
			AccessToken string `json:"access_token"`
		}
		if a.status != http.StatusOK || json.Unmarshal(a.body, &tok) != nil {
			return
		}
		r = request{method: "POST", path: "/auth/logout", token: tok.AccessToken}
		kind = "logout"
	}
	a := send(ctx, l.hc, base, r)
	l.record(kind, a, name)
}

// record keeps a sample; a canceled request (the load stopping) is not an answer and is not kept.
func (l *load) record(kind op, a answer, name string) {
	if a.err != nil && strings.Contains(a.err.Error(), "context canceled") {
		return
	}
	s := sample{op: kind, status: a.status, err: a.err, sent: a.sent, latency: a.latency}
	if s.failed() {
		s.body = truncate(string(a.body), 300)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.samples = append(l.samples, s)
	if kind == opCreate && a.status == http.StatusCreated {
		var it item
		if json.Unmarshal(a.body, &it) == nil {
			l.acked[it.ID] = name
		}
	}
}

// results returns a copy of the samples.
func (l *load) results() []sample {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.samples)
}

// ackedItems returns the items whose creation was acknowledged and that this load did not try to delete.
func (l *load) ackedItems() map[int64]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[int64]string{}
	for id, name := range l.acked {
		if !l.deleted[id] {
			out[id] = name
		}
	}
	return out
}

// summary counts samples by status ("error" for transport failures) and reports latency percentiles.
type summary struct {
	total    int
	byStatus map[string]int
	failures []sample
	p50, p99 time.Duration
	max      time.Duration
}

func summarize(samples []sample) summary {
	s := summary{total: len(samples), byStatus: map[string]int{}}
	lat := make([]time.Duration, 0, len(samples))
	for _, x := range samples {
		key := strconv.Itoa(x.status)
		if x.err != nil {
			key = "error"
		}
		s.byStatus[key]++
		if x.failed() {
			s.failures = append(s.failures, x)
		}
		lat = append(lat, x.latency)
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		s.p50, s.p99, s.max = lat[len(lat)/2], lat[len(lat)*99/100], lat[len(lat)-1]
	}
	return s
}

func (s summary) String() string {
	keys := make([]string, 0, len(s.byStatus))
	for k := range s.byStatus {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s×%d", k, s.byStatus[k]))
	}
	return fmt.Sprintf("%d requests (%s), latency p50 %s p99 %s max %s", s.total, strings.Join(parts, " "),
		s.p50.Round(time.Microsecond), s.p99.Round(time.Microsecond), s.max.Round(time.Microsecond))
}

// describeFailures lists the first failures for a failure message.
func describeFailures(fs []sample, n int) string {
	var b strings.Builder
	for i, f := range fs {
		if i == n {
			fmt.Fprintf(&b, "\n  … and %d more", len(fs)-n)
			break
		}
		what := strconv.Itoa(f.status) + " " + f.body
		if f.err != nil {
			what = f.err.Error()
		}
		fmt.Fprintf(&b, "\n  %s at %s after %s: %s", f.op, f.sent.Format("15:04:05.000"), f.latency.Round(time.Millisecond), what)
	}
	return b.String()
}
