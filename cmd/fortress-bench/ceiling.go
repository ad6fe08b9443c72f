package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/fortress-dev/fortress/config"
	"github.com/fortress-dev/fortress/httpapi"
	"github.com/fortress-dev/fortress/internal/bench"
	"github.com/fortress-dev/fortress/internal/ceiling"
	"github.com/fortress-dev/fortress/postgres"
	"github.com/fortress-dev/fortress/sqlite"
)

// The ceilings are what the machine allows for the work a scenario cannot avoid. Their handlers are in
// internal/ceiling (cmd/fortress's BenchmarkAPI runs them in process); here they run in their own
// processes, pinned to the server's CPUs, and the same generator loads them, so a Fortress scenario and
// its ceiling differ only in what Fortress adds.

// serveCeiling serves h on addr until ctx ends, with the server's timeouts.
func serveCeiling(ctx context.Context, addr string, h http.Handler) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

// serveHealthCeiling is ceiling (a): net/http and the JSON encoder, nothing else.
func serveHealthCeiling(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("ceiling-health", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8001", "listen address")
	withHeaders := fs.Bool("fortress-headers", false, "answer with Fortress's response headers too: ceiling (a'), what those headers cost net/http")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var extra http.Header
	if *withHeaders {
		extra = fortressHeaders(ctx)
	}
	return serveCeiling(ctx, *addr, ceiling.Health(extra))
}

// fortressHeaders are the headers Fortress's own /health answer carries (the security headers, the
// request id, Cache-Control), read from httpapi itself so that ceiling (a') follows any change to them.
func fortressHeaders(ctx context.Context) http.Header {
	return ceiling.ResponseHeaders(ctx, httpapi.NewServer(httpapi.Config{Logger: slog.New(slog.DiscardHandler)}))
}

// itemStore is what ceiling (b) needs of an engine: its item query, a ping for readiness, and closing.
type itemStore interface {
	ceiling.ItemStore
	Close() error
}

// openStore opens the engine the environment names as cmd/fortress's openStore (store.go) does: the
// same configuration, driver, DSN and pool, so that ceiling (b) runs the server's query on the server's
// pool. It is the one step of the server's wiring the harness repeats: a ceiling cannot be in the binary.
func openStore(ctx context.Context, db config.Database) (itemStore, error) {
	switch db.Engine {
	case config.EnginePostgres:
		return postgres.Open(ctx, db.URL.Reveal(), postgres.Options{MaxConns: int32(min(db.MaxConns, 1000))}) //nolint:gosec // bounded by config
	case config.EngineSQLite:
		return sqlite.Open(ctx, db.SQLitePath)
	}
	return nil, fmt.Errorf("unknown storage engine %q", db.Engine)
}

// serveItemCeiling serves ceiling (b) (ceiling.Item) on the engine the environment names.
func serveItemCeiling(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	fs := flag.NewFlagSet("ceiling-item", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8002", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	db, err := config.LoadDatabase(getenv)
	if err != nil {
		return err
	}
	s, err := openStore(ctx, db)
	if err != nil {
		return err
	}
	defer func() { _ = s.Close() }()
	return serveCeiling(ctx, *addr, ceiling.Item(s))
}

// runArgon2 is ceiling (c): Argon2id hashes per second with the given parameters, one goroutine per
// CPU this process may use (GOMAXPROCS follows the affinity taskset set), calling x/crypto directly.
func runArgon2(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("argon2", flag.ContinueOnError)
	fs.SetOutput(stderr)
	memory := fs.Uint("memory", 19456, "memory in KiB")
	passes := fs.Uint("time", 2, "passes")
	threads := fs.Uint("threads", 1, "lanes")
	duration := fs.Duration("duration", 3*time.Second, "how long to hash")
	cpus := fs.String("cpus", "", "the CPUs this process was pinned to, for the report")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *memory > 1<<22 || *passes > 100 || *threads < 1 || *threads > 255 || *memory < 8*(*threads) {
		return errors.New("argon2: parameters out of range")
	}
	res := argon2Ceiling(ctx, uint32(*memory), uint32(*passes), uint8(*threads), *duration)
	res.CPUs = *cpus
	return json.NewEncoder(stdout).Encode(res)
}

func argon2Ceiling(ctx context.Context, memory, passes uint32, threads uint8, d time.Duration) bench.Argon2Result {
	workers := runtime.GOMAXPROCS(0)
	password, salt := []byte("a benchmark password"), make([]byte, 16)
	_, _ = rand.Read(salt)
	argon2.IDKey(password, salt, passes, memory, threads, 32) // warm: the first hash pays for page faults
	var hashes atomic.Int64
	begin := time.Now()
	end := begin.Add(d)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for time.Now().Before(end) && ctx.Err() == nil {
				argon2.IDKey(password, salt, passes, memory, threads, 32)
				hashes.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(begin).Seconds()
	return bench.Argon2Result{MemoryKiB: memory, Time: passes, Threads: threads, Workers: workers,
		Hashes: hashes.Load(), Seconds: elapsed, PerSecond: float64(hashes.Load()) / elapsed}
}
