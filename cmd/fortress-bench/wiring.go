package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/fortress-dev/fortress"
	"github.com/fortress-dev/fortress/clientip"
	"github.com/fortress-dev/fortress/config"
	"github.com/fortress-dev/fortress/httpapi"
	"github.com/fortress-dev/fortress/logredact"
	"github.com/fortress-dev/fortress/metrics"
	"github.com/fortress-dev/fortress/password"
	"github.com/fortress-dev/fortress/postgres"
	"github.com/fortress-dev/fortress/ratelimit"
	"github.com/fortress-dev/fortress/sqlite"
	"github.com/fortress-dev/fortress/token"
)

// This file is the one place where the harness builds Fortress in its own process (serve-profiled and
// the in-process benchmarks): the same packages wired as cmd/fortress's runServe wires them, step for
// step - the redacting logger, the store and its schema check, the hasher behind its gate with the
// memory handed back, the Prometheus observer with the pool and hashing gauges, the token keys, the
// limiter and every httpapi.Config field - so that a profile is of the real server. A command's package
// cannot be imported, so this is a copy; TestWiringFollowsServe fails when serve.go sets a Config or
// http.Server field, or calls a set-up step, that this file does not.

// fortressAPI is a Fortress API server built as runServe builds it, and what it holds open.
type fortressAPI struct {
	api     *httpapi.Server
	store   store
	metrics *metrics.Metrics
	cfg     config.Config
	logger  *slog.Logger
	closers []func() error
}

// Close stops the background work and closes the limiter and the database, last.
func (f *fortressAPI) Close() error {
	var errs []error
	for i := len(f.closers) - 1; i >= 0; i-- {
		errs = append(errs, f.closers[i]())
	}
	return errors.Join(errs...)
}

// newFortressAPI builds the API from cfg exactly as runServe does, logging to logOut.
func newFortressAPI(ctx context.Context, cfg config.Config, logOut io.Writer) (_ *fortressAPI, err error) {
	f := &fortressAPI{cfg: cfg, logger: newLogger(cfg, logOut)}
	defer func() {
		if err != nil {
			_ = f.Close()
		}
	}()
	for _, w := range cfg.Warnings {
		f.logger.Warn(w)
	}
	s, err := openStore(ctx, cfg.Database())
	if err != nil {
		return nil, err
	}
	f.store = s
	f.closers = append(f.closers, s.Close)
	if cfg.AutoMigrate {
		if _, err := s.Migrate(ctx); err != nil {
			return nil, err
		}
	}
	if err := checkSchema(ctx, s); err != nil {
		return nil, err
	}
	hasher, err := password.NewHasher(password.Params{MemoryKiB: cfg.Argon2MemoryKiB, Time: cfg.Argon2Time, Threads: cfg.Argon2Threads})
	if err != nil {
		return nil, err
	}
	debug.FreeOSMemory() // as runServe: the dummy hash's 19 MiB go back to the OS
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
	limiter, closeLimiter, err := newLimiter(cfg, f.logger)
	if err != nil {
		return nil, err
	}
	f.closers = append(f.closers, func() error { closeLimiter(); return nil })
	f.api = httpapi.NewServer(httpapi.Config{
		Logger:          f.logger,
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
		Version:       "fortress-bench",
		Observer:      m,
	})
	pruneCtx, stopPruning := context.WithCancel(context.WithoutCancel(ctx))
	pruned := make(chan struct{})
	go func() { defer close(pruned); pruneSessions(pruneCtx, s, cfg.SessionIdle, time.Hour, f.logger) }()
	f.closers = append(f.closers, func() error { stopPruning(); <-pruned; return nil })
	return f, nil
}

// httpServer is runServe's http.Server for the API (without TLS: the harness measures plain HTTP).
func (f *fortressAPI) httpServer(ctx context.Context) *http.Server {
	return &http.Server{
		Handler:                      f.api,
		ReadHeaderTimeout:            f.cfg.ReadHeaderTimeout,
		ReadTimeout:                  f.cfg.ReadTimeout,
		WriteTimeout:                 f.cfg.WriteTimeout,
		IdleTimeout:                  f.cfg.IdleTimeout,
		MaxHeaderBytes:               64 << 10,
		DisableGeneralOptionsHandler: true,
		ErrorLog:                     slog.NewLogLogger(f.logger.Handler(), slog.LevelWarn),
		BaseContext:                  func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
}

// newLogger is runServe's logger: JSON (or text), every record through the redaction of logredact.
func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel, ReplaceAttr: logredact.ReplaceAttr}
	if cfg.LogFormat == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// checkSchema fails when the database is behind the binary, as runServe's does (a newer schema is a
// rolling upgrade in progress, and the old binary stays ready).
func checkSchema(ctx context.Context, s store) error {
	st, err := s.MigrationStatus(ctx)
	if err != nil {
		return err
	}
	if st.Pending() {
		return fmt.Errorf("database schema is at version %d but this binary needs %d", st.Current, st.Latest)
	}
	return nil
}

// newMetrics is runServe's: the build, and the pool of whichever engine s is.
func newMetrics(s store) *metrics.Metrics {
	m := metrics.New(metrics.Build{Version: "fortress-bench", GoVersion: runtime.Version()})
	switch db := s.(type) {
	case *sqlite.DB:
		m.WatchPool(func() metrics.PoolStats {
			st := db.Stats()
			return metrics.PoolStats{Open: st.OpenConnections, InUse: st.InUse, Idle: st.Idle, MaxOpen: st.MaxOpenConnections,
				WaitCount: st.WaitCount, WaitDuration: st.WaitDuration}
		})
	case *postgres.DB:
		m.WatchPool(func() metrics.PoolStats {
			st := db.Stats()
			return metrics.PoolStats{Open: int(st.TotalConns()), InUse: int(st.AcquiredConns()), Idle: int(st.IdleConns()),
				MaxOpen: int(st.MaxConns()), WaitCount: st.EmptyAcquireCount(), WaitDuration: st.EmptyAcquireWaitTime()}
		})
	}
	return m
}

// newTokens is runServe's token manager: the active key (Ed25519 from a file, or the HS256 secret) and the
// retired keys that still verify.
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

// newLimiter is runServe's: budgets in this process, or in Redis (with the in-process fallback).
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

// policy names a configured rate; a zero Limit is off.
func policy(name string, r config.Rate) ratelimit.Policy {
	return ratelimit.Policy{Name: name, Limit: r.Limit, Window: r.Window}
}

// pruneSessions is runServe's session pruning: once at start, then every interval until ctx ends.
func pruneSessions(ctx context.Context, s fortress.SessionService, idle, interval time.Duration, log *slog.Logger) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if _, err := s.PruneSessions(ctx, time.Now(), idle); err != nil && ctx.Err() == nil {
			log.WarnContext(ctx, "session pruning failed; retrying next round", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
