package httpapi

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fortress-dev/fortress"
	"github.com/fortress-dev/fortress/password"
	"github.com/fortress-dev/fortress/sqlite"
	"github.com/fortress-dev/fortress/token"
)

// testSecret signs the test server's tokens; it is long enough for HS256 and never used elsewhere.
var testSecret = []byte("httpapi-test-secret-0123456789abcdef-0123456789")

// testParams keep Argon2id cheap in tests while still being real Argon2id.
var testParams = password.Params{MemoryKiB: 8192, Time: 1, Threads: 1}

const (
	testTTL      = 15 * time.Minute
	testMaxBody  = 1 << 20
	testPassword = "Tr0ub4dor&3-horse-battery" // distinctive, so a leak into a body or the log is found
)

// syncBuffer is a log sink that the server may write to from several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines returns the JSON log records written so far.
func (b *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line %q: got invalid JSON (%v), want a JSON record", line, err)
		}
		out = append(out, m)
	}
	return out
}

// env is a server built from real parts (SQLite in a temp dir, Argon2id, JWT) plus the handles tests
// need to look behind it.
type env struct {
	t      testing.TB
	srv    *Server
	cfg    Config
	db     *sqlite.DB
	dbPath string
	log    *syncBuffer
	tokens *token.Manager
	// secrets are strings that must never appear in a response body (passwords).
	secrets []string
	raw     *sql.DB // opened by sqlDB
}

// newTestHasher is the real, guarded hasher the server uses, with a gate wide enough never to refuse.
func newTestHasher(t testing.TB, p password.Params) *password.Guarded {
	t.Helper()
	h, err := password.NewHasher(p)
	if err != nil {
		t.Fatalf("password.NewHasher: got error %v, want nil", err)
	}
	return password.NewGuarded(h, password.NewGate(64, 1024, time.Minute))
}

func newTestTokens(t testing.TB, now func() time.Time) *token.Manager {
	t.Helper()
	m, err := token.NewManager(token.Config{Secret: testSecret, Issuer: "fortress", Audience: "fortress-api", TTL: testTTL, Now: now})
	if err != nil {
		t.Fatalf("token.NewManager: got error %v, want nil", err)
	}
	return m
}

// testJWKS is the public key of RFC 8037, Appendix A, as a JWK Set.
const testJWKS = `{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",` +
	`"kid":"kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k","alg":"EdDSA","use":"sig"}]}`

// newEnv builds a server on a fresh database. Each option may change the Config before NewServer.
func newEnv(t testing.TB, opts ...func(*Config)) *env {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "t.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("sqlite.Open: got error %v, want nil", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: got error %v, want nil", err)
	}
	logBuf := &syncBuffer{}
	tokens := newTestTokens(t, nil)
	cfg := Config{
		Logger:       slog.New(slog.NewJSONHandler(logBuf, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Users:        db,
		Items:        db,
		Passwords:    newTestHasher(t, testParams),
		Tokens:       tokens,
		TokenTTL:     testTTL,
		Sessions:     db,
		Audit:        db,
		Ready:        db.Ping,
		AllowedHosts: []string{"localhost", "127.0.0.1", "example.com"},
		MaxBodyBytes: testMaxBody,
		JWKS:         []byte(testJWKS),
		Version:      "test",
	}
	e := &env{t: t, cfg: cfg, db: db, dbPath: path, log: logBuf, tokens: tokens, secrets: []string{testPassword}}
	e.rebuild(opts...)
	return e
}

// rebuild replaces the server with one built from the env's config changed by opts, on the same database.
func (e *env) rebuild(opts ...func(*Config)) {
	for _, o := range opts {
		o(&e.cfg)
	}
	e.srv = NewServer(e.cfg)
}

// sqlDB opens a second connection to the env's database file, for looking behind the store's back.
func (e *env) sqlDB() *sql.DB {
	e.t.Helper()
	if e.raw != nil {
		return e.raw
	}
	db, err := sql.Open("sqlite", "file:"+e.dbPath+"?_pragma=busy_timeout(10000)&_pragma=foreign_keys(ON)")
	if err != nil {
		e.t.Fatalf("sql.Open: got error %v, want nil", err)
	}
	e.t.Cleanup(func() { _ = db.Close() })
	e.raw = db
	return db
}

// exec runs a statement on the database file directly.
func (e *env) exec(query string, args ...any) {
	e.t.Helper()
	if _, err := e.sqlDB().Exec(query, args...); err != nil {
		e.t.Fatalf("exec %q: got error %v, want nil", query, err)
	}
}

// snapshot renders every stored user and item, so that a test can show a request changed nothing.
func (e *env) snapshot() string {
	e.t.Helper()
	db := e.sqlDB()
	var b strings.Builder
	for _, q := range []string{
		"SELECT id, email, email_key, password_hash, is_active FROM users ORDER BY id",
		"SELECT id, owner_id, name, coalesce(description, '<NULL>') FROM items ORDER BY id",
	} {
		rows, err := db.Query(q)
		if err != nil {
			e.t.Fatalf("query %q: got error %v, want nil", q, err)
		}
		cols, _ := rows.Columns()
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			if err := rows.Scan(ptrs...); err != nil {
				e.t.Fatalf("scan: got error %v, want nil", err)
			}
			fmt.Fprintln(&b, vals...)
		}
		if err := rows.Err(); err != nil {
			e.t.Fatalf("rows: got error %v, want nil", err)
		}
		_ = rows.Close() //nolint:sqlclosecheck // closed before the next query of the loop; read-only
		b.WriteString("--\n")
	}
	return b.String()
}

