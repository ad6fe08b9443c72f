package config

import (
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// fuzzVariables is the order in which FuzzLoad's arguments are assigned.
var fuzzVariables = []string{
	"FORTRESS_ENV", "FORTRESS_ADDR", "DATABASE_URL", "JWT_SECRET_KEY", "FORTRESS_JWT_ISSUER",
	"FORTRESS_JWT_AUDIENCE", "FORTRESS_ACCESS_TOKEN_TTL", "ALLOWED_HOSTS", "CORS_ORIGINS", "AUTO_MIGRATE",
	"ENABLE_HTTPS_REDIRECT", "FORTRESS_MAX_BODY_BYTES", "FORTRESS_SHUTDOWN_TIMEOUT", "FORTRESS_LOG_LEVEL",
	"FORTRESS_LOG_FORMAT", "FORTRESS_ARGON2_MEMORY_KIB", "FORTRESS_ARGON2_TIME", "FORTRESS_ARGON2_THREADS",
	"FORTRESS_DB_MAX_CONNS", "JWT_PREVIOUS_SECRET_KEYS", "FORTRESS_JWT_SIGNING_KEY_FILE",
}

// secretLine lists every message a secret variable can produce: fixed text and numbers only, so a
// secret's value can never be part of it.
var secretLine = regexp.MustCompile(`^(DATABASE_URL: (` +
	`must start with postgres://, postgresql://, sqlite: or file:|` +
	`is not a valid URL \(percent-encode special characters in the user name and password\)|` +
	`the SQLite file path is empty|` +
	`the SQLite file path must not contain '\?' or '#' \(Fortress sets the driver options\)|` +
	`the SQLite file path must not contain control characters)` +
	`|JWT_SECRET_KEY: (` +
	`must be at least 32 bytes \(got \d+\)|` +
	`is required in production \(set JWT_SECRET_KEY or JWT_SECRET_KEY_FILE to at least 32 random bytes, ` +
	`or FORTRESS_JWT_SIGNING_KEY_FILE to an Ed25519 key\)|` +
	`is the \.env\.example placeholder; generate a key, e\.g\. with: openssl rand -base64 48)` +
	`|JWT_PREVIOUS_SECRET_KEYS: (` +
	`must be a JSON array of strings, such as \["key1","key2"\], or a list separated by commas or newlines|` +
	`entry \d+ must be at least 32 bytes \(got \d+\)|` +
	`entry \d+ is the \.env\.example placeholder; remove it))$`)

func FuzzLoad(f *testing.F) {
	seed := func(vals ...string) {
		var a [21]string
		copy(a[:], vals)
		f.Add(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12], a[13], a[14],
			a[15], a[16], a[17], a[18], a[19], a[20])
	}
	seed() // all defaults
	seed("production", ":8000", "postgres://fortress:pw-secret-value@db:5432/fortress?sslmode=require", goodKey,
		"fortress", "fortress-api", "30m", `["api.example.com","*.example.com"]`, `["https://app.example.com"]`,
		"false", "true", "2097152", "30s", "warn", "text", "65536", "3", "4", "50")
	seed("development", "127.0.0.1:8000", "sqlite:./data/fortress.db", PlaceholderJWTSecret,
		"", "", "", "localhost,127.0.0.1,[::1]", "http://localhost:8000,http://127.0.0.1:8000/")
	seed("staging", "nope", "mysql://root:hunter2-secret@db/x", "short-secret-key", "a\x00b", "", "-1h",
		"[1,2]", "*", "maybe", "2", "1e6", "forever", "loud", "xml", "1", "0", "300", "-5")
	seed("production", "", "file:f.db?mode=memory", "change-me-but-it-is-long-enough-to-pass-the-length")
	seed("", "", "postgres://u:p%zz@db/f", "")
	seed("production", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "", "",
		`["previous-secret-value-0123456789abcdef", "short-prev"]`, "/run/secrets/jwt.pem")
	seed("production", "", "", goodKey, "", "", "", "", "", "", "", "", "", "", "", "", "", "", "",
		"previous-secret-value-0123456789abcdef\n"+PlaceholderJWTSecret, "")

	f.Fuzz(func(t *testing.T, env0, addr, db, jwt, iss, aud, ttl, hosts, origins, auto, https, body,
		shutdown, level, format, mem, atime, threads, conns, previous, signingKeyFile string) {
		values := []string{env0, addr, db, jwt, iss, aud, ttl, hosts, origins, auto, https, body,
			shutdown, level, format, mem, atime, threads, conns, previous, signingKeyFile}
		vars := make(map[string]string, len(values))
		for i, v := range values {
			vars[fuzzVariables[i]] = v
		}

		c, err := Load(env(vars))
		if err != nil {
			checkFuzzError(t, vars, err.Error())
			return
		}
		checkFuzzConfig(t, vars, c)
	})
}

