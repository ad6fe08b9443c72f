package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"

	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/fortress-dev/fortress/clientip"
	"github.com/fortress-dev/fortress/config"
	"github.com/fortress-dev/fortress/httpapi"
	"github.com/fortress-dev/fortress/logredact"
	"github.com/fortress-dev/fortress/metrics"
	"github.com/fortress-dev/fortress/password"
	"github.com/fortress-dev/fortress/ratelimit"
	"github.com/fortress-dev/fortress/token"
)

// maxHeaderBytes bounds the request line and headers; the timeouts come from the configuration.
const maxHeaderBytes = 64 << 10

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) (err error) {
	rest, err := parseFlags(flag.NewFlagSet("serve", flag.ContinueOnError), args, stderr, "serve")
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return badUsage(stderr, "serve", "serve takes no arguments")
	}
	getenv, err = config.WithDotEnv(getenv, ".env")
	if err != nil {
		return err
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return oneLine(err)
	}
	logger := newLogger(cfg, stderr)
	for _, w := range cfg.Warnings {
		logger.Warn(w)
	}

	app, err := buildAPI(ctx, cfg, logger)
	if err != nil {
		return err
	}
	defer app.close() // last: the database closes after everything that uses it has stopped
	api := app.api
	if cfg.MetricsAddr != "" {
		stopMetrics, err := serveMetrics(ctx, cfg.MetricsAddr, app.metrics, logger)
		if err != nil {
			return err
		}
		defer stopMetrics()
		readyCtx, stopReady := context.WithCancel(ctx)
		watched := watchReadiness(readyCtx, api.CheckReady, readinessInterval)
		defer func() { stopReady(); <-watched }() // before the database closes
	}

	// Only a -tags pprof build profiles; from here, so that start-up is not in the profile, and before the
	// listener, so that a profile path that cannot be written fails start-up.
	stopProfiling, err := startProfiling(getenv, logger)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, stopProfiling()) }() // after the server stopped

	tlsConfig, err := loadTLS(cfg.TLSCertFile, cfg.TLSKeyFile)
	if err != nil {
		return err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Addr)
	if err != nil {
		return err
	}
	scheme, serve := "http", func(srv *http.Server) error { return srv.Serve(ln) }
	if tlsConfig != nil {
		// The certificate is in TLSConfig; ServeTLS adds HTTP/2 to the negotiated protocols.
		scheme, serve = "https", func(srv *http.Server) error { return srv.ServeTLS(ln, "", "") }
	}
	traced, stopTracing, err := newTracing(ctx, getenv, app.version, logger)
	if err != nil {
		return err
	}
	defer func() { // after the server stopped: the last spans are flushed
		flushCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := stopTracing(flushCtx); err != nil {
			logger.Warn("tracing: spans not flushed", "err", err)
		}
	}()
	srv := &http.Server{
		Handler:           traced(api),
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		// net/http would answer "OPTIONS *" itself, outside every middleware (no Host check, no headers).
		DisableGeneralOptionsHandler: true,
		ErrorLog:                     slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:                  func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	base := scheme + "://" + displayAddr(ln.Addr())
	logger.Info("fortress started", "addr", ln.Addr().String(), "scheme", scheme, "ui", base+"/", "docs", base+"/docs",
		"engine", string(cfg.Engine), "env", cfg.Env, "version", app.version)

	pruneCtx, stopPruning := context.WithCancel(ctx)
	pruned := make(chan struct{})
	go func() {
		defer close(pruned)
		pruneSessions(pruneCtx, app.store, cfg.SessionIdle, pruneInterval, logger)
	}()
	defer func() { stopPruning(); <-pruned }() // before the database closes

	served := make(chan error, 1)
	go func() { served <- serve(srv) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}

	// Readiness fails first, and for ShutdownDelay the instance keeps serving while load balancers notice
	// and stop sending it requests; then the listener closes and in-flight requests get ShutdownTimeout
	// to finish; the database closes last (deferred above).
	logger.Info("shutting down", "delay", cfg.ShutdownDelay.String(), "timeout", cfg.ShutdownTimeout.String())
	api.Drain()
	if cfg.ShutdownDelay > 0 {
		delay := time.NewTimer(cfg.ShutdownDelay)
		select {
		case <-delay.C:
		case err := <-served: // the listener failed meanwhile: nothing left to drain
			delay.Stop()
			return err
		}
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		logger.Warn("in-flight requests cut off at the shutdown timeout", "err", err)
		_ = srv.Close()
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	logger.Info("stopped")
	return nil
}

// fortressAPI is the API as `fortress serve` wires it, and what it holds open. buildAPI is the one place
// that wires it: runServe serves it, and the in-process benchmarks (api_bench_test.go) call it, so that
// what they measure is the server itself, not a copy of its wiring.
type fortressAPI struct {
	api     *httpapi.Server
	store   store
	metrics *metrics.Metrics
	version string
	closers []func() // run in reverse by close: the limiter, then the database
}

// buildAPI opens the store (migrating it when configured, refusing a schema behind the binary), builds the
// password hasher behind its gate, the metrics observer, the token keys and the limiter, and the handler
// with every httpapi.Config field. On failure whatever it opened is closed again.
func buildAPI(ctx context.Context, cfg config.Config, logger *slog.Logger) (_ *fortressAPI, err error) {
	f := &fortressAPI{version: buildVersion()}
	defer func() {
		if err != nil {
			f.close()
		}
	}()
	s, err := openStore(ctx, cfg.Database())
	if err != nil {
		return nil, err
	}
	f.store = s
	f.closers = append(f.closers, func() {
		if err := s.Close(); err != nil {
			logger.Error("close database", "err", err)
		}
	})
	if cfg.AutoMigrate {
		applied, err := s.Migrate(ctx)
		if err != nil {
			return nil, err
		}
		if len(applied) > 0 {
			logger.Info("migrations applied", "versions", applied)
		}
	}
	if err := checkSchema(ctx, s); err != nil {
		return nil, err
	}
	if current, latest, ahead := schemaAhead(ctx, s); ahead {
		logger.Warn("the database schema is newer than this binary: serving, as a rolling upgrade's old replicas do; deploy the newer binary",
			"schema_version", current, "binary_version", latest)
	}

	hasher, err := password.NewHasher(password.Params{MemoryKiB: cfg.Argon2MemoryKiB, Time: cfg.Argon2Time, Threads: cfg.Argon2Threads})
	if err != nil {
		return nil, err
	}
	m := newMetrics(s)
	f.metrics = m
	gate := password.NewGate(cfg.HashConcurrency, cfg.HashQueue, cfg.HashWait)
	gate.Observe(m)
	m.WatchHashing(func() metrics.HashStats { return metrics.HashStats{InFlight: gate.InFlight(), Waiting: gate.Waiting()} })
	passwords := password.NewGuarded(hasher, gate)
	clients, err := clientip.New(cfg.TrustedProxies)
	if err != nil {
		return nil, fmt.Errorf("FORTRESS_TRUSTED_PROXIES: %w", err)
	}
	tokens, err := newTokens(cfg)
	if err != nil {
		return nil, err
	}
	logger.Info("token signing key", "alg", tokens.Algorithm(), "kid", tokens.KeyID(), "public_keys", len(tokens.PublicKeys()))
	limiter, closeLimiter, err := newLimiter(cfg, logger)
	if err != nil {
		return nil, err
	}
	f.closers = append(f.closers, closeLimiter)
	f.api = httpapi.NewServer(httpapi.Config{
		Logger:          logger,
		Users:           s,
		Items:           s,
		Passwords:       passwords,
		Tokens:          tokens,
		TokenTTL:        cfg.AccessTokenTTL,
		Sessions:        s,
		Audit:           s,
		SessionLifetime: cfg.SessionLifetime,
		SessionIdle:     cfg.SessionIdle,
		Ready: func(ctx context.Context) error {
			if err := s.Ping(ctx); err != nil {
				return err
			}
			return checkSchema(ctx, s)
		},
		Clients:       clients,
		AllowedHosts:  cfg.AllowedHosts,
		CORSOrigins:   cfg.CORSOrigins,
		MaxBodyBytes:  cfg.MaxBodyBytes,
		HTTPSRedirect: cfg.HTTPSRedirect,
		Limiter:       limiter,
		RateLimit:     policy("default", cfg.RateLimit),
		LoginLimit:    policy("login", cfg.LoginRateLimit),
		RegisterLimit: policy("register", cfg.RegisterRateLimit),
		LoginLockout:  ratelimit.Policy{Name: "login-failures", Limit: cfg.LoginFailuresMax, Window: cfg.LoginLockout},
		JWKS:          jwks(tokens),
		Version:       f.version,
		Observer:      m,
	})
	return f, nil
}

// close releases what buildAPI opened, the database last; failures are logged, as nobody is left to
// act on them.
func (f *fortressAPI) close() {
	for i := len(f.closers) - 1; i >= 0; i-- {
		f.closers[i]()
	}
}

// newLimiter keeps rate-limit budgets in this process, or in Redis when REDIS_URL is set so that all
// replicas share them; while Redis is unreachable each instance falls back to its own budgets.
func newLimiter(cfg config.Config, logger *slog.Logger) (ratelimit.Store, func(), error) {
	memory := ratelimit.NewMemory(ratelimit.DefaultMaxKeys)
	if !cfg.RedisURL.IsSet() {
		return memory, func() {}, nil
	}
	client, err := ratelimit.NewRedisClient(cfg.RedisURL.Reveal())
	if err != nil {
		return nil, nil, fmt.Errorf("REDIS_URL: %w", err)
	}
	limiter := ratelimit.WithFallback(ratelimit.NewRedis(client), memory, logger, time.Second)
	return limiter, func() { _ = client.Close() }, nil
}

// newTokens builds the token manager: the active signing key (Ed25519 from a file, or the HS256 secret)
// and the retired keys that still verify tokens in flight during a rotation.
func newTokens(cfg config.Config) (*token.Manager, error) {
	tc := token.Config{Secret: []byte(cfg.JWTSecret.Reveal()), Issuer: cfg.JWTIssuer, Audience: cfg.JWTAudience, TTL: cfg.AccessTokenTTL}
	for _, s := range cfg.JWTPreviousSecrets {
		tc.PreviousSecrets = append(tc.PreviousSecrets, []byte(s.Reveal()))
	}
	if cfg.JWTSigningKeyFile != "" {
		key, err := token.ReadEd25519PrivateKeyFile(cfg.JWTSigningKeyFile)
		if err != nil {
			return nil, fmt.Errorf("FORTRESS_JWT_SIGNING_KEY_FILE: %w", err)
		}
		tc.SigningKey = key
	}
	for _, path := range cfg.JWTVerifyKeyFiles {
		key, err := token.ReadEd25519PublicKeyFile(path)
		if err != nil {
			return nil, fmt.Errorf("FORTRESS_JWT_VERIFY_KEY_FILES: %w", err)
		}
		tc.VerifyKeys = append(tc.VerifyKeys, key)
	}
	return token.NewManager(tc)
}

// jwks is the JWK Set to publish, or nil when there are no public keys (HS256 only).
func jwks(m *token.Manager) []byte {
	if len(m.PublicKeys()) == 0 {
		return nil
	}
	return m.JWKS()
}

// policy names a configured rate; a zero Limit is off.
func policy(name string, r config.Rate) ratelimit.Policy {
	return ratelimit.Policy{Name: name, Limit: r.Limit, Window: r.Window}
}

// loadTLS returns the server's TLS configuration, or nil when no certificate is configured: TLS 1.2 at
// least, and for TLS 1.2 only forward-secret AEAD cipher suites (TLS 1.3 suites are all modern).
func loadTLS(certFile, keyFile string) (*tls.Config, error) {
	if certFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("FORTRESS_TLS_CERT_FILE/FORTRESS_TLS_KEY_FILE: cannot load the certificate and key: %w", err)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
			tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
	}, nil
}

// newLogger writes structured logs to w, JSON unless configured otherwise.
func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel, ReplaceAttr: logredact.ReplaceAttr}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// displayAddr is an address a browser can open: a wildcard listener is shown as loopback.
func displayAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || !tcp.IP.IsUnspecified() {
		return a.String()
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(tcp.Port))
}
