package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/fortress-dev/fortress/clientip"
)

// Middleware is the standard shape, so that third-party middleware (CORS, later rate limiting) fits
// without adapters.
type Middleware func(http.Handler) http.Handler

type ctxKey int

// routeKey holds the request's *requestState.
const routeKey ctxKey = 0

// requestState is what the middleware learns about a request as it goes - the client, the request id,
// the route and the user - in one struct that the first middleware attaches to the request's context and
// the others fill in: one context value and one copy of the request for the whole chain, rather than one
// of each per middleware (a fifth of the allocations of a /health answer).
type requestState struct {
	client    clientip.Client
	hasClient bool
	requestID string
	idHeader  [1]string // the X-Request-ID header's value slice, allocated with the state
	pattern   string    // the matched route pattern, "" when none matched (then dispatch asks the router)
	caller    caller    // who requireUser admitted: for the handlers and the access log
	rec       statusRecorder
}

// stateOf returns r's state, attaching a new one to a copy of r when it has none yet.
func stateOf(r *http.Request) (*requestState, *http.Request) {
	if st, ok := r.Context().Value(routeKey).(*requestState); ok {
		return st, r
	}
	st := &requestState{}
	return st, r.WithContext(context.WithValue(r.Context(), routeKey, st))
}

func requestIDFrom(ctx context.Context) string {
	if st, ok := ctx.Value(routeKey).(*requestState); ok {
		return st.requestID
	}
	return ""
}

// withRequestID gives every request an id, returned in X-Request-ID and written in every log line, audit
// event and problem document, so a user's report can be matched with the server's log. The id a trusted
// proxy assigned is kept, so that one id follows the request through the proxy's log and ours; any other
// request gets a random one (a client could otherwise plant misleading ids in the audit log).
func withRequestID(clients *clientip.Resolver) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			st, r := stateOf(r)
			id := r.Header.Get("X-Request-ID")
			if !validRequestID(id) || !clients.ViaTrustedProxy(r) {
				var b [16]byte
				var text [32]byte
				_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
				hex.Encode(text[:], b[:])
				id = string(text[:])
			}
			st.requestID = id
			st.idHeader[0] = id
			w.Header()["X-Request-Id"] = st.idHeader[:1:1] // Set("X-Request-ID", id) without canonicalizing and allocating
			next.ServeHTTP(w, r)
		})
	}
}

// maxRequestIDLen bounds a proxy's request id; a UUID has 36 characters.
const maxRequestIDLen = 64

// validRequestID accepts the ids proxies generate (hex, UUIDs, base64url): 8 to 64 characters of
// letters, digits, '-', '_' and '.', nothing a log or header could misread.
func validRequestID(id string) bool {
	if len(id) < 8 || len(id) > maxRequestIDLen {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// statusRecorder remembers what a handler answered, for the access log.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// withAccessLog writes one structured line per request and reports it to obs. It never logs headers,
// bodies or query strings, where credentials travel. The router fills in the matched pattern and
// requireUser the user (requestState), so that the line and the metrics name the route (not the raw path)
// and the user.
func withAccessLog(log *slog.Logger, obs Observer) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			obs.RequestStarted()
			route, r := stateOf(r)
			rec := &route.rec // allocated with the state
			if rec.ResponseWriter != nil {
				rec = &statusRecorder{} // a second access log on the same request keeps its own
			}
			rec.ResponseWriter = w
			defer func() {
				if rec.status == 0 { // no answer written: net/http sends 200, or the panic was re-raised
					rec.status = http.StatusOK
				}
				_, path, _ := strings.Cut(route.pattern, " ") // "GET /items/{item_id}": the method is a label of its own
				obs.RequestDone(path, r.Method, rec.status, time.Since(start))
			}()
			next.ServeHTTP(rec, r)
			if rec.status == 0 {
				rec.status = http.StatusOK
			}
			level := slog.LevelInfo
			switch {
			case rec.status == http.StatusServiceUnavailable:
				level = slog.LevelWarn // shed load or a dependency away: expected under stress, not a bug
			case rec.status >= 500:
				level = slog.LevelError
			}
			if !log.Enabled(r.Context(), level) {
				return // the attributes below cost more than a /health answer: build them only to write them
			}
			log.LogAttrs(r.Context(), level, "request",
				slog.String("request_id", route.requestID),
				slog.String("method", r.Method),
				slog.String("route", route.pattern),
				slog.String("path", truncate(r.URL.Path, 256)),
				slog.Int("status", rec.status),
				slog.Int64("bytes", rec.bytes),
				slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
				slog.String("client_ip", clientIP(r)),
				slog.Int64("user_id", route.caller.user.ID),
			)
		})
	}
}

