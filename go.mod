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
	// CORS, including preflights and Vary handling; only ever configured with an explicit origin list.
	github.com/rs/cors v1.11.1
	// Argon2id, from the Go project.
	golang.org/x/crypto v0.59.0
	// Pure-Go SQLite, so that CGO_ENABLED=0 static builds embed the default engine.
	modernc.org/sqlite v1.62.0
)

require (
	github.com/cespare/xxhash/v2 v2.3.0 // indirect
	github.com/dustin/go-humanize v1.1.0 // indirect
	github.com/google/uuid v1.6.0 // indirect
	github.com/jackc/pgpassfile v1.0.0 // indirect
	github.com/jackc/pgservicefile v0.0.0-20240606120523-5a60cdf6a761 // indirect
	github.com/jackc/puddle/v2 v2.2.3 // indirect
	github.com/mattn/go-isatty v0.0.24 // indirect
	github.com/mfridman/interpolate v0.0.2 // indirect
	github.com/ncruces/go-strftime v1.1.0 // indirect
	github.com/redis/go-redis/v9 v9.23.0 // indirect
	github.com/remyoudompheng/bigfft v0.0.0-20230129092748-24d4a6f8daec // indirect
	github.com/sethvargo/go-retry v0.5.0 // indirect
	go.uber.org/atomic v1.12.0 // indirect
	go.uber.org/multierr v1.11.0 // indirect
	golang.org/x/sync v0.25.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
	golang.org/x/text v0.44.0 // indirect
	modernc.org/libc v1.80.1 // indirect
	modernc.org/mathutil v1.7.1 // indirect
	modernc.org/memory v1.12.1 // indirect
)
