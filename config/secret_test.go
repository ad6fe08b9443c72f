package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"
)

const (
	knownKey      = "jwt-key-that-must-never-be-printed-0123456789"
	knownDB       = "postgres://fortress:db-password-never-printed@db:5432/fortress"
	knownPrevious = "previous-jwt-key-never-printed-0123456789"
)

func TestSecretFormatting(t *testing.T) {
	set, empty := NewSecret(knownKey), NewSecret("")
	if !set.IsSet() || set.Reveal() != knownKey {
		t.Errorf("set secret: got IsSet=%v Reveal=%q, want true and the value", set.IsSet(), set.Reveal())
	}
	if empty.IsSet() || empty.Reveal() != "" {
		t.Errorf("empty secret: got IsSet=%v Reveal=%q, want false and \"\"", empty.IsSet(), empty.Reveal())
	}
	holder := struct {
		Key  Secret
		Ptr  *Secret
		List []Secret
	}{set, &set, []Secret{set}}

	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3v", "%T"} {
		for _, arg := range []any{set, &set, holder, &holder} {
			got := fmt.Sprintf(verb, arg)
			if strings.Contains(got, knownKey) || strings.Contains(got, fmt.Sprintf("%x", knownKey)) ||
				strings.Contains(got, fmt.Sprintf("%X", knownKey)) {
				t.Errorf("Sprintf(%q, %T): got %q, which shows the secret", verb, arg, got)
			}
		}
	}
	for _, tt := range []struct{ verb, want string }{{"%v", redacted}, {"%+v", redacted}, {"%#v", redacted}, {"%s", redacted}} {
		if got := fmt.Sprintf(tt.verb, set); got != tt.want {
			t.Errorf("Sprintf(%q, set): got %q, want %q", tt.verb, got, tt.want)
		}
		if got := fmt.Sprintf(tt.verb, empty); got != "" {
			t.Errorf("Sprintf(%q, empty): got %q, want \"\"", tt.verb, got)
		}
	}
	if got, want := set.GoString(), redacted; got != want {
		t.Errorf("GoString: got %q, want %q", got, want)
	}
	if got := fmt.Sprint(set, empty); got != redacted+" " {
		t.Errorf("Sprint: got %q, want %q", got, redacted+" ")
	}
}

func TestSecretJSON(t *testing.T) {
	b, err := json.Marshal(map[string]any{"set": NewSecret(knownKey), "empty": NewSecret(""), "ptr": ptr(NewSecret(knownKey))})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"empty":"","ptr":"[REDACTED]","set":"[REDACTED]"}`; got != want {
		t.Errorf("json.Marshal: got %s, want %s", got, want)
	}
	b, err = json.Marshal(map[Secret]int{NewSecret(knownKey): 1})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"[REDACTED]":1}`; got != want {
		t.Errorf("json.Marshal as map key: got %s, want %s", got, want)
	}
}

func ptr[T any](v T) *T { return &v }

// TestNothingLogsSecrets logs secrets and a whole Config in every way a caller might, through both
// standard handlers, and greps the output for the known values.
func TestNothingLogsSecrets(t *testing.T) {
	c := mustLoad(t, map[string]string{"JWT_SECRET_KEY": knownKey, "DATABASE_URL": knownDB, "JWT_PREVIOUS_SECRET_KEYS": knownPrevious})
	for name, newHandler := range map[string]func(*bytes.Buffer) slog.Handler{
		"json": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
		"text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
	} {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			log := slog.New(newHandler(&buf))
			log.Info("secret attr", "key", c.JWTSecret, "db", c.DatabaseURL, "previous", c.JWTPreviousSecrets)
			log.Info("secret pointer", "key", &c.JWTSecret)
			log.Info("config", "config", c)
			log.Info("config pointer", "config", &c)
			log.Info("config struct in a struct", "wrapped", struct{ C Config }{c})
			log.Info("config string", "config", c.String())
			log.Info("grouped", slog.Group("g", slog.Any("key", c.JWTSecret)))
			log.With("key", c.JWTSecret).Info("with")
			out := buf.String()
			for _, secret := range []string{knownKey, knownDB, "db-password-never-printed", knownPrevious} {
				if strings.Contains(out, secret) {
					t.Errorf("log output contains a secret:\n%s", out)
				}
			}
			if !strings.Contains(out, redacted) {
				t.Errorf("log output: got no %q, want the secrets shown redacted:\n%s", redacted, out)
			}
		})
	}

	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "config", c)
	var line struct {
		Config map[string]any `json:"config"`
	}
	if err := json.Unmarshal(buf.Bytes(), &line); err != nil {
		t.Fatalf("JSON log line: %v", err)
	}
	for key, want := range map[string]any{"jwt_secret": redacted, "database_url": redacted, "engine": "postgres", "db_max_conns": 10.0,
		"jwt_previous_secrets": []any{redacted}, "jwt_signing_key_file": "", "jwt_verify_key_files": nil} {
		if got := line.Config[key]; !reflect.DeepEqual(got, want) {
			t.Errorf("logged config %s: got %v, want %v", key, got, want)
		}
	}
	if len(line.Config) != 29 {
		t.Errorf("logged config: got %d attributes, want 29 (every field but Warnings)", len(line.Config))
	}
}

