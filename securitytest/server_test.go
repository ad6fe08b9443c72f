package securitytest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fortress-dev/fortress/internal/binarytest"
	"github.com/fortress-dev/fortress/internal/pgtest"
)

// jwtSecret signs the tokens of every server the suite starts, so that tests can forge tokens with the real
// key (what an attacker who stole it could do) and prove the other checks still hold. No log line may show it.
const jwtSecret = "securitytest-signing-key-0123456789-abcdefghijklmnop"

// Bounds: generous enough for a loaded 2-core machine, short enough that a hang fails fast.
const (
	startBound   = 30 * time.Second
	stopBound    = 20 * time.Second
	requestBound = 20 * time.Second
)

// responsesChecked counts the responses inspect has checked, for the summary TestMain prints.
var responsesChecked atomic.Int64

func TestMain(m *testing.M) {
	code := pgtest.Main(m)
	binarytest.RemoveBuild()
	if testing.Verbose() {
		fmt.Printf("securitytest: %d responses inspected\n", responsesChecked.Load())
	}
	os.Exit(code)
}

// baseEnv is the configuration every server starts from: fast hashing (the cost is not under test except
// where a test raises it) and every rate limit off, so that each test turns on exactly the limits it tests.
func baseEnv() map[string]string { return binarytest.Env(jwtSecret) }

// server is one running `fortress serve` process.
type server struct {
	base string // http://127.0.0.1:port
	addr string // 127.0.0.1:port
	port int
	pid  int
	db   database
	env  map[string]string // the process's environment, for the CLI against the same database
	proc *binarytest.Process

	stopOnce sync.Once

	mu      sync.Mutex
	clients map[string]*http.Client // by source IP ("" for the default)
	secrets []string                // passwords and tokens the server handed out or took: none may be logged
}

// start runs the binary on a fresh SQLite database.
func start(t *testing.T, env map[string]string) *server {
	t.Helper()
	return startOn(t, sqliteEngine, env)
}

// startOn runs the binary on a fresh database of eng, with env on top of baseEnv, and stops it with
// SIGTERM when the test ends.
func startOn(t *testing.T, eng engine, env map[string]string) *server {
	t.Helper()
	dbEnv, db := eng.open(t)
	vars := baseEnv()
	maps.Copy(vars, dbEnv)
	maps.Copy(vars, env)

	s := &server{db: db, env: vars, clients: map[string]*http.Client{}}
	s.proc = binarytest.Serve(t, binarytest.Build(t), vars, t.TempDir(), nil) // an empty directory: no .env file to pick up
	s.pid = s.proc.Pid()
	t.Cleanup(func() { s.stop(t) })
	s.addr = s.proc.Started(t, "fortress serve", startBound)
	_, port, err := net.SplitHostPort(s.addr)
	if err != nil {
		t.Fatalf("started on %q: %v", s.addr, err)
	}
	s.port, _ = strconv.Atoi(port)
	s.base = "http://" + s.addr
	return s
}

// stop sends SIGTERM, waits for a graceful exit with status 0, and checks the whole log: no secret, no
// panic, no error. It is idempotent; startOn registers it as a cleanup.
func (s *server) stop(t *testing.T) {
	t.Helper()
	s.stopOnce.Do(func() {
		s.mu.Lock()
		for _, c := range s.clients {
			c.CloseIdleConnections()
		}
		s.mu.Unlock()
		if !s.proc.Stop(syscall.SIGTERM, stopBound) {
			t.Errorf("fortress serve did not stop within %s of SIGTERM", stopBound)
		}
		logText := s.logText()
		if err := s.proc.Err(); err != nil {
			t.Errorf("fortress serve after SIGTERM: %v, want exit status 0; log:\n%s", err, logText)
		}
		if strings.Contains(logText, jwtSecret) {
			t.Errorf("the server log contains JWT_SECRET_KEY")
		}
		s.mu.Lock()
		secrets := slices.Clone(s.secrets)
		s.mu.Unlock()
		for _, secret := range secrets {
			if strings.Contains(logText, secret) {
				t.Errorf("the server log contains a password or token the suite used: %.12s…", secret)
			}
		}
		for _, line := range strings.Split(logText, "\n") {
			// The access log writes every 5xx at ERROR; a 503 is an expected refusal under load.
			busy := strings.Contains(line, `"msg":"request"`) && strings.Contains(line, `"status":503`)
			if strings.Contains(line, `"level":"ERROR"`) && !busy || strings.Contains(line, "panic") {
				t.Errorf("server log line: %s; want no errors or panics", line)
			}
		}
	})
}

