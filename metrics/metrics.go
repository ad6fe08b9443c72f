// Package metrics is Fortress's Prometheus instrumentation: what the HTTP server, the password hasher and
// the database pool report, exposed in the Prometheus text format on a listener of its own (never the
// public port). Labels take values from fixed sets only - route patterns, methods, status codes, event
// names - so no request can create a new series.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// UnmatchedRoute is the route label of requests that matched no route (404s of random paths), so that
// scanners cannot grow the series count.
const UnmatchedRoute = "unmatched"

// Build identifies the running binary in fortress_build_info.
type Build struct {
	Version, Revision, GoVersion string
}

// PoolStats is a database connection pool's state, whatever the engine.
type PoolStats struct {
	Open, InUse, Idle, MaxOpen int
	WaitCount                  int64         // acquisitions that had to wait for a connection, in all
	WaitDuration               time.Duration // their total wait
}

// HashStats is the state of the bounded Argon2id work (package password's Gate).
type HashStats struct {
	InFlight, Waiting int
}

// Metrics holds every metric of one process in its own registry (not the global one, so that tests and
// several servers in one process do not collide).
type Metrics struct {
	reg         *prometheus.Registry
	requests    *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	inFlight    prometheus.Gauge
	events      *prometheus.CounterVec
	rateLimited *prometheus.CounterVec
	ready       prometheus.Gauge
	hashWait    prometheus.Histogram
	hashReject  prometheus.Counter

	// observed caches the series of each (route, method, status) seen: WithLabelValues hashes and
	// validates the label values and looks the series up under a lock on every call, which was most of
	// the cost of recording a request. The label sets are bounded (see the package doc), so is the cache.
	observed sync.Map // requestKey -> *requestSeries
}

// requestKey names the series of one kind of answered request.
type requestKey struct {
	route, method string
	status        int
}

// requestSeries are the series a request of one requestKey updates.
type requestSeries struct {
	count    prometheus.Counter
	duration prometheus.Observer
}

// New registers the metrics, the Go runtime and process collectors, and fortress_build_info.
func New(b Build) *Metrics {
	reg := prometheus.NewRegistry()
	f := promauto.With(reg)
	m := &Metrics{
		reg: reg,
		requests: f.NewCounterVec(prometheus.CounterOpts{Name: "fortress_http_requests_total",
			Help: "HTTP requests answered, by route pattern, method and status code."}, []string{"route", "method", "code"}),
		duration: f.NewHistogramVec(prometheus.HistogramOpts{Name: "fortress_http_request_duration_seconds",
			Help:    "Time from the request's arrival to the end of its answer, by route pattern and method.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"route", "method"}),
		inFlight: f.NewGauge(prometheus.GaugeOpts{Name: "fortress_http_requests_in_flight",
			Help: "HTTP requests being served now."}),
		events: f.NewCounterVec(prometheus.CounterOpts{Name: "fortress_security_events_total",
			Help: "Security events (the audit log's), by stable event name and outcome."}, []string{"event", "outcome"}),
		rateLimited: f.NewCounterVec(prometheus.CounterOpts{Name: "fortress_rate_limited_total",
			Help: "Requests refused with 429, by budget: default, login, register (per client) and login-failures (per account)."}, []string{"policy"}),
		ready: f.NewGauge(prometheus.GaugeOpts{Name: "fortress_ready",
			Help: "1 when the instance's last readiness check passed, else 0."}),
		hashWait: f.NewHistogram(prometheus.HistogramOpts{Name: "fortress_password_hash_wait_seconds",
			Help:    "Time a password hashing operation waited for a free slot.",
			Buckets: []float64{.001, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5}}),
		hashReject: f.NewCounter(prometheus.CounterOpts{Name: "fortress_password_hash_rejected_total",
			Help: "Password hashing operations refused (503) because the queue was full or the wait ran out."}),
	}
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "fortress_build_info",
			Help:        "Always 1; the labels say which binary runs.",
			ConstLabels: prometheus.Labels{"version": b.Version, "revision": b.Revision, "goversion": b.GoVersion}},
			func() float64 { return 1 }),
	)
	return m
}

// Handler serves the registry in the Prometheus exposition formats.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// RequestStarted counts a request in flight until RequestDone.
func (m *Metrics) RequestStarted() { m.inFlight.Inc() }

// RequestDone records an answered request. route is the matched route pattern, or "" when none matched;
// a method outside the standard ones is recorded as OTHER.
func (m *Metrics) RequestDone(route, method string, status int, d time.Duration) {
	m.inFlight.Dec()
	if route == "" {
		route = UnmatchedRoute
	}
	method = knownMethod(method)
	key := requestKey{route: route, method: method, status: status}
	v, ok := m.observed.Load(key)
	if !ok {
		v, _ = m.observed.LoadOrStore(key, &requestSeries{
			count:    m.requests.WithLabelValues(route, method, strconv.Itoa(status)),
			duration: m.duration.WithLabelValues(route, method),
		})
	}
	series := v.(*requestSeries) //nolint:errcheck,forcetypeassert // the map holds only *requestSeries
	series.count.Inc()
	series.duration.Observe(d.Seconds())
}

// SecurityEvent counts one audit event.
func (m *Metrics) SecurityEvent(event, outcome string) {
	m.events.WithLabelValues(event, outcome).Inc()
}

// RateLimited counts one request refused by the named budget.
func (m *Metrics) RateLimited(policy string) { m.rateLimited.WithLabelValues(policy).Inc() }

// Ready records the outcome of a readiness check.
func (m *Metrics) Ready(ok bool) {
	if ok {
		m.ready.Set(1)
		return
	}
	m.ready.Set(0)
}

// HashWaited records how long a hashing operation waited for a slot.
func (m *Metrics) HashWaited(d time.Duration) { m.hashWait.Observe(d.Seconds()) }

// HashRejected counts a hashing operation refused for lack of capacity.
func (m *Metrics) HashRejected() { m.hashReject.Inc() }

// WatchHashing publishes the Argon2id slots in use and the queue, read when scraped.
func (m *Metrics) WatchHashing(stats func() HashStats) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "fortress_password_hash_in_flight",
			Help: "Password hashing operations running now."}, func() float64 { return float64(stats().InFlight) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "fortress_password_hash_queue_depth",
			Help: "Password hashing operations waiting for a slot now."}, func() float64 { return float64(stats().Waiting) }),
	)
}

// WatchPool publishes the database pool's state, read when scraped.
func (m *Metrics) WatchPool(stats func() PoolStats) {
	m.reg.MustRegister(poolCollector{stats: stats})
}

// knownMethod bounds the method label to the standard methods.
func knownMethod(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete,
		http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "OTHER"
}