func TestConfigString(t *testing.T) {
	c := mustLoad(t, map[string]string{
		"JWT_SECRET_KEY":                knownKey,
		"DATABASE_URL":                  knownDB,
		"CORS_ORIGINS":                  "https://app.example",
		"JWT_PREVIOUS_SECRET_KEYS":      knownPrevious + ",another-previous-key-0123456789abcdef",
		"FORTRESS_JWT_SIGNING_KEY_FILE": "/run/secrets/jwt.pem",
		"FORTRESS_JWT_VERIFY_KEY_FILES": "/run/secrets/old.pub.pem",
	})
	s := c.String()
	for _, want := range []string{
		`Env="development"`, `Addr="127.0.0.1:8000"`, `Engine="postgres"`, `DatabaseURL="[REDACTED]"`,
		`SQLitePath=""`, `JWTSecret="[REDACTED]"`, `JWTSecretGenerated=false`,
		`JWTPreviousSecrets=["[REDACTED]","[REDACTED]"]`, `JWTSigningKeyFile="/run/secrets/jwt.pem"`,
		`JWTVerifyKeyFiles=["/run/secrets/old.pub.pem"]`, `JWTIssuer="fortress"`,
		`JWTAudience="fortress-api"`, `AccessTokenTTL=15m0s`, `AllowedHosts=["localhost","127.0.0.1","::1"]`,
		`CORSOrigins=["https://app.example"]`, `AutoMigrate=false`, `HTTPSRedirect=false`,
		`MaxBodyBytes=1048576`, `ShutdownTimeout=15s`, `LogLevel=INFO`, `LogFormat="json"`,
		`Argon2MemoryKiB=19456`, `Argon2Time=2`, `Argon2Threads=1`, `DBMaxConns=10`,
	} {
		if !strings.Contains(s, want+"\n") && !strings.HasSuffix(s, want) {
			t.Errorf("String: got\n%s\nwant a line %s", s, want)
		}
	}
	if lines := strings.Count(s, "\n") + 1; lines != 30 {
		t.Errorf("String: got %d lines, want 30 (one per field)", lines)
	}
	outs := []string{s, fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprintf("%v", &c)}
	for _, verb := range []string{"%d", "%x", "%q"} { // a variable verb, since vet rightly flags %d on a struct
		outs = append(outs, fmt.Sprintf(verb, c))
	}
	for _, out := range outs {
		if strings.Contains(out, knownKey) || strings.Contains(out, "db-password-never-printed") || strings.Contains(out, knownPrevious) {
			t.Errorf("formatted Config shows a secret:\n%s", out)
		}
	}
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), knownKey) || strings.Contains(string(b), "db-password-never-printed") || strings.Contains(string(b), knownPrevious) {
		t.Errorf("json.Marshal(Config) shows a secret: %s", b)
	}

	// A generated development key and its warning are listed without the key.
	c = mustLoad(t, nil)
	s = c.String()
	if !strings.Contains(s, `JWTSecretGenerated=true`) || !strings.Contains(s, `Warnings=["JWT_SECRET_KEY is not set`) ||
		!strings.Contains(s, `DatabaseURL=""`) || strings.Contains(s, c.JWTSecret.Reveal()) {
		t.Errorf("String of the default config: got\n%s\nwant the generated key flagged, warned about and hidden", s)
	}
}