// cli runs `fortress args...` with the server's own configuration, so against its database, as an operator
// on the same host does; stdin feeds a password. It returns the standard output.
func (s *server) cli(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startBound)
	defer cancel()
	cmd := binarytest.Command(ctx, binarytest.Build(t), s.env, t.TempDir(), args...) // an empty directory: no .env file to pick up
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("fortress %s: %v; stderr %s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// cliRefused runs `fortress args...` like cli, expects it to fail with exit status 1, and returns its
// standard error.
func (s *server) cliRefused(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startBound)
	defer cancel()
	cmd := binarytest.Command(ctx, binarytest.Build(t), s.env, t.TempDir(), args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	var exit *exec.ExitError
	if err := cmd.Run(); !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("fortress %s: %v, want exit status 1; stderr %s", strings.Join(args, " "), err, stderr.String())
	}
	return stderr.String()
}

// logText is the server's log (its standard error) so far.
func (s *server) logText() string { return strings.Join(s.proc.Lines(), "\n") }

// url returns the absolute URL of path on s.
func (s *server) url(path string) string { return s.base + path }

// client returns an HTTP client whose connections come from the local address ip ("" for the default;
// any 127.0.0.0/8 address reaches the server through the loopback interface, so a test can be several
// clients). It never uses a proxy and never follows redirects: the suite looks at every answer itself.
func (s *server) client(ip string) *http.Client {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.clients[ip]; ok {
		return c
	}
	d := &net.Dialer{Timeout: 5 * time.Second}
	if ip != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(ip)}
	}
	c := &http.Client{
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         d.DialContext,
			MaxIdleConnsPerHost: 32,
			DisableCompression:  true,
		},
		Timeout:       requestBound,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	s.clients[ip] = c
	return c
}

// response is an answer, read to the end.
type response struct {
	method, path string
	status       int
	header       http.Header
	body         []byte
}

func (r response) String() string {
	return fmt.Sprintf("%s %s -> %d", r.method, short(r.path, 200), r.status)
}

// short keeps failure messages readable: long paths and bodies are cut.
func short[T string | []byte](s T, n int) string {
	if len(s) <= n {
		return string(s)
	}
	return string(s[:n]) + "…"
}

// problemDoc is the RFC 9457 problem document of the contract.
type problemDoc struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	RequestID string `json:"request_id"`
	Errors    []struct {
		Location string `json:"location"`
		Field    string `json:"field"`
		Message  string `json:"message"`
	} `json:"errors"`
}

// detail is the problem's detail, or "" when the body is not a problem document.
func (r response) detail() string {
	var p problemDoc
	_ = json.Unmarshal(r.body, &p)
	return p.Detail
}

// problem decodes the body as a problem document.
func (r response) problem(t *testing.T) problemDoc {
	t.Helper()
	var p problemDoc
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("%s: body %q is not a problem document: %v", r, short(r.body, 500), err)
	}
	return p
}

// decode decodes a JSON body into v.
func (r response) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("%s: body %q does not decode into %T: %v", r, short(r.body, 500), v, err)
	}
}

// want fails the test unless the answer has the status and, when detail is not empty, the problem detail.
func (r response) want(t *testing.T, status int, detail string) {
	t.Helper()
	if r.status != status {
		t.Errorf("%s: got status %d, want %d; body %s", r, r.status, status, short(r.body, 500))
		return
	}
	if detail != "" && r.detail() != detail {
		t.Errorf("%s: got detail %q, want %q", r, r.detail(), detail)
	}
}

