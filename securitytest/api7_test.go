package securitytest

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestAPI7_ServerSideRequestForgery feeds URL-shaped input to every documented operation and asserts that
// the server never opens an outbound connection.
//
// No Fortress endpoint fetches a URL: there are no webhooks, avatars, link previews, imports or remote key
// sets (JWT "jku"/"x5u" headers are never followed; tokens are verified with the configured key only).
// The test proves it three ways, each covering what the others cannot:
//
//  1. A canary listener on 127.0.0.1 whose address is in every URL the test sends (bodies, query, path,
//     headers such as Referer and X-Forwarded-Host, JWT jku/x5u headers, an absolute-form request line
//     and a CONNECT). A fetch of any of them reaches the canary directly, since Go's HTTP client never
//     proxies loopback addresses.
//  2. HTTP_PROXY, HTTPS_PROXY and ALL_PROXY in the server's environment point at a recording proxy, so any
//     request through a standard Go HTTP client to any other host (169.254.169.254, example.com) lands
//     there instead of leaving the machine.
//  3. The server's own sockets, read from /proc/<pid>/fd and /proc/<pid>/net/{tcp,tcp6,udp,udp6}: apart
//     from its listening socket and the connections accepted on it, it must hold none, so a connection
//     that bypasses HTTP altogether (a raw dial, a DNS query, a client that ignores the proxy variables)
//     is seen while it is open.
//
// The canary and the proxy are checked after the server has stopped, so a fetch started in the background
// during the test is counted too. Only SQLite is used: PostgreSQL would add a legitimate outbound
// connection to the database.
func TestAPI7_ServerSideRequestForgery(t *testing.T) {
	t.Parallel()
	canary := newRecorder(t, "canary")
	proxy := newRecorder(t, "proxy")
	t.Cleanup(func() {
		for _, rec := range []*recorder{canary, proxy} {
			if got := rec.connections(); len(got) > 0 {
				t.Errorf("the server connected to the %s: %q; want no outbound connection", rec.name, got)
			}
		}
	})
	proxyURL := "http://" + proxy.addr
	s := start(t, map[string]string{
		"HTTP_PROXY": proxyURL, "HTTPS_PROXY": proxyURL, "ALL_PROXY": proxyURL,
		"http_proxy": proxyURL, "https_proxy": proxyURL, "all_proxy": proxyURL,
		// URLs as the password to confirm are wrong passwords; they must not lock alice out of the test.
		"FORTRESS_LOGIN_FAILURES_MAX": "1000",
	})
	alice := s.newAccount(t, "alice")
	aliceItem := s.createItem(t, alice.token, "alice's", "")

	targets := []string{
		"http://" + canary.addr + "/ssrf",
		"https://" + canary.addr + "/ssrf",
		"//" + canary.addr + "/ssrf",
		"http://localhost:" + strconv.Itoa(canary.port) + "/ssrf",
		"gopher://" + canary.addr + "/_ssrf",
		"dict://" + canary.addr + "/ssrf",
		"ftp://" + canary.addr + "/ssrf",
		"http://169.254.169.254/latest/meta-data/",
		"https://ssrf.example.com/ssrf",
		"file:///etc/passwd",
	}
	// A correctly signed token that names remote key sets: accepted (the headers are ignored), never
	// followed. The RS256 one is refused, also without fetching anything.
	// Each request gets a session of its own, since some operations (logout, password change) end it.
	jkuHeaders := map[string]any{"jku": targets[0] + "/jwks.json", "x5u": targets[0] + "/cert.pem"}
	jkuToken := func() string {
		alice.signIn(t, s)
		return forge(t, jwt.SigningMethodHS256, []byte(jwtSecret), claimsFor(strconv.FormatInt(alice.id, 10), alice.sid), jkuHeaders)
	}
	rsaKey, _ := asymmetricKeys()
	rsJKUToken := forge(t, jwt.SigningMethodRS256, rsaKey, claimsFor(strconv.FormatInt(alice.id, 10), alice.sid), jkuHeaders)

	doc := s.fetchOpenAPI(t)
	emails := 0
	for _, e := range doc.endpoints() {
		for _, target := range targets {
			opts := []option{
				header("Referer", target), header("Origin", target), header("X-Forwarded-Host", canary.addr),
				header("Forwarded", "host="+canary.addr+";proto=http"), header("X-Original-URL", target),
				header("X-Rewrite-URL", target), header("X-Callback-URL", target), header("Link", "<"+target+">; rel=preload"),
				header("Contact", target), header("X-Wap-Profile", target),
			}
			if doc.permission(e.op) != "public" {
				opts = append(opts, bearer(jkuToken()))
			}
			if body := e.op.RequestBody; body != nil {
				for mt, c := range body.Content {
					values := map[string]string{}
					for name, prop := range doc.resolve(c.Schema).Properties {
						switch {
						case prop.Format == "email" || name == "email" || name == "username":
							emails++
							values[name] = "ssrf-" + strconv.Itoa(emails) + "@example.com"
						case name == "grant_type":
							values[name] = "password"
						default:
							values[name] = target
						}
					}
					if mt == "application/x-www-form-urlencoded" {
						form := url.Values{}
						for k, v := range values {
							form.Set(k, v)
						}
						opts = append(opts, formBody(form))
					} else {
						opts = append(opts, jsonBody(jsonOf(values)))
					}
				}
			}
			q := url.Values{}
			for _, name := range []string{"url", "uri", "callback", "redirect", "redirect_uri", "next", "return_to", "webhook", "image", "feed", "host"} {
				q.Set(name, target)
			}
			path := e.concretePath(func(string) int64 { return aliceItem.ID }, url.PathEscape(target))
			s.do(t, e.method, path+"?"+q.Encode(), opts...)
		}
		// The URL as the email itself, where one is asked for.
		if e.path == "/auth/register" {
			s.do(t, "POST", e.path, jsonBody(jsonOf(map[string]string{"email": "ssrf@" + canary.addr, "password": targets[0]})))
		}
	}
	s.do(t, "GET", "/items/", bearer(rsJKUToken)).want(t, http.StatusUnauthorized, detailInvalidToken)
	s.do(t, "GET", "/items/", bearer(jkuToken())).want(t, http.StatusOK, "")

	// The server is no proxy: an absolute-form request line and a CONNECT to the canary are answered
	// locally (or refused), never forwarded.
	abs := s.raw(t, "GET http://"+canary.addr+"/ssrf HTTP/1.1\r\nHost: "+canary.addr+"\r\nConnection: close\r\n\r\n")
	if abs.status == http.StatusOK {
		t.Errorf("%s: got 200 for an absolute-form request to another port, want a local 404", abs)
	}
	conn := s.raw(t, "CONNECT "+canary.addr+" HTTP/1.1\r\nHost: "+canary.addr+"\r\nConnection: close\r\n\r\n")
	if conn.status < 400 {
		t.Errorf("%s: got %d for CONNECT, want a refusal", conn, conn.status)
	}

	t.Run("the server holds no outbound socket", func(t *testing.T) {
		socks := serverSockets(t, s.pid, s.port)
		if !socks.listening {
			t.Fatalf("the server's listening socket on port %d is not among its sockets: the check cannot see them", s.port)
		}
		if socks.accepted == 0 {
			t.Fatalf("no accepted connection seen while the client keeps one open: the check cannot see them")
		}
		for _, o := range socks.other {
			t.Errorf("the server holds a socket that is neither its listener nor a client of it: %s", o)
		}
	})
}