// withClient decides once who the client is (see package clientip) and keeps it in the request's state,
// so that the rate limiter, the log and the HTTPS redirect all agree.
func withClient(res *clientip.Resolver) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			st, r := stateOf(r)
			st.client, st.hasClient = res.Resolve(r), true
			next.ServeHTTP(w, r)
		})
	}
}

// noProxies trusts no forwarding header: the client is the socket peer.
var noProxies = &clientip.Resolver{}

// clientFrom returns the client withClient resolved, or the bare socket peer.
func clientFrom(r *http.Request) clientip.Client {
	if st, ok := r.Context().Value(routeKey).(*requestState); ok && st.hasClient {
		return st.client
	}
	return noProxies.Resolve(r)
}

// clientIP is the client's address as text, for logs and rate-limit keys.
func clientIP(r *http.Request) string { return clientFrom(r).String() }

// withRecover turns a panic into a generic 500 problem and a logged stack, so that one bad request
// neither kills the process nor shows its internals.
func withRecover(log *slog.Logger) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() { //nolint:contextcheck // the deferred recovery logs with r.Context() itself
				v := recover()
				if v == nil {
					return
				}
				if err, ok := v.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(v) // the server's own signal to abort the response; not a bug
				}
				log.ErrorContext(r.Context(), "panic serving request", "panic", v,
					"request_id", requestIDFrom(r.Context()), "stack", stackTrace())
				writeProblem(w, r, http.StatusInternalServerError, "Internal Server Error")
			}()
			next.ServeHTTP(w, r)
		})
	}
}

// documentPolicy is the Content-Security-Policy of the HTML pages (the web UI and /docs): only the
// server's own scripts, styles and connections; no inline code, no eval, no framing, no plugins. The UI
// and /docs are built to run under it.
const documentPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// apiPolicy is the Content-Security-Policy of every other answer (JSON, problems, assets), as OWASP's
// REST Security Cheat Sheet recommends: were one ever rendered as a page, nothing in it could load or
// run, and no page could frame it.
const apiPolicy = "default-src 'none'; frame-ancestors 'none'"

// permissionsPolicy denies browser features the UI does not use.
const permissionsPolicy = "accelerometer=(), camera=(), display-capture=(), geolocation=(), gyroscope=(), " +
	"magnetometer=(), microphone=(), midi=(), payment=(), usb=(), interest-cohort=()"

// headerValue is a header's value as http.Header holds it, built once and shared by every response. Its
// capacity is its length, so that an Add to the same header appends to a copy, never to the shared array.
func headerValue(v string) []string { return []string{v}[:1:1] }

// securityHeader is one header every response of a kind carries, with its canonical name, assigned
// straight into the header map: Header.Set would canonicalize each name and allocate each value again on
// every response.
type securityHeader struct {
	name  string
	value []string
}

// everyAnswerHeaders are the headers every answer carries, whatever its kind.
var everyAnswerHeaders = []securityHeader{
	{"X-Content-Type-Options", headerValue("nosniff")},
	{"X-Frame-Options", headerValue("DENY")},
	{"Referrer-Policy", headerValue("no-referrer")},
	{"Cross-Origin-Resource-Policy", headerValue("same-origin")},
}

// apiHeaders are the headers of every answer that is not an HTML page, errors included.
var apiHeaders = append([]securityHeader{
	{"Content-Security-Policy", headerValue(apiPolicy)},
}, everyAnswerHeaders...)