// option shapes a request.
type option func(*http.Request)

func bearer(token string) option {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+token) }
}

func header(name, value string) option { return func(r *http.Request) { r.Header.Set(name, value) } }

func jsonBody(body string) option {
	return func(r *http.Request) {
		setBody(r, "application/json", strings.NewReader(body), int64(len(body)))
	}
}

func formBody(v url.Values) option {
	body := v.Encode()
	return func(r *http.Request) {
		setBody(r, "application/x-www-form-urlencoded", strings.NewReader(body), int64(len(body)))
	}
}

// chunkedBody sends body without a Content-Length, so the server only learns its size by reading it.
func chunkedBody(contentType, body string) option {
	return func(r *http.Request) { setBody(r, contentType, io.NopCloser(strings.NewReader(body)), -1) }
}

func setBody(r *http.Request, contentType string, body io.Reader, length int64) {
	r.Body = io.NopCloser(body)
	r.ContentLength = length
	if length < 0 {
		r.TransferEncoding = []string{"chunked"}
	}
	r.Header.Set("Content-Type", contentType)
}

// fromIP makes the request from another loopback address, that is, from another client.
func fromIP(ip string) option {
	return func(r *http.Request) { *r = *r.WithContext(context.WithValue(r.Context(), sourceIPKey{}, ip)) }
}

type sourceIPKey struct{}

// do sends one request and inspects the answer.
func (s *server) do(t *testing.T, method, path string, opts ...option) response {
	t.Helper()
	r, err := s.send(method, path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	inspect(t, r)
	s.rememberTokens(r)
	return r
}

// remember adds secrets that must never appear in the server's log; stop checks.
func (s *server) remember(secrets ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, secret := range secrets {
		if len(secret) >= 12 && !slices.Contains(s.secrets, secret) {
			s.secrets = append(s.secrets, secret)
		}
	}
}

// rememberTokens remembers the access and refresh tokens of a token response, body or cookie.
func (s *server) rememberTokens(r response) {
	if r.status != http.StatusOK || r.method != http.MethodPost {
		return
	}
	if path, _, _ := strings.Cut(r.path, "?"); path != "/auth/login" && path != "/auth/refresh" {
		return
	}
	var tok struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	_ = json.Unmarshal(r.body, &tok)
	s.remember(tok.AccessToken, tok.RefreshToken)
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		s.remember(c.Value)
	}
}

// send sends one request and reads the answer without inspecting it; it is safe in any goroutine, and the
// caller inspects the answer on the test's goroutine.
func (s *server) send(method, path string, opts ...option) (response, error) {
	req, err := http.NewRequest(method, s.url(path), nil)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	for _, o := range opts {
		o(req)
	}
	ip, _ := req.Context().Value(sourceIPKey{}).(string)
	res, err := s.client(ip).Do(req)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: reading the body: %w", method, path, err)
	}
	return response{method: method, path: path, status: res.StatusCode, header: res.Header, body: body}, nil
}

