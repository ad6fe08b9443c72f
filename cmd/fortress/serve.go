package main

import (
	"context"
	"errors"
	"flag"
	"io"

	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/fortress-dev/fortress/config"
	"github.com/fortress-dev/fortress/httpapi"
	"github.com/fortress-dev/fortress/password"
	"github.com/fortress-dev/fortress/token"
)

// Server timeouts bound what a slow or idle client can hold: a Slowloris client that trickles its
// headers is cut off after readHeaderTimeout.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 64 << 10
)

func runServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
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

	s, err := openStore(ctx, cfg.Database())
	if err != nil {
		return err
	}
	defer func() {
		if err := s.Close(); err != nil {
			logger.Error("close database", "err", err)
		}
	}()
	if cfg.AutoMigrate {
		applied, err := s.Migrate(ctx)
		if err != nil {
			return err
		}
		if len(applied) > 0 {
			logger.Info("migrations applied", "versions", applied)
		}
	}
	if err := checkSchema(ctx, s); err != nil {
		return err
	}

	hasher, err := password.NewHasher(password.Params{MemoryKiB: cfg.Argon2MemoryKiB, Time: cfg.Argon2Time, Threads: cfg.Argon2Threads})
	if err != nil {
		return err
	}
	tokens, err := token.NewManager(token.Config{
		Secret:   []byte(cfg.JWTSecret.Reveal()),
		Issuer:   cfg.JWTIssuer,
		Audience: cfg.JWTAudience,
		TTL:      cfg.AccessTokenTTL,
	})
	if err != nil {
		return err
	}
	version := buildVersion()
	api := httpapi.NewServer(httpapi.Config{
		Logger:    logger,
		Users:     s,
		Items:     s,
		Passwords: hasher,
		Tokens:    tokens,
		TokenTTL:  cfg.AccessTokenTTL,
		Ready: func(ctx context.Context) error {
			if err := s.Ping(ctx); err != nil {
				return err
			}
			return checkSchema(ctx, s)
		},
		AllowedHosts:  cfg.AllowedHosts,
		CORSOrigins:   cfg.CORSOrigins,
		MaxBodyBytes:  cfg.MaxBodyBytes,
		HTTPSRedirect: cfg.HTTPSRedirect,
		Version:       version,
	})

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           api,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	base := "http://" + displayAddr(ln.Addr())
	logger.Info("fortress started", "addr", ln.Addr().String(), "ui", base+"/", "docs", base+"/docs",
		"engine", string(cfg.Engine), "env", cfg.Env, "version", version)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}

	// Readiness fails first, then the listener closes and in-flight requests get ShutdownTimeout to
	// finish; the database closes last (deferred above).
	logger.Info("shutting down", "timeout", cfg.ShutdownTimeout.String())
	api.Drain()
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

// newLogger writes structured logs to w, JSON unless configured otherwise.
func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
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
