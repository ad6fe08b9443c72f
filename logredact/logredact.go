// Package logredact is the last line of defence between secrets and the log: a slog ReplaceAttr that
// blanks the values of attributes named like credentials, and any value that carries a bearer token, a
// JWT or a refresh-token cookie, whatever its name. The code never logs such things on purpose (secret
// types redact themselves, handlers log ids, not tokens); this catches the mistake that slips through,
// such as an error message that quotes a header.
package logredact

import (
	"log/slog"
	"regexp"
	"strings"
)

// Redacted replaces what is removed.
const Redacted = "[REDACTED]"

// sensitiveKeys are substrings of attribute names whose values are credentials.
var sensitiveKeys = []string{"password", "passwd", "secret", "token", "authorization", "cookie", "api_key",
	"apikey", "private_key", "credential"}

// allowedKeys contain a sensitive word but name no secret.
var allowedKeys = map[string]bool{"token_type": true}

// secretValue matches credentials inside free text: a JWT (three base64url parts, the first a JSON
// header: "eyJ"), a bearer or basic Authorization value, the refresh cookie, and URL userinfo passwords.
var secretValue = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+` +
	`|(?i:bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}` +
	`|fortress_refresh=[A-Za-z0-9_-]+` +
	`|://[^/\s:@]+:[^/\s@]+@`)

// ReplaceAttr is a slog.HandlerOptions.ReplaceAttr that redacts secrets.
func ReplaceAttr(_ []string, a slog.Attr) slog.Attr {
	if sensitiveKey(a.Key) {
		return slog.String(a.Key, Redacted)
	}
	switch a.Value.Kind() {
	case slog.KindString:
		if s := a.Value.String(); secretValue.MatchString(s) {
			return slog.String(a.Key, Scrub(s))
		}
	case slog.KindAny:
		// Errors and other values print through their own methods: check what they print.
		if err, ok := a.Value.Any().(error); ok && secretValue.MatchString(err.Error()) {
			return slog.String(a.Key, Scrub(err.Error()))
		}
	}
	return a
}

// Scrub replaces every credential found in s.
func Scrub(s string) string {
	return secretValue.ReplaceAllStringFunc(s, func(m string) string {
		if strings.HasPrefix(m, "://") {
			return "://" + Redacted + "@"
		}
		return Redacted
	})
}

func sensitiveKey(key string) bool {
	k := strings.ToLower(key)
	if allowedKeys[k] {
		return false
	}
	for _, s := range sensitiveKeys {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}
