package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fortress-dev/fortress/internal/pgtest"
)

func TestMain(m *testing.M) {
	code := pgtest.Main(m)
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath)) // the binary built once for the package's tests
	}
	os.Exit(code)
}

// testSecret is the signing key the tests configure; no log line may ever contain it.
const testSecret = "test-signing-key-that-is-long-enough-0123456789"

// logSink collects what a command writes, safely across goroutines.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *logSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

// waitFor returns the first JSON log line whose msg is msg, failing after a bound.
func (s *logSink) waitFor(t *testing.T, msg string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(s.String(), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) == nil && rec["msg"] == msg {
				return rec
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no log line %q within the bound; log:\n%s", msg, s.String())
	return nil
}

// env returns a getenv over a map.
func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// baseEnv is a development configuration on a fresh SQLite file, listening on a free port.
func baseEnv(t *testing.T) map[string]string {
	return map[string]string{
		"FORTRESS_ADDR":              "127.0.0.1:0",
		"DATABASE_URL":               "sqlite:" + t.TempDir() + "/fortress.db",
		"JWT_SECRET_KEY":             testSecret,
		"FORTRESS_ARGON2_MEMORY_KIB": "8192",
		"FORTRESS_ARGON2_TIME":       "1",
	}
}

// served is a `fortress serve` running in-process.
type served struct {
	base   string
	log    *logSink
	cancel context.CancelFunc
	done   chan error
}

// startServe runs `fortress serve` through run and waits until it listens.
func startServe(t *testing.T, vars map[string]string) *served {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	s := &served{log: &logSink{}, cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- run(ctx, []string{"fortress", "serve"}, env(vars), io.Discard, s.log) }()
	t.Cleanup(func() {
		cancel()
		<-s.done
	})
	rec := s.log.waitFor(t, "fortress started")
	s.base = "http://" + rec["addr"].(string)
	return s
}

// stop ends the server as SIGTERM would and returns run's result.
func (s *served) stop(t *testing.T) error {
	t.Helper()
	s.cancel()
	select {
	case err := <-s.done:
		s.done <- err // for the cleanup
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop within the bound")
		return nil
	}
}

// call sends one request and decodes a JSON answer into out (when non-nil).
func call(t *testing.T, method, u, token, contentType, body string, out any) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: body %q is not JSON: %v", method, u, data, err)
		}
	}
	return resp
}

// registerAndLogin creates an account and returns its access token.
func registerAndLogin(t *testing.T, base, email, password string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	if resp := call(t, "POST", base+"/auth/register", "", "application/json", string(body), nil); resp.StatusCode != http.StatusCreated {
		t.Fatalf("register: got %d, want 201", resp.StatusCode)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	form := url.Values{"username": {email}, "password": {password}}.Encode()
	if resp := call(t, "POST", base+"/auth/login", "", "application/x-www-form-urlencoded", form, &tok); resp.StatusCode != http.StatusOK {
		t.Fatalf("login: got %d, want 200", resp.StatusCode)
	}
	return tok.AccessToken
}
