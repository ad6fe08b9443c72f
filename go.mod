module github.com/fortress-dev/fortress

go 1.26.8

// Every direct dependency is supply-chain surface and earns its place here:
require (
	// JWT signing and verification with the algorithm pinned by the verifier: JWT parsing is not
	// something to hand-roll.
	github.com/golang-jwt/jwt/v5 v5.3.1
	// The PostgreSQL driver and connection pool.
	github.com/jackc/pgx/v5 v5.12.0
	// Versioned SQL migrations from an embedded FS, serialized across replicas with a PostgreSQL
	// advisory lock.
	github.com/pressly/goose/v3 v3.29.0
	// The official Prometheus client: metrics on their own listener, in the exposition format every
	// monitoring stack reads. Its registry, collectors and text encoder are not worth rewriting.
	github.com/prometheus/client_golang v1.25.0
	// Redis client for rate-limit budgets shared between replicas (REDIS_URL); one Lua script.
	github.com/redis/go-redis/v9 v9.23.0
	// CORS, including preflights and Vary handling; only ever configured with an explicit origin list.
	github.com/rs/cors v1.11.1
	// Argon2id, from the Go project.
	golang.org/x/crypto v0.59.0
	// Pure-Go SQLite, so that CGO_ENABLED=0 static builds embed the default engine.
	modernc.org/sqlite v1.62.0
)

// Only in binaries built with `-tags otel` (cmd/fortress/tracing_otel.go): optional OpenTelemetry tracing
// over OTLP/HTTP. The exporter brings gRPC and protobuf (about 20 MB of binary), so the default build
// leaves it out; `securitytest.TestAPI10` checks the default binary links none of it.
require (
	go.opentelemetry.io/otel v1.47.0
	go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp v1.47.0
	go.opentelemetry.io/otel/sdk v1.47.0
	go.opentelemetry.io/otel/trace v1.47.0
)

require (
	github.com/beorn7/perks v1.0.1 // indirect
	github.com/cenkalti/backoff/v5 v5.0.3 // indirect
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/dustin/go-humanize v1.1.0 // indirect
	github.com/go-logr/logr v1.4.4 // indirect
	github.com/go-logr/stdr v1.2.2 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/grpc-ecosystem/grpc-gateway/v2 v2.30.0 // indirect
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/jackc/puddle/v2 v2.2.3 // indirect
	github.com/mattn/go-isatty v0.0.24 // indirect
	github.com/mfridman/interpolate v0.0.2 // indirect
	github.com/munnerz/goautoneg v0.0.0-20191010083416-a7dc8b61c822 // indirect
	github.com/ncruces/go-strftime v1.1.0 // indirect
	github.com/prometheus/client_model v0.6.3 // indirect
	github.com/prometheus/common v0.72.0 // indirect
	github.com/prometheus/procfs v0.22.0 // indirect
	github.com/remyoudompheng/bigfft v0.0.0-20230129092748-24d4a6f8daec // indirect
	github.com/sethvargo/go-retry v0.5.0 // indirect
	go.opentelemetry.io/auto/sdk v1.2.1 // indirect
	go.opentelemetry.io/otel/exporters/otlp/otlptrace v1.47.0 // indirect
	go.opentelemetry.io/otel/log v1.47.0 // indirect
	go.opentelemetry.io/otel/metric v1.47.0 // indirect
	go.opentelemetry.io/proto/otlp v1.11.0 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	go.uber.org/multierr v1.11.0 // indirect
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/sync v0.25.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
	golang.org/x/text v0.44.0 // indirect
	google.golang.org/genproto/googleapis/api v0.0.0-20261005182115-fad411399dd8 // indirect
	google.golang.org/genproto/googleapis/rpc v0.0.0-20261005182115-fad411399dd8 // indirect
	google.golang.org/grpc v1.84.0 // indirect
	google.golang.org/protobuf v1.36.12 // indirect
	modernc.org/libc v1.80.1 // indirect
	modernc.org/mathutil v1.7.1 // indirect
	modernc.org/memory v1.12.1 // indirect
)
