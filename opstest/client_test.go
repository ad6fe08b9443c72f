package opstest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// requestBound caps every request a test sends: a server that hangs fails the test instead of stalling it.
const requestBound = 15 * time.Second

// newHTTPClient is a client that never uses a proxy, never follows redirects and never retries on its
// own beyond what net/http does for idempotent requests on a reused connection.
func newHTTPClient() *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:               nil,
			DialContext:         d.DialContext,
			MaxIdleConnsPerHost: 64,
			DisableCompression:  true,
		},
		Timeout:       requestBound,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// answer is one response, read to the end, or the transport error that replaced it.
type answer struct {
	status  int
	proto   string // HTTP/1.1 or HTTP/2.0
	header  http.Header
	body    []byte
	err     error // transport failure: no response at all
	latency time.Duration
	sent    time.Time
}

func (a answer) String() string {
	if a.err != nil {
		return "error: " + a.err.Error()
	}
	return fmt.Sprintf("%d %s", a.status, truncate(string(a.body), 200))
}

// request is what a test sends.
type request struct {
	method, path string
	token        string
	form         url.Values // sent as application/x-www-form-urlencoded
	json         any        // sent as application/json
	raw          []byte     // sent as is, with the Content-Type of header
	header       http.Header
}

// send sends r to base with hc and reads the whole answer; it never fails the test, so load workers
// can use it from any goroutine and count transport errors as failures.
func send(ctx context.Context, hc *http.Client, base string, r request) answer {
	var body io.Reader
	var contentType string
	switch {
	case r.form != nil:
		body, contentType = strings.NewReader(r.form.Encode()), "application/x-www-form-urlencoded"
	case r.raw != nil:
		body = bytes.NewReader(r.raw)
	case r.json != nil:
		b, err := json.Marshal(r.json)
		if err != nil {
			return answer{err: err}
		}
		body, contentType = bytes.NewReader(b), "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, r.method, base+r.path, body)
	if err != nil {
		return answer{err: err}
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
	for k, vs := range r.header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return answer{err: err, latency: time.Since(start), sent: start}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, proto: resp.Proto, header: resp.Header, body: data, latency: time.Since(start), sent: start}
	if err != nil {
		a.err = fmt.Errorf("reading the body of a %d: %w", resp.StatusCode, err)
	}
	return a
}

// api is a client of one base URL (a replica or the load balancer) for the test's own goroutine.
type api struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func newAPI(t *testing.T, base string) *api {
	hc := newHTTPClient()
	t.Cleanup(hc.CloseIdleConnections)
	return &api{t: t, base: base, hc: hc}
}

// do sends r and returns the answer, failing the test on a transport error.
func (a *api) do(r request) answer {
	a.t.Helper()
	ans := send(context.Background(), a.hc, a.base, r)
	if ans.err != nil {
		a.t.Fatalf("%s %s%s: %v", r.method, a.base, r.path, ans.err)
	}
	return ans
}

// expect sends r and fails the test unless the status is want; it decodes a JSON body into out.
func (a *api) expect(r request, want int, out any) answer {
	a.t.Helper()
	ans := a.do(r)
	if ans.status != want {
		a.t.Fatalf("%s %s%s: got %s, want %d", r.method, a.base, r.path, ans, want)
	}
	if out != nil {
		if err := json.Unmarshal(ans.body, out); err != nil {
			a.t.Fatalf("%s %s: body %q is not the expected JSON: %v", r.method, r.path, truncate(string(ans.body), 200), err)
		}
	}
	return ans
}

// password is the one password of every account the tests create; none of it is under test.
const password = "correct horse battery staple"

// register creates an account and returns its id.
func (a *api) register(email string) int64 {
	a.t.Helper()
	var u struct {
		ID int64 `json:"id"`
	}
	a.expect(request{method: "POST", path: "/auth/register", json: map[string]string{"email": email, "password": password}}, http.StatusCreated, &u)
	return u.ID
}

// loginRequest is the login form of email.
func loginRequest(email string) request {
	return request{method: "POST", path: "/auth/login", form: url.Values{"username": {email}, "password": {password}}}
}

// login opens a session and returns its access token.
func (a *api) login(email string) string {
	a.t.Helper()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	a.expect(loginRequest(email), http.StatusOK, &tok)
	if tok.AccessToken == "" {
		a.t.Fatal("login answered no access_token")
	}
	return tok.AccessToken
}

// item is an item as the API answers it.
type item struct {
	ID          int64   `json:"id"`
	Name        string  `json:"name"`
	Description *string `json:"description"`
	OwnerID     int64   `json:"owner_id"`
}

// createItem creates an item and returns it.
func (a *api) createItem(token, name string) item {
	a.t.Helper()
	var it item
	a.expect(request{method: "POST", path: "/items/", token: token, json: map[string]string{"name": name}}, http.StatusCreated, &it)
	return it
}

// listItems returns every item of the token's user.
func (a *api) listItems(token string) []item {
	a.t.Helper()
	var all []item
	for offset := 0; ; offset += 100 {
		var page []item
		a.expect(request{method: "GET", path: "/items/?limit=100&offset=" + strconv.Itoa(offset), token: token}, http.StatusOK, &page)
		all = append(all, page...)
		if len(page) < 100 {
			return all
		}
	}
}

// checkItems fails the test unless every acknowledged item is there with the name it was created with.
func (a *api) checkItems(token string, acked map[int64]string) {
	a.t.Helper()
	missing := 0
	for id, name := range acked {
		ans := a.do(request{method: "GET", path: "/items/" + strconv.FormatInt(id, 10), token: token})
		var it item
		if ans.status != http.StatusOK || json.Unmarshal(ans.body, &it) != nil || it.Name != name {
			missing++
			if missing <= 5 {
				a.t.Errorf("acknowledged item %d (%q): got %s, want 200 with its name", id, name, ans)
			}
		}
	}
	if missing > 0 {
		a.t.Fatalf("%d of %d acknowledged writes are missing or changed", missing, len(acked))
	}
}

// problem is the RFC 9457 document of an error answer.
type problem struct {
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	RequestID string `json:"request_id"`
}

// checkUnavailable fails the test unless a is the contract's 503: a problem document with a detail and
// a request id, Retry-After, and no internals (driver text, SQL, file paths) in the body.
func checkUnavailable(t testing.TB, a answer) {
	t.Helper()
	var p problem
	if a.status != http.StatusServiceUnavailable || a.header.Get("Content-Type") != "application/problem+json" ||
		json.Unmarshal(a.body, &p) != nil || p.Status != 503 || p.Detail == "" || p.RequestID == "" {
		t.Fatalf("got %s (Content-Type %q), want a 503 problem document with detail and request_id", a, a.header.Get("Content-Type"))
	}
	if a.header.Get("Retry-After") == "" {
		t.Errorf("503 without Retry-After: %s", a)
	}
	for _, internal := range []string{"sqlite", "SQL", "postgres", "pgx", "database", "disk", ".db", "/tmp", "redis", "dial"} {
		if strings.Contains(string(a.body), internal) {
			t.Errorf("503 body shows an internal (%q): %s", internal, a.body)
		}
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
