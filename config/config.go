// Package config is Fortress's configuration as a value: Load reads it once from a getenv function,
// applies defaults, reads _FILE secrets, validates every variable and refuses development shortcuts in
// production. Nothing here is global, so tests build any configuration they need without touching the
// process environment.
package config

import (
	"runtime"

	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// PlaceholderJWTSecret is the value .env.example ships. It is public, so production refuses it.
const PlaceholderJWTSecret = "change-me-to-a-long-random-string-at-least-32-bytes"

// MinJWTSecretBytes is the shortest JWT signing key accepted: HS256 keys shorter than the hash output
// (RFC 7518 §3.2) can be brute-forced from a single token.
const MinJWTSecretBytes = 32

// Environments Fortress knows. Production refuses the conveniences development allows.
const (
	EnvDevelopment = "development"
	EnvProduction  = "production"
)

// DefaultSQLitePath is where Fortress keeps its data when DATABASE_URL is not set, so that a first run
// needs no configuration at all.
const DefaultSQLitePath = "./fortress.db"

// Argon2MemoryKiBProductionMin is OWASP's minimum Argon2id memory (19 MiB) for one iteration pass of
// two; production refuses less, development may go lower for fast tests.
const Argon2MemoryKiBProductionMin = 19456

// Engine names the database Fortress stores its data in; the engine decides which adapter cmd/fortress
// wires and whether migrations run by default.
type Engine string

// The engines DATABASE_URL can select.
const (
	EngineSQLite   Engine = "sqlite"
	EnginePostgres Engine = "postgres"
)

// Config is everything Fortress needs to know about its environment, read once at start-up by Load and
// passed down as a value. Fields that hold secrets are Secrets, so printing a Config never shows them.
type Config struct {
	Env                string        // FORTRESS_ENV: "development" (default) or "production"
	Addr               string        // FORTRESS_ADDR: host:port to listen on
	MetricsAddr        string        // FORTRESS_METRICS_ADDR: host:port of the Prometheus listener; empty: no metrics
	Engine             Engine        // derived from DATABASE_URL
	DatabaseURL        Secret        // DATABASE_URL: may hold a password
	SQLitePath         string        // the database file when Engine is sqlite
	JWTSecret          Secret        // JWT_SECRET_KEY: the HMAC key, at least 32 bytes; signs unless JWTSigningKeyFile is set
	JWTSecretGenerated bool          // true when development generated a random key for this run
	JWTPreviousSecrets []Secret      // JWT_PREVIOUS_SECRET_KEYS: retired HMAC keys that still verify tokens
	JWTSigningKeyFile  string        // FORTRESS_JWT_SIGNING_KEY_FILE: Ed25519 private key (PEM); tokens are then signed with EdDSA
	JWTVerifyKeyFiles  []string      // FORTRESS_JWT_VERIFY_KEY_FILES: Ed25519 public keys (PEM) that still verify tokens
	JWTIssuer          string        // FORTRESS_JWT_ISSUER: the iss claim issued and required
	JWTAudience        string        // FORTRESS_JWT_AUDIENCE: the aud claim issued and required
	AccessTokenTTL     time.Duration // FORTRESS_ACCESS_TOKEN_TTL: lifetime of an access token
	SessionLifetime    time.Duration // FORTRESS_SESSION_LIFETIME: a session's absolute lifetime from its login
	SessionIdle        time.Duration // FORTRESS_SESSION_IDLE: a session ends when unrefreshed this long
	AllowedHosts       []string      // ALLOWED_HOSTS: lower-case host names, "*.suffix" wildcards, or "*"
	CORSOrigins        []string      // CORS_ORIGINS: normalized origins allowed cross-origin access
	AutoMigrate        bool          // AUTO_MIGRATE: apply migrations at start-up
	HTTPSRedirect      bool          // ENABLE_HTTPS_REDIRECT: redirect plain HTTP to HTTPS
	MaxBodyBytes       int64         // FORTRESS_MAX_BODY_BYTES: the largest request body read
	ShutdownTimeout    time.Duration // FORTRESS_SHUTDOWN_TIMEOUT: grace period for in-flight requests
	ShutdownDelay      time.Duration // FORTRESS_SHUTDOWN_DELAY: keep serving, unready, this long after SIGTERM
	LogLevel           slog.Level    // FORTRESS_LOG_LEVEL
	LogFormat          string        // FORTRESS_LOG_FORMAT: "json" or "text"
	Argon2MemoryKiB    uint32        // FORTRESS_ARGON2_MEMORY_KIB
	Argon2Time         uint32        // FORTRESS_ARGON2_TIME: passes over the memory
	Argon2Threads      uint8         // FORTRESS_ARGON2_THREADS
	DBMaxConns         int           // FORTRESS_DB_MAX_CONNS: connection pool size

	TrustedProxies []string // FORTRESS_TRUSTED_PROXIES: CIDR ranges whose forwarding headers are believed
	TLSCertFile    string   // FORTRESS_TLS_CERT_FILE: serve HTTPS natively with this certificate chain...
	TLSKeyFile     string   // FORTRESS_TLS_KEY_FILE: ...and this key
	RedisURL       Secret   // REDIS_URL: share rate-limit budgets between replicas; empty = in-process

	RateLimit         Rate // FORTRESS_RATE_LIMIT: per client, every route
	LoginRateLimit    Rate // FORTRESS_LOGIN_RATE_LIMIT: per client, POST /auth/login
	RegisterRateLimit Rate // FORTRESS_REGISTER_RATE_LIMIT: per client, POST /auth/register

	LoginFailuresMax int           // FORTRESS_LOGIN_FAILURES_MAX: consecutive failures before an email is locked
	LoginLockout     time.Duration // FORTRESS_LOGIN_LOCKOUT: how long an email stays locked after the failures

	HashConcurrency int           // FORTRESS_HASH_CONCURRENCY: Argon2id computations at once (default: CPUs)
	HashQueue       int           // FORTRESS_HASH_QUEUE: how many more may wait for a slot
	HashWait        time.Duration // FORTRESS_HASH_WAIT: how long one may wait before a 503

	ReadHeaderTimeout time.Duration // FORTRESS_READ_HEADER_TIMEOUT: cuts off slow-header (Slowloris) clients
	ReadTimeout       time.Duration // FORTRESS_READ_TIMEOUT: cuts off slow-body clients
	WriteTimeout      time.Duration // FORTRESS_WRITE_TIMEOUT
	IdleTimeout       time.Duration // FORTRESS_IDLE_TIMEOUT: keep-alive connections

	Warnings []string // to be logged at start-up; never contain secret values
}

// Production reports whether Fortress runs in production, where development conveniences are refused.
func (c Config) Production() bool { return c.Env == EnvProduction }

// Load reads the configuration through getenv (os.Getenv in main, a map in tests; nil is an empty
// environment). It returns every problem it finds, one line each in the form "NAME: what is wrong", so
// that an operator fixes them all in one go; no line ever contains a secret's value.
func Load(getenv func(string) string) (Config, error) {
	if getenv == nil {
		getenv = emptyEnv
	}
	l := &loader{getenv: getenv}
	var c Config

	c.Env = l.oneOf("FORTRESS_ENV", EnvDevelopment, EnvDevelopment, EnvProduction)
	prod := c.Env == EnvProduction
	c.Addr = l.addr("FORTRESS_ADDR", "127.0.0.1:8000")
	c.MetricsAddr = l.addr("FORTRESS_METRICS_ADDR", "")
	if c.MetricsAddr != "" && c.MetricsAddr == c.Addr && !strings.HasSuffix(c.Addr, ":0") { // port 0: two ephemeral ports
		l.fail("FORTRESS_METRICS_ADDR", "must differ from FORTRESS_ADDR: metrics are never served on the public port")
	}

	secrets := make(map[string]Secret, len(secretVariables))
	for _, name := range secretVariables {
		s, err := LookupSecret(getenv, name)
		if err != nil {
			l.errs = append(l.errs, err)
		}
		secrets[name] = s
	}

	c.DatabaseURL = secrets["DATABASE_URL"]
	c.Engine, c.SQLitePath = l.database("DATABASE_URL", c.DatabaseURL)
	c.JWTSigningKeyFile = l.text("FORTRESS_JWT_SIGNING_KEY_FILE", "")
	c.JWTVerifyKeyFiles = l.paths("FORTRESS_JWT_VERIFY_KEY_FILES")
	c.JWTSecret, c.JWTSecretGenerated = l.jwtSecret("JWT_SECRET_KEY", secrets["JWT_SECRET_KEY"], prod, c.JWTSigningKeyFile != "")
	c.JWTPreviousSecrets = l.previousSecrets("JWT_PREVIOUS_SECRET_KEYS", secrets["JWT_PREVIOUS_SECRET_KEYS"], prod, c.JWTSecret)

	c.JWTIssuer = l.text("FORTRESS_JWT_ISSUER", "fortress")
	c.JWTAudience = l.text("FORTRESS_JWT_AUDIENCE", "fortress-api")
	c.AccessTokenTTL = l.duration("FORTRESS_ACCESS_TOKEN_TTL", 15*time.Minute, time.Minute, 24*time.Hour)
	c.SessionLifetime = l.duration("FORTRESS_SESSION_LIFETIME", 30*24*time.Hour, 5*time.Minute, 366*24*time.Hour)
	c.SessionIdle = l.duration("FORTRESS_SESSION_IDLE", 7*24*time.Hour, 5*time.Minute, 366*24*time.Hour)
	// A session idle for less than an access token lives would end while its token still works; the
	// per-request check does not look at idleness, so the idle timeout must be the longer.
	if c.SessionIdle < c.AccessTokenTTL || c.SessionIdle > c.SessionLifetime {
		l.errs = append(l.errs, fmt.Errorf("FORTRESS_SESSION_IDLE: must be between FORTRESS_ACCESS_TOKEN_TTL (%s) and FORTRESS_SESSION_LIFETIME (%s) (got %s)",
			c.AccessTokenTTL, c.SessionLifetime, c.SessionIdle))
	}
	c.AllowedHosts = l.hosts("ALLOWED_HOSTS", []string{"localhost", "127.0.0.1", "::1"})
	if prod && slices.Contains(c.AllowedHosts, "*") {
		c.Warnings = append(c.Warnings, `ALLOWED_HOSTS contains "*": the Host header is not checked`)
	}
	c.CORSOrigins = l.origins("CORS_ORIGINS")
	c.AutoMigrate = l.boolean("AUTO_MIGRATE", c.Engine == EngineSQLite)
	c.HTTPSRedirect = l.boolean("ENABLE_HTTPS_REDIRECT", false)
	c.MaxBodyBytes = l.integer("FORTRESS_MAX_BODY_BYTES", 1<<20, 1<<10, 64<<20)
	c.ShutdownTimeout = l.duration("FORTRESS_SHUTDOWN_TIMEOUT", 15*time.Second, time.Second, 5*time.Minute)
	c.ShutdownDelay = l.duration("FORTRESS_SHUTDOWN_DELAY", 0, 0, time.Minute)
	c.LogLevel = l.logLevel("FORTRESS_LOG_LEVEL")
	c.LogFormat = l.oneOf("FORTRESS_LOG_FORMAT", "json", "json", "text")
	c.Argon2MemoryKiB = uint32(l.integer("FORTRESS_ARGON2_MEMORY_KIB", Argon2MemoryKiBProductionMin, 8192, 1<<20)) //nolint:gosec // G115: integer returns the default or a value in [8192, 1<<20], which fits uint32
	if prod && c.Argon2MemoryKiB < Argon2MemoryKiBProductionMin {
		l.fail("FORTRESS_ARGON2_MEMORY_KIB", "must be at least %d in production (got %d)",
			Argon2MemoryKiBProductionMin, c.Argon2MemoryKiB)
	}
	c.Argon2Time = uint32(l.integer("FORTRESS_ARGON2_TIME", 2, 1, 20))      //nolint:gosec // G115: integer returns the default or a value in [1, 20], which fits uint32
	c.Argon2Threads = uint8(l.integer("FORTRESS_ARGON2_THREADS", 1, 1, 16)) //nolint:gosec // G115: integer returns the default or a value in [1, 16], which fits uint8
	c.DBMaxConns = int(l.integer("FORTRESS_DB_MAX_CONNS", 10, 1, 1000))

	c.TrustedProxies = l.cidrs("FORTRESS_TRUSTED_PROXIES")
	c.TLSCertFile = l.text("FORTRESS_TLS_CERT_FILE", "")
	c.TLSKeyFile = l.text("FORTRESS_TLS_KEY_FILE", "")
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		l.fail("FORTRESS_TLS_CERT_FILE", "must be set together with FORTRESS_TLS_KEY_FILE")
	}
	c.RedisURL = secrets["REDIS_URL"]
	if raw := c.RedisURL.Reveal(); raw != "" && !hasPrefixFold(raw, "redis://") && !hasPrefixFold(raw, "rediss://") && !hasPrefixFold(raw, "unix://") {
		l.fail("REDIS_URL", "must start with redis://, rediss:// or unix://")
	}
	c.RateLimit = l.rate("FORTRESS_RATE_LIMIT", Rate{Limit: 300, Window: time.Minute})
	c.LoginRateLimit = l.rate("FORTRESS_LOGIN_RATE_LIMIT", Rate{Limit: 10, Window: time.Minute})
	c.RegisterRateLimit = l.rate("FORTRESS_REGISTER_RATE_LIMIT", Rate{Limit: 5, Window: 10 * time.Minute})
	c.LoginFailuresMax = int(l.integer("FORTRESS_LOGIN_FAILURES_MAX", 5, 1, 1000))
	c.LoginLockout = l.duration("FORTRESS_LOGIN_LOCKOUT", 15*time.Minute, time.Second, 24*time.Hour)
	c.HashConcurrency = int(l.integer("FORTRESS_HASH_CONCURRENCY", int64(runtime.NumCPU()), 1, 256))
	c.HashQueue = int(l.integer("FORTRESS_HASH_QUEUE", 32, 0, 100000))
	c.HashWait = l.duration("FORTRESS_HASH_WAIT", 3*time.Second, 0, time.Minute)
	c.ReadHeaderTimeout = l.duration("FORTRESS_READ_HEADER_TIMEOUT", 5*time.Second, 100*time.Millisecond, 5*time.Minute)
	c.ReadTimeout = l.duration("FORTRESS_READ_TIMEOUT", 30*time.Second, 100*time.Millisecond, 30*time.Minute)
	c.WriteTimeout = l.duration("FORTRESS_WRITE_TIMEOUT", 30*time.Second, 100*time.Millisecond, 30*time.Minute)
	c.IdleTimeout = l.duration("FORTRESS_IDLE_TIMEOUT", 2*time.Minute, time.Second, time.Hour)

	if len(l.errs) > 0 {
		return Config{}, errors.Join(l.errs...)
	}
	c.Warnings = append(l.warnings, c.Warnings...)
	return c, nil
}