// documentHeaders are the headers of the HTML pages' routes: their own policy, and the two that only
// mean something for a document (a browsing context's opener and the features it may use).
var documentHeaders = append([]securityHeader{
	{"Content-Security-Policy", headerValue(documentPolicy)},
	{"Cross-Origin-Opener-Policy", headerValue("same-origin")},
	{"Permissions-Policy", headerValue(permissionsPolicy)},
}, everyAnswerHeaders...)

var (
	cacheNoStore = headerValue("no-store")
	cacheNoCache = headerValue("no-cache")
	strictHSTS   = headerValue("max-age=63072000; includeSubDomains")
)

// withSecurityHeaders sets the security headers on every response, errors included: the document set on
// the routes that answer an HTML page (documents, by route pattern; their refusals and redirects get it
// too, which is as strict for them), the API set on all others.
func withSecurityHeaders(documents map[string]bool) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			h := w.Header()
			headers := apiHeaders
			if st, _ := r.Context().Value(routeKey).(*requestState); st != nil && documents[st.pattern] {
				headers = documentHeaders
			}
			for _, sh := range headers {
				h[sh.name] = sh.value
			}
			if strings.HasPrefix(r.URL.Path, "/static/") {
				h["Cache-Control"] = cacheNoCache // revalidate, so an upgrade is seen at once
			} else {
				h["Cache-Control"] = cacheNoStore
			}
			if clientFrom(r).HTTPS {
				h["Strict-Transport-Security"] = strictHSTS
			}
			next.ServeHTTP(w, r)
		})
	}
}

// withHTTPSRedirect sends plain-HTTP requests to the same URL over HTTPS with 308, which keeps the
// method and body. Liveness and readiness stay reachable over HTTP for probes.
func withHTTPSRedirect(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if clientFrom(r).HTTPS || isProbe(r) {
			next.ServeHTTP(w, r)
			return
		}
		target := "https://" + r.Host + r.URL.RequestURI()
		http.Redirect(w, r, target, http.StatusPermanentRedirect) //nolint:gosec // G710: r.Host passed withTrustedHosts, which runs before this middleware
	})
}

func isProbe(r *http.Request) bool {
	return r.URL.Path == "/health" || r.URL.Path == "/readyz"
}

// withTrustedHosts answers 400 to a Host header that is not allowed, which defeats Host-header
// injection (poisoned links, cache poisoning) and DNS rebinding. Patterns are exact names,
// "*.example.com" (subdomains only) or "*" (any). Probes are exempt: orchestrators address them by IP.
func withTrustedHosts(allowed []string) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if isProbe(r) || hostAllowed(r.Host, allowed) {
				next.ServeHTTP(w, r)
				return
			}
			writeProblem(w, r, http.StatusBadRequest, "Invalid host header")
		})
	}
}

func hostAllowed(hostport string, allowed []string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.ToLower(strings.TrimSuffix(strings.Trim(host, "[]"), "."))
	if host == "" {
		return false
	}
	for _, pattern := range allowed {
		switch {
		case pattern == "*":
			return true
		case strings.HasPrefix(pattern, "*."):
			if strings.HasSuffix(host, pattern[1:]) {
				return true
			}
		case host == pattern:
			return true
		}
	}
	return false
}

// withBodyLimit caps every request body. A declared length over the cap is refused before anything is
// read; a body that grows past it while streaming fails its read, which decodeJSON turns into 413.
func withBodyLimit(limit int64) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.ContentLength > limit {
				w.Header().Set("Connection", "close")
				writeProblem(w, r, http.StatusRequestEntityTooLarge,
					"The request body must not exceed "+strconv.FormatInt(limit, 10)+" bytes.")
				return
			}
			if r.Body != http.NoBody { // a request without a body (net/http's NoBody) has nothing to cap
				r.Body = http.MaxBytesReader(w, r.Body, limit)
			}
			next.ServeHTTP(w, r)
		})
	}
}