// raw sends text as is on a new connection and reads one answer. It is for requests a well-behaved client
// cannot send. The answer is inspected like any other when the application produced it (it carries
// X-Request-ID); net/http's own refusals of malformed requests are not, and the caller checks them.
func (s *server) raw(t *testing.T, text string) response {
	t.Helper()
	conn, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(requestBound))
	if _, err := io.WriteString(conn, text); err != nil {
		t.Fatalf("writing %q: %v", firstLine(text), err)
	}
	method, target, _ := strings.Cut(firstLine(text), " ")
	target, _, _ = strings.Cut(target, " ")
	res, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	if err != nil {
		t.Fatalf("%s: reading the answer: %v", firstLine(text), err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	r := response{method: method, path: target, status: res.StatusCode, header: res.Header, body: body}
	if res.Header.Get("X-Request-ID") != "" {
		inspect(t, r)
	}
	return r
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\r\n")
	return line
}

// Forbidden in every JSON body: keys that name secrets or storage internals.
var forbiddenKeys = []string{"password", "password_hash", "hashed_password", "passwordHash", "email_key",
	"emailKey", "salt", "secret", "jwt_secret", "hash", "refresh_hash", "refreshHash", "refresh_token_hash",
	"token_hash", "current_password", "new_password"}

// refreshCookie is the cookie that carries a browser's refresh token; no other cookie is ever set.
const refreshCookie = "fortress_refresh"

// tokenIssuers are the only operations whose answers may carry a refresh token.
var tokenIssuers = []string{"/auth/login", "/auth/refresh"}

// Forbidden in every problem document: what stack traces, driver errors and file paths look like.
var internals = []string{"goroutine", "panic", ".go:", "runtime.", "SELECT ", "INSERT ", "UPDATE ",
	"DELETE FROM", "sqlite", "SQLITE", "SQLSTATE", "pgx", "pq:", "constraint", "/tmp/", "/usr/", "/root/",
	"/home/", "/work/", "github.com/", "json: ", "strconv.", "invalid character", "unexpected EOF"}

var requestIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

// atOnce sends n requests released together (send(i) sends the i-th), so that they race in the
// server, and returns their answers in order, each inspected.
func atOnce(t *testing.T, n int, send func(i int) (response, error)) []response {
	t.Helper()
	answers, errs := make([]response, n), make([]error, n)
	var wg sync.WaitGroup
	ready := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-ready
			answers[i], errs[i] = send(i)
		})
	}
	close(ready)
	wg.Wait()
	for i, r := range answers {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		inspect(t, r)
	}
	return answers
}

// inspect checks what must hold for every answer the application gives, whatever was asked.
func inspect(t *testing.T, r response) {
	t.Helper()
	responsesChecked.Add(1)
	checkCoreHeaders(t, r)
	h := r.header
	switch {
	case r.status >= 500 && r.status != http.StatusServiceUnavailable:
		t.Errorf("%s: a %d; no request may cause a server error. Body %s", r, r.status, short(r.body, 500))
	case r.status == http.StatusTooManyRequests || r.status == http.StatusServiceUnavailable:
		if n, err := strconv.Atoi(h.Get("Retry-After")); err != nil || n < 1 {
			t.Errorf("%s: Retry-After %q, want a positive number of seconds", r, h.Get("Retry-After"))
		}
	case r.status == http.StatusUnauthorized:
		if got := h.Get("WWW-Authenticate"); got != "Bearer" {
			t.Errorf("%s: WWW-Authenticate %q, want \"Bearer\"", r, got)
		}
	}
	if got := h.Get("Access-Control-Allow-Origin"); got == "*" {
		t.Errorf("%s: Access-Control-Allow-Origin \"*\", want never a wildcard", r)
	}
	for _, name := range []string{"Server", "X-Powered-By", "X-AspNet-Version"} {
		if v := h.Get(name); v != "" {
			t.Errorf("%s: %s %q, want no software banner", r, name, v)
		}
	}
	if loc := h.Get("Location"); loc != "" {
		checkLocation(t, r, loc)
	}
	for _, c := range (&http.Response{Header: h}).Cookies() {
		checkCookie(t, r, c)
	}
	if bytes.Contains(r.body, []byte("$argon2")) {
		t.Errorf("%s: the body contains a password hash: %s", r, short(r.body, 500))
	}
	if bytes.Contains(r.body, []byte(jwtSecret)) {
		t.Errorf("%s: the body contains the JWT signing key", r)
	}
	if r.method == http.MethodHead || len(r.body) == 0 {
		return
	}
	mt, _, _ := mime.ParseMediaType(h.Get("Content-Type"))
	switch mt {
	case "application/json", "application/problem+json":
	default:
		return
	}
	var doc any
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Errorf("%s: %s body does not parse: %v", r, mt, err)
		return
	}
	// The OpenAPI document describes request bodies, which do have a password; response schemas are
	// checked by TestAPI3.
	if path, _, _ := strings.Cut(r.path, "?"); path != "/openapi.json" {
		if key := findKey(doc, forbiddenKeys); key != "" {
			t.Errorf("%s: the JSON body has a %q key: %s", r, key, short(r.body, 500))
		}
		if !slices.Contains(tokenIssuers, path) && findKey(doc, []string{"refresh_token"}) != "" {
			t.Errorf("%s: the JSON body has a refresh_token, want one only from %v: %s", r, tokenIssuers, short(r.body, 500))
		}
	}
	if mt == "application/problem+json" {
		checkProblem(t, r)
	}
}

