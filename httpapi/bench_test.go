package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

// BenchmarkItemGet measures one authenticated GET /items/{id} through the whole stack: every middleware,
// JWT verification, the user lookup and the item read on a real SQLite file.
func BenchmarkItemGet(b *testing.B) {
	e := newEnv(b)
	_, tok := e.user("bench@example.com")
	it := e.createItem(tok, "bench", ptr("an item to read"))
	path := "/items/" + strconv.FormatInt(it.ID, 10)
	auth := "Bearer " + tok
	b.ReportAllocs()
	for b.Loop() {
		r := httptest.NewRequest(http.MethodGet, path, nil)
		r.Header.Set("Authorization", auth)
		rec := httptest.NewRecorder()
		e.srv.ServeHTTP(rec, r)
		if rec.Code != http.StatusOK {
			b.Fatalf("status got %d, want 200", rec.Code)
		}
	}
}