// newRequest builds a request to example.com (an allowed host). A non-empty body gets contentType.
func newRequest(method, target, contentType, body string) *http.Request {
	var r *http.Request
	if body == "" {
		r = httptest.NewRequest(method, target, nil)
	} else {
		r = httptest.NewRequest(method, target, strings.NewReader(body))
	}
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	return r
}

// bearer sets the Authorization header when tok is not empty.
func bearer(r *http.Request, tok string) *http.Request {
	if tok != "" {
		r.Header.Set("Authorization", "Bearer "+tok)
	}
	return r
}

// serve sends r through the whole handler and checks the invariants every response keeps: the security
// headers, and for errors a problem document carrying the request id, with nothing internal in the body.
func (e *env) serve(r *http.Request) *httptest.ResponseRecorder {
	e.t.Helper()
	rec := httptest.NewRecorder()
	e.srv.ServeHTTP(rec, r)
	checkInvariants(e.t, r, rec, e.secrets)
	return rec
}

// do is serve for the common case of a JSON or form request with an optional bearer token.
func (e *env) do(method, target, tok, contentType, body string) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.serve(bearer(newRequest(method, target, contentType, body), tok))
}

func (e *env) doJSON(method, target, tok, body string) *httptest.ResponseRecorder {
	e.t.Helper()
	return e.do(method, target, tok, "application/json", body)
}

// tokenValue matches the token fields of a token response.
var tokenValue = regexp.MustCompile(`"(access_token|refresh_token)":"[^"]*"`)

// forbiddenInBody are signs of internals leaking into a response.
var forbiddenInBody = []string{"goroutine", "sqlite", "SQL", "/work/", ".go:", "panic", "$argon2id", "runtime."}

func checkInvariants(t testing.TB, r *http.Request, rec *httptest.ResponseRecorder, secrets []string) {
	t.Helper()
	checkSecurityHeaders(t, r, rec.Result())
	body := rec.Body.String()
	// Tokens are random base64url text, which now and then spells "SQL" or ".go:": they are not internals.
	scanned := tokenValue.ReplaceAllString(body, `"$1":"<token>"`)
	ct := rec.Header().Get("Content-Type")
	if strings.HasPrefix(ct, "application/json") || strings.HasPrefix(ct, "application/problem+json") || rec.Code >= 400 {
		if r.URL.Path != "/openapi.json" {
			for _, bad := range forbiddenInBody {
				if strings.Contains(scanned, bad) {
					t.Errorf("%s %s: body %.300q contains %q, want no internals", r.Method, r.URL, body, bad)
				}
			}
		}
	}
	for _, s := range secrets {
		if s != "" && strings.Contains(body, s) {
			t.Errorf("%s %s: body contains a password, want it never echoed", r.Method, r.URL)
		}
	}
	if rec.Code >= 400 && r.Method != http.MethodHead {
		checkProblemShape(t, r, rec)
	}
}

