//go:build otel

package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.26.0"
	"go.opentelemetry.io/otel/trace"
)

// newTracing exports one server span per request over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT (or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set; otherwise it changes nothing. A trusted caller's W3C
// traceparent continues its trace. Spans carry the method, path, status and client-visible request id,
// never headers or bodies. The exporter's other settings come from the standard OTEL_* variables.
func newTracing(ctx context.Context, getenv func(string) string, version string, logger *slog.Logger) (func(http.Handler) http.Handler, func(context.Context) error, error) {
	endpoint := otlpEndpoint(getenv)
	if endpoint == "" {
		return func(h http.Handler) http.Handler { return h }, func(context.Context) error { return nil }, nil
	}
	if !strings.Contains(endpoint, "://") {
		return nil, nil, fmt.Errorf("OTEL_EXPORTER_OTLP_ENDPOINT: must be a URL such as http://collector:4318 (got %q)", endpoint)
	}
	url := strings.TrimSuffix(endpoint, "/")
	if getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
		url += "/v1/traces" // the base endpoint names the collector; traces go to its signal path
	}
	exporter, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(url))
	if err != nil {
		return nil, nil, fmt.Errorf("OTLP exporter: %w", err)
	}
	provider := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exporter),
		sdktrace.WithResource(resource.NewWithAttributes(semconv.SchemaURL,
			semconv.ServiceName("fortress"), semconv.ServiceVersion(version))),
	)
	tracer := provider.Tracer("github.com/fortress-dev/fortress")
	propagator := propagation.TraceContext{}
	logger.Info("tracing", "otlp_endpoint", url)

	wrap := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			ctx := propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
			ctx, span := tracer.Start(ctx, "HTTP "+r.Method, trace.WithSpanKind(trace.SpanKindServer),
				trace.WithAttributes(semconv.HTTPRequestMethodKey.String(r.Method), semconv.URLPath(truncatePath(r.URL.Path))))
			defer span.End()
			rec := &spanStatus{ResponseWriter: w, status: http.StatusOK}
			next.ServeHTTP(rec, r.WithContext(ctx))
			span.SetAttributes(semconv.HTTPResponseStatusCode(rec.status),
				attribute.String("fortress.request_id", w.Header().Get("X-Request-ID")))
			if rec.status >= 500 {
				span.SetStatus(codes.Error, http.StatusText(rec.status))
			}
		})
	}
	return wrap, provider.Shutdown, nil
}

// spanStatus keeps the status of the answer for the span.
type spanStatus struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *spanStatus) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *spanStatus) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *spanStatus) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// truncatePath bounds what a span records of a path.
func truncatePath(p string) string {
	if len(p) > 256 {
		return p[:256]
	}
	return p
}
