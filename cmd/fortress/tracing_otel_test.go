//go:build otel

package main

import (
	"bytes"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// TestTracingExportsSpans: with an OTLP endpoint configured, each request becomes a span exported over
// OTLP/HTTP, continuing the caller's W3C trace; the last spans are flushed at shutdown.
func TestTracingExportsSpans(t *testing.T) {
	var mu sync.Mutex
	var bodies [][]byte
	var contentTypes []string
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		if r.URL.Path == "/v1/traces" {
			bodies = append(bodies, b)
			contentTypes = append(contentTypes, r.Header.Get("Content-Type"))
		}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer collector.Close()

	vars := baseEnv(t)
	vars["OTEL_EXPORTER_OTLP_ENDPOINT"] = collector.URL
	s := startServe(t, vars)
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	req, _ := http.NewRequest(http.MethodGet, s.base+"/health", nil)
	req.Header.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err := s.stop(t); err != nil {
		t.Fatalf("serve: %v", err)
	}

	want, _ := hex.DecodeString(traceID)
	mu.Lock()
	defer mu.Unlock()
	found := false
	for i, b := range bodies {
		if contentTypes[i] != "application/x-protobuf" {
			t.Errorf("export %d: Content-Type %q, want application/x-protobuf", i, contentTypes[i])
		}
		found = found || bytes.Contains(b, want) && bytes.Contains(b, []byte("HTTP GET")) && bytes.Contains(b, []byte("fortress"))
	}
	if !found {
		t.Fatalf("collector got %d exports, none with a span of trace %s named HTTP GET from service fortress", len(bodies), traceID)
	}
}