// String lists every field, one "Name=value" per line, with secrets redacted; it is what start-up
// diagnostics print.
func (c Config) String() string {
	var b strings.Builder
	line := func(name string, value any) { fmt.Fprintf(&b, "%s=%v\n", name, value) }
	line("Env", strconv.Quote(c.Env))
	line("Addr", strconv.Quote(c.Addr))
	line("MetricsAddr", strconv.Quote(c.MetricsAddr))
	line("Engine", strconv.Quote(string(c.Engine)))
	line("DatabaseURL", strconv.Quote(c.DatabaseURL.String()))
	line("SQLitePath", strconv.Quote(c.SQLitePath))
	line("JWTSecret", strconv.Quote(c.JWTSecret.String()))
	line("JWTSecretGenerated", c.JWTSecretGenerated)
	line("JWTPreviousSecrets", jsonList(redactedList(c.JWTPreviousSecrets)))
	line("JWTSigningKeyFile", strconv.Quote(c.JWTSigningKeyFile))
	line("JWTVerifyKeyFiles", jsonList(c.JWTVerifyKeyFiles))
	line("JWTIssuer", strconv.Quote(c.JWTIssuer))
	line("JWTAudience", strconv.Quote(c.JWTAudience))
	line("AccessTokenTTL", c.AccessTokenTTL)
	line("SessionLifetime", c.SessionLifetime)
	line("SessionIdle", c.SessionIdle)
	line("AllowedHosts", jsonList(c.AllowedHosts))
	line("CORSOrigins", jsonList(c.CORSOrigins))
	line("AutoMigrate", c.AutoMigrate)
	line("HTTPSRedirect", c.HTTPSRedirect)
	line("MaxBodyBytes", c.MaxBodyBytes)
	line("ShutdownTimeout", c.ShutdownTimeout)
	line("ShutdownDelay", c.ShutdownDelay)
	line("LogLevel", c.LogLevel)
	line("LogFormat", strconv.Quote(c.LogFormat))
	line("Argon2MemoryKiB", c.Argon2MemoryKiB)
	line("Argon2Time", c.Argon2Time)
	line("Argon2Threads", c.Argon2Threads)
	line("DBMaxConns", c.DBMaxConns)
	line("Warnings", jsonList(c.Warnings))
	return strings.TrimSuffix(b.String(), "\n")
}

