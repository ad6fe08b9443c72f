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
	"net/http/httptest"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/fortress-dev/fortress"
	"github.com/fortress-dev/fortress/config"
	"github.com/fortress-dev/fortress/httpapi"
	"github.com/fortress-dev/fortress/internal/bench"
	"github.com/fortress-dev/fortress/internal/migration"
	"github.com/fortress-dev/fortress/postgres"
	"github.com/fortress-dev/fortress/sqlite"
)

// The ceilings are what the machine allows for the work a scenario cannot avoid. They run in their
// own processes, pinned to the server's CPUs, and the same generator loads them, so a Fortress
// scenario and its ceiling differ only in what Fortress adds.

// healthBody is the same JSON Fortress answers on /health, encoded per request as Fortress does.
type healthBody struct {
	Status string `json:"status"`
}

// itemBody is the item JSON Fortress answers, field for field.
type itemBody struct {
	ID          int64   `json:"id"`
	Name        string  `json:"name"`
	Description *string `json:"description"`
	OwnerID     int64   `json:"owner_id"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encode", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

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
	return serveCeiling(ctx, *addr, healthCeiling(extra))
}

// healthCeiling is ceiling (a)'s handler; with extra headers, ceiling (a').
func healthCeiling(extra http.Header) http.Handler {
	health := func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		for k, v := range extra { // shared values, assigned as Fortress assigns its own: the cost is net/http writing them
			h[k] = v
		}
		writeJSON(w, http.StatusOK, healthBody{Status: "ok"})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", health)
	mux.HandleFunc("GET /readyz", health)
	return mux
}

// fortressHeaders are the headers Fortress's own /health answer carries (the security headers, the
// request id, Cache-Control), read from httpapi itself so that ceiling (a') follows any change to them.
// The request id is one fixed value: generating it is Fortress's work, not the header's.
func fortressHeaders(ctx context.Context) http.Header {
	api := httpapi.NewServer(httpapi.Config{Logger: slog.New(slog.DiscardHandler)})
	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1/health", nil))
	h := rec.Result().Header
	h.Del("Content-Type") // writeJSON sets these two itself
	h.Del("Content-Length")
	return h
}

// store is what the harness needs of an engine: the domain's services and migrations.
type store interface {
	fortress.UserService
	fortress.ItemService
	fortress.SessionService
	fortress.AuditService
	Migrate(ctx context.Context) ([]int64, error)
	MigrationStatus(ctx context.Context) (migration.Status, error)
	Ping(ctx context.Context) error
	Close() error
}

// openStore opens the engine the environment names exactly as cmd/fortress's openStore does: the
// same configuration, driver, DSN and pool.
func openStore(ctx context.Context, db config.Database) (store, error) {
	switch db.Engine {
	case config.EnginePostgres:
		return postgres.Open(ctx, db.URL.Reveal(), postgres.Options{MaxConns: int32(min(db.MaxConns, 1000))}) //nolint:gosec // bounded by config
	case config.EngineSQLite:
		return sqlite.Open(ctx, db.SQLitePath)
	}
	return nil, fmt.Errorf("unknown storage engine %q", db.Engine)
}

// serveItemCeiling is ceiling (b): net/http, the engine's one item query (FindItem: the same SQL,
// driver and pool as the server) and the JSON encoder. No token, no user lookup, no middleware.
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
	return serveCeiling(ctx, *addr, itemCeiling(s))
}

// itemCeiling is ceiling (b)'s handler on the engine s.
func itemCeiling(s store) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := s.Ping(r.Context()); err != nil {
			writeJSON(w, http.StatusServiceUnavailable, healthBody{Status: "unavailable"})
			return
		}
		writeJSON(w, http.StatusOK, healthBody{Status: "ok"})
	})
	mux.HandleFunc("GET /owners/{owner}/items/{id}", func(w http.ResponseWriter, r *http.Request) {
		owner, err1 := strconv.ParseInt(r.PathValue("owner"), 10, 64)
		id, err2 := strconv.ParseInt(r.PathValue("id"), 10, 64)
		if err1 != nil || err2 != nil {
			writeJSON(w, http.StatusUnprocessableEntity, healthBody{Status: "bad id"})
			return
		}
		it, err := s.FindItem(r.Context(), owner, id)
		switch {
		case fortress.ErrorCode(err) == fortress.ENOTFOUND:
			writeJSON(w, http.StatusNotFound, healthBody{Status: "not found"})
		case err != nil:
			writeJSON(w, http.StatusInternalServerError, healthBody{Status: "error"})
		default:
			writeJSON(w, http.StatusOK, itemBody{ID: it.ID, Name: it.Name, Description: it.Description, OwnerID: it.OwnerID})
		}
	})
	return mux
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
