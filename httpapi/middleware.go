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

const (
	requestIDKey ctxKey = iota
	userKey
	routeKey
	clientKey
)

func requestIDFrom(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey).(string)
	return id
}

// withRequestID gives every request a random id, returned in X-Request-ID and written in every log line
// and problem document, so a user's report can be matched with the server's log.
func withRequestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b [16]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
		id := hex.EncodeToString(b[:])
		w.Header().Set("X-Request-ID", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey, id)))
	})
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

// routeHolder is filled in by the router with the matched pattern, so that the access log (and later
// metrics) name the route, not the raw path.
type routeHolder struct{ pattern string }

// withAccessLog writes one structured line per request. It never logs headers, bodies or query strings,
// where credentials travel.
func withAccessLog(log *slog.Logger) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			start := time.Now()
			rec := &statusRecorder{ResponseWriter: w}
			route := &routeHolder{}
			next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), routeKey, route)))
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
			log.LogAttrs(r.Context(), level, "request",
				slog.String("request_id", requestIDFrom(r.Context())),
				slog.String("method", r.Method),
				slog.String("route", route.pattern),
				slog.String("path", truncate(r.URL.Path, 256)),
				slog.Int("status", rec.status),
				slog.Int64("bytes", rec.bytes),
				slog.Float64("duration_ms", float64(time.Since(start).Microseconds())/1000),
				slog.String("client_ip", clientIP(r)),
			)
		})
	}
}

// withClient decides once who the client is (see package clientip) and keeps it in the context, so
// that the rate limiter, the log and the HTTPS redirect all agree.
func withClient(res *clientip.Resolver) Middleware {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), clientKey, res.Resolve(r))))
		})
	}
}

// noProxies trusts no forwarding header: the client is the socket peer.
var noProxies = &clientip.Resolver{}

// clientFrom returns the client withClient resolved, or the bare socket peer.
func clientFrom(r *http.Request) clientip.Client {
	if c, ok := r.Context().Value(clientKey).(clientip.Client); ok {
		return c
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

// contentSecurityPolicy allows only the server's own scripts, styles and connections: no inline code,
// no eval, no framing, no plugins. The UI and /docs are built to run under it.
const contentSecurityPolicy = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// permissionsPolicy denies browser features the UI does not use.
const permissionsPolicy = "accelerometer=(), camera=(), display-capture=(), geolocation=(), gyroscope=(), " +
	"magnetometer=(), microphone=(), midi=(), payment=(), usb=(), interest-cohort=()"

// withSecurityHeaders sets the headers every response carries, errors included.
func withSecurityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Permissions-Policy", permissionsPolicy)
		if strings.HasPrefix(r.URL.Path, "/static/") {
			h.Set("Cache-Control", "no-cache") // revalidate, so an upgrade is seen at once
		} else {
			h.Set("Cache-Control", "no-store")
		}
		if clientFrom(r).HTTPS {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
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
			r.Body = http.MaxBytesReader(w, r.Body, limit)
			next.ServeHTTP(w, r)
		})
	}
}