// GoString makes %#v print the same redacted listing as String.
func (c Config) GoString() string { return c.String() }

// LogValue implements slog.LogValuer so that logging a Config gives one attribute per field, secrets
// redacted, in every handler.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("env", c.Env),
		slog.String("addr", c.Addr),
		slog.String("metrics_addr", c.MetricsAddr),
		slog.String("engine", string(c.Engine)),
		slog.Any("database_url", c.DatabaseURL),
		slog.String("sqlite_path", c.SQLitePath),
		slog.Any("jwt_secret", c.JWTSecret),
		slog.Bool("jwt_secret_generated", c.JWTSecretGenerated),
		slog.Any("jwt_previous_secrets", redactedList(c.JWTPreviousSecrets)),
		slog.String("jwt_signing_key_file", c.JWTSigningKeyFile),
		slog.Any("jwt_verify_key_files", c.JWTVerifyKeyFiles),
		slog.String("jwt_issuer", c.JWTIssuer),
		slog.String("jwt_audience", c.JWTAudience),
		slog.Duration("access_token_ttl", c.AccessTokenTTL),
		slog.Duration("session_lifetime", c.SessionLifetime),
		slog.Duration("session_idle", c.SessionIdle),
		slog.Any("allowed_hosts", c.AllowedHosts),
		slog.Any("cors_origins", c.CORSOrigins),
		slog.Bool("auto_migrate", c.AutoMigrate),
		slog.Bool("https_redirect", c.HTTPSRedirect),
		slog.Int64("max_body_bytes", c.MaxBodyBytes),
		slog.Duration("shutdown_timeout", c.ShutdownTimeout),
		slog.Duration("shutdown_delay", c.ShutdownDelay),
		slog.String("log_level", c.LogLevel.String()),
		slog.String("log_format", c.LogFormat),
		slog.Uint64("argon2_memory_kib", uint64(c.Argon2MemoryKiB)),
		slog.Uint64("argon2_time", uint64(c.Argon2Time)),
		slog.Uint64("argon2_threads", uint64(c.Argon2Threads)),
		slog.Int("db_max_conns", c.DBMaxConns),
	)
}

