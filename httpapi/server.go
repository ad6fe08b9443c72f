// Package httpapi is Fortress's HTTP interface: the routes of the API contract, their validation and
// errors, the security middleware every response passes through, and the OpenAPI document.
package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/cors"

	"github.com/fortress-dev/fortress"
	"github.com/fortress-dev/fortress/clientip"
	"github.com/fortress-dev/fortress/ratelimit"
)

// Config is what the server needs: its collaborators and the settings of its middleware.
type Config struct {
	Logger    *slog.Logger
	Users     fortress.UserService
	Items     fortress.ItemService
	Passwords fortress.PasswordHasher
	Tokens    fortress.TokenService
	TokenTTL  time.Duration // reported to clients as expires_in
	Sessions  fortress.SessionService
	Audit     fortress.AuditService // nil: security events go to the structured log only

	// SessionLifetime is the absolute lifetime of a session, from its login, whatever its activity;
	// SessionIdle ends a session whose refresh token has not been used for that long. Zero takes the
	// defaults (DefaultSessionLifetime, DefaultSessionIdle).
	SessionLifetime time.Duration
	SessionIdle     time.Duration

	// Ready reports whether the instance can serve: the database answers and its schema is current.
	Ready func(context.Context) error

	Clients       *clientip.Resolver // who the client is; nil trusts no proxy
	AllowedHosts  []string           // Host header patterns; see withTrustedHosts
	CORSOrigins   []string           // origins allowed to call the API from a browser; none by default
	MaxBodyBytes  int64
	HTTPSRedirect bool

	// Limiter keeps the request budgets; nil disables rate limiting and the login lockout. A zero-Limit
	// policy is off.
	Limiter       ratelimit.Store
	RateLimit     ratelimit.Policy // every route, per client
	LoginLimit    ratelimit.Policy // POST /auth/login, per client
	RegisterLimit ratelimit.Policy // POST /auth/register, per client
	LoginLockout  ratelimit.Policy // failed logins per email; see loginLockout

	// JWKS is the JWK Set of the public token-verification keys (EdDSA), published at
	// /.well-known/jwks.json; nil when tokens are signed with a shared secret only.
	JWKS []byte

	Version string // published in /openapi.json

	// Observer receives the server's measurements (package metrics); nil measures nothing.
	Observer Observer
}

// Server is the API's http.Handler.
type Server struct {
	cfg      Config
	handler  http.Handler
	mux      *http.ServeMux
	openapi  []byte
	draining atomic.Bool
}

// NewServer builds the handler: every route, behind the middleware chain.
func NewServer(cfg Config) *Server {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.Clients == nil {
		cfg.Clients = noProxies
	}
	if cfg.Ready == nil {
		cfg.Ready = func(context.Context) error { return nil }
	}
	if cfg.Observer == nil {
		cfg.Observer = noObserver{}
	}
	if cfg.SessionLifetime <= 0 {
		cfg.SessionLifetime = DefaultSessionLifetime
	}
	if cfg.SessionIdle <= 0 {
		cfg.SessionIdle = DefaultSessionIdle
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux()}
	rs := s.routes()
	checkPermissions(rs)
	s.openapi = buildOpenAPI(rs, cfg.Version)
	authenticate := requireUser(cfg.Logger, cfg.Sessions, cfg.Tokens)
	documents := map[string]bool{} // the route patterns of HTML pages, as withRoute records them
	for _, rt := range rs {
		if rt.doc.responseType == "text/html" {
			documents[rt.method+" "+rt.path] = true
		}
		h := rt.handler
		if rt.doc.authenticated() {
			h = authenticate(requirePermission(s.audit(), rt.doc.permission)(h))
		}
		if rt.doc.limit != nil {
			if m := s.limit(*rt.doc.limit); m != nil {
				h = m(h)
			}
		}
		s.mux.Handle(rt.method+" "+muxPath(rt.path), h)
	}

	// Outermost first. The request id comes first so that every log line and problem carries it; the
	// security headers come before any check that can answer, so refusals carry them too.
	chain := []Middleware{
		withClient(cfg.Clients),
		withRequestID(cfg.Clients),
		withAccessLog(cfg.Logger, cfg.Observer),
		s.withRoute,
		withRecover(cfg.Logger),
		withSecurityHeaders(documents),
	}
	// CORS comes before every check that can refuse, so that a page on an allowed origin can read the
	// refusal (a 400 or 429) instead of a bare network error.
	if len(cfg.CORSOrigins) > 0 { // rs/cors allows every origin when given none: never hand it an empty list
		chain = append(chain, cors.New(cors.Options{
			AllowedOrigins:   cfg.CORSOrigins,
			AllowCredentials: true,
			AllowedMethods:   []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete},
			AllowedHeaders:   []string{"Authorization", "Content-Type", "Accept", "X-Request-ID"},
			ExposedHeaders:   []string{"Link", "Location", "Retry-After", "RateLimit", "RateLimit-Policy", "X-Request-ID", "X-Total-Count"},
			MaxAge:           600,
		}).Handler)
	}
	// The Host check comes before the HTTPS redirect, whose Location is built from the Host header: in
	// the other order any client could make the server redirect to a host of its choosing.
	chain = append(chain, withTrustedHosts(cfg.AllowedHosts))
	if m := s.limit(cfg.RateLimit); m != nil {
		chain = append(chain, m)
	}
	if cfg.HTTPSRedirect {
		chain = append(chain, withHTTPSRedirect)
	}
	chain = append(chain, withBodyLimit(cfg.MaxBodyBytes))

	var h http.Handler = http.HandlerFunc(s.dispatch)
	for i := len(chain) - 1; i >= 0; i-- {
		h = chain[i](h)
	}
	s.handler = h
	return s
}

