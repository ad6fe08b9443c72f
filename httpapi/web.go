package httpapi

import (
	"context"
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

// handleReady answers readiness: 200 only when the database answers with a current schema and the
// process is not shutting down. The cause of a failure goes to the log, never into the response.
func handleReady(log *slog.Logger, ready func(context.Context) error, draining func() bool) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if draining() {
			w.Header().Set("Retry-After", "1")
			writeProblem(w, r, http.StatusServiceUnavailable, "The service is shutting down.")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if err := ready(ctx); err != nil {
			log.WarnContext(r.Context(), "not ready", "err", err)
			w.Header().Set("Retry-After", "1")
			writeProblem(w, r, http.StatusServiceUnavailable, "The service is not ready.")
			return
		}
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
