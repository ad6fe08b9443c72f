package config

import (
	"encoding/base64"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"
)

// goodKey is a valid JWT key used where the test is about something else.
const goodKey = "0123456789abcdef0123456789abcdef-test-key"

// env turns a map into a getenv function.
func env(vars map[string]string) func(string) string {
	return func(name string) string { return vars[name] }
}

// with returns base plus the given pairs, leaving base untouched.
func with(base map[string]string, kv ...string) map[string]string {
	m := make(map[string]string, len(base)+len(kv)/2)
	for k, v := range base {
		m[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

func mustLoad(t *testing.T, vars map[string]string) Config {
	t.Helper()
	c, err := Load(env(vars))
	if err != nil {
		t.Fatalf("Load: got error %q, want none", err)
	}
	return c
}

// loadErr loads vars, expects an error and checks that every line names a variable.
func loadErr(t *testing.T, vars map[string]string) string {
	t.Helper()
	c, err := Load(env(vars))
	if err == nil {
		t.Fatalf("Load: got no error, want one (config:\n%s)", c)
	}
	if !reflect.DeepEqual(c, Config{}) {
		t.Errorf("Load: got a non-zero Config alongside the error, want the zero Config")
	}
	msg := err.Error()
	for _, line := range strings.Split(msg, "\n") {
		name, _, ok := strings.Cut(line, ": ")
		if !ok || name == "" || strings.ToUpper(name) != name || strings.ContainsAny(name, " \t") {
			t.Errorf("error line %q: want the form NAME: problem", line)
		}
	}
	return msg
}

func TestLoadDefaults(t *testing.T) {
	for name, getenv := range map[string]func(string) string{
		"empty environment": env(nil),
		"nil getenv":        nil,
		"blank values":      func(string) string { return "  " },
	} {
		t.Run(name, func(t *testing.T) {
			c, err := Load(getenv)
			if err != nil {
				t.Fatalf("Load: got error %q, want none", err)
			}
			want := Config{
				Env:                "development",
				Addr:               "127.0.0.1:8000",
				Engine:             EngineSQLite,
				SQLitePath:         "./fortress.db",
				JWTSecret:          c.JWTSecret, // random; checked below
				JWTSecretGenerated: true,
				JWTIssuer:          "fortress",
				JWTAudience:        "fortress-api",
				AccessTokenTTL:     15 * time.Minute,
				SessionLifetime:    30 * 24 * time.Hour,
				SessionIdle:        7 * 24 * time.Hour,
				AllowedHosts:       []string{"localhost", "127.0.0.1", "::1"},
				CORSOrigins:        []string{},
				AutoMigrate:        true,
				HTTPSRedirect:      false,
				MaxBodyBytes:       1048576,
				ShutdownTimeout:    15 * time.Second,
				LogLevel:           slog.LevelInfo,
				LogFormat:          "json",
				Argon2MemoryKiB:    19456,
				Argon2Time:         2,
				Argon2Threads:      1,
				DBMaxConns:         10,
				RateLimit:          Rate{300, time.Minute},
				LoginRateLimit:     Rate{10, time.Minute},
				RegisterRateLimit:  Rate{5, 10 * time.Minute},
				LoginFailuresMax:   5,
				LoginLockout:       15 * time.Minute,
				HashConcurrency:    runtime.NumCPU(),
				HashQueue:          32,
				HashWait:           3 * time.Second,
				ReadHeaderTimeout:  5 * time.Second,
				ReadTimeout:        30 * time.Second,
				WriteTimeout:       30 * time.Second,
				IdleTimeout:        2 * time.Minute,
				Warnings:           c.Warnings, // checked below
			}
			if !reflect.DeepEqual(c, want) {
				t.Errorf("got\n%s\nwant\n%s", c, want)
			}
			if c.DatabaseURL.IsSet() {
				t.Errorf("DatabaseURL.IsSet: got true, want false")
			}
			if c.Production() {
				t.Errorf("Production: got true, want false")
			}
			key, err := base64.RawURLEncoding.DecodeString(c.JWTSecret.Reveal())
			if err != nil || len(key) != 32 {
				t.Errorf("generated key: got %d bytes (err %v), want 32 random bytes", len(key), err)
			}
			if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "JWT_SECRET_KEY is not set") {
				t.Errorf("Warnings: got %q, want one about the generated JWT key", c.Warnings)
			}
		})
	}
}

func TestLoadGeneratesADifferentKeyEachRun(t *testing.T) {
	a, b := mustLoad(t, nil), mustLoad(t, nil)
	if a.JWTSecret.Reveal() == b.JWTSecret.Reveal() {
		t.Errorf("two generated keys are equal, want random keys")
	}
}

func TestLoadValid(t *testing.T) {
	base := map[string]string{"JWT_SECRET_KEY": goodKey}
	tests := []struct {
		name  string
		vars  map[string]string
		check func(t *testing.T, c Config)
	}{
		{"env production", with(base, "FORTRESS_ENV", "production"), func(t *testing.T, c Config) {
			eq(t, "Env", c.Env, "production")
			eq(t, "Production", c.Production(), true)
		}},
		{"env case-insensitive", with(base, "FORTRESS_ENV", " Production "), func(t *testing.T, c Config) {
			eq(t, "Env", c.Env, "production")
		}},
		{"env development", with(base, "FORTRESS_ENV", "development"), func(t *testing.T, c Config) {
			eq(t, "Env", c.Env, "development")
		}},
		{"addr all interfaces", with(base, "FORTRESS_ADDR", ":8080"), func(t *testing.T, c Config) {
			eq(t, "Addr", c.Addr, ":8080")
		}},
		{"addr ipv6", with(base, "FORTRESS_ADDR", "[::1]:0"), func(t *testing.T, c Config) {
			eq(t, "Addr", c.Addr, "[::1]:0")
		}},
		{"addr max port", with(base, "FORTRESS_ADDR", "0.0.0.0:65535"), func(t *testing.T, c Config) {
			eq(t, "Addr", c.Addr, "0.0.0.0:65535")
		}},
		{"sqlite:", with(base, "DATABASE_URL", "sqlite:./data/f.db"), func(t *testing.T, c Config) {
			eq(t, "Engine", c.Engine, EngineSQLite)
			eq(t, "SQLitePath", c.SQLitePath, "./data/f.db")
			eq(t, "DatabaseURL", c.DatabaseURL.Reveal(), "sqlite:./data/f.db")
			eq(t, "AutoMigrate", c.AutoMigrate, true)
		}},
		{"sqlite://", with(base, "DATABASE_URL", "sqlite:///var/lib/f.db"), func(t *testing.T, c Config) {
			eq(t, "SQLitePath", c.SQLitePath, "/var/lib/f.db")
		}},
		{"file:", with(base, "DATABASE_URL", "file:f.db"), func(t *testing.T, c Config) {
			eq(t, "SQLitePath", c.SQLitePath, "f.db")
		}},
		{"file://", with(base, "DATABASE_URL", "file:///tmp/f.db"), func(t *testing.T, c Config) {
			eq(t, "SQLitePath", c.SQLitePath, "/tmp/f.db")
		}},
		{"sqlite scheme case", with(base, "DATABASE_URL", "SQLite:f.db"), func(t *testing.T, c Config) {
			eq(t, "SQLitePath", c.SQLitePath, "f.db")
		}},
		{"postgres", with(base, "DATABASE_URL", "postgres://u:p%40ss@db:5432/fortress?sslmode=require"), func(t *testing.T, c Config) {
			eq(t, "Engine", c.Engine, EnginePostgres)
			eq(t, "SQLitePath", c.SQLitePath, "")
			eq(t, "AutoMigrate", c.AutoMigrate, false)
		}},
		{"postgresql", with(base, "DATABASE_URL", "postgresql://db/fortress"), func(t *testing.T, c Config) {
			eq(t, "Engine", c.Engine, EnginePostgres)
		}},
		{"postgres auto-migrate on", with(base, "DATABASE_URL", "postgres://db/f", "AUTO_MIGRATE", "yes"), func(t *testing.T, c Config) {
			eq(t, "AutoMigrate", c.AutoMigrate, true)
		}},
		{"sqlite auto-migrate off", with(base, "AUTO_MIGRATE", "OFF"), func(t *testing.T, c Config) {
			eq(t, "AutoMigrate", c.AutoMigrate, false)
		}},
		{"jwt key given", base, func(t *testing.T, c Config) {
			eq(t, "JWTSecret", c.JWTSecret.Reveal(), goodKey)
			eq(t, "JWTSecretGenerated", c.JWTSecretGenerated, false)
			eq(t, "Warnings", len(c.Warnings), 0)
		}},
		{"jwt key exactly 32 bytes", with(base, "JWT_SECRET_KEY", strings.Repeat("k", 32)), func(t *testing.T, c Config) {
			eq(t, "JWTSecret", len(c.JWTSecret.Reveal()), 32)
		}},
		{"jwt key surrounding space trimmed", with(base, "JWT_SECRET_KEY", " "+goodKey+"\n"), func(t *testing.T, c Config) {
			eq(t, "JWTSecret", c.JWTSecret.Reveal(), goodKey)
		}},
		{"issuer and audience", with(base, "FORTRESS_JWT_ISSUER", "https://auth.example", "FORTRESS_JWT_AUDIENCE", "my api"), func(t *testing.T, c Config) {
			eq(t, "JWTIssuer", c.JWTIssuer, "https://auth.example")
			eq(t, "JWTAudience", c.JWTAudience, "my api")
		}},
		{"ttl", with(base, "FORTRESS_ACCESS_TOKEN_TTL", "1h30m"), func(t *testing.T, c Config) {
			eq(t, "AccessTokenTTL", c.AccessTokenTTL, 90*time.Minute)
		}},
		{"ttl lower bound", with(base, "FORTRESS_ACCESS_TOKEN_TTL", "60s"), func(t *testing.T, c Config) {
			eq(t, "AccessTokenTTL", c.AccessTokenTTL, time.Minute)
		}},
		{"sessions", with(with(base, "FORTRESS_SESSION_LIFETIME", "48h"), "FORTRESS_SESSION_IDLE", "2h"), func(t *testing.T, c Config) {
			if c.SessionLifetime != 48*time.Hour || c.SessionIdle != 2*time.Hour {
				t.Fatalf("sessions: got lifetime %s, idle %s; want 48h, 2h", c.SessionLifetime, c.SessionIdle)
			}
		}},
		{"ttl upper bound", with(base, "FORTRESS_ACCESS_TOKEN_TTL", "24h"), func(t *testing.T, c Config) {
			eq(t, "AccessTokenTTL", c.AccessTokenTTL, 24*time.Hour)
		}},
		{"https redirect", with(base, "ENABLE_HTTPS_REDIRECT", "TRUE"), func(t *testing.T, c Config) {
			eq(t, "HTTPSRedirect", c.HTTPSRedirect, true)
		}},
		{"https redirect 0", with(base, "ENABLE_HTTPS_REDIRECT", "0"), func(t *testing.T, c Config) {
			eq(t, "HTTPSRedirect", c.HTTPSRedirect, false)
		}},
		{"max body bounds low", with(base, "FORTRESS_MAX_BODY_BYTES", "1024"), func(t *testing.T, c Config) {
			eq(t, "MaxBodyBytes", c.MaxBodyBytes, int64(1024))
		}},
		{"max body bounds high", with(base, "FORTRESS_MAX_BODY_BYTES", "67108864"), func(t *testing.T, c Config) {
			eq(t, "MaxBodyBytes", c.MaxBodyBytes, int64(64<<20))
		}},
		{"shutdown", with(base, "FORTRESS_SHUTDOWN_TIMEOUT", "5m"), func(t *testing.T, c Config) {
			eq(t, "ShutdownTimeout", c.ShutdownTimeout, 5*time.Minute)
		}},
		{"shutdown low", with(base, "FORTRESS_SHUTDOWN_TIMEOUT", "1s"), func(t *testing.T, c Config) {
			eq(t, "ShutdownTimeout", c.ShutdownTimeout, time.Second)
		}},
		{"log level debug", with(base, "FORTRESS_LOG_LEVEL", "DEBUG"), func(t *testing.T, c Config) {
			eq(t, "LogLevel", c.LogLevel, slog.LevelDebug)
		}},
		{"log level info", with(base, "FORTRESS_LOG_LEVEL", "info"), func(t *testing.T, c Config) {
			eq(t, "LogLevel", c.LogLevel, slog.LevelInfo)
		}},
		{"log level warn", with(base, "FORTRESS_LOG_LEVEL", "warn"), func(t *testing.T, c Config) {
			eq(t, "LogLevel", c.LogLevel, slog.LevelWarn)
		}},
		{"log level error", with(base, "FORTRESS_LOG_LEVEL", "error"), func(t *testing.T, c Config) {
			eq(t, "LogLevel", c.LogLevel, slog.LevelError)
		}},
		{"log format text", with(base, "FORTRESS_LOG_FORMAT", "Text"), func(t *testing.T, c Config) {
			eq(t, "LogFormat", c.LogFormat, "text")
		}},
		{"argon2 development minimum", with(base, "FORTRESS_ARGON2_MEMORY_KIB", "8192", "FORTRESS_ARGON2_TIME", "1", "FORTRESS_ARGON2_THREADS", "16"), func(t *testing.T, c Config) {
			eq(t, "Argon2MemoryKiB", c.Argon2MemoryKiB, uint32(8192))
			eq(t, "Argon2Time", c.Argon2Time, uint32(1))
			eq(t, "Argon2Threads", c.Argon2Threads, uint8(16))
		}},
		{"argon2 production", with(base, "FORTRESS_ENV", "production", "FORTRESS_ARGON2_MEMORY_KIB", "65536", "FORTRESS_ARGON2_TIME", "20"), func(t *testing.T, c Config) {
			eq(t, "Argon2MemoryKiB", c.Argon2MemoryKiB, uint32(65536))
			eq(t, "Argon2Time", c.Argon2Time, uint32(20))
		}},
		{"db max conns", with(base, "FORTRESS_DB_MAX_CONNS", "+1000"), func(t *testing.T, c Config) {
			eq(t, "DBMaxConns", c.DBMaxConns, 1000)
		}},
		{"db max conns low", with(base, "FORTRESS_DB_MAX_CONNS", "1"), func(t *testing.T, c Config) {
			eq(t, "DBMaxConns", c.DBMaxConns, 1)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, mustLoad(t, tt.vars))
		})
	}
}

func eq[T comparable](t *testing.T, field string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s: got %v, want %v", field, got, want)
	}
}