// audit returns the recorder of security events.
func (s *Server) audit() auditor {
	return auditor{log: s.cfg.Logger, store: s.cfg.Audit, observer: s.cfg.Observer}
}

// limit returns the rate-limit middleware for p, or nil when limiting is off.
func (s *Server) limit(p ratelimit.Policy) Middleware {
	if s.cfg.Limiter == nil || p.Limit == 0 {
		return nil
	}
	return withRateLimit(s.cfg.Logger, s.cfg.Observer, s.cfg.Limiter, p)
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Drain makes readiness fail, so that load balancers stop sending new requests before shutdown.
func (s *Server) Drain() { s.draining.Store(true) }

// muxPath turns a documented path into a ServeMux pattern: a trailing slash matches only itself, not
// the whole subtree.
func muxPath(path string) string {
	if strings.HasSuffix(path, "/") {
		return path + "{$}"
	}
	return path
}

// dispatch routes the request. The ServeMux's own 404 and 405 answers, and the path-cleaning redirects
// of paths that match no route once cleaned, are plain text; they are replaced by problem documents
// (keeping Allow and Location). A redirect to a route's clean path passes through as the mux wrote it.
func (s *Server) dispatch(w http.ResponseWriter, r *http.Request) {
	if st, ok := r.Context().Value(routeKey).(*requestState); ok && st.pattern != "" {
		s.mux.ServeHTTP(w, r) // withRoute found the route: no need to look it up a second time here
		return
	}
	if _, pattern := s.mux.Handler(r); pattern != "" {
		s.mux.ServeHTTP(w, r)
		return
	}
	rec := &headerRecorder{header: http.Header{}}
	s.mux.ServeHTTP(rec, r)
	switch rec.status {
	case http.StatusMethodNotAllowed:
		w.Header().Set("Allow", rec.header.Get("Allow"))
		writeProblem(w, r, http.StatusMethodNotAllowed, "Method Not Allowed")
	case http.StatusMovedPermanently, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		w.Header().Set("Location", rec.header.Get("Location"))
		w.WriteHeader(rec.status)
	default:
		writeProblem(w, r, http.StatusNotFound, "Not Found")
	}
}

// withRoute records the route the request will reach before any middleware can answer it, so that the
// access log and the metrics name the route of a refused request (a 429, a 400 of the Host check) too.
func (s *Server) withRoute(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st, r := stateOf(r)
		_, pattern := s.mux.Handler(r)
		// "{$}" is how muxPath registers a trailing slash; logs and metrics name the documented path.
		st.pattern = strings.TrimSuffix(pattern, "{$}")
		next.ServeHTTP(w, r)
	})
}

// headerRecorder keeps the status and headers of a response and drops its body.
type headerRecorder struct {
	header http.Header
	status int
}

func (h *headerRecorder) Header() http.Header { return h.header }
func (h *headerRecorder) WriteHeader(code int) {
	if h.status == 0 {
		h.status = code
	}
}
func (h *headerRecorder) Write(b []byte) (int, error) {
	h.WriteHeader(http.StatusOK)
	return len(b), nil
}
