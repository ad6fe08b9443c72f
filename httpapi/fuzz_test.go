package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzDecodeJSON feeds arbitrary bodies to the one JSON decoder: it must never panic, and it either
// accepts a body that passes every rule or answers with a 4xx problem.
func FuzzDecodeJSON(f *testing.F) {
	for _, seed := range []string{
		`{"name":"a"}`, `{"name":"a","description":null}`, `{"name":1}`, `[]`, `null`, `{"name":"a"}x`,
		`{"name":"a","name":"b"}`, `{"NAME":"a"}`, `{"name":"\u0000"}`, `{"name":"\ud800"}`, "{\"name\":\"\xff\"}",
		`{"email":"a@b.co","password":"123456789012"}`, `{"description":"` + strings.Repeat("x", 10001) + `"}`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, dst := range []func() any{
			func() any { return &itemCreateRequest{} },
			func() any { return &itemUpdateRequest{} },
			func() any { return &registerRequest{} },
		} {
			w := httptest.NewRecorder()
			r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
			r.Header.Set("Content-Type", "application/json")
			r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
			v := dst()
			seen, ok := decodeJSON(w, r, v)
			if ok {
				if errs := validateStruct(v, seen); len(errs) > 0 {
					t.Fatalf("accepted a body that breaks a rule: %q: %v", body, errs)
				}
				continue
			}
			if w.Code < 400 || w.Code > 499 {
				t.Fatalf("body %q: got status %d, want a 4xx", body, w.Code)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Fatalf("body %q: got content type %q", body, ct)
			}
		}
	})
}
