package clientip

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestResolve(t *testing.T) {
	res, err := New([]string{"10.0.0.0/8", "192.0.2.7", " fd00::/8 "})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		peer   string
		tls    bool
		header map[string][]string
		ip     string
		https  bool
	}{
		{"direct client, no headers", "203.0.113.5:4000", false, nil, "203.0.113.5", false},
		{"direct client over TLS", "203.0.113.5:4000", true, nil, "203.0.113.5", true},
		{"spoofed XFF from an untrusted peer is ignored", "203.0.113.5:4000", false,
			map[string][]string{"X-Forwarded-For": {"1.1.1.1"}, "X-Forwarded-Proto": {"https"}}, "203.0.113.5", false},
		{"spoofed Forwarded from an untrusted peer is ignored", "203.0.113.5:4000", false,
			map[string][]string{"Forwarded": {"for=1.1.1.1;proto=https"}}, "203.0.113.5", false},
		{"trusted proxy, XFF", "10.1.2.3:80", false,
			map[string][]string{"X-Forwarded-For": {"198.51.100.9"}, "X-Forwarded-Proto": {"https"}}, "198.51.100.9", true},
		{"client-prepended spoof is skipped: rightmost untrusted wins", "10.1.2.3:80", false,
			map[string][]string{"X-Forwarded-For": {"6.6.6.6, 198.51.100.9"}}, "198.51.100.9", false},
		{"two trusted hops", "10.1.2.3:80", false,
			map[string][]string{"X-Forwarded-For": {"198.51.100.9, 10.9.9.9"}, "X-Forwarded-Proto": {"https"}}, "198.51.100.9", true},
		{"repeated XFF headers form one list", "192.0.2.7:80", false,
			map[string][]string{"X-Forwarded-For": {"6.6.6.6", "198.51.100.9"}}, "198.51.100.9", false},
		{"all hops trusted: the leftmost", "10.1.2.3:80", false,
			map[string][]string{"X-Forwarded-For": {"10.5.5.5, 10.6.6.6"}}, "10.5.5.5", false},
		{"garbage hop stops the walk at the last trusted hop", "10.1.2.3:80", false,
			map[string][]string{"X-Forwarded-For": {"198.51.100.9, not-an-ip"}}, "10.1.2.3", false},
		{"Forwarded with IPv6 and port", "[fd00::1]:443", false,
			map[string][]string{"Forwarded": {`for="[2001:db8::17]:4711";proto=https`}}, "2001:db8::17", true},
		{"Forwarded wins over XFF", "10.1.2.3:80", false,
			map[string][]string{"Forwarded": {"for=198.51.100.1"}, "X-Forwarded-For": {"198.51.100.2"}}, "198.51.100.1", false},
		{"Forwarded obfuscated identifier stops the walk", "10.1.2.3:80", false,
			map[string][]string{"Forwarded": {"for=_hidden, for=10.7.7.7"}}, "10.7.7.7", false},
		{"Forwarded with several elements", "10.1.2.3:80", false,
			map[string][]string{"Forwarded": {"for=6.6.6.6;proto=http, for=198.51.100.3;proto=https"}}, "198.51.100.3", true},
		{"XFF port and IPv4-mapped IPv6", "10.1.2.3:80", false,
			map[string][]string{"X-Forwarded-For": {"[::ffff:198.51.100.4]:99"}}, "198.51.100.4", false},
		{"zone in a hop is refused", "10.1.2.3:80", false,
			map[string][]string{"X-Forwarded-For": {"fe80::1%eth0"}}, "10.1.2.3", false},
		{"trusted proxy sends only X-Forwarded-Proto", "10.1.2.3:80", false,
			map[string][]string{"X-Forwarded-Proto": {"https"}}, "10.1.2.3", true},
		{"Forwarded with proto but no for", "10.1.2.3:80", false,
			map[string][]string{"Forwarded": {"proto=https"}}, "10.1.2.3", true},
		{"proto list aligned with hops", "10.1.2.3:80", false,
			map[string][]string{"X-Forwarded-For": {"198.51.100.9, 10.9.9.9"}, "X-Forwarded-Proto": {"http, https"}}, "198.51.100.9", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tc.peer
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			for k, vs := range tc.header {
				for _, v := range vs {
					r.Header.Add(k, v)
				}
			}
			got := res.Resolve(r)
			if got.String() != tc.ip || got.HTTPS != tc.https {
				t.Fatalf("got %s https=%v, want %s https=%v", got, got.HTTPS, tc.ip, tc.https)
			}
		})
	}
}

func TestNoTrustedProxies(t *testing.T) {
	res, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "127.0.0.1:5000"
	r.Header.Set("X-Forwarded-For", "8.8.8.8")
	r.Header.Set("X-Forwarded-Proto", "https")
	if got := res.Resolve(r); got.String() != "127.0.0.1" || got.HTTPS {
		t.Fatalf("got %s https=%v, want the peer over plain HTTP", got, got.HTTPS)
	}
	r.RemoteAddr = "garbage"
	if got := res.Resolve(r); got.String() != "unknown" {
		t.Fatalf("unparseable peer: got %s, want unknown", got)
	}
}

func TestNewRejectsBadRanges(t *testing.T) {
	for _, bad := range []string{"10.0.0.0/33", "nonsense", "1.2.3", "fe80::1%eth0/64"} {
		if _, err := New([]string{bad}); err == nil {
			t.Errorf("New(%q): got nil error", bad)
		}
	}
}

func FuzzResolve(f *testing.F) {
	f.Add("10.0.0.1:80", "1.2.3.4, 10.0.0.2", "https", "for=1.2.3.4;proto=https")
	f.Add("[::1]:1", "[::1]:9", "http,https", `for="[::1]"`)
	res, _ := New([]string{"10.0.0.0/8", "::1/128"})
	f.Fuzz(func(t *testing.T, peer, xff, xfp, fwd string) {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = peer
		r.Header["X-Forwarded-For"] = []string{xff}
		r.Header["X-Forwarded-Proto"] = []string{xfp}
		if fwd != "" {
			r.Header["Forwarded"] = []string{fwd}
		}
		got := res.Resolve(r)
		p := peerAddr(peer)
		if !res.isTrusted(p) && got.IP != p {
			t.Fatalf("untrusted peer %q: headers changed the client to %s", peer, got)
		}
	})
}