// problemBody is a decoded problem document.
type problemBody struct {
	Detail    string       `json:"detail"`
	Status    int          `json:"status"`
	RequestID string       `json:"request_id"`
	Errors    []fieldError `json:"errors"`
}

// checkProblemShape checks what every error answer carries: the media type, a string detail, the status
// as a number and the request id of the X-Request-ID header.
func checkProblemShape(t testing.TB, r *http.Request, rec *httptest.ResponseRecorder) problemBody {
	t.Helper()
	where := r.Method + " " + r.URL.String()
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("%s: Content-Type got %q, want application/problem+json", where, ct)
	}
	var raw map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
		t.Errorf("%s: body %.200q is not JSON: %v", where, rec.Body.String(), err)
		return problemBody{}
	}
	if _, ok := raw["detail"].(string); !ok {
		t.Errorf("%s: detail got %#v, want a string", where, raw["detail"])
	}
	if s, ok := raw["status"].(float64); !ok || int(s) != rec.Code {
		t.Errorf("%s: status field got %#v, want %d", where, raw["status"], rec.Code)
	}
	id := rec.Header().Get("X-Request-ID")
	if id == "" || raw["request_id"] != id {
		t.Errorf("%s: request_id got %#v, want the X-Request-ID header %q", where, raw["request_id"], id)
	}
	var p problemBody
	_ = json.Unmarshal(rec.Body.Bytes(), &p)
	return p
}

// wantProblem checks the status and, when detail is not empty, the detail of an error answer.
func wantProblem(t testing.TB, rec *httptest.ResponseRecorder, status int, detail string) problemBody {
	t.Helper()
	if rec.Code != status {
		t.Errorf("status got %d, want %d (body %.300s)", rec.Code, status, rec.Body.String())
	}
	var p problemBody
	_ = json.Unmarshal(rec.Body.Bytes(), &p)
	if detail != "" && p.Detail != detail {
		t.Errorf("detail got %q, want %q", p.Detail, detail)
	}
	return p
}

// wantStatus checks a status code.
func wantStatus(t testing.TB, rec *httptest.ResponseRecorder, status int) {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status got %d, want %d (body %.300s)", rec.Code, status, rec.Body.String())
	}
}

// decodeBody decodes a JSON answer into v.
func decodeBody(t testing.TB, rec *httptest.ResponseRecorder, v any) {
	t.Helper()
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("body %.200q: got invalid JSON (%v), want %T", rec.Body.String(), err, v)
	}
}

func (e *env) register(email, pw string) userResponse {
	e.t.Helper()
	body, _ := json.Marshal(map[string]string{"email": email, "password": pw})
	rec := e.doJSON("POST", "/auth/register", "", string(body))
	wantStatus(e.t, rec, http.StatusCreated)
	var u userResponse
	decodeBody(e.t, rec, &u)
	return u
}

func loginBody(email, pw string) string {
	return url.Values{"username": {email}, "password": {pw}}.Encode()
}

func (e *env) login(email, pw string) string {
	e.t.Helper()
	rec := e.do("POST", "/auth/login", "", "application/x-www-form-urlencoded", loginBody(email, pw))
	wantStatus(e.t, rec, http.StatusOK)
	var tr tokenResponse
	decodeBody(e.t, rec, &tr)
	return tr.AccessToken
}

// user registers an account and logs in, returning its id and an access token.
func (e *env) user(email string) (int64, string) {
	e.t.Helper()
	u := e.register(email, testPassword)
	return u.ID, e.login(email, testPassword)
}

func (e *env) createItem(tok, name string, description *string) itemResponse {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{"name": name, "description": description})
	rec := e.doJSON("POST", "/items/", tok, string(body))
	wantStatus(e.t, rec, http.StatusCreated)
	var it itemResponse
	decodeBody(e.t, rec, &it)
	return it
}

func ptr[T any](v T) *T { return &v }

