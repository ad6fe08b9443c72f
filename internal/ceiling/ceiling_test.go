package ceiling

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/fortress-dev/fortress"
)

// fakeItems holds one item of owner 1 and fails every query for owner 99.
type fakeItems struct{ pingErr error }

func (fakeItems) FindItem(_ context.Context, ownerID, id int64) (fortress.Item, error) {
	switch {
	case ownerID == 99:
		return fortress.Item{}, errors.New("driver: connection reset")
	case ownerID != 1 || id != 7:
		return fortress.Item{}, fortress.Errorf(fortress.ENOTFOUND, "Item not found")
	}
	return fortress.Item{ID: 7, OwnerID: 1, Name: "one"}, nil
}

func (f fakeItems) Ping(context.Context) error { return f.pingErr }

func get(h http.Handler, path string) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	return rec
}

func TestItemAnswersLikeFortress(t *testing.T) {
	h := Item(fakeItems{})
	for _, tc := range []struct {
		path   string
		status int
		body   string
	}{
		{"/owners/1/items/7", 200, `{"id":7,"name":"one","description":null,"owner_id":1}`},
		{"/owners/2/items/7", 404, `{"status":"not found"}`},
		{"/owners/x/items/7", 422, `{"status":"bad id"}`},
		{"/owners/99/items/7", 500, `{"status":"error"}`},
		{"/readyz", 200, `{"status":"ok"}`},
	} {
		rec := get(h, tc.path)
		if rec.Code != tc.status || rec.Body.String() != tc.body || rec.Header().Get("Content-Type") != "application/json" {
			t.Errorf("GET %s: got %d %s (%s), want %d %s as JSON", tc.path, rec.Code, rec.Body, rec.Header().Get("Content-Type"), tc.status, tc.body)
		}
	}
	if rec := get(Item(fakeItems{pingErr: errors.New("down")}), "/readyz"); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("GET /readyz with the database down: got %d, want 503", rec.Code)
	}
}

// Ceiling (a') sends the headers of the API it is given, so that its gap to (a) is the headers' cost alone.
func TestHealthWithResponseHeaders(t *testing.T) {
	api := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Content-Type", "application/problem+json")
		_, _ = w.Write([]byte(`{"status":"ok"}`))
	})
	want := ResponseHeaders(t.Context(), api)
	if want.Get("X-Frame-Options") != "DENY" || want.Get("Content-Type") != "" {
		t.Fatalf("ResponseHeaders got %v, want the API's headers without its body's", want)
	}
	for _, tc := range []struct {
		extra   http.Header
		xFrames string
	}{{nil, ""}, {want, "DENY"}} {
		rec := get(Health(tc.extra), "/health")
		if rec.Body.String() != `{"status":"ok"}` || rec.Header().Get("Content-Type") != "application/json" || rec.Header().Get("X-Frame-Options") != tc.xFrames {
			t.Errorf("Health(%v) answered %q %v, want Fortress's body with X-Frame-Options %q", tc.extra, rec.Body, rec.Header(), tc.xFrames)
		}
	}
}