func TestLoadInvalid(t *testing.T) {
	base := map[string]string{"JWT_SECRET_KEY": goodKey}
	tests := []struct {
		name string
		vars map[string]string
		want string // the whole error, one line
	}{
		{"env", with(base, "FORTRESS_ENV", "staging"), `FORTRESS_ENV: must be one of development, production (got "staging")`},
		{"addr no port", with(base, "FORTRESS_ADDR", "localhost"), `FORTRESS_ADDR: must be host:port, such as 127.0.0.1:8000 or :8000 (got "localhost")`},
		{"addr named port", with(base, "FORTRESS_ADDR", "localhost:http"), `FORTRESS_ADDR: port must be a number from 0 to 65535 (got "http")`},
		{"addr port too big", with(base, "FORTRESS_ADDR", ":65536"), `FORTRESS_ADDR: port must be a number from 0 to 65535 (got "65536")`},
		{"addr empty port", with(base, "FORTRESS_ADDR", "127.0.0.1:"), `FORTRESS_ADDR: port must be a number from 0 to 65535 (got "")`},
		{"addr negative port", with(base, "FORTRESS_ADDR", ":-1"), `FORTRESS_ADDR: port must be a number from 0 to 65535 (got "-1")`},
		{"database scheme", with(base, "DATABASE_URL", "mysql://root:hunter2@db/f"), `DATABASE_URL: must start with postgres://, postgresql://, sqlite: or file:`},
		{"database no scheme", with(base, "DATABASE_URL", "hunter2"), `DATABASE_URL: must start with postgres://, postgresql://, sqlite: or file:`},
		{"database bad postgres url", with(base, "DATABASE_URL", "postgres://u:p%zz@db/f"), `DATABASE_URL: is not a valid URL (percent-encode special characters in the user name and password)`},
		{"database empty sqlite path", with(base, "DATABASE_URL", "sqlite:"), `DATABASE_URL: the SQLite file path is empty`},
		{"database empty sqlite:// path", with(base, "DATABASE_URL", "sqlite://"), `DATABASE_URL: the SQLite file path is empty`},
		{"database sqlite query", with(base, "DATABASE_URL", "file:f.db?mode=memory"), `DATABASE_URL: the SQLite file path must not contain '?' or '#' (Fortress sets the driver options)`},
		{"database sqlite control", with(base, "DATABASE_URL", "sqlite:f\n.db"), `DATABASE_URL: the SQLite file path must not contain control characters`},
		{"jwt short", with(base, "JWT_SECRET_KEY", "tooshort10"), `JWT_SECRET_KEY: must be at least 32 bytes (got 10)`},
		{"jwt short production", with(base, "FORTRESS_ENV", "production", "JWT_SECRET_KEY", strings.Repeat("x", 31)), `JWT_SECRET_KEY: must be at least 32 bytes (got 31)`},
		{"jwt missing production", map[string]string{"FORTRESS_ENV": "production"}, `JWT_SECRET_KEY: is required in production (set JWT_SECRET_KEY or JWT_SECRET_KEY_FILE to at least 32 random bytes, or FORTRESS_JWT_SIGNING_KEY_FILE to an Ed25519 key)`},
		{"jwt placeholder production", with(base, "FORTRESS_ENV", "production", "JWT_SECRET_KEY", PlaceholderJWTSecret), `JWT_SECRET_KEY: is the .env.example placeholder; generate a key, e.g. with: openssl rand -base64 48`},
		{"jwt change-me production", with(base, "FORTRESS_ENV", "production", "JWT_SECRET_KEY", "please-CHANGE-ME-"+goodKey), `JWT_SECRET_KEY: is the .env.example placeholder; generate a key, e.g. with: openssl rand -base64 48`},
		{"issuer control", with(base, "FORTRESS_JWT_ISSUER", "a\x00b"), `FORTRESS_JWT_ISSUER: must not contain control characters`},
		{"audience control", with(base, "FORTRESS_JWT_AUDIENCE", "a\tb"), `FORTRESS_JWT_AUDIENCE: must not contain control characters`},
		{"ttl unit missing", with(base, "FORTRESS_ACCESS_TOKEN_TTL", "900"), `FORTRESS_ACCESS_TOKEN_TTL: must be a duration such as 30s, 15m or 1h (got "900")`},
		{"ttl too short", with(base, "FORTRESS_ACCESS_TOKEN_TTL", "59s"), `FORTRESS_ACCESS_TOKEN_TTL: must be between 1m and 24h (got "59s")`},
		{"ttl too long", with(base, "FORTRESS_ACCESS_TOKEN_TTL", "24h1s"), `FORTRESS_ACCESS_TOKEN_TTL: must be between 1m and 24h (got "24h1s")`},
		{"metrics on the public port", with(base, "FORTRESS_ADDR", "127.0.0.1:8000", "FORTRESS_METRICS_ADDR", "127.0.0.1:8000"),
			"FORTRESS_METRICS_ADDR: must differ from FORTRESS_ADDR: metrics are never served on the public port"},
		{"metrics address without port", with(base, "FORTRESS_METRICS_ADDR", "localhost"), `FORTRESS_METRICS_ADDR: must be host:port, such as 127.0.0.1:8000 or :8000 (got "localhost")`},
		{"session lifetime too short", with(base, "FORTRESS_SESSION_LIFETIME", "1m"), `FORTRESS_SESSION_LIFETIME: must be between 5m and 8784h (got "1m")`},
		{"session idle shorter than the access token", with(with(base, "FORTRESS_ACCESS_TOKEN_TTL", "1h"), "FORTRESS_SESSION_IDLE", "30m"),
			`FORTRESS_SESSION_IDLE: must be between FORTRESS_ACCESS_TOKEN_TTL (1h0m0s) and FORTRESS_SESSION_LIFETIME (720h0m0s) (got 30m0s)`},
		{"session idle longer than the session", with(with(base, "FORTRESS_SESSION_LIFETIME", "24h"), "FORTRESS_SESSION_IDLE", "48h"),
			`FORTRESS_SESSION_IDLE: must be between FORTRESS_ACCESS_TOKEN_TTL (15m0s) and FORTRESS_SESSION_LIFETIME (24h0m0s) (got 48h0m0s)`},
		{"ttl negative", with(base, "FORTRESS_ACCESS_TOKEN_TTL", "-15m"), `FORTRESS_ACCESS_TOKEN_TTL: must be between 1m and 24h (got "-15m")`},
		{"hosts empty json", with(base, "ALLOWED_HOSTS", "[]"), `ALLOWED_HOSTS: lists no host; name at least one, or "*" to accept any`},
		{"hosts only commas", with(base, "ALLOWED_HOSTS", " , ,"), `ALLOWED_HOSTS: lists no host; name at least one, or "*" to accept any`},
		{"hosts bad json", with(base, "ALLOWED_HOSTS", `["localhost",]`), `ALLOWED_HOSTS: must be a JSON array of strings, such as ["a","b"], or a comma-separated list`},
		{"hosts unterminated json", with(base, "ALLOWED_HOSTS", `[`), `ALLOWED_HOSTS: must be a JSON array of strings, such as ["a","b"], or a comma-separated list`},
		{"hosts json numbers", with(base, "ALLOWED_HOSTS", `[1,2]`), `ALLOWED_HOSTS: must be a JSON array of strings, such as ["a","b"], or a comma-separated list`},
		{"hosts port", with(base, "ALLOWED_HOSTS", "localhost:8000"), `ALLOWED_HOSTS: "localhost:8000" is not a valid host: give the host name without a port`},
		{"hosts bracket port", with(base, "ALLOWED_HOSTS", "[::1]:8000"), `ALLOWED_HOSTS: "[::1]:8000" is not a valid host: a bracketed IPv6 address must end with ']' and have no port`},
		{"hosts bracket v4", with(base, "ALLOWED_HOSTS", "[127.0.0.1]"), `ALLOWED_HOSTS: "[127.0.0.1]" is not a valid host: not an IPv6 address`},
		{"hosts url", with(base, "ALLOWED_HOSTS", "https://example.com"), `ALLOWED_HOSTS: "https://example.com" is not a valid host: give the host name without a port`},
		{"hosts inner wildcard", with(base, "ALLOWED_HOSTS", "api.*.example.com"), `ALLOWED_HOSTS: "api.*.example.com" is not a valid host: use a host name, an IP address, "*.example.com" or "*"`},
		{"hosts empty label", with(base, "ALLOWED_HOSTS", "example..com"), `ALLOWED_HOSTS: "example..com" is not a valid host: use a host name, an IP address, "*.example.com" or "*"`},
		{"hosts bare wildcard dot", with(base, "ALLOWED_HOSTS", "*."), `ALLOWED_HOSTS: "*." is not a valid host: use a host name, an IP address, "*.example.com" or "*"`},
		{"hosts long label", with(base, "ALLOWED_HOSTS", strings.Repeat("a", 64)+".com"), `ALLOWED_HOSTS: "` + strings.Repeat("a", 64) + `"… is not a valid host: use a host name, an IP address, "*.example.com" or "*"`},
		{"hosts too long", with(base, "ALLOWED_HOSTS", strings.Repeat("a.", 127)+"a"), `ALLOWED_HOSTS: "` + strings.Repeat("a.", 32) + `"… is not a valid host: use a host name, an IP address, "*.example.com" or "*"`},
		{"origins wildcard", with(base, "CORS_ORIGINS", "*"), `CORS_ORIGINS: "*" is not allowed: credentials are allowed, so a wildcard would let any site act as the signed-in user; list the origins instead`},
		{"origins wildcard json", with(base, "CORS_ORIGINS", `["http://localhost:8000","*"]`), `CORS_ORIGINS: "*" is not allowed: credentials are allowed, so a wildcard would let any site act as the signed-in user; list the origins instead`},
		{"origins bad json", with(base, "CORS_ORIGINS", `["http://a.com"`), `CORS_ORIGINS: must be a JSON array of strings, such as ["a","b"], or a comma-separated list`},
		{"origins no scheme", with(base, "CORS_ORIGINS", "localhost:8000"), `CORS_ORIGINS: "localhost:8000" is not an origin: the scheme must be http or https, e.g. https://app.example.com`},
		{"origins ftp", with(base, "CORS_ORIGINS", "ftp://example.com"), `CORS_ORIGINS: "ftp://example.com" is not an origin: the scheme must be http or https, e.g. https://app.example.com`},
		{"origins null", with(base, "CORS_ORIGINS", "null"), `CORS_ORIGINS: "null" is not an origin: the scheme must be http or https, e.g. https://app.example.com`},
		{"origins opaque", with(base, "CORS_ORIGINS", "http:example.com"), `CORS_ORIGINS: "http:example.com" is not an origin: a host is required, e.g. https://app.example.com`},
		{"origins no host", with(base, "CORS_ORIGINS", "https://"), `CORS_ORIGINS: "https://" is not an origin: a host is required, e.g. https://app.example.com`},
		{"origins path", with(base, "CORS_ORIGINS", "https://example.com/app"), `CORS_ORIGINS: "https://example.com/app" is not an origin: must not contain a path`},
		{"origins two slashes", with(base, "CORS_ORIGINS", "https://example.com//"), `CORS_ORIGINS: "https://example.com//" is not an origin: must not contain a path`},
		{"origins query", with(base, "CORS_ORIGINS", "https://example.com?a=1"), `CORS_ORIGINS: "https://example.com?a=1" is not an origin: must not contain a query`},
		{"origins empty query", with(base, "CORS_ORIGINS", "https://example.com/?"), `CORS_ORIGINS: "https://example.com/?" is not an origin: must not contain a query`},
		{"origins fragment", with(base, "CORS_ORIGINS", "https://example.com#top"), `CORS_ORIGINS: "https://example.com#top" is not an origin: must not contain a fragment`},
		{"origins empty fragment", with(base, "CORS_ORIGINS", "https://example.com#"), `CORS_ORIGINS: "https://example.com#" is not an origin: must not contain a fragment`},
		{"origins userinfo", with(base, "CORS_ORIGINS", "https://me@example.com"), `CORS_ORIGINS: "https://me@example.com" is not an origin: must not contain a user name or password`},
		{"origins bad port", with(base, "CORS_ORIGINS", "https://example.com:99999"), `CORS_ORIGINS: "https://example.com:99999" is not an origin: the port must be a number from 1 to 65535`},
		{"origins port zero", with(base, "CORS_ORIGINS", "https://example.com:0"), `CORS_ORIGINS: "https://example.com:0" is not an origin: the port must be a number from 1 to 65535`},
		{"origins empty port", with(base, "CORS_ORIGINS", "https://example.com:"), `CORS_ORIGINS: "https://example.com:" is not an origin: the port is empty`},
		{"origins unparsable", with(base, "CORS_ORIGINS", "http://exa mple.com"), `CORS_ORIGINS: "http://exa mple.com" is not an origin: cannot be parsed as a URL`},
		{"origins wildcard host", with(base, "CORS_ORIGINS", "https://*.example.com"), `CORS_ORIGINS: "https://*.example.com" is not an origin: the host is not a valid host name or IP address`},
		{"origins bad host", with(base, "CORS_ORIGINS", "https://exa_mple..com"), `CORS_ORIGINS: "https://exa_mple..com" is not an origin: the host is not a valid host name or IP address`},
		{"auto migrate", with(base, "AUTO_MIGRATE", "maybe"), `AUTO_MIGRATE: must be true or false (or 1/0, yes/no, on/off; got "maybe")`},
		{"https redirect", with(base, "ENABLE_HTTPS_REDIRECT", "2"), `ENABLE_HTTPS_REDIRECT: must be true or false (or 1/0, yes/no, on/off; got "2")`},
		{"max body not a number", with(base, "FORTRESS_MAX_BODY_BYTES", "1MiB"), `FORTRESS_MAX_BODY_BYTES: must be a whole number (got "1MiB")`},
		{"max body too small", with(base, "FORTRESS_MAX_BODY_BYTES", "1023"), `FORTRESS_MAX_BODY_BYTES: must be between 1024 and 67108864 (got "1023")`},
		{"max body too big", with(base, "FORTRESS_MAX_BODY_BYTES", "67108865"), `FORTRESS_MAX_BODY_BYTES: must be between 1024 and 67108864 (got "67108865")`},
		{"max body overflow", with(base, "FORTRESS_MAX_BODY_BYTES", "99999999999999999999"), `FORTRESS_MAX_BODY_BYTES: must be between 1024 and 67108864 (got "99999999999999999999")`},
		{"shutdown too short", with(base, "FORTRESS_SHUTDOWN_TIMEOUT", "999ms"), `FORTRESS_SHUTDOWN_TIMEOUT: must be between 1s and 5m (got "999ms")`},
		{"shutdown too long", with(base, "FORTRESS_SHUTDOWN_TIMEOUT", "1h"), `FORTRESS_SHUTDOWN_TIMEOUT: must be between 1s and 5m (got "1h")`},
		{"shutdown garbage", with(base, "FORTRESS_SHUTDOWN_TIMEOUT", "soon"), `FORTRESS_SHUTDOWN_TIMEOUT: must be a duration such as 30s, 15m or 1h (got "soon")`},
		{"log level", with(base, "FORTRESS_LOG_LEVEL", "verbose"), `FORTRESS_LOG_LEVEL: must be one of debug, info, warn, error (got "verbose")`},
		{"log format", with(base, "FORTRESS_LOG_FORMAT", "logfmt"), `FORTRESS_LOG_FORMAT: must be one of json, text (got "logfmt")`},
		{"argon2 memory too low", with(base, "FORTRESS_ARGON2_MEMORY_KIB", "8191"), `FORTRESS_ARGON2_MEMORY_KIB: must be between 8192 and 1048576 (got "8191")`},
		{"argon2 memory too high", with(base, "FORTRESS_ARGON2_MEMORY_KIB", "1048577"), `FORTRESS_ARGON2_MEMORY_KIB: must be between 8192 and 1048576 (got "1048577")`},
		{"argon2 memory production", with(base, "FORTRESS_ENV", "production", "FORTRESS_ARGON2_MEMORY_KIB", "19455"), `FORTRESS_ARGON2_MEMORY_KIB: must be at least 19456 in production (got 19455)`},
		{"argon2 time zero", with(base, "FORTRESS_ARGON2_TIME", "0"), `FORTRESS_ARGON2_TIME: must be between 1 and 20 (got "0")`},
		{"argon2 time high", with(base, "FORTRESS_ARGON2_TIME", "21"), `FORTRESS_ARGON2_TIME: must be between 1 and 20 (got "21")`},
		{"argon2 threads zero", with(base, "FORTRESS_ARGON2_THREADS", "0"), `FORTRESS_ARGON2_THREADS: must be between 1 and 16 (got "0")`},
		{"argon2 threads high", with(base, "FORTRESS_ARGON2_THREADS", "256"), `FORTRESS_ARGON2_THREADS: must be between 1 and 16 (got "256")`},
		{"db conns zero", with(base, "FORTRESS_DB_MAX_CONNS", "0"), `FORTRESS_DB_MAX_CONNS: must be between 1 and 1000 (got "0")`},
		{"db conns float", with(base, "FORTRESS_DB_MAX_CONNS", "1.5"), `FORTRESS_DB_MAX_CONNS: must be a whole number (got "1.5")`},
		{"long value shortened", with(base, "FORTRESS_LOG_FORMAT", strings.Repeat("z", 100)), `FORTRESS_LOG_FORMAT: must be one of json, text (got "` + strings.Repeat("z", 64) + `"…)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := loadErr(t, tt.vars)
			if got != tt.want {
				t.Errorf("error:\n got %s\nwant %s", got, tt.want)
			}
			for _, name := range secretVariables {
				if v := tt.vars[name]; v != "" && strings.Contains(got, v) {
					t.Errorf("error %q contains the value of %s", got, name)
				}
			}
		})
	}
}

func TestLoadReportsEveryProblem(t *testing.T) {
	got := loadErr(t, map[string]string{
		"FORTRESS_ENV":         "production",
		"DATABASE_URL":         "mysql://root:hunter2@db/f",
		"JWT_SECRET_KEY":       "hunter2",
		"CORS_ORIGINS":         "*,https://ok.example,https://x.example/path",
		"FORTRESS_LOG_LEVEL":   "loud",
		"FORTRESS_ARGON2_TIME": "0",
	})
	want := strings.Join([]string{
		`DATABASE_URL: must start with postgres://, postgresql://, sqlite: or file:`,
		`JWT_SECRET_KEY: must be at least 32 bytes (got 7)`,
		`CORS_ORIGINS: "*" is not allowed: credentials are allowed, so a wildcard would let any site act as the signed-in user; list the origins instead`,
		`CORS_ORIGINS: "https://x.example/path" is not an origin: must not contain a path`,
		`FORTRESS_LOG_LEVEL: must be one of debug, info, warn, error (got "loud")`,
		`FORTRESS_ARGON2_TIME: must be between 1 and 20 (got "0")`,
	}, "\n")
	if got != want {
		t.Errorf("error:\n got %s\nwant %s", got, want)
	}
	if strings.Contains(got, "hunter2") {
		t.Errorf("error %q contains a secret", got)
	}
}