// checkCoreHeaders checks the headers of the core contract that every answer carries: the HTML pages (the
// UI and /docs) a document policy, every other answer a policy that lets nothing load or run.
func checkCoreHeaders(t *testing.T, r response) {
	t.Helper()
	h := r.header
	csp := h.Get("Content-Security-Policy")
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "unsafe-hashes", "*", "http:", "https:"} {
		if strings.Contains(csp, bad) {
			t.Errorf("%s: Content-Security-Policy %q contains %q", r, csp, bad)
		}
	}
	want := map[string]string{
		"X-Content-Type-Options":       "nosniff",
		"Referrer-Policy":              "no-referrer",
		"X-Frame-Options":              "DENY",
		"Cross-Origin-Resource-Policy": "same-origin",
	}
	path := r.path // a path, or an absolute URL (the Host header attacks)
	if u, err := url.Parse(r.path); err == nil {
		path = u.Path
	}
	if (r.method == http.MethodGet || r.method == http.MethodHead) && (path == "/" || path == "/docs") {
		for _, part := range []string{"default-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"} {
			if !strings.Contains(csp, part) {
				t.Errorf("%s: Content-Security-Policy %q lacks %q", r, csp, part)
			}
		}
		want["Cross-Origin-Opener-Policy"] = "same-origin"
		if pp := h.Get("Permissions-Policy"); !strings.Contains(pp, "camera=()") || !strings.Contains(pp, "geolocation=()") {
			t.Errorf("%s: Permissions-Policy %q, want camera and geolocation denied", r, pp)
		}
	} else {
		want["Content-Security-Policy"] = "default-src 'none'; frame-ancestors 'none'"
	}
	for name, v := range want {
		if got := h.Get(name); got != v {
			t.Errorf("%s: %s %q, want %q", r, name, got, v)
		}
	}
	cc := h.Get("Cache-Control")
	if strings.HasPrefix(r.path, "/static/") {
		if cc != "no-cache" && cc != "no-store" {
			t.Errorf("%s: Cache-Control %q, want no-cache (revalidated asset) or no-store", r, cc)
		}
	} else if cc != "no-store" {
		t.Errorf("%s: Cache-Control %q, want no-store", r, cc)
	}
	if id := h.Get("X-Request-ID"); !requestIDPattern.MatchString(id) {
		t.Errorf("%s: X-Request-ID %q, want 32 hex digits", r, id)
	}
	if hsts := h.Get("Strict-Transport-Security"); hsts != "" {
		t.Errorf("%s: Strict-Transport-Security %q over plain HTTP, want none", r, hsts)
	}
}

// checkCookie checks a cookie the server sets: only the refresh cookie, only from the /auth routes, and
// out of reach of scripts, of other sites and of every other path. The suite speaks plain HTTP without a
// trusted proxy, so Secure would only make browsers drop the cookie on http://localhost deployments.
func checkCookie(t *testing.T, r response, c *http.Cookie) {
	t.Helper()
	if c.Name != refreshCookie {
		t.Errorf("%s: sets a cookie %q, want only %s", r, c.Name, refreshCookie)
	}
	if !strings.HasPrefix(r.path, "/auth/") {
		t.Errorf("%s: sets %s outside the /auth routes", r, c.Name)
	}
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Path != "/auth" || c.Domain != "" || c.Secure {
		t.Errorf("%s: Set-Cookie %q, want HttpOnly, SameSite=Strict, Path=/auth, no Domain and no Secure over plain HTTP", r, c.Raw)
	}
}

