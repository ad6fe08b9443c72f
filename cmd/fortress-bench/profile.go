package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/fortress-dev/fortress/clientip"
	"github.com/fortress-dev/fortress/config"
	"github.com/fortress-dev/fortress/httpapi"
	"github.com/fortress-dev/fortress/internal/bench"
	"github.com/fortress-dev/fortress/password"
	"github.com/fortress-dev/fortress/ratelimit"
	"github.com/fortress-dev/fortress/token"
)

// The release binary has no profiling endpoint, on purpose. To see where a scenario's time goes, the
// profile subcommand runs it against serve-profiled: the same packages (httpapi, the engines, password,
// token, ratelimit) wired as cmd/fortress's serve.go wires them, under a CPU profile, behind the same
// net/http server settings, pinned and loaded exactly as in the benchmark.

// runProfile runs scenarios against serve-profiled on one engine and leaves a CPU profile per run.
func runProfile(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var o options
	fs := flag.NewFlagSet("fortress-bench profile", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o.register(fs, getenv)
	out := fs.String("cpuprofile", "bin/profile-ENGINE.prof", "where to write the CPU profile (ENGINE is replaced)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.engines == nil {
		o.engines = []string{"sqlite"}
	}
	if o.scenarios == nil {
		o.scenarios = []string{bench.ScenarioItemGet}
	}
	if err := o.validate(); err != nil {
		return err
	}
	h, err := newHarness(o, getenv, stderr)
	if err != nil {
		return err
	}
	for _, engine := range o.engines {
		path, err := filepath.Abs(strings.ReplaceAll(*out, "ENGINE", engine))
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
			return err
		}
		h.serverArgv = func(string) []string { return []string{h.self, "serve-profiled", "-cpuprofile", path} }
		e, err := h.engine(ctx, engine, false)
		if err != nil {
			return fmt.Errorf("%s: %w", engine, err)
		}
		h.report.Engines = append(h.report.Engines, e)
		if e.Skipped == "" {
			fmt.Fprintf(stdout, "%s: CPU profile in %s\n  go tool pprof -top -cum %s\n", engine, path, path)
		}
	}
	h.report.WriteTable(stdout)
	return nil
}

// serveProfiled serves the API as `fortress serve` does, from the same environment, and writes a CPU
// profile of the whole process when it is told to stop.
func serveProfiled(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) (err error) {
	fs := flag.NewFlagSet("serve-profiled", flag.ContinueOnError)
	fs.SetOutput(stderr)
	profile := fs.String("cpuprofile", "", "where to write the CPU profile")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *profile == "" {
		return errors.New("serve-profiled: -cpuprofile is required")
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: cfg.LogLevel}))
	s, err := openStore(ctx, cfg.Database())
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, s.Close()) }()
	if cfg.AutoMigrate {
		if _, err := s.Migrate(ctx); err != nil {
			return err
		}
	}
	hasher, err := password.NewHasher(password.Params{MemoryKiB: cfg.Argon2MemoryKiB, Time: cfg.Argon2Time, Threads: cfg.Argon2Threads})
	if err != nil {
		return err
	}
	clients, err := clientip.New(cfg.TrustedProxies)
	if err != nil {
		return err
	}
	tokens, err := token.NewManager(token.Config{Secret: []byte(cfg.JWTSecret.Reveal()), Issuer: cfg.JWTIssuer,
		Audience: cfg.JWTAudience, TTL: cfg.AccessTokenTTL})
	if err != nil {
		return err
	}
	policy := func(name string, r config.Rate) ratelimit.Policy {
		return ratelimit.Policy{Name: name, Limit: r.Limit, Window: r.Window}
	}
	api := httpapi.NewServer(httpapi.Config{
		Logger:    logger,
		Users:     s,
		Items:     s,
		Passwords: password.NewGuarded(hasher, password.NewGate(cfg.HashConcurrency, cfg.HashQueue, cfg.HashWait)),
		Tokens:    tokens,
		TokenTTL:  cfg.AccessTokenTTL,
		Ready: func(ctx context.Context) error {
			st, err := s.MigrationStatus(ctx)
			if err == nil && st.Pending() {
				err = errors.New("schema behind the binary")
			}
			return errors.Join(s.Ping(ctx), err)
		},
		Clients:       clients,
		AllowedHosts:  cfg.AllowedHosts,
		CORSOrigins:   cfg.CORSOrigins,
		MaxBodyBytes:  cfg.MaxBodyBytes,
		HTTPSRedirect: cfg.HTTPSRedirect,
		Limiter:       ratelimit.NewMemory(100_000),
		RateLimit:     policy("default", cfg.RateLimit),
		LoginLimit:    policy("login", cfg.LoginRateLimit),
		RegisterLimit: policy("register", cfg.RegisterRateLimit),
		LoginLockout:  ratelimit.Policy{Name: "login-failures", Limit: cfg.LoginFailuresMax, Window: cfg.LoginLockout},
		Version:       "profiled",
	})

	f, err := os.Create(*profile)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	defer pprof.StopCPUProfile()

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:                      api,
		ReadHeaderTimeout:            cfg.ReadHeaderTimeout,
		ReadTimeout:                  cfg.ReadTimeout,
		WriteTimeout:                 cfg.WriteTimeout,
		IdleTimeout:                  cfg.IdleTimeout,
		MaxHeaderBytes:               64 << 10,
		DisableGeneralOptionsHandler: true,
		ErrorLog:                     slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}