// recorder is a TCP listener that records every connection made to it.
type recorder struct {
	name string
	addr string
	port int

	mu    sync.Mutex
	conns []string
}

func newRecorder(t *testing.T, name string) *recorder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{name: name, addr: ln.Addr().String(), port: ln.Addr().(*net.TCPAddr).Port}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			// Record at once, then read what was asked, briefly, for the failure message.
			r.mu.Lock()
			i := len(r.conns)
			r.conns = append(r.conns, "from "+c.RemoteAddr().String())
			r.mu.Unlock()
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			line, _ := bufio.NewReader(c).ReadString('\n')
			_ = c.Close()
			r.mu.Lock()
			r.conns[i] += ": " + strings.TrimSpace(line)
			r.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
	})
	return r
}

func (r *recorder) connections() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.conns...)
}

// sockets is what serverSockets found.
type sockets struct {
	listening bool     // the listener on the server's port
	accepted  int      // connections accepted on it
	other     []string // anything else: an outbound connection, another listener, a UDP socket
}

// serverSockets lists the sockets the process holds, from its file descriptors and the kernel's tables.
func serverSockets(t *testing.T, pid, port int) sockets {
	t.Helper()
	fdDir := "/proc/" + strconv.Itoa(pid) + "/fd"
	fds, err := os.ReadDir(fdDir)
	if err != nil {
		t.Skipf("cannot read the server's file descriptors (%v): no /proc", err)
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join(fdDir, fd.Name()))
		if inode, ok := strings.CutPrefix(link, "socket:["); err == nil && ok {
			inodes[strings.TrimSuffix(inode, "]")] = true
		}
	}
	var out sockets
	for _, table := range []string{"tcp", "tcp6", "udp", "udp6"} {
		data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/net/" + table)
		if err != nil {
			t.Fatalf("reading the %s table: %v", table, err)
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || !inodes[f[9]] {
				continue
			}
			local, remote, state := f[1], f[2], f[3]
			desc := fmt.Sprintf("%s local %s remote %s state %s", table, hexAddr(local), hexAddr(remote), state)
			switch {
			case strings.HasPrefix(table, "udp"):
				out.other = append(out.other, desc)
			case hexPort(local) != port:
				out.other = append(out.other, desc)
			case state == "0A": // LISTEN
				out.listening = true
			default:
				out.accepted++
			}
		}
	}
	return out
}

// hexPort decodes the port of a /proc/net address ("0100007F:1F90").
func hexPort(addr string) int {
	_, p, _ := strings.Cut(addr, ":")
	n, _ := strconv.ParseUint(p, 16, 16)
	return int(n)
}

// hexAddr renders a /proc/net IPv4 address readably; IPv6 ones stay in hex.
func hexAddr(addr string) string {
	ip, _, _ := strings.Cut(addr, ":")
	if len(ip) != 8 {
		return addr
	}
	n, _ := strconv.ParseUint(ip, 16, 32)
	return fmt.Sprintf("%d.%d.%d.%d:%d", n&0xff, n>>8&0xff, n>>16&0xff, n>>24, hexPort(addr))
}
