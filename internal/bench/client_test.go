package bench

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func read(t *testing.T, raw string) (Response, error) {
	t.Helper()
	return ReadResponse(bufio.NewReader(strings.NewReader(raw)), nil)
}

func TestReadResponseFraming(t *testing.T) {
	for _, tc := range []struct {
		name, raw string
		status    int
		body      string
		close     bool
	}{
		{"content-length", "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"status\":\"ok\"}", 200, `{"status":"ok"}`, false},
		{"header names in any case", "HTTP/1.1 201 Created\r\ncontent-length: 2\r\nCONNECTION: Close\r\n\r\n{}", 201, "{}", true},
		{"chunked with extension and trailer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n", 200, "hello world", false},
		{"204 has no body", "HTTP/1.1 204 No Content\r\nX-Request-Id: 1\r\n\r\n", 204, "", false},
		{"HTTP/1.0 closes", "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", 200, "x", true},
		{"body to the end of the connection", "HTTP/1.1 200 OK\r\n\r\nuntil EOF", 200, "until EOF", true},
	} {
		resp, err := read(t, tc.raw)
		if err != nil {
			t.Errorf("%s: got error %v, want none", tc.name, err)
			continue
		}
		if resp.Status != tc.status || string(resp.Body) != tc.body || resp.Close != tc.close {
			t.Errorf("%s: got %d %q close=%v, want %d %q close=%v", tc.name, resp.Status, resp.Body, resp.Close, tc.status, tc.body, tc.close)
		}
	}
}

func TestReadResponseRefusesMalformedAnswers(t *testing.T) {
	for _, raw := range []string{
		"",
		"SMTP ready\r\n",
		"HTTP/1.1 2x0 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",
		"HTTP/1.1 200 OK\r\nContent-Type: x\r\n",
	} {
		if resp, err := read(t, raw); err == nil {
			t.Errorf("ReadResponse(%q) got %d %q and no error, want an error", raw, resp.Status, resp.Body)
		}
	}
}

func TestConnKeepsAliveAndRedials(t *testing.T) {
	big := strings.Repeat("0123456789", 1000) // larger than net/http's buffer: sent chunked
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/big":
			_, _ = w.Write([]byte(big))
		case "/bye":
			w.Header().Set("Connection", "close")
			_, _ = w.Write([]byte("bye"))
		default:
			_, _ = w.Write([]byte("hi"))
		}
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	c, err := Dial(t.Context(), addr)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	get := func(path string) Response {
		t.Helper()
		resp, err := c.Do([]byte("GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\n\r\n"))
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		return resp
	}
	if resp := get("/"); resp.Status != 200 || string(resp.Body) != "hi" || resp.Close {
		t.Errorf("GET /: got %d %q close=%v, want 200 \"hi\" and a kept connection", resp.Status, resp.Body, resp.Close)
	}
	if resp := get("/big"); string(resp.Body) != big {
		t.Errorf("GET /big: got %d bytes, want %d", len(resp.Body), len(big))
	}
	if resp := get("/"); string(resp.Body) != "hi" {
		t.Errorf("GET / after a chunked answer: got %q, want \"hi\" (the framing must end exactly)", resp.Body)
	}
	if resp := get("/bye"); !resp.Close {
		t.Error("answer with Connection: close: got Close=false, want true")
	}
	if _, err := Dial(t.Context(), "127.0.0.1:1"); err == nil {
		t.Error("Dial to a closed port: got no error, want one")
	}
}
