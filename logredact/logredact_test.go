package logredact_test

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/fortress-dev/fortress/logredact"
)

const (
	jwt     = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI0MiIsInNpZCI6IjcifQ.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
	refresh = "q3Y0nQx0CqkXfVb2m0gS8m8rJ8zHn3sV4k1yQp6tT2E"
)

func TestReplaceAttr(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{ReplaceAttr: logredact.ReplaceAttr}))
	log.Info("request",
		"password", "hunter2-hunter2",
		"new_password", "correct horse battery",
		"Authorization", "Bearer "+jwt,
		"refresh_token", refresh,
		"cookie", "fortress_refresh="+refresh,
		"JWT_SECRET_KEY", "0123456789abcdef0123456789abcdef",
		"err", errors.New("upstream said: Authorization: Bearer "+jwt),
		"detail", "token was "+jwt+" and the cookie fortress_refresh="+refresh,
		"dsn", "postgres://fortress:s3cr3t-pw@db:5432/fortress",
		"token_type", "bearer",
		"route", "POST /auth/refresh",
		"user_id", 42,
	)
	out := buf.String()
	for _, secret := range []string{"hunter2", "correct horse", jwt, refresh, "0123456789abcdef", "s3cr3t-pw"} {
		if strings.Contains(out, secret) {
			t.Errorf("log line contains %q: %s", secret, out)
		}
	}
	for _, kept := range []string{`"token_type":"bearer"`, `"route":"POST /auth/refresh"`, `"user_id":42`,
		`"dsn":"postgres://[REDACTED]@db:5432/fortress"`, `"detail":"token was [REDACTED] and the cookie [REDACTED]"`} {
		if !strings.Contains(out, kept) {
			t.Errorf("log line lacks %s: %s", kept, out)
		}
	}
}

func TestScrubLeavesOrdinaryTextAlone(t *testing.T) {
	for _, s := range []string{"GET /items/{item_id}", "login failed: wrong_password", "bearer", "eyJ alone",
		"postgres://db:5432/fortress", "a.b.c"} {
		if got := logredact.Scrub(s); got != s {
			t.Errorf("Scrub(%q) = %q, want it unchanged", s, got)
		}
	}
}
