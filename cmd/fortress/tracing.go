//go:build !otel

package main

import (
	"context"
	"log/slog"
	"net/http"
)

// newTracing is the tracing of a binary built without OpenTelemetry (the default: the OTLP exporter
// brings gRPC and protobuf, some 20 MB, into a binary that most deployments never ask to trace). Build
// with `-tags otel` for tracing; an endpoint configured for this binary is reported, not ignored.
func newTracing(_ context.Context, getenv func(string) string, _ string, logger *slog.Logger) (func(http.Handler) http.Handler, func(context.Context) error, error) {
	if otlpEndpoint(getenv) != "" {
		logger.Warn("an OTLP endpoint is configured, but this binary was built without tracing: build with -tags otel")
	}
	return func(h http.Handler) http.Handler { return h }, func(context.Context) error { return nil }, nil
}