// countingHasher is a real hasher that counts the Argon2id work it does.
type countingHasher struct {
	fortress.PasswordHasher
	hashes, verifies, dummies atomic.Int64
	hashErr                   error
	verifyErr                 error
}

func (c *countingHasher) Hash(ctx context.Context, pw string) (string, error) {
	c.hashes.Add(1)
	if c.hashErr != nil {
		return "", c.hashErr
	}
	return c.PasswordHasher.Hash(ctx, pw)
}

func (c *countingHasher) Verify(ctx context.Context, pw, hash string) (bool, bool, error) {
	c.verifies.Add(1)
	if c.verifyErr != nil {
		return false, false, c.verifyErr
	}
	return c.PasswordHasher.Verify(ctx, pw, hash)
}

func (c *countingHasher) VerifyDummy(ctx context.Context, pw string) error {
	c.dummies.Add(1)
	return c.PasswordHasher.VerifyDummy(ctx, pw)
}

func (c *countingHasher) reset() {
	c.hashes.Store(0)
	c.verifies.Store(0)
	c.dummies.Store(0)
}

// faultyUsers is the real user store with methods that a test may replace, to inject failures.
// faultySessions is the real session store whose per-request check can be made to fail.
type faultySessions struct {
	fortress.SessionService
	sessionUser func(ctx context.Context, sessionID int64, now time.Time) (fortress.User, error)
}

func (f *faultySessions) SessionUser(ctx context.Context, sessionID int64, now time.Time) (fortress.User, error) {
	if f.sessionUser != nil {
		return f.sessionUser(ctx, sessionID, now)
	}
	return f.SessionService.SessionUser(ctx, sessionID, now)
}

type faultyUsers struct {
	fortress.UserService
	createUser         func(ctx context.Context, email, hash string) (fortress.User, error)
	findUserByID       func(ctx context.Context, id int64) (fortress.User, error)
	findUserByEmail    func(ctx context.Context, email string) (fortress.User, error)
	updatePasswordHash func(ctx context.Context, id int64, hash string) error
}

func (f *faultyUsers) CreateUser(ctx context.Context, email, hash string) (fortress.User, error) {
	if f.createUser != nil {
		return f.createUser(ctx, email, hash)
	}
	return f.UserService.CreateUser(ctx, email, hash)
}

func (f *faultyUsers) FindUserByID(ctx context.Context, id int64) (fortress.User, error) {
	if f.findUserByID != nil {
		return f.findUserByID(ctx, id)
	}
	return f.UserService.FindUserByID(ctx, id)
}

func (f *faultyUsers) FindUserByEmail(ctx context.Context, email string) (fortress.User, error) {
	if f.findUserByEmail != nil {
		return f.findUserByEmail(ctx, email)
	}
	return f.UserService.FindUserByEmail(ctx, email)
}

func (f *faultyUsers) UpdatePasswordHash(ctx context.Context, id int64, hash string) error {
	if f.updatePasswordHash != nil {
		return f.updatePasswordHash(ctx, id, hash)
	}
	return f.UserService.UpdatePasswordHash(ctx, id, hash)
}

// failingItems answers every item operation with err.
type failingItems struct{ err error }

func (f failingItems) CreateItem(context.Context, int64, fortress.ItemCreate) (fortress.Item, error) {
	return fortress.Item{}, f.err
}
func (f failingItems) FindItem(context.Context, int64, int64) (fortress.Item, error) {
	return fortress.Item{}, f.err
}
func (f failingItems) ListItems(context.Context, int64, fortress.ItemFilter) ([]fortress.Item, int, error) {
	return nil, 0, f.err
}
func (f failingItems) UpdateItem(context.Context, int64, int64, fortress.ItemUpdate) (fortress.Item, error) {
	return fortress.Item{}, f.err
}
func (f failingItems) DeleteItem(context.Context, int64, int64) error { return f.err }

// failingTokens verifies real tokens but cannot issue any.
type failingTokens struct {
	fortress.TokenService
	err error
}

func (f failingTokens) Issue(int64, int64) (string, fortress.AccessClaims, error) {
	return "", fortress.AccessClaims{}, f.err
}

// errReader fails every read, like a client connection that breaks mid-body.
type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, io.ErrUnexpectedEOF }