// leaks reports whether text shows the secret variable's value. Short values, and values that also
// occur in another variable (which may rightly be echoed), could match by coincidence and are skipped.
func leaks(vars map[string]string, secretName, text string) bool {
	secret := strings.TrimSpace(vars[secretName])
	if len(secret) < 12 {
		return false
	}
	for name, v := range vars {
		if name == secretName {
			continue
		}
		for _, form := range []string{v, strings.ToLower(v), strconv.Quote(v), quote(v), strconv.Quote(strings.ToLower(v))} {
			if strings.Contains(form, secret) {
				return false
			}
		}
	}
	return strings.Contains(text, secret)
}

func checkFuzzError(t *testing.T, vars map[string]string, msg string) {
	t.Helper()
	for _, line := range strings.Split(msg, "\n") {
		name, _, ok := strings.Cut(line, ": ")
		if _, known := vars[name]; !ok || !known {
			t.Errorf("error line %q: want it to start with the name of a variable", line)
		}
		if slices.Contains(secretVariables, name) && name != "REDIS_URL" && !secretLine.MatchString(line) {
			t.Errorf("error line %q for a secret variable: want one of the fixed messages", line)
		}
	}
	for _, name := range secretVariables {
		if leaks(vars, name, msg) {
			t.Errorf("error %q contains the value of %s", msg, name)
		}
	}
}

func checkFuzzConfig(t *testing.T, vars map[string]string, c Config) {
	t.Helper()
	key := c.JWTSecret.Reveal()
	// Without an Ed25519 signing key, the HMAC key signs and must be there; with one, it is optional.
	if len(key) < MinJWTSecretBytes && (c.JWTSigningKeyFile == "" || key != "") {
		t.Errorf("JWTSecret: got %d bytes, want at least %d", len(key), MinJWTSecretBytes)
	}
	if c.JWTSigningKeyFile != "" && c.JWTSecretGenerated {
		t.Errorf("JWTSecretGenerated: got true with a signing key file, want no generated key")
	}
	for i, prev := range c.JWTPreviousSecrets {
		if p := prev.Reveal(); len(p) < MinJWTSecretBytes || c.Production() && strings.Contains(strings.ToLower(p), "change-me") {
			t.Errorf("JWTPreviousSecrets[%d]: got %d bytes (placeholder or too short), want a real key", i, len(p))
		}
	}
	if c.Production() && (c.JWTSecretGenerated || strings.Contains(strings.ToLower(key), "change-me") ||
		c.Argon2MemoryKiB < Argon2MemoryKiBProductionMin) {
		t.Errorf("production accepted a development setting:\n%s", c)
	}
	if c.Env != EnvDevelopment && c.Env != EnvProduction {
		t.Errorf("Env: got %q, want development or production", c.Env)
	}
	switch {
	case c.Engine == EngineSQLite && c.SQLitePath == "":
		t.Errorf("SQLitePath: got \"\" with engine sqlite, want a path")
	case c.Engine != EngineSQLite && c.Engine != EnginePostgres:
		t.Errorf("Engine: got %q, want sqlite or postgres", c.Engine)
	}
	if len(c.AllowedHosts) == 0 {
		t.Errorf("AllowedHosts: got none, want at least one")
	}
	for _, o := range c.CORSOrigins {
		if !strings.HasPrefix(o, "http://") && !strings.HasPrefix(o, "https://") || strings.Contains(o, "*") ||
			strings.HasSuffix(o, "/") {
			t.Errorf("CORSOrigins: got %q, want only origins", o)
		}
	}
	inRange := func(name string, n, lo, hi int64) {
		if n < lo || n > hi {
			t.Errorf("%s: got %d, want %d..%d", name, n, lo, hi)
		}
	}
	inRange("AccessTokenTTL", int64(c.AccessTokenTTL), int64(time.Minute), int64(24*time.Hour))
	inRange("ShutdownTimeout", int64(c.ShutdownTimeout), int64(time.Second), int64(5*time.Minute))
	inRange("MaxBodyBytes", c.MaxBodyBytes, 1024, 64<<20)
	inRange("Argon2MemoryKiB", int64(c.Argon2MemoryKiB), 8192, 1<<20)
	inRange("Argon2Time", int64(c.Argon2Time), 1, 20)
	inRange("Argon2Threads", int64(c.Argon2Threads), 1, 16)
	inRange("DBMaxConns", int64(c.DBMaxConns), 1, 1000)

	// String depends on a secret only through whether it is set: swapping the values changes nothing.
	swapped := c
	if c.JWTSecret.IsSet() {
		swapped.JWTSecret = NewSecret("another value of the same kind, 32+ bytes")
	}
	swapped.JWTPreviousSecrets = nil
	for range c.JWTPreviousSecrets {
		swapped.JWTPreviousSecrets = append(swapped.JWTPreviousSecrets, NewSecret("another previous key, 32+ bytes long"))
	}
	if c.DatabaseURL.IsSet() {
		swapped.DatabaseURL = NewSecret("postgres://other")
	}
	if c.String() != swapped.String() {
		t.Errorf("String depends on a secret's value:\n%s\nversus\n%s", c, swapped)
	}
	text := c.String() + "\n" + strings.Join(c.Warnings, "\n")
	for _, name := range secretVariables {
		if leaks(vars, name, text) {
			t.Errorf("String or Warnings contain the value of %s:\n%s", name, text)
		}
	}
}
