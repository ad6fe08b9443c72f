//go:build !otel

package main

import "testing"

// TestTracingNotBuiltIn: a binary without tracing says so when an endpoint is configured, and serves.
func TestTracingNotBuiltIn(t *testing.T) {
	vars := baseEnv(t)
	vars["OTEL_EXPORTER_OTLP_ENDPOINT"] = "http://127.0.0.1:4318"
	s := startServe(t, vars)
	s.log.waitFor(t, "an OTLP endpoint is configured, but this binary was built without tracing: build with -tags otel")
	call(t, "GET", s.base+"/health", "", "", "", nil)
}
