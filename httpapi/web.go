package httpapi

import (
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// healthResponse is the body of GET /health (the original's) and of a ready GET /readyz.
type healthResponse struct {
	Status string `json:"status"`
}

// handleHealth answers liveness: the process serves HTTP. It checks nothing else, so that a slow
// database never makes an orchestrator restart healthy processes.
func handleHealth(log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, r, log, http.StatusOK, healthResponse{Status: "ok"})
	})
}

// errDraining is the readiness of an instance that is shutting down.
var errDraining = errors.New("shutting down")

// CheckReady runs the readiness check of GET /readyz and reports its outcome to the Observer, for a
// process that keeps the readiness metric current between probes.
func (s *Server) CheckReady(ctx context.Context) error {
	err := errDraining
	if !s.draining.Load() {
		err = s.cfg.Ready(ctx)
	}
	s.cfg.Observer.Ready(err == nil)
	return err
}

// handleReady answers readiness: 200 only when the database answers with a current schema and the
// process is not shutting down. The cause of a failure goes to the log, never into the response.
func handleReady(log *slog.Logger, obs Observer, ready func(context.Context) error, draining func() bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if draining() {
			obs.Ready(false)
			w.Header().Set("Retry-After", "1")
			writeProblem(w, r, http.StatusServiceUnavailable, "The service is shutting down.")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := ready(ctx); err != nil {
			obs.Ready(false)
			log.WarnContext(r.Context(), "not ready", "err", err)
			w.Header().Set("Retry-After", "1")
			writeProblem(w, r, http.StatusServiceUnavailable, "The service is not ready.")
			return
		}
		obs.Ready(true)
		writeJSON(w, r, log, http.StatusOK, healthResponse{Status: "ready"})
	})
}

// handleFile serves one file of the embedded UI.
func handleFile(files fs.FS, name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.ServeFileFS(w, r, files, name)
	})
}

// handleStatic serves the UI's assets. Directory listings are refused: only files are published.
func handleStatic(files fs.FS) http.Handler {
	fileServer := http.FileServerFS(files)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/")
		if st, err := fs.Stat(files, name); err != nil || st.IsDir() {
			writeProblem(w, r, http.StatusNotFound, "Not Found")
			return
		}
		fileServer.ServeHTTP(w, r)
	})
}

// handleJWKS publishes the public keys that verify access tokens, so that other services can verify
// them without sharing a secret. Public keys may be cached briefly.
func handleJWKS(doc []byte) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Header().Set("Cache-Control", "public, max-age=300")
		_, _ = w.Write(doc)
	})
}

// serveOpenAPI serves the OpenAPI document that NewServer built from the routes.
func (s *Server) serveOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(s.openapi)
}
