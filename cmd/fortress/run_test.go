package main

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/fortress-dev/fortress/internal/pgtest"
)

// exercise walks the seed's main flow over HTTP against a running server.
func exercise(t *testing.T, base string) {
	t.Helper()
	password := "a long and secret passphrase"
	token := registerAndLogin(t, base, "Flow@Example.com", password)
	var item struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	}
	if resp := call(t, "POST", base+"/items", token, "application/json", `{"name":"first"}`, &item); resp.StatusCode != http.StatusCreated || item.Name != "first" {
		t.Fatalf("create: got %d %+v", resp.StatusCode, item)
	}
	var list []map[string]any
	if resp := call(t, "GET", base+"/items/", token, "", "", &list); resp.StatusCode != http.StatusOK || len(list) != 1 {
		t.Fatalf("list: got %d %v", resp.StatusCode, list)
	}
	if resp := call(t, "GET", fmt.Sprintf("%s/items/%d", base, item.ID), "", "", "", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("read without token: got %d, want 401", resp.StatusCode)
	}
	if resp := call(t, "GET", base+"/readyz", "", "", "", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("readyz: got %d, want 200", resp.StatusCode)
	}
}

func TestServeOnSQLite(t *testing.T) {
	s := startServe(t, baseEnv(t))
	exercise(t, s.base)
	if err := s.stop(t); err != nil {
		t.Fatalf("serve after SIGTERM: got %v, want nil", err)
	}
	logs := s.log.String()
	for _, secret := range []string{testSecret, "a long and secret passphrase"} {
		if strings.Contains(logs, secret) {
			t.Fatalf("the log contains a secret %q", secret)
		}
	}
	for _, want := range []string{`"engine":"sqlite"`, `"msg":"shutting down"`, `"msg":"stopped"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %s", want)
		}
	}
}

func TestServeOnPostgres(t *testing.T) {
	vars := baseEnv(t)
	vars["DATABASE_URL"] = pgtest.NewDatabase(t)
	vars["AUTO_MIGRATE"] = "true"
	s := startServe(t, vars)
	exercise(t, s.base)
	if !strings.Contains(s.log.String(), `"engine":"postgres"`) {
		t.Error("startup line does not name the postgres engine")
	}
}

func TestServeRefusesAnOutdatedSchema(t *testing.T) {
	vars := baseEnv(t)
	vars["DATABASE_URL"] = pgtest.NewDatabase(t) // AUTO_MIGRATE defaults to false on PostgreSQL
	err := run(context.Background(), []string{"fortress", "serve"}, env(vars), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "fortress migrate up") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("serve on an empty database: got %v, want one line naming `fortress migrate up`", err)
	}

	var out strings.Builder
	if err := run(context.Background(), []string{"fortress", "migrate", "status"}, env(vars), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "schema version 0") || !strings.Contains(out.String(), "pending") {
		t.Fatalf("migrate status: got %q", out.String())
	}
	out.Reset()
	if err := run(context.Background(), []string{"fortress", "migrate", "up"}, env(vars), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "applied migration 1") || !strings.Contains(out.String(), "(current)") {
		t.Fatalf("migrate up: got %q", out.String())
	}
	s := startServe(t, vars)
	exercise(t, s.base)
}

func TestShutdownFinishesInFlightRequests(t *testing.T) {
	s := startServe(t, baseEnv(t))
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Expect: 100-continue makes the server say when the handler starts reading the body, so the test
	// knows the request is in flight before it sends SIGTERM.
	body := `{"email":"inflight@example.com","password":"twelve chars or more"}`
	head := "POST /auth/register HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n" +
		fmt.Sprintf("Expect: 100-continue\r\nContent-Length: %d\r\n\r\n", len(body))
	if _, err := io.WriteString(conn, head); err != nil {
		t.Fatal(err)
	}
	reader := bufio.NewReader(conn)
	interim, err := http.ReadResponse(reader, nil)
	if err != nil || interim.StatusCode != http.StatusContinue {
		t.Fatalf("interim response: got %v, %v; want 100 Continue", interim, err)
	}
	s.cancel() // SIGTERM while the handler waits for the body
	s.log.waitFor(t, "shutting down")
	if _, err := io.WriteString(conn, body); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(reader, nil)
	if err != nil {
		t.Fatalf("in-flight request: %v\nlog:\n%s", err, s.log.String())
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("in-flight request: got %d, want 201", resp.StatusCode)
	}
	if err := s.stop(t); err != nil {
		t.Fatal(err)
	}
	if _, err := net.Dial("tcp", strings.TrimPrefix(s.base, "http://")); err == nil {
		t.Fatal("the listener still accepts connections after shutdown")
	}
}

func TestUsage(t *testing.T) {
	tests := []struct {
		args     []string
		wantCode bool // a usage error (exit 2)
		wantOut  string
	}{
		{[]string{"fortress"}, true, "Usage: fortress"},
		{[]string{"fortress", "launch"}, true, `unknown command "launch"`},
		{[]string{"fortress", "serve", "-bogus"}, true, "flag provided but not defined"},
		{[]string{"fortress", "serve", "extra"}, true, "serve takes no arguments"},
		{[]string{"fortress", "migrate"}, true, "migrate needs exactly one of"},
		{[]string{"fortress", "migrate", "down"}, true, "migrate needs exactly one of"},
		{[]string{"fortress", "migrate", "-x", "up"}, true, "flag provided but not defined"},
		{[]string{"fortress", "healthcheck", "a", "b"}, true, "at most one URL"},
		{[]string{"fortress", "healthcheck", "ftp://x"}, true, "http or https"},
		{[]string{"fortress", "healthcheck", "-timeout", "soon"}, true, "invalid value"},
		{[]string{"fortress", "version", "now"}, true, "no arguments"},
		{[]string{"fortress", "version", "-h"}, true, "Usage: fortress version"},
		{[]string{"fortress", "help"}, false, "Commands:"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args[1:], "_"), func(t *testing.T) {
			var out strings.Builder
			err := run(context.Background(), tc.args, env(nil), &out, &out)
			var usage *usageError
			if got := errors.As(err, &usage); got != tc.wantCode {
				t.Fatalf("usage error: got %v (%v), want %v", got, err, tc.wantCode)
			}
			if !strings.Contains(out.String(), tc.wantOut) {
				t.Fatalf("output: got %q, want it to contain %q", out.String(), tc.wantOut)
			}
		})
	}
}

func TestConfigErrorsAreOneLineWithoutSecrets(t *testing.T) {
	vars := baseEnv(t)
	vars["FORTRESS_ENV"] = "production"
	vars["JWT_SECRET_KEY"] = "short-secret-value"
	vars["DATABASE_URL"] = "postgres://user:db-password-value@127.0.0.1:1/x"
	err := run(context.Background(), []string{"fortress", "serve"}, env(vars), io.Discard, io.Discard)
	if err == nil {
		t.Fatal("production with a short key: got nil error")
	}
	msg := err.Error()
	if strings.Contains(msg, "\n") || !strings.Contains(msg, "JWT_SECRET_KEY") {
		t.Fatalf("error: got %q, want one line naming JWT_SECRET_KEY", msg)
	}
	for _, secret := range []string{"short-secret-value", "db-password-value"} {
		if strings.Contains(msg, secret) {
			t.Fatalf("error %q shows a secret", msg)
		}
	}
	vars = map[string]string{"DATABASE_URL": "mysql://nope"}
	err = run(context.Background(), []string{"fortress", "migrate", "status"}, env(vars), io.Discard, io.Discard)
	if err == nil || !strings.HasPrefix(err.Error(), "DATABASE_URL:") || strings.Contains(err.Error(), "mysql://nope") {
		t.Fatalf("migrate with a bad DATABASE_URL: got %v", err)
	}
}

func TestMigrateOnSQLite(t *testing.T) {
	vars := baseEnv(t)
	var out strings.Builder
	if err := run(context.Background(), []string{"fortress", "migrate", "up"}, env(vars), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	if err := run(context.Background(), []string{"fortress", "migrate", "up"}, env(vars), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "applied") || !strings.Contains(out.String(), "engine sqlite") {
		t.Fatalf("second migrate up: got %q, want nothing applied", out.String())
	}
}

func TestHealthcheck(t *testing.T) {
	s := startServe(t, baseEnv(t))
	var out strings.Builder
	if err := run(context.Background(), []string{"fortress", "healthcheck", s.base + "/health"}, env(nil), &out, io.Discard); err != nil || out.String() != "ok\n" {
		t.Fatalf("healthcheck of a live server: got %v, %q", err, out.String())
	}
	addr := strings.TrimPrefix(s.base, "http://")
	if err := run(context.Background(), []string{"fortress", "healthcheck"}, env(map[string]string{"FORTRESS_ADDR": addr}), io.Discard, io.Discard); err != nil {
		t.Fatalf("healthcheck with the default URL from FORTRESS_ADDR: %v", err)
	}
	failing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer failing.Close()
	if err := run(context.Background(), []string{"fortress", "healthcheck", failing.URL}, env(nil), io.Discard, io.Discard); err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("healthcheck of a 503: got %v, want an error naming 503", err)
	}
	if err := s.stop(t); err != nil {
		t.Fatal(err)
	}
	if err := run(context.Background(), []string{"fortress", "healthcheck", "-timeout", "2s", s.base + "/health"}, env(nil), io.Discard, io.Discard); err == nil {
		t.Fatal("healthcheck of a stopped server: got nil, want an error")
	}
}

func TestDefaultHealthURL(t *testing.T) {
	tests := map[string]string{
		"":             "http://127.0.0.1:8000/health",
		":8000":        "http://127.0.0.1:8000/health",
		"0.0.0.0:9000": "http://127.0.0.1:9000/health",
		"[::]:9000":    "http://127.0.0.1:9000/health",
		"[::1]:8000":   "http://[::1]:8000/health",
		"10.1.2.3:80":  "http://10.1.2.3:80/health",
	}
	for addr, want := range tests {
		if got, err := defaultHealthURL(addr); err != nil || got != want {
			t.Errorf("defaultHealthURL(%q): got %q, %v; want %q", addr, got, err, want)
		}
	}
	if _, err := defaultHealthURL("no-port"); err == nil {
		t.Error("defaultHealthURL without a port: got nil error")
	}
}

func TestVersion(t *testing.T) {
	var out strings.Builder
	if err := run(context.Background(), []string{"fortress", "version"}, env(nil), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "fortress ") || !strings.Contains(out.String(), "go1.") {
		t.Fatalf("version: got %q", out.String())
	}
}

// TestShutdownDelayKeepsServingWhileUnready: after SIGTERM, for FORTRESS_SHUTDOWN_DELAY the instance
// answers 503 on /readyz, so that load balancers take it out, but still serves the requests that reach
// it; then it stops.
func TestShutdownDelayKeepsServingWhileUnready(t *testing.T) {
	vars := baseEnv(t)
	vars["FORTRESS_SHUTDOWN_DELAY"] = "3s" // long enough for the two requests below, even on a busy machine
	s := startServe(t, vars)
	s.cancel() // SIGTERM
	s.log.waitFor(t, "shutting down")
	if resp := call(t, "GET", s.base+"/readyz", "", "", "", nil); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("readyz during the delay: got %d, want 503", resp.StatusCode)
	}
	if resp := call(t, "GET", s.base+"/health", "", "", "", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("a request during the delay: got %d, want it served (200)", resp.StatusCode)
	}
	select {
	case err := <-s.done:
		t.Fatalf("serve returned %v during the delay, want it still serving", err)
	default:
	}
	if err := s.stop(t); err != nil { // returns once the delay is over
		t.Fatalf("serve after the delay: %v", err)
	}
}

// TestServeOnANewerSchema: during a rolling upgrade the pipeline migrates first, and the old replicas
// must stay ready on the newer schema (migrations keep the previous release working); they warn.
func TestServeOnANewerSchema(t *testing.T) {
	vars := baseEnv(t)
	if err := run(context.Background(), []string{"fortress", "migrate", "up"}, env(vars), io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	path := strings.TrimPrefix(vars["DATABASE_URL"], "sqlite:")
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	// The next release's migration, applied by the pipeline before that release rolls out.
	if _, err := db.Exec(`INSERT INTO schema_migrations (version_id, is_applied) VALUES (999, 1)`); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	s := startServe(t, vars)
	s.log.waitFor(t, "the database schema is newer than this binary: serving, as a rolling upgrade's old replicas do; deploy the newer binary")
	if resp := call(t, "GET", s.base+"/readyz", "", "", "", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("readyz on a newer schema: got %d, want 200", resp.StatusCode)
	}
	exercise(t, s.base)
}
