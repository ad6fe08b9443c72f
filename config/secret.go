package config

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
)

// redacted is what a set Secret shows instead of its value.
const redacted = "[REDACTED]"

// maxSecretFileBytes caps what a NAME_FILE variable may point at, so that a mistake such as
// JWT_SECRET_KEY_FILE=/dev/zero fails at start-up instead of filling memory.
const maxSecretFileBytes = 64 << 10

// secretVariables names every variable whose value is a secret. Each may instead be given as NAME_FILE
// (Docker and Kubernetes secrets), its value never appears in an error, a warning or Config.String, and
// the tests check all of that for every name listed here. A new secret (REDIS_URL, say) is one line here
// plus its field.
var secretVariables = []string{
	"DATABASE_URL",
	"JWT_SECRET_KEY",
	"JWT_PREVIOUS_SECRET_KEYS",
	"REDIS_URL",
}

// SecretVariables returns the names of the variables that hold secrets, so that tools which show the
// environment (diagnostics, tests) know which values they must never print.
func SecretVariables() []string {
	return append([]string(nil), secretVariables...)
}

// Secret is a string that never prints itself, so that a configuration value such as a password or a
// signing key cannot reach a log line, an error or a JSON document by accident. Every way of formatting
// it (fmt verbs, slog, encoding/json, encoding.TextMarshaler) gives "[REDACTED]" when it is set and ""
// when it is empty; only Reveal returns the value.
type Secret struct{ v string }

// NewSecret wraps s so that it can be passed around without being printed.
func NewSecret(s string) Secret { return Secret{v: s} }

// Reveal returns the value. Call it only where the value is used (a driver, a MAC), never to log it.
func (s Secret) Reveal() string { return s.v }

// IsSet reports whether the secret has a value, which is all that may be said about it in public.
func (s Secret) IsSet() bool { return s.v != "" }

// String gives "[REDACTED]" when set and "" when empty, so fmt's %v and %s hide the value.
func (s Secret) String() string {
	if s.v == "" {
		return ""
	}
	return redacted
}

// GoString hides the value from %#v, which would otherwise print the struct's field.
func (s Secret) GoString() string { return s.String() }

// Format hides the value from every fmt verb, including the ones (%d, %x on a struct) that bypass
// String and GoString.
func (s Secret) Format(f fmt.State, _ rune) {
	_, _ = io.WriteString(f, s.String())
}

// LogValue implements slog.LogValuer, so that a Secret given to a logger as an attribute is redacted by
// every handler.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalJSON redacts the value in JSON documents, including a Config logged by slog's JSON handler.
func (s Secret) MarshalJSON() ([]byte, error) {
	if s.v == "" {
		return []byte(`""`), nil
	}
	return []byte(`"` + redacted + `"`), nil
}

// MarshalText redacts the value for encoders that use encoding.TextMarshaler (map keys, XML, YAML).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LookupSecret reads the secret variable name from getenv, or from the file named by name+"_FILE", the
// convention of Docker and Kubernetes secrets. Surrounding whitespace (the trailing newline most editors
// add) is trimmed. Setting both variables is an error, and so is a _FILE that cannot be read or is
// empty. Errors name the variable and never contain the secret.
func LookupSecret(getenv func(string) string, name string) (Secret, error) {
	if getenv == nil {
		getenv = emptyEnv
	}
	fileVar := name + "_FILE"
	value := strings.TrimSpace(getenv(name))
	path := strings.TrimSpace(getenv(fileVar))
	switch {
	case path == "":
		return NewSecret(value), nil
	case value != "":
		return Secret{}, varErrorf(name, "set either %s or %s, not both", name, fileVar)
	}
	content, err := readSecretFile(path)
	if err != nil {
		return Secret{}, varErrorf(fileVar, "cannot read the file %s: %v", quote(path), err)
	}
	content = strings.TrimSpace(content)
	if content == "" {
		return Secret{}, varErrorf(fileVar, "the file %s is empty", quote(path))
	}
	return NewSecret(content), nil
}

// readSecretFile returns the file's content, or an error that describes the failure without the path
// (the caller adds it) and without any of the content.
func readSecretFile(path string) (string, error) {
	f, err := os.Open(path) //nolint:gosec // G304: NAME_FILE names the secret file on purpose
	if err != nil {
		return "", pathReason(err)
	}
	// Read-only: everything wanted was read (or failed) before the close, which can lose nothing.
	defer func() { _ = f.Close() }()
	content, err := io.ReadAll(io.LimitReader(f, maxSecretFileBytes+1))
	if err != nil {
		return "", pathReason(err)
	}
	if len(content) > maxSecretFileBytes {
		return "", fmt.Errorf("it is larger than %d bytes", maxSecretFileBytes)
	}
	return string(content), nil
}

// pathReason strips the operation and path from an *os.PathError, keeping the reason ("no such file or
// directory", "permission denied").
func pathReason(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