// varError is one configuration problem. Its text is "NAME: problem" on a single line.
type varError struct{ name, problem string }

func (e *varError) Error() string { return e.name + ": " + e.problem }

func varErrorf(name, format string, args ...any) error {
	return &varError{name: name, problem: fmt.Sprintf(format, args...)}
}

// loader reads variables and collects every problem instead of stopping at the first.
type loader struct {
	getenv   func(string) string
	errs     []error
	warnings []string
}

func (l *loader) fail(name, format string, args ...any) {
	l.errs = append(l.errs, varErrorf(name, format, args...))
}

// get returns the variable with surrounding whitespace removed; empty means "use the default".
func (l *loader) get(name string) string { return strings.TrimSpace(l.getenv(name)) }

// oneOf reads a case-insensitive choice among allowed values.
func (l *loader) oneOf(name, def string, allowed ...string) string {
	raw := l.get(name)
	if raw == "" {
		return def
	}
	for _, a := range allowed {
		if strings.EqualFold(raw, a) {
			return a
		}
	}
	l.fail(name, "must be one of %s (got %s)", strings.Join(allowed, ", "), quote(raw))
	return def
}

func (l *loader) logLevel(name string) slog.Level {
	switch l.oneOf(name, "info", "debug", "info", "warn", "error") {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

// text reads a free-form value that ends up in tokens and logs, where control characters have no place.
func (l *loader) text(name, def string) string {
	raw := l.get(name)
	if raw == "" {
		return def
	}
	if strings.ContainsFunc(raw, unicode.IsControl) {
		l.fail(name, "must not contain control characters")
		return def
	}
	return raw
}

func (l *loader) addr(name, def string) string {
	raw := l.get(name)
	if raw == "" {
		return def
	}
	_, port, err := net.SplitHostPort(raw)
	if err != nil {
		l.fail(name, "must be host:port, such as 127.0.0.1:8000 or :8000 (got %s)", quote(raw))
		return def
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		l.fail(name, "port must be a number from 0 to 65535 (got %s)", quote(port))
		return def
	}
	return raw
}

func (l *loader) boolean(name string, def bool) bool {
	raw := l.get(name)
	if raw == "" {
		return def
	}
	switch strings.ToLower(raw) {
	case "true", "1", "yes", "on":
		return true
	case "false", "0", "no", "off":
		return false
	}
	l.fail(name, "must be true or false (or 1/0, yes/no, on/off; got %s)", quote(raw))
	return def
}

func (l *loader) integer(name string, def, lo, hi int64) int64 {
	raw := l.get(name)
	if raw == "" {
		return def
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		l.fail(name, "must be a whole number (got %s)", quote(raw))
		return def
	}
	if err != nil || n < lo || n > hi {
		l.fail(name, "must be between %d and %d (got %s)", lo, hi, quote(raw))
		return def
	}
	return n
}

func (l *loader) duration(name string, def, lo, hi time.Duration) time.Duration {
	raw := l.get(name)
	if raw == "" {
		return def
	}
	d, err := time.ParseDuration(raw)
	if err != nil {
		l.fail(name, "must be a duration such as 30s, 15m or 1h (got %s)", quote(raw))
		return def
	}
	if d < lo || d > hi {
		l.fail(name, "must be between %s and %s (got %s)", shortDuration(lo), shortDuration(hi), quote(raw))
		return def
	}
	return d
}

// database works out the engine and, for SQLite, the file from DATABASE_URL. Its errors never quote the
// URL, which may hold a password.
func (l *loader) database(name string, dsn Secret) (Engine, string) {
	raw := dsn.Reveal()
	if raw == "" {
		return EngineSQLite, DefaultSQLitePath
	}
	for _, prefix := range []string{"sqlite://", "sqlite:", "file://", "file:"} {
		if !hasPrefixFold(raw, prefix) {
			continue
		}
		path := raw[len(prefix):]
		switch {
		case path == "":
			l.fail(name, "the SQLite file path is empty")
		case strings.ContainsAny(path, "?#"):
			l.fail(name, "the SQLite file path must not contain '?' or '#' (Fortress sets the driver options)")
		case strings.ContainsFunc(path, unicode.IsControl):
			l.fail(name, "the SQLite file path must not contain control characters")
		default:
			return EngineSQLite, path
		}
		return EngineSQLite, ""
	}
	if hasPrefixFold(raw, "postgres://") || hasPrefixFold(raw, "postgresql://") {
		if _, err := url.Parse(raw); err != nil {
			// url.Error quotes the URL, so its text must not be passed on.
			l.fail(name, "is not a valid URL (percent-encode special characters in the user name and password)")
		}
		return EnginePostgres, ""
	}
	l.fail(name, "must start with postgres://, postgresql://, sqlite: or file:")
	return "", ""
}

// jwtSecret validates the HMAC key. It is optional when an Ed25519 signing key is configured (it then only
// verifies the HS256 tokens still in flight); otherwise development replaces a missing key by a random one.
func (l *loader) jwtSecret(name string, key Secret, prod, haveSigningKey bool) (Secret, bool) {
	raw := key.Reveal()
	if raw == "" {
		if haveSigningKey {
			return Secret{}, false
		}
		if prod {
			l.fail(name, "is required in production (set %s or %s_FILE to at least %d random bytes, "+
				"or FORTRESS_JWT_SIGNING_KEY_FILE to an Ed25519 key)", name, name, MinJWTSecretBytes)
			return Secret{}, false
		}
		l.warnings = append(l.warnings, name+" is not set: using a random key generated for this run, "+
			"so tokens stop working at restart (development only)")
		return NewSecret(randomKey()), true
	}
	if len(raw) < MinJWTSecretBytes {
		l.fail(name, "must be at least %d bytes (got %d)", MinJWTSecretBytes, len(raw))
		return Secret{}, false
	}
	// A public key verifies as well as it signs: the placeholder is refused even when it only verifies.
	if isPlaceholder(raw) {
		if prod {
			l.fail(name, "is the .env.example placeholder; generate a key, e.g. with: openssl rand -base64 48")
			return Secret{}, false
		}
		l.warnings = append(l.warnings, name+" is the .env.example placeholder: replace it before deploying")
	}
	if haveSigningKey {
		l.warnings = append(l.warnings, name+" only verifies tokens, since FORTRESS_JWT_SIGNING_KEY_FILE signs "+
			"them: remove it once the tokens it signed have expired")
	}
	return key, false
}

// isPlaceholder reports whether an HMAC key is the public .env.example value or a variant of it.
func isPlaceholder(raw string) bool {
	return raw == PlaceholderJWTSecret || strings.Contains(strings.ToLower(raw), "change-me")
}

// previousSecrets reads the retired HMAC keys that still verify tokens during a rotation: a JSON array
// of strings, or a list separated by commas or newlines (one key per line suits a _FILE). Each entry is
// held to the rules of JWT_SECRET_KEY; messages name entries by position, never by value.
func (l *loader) previousSecrets(name string, list Secret, prod bool, current Secret) []Secret {
	entries, ok := splitSecretList(list.Reveal())
	if !ok {
		l.fail(name, `must be a JSON array of strings, such as ["key1","key2"], or a list separated by commas or newlines`)
		return nil
	}
	var keys []Secret
	for i, e := range entries {
		n := i + 1
		switch {
		case len(e) < MinJWTSecretBytes:
			l.fail(name, "entry %d must be at least %d bytes (got %d)", n, MinJWTSecretBytes, len(e))
			continue
		case isPlaceholder(e) && prod:
			l.fail(name, "entry %d is the .env.example placeholder; remove it", n)
			continue
		case isPlaceholder(e):
			l.warnings = append(l.warnings, fmt.Sprintf("%s entry %d is the .env.example placeholder: remove it before deploying", name, n))
		case e == current.Reveal():
			l.warnings = append(l.warnings, fmt.Sprintf("%s entry %d is JWT_SECRET_KEY itself, which is accepted anyway", name, n))
		}
		if !slices.ContainsFunc(keys, func(k Secret) bool { return k.Reveal() == e }) {
			keys = append(keys, NewSecret(e))
		}
	}
	return keys
}

// splitSecretList splits a list of secrets. ok is false for a malformed JSON array; nothing about the
// value is returned in that case, since it holds secrets.
func splitSecretList(raw string) (entries []string, ok bool) {
	var parts []string
	if strings.HasPrefix(raw, "[") {
		if err := json.Unmarshal([]byte(raw), &parts); err != nil {
			return nil, false
		}
	} else {
		parts = strings.FieldsFunc(raw, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' })
	}
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			entries = append(entries, p)
		}
	}
	return entries, true
}

// redactedList shows how many secrets a list holds, and nothing else about them.
func redactedList(secrets []Secret) []string {
	out := make([]string, len(secrets))
	for i, s := range secrets {
		out[i] = s.String()
	}
	return out
}

// randomKey returns 32 bytes from crypto/rand, base64url-encoded so that the key is printable text.
func randomKey() string {
	b := make([]byte, 32)
	// crypto/rand.Read never returns an error: on failure it crashes the program, which is right here.
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// list reads a JSON array of strings or a comma-separated list, dropping blank entries. set is false
// when the variable is empty, so that the caller applies its default; ok is false when it is malformed
// (and the problem recorded).
func (l *loader) list(name string) (entries []string, set, ok bool) {
	raw := l.get(name)
	if raw == "" {
		return nil, false, true
	}
	var parts []string
	if looksLikeJSONArray(raw) {
		if err := json.Unmarshal([]byte(raw), &parts); err != nil {
			l.fail(name, `must be a JSON array of strings, such as ["a","b"], or a comma-separated list`)
			return nil, true, false
		}
	} else {
		parts = strings.Split(raw, ",")
	}
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			entries = append(entries, p)
		}
	}
	return entries, true, true
}

