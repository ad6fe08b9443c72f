package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"time"

	"github.com/fortress-dev/fortress/metrics"
	"github.com/fortress-dev/fortress/postgres"
	"github.com/fortress-dev/fortress/sqlite"
)

// newMetrics builds the process's metrics: the build, and the pool of whichever engine s is.
func newMetrics(s store) *metrics.Metrics {
	b := metrics.Build{Version: "(devel)", GoVersion: runtime.Version()}
	if info, ok := debug.ReadBuildInfo(); ok {
		if info.Main.Version != "" {
			b.Version = info.Main.Version
		}
		for _, st := range info.Settings {
			if st.Key == "vcs.revision" {
				b.Revision = st.Value
			}
		}
	}
	m := metrics.New(b)
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

// serveMetrics serves GET /metrics on its own listener, never the API's, until ctx ends. It returns once
// the listener is open, so that a wrong address fails start-up.
func serveMetrics(ctx context.Context, addr string, m *metrics.Metrics, logger *slog.Logger) (stop func(), err error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("FORTRESS_METRICS_ADDR: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("metrics listener failed", "err", err)
		}
	}()
	logger.Info("metrics listening", "addr", ln.Addr().String(), "path", "/metrics")
	return func() {
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdownCtx)
		<-done
	}, nil
}

// readinessInterval is how often serve refreshes fortress_ready between probes.
const readinessInterval = 10 * time.Second

// watchReadiness keeps fortress_ready current even when nothing probes /readyz (a compose healthcheck
// on /health, say), so that the readiness alerts see the truth. It checks once before it returns, then
// every interval in the background until ctx ends; done is closed when the background work has stopped.
func watchReadiness(ctx context.Context, check func(context.Context) error, interval time.Duration) (done <-chan struct{}) {
	once := func() {
		checkCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_ = check(checkCtx) // the outcome goes to the metric; /readyz logs causes when it is asked
	}
	once()
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				once()
			}
		}
	}()
	return stopped
}