// checkLocation refuses redirects off the site: a relative path, or an absolute URL on a loopback host.
func checkLocation(t *testing.T, r response, loc string) {
	t.Helper()
	if strings.HasPrefix(loc, "/") {
		if strings.HasPrefix(loc, "//") || strings.HasPrefix(loc, `/\`) {
			t.Errorf("%s: Location %q is protocol-relative: an open redirect", r, loc)
		}
		return
	}
	u, err := url.Parse(loc)
	if err != nil || !slices.Contains([]string{"127.0.0.1", "localhost", "::1"}, u.Hostname()) {
		t.Errorf("%s: Location %q leaves the site", r, loc)
	}
}

// checkProblem checks a problem document: the contract's fields, and no internals.
func checkProblem(t *testing.T, r response) {
	t.Helper()
	var fields map[string]any
	_ = json.Unmarshal(r.body, &fields)
	for key := range fields {
		if !slices.Contains([]string{"type", "title", "status", "detail", "request_id", "errors"}, key) {
			t.Errorf("%s: problem document has an unexpected %q member: %s", r, key, short(r.body, 500))
		}
	}
	if _, ok := fields["detail"].(string); !ok {
		t.Errorf("%s: problem detail %v is not a string", r, fields["detail"])
	}
	p := r.problem(t)
	if p.Status != r.status {
		t.Errorf("%s: problem status %d, want the response status %d", r, p.Status, r.status)
	}
	if p.RequestID != r.header.Get("X-Request-ID") {
		t.Errorf("%s: problem request_id %q, want X-Request-ID %q", r, p.RequestID, r.header.Get("X-Request-ID"))
	}
	for _, bad := range internals {
		if bytes.Contains(r.body, []byte(bad)) {
			t.Errorf("%s: problem document shows internals (%q): %s", r, bad, short(r.body, 500))
		}
	}
}

// findKey returns the first key of keys that appears as an object member anywhere in v.
func findKey(v any, keys []string) string {
	switch v := v.(type) {
	case map[string]any:
		for k, child := range v {
			if slices.Contains(keys, k) {
				return k
			}
			if found := findKey(child, keys); found != "" {
				return found
			}
		}
	case []any:
		for _, child := range v {
			if found := findKey(child, keys); found != "" {
				return found
			}
		}
	}
	return ""
}

// sameAnswer fails unless got and want are the same answer apart from what identifies the request: status,
// headers (but Date and X-Request-ID) and body (but request_id). Used where a difference would leak.
func sameAnswer(t *testing.T, got, want response) {
	t.Helper()
	if got.status != want.status {
		t.Errorf("%s differs from %s: status %d vs %d", got, want, got.status, want.status)
		return
	}
	ignored := []string{"Date", "X-Request-Id", "Ratelimit", "Ratelimit-Policy"}
	for _, h := range []http.Header{got.header, want.header} {
		for name := range h {
			if slices.Contains(ignored, name) {
				continue
			}
			if g, w := got.header.Values(name), want.header.Values(name); !slices.Equal(g, w) {
				t.Errorf("%s differs from %s: header %s %q vs %q", got, want, name, g, w)
			}
		}
	}
	if len(got.body) == 0 && len(want.body) == 0 {
		return
	}
	var g, w map[string]any
	if json.Unmarshal(got.body, &g) != nil || json.Unmarshal(want.body, &w) != nil {
		t.Errorf("%s / %s: bodies %q and %q, want JSON objects", got, want, got.body, want.body)
		return
	}
	delete(g, "request_id")
	delete(w, "request_id")
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	if !bytes.Equal(gb, wb) {
		t.Errorf("%s differs from %s: body %s vs %s", got, want, gb, wb)
	}
}

// connectionEnded reports whether err is a connection ending (EOF or reset), as a server that cuts a client off
// produces.
func connectionEnded(err error) bool {
	var ne net.Error
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		(errors.As(err, &ne) && !ne.Timeout())
}