func TestLoadLists(t *testing.T) {
	base := map[string]string{"JWT_SECRET_KEY": goodKey}
	tests := []struct {
		name      string
		hosts     string
		origins   string
		wantHosts []string
		wantOrig  []string
	}{
		{"json as in the seed", `["localhost","127.0.0.1"]`, `["http://localhost:8000","http://127.0.0.1:8000"]`,
			[]string{"localhost", "127.0.0.1"}, []string{"http://localhost:8000", "http://127.0.0.1:8000"}},
		{"comma-separated", "localhost, 127.0.0.1", "http://localhost:8000 , http://127.0.0.1:8000",
			[]string{"localhost", "127.0.0.1"}, []string{"http://localhost:8000", "http://127.0.0.1:8000"}},
		{"json with blanks and spaces", ` [ "Example.COM" , " ", "" ] `, `["HTTPS://App.Example.com/"," "]`,
			[]string{"example.com"}, []string{"https://app.example.com"}},
		{"empty entries dropped", ",api.example.com,,", ",https://a.example,,",
			[]string{"api.example.com"}, []string{"https://a.example"}},
		{"duplicates folded", "a.example,A.EXAMPLE", "https://a.example,https://a.example/,https://a.example:443",
			[]string{"a.example"}, []string{"https://a.example"}},
		{"wildcards and ipv6", `*.Example.com,[::1],[0:0:0:0:0:0:0:1],::FFFF:10.0.0.1,*`, "http://[::1]:8000,http://[::1]:80",
			[]string{"*.example.com", "::1", "::ffff:10.0.0.1", "*"}, []string{"http://[::1]:8000", "http://[::1]"}},
		{"underscore and ipv4", "my_host.internal,10.0.0.1", "http://10.0.0.1:3000,https://x.example:8443",
			[]string{"my_host.internal", "10.0.0.1"}, []string{"http://10.0.0.1:3000", "https://x.example:8443"}},
		{"bracketed ipv6 first, not json", "[::1], localhost", "", []string{"::1", "localhost"}, []string{}},
		{"bracketed ipv6 alone", "[2001:DB8::1]", "", []string{"2001:db8::1"}, []string{}},
		{"json with newlines", "[\n \"a.example\"\n]", "[\n]", []string{"a.example"}, []string{}},
		{"origin blank list", "localhost", " , ", []string{"localhost"}, []string{}},
		{"origin empty json", "localhost", "[]", []string{"localhost"}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustLoad(t, with(base, "ALLOWED_HOSTS", tt.hosts, "CORS_ORIGINS", tt.origins))
			if !reflect.DeepEqual(c.AllowedHosts, tt.wantHosts) {
				t.Errorf("AllowedHosts: got %q, want %q", c.AllowedHosts, tt.wantHosts)
			}
			if !reflect.DeepEqual(c.CORSOrigins, tt.wantOrig) {
				t.Errorf("CORSOrigins: got %q, want %q", c.CORSOrigins, tt.wantOrig)
			}
		})
	}
}

