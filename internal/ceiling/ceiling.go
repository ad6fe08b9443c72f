// Package ceiling holds the handlers of the load harness's ceilings: bare net/http doing only the work a
// Fortress scenario cannot avoid, so that a scenario and its ceiling differ only in what Fortress adds.
// cmd/fortress-bench serves them as processes of their own (docs/performance.md), and the in-process
// benchmark of the real server (cmd/fortress's BenchmarkAPI) runs them next to it. It imports the domain
// only: an engine comes in as an ItemStore, opened by whoever serves the ceiling.
package ceiling

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"

	"github.com/fortress-dev/fortress"
)

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

// Health is ceiling (a): net/http and the JSON encoder answering GET /health and /readyz, nothing else.
// With extra headers (ResponseHeaders of Fortress's API) it is ceiling (a'), which tells what writing
// those headers costs net/http.
func Health(extra http.Header) http.Handler {
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

// ResponseHeaders are the headers api sends with its /health answer (for Fortress: the security headers,
// the request id, Cache-Control), read from the handler itself so that ceiling (a') follows any change to
// them. The request id is one fixed value: generating it is Fortress's work, not the header's. The body's
// own headers are left out: Health writes those itself.
func ResponseHeaders(ctx context.Context, api http.Handler) http.Header {
	rec := httptest.NewRecorder()
	api.ServeHTTP(rec, httptest.NewRequestWithContext(ctx, http.MethodGet, "http://127.0.0.1/health", nil))
	h := rec.Result().Header
	h.Del("Content-Type")
	h.Del("Content-Length")
	return h
}

// ItemStore is what ceiling (b) needs of an engine: its one item query, and a ping for readiness.
type ItemStore interface {
	FindItem(ctx context.Context, ownerID, id int64) (fortress.Item, error)
	Ping(ctx context.Context) error
}

// Item is ceiling (b): net/http, the engine's one item query (FindItem: the same SQL, driver and pool as
// the server, when s is opened as the server opens it) and the JSON encoder. No token, no user lookup, no
// middleware: the owner is part of the path, GET /owners/{owner}/items/{id}.
func Item(s ItemStore) http.Handler {
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
