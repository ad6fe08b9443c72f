package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/fortress-dev/fortress/config"
	"github.com/fortress-dev/fortress/internal/bench"
	"github.com/fortress-dev/fortress/internal/ceiling"
	"github.com/fortress-dev/fortress/internal/pgtest"
)

// discardWriter is a ResponseWriter that costs what net/http's does around a handler: a fresh header map
// per response, and the headers written out (sorted, as net/http writes them) when the answer starts.
type discardWriter struct {
	header http.Header
	status int
}

func (d *discardWriter) Header() http.Header { return d.header }
func (d *discardWriter) WriteHeader(code int) {
	if d.status == 0 {
		d.status = code
		_ = d.header.Write(io.Discard)
	}
}
func (d *discardWriter) Write(b []byte) (int, error) {
	d.WriteHeader(http.StatusOK)
	return len(b), nil
}

// benchAPI is the API as `fortress serve` builds it (buildAPI) in the harness's configuration, on one
// engine, with one seeded user: its token and an item.
func benchAPI(b *testing.B, engine string) (f *fortressAPI, token string, userID, itemID int64) {
	b.Helper()
	vars := map[string]string{"JWT_SECRET_KEY": testSecret, "FORTRESS_ADDR": "127.0.0.1:0", "AUTO_MIGRATE": "true"}
	for _, kv := range bench.ServerSettings() { // the load harness's configuration
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	switch engine {
	case "sqlite":
		vars["DATABASE_URL"] = "sqlite:" + filepath.Join(b.TempDir(), "fortress.db")
	case "postgres":
		vars["DATABASE_URL"] = pgtest.NewDatabase(b)
	}
	cfg, err := config.Load(env(vars))
	if err != nil {
		b.Fatal(err)
	}
	f, err = buildAPI(b.Context(), cfg, newLogger(cfg, io.Discard))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(f.close)
	call := func(method, path, contentType, token, body string, want int, out any) {
		r := httptest.NewRequest(method, "http://127.0.0.1:8000"+path, strings.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		if token != "" {
			r.Header.Set("Authorization", "Bearer "+token)
		}
		w := httptest.NewRecorder()
		f.api.ServeHTTP(w, r)
		if w.Code != want {
			b.Fatalf("%s %s: status %d, want %d: %s", method, path, w.Code, want, w.Body)
		}
		if err := json.Unmarshal(w.Body.Bytes(), out); err != nil {
			b.Fatal(err)
		}
	}
	const password = "a benchmark passphrase, long enough"
	var user struct{ ID int64 }
	call("POST", "/auth/register", "application/json", "", `{"email":"bench@example.com","password":"`+password+`"}`, 201, &user)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	call("POST", "/auth/login", "application/x-www-form-urlencoded", "", url.Values{"username": {"bench@example.com"}, "password": {password}}.Encode(), 200, &tok)
	var it struct{ ID int64 }
	call("POST", "/items", "application/json", tok.AccessToken, `{"name":"bench","description":"an item to read"}`, 201, &it)
	return f, tok.AccessToken, user.ID, it.ID
}

// serveDiscard answers one GET through h and fails the benchmark unless it is a 200. It is never inlined,
// so that `valgrind --tool=callgrind --toggle-collect='*serveDiscard'` can count the instructions of the
// requests alone (docs/performance.md).
//
//go:noinline
func serveDiscard(b *testing.B, h http.Handler, path, auth string) {
	r := httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8000"+path, nil)
	if auth != "" {
		r.Header.Set("Authorization", auth)
	}
	w := &discardWriter{header: http.Header{}}
	h.ServeHTTP(w, r)
	if w.status != http.StatusOK {
		b.Fatalf("GET %s: status %d, want 200", path, w.status)
	}
}

// BenchmarkAPI is one request through the whole server as `fortress serve` wires it (buildAPI: metrics
// observer, redacting logger at warn, rate limits off: the harness's configuration), in process, next to
// the ceilings' handlers on the same engine: the handler's own CPU and allocations, without the sockets,
// which the ceilings pay too. make microbench runs it; docs/performance.md counts its instructions.
func BenchmarkAPI(b *testing.B) {
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			f, token, userID, itemID := benchAPI(b, engine)
			auth := "Bearer " + token
			itemPath := "/items/" + strconv.FormatInt(itemID, 10)
			for _, tc := range []struct {
				name, path, auth string
				h                http.Handler
			}{
				{"health", "/health", "", f.api},
				{"item-get", itemPath, auth, f.api},
				// The ceilings' handlers, on the same engine: the in-process ratio of the harness's (a) and (b).
				{"ceiling-a", "/health", "", ceiling.Health(nil)},
				{"ceiling-a-headers", "/health", "", ceiling.Health(ceiling.ResponseHeaders(b.Context(), f.api))},
				{"ceiling-b", "/owners/" + strconv.FormatInt(userID, 10) + itemPath, "", ceiling.Item(f.store)},
			} {
				b.Run(tc.name, func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						serveDiscard(b, tc.h, tc.path, tc.auth)
					}
				})
			}
		})
	}
}
