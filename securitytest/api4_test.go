package securitytest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestAPI4_UnrestrictedResourceConsumption checks every bound on what one client can make the server
// spend: body size, page size, request rate, concurrent password hashing, and time on slow connections.
func TestAPI4_UnrestrictedResourceConsumption(t *testing.T) {
	t.Parallel()

	t.Run("body size", func(t *testing.T) {
		t.Parallel()
		const maxBody = 1024
		s := start(t, map[string]string{"FORTRESS_MAX_BODY_BYTES": strconv.Itoa(maxBody)})
		alice := s.newAccount(t, "alice")
		tooBig := fmt.Sprintf("The request body must not exceed %d bytes.", maxBody)
		big := `{"name":"big","description":"` + strings.Repeat("a", 2*maxBody) + `"}`
		bigForm := "username=a%40example.com&password=" + strings.Repeat("a", 2*maxBody)

		s.do(t, "POST", "/items/", bearer(alice.token), jsonBody(big)).want(t, http.StatusRequestEntityTooLarge, tooBig)
		s.do(t, "POST", "/items/", bearer(alice.token), chunkedBody("application/json", big)).want(t, http.StatusRequestEntityTooLarge, tooBig)
		s.do(t, "PUT", "/items/1", bearer(alice.token), chunkedBody("application/json", big)).want(t, http.StatusRequestEntityTooLarge, tooBig)
		s.do(t, "POST", "/auth/register", chunkedBody("application/json", `{"email":"big@example.com","password":"`+strings.Repeat("a", 2*maxBody)+`"}`)).
			want(t, http.StatusRequestEntityTooLarge, tooBig)
		s.do(t, "POST", "/auth/login", chunkedBody("application/x-www-form-urlencoded", bigForm)).want(t, http.StatusRequestEntityTooLarge, tooBig)
		// The accounts routes read bodies through the same cap, declared or chunked.
		root := s.newAdmin(t, "root")
		pad := strings.Repeat("a", 2*maxBody)
		for _, tc := range []struct {
			method, path, token, body string
		}{
			{"POST", "/auth/refresh", "", `{"refresh_token":"` + pad + `"}`},
			{"POST", "/auth/password", alice.token, `{"current_password":"` + pad + `","new_password":"x"}`},
			{"DELETE", "/auth/me", alice.token, `{"password":"` + pad + `"}`},
			{"PATCH", adminUserPath(alice.id), root.token, `{"role":"` + pad + `"}`},
		} {
			var auth []option
			if tc.token != "" {
				auth = []option{bearer(tc.token)}
			}
			s.do(t, tc.method, tc.path, append(auth, jsonBody(tc.body))...).want(t, http.StatusRequestEntityTooLarge, tooBig)
			s.do(t, tc.method, tc.path, append(auth, chunkedBody("application/json", tc.body))...).want(t, http.StatusRequestEntityTooLarge, tooBig)
		}
		s.do(t, "POST", "/auth/login", chunkedBody("application/x-www-form-urlencoded", "refresh_delivery=cookie&"+bigForm), header("Origin", s.base)).
			want(t, http.StatusRequestEntityTooLarge, tooBig)
		// None of it changed the accounts: alice is signed in, a user, with her password.
		s.do(t, "GET", "/auth/me", bearer(alice.token)).want(t, http.StatusOK, "")
		if role := s.roleOf(t, alice.id); role != "user" {
			t.Errorf("alice's role %q, want user", role)
		}
		s.login(t, alice.email, alice.password).want(t, http.StatusOK, "")

		// Exactly at the cap is fine.
		prefix, suffix := `{"name":"at the cap","description":"`, `"}`
		exact := prefix + strings.Repeat("b", maxBody-len(prefix)-len(suffix)) + suffix
		s.do(t, "POST", "/items/", bearer(alice.token), jsonBody(exact)).want(t, http.StatusCreated, "")

		// A declared length over the cap is refused before any of the body is read: the server answers
		// while the client has sent none of its gigabyte.
		begin := time.Now()
		r := s.raw(t, "POST /items/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "+alice.token+
			"\r\nContent-Type: application/json\r\nContent-Length: 1073741824\r\n\r\n")
		r.want(t, http.StatusRequestEntityTooLarge, tooBig)
		if d := time.Since(begin); d > 5*time.Second {
			t.Errorf("413 for a declared 1 GiB took %s", d)
		}

		// An endless chunked body is cut at the cap.
		endlessChunked(t, s, alice.token, tooBig)

		if n := s.db.queryInt(t, "SELECT COUNT(*) FROM items"); n != 1 {
			t.Errorf("%d items stored, want 1 (only the one at the cap)", n)
		}
	})

	t.Run("pagination", func(t *testing.T) {
		t.Parallel()
		s := start(t, nil)
		alice := s.newAccount(t, "alice")
		const total = 57
		for i := range total {
			s.createItem(t, alice.token, "item "+strconv.Itoa(i), "")
		}
		first := s.do(t, "GET", "/items/", bearer(alice.token))
		first.want(t, http.StatusOK, "")
		var page []item
		first.decode(t, &page)
		if len(page) != 50 {
			t.Errorf("%s: %d items, want the default page of 50", first, len(page))
		}
		if got := first.header.Get("X-Total-Count"); got != strconv.Itoa(total) {
			t.Errorf("%s: X-Total-Count %q, want %d", first, got, total)
		}
		if got, want := first.header.Get("Link"), `</items/?limit=50&offset=50>; rel="next"`; got != want {
			t.Errorf("%s: Link %q, want %q", first, got, want)
		}
		last := s.do(t, "GET", "/items/?limit=50&offset=50", bearer(alice.token))
		last.decode(t, &page)
		if len(page) != total-50 || last.header.Get("Link") != "" {
			t.Errorf("%s: %d items and Link %q, want %d and no next page", last, len(page), last.header.Get("Link"), total-50)
		}
		full := s.do(t, "GET", "/items/?limit=100", bearer(alice.token))
		full.decode(t, &page)
		if len(page) != total {
			t.Errorf("%s: %d items, want %d", full, len(page), total)
		}
		for _, q := range []string{"limit=101", "limit=1000000", "limit=0", "limit=-1", "limit=abc", "limit=1e2", "limit=10&limit=20",
			"offset=-1", "offset=1000001", "offset=99999999999999999999"} {
			r := s.do(t, "GET", "/items/?"+q, bearer(alice.token))
			r.want(t, http.StatusUnprocessableEntity, "")
		}
		// The document states the same bounds that are enforced.
		doc := s.fetchOpenAPI(t)
		for _, p := range doc.Paths["/items/"]["get"].Parameters {
			if p.Name == "limit" && (p.Schema.Maximum == nil || *p.Schema.Maximum != 100 || fmt.Sprint(p.Schema.Default) != "50") {
				t.Errorf("/openapi.json documents limit %+v, want maximum 100 and default 50", p.Schema)
			}
		}
	})

	t.Run("sessions list", func(t *testing.T) {
		t.Parallel()
		// Every login opens a session; the list answers the newest 100, so a user with many (or an attacker
		// with the password) cannot make it grow without bound. Signing out everywhere still ends them all.
		const logins = 103
		s := start(t, map[string]string{"FORTRESS_LOGIN_FAILURES_MAX": "1000"})
		u := s.newAccount(t, "many")
		for range logins - 1 {
			u.signIn(t, s)
		}
		r := s.do(t, "GET", "/auth/sessions", bearer(u.token))
		r.want(t, http.StatusOK, "")
		var rows []sessionRow
		r.decode(t, &rows)
		if len(rows) != 100 {
			t.Errorf("%s: %d sessions listed, want the newest 100 of %d", r, len(rows), logins)
		}
		if len(rows) > 0 && (strconv.FormatInt(rows[0].ID, 10) != u.sid || !rows[0].Current) {
			t.Errorf("%s: first row %+v, want the newest session %s, current", r, rows[0], u.sid)
		}
		for i := 1; i < len(rows); i++ {
			if rows[i].ID >= rows[i-1].ID {
				t.Errorf("%s: session %d listed after %d, want newest first", r, rows[i].ID, rows[i-1].ID)
				break
			}
		}
		s.do(t, "DELETE", "/auth/sessions", bearer(u.token)).want(t, http.StatusNoContent, "")
		if n := s.db.queryInt(t, "SELECT COUNT(*) FROM sessions WHERE user_id = ? AND revoked_at IS NULL", u.id); n != 0 {
			t.Errorf("%d of %d sessions still open after signing out everywhere, want 0", n, logins)
		}
	})

	t.Run("request rate", func(t *testing.T) {
		t.Parallel()
		s := start(t, map[string]string{"FORTRESS_RATE_LIMIT": "5/1h"})
		for i := range 5 {
			r := s.do(t, "GET", "/openapi.json")
			r.want(t, http.StatusOK, "")
			if got, want := r.header.Get("RateLimit"), fmt.Sprintf(`"default";r=%d;`, 4-i); !strings.HasPrefix(got, want) {
				t.Errorf("%s: RateLimit %q, want it to start %q", r, got, want)
			}
		}
		r := s.do(t, "GET", "/openapi.json")
		r.want(t, http.StatusTooManyRequests, detailTooMany)
		if got := r.header.Get("RateLimit-Policy"); got != `"default";q=5;w=3600` {
			t.Errorf("%s: RateLimit-Policy %q, want \"default\";q=5;w=3600", r, got)
		}
		if got := r.header.Get("RateLimit"); !strings.HasPrefix(got, `"default";r=0;t=`) {
			t.Errorf("%s: RateLimit %q, want the budget at 0", r, got)
		}
		// The budget is the client's, on every route, and forwarding headers from an untrusted peer do not
		// make another client.
		s.do(t, "GET", "/").want(t, http.StatusTooManyRequests, detailTooMany)
		s.do(t, "GET", "/openapi.json", header("X-Forwarded-For", "198.51.100.1")).want(t, http.StatusTooManyRequests, detailTooMany)
		s.do(t, "GET", "/health").want(t, http.StatusOK, "") // probes are exempt
		s.do(t, "GET", "/openapi.json", fromIP("127.0.0.2")).want(t, http.StatusOK, "")

		// How fast the limiter refuses: an over-budget client costs the server little.
		const n = 200
		begin := time.Now()
		for range n {
			if r := s.do(t, "GET", "/openapi.json"); r.status != http.StatusTooManyRequests {
				t.Fatalf("%s: got %d, want 429", r, r.status)
			}
		}
		elapsed := time.Since(begin)
		t.Logf("%d sequential over-budget requests in %s: %.0f 429s per second", n, elapsed.Round(time.Millisecond), n/elapsed.Seconds())
	})

	t.Run("concurrent password hashing", func(t *testing.T) {
		t.Parallel()
		// One Argon2id computation at a time and no queue, at 64 MiB each: any login that arrives while one
		// runs must get 503 at once. Unbounded, 16 concurrent logins would take 1 GiB.
		s := start(t, map[string]string{
			"FORTRESS_HASH_CONCURRENCY": "1", "FORTRESS_HASH_QUEUE": "0",
			"FORTRESS_ARGON2_MEMORY_KIB": "65536", "FORTRESS_ARGON2_TIME": "3",
			"FORTRESS_LOGIN_FAILURES_MAX": "1000",
		})
		s.register(t, "hash@example.com", "a good long password").want(t, http.StatusCreated, "")
		const clients = 16
		answers := make([]response, clients)
		errs := make([]error, clients)
		var wg sync.WaitGroup
		ready := make(chan struct{})
		begin := time.Now()
		for i := range clients {
			// Each on its own connection, from its own address, so none waits for another on the client side.
			ip := "127.0.1." + strconv.Itoa(i+1)
			s.client(ip)
			wg.Go(func() {
				<-ready
				answers[i], errs[i] = s.send("POST", "/auth/login", fromIP(ip),
					formBody(url.Values{"username": {"hash@example.com"}, "password": {"a good long password"}}))
			})
		}
		close(ready)
		wg.Wait() // each request is bounded by the client's timeout: a hang fails, it cannot block
		counts := map[int]int{}
		for i, r := range answers {
			if errs[i] != nil {
				t.Errorf("login %d: %v; want an answer within %s", i, errs[i], requestBound)
				continue
			}
			inspect(t, r)
			counts[r.status]++
			switch r.status {
			case http.StatusOK:
			case http.StatusServiceUnavailable:
				if r.detail() != detailHashBusy {
					t.Errorf("%s: detail %q, want %q", r, r.detail(), detailHashBusy)
				}
			default:
				t.Errorf("%s: got %d, want 200 or 503", r, r.status)
			}
		}
		if counts[http.StatusOK] == 0 || counts[http.StatusServiceUnavailable] == 0 {
			t.Errorf("%d concurrent logins: %v, want some 200 and some 503", clients, counts)
		}
		peak := peakRSS(t, s.pid)
		t.Logf("%d concurrent logins with one hashing slot: %v in %s; server peak RSS %d MiB", clients, counts,
			time.Since(begin).Round(time.Millisecond), peak>>20)
		if peak > 300<<20 {
			t.Errorf("peak RSS %d MiB, want under 300 MiB", peak>>20)
		}
		// The server is still fine.
		s.login(t, "hash@example.com", "a good long password").want(t, http.StatusOK, "")
	})

	t.Run("slow clients", func(t *testing.T) {
		t.Parallel()
		s := start(t, map[string]string{"FORTRESS_READ_HEADER_TIMEOUT": "300ms", "FORTRESS_READ_TIMEOUT": "1s"})

		// Slowloris: headers that never end, trickled one every 50 ms. The header deadline is absolute, so
		// trickling does not extend it.
		conn, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		begin := time.Now()
		if _, err := io.WriteString(conn, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n"); err != nil {
			t.Fatal(err)
		}
		stop := make(chan struct{})
		trickled := make(chan struct{})
		go func() {
			defer close(trickled)
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-tick.C:
					if _, err := fmt.Fprintf(conn, "X-Slow-%d: x\r\n", i); err != nil {
						return
					}
				}
			}
		}()
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err = conn.Read(make([]byte, 1024))
		cut := time.Since(begin)
		close(stop)
		<-trickled
		if err == nil || !connectionEnded(err) {
			t.Errorf("slow headers: read got %v, want the server to close the connection", err)
		}
		if cut > 5*time.Second {
			t.Errorf("slow headers cut after %s, want about the 300ms header timeout", cut)
		}

		// A slow body: the request is answered or cut once the read timeout passes, not held open.
		conn2, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn2.Close()
		begin = time.Now()
		if _, err := io.WriteString(conn2, "POST /auth/register HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"); err != nil {
			t.Fatal(err)
		}
		_ = conn2.SetReadDeadline(time.Now().Add(10 * time.Second))
		res, err := http.ReadResponse(bufio.NewReader(conn2), nil)
		switch {
		case err == nil:
			res.Body.Close()
			if res.StatusCode != http.StatusBadRequest {
				t.Errorf("slow body: got %d, want 400 or a closed connection", res.StatusCode)
			}
		case !connectionEnded(err):
			t.Errorf("slow body: got %v, want an answer or a closed connection", err)
		}
		if d := time.Since(begin); d > 6*time.Second {
			t.Errorf("slow body held for %s, want about the 1s read timeout", d)
		}

		// Headers over the 64 KiB cap are refused by net/http before the application.
		big := s.raw(t, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: "+strings.Repeat("a", 100<<10)+"\r\nConnection: close\r\n\r\n")
		if big.status != http.StatusRequestHeaderFieldsTooLarge {
			t.Errorf("%s: got %d, want 431", big, big.status)
		}
		// The server still serves.
		s.do(t, "GET", "/health").want(t, http.StatusOK, "")
	})
}

// endlessChunked streams a chunked body that never ends and expects 413 once the cap is passed.
func endlessChunked(t *testing.T, s *server, token, detail string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(requestBound))
	if _, err := io.WriteString(conn, "POST /items/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "+token+
		"\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		chunk := fmt.Sprintf("%x\r\n%s\r\n", 512, strings.Repeat("a", 512))
		for ctx.Err() == nil {
			if _, err := io.WriteString(conn, chunk); err != nil {
				return
			}
		}
	}()
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	cancel()
	if err != nil {
		t.Fatalf("endless chunked body: %v, want a 413", err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	_ = conn.SetDeadline(time.Now()) // unblock the writer
	<-writerDone
	r := response{method: "POST", path: "/items/ (endless chunked)", status: res.StatusCode, header: res.Header, body: body}
	inspect(t, r)
	r.want(t, http.StatusRequestEntityTooLarge, detail)
}

// peakRSS reads the high-water mark of the process's resident memory (VmHWM).
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	f, err := os.Open("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Skipf("no /proc to read the peak RSS: %v", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmHWM %q: %v", rest, err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}