func TestLoadProductionRules(t *testing.T) {
	prod := map[string]string{"FORTRESS_ENV": "production", "JWT_SECRET_KEY": goodKey}

	c := mustLoad(t, prod)
	if !c.Production() || c.JWTSecretGenerated || len(c.Warnings) != 0 {
		t.Errorf("production with a good key: got Production=%v JWTSecretGenerated=%v Warnings=%q, want true false []",
			c.Production(), c.JWTSecretGenerated, c.Warnings)
	}

	c = mustLoad(t, with(prod, "ALLOWED_HOSTS", "*"))
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], `ALLOWED_HOSTS contains "*"`) {
		t.Errorf("production with ALLOWED_HOSTS=*: got warnings %q, want one about the Host check", c.Warnings)
	}
	c = mustLoad(t, with(prod, "FORTRESS_ENV", "development", "ALLOWED_HOSTS", "*"))
	if len(c.Warnings) != 0 {
		t.Errorf("development with ALLOWED_HOSTS=*: got warnings %q, want none", c.Warnings)
	}

	// The same placeholder is only a warning in development.
	for _, key := range []string{PlaceholderJWTSecret, "xx-change-me-" + goodKey} {
		c = mustLoad(t, map[string]string{"JWT_SECRET_KEY": key})
		if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "placeholder") {
			t.Errorf("development with a placeholder key: got warnings %q, want one about the placeholder", c.Warnings)
		}
		if c.JWTSecret.Reveal() != key {
			t.Errorf("development with a placeholder key: the key was replaced, want it kept")
		}
		for _, w := range c.Warnings {
			if strings.Contains(w, key) {
				t.Errorf("warning %q contains the key", w)
			}
		}
	}
}

func TestLookupSecretFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	keyFile := write("jwt", goodKey+"\n")
	dbFile := write("db", "  postgres://u:s3cret@db/f\r\n")
	emptyFile := write("empty", " \n")
	bigFile := write("big", strings.Repeat("k", maxSecretFileBytes+1))
	exactFile := write("exact", strings.Repeat("k", maxSecretFileBytes))
	missing := filepath.Join(dir, "missing")

	c := mustLoad(t, map[string]string{"JWT_SECRET_KEY_FILE": keyFile, "DATABASE_URL_FILE": dbFile})
	if got := c.JWTSecret.Reveal(); got != goodKey {
		t.Errorf("JWTSecret from file: got %q, want %q", got, goodKey)
	}
	if got := c.DatabaseURL.Reveal(); got != "postgres://u:s3cret@db/f" {
		t.Errorf("DatabaseURL from file: got %q, want the URL without surrounding whitespace", got)
	}
	if c.Engine != EnginePostgres {
		t.Errorf("Engine from DATABASE_URL_FILE: got %q, want postgres", c.Engine)
	}
	if s, err := LookupSecret(env(map[string]string{"X_FILE": exactFile}), "X"); err != nil || len(s.Reveal()) != maxSecretFileBytes {
		t.Errorf("file of exactly the limit: got %d bytes, error %v; want %d bytes, no error", len(s.Reveal()), err, maxSecretFileBytes)
	}

	tests := []struct {
		name string
		vars map[string]string
		want string
	}{
		{"both set", map[string]string{"JWT_SECRET_KEY": goodKey, "JWT_SECRET_KEY_FILE": keyFile},
			"JWT_SECRET_KEY: set either JWT_SECRET_KEY or JWT_SECRET_KEY_FILE, not both"},
		{"missing file", map[string]string{"JWT_SECRET_KEY_FILE": missing},
			"JWT_SECRET_KEY_FILE: cannot read the file " + quote(missing) + ": no such file or directory"},
		{"directory", map[string]string{"DATABASE_URL_FILE": dir},
			"DATABASE_URL_FILE: cannot read the file " + quote(dir) + ": is a directory"},
		{"empty file", map[string]string{"JWT_SECRET_KEY_FILE": emptyFile},
			"JWT_SECRET_KEY_FILE: the file " + quote(emptyFile) + " is empty"},
		{"file too big", map[string]string{"JWT_SECRET_KEY_FILE": bigFile},
			"JWT_SECRET_KEY_FILE: cannot read the file " + quote(bigFile) + ": it is larger than 65536 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := loadErr(t, tt.vars); got != tt.want {
				t.Errorf("error:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

// TestLookupSecretIsReusable shows how a later secret (REDIS_URL, say) is read.
func TestLookupSecretIsReusable(t *testing.T) {
	p := filepath.Join(t.TempDir(), "redis")
	if err := os.WriteFile(p, []byte("redis://:pw@cache:6379\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := LookupSecret(env(map[string]string{"REDIS_URL_FILE": p}), "REDIS_URL")
	if err != nil || s.Reveal() != "redis://:pw@cache:6379" {
		t.Errorf("LookupSecret(REDIS_URL): got %q, %v; want the file's content, no error", s.Reveal(), err)
	}
	s, err = LookupSecret(nil, "REDIS_URL")
	if err != nil || s.IsSet() {
		t.Errorf("LookupSecret(nil getenv): got set=%v, %v; want an unset secret, no error", s.IsSet(), err)
	}

	names := SecretVariables()
	if want := []string{"DATABASE_URL", "JWT_SECRET_KEY", "JWT_PREVIOUS_SECRET_KEYS", "REDIS_URL"}; !reflect.DeepEqual(names, want) {
		t.Errorf("SecretVariables: got %q, want %q", names, want)
	}
	names[0] = "CHANGED"
	if SecretVariables()[0] != "DATABASE_URL" {
		t.Errorf("SecretVariables: changing the returned slice changed the package's list")
	}
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Second: "1s", time.Minute: "1m", 5 * time.Minute: "5m", 24 * time.Hour: "24h",
		90 * time.Minute: "1h30m", 1500 * time.Millisecond: "1.5s",
	} {
		if got := shortDuration(d); got != want {
			t.Errorf("shortDuration(%v): got %q, want %q", d, got, want)
		}
	}
}

func TestLoadDatabaseNeedsOnlyTheDatabase(t *testing.T) {
	env := map[string]string{"FORTRESS_ENV": "production", "DATABASE_URL": "postgres://u:pw@db/app", "FORTRESS_DB_MAX_CONNS": "7"}
	d, err := LoadDatabase(func(k string) string { return env[k] })
	if err != nil || d.Engine != EnginePostgres || d.URL.Reveal() != env["DATABASE_URL"] || d.MaxConns != 7 {
		t.Fatalf("LoadDatabase: got %+v, %v", d, err)
	}
	d, err = LoadDatabase(nil)
	if err != nil || d.Engine != EngineSQLite || d.SQLitePath != DefaultSQLitePath {
		t.Fatalf("LoadDatabase(empty): got %+v, %v; want the default SQLite file", d, err)
	}
	env = map[string]string{"DATABASE_URL": "mysql://x", "FORTRESS_DB_MAX_CONNS": "0"}
	_, err = LoadDatabase(func(k string) string { return env[k] })
	if err == nil || !strings.Contains(err.Error(), "DATABASE_URL:") || !strings.Contains(err.Error(), "FORTRESS_DB_MAX_CONNS:") {
		t.Fatalf("LoadDatabase(bad): got %v, want one line per bad variable", err)
	}
	full, err := Load(func(k string) string { return map[string]string{"FORTRESS_DB_MAX_CONNS": "3"}[k] })
	if err != nil || full.Database().MaxConns != 3 || full.Database().Engine != EngineSQLite {
		t.Fatalf("Config.Database: got %+v, %v", full.Database(), err)
	}
}

func TestAbuseResistanceSettings(t *testing.T) {
	load := func(vars map[string]string) (Config, error) {
		return Load(func(k string) string { return vars[k] })
	}
	c, err := load(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.RateLimit != (Rate{300, time.Minute}) || c.LoginRateLimit != (Rate{10, time.Minute}) ||
		c.RegisterRateLimit != (Rate{5, 10 * time.Minute}) || c.LoginFailuresMax != 5 || c.LoginLockout != 15*time.Minute ||
		c.HashConcurrency < 1 || c.HashQueue != 32 || c.HashWait != 3*time.Second || len(c.TrustedProxies) != 0 ||
		c.ReadHeaderTimeout != 5*time.Second || c.RedisURL.IsSet() {
		t.Fatalf("defaults: got %+v", c)
	}
	c, err = load(map[string]string{
		"FORTRESS_RATE_LIMIT": "off", "FORTRESS_LOGIN_RATE_LIMIT": "3/30s",
		"FORTRESS_TRUSTED_PROXIES": `["10.0.0.0/8","192.0.2.1","fd00::/8"]`,
		"FORTRESS_TLS_CERT_FILE":   "/c.pem", "FORTRESS_TLS_KEY_FILE": "/k.pem",
		"REDIS_URL": "redis://:pw@127.0.0.1:6379/0",
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.RateLimit.Limit != 0 || c.RateLimit.String() != "off" || c.LoginRateLimit != (Rate{3, 30 * time.Second}) ||
		c.LoginRateLimit.String() != "3/30s" || len(c.TrustedProxies) != 3 || c.TLSKeyFile != "/k.pem" ||
		c.RedisURL.Reveal() != "redis://:pw@127.0.0.1:6379/0" {
		t.Fatalf("set: got %+v", c)
	}
	if strings.Contains(c.String(), ":pw@") {
		t.Fatal("Config.String shows REDIS_URL")
	}
	bad := map[string]string{
		"FORTRESS_RATE_LIMIT":          "fast",
		"FORTRESS_LOGIN_RATE_LIMIT":    "0/1m",
		"FORTRESS_REGISTER_RATE_LIMIT": "5/1ms",
		"FORTRESS_TRUSTED_PROXIES":     "10.0.0.0/33",
		"FORTRESS_TLS_CERT_FILE":       "/only-cert.pem",
		"REDIS_URL":                    "http://secret-host:6379",
		"FORTRESS_HASH_CONCURRENCY":    "0",
		"FORTRESS_READ_HEADER_TIMEOUT": "1ns",
	}
	_, err = load(bad)
	if err == nil {
		t.Fatal("bad values: got nil error")
	}
	for name := range bad {
		if !strings.Contains(err.Error(), name+":") {
			t.Errorf("error lacks a line for %s: %v", name, err)
		}
	}
	if strings.Contains(err.Error(), "secret-host") {
		t.Fatalf("error shows the REDIS_URL value: %v", err)
	}
}

func TestLoadSigningKeys(t *testing.T) {
	const (
		prevA = "previous-key-a-0123456789abcdef-0123456789"
		prevB = "previous-key-b-0123456789abcdef-0123456789"
	)
	dir := t.TempDir()
	prevFile := filepath.Join(dir, "previous")
	if err := os.WriteFile(prevFile, []byte(prevA+"\r\n\n "+prevB+" \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	signing := map[string]string{"FORTRESS_JWT_SIGNING_KEY_FILE": "/run/secrets/jwt.pem"}
	base := map[string]string{"JWT_SECRET_KEY": goodKey}
	tests := []struct {
		name  string
		vars  map[string]string
		check func(t *testing.T, c Config)
	}{
		{"Ed25519 signing key without an HMAC key", signing, func(t *testing.T, c Config) {
			eq(t, "JWTSigningKeyFile", c.JWTSigningKeyFile, "/run/secrets/jwt.pem")
			eq(t, "JWTSecret.IsSet", c.JWTSecret.IsSet(), false)
			eq(t, "JWTSecretGenerated", c.JWTSecretGenerated, false)
			eq(t, "Warnings", len(c.Warnings), 0)
		}},
		{"Ed25519 signing key in production", with(signing, "FORTRESS_ENV", "production"), func(t *testing.T, c Config) {
			eq(t, "Production", c.Production(), true)
			eq(t, "JWTSecret.IsSet", c.JWTSecret.IsSet(), false)
			eq(t, "Warnings", len(c.Warnings), 0)
		}},
		{"Ed25519 signing key and a verifying HMAC key", with(signing, "JWT_SECRET_KEY", goodKey), func(t *testing.T, c Config) {
			eq(t, "JWTSecret", c.JWTSecret.Reveal(), goodKey)
			if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "JWT_SECRET_KEY only verifies tokens") {
				t.Errorf("Warnings: got %q, want one saying JWT_SECRET_KEY only verifies", c.Warnings)
			}
		}},
		{"verify key files as JSON", with(signing, "FORTRESS_JWT_VERIFY_KEY_FILES", `[" /keys/a.pub.pem ","/keys/b, with comma.pem","/keys/a.pub.pem",""]`), func(t *testing.T, c Config) {
			eqList(t, "JWTVerifyKeyFiles", c.JWTVerifyKeyFiles, []string{"/keys/a.pub.pem", "/keys/b, with comma.pem"})
		}},
		{"verify key files comma-separated, without a signing key", with(base, "FORTRESS_JWT_VERIFY_KEY_FILES", "/keys/a.pem, /keys/b.pem,"), func(t *testing.T, c Config) {
			eqList(t, "JWTVerifyKeyFiles", c.JWTVerifyKeyFiles, []string{"/keys/a.pem", "/keys/b.pem"})
			eq(t, "JWTSigningKeyFile", c.JWTSigningKeyFile, "")
		}},
		{"no verify key files", with(base, "FORTRESS_JWT_VERIFY_KEY_FILES", " "), func(t *testing.T, c Config) {
			eqList(t, "JWTVerifyKeyFiles", c.JWTVerifyKeyFiles, nil)
			eqList(t, "JWTPreviousSecrets", revealAll(c.JWTPreviousSecrets), nil)
		}},
		{"previous secrets comma-separated", with(base, "JWT_PREVIOUS_SECRET_KEYS", prevA+" , "+prevB+",,"), func(t *testing.T, c Config) {
			eqList(t, "JWTPreviousSecrets", revealAll(c.JWTPreviousSecrets), []string{prevA, prevB})
			eq(t, "Warnings", len(c.Warnings), 0)
		}},
		{"previous secrets as JSON", with(base, "JWT_PREVIOUS_SECRET_KEYS", `["`+prevB+`", " ", "`+prevA+`", "`+prevB+`"]`), func(t *testing.T, c Config) {
			eqList(t, "JWTPreviousSecrets", revealAll(c.JWTPreviousSecrets), []string{prevB, prevA})
		}},
		{"previous secrets one per line in a file", with(base, "JWT_PREVIOUS_SECRET_KEYS_FILE", prevFile), func(t *testing.T, c Config) {
			eqList(t, "JWTPreviousSecrets", revealAll(c.JWTPreviousSecrets), []string{prevA, prevB})
		}},
		{"previous secrets with an Ed25519 signing key", with(signing, "FORTRESS_ENV", "production", "JWT_PREVIOUS_SECRET_KEYS", prevA), func(t *testing.T, c Config) {
			eqList(t, "JWTPreviousSecrets", revealAll(c.JWTPreviousSecrets), []string{prevA})
			eq(t, "JWTSecret.IsSet", c.JWTSecret.IsSet(), false)
		}},
		{"previous secret equal to the current one", with(base, "JWT_PREVIOUS_SECRET_KEYS", goodKey), func(t *testing.T, c Config) {
			if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "JWT_PREVIOUS_SECRET_KEYS entry 1 is JWT_SECRET_KEY itself") {
				t.Errorf("Warnings: got %q, want one about entry 1", c.Warnings)
			}
		}},
		{"previous placeholder in development", with(base, "JWT_PREVIOUS_SECRET_KEYS", prevA+","+PlaceholderJWTSecret), func(t *testing.T, c Config) {
			eqList(t, "JWTPreviousSecrets", revealAll(c.JWTPreviousSecrets), []string{prevA, PlaceholderJWTSecret})
			if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "JWT_PREVIOUS_SECRET_KEYS entry 2 is the .env.example placeholder") {
				t.Errorf("Warnings: got %q, want one about entry 2", c.Warnings)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustLoad(t, tt.vars)
			tt.check(t, c)
			out := c.String() + strings.Join(c.Warnings, "\n") + fmt.Sprintf("%+v %#v", c, c)
			for _, secret := range []string{prevA, prevB, goodKey} {
				if strings.Contains(out, secret) {
					t.Errorf("String, Warnings or fmt show a secret:\n%s", out)
				}
			}
		})
	}

	invalid := []struct {
		name string
		vars map[string]string
		want string
	}{
		{"previous entry too short", with(base, "JWT_PREVIOUS_SECRET_KEYS", prevA+",hunter2-short"),
			"JWT_PREVIOUS_SECRET_KEYS: entry 2 must be at least 32 bytes (got 13)"},
		{"previous JSON malformed", with(base, "JWT_PREVIOUS_SECRET_KEYS", `["`+prevA+`"`),
			`JWT_PREVIOUS_SECRET_KEYS: must be a JSON array of strings, such as ["key1","key2"], or a list separated by commas or newlines`},
		{"previous JSON of numbers", with(base, "JWT_PREVIOUS_SECRET_KEYS", `[12345678901234567890123456789012345]`),
			`JWT_PREVIOUS_SECRET_KEYS: must be a JSON array of strings, such as ["key1","key2"], or a list separated by commas or newlines`},
		{"previous placeholder in production", with(base, "FORTRESS_ENV", "production", "JWT_PREVIOUS_SECRET_KEYS", prevA+"\n"+PlaceholderJWTSecret),
			"JWT_PREVIOUS_SECRET_KEYS: entry 2 is the .env.example placeholder; remove it"},
		{"previous and its file", with(base, "JWT_PREVIOUS_SECRET_KEYS", prevA, "JWT_PREVIOUS_SECRET_KEYS_FILE", prevFile),
			"JWT_PREVIOUS_SECRET_KEYS: set either JWT_PREVIOUS_SECRET_KEYS or JWT_PREVIOUS_SECRET_KEYS_FILE, not both"},
		{"previous file missing", with(base, "JWT_PREVIOUS_SECRET_KEYS_FILE", filepath.Join(dir, "nope")),
			"JWT_PREVIOUS_SECRET_KEYS_FILE: cannot read the file " + quote(filepath.Join(dir, "nope")) + ": no such file or directory"},
		{"signing key path with a control character", with(base, "FORTRESS_JWT_SIGNING_KEY_FILE", "/run/jwt\n.pem"),
			"FORTRESS_JWT_SIGNING_KEY_FILE: must not contain control characters"},
		{"verify key path with a control character", with(base, "FORTRESS_JWT_VERIFY_KEY_FILES", "/a.pem,/b\x00.pem"),
			`FORTRESS_JWT_VERIFY_KEY_FILES: "/b\x00.pem" must not contain control characters`},
		{"verify key files malformed JSON", with(base, "FORTRESS_JWT_VERIFY_KEY_FILES", `["/a.pem",`),
			`FORTRESS_JWT_VERIFY_KEY_FILES: must be a JSON array of strings, such as ["a","b"], or a comma-separated list`},
		{"placeholder HMAC key beside a signing key in production", with(signing, "FORTRESS_ENV", "production", "JWT_SECRET_KEY", PlaceholderJWTSecret),
			"JWT_SECRET_KEY: is the .env.example placeholder; generate a key, e.g. with: openssl rand -base64 48"},
		{"short HMAC key beside a signing key", with(signing, "JWT_SECRET_KEY", "hunter2-short"),
			"JWT_SECRET_KEY: must be at least 32 bytes (got 13)"},
		{"no key at all in production", map[string]string{"FORTRESS_ENV": "production", "JWT_PREVIOUS_SECRET_KEYS": prevA},
			"JWT_SECRET_KEY: is required in production (set JWT_SECRET_KEY or JWT_SECRET_KEY_FILE to at least 32 random bytes, or FORTRESS_JWT_SIGNING_KEY_FILE to an Ed25519 key)"},
	}
	for _, tt := range invalid {
		t.Run(tt.name, func(t *testing.T) {
			got := loadErr(t, tt.vars)
			if got != tt.want {
				t.Errorf("error:\n got %s\nwant %s", got, tt.want)
			}
			for _, secret := range []string{prevA, prevB, "hunter2", goodKey} {
				if strings.Contains(got, secret) {
					t.Errorf("error %q contains a secret", got)
				}
			}
		})
	}
}

func revealAll(secrets []Secret) []string {
	var out []string
	for _, s := range secrets {
		out = append(out, s.Reveal())
	}
	return out
}

func eqList(t *testing.T, field string, got, want []string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: got %q, want %q", field, got, want)
	}
}