// looksLikeJSONArray tells a JSON array from a comma-separated list that starts with a bracketed IPv6
// address such as "[::1],localhost": JSON is valid, or its first element is a string, or it is empty.
func looksLikeJSONArray(raw string) bool {
	if !strings.HasPrefix(raw, "[") {
		return false
	}
	next := strings.TrimLeft(raw[1:], " \t\r\n")
	return json.Valid([]byte(raw)) || next == "" || next[0] == '"' || next[0] == ']'
}

func (l *loader) hosts(name string, def []string) []string {
	entries, set, ok := l.list(name)
	switch {
	case !set:
		return def
	case !ok:
		return nil
	}
	if len(entries) == 0 {
		l.fail(name, `lists no host; name at least one, or "*" to accept any`)
		return nil
	}
	var hosts []string
	for _, e := range entries {
		h, problem := normalizeHost(e)
		if problem != "" {
			l.fail(name, "%s is not a valid host: %s", quote(e), problem)
			continue
		}
		if !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	return hosts
}

// normalizeHost checks an ALLOWED_HOSTS entry and returns it lower-cased, IPv6 without brackets.
func normalizeHost(e string) (host, problem string) {
	e = strings.ToLower(e)
	if e == "*" {
		return e, ""
	}
	if strings.HasPrefix(e, "[") {
		inner, ok := strings.CutSuffix(e[1:], "]")
		if !ok {
			return "", "a bracketed IPv6 address must end with ']' and have no port"
		}
		a, err := netip.ParseAddr(inner)
		if err != nil || !a.Is6() {
			return "", "not an IPv6 address"
		}
		return a.String(), ""
	}
	if strings.Contains(e, ":") {
		a, err := netip.ParseAddr(e)
		if err != nil || !a.Is6() {
			return "", "give the host name without a port"
		}
		return a.String(), ""
	}
	name := e
	if rest, ok := strings.CutPrefix(e, "*."); ok {
		name = rest
	}
	if !validHostname(name) {
		return "", `use a host name, an IP address, "*.example.com" or "*"`
	}
	return e, ""
}

// validHostname accepts dot-separated labels of letters, digits, '-' and '_' (IPv4 addresses included).
func validHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(s, ".") {
		if label == "" || len(label) > 63 {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

func (l *loader) origins(name string) []string {
	entries, _, _ := l.list(name)
	origins := []string{}
	for _, e := range entries {
		if e == "*" {
			l.fail(name, `"*" is not allowed: credentials are allowed, so a wildcard would let any site `+
				`act as the signed-in user; list the origins instead`)
			continue
		}
		o, problem := normalizeOrigin(e)
		if problem != "" {
			l.fail(name, "%s is not an origin: %s", quote(e), problem)
			continue
		}
		if !slices.Contains(origins, o) {
			origins = append(origins, o)
		}
	}
	return origins
}

// normalizeOrigin returns an origin the way browsers send it in the Origin header: lower-case scheme
// and host, no default port, no trailing slash.
func normalizeOrigin(e string) (origin, problem string) {
	u, err := url.Parse(e)
	if err != nil {
		return "", "cannot be parsed as a URL"
	}
	scheme := strings.ToLower(u.Scheme)
	switch {
	case scheme != "http" && scheme != "https":
		return "", "the scheme must be http or https, e.g. https://app.example.com"
	case u.Opaque != "" || u.Host == "":
		return "", "a host is required, e.g. https://app.example.com"
	case u.User != nil:
		return "", "must not contain a user name or password"
	case u.Path != "" && u.Path != "/":
		return "", "must not contain a path"
	case u.RawQuery != "" || u.ForceQuery:
		return "", "must not contain a query"
	case u.Fragment != "" || strings.Contains(e, "#"):
		return "", "must not contain a fragment"
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if port != "" {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil || n == 0 {
			return "", "the port must be a number from 1 to 65535"
		}
		if (scheme == "http" && n == 80) || (scheme == "https" && n == 443) {
			port = ""
		} else {
			port = strconv.FormatUint(n, 10)
		}
	} else if strings.HasSuffix(u.Host, ":") {
		return "", "the port is empty"
	}
	if h, problem := normalizeHost(host); problem != "" || h == "*" || strings.HasPrefix(h, "*.") {
		return "", "the host is not a valid host name or IP address"
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return scheme + "://" + host, ""
}

// quote shows a non-secret value in an error, shortened so that one bad variable cannot flood the log.
func quote(s string) string {
	const maxQuoted = 64
	if len(s) > maxQuoted {
		return strconv.Quote(s[:maxQuoted]) + "…"
	}
	return strconv.Quote(s)
}

// shortDuration writes 24h rather than 24h0m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

func jsonList(list []string) string {
	b, _ := json.Marshal(list) //nolint:errchkjson // a []string always marshals
	if list == nil {
		return "[]"
	}
	return string(b)
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func emptyEnv(string) string { return "" }

// Rate is a request budget: Limit requests per Window. A zero Limit means no limit.
type Rate struct {
	Limit  int
	Window time.Duration
}

// String is the form the variables take, "100/1m", or "off".
func (r Rate) String() string {
	if r.Limit == 0 {
		return "off"
	}
	return strconv.Itoa(r.Limit) + "/" + shortDuration(r.Window)
}

// rate reads "N/DURATION" (such as 100/1m) or "off".
func (l *loader) rate(name string, def Rate) Rate {
	raw := l.get(name)
	if raw == "" {
		return def
	}
	if strings.EqualFold(raw, "off") {
		return Rate{}
	}
	n, w, ok := strings.Cut(raw, "/")
	limit, err := strconv.Atoi(n)
	window, werr := time.ParseDuration(w)
	if !ok || err != nil || werr != nil || limit < 1 || limit > 1_000_000 || window < time.Second || window > 24*time.Hour {
		l.fail(name, "must be off or N/DURATION with N from 1 to 1000000 and a duration from 1s to 24h, such as 100/1m (got %s)", quote(raw))
		return def
	}
	return Rate{Limit: limit, Window: window}
}

// paths reads a list of file names, such as key files; whether they can be read is up to their user.
func (l *loader) paths(name string) []string {
	entries, _, ok := l.list(name)
	if !ok {
		return nil
	}
	var paths []string
	for _, e := range entries {
		if strings.ContainsFunc(e, unicode.IsControl) {
			l.fail(name, "%s must not contain control characters", quote(e))
			continue
		}
		if !slices.Contains(paths, e) {
			paths = append(paths, e)
		}
	}
	return paths
}

// cidrs reads a list of CIDR ranges or single IP addresses.
func (l *loader) cidrs(name string) []string {
	entries, _, ok := l.list(name)
	if !ok {
		return nil
	}
	for _, e := range entries {
		_, perr := netip.ParsePrefix(e)
		_, aerr := netip.ParseAddr(e)
		if (perr != nil && aerr != nil) || strings.Contains(e, "%") {
			l.fail(name, "%s is not a CIDR range or an IP address", quote(e))
			return nil
		}
	}
	return entries
}

// Database is the part of the configuration that `fortress migrate` needs. A migration job has the
// database's credentials but not the token signing key, so it must not need the whole Config.
type Database struct {
	Engine     Engine
	URL        Secret
	SQLitePath string
	MaxConns   int
}

// LoadDatabase reads only DATABASE_URL (or DATABASE_URL_FILE) and FORTRESS_DB_MAX_CONNS, with the same
// rules and error lines as Load.
func LoadDatabase(getenv func(string) string) (Database, error) {
	if getenv == nil {
		getenv = emptyEnv
	}
	l := &loader{getenv: getenv}
	var d Database
	var err error
	if d.URL, err = LookupSecret(getenv, "DATABASE_URL"); err != nil {
		l.errs = append(l.errs, err)
	}
	d.Engine, d.SQLitePath = l.database("DATABASE_URL", d.URL)
	d.MaxConns = int(l.integer("FORTRESS_DB_MAX_CONNS", 10, 1, 1000))
	if len(l.errs) > 0 {
		return Database{}, errors.Join(l.errs...)
	}
	return d, nil
}

// Database returns the database part of c.
func (c Config) Database() Database {
	return Database{Engine: c.Engine, URL: c.DatabaseURL, SQLitePath: c.SQLitePath, MaxConns: c.DBMaxConns}
}
