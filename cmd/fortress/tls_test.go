package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns their paths and a pool that
// trusts the certificate.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "fortress test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestNativeTLS(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	vars := baseEnv(t)
	vars["FORTRESS_TLS_CERT_FILE"], vars["FORTRESS_TLS_KEY_FILE"] = certFile, keyFile
	s := startServe(t, vars)
	if !strings.HasPrefix(s.base, "http://") {
		t.Fatalf("base %q", s.base)
	}
	addr := strings.TrimPrefix(s.base, "http://")
	if !strings.Contains(s.log.String(), `"scheme":"https"`) {
		t.Fatal("the startup line does not say https")
	}

	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	resp, err := client.Get("https://" + addr + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Strict-Transport-Security") == "" || resp.TLS == nil {
		t.Fatalf("GET /health over TLS: got %d, HSTS %q", resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
	}
	if resp.ProtoMajor != 2 {
		t.Errorf("protocol: got %s, want HTTP/2 negotiated by ALPN", resp.Proto)
	}

	refused := []struct {
		name string
		cfg  *tls.Config
	}{
		{"TLS 1.1", &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}},                                       //nolint:gosec // G402: offered on purpose, to prove the server refuses it
		{"CBC suite", &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA}}}, //nolint:gosec // G402: offered on purpose, to prove the server refuses it
	}
	for _, tc := range refused {
		conn, err := tls.Dial("tcp", addr, tc.cfg)
		if err == nil {
			conn.Close()
			t.Errorf("%s: handshake succeeded, want it refused", tc.name)
		}
	}
	// A plain-HTTP request on the TLS port gets an error answer, never the API.
	plain, err := http.Get("http://" + addr + "/health")
	if err == nil {
		plain.Body.Close()
		if plain.StatusCode == http.StatusOK {
			t.Fatal("plain HTTP on the TLS port: got 200")
		}
	}
}

func TestTLSConfigErrors(t *testing.T) {
	vars := baseEnv(t)
	vars["FORTRESS_TLS_CERT_FILE"], vars["FORTRESS_TLS_KEY_FILE"] = "/nonexistent.crt", "/nonexistent.key"
	err := run(t.Context(), []string{"fortress", "serve"}, env(vars), io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "FORTRESS_TLS_CERT_FILE") {
		t.Fatalf("missing certificate: got %v", err)
	}
}

// TestSlowClientsAreCutOff shows the server timeouts at work: a client that trickles its headers
// (Slowloris) or its body loses the connection once the timeout passes.
func TestSlowClientsAreCutOff(t *testing.T) {
	vars := baseEnv(t)
	vars["FORTRESS_READ_HEADER_TIMEOUT"] = "300ms"
	vars["FORTRESS_READ_TIMEOUT"] = "600ms"
	s := startServe(t, vars)
	addr := strings.TrimPrefix(s.base, "http://")

	for _, tc := range []struct{ name, partial string }{
		{"slow headers", "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "},
		{"slow body", "POST /auth/register HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"email\":"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if _, err := io.WriteString(conn, tc.partial); err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			// The bound is generous; the point is that the server, not this deadline, ends the exchange.
			_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
			rest, err := io.ReadAll(conn)
			var netErr net.Error
			if err != nil && (!errors.As(err, &netErr) || netErr.Timeout()) {
				t.Fatalf("the server kept the connection open: %v after %s", err, time.Since(start))
			}
			if strings.Contains(string(rest), " 201 ") {
				t.Fatalf("a slow client's request was processed: %q", rest)
			}
		})
	}
}

// TestHTTPSRedirectTrustsOnlyConfiguredProxies: X-Forwarded-Proto decides the redirect only when the
// peer is a trusted proxy.
func TestHTTPSRedirectTrustsOnlyConfiguredProxies(t *testing.T) {
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(base, proto string) *http.Response {
		req, _ := http.NewRequest(http.MethodGet, base+"/", nil)
		if proto != "" {
			req.Header.Set("X-Forwarded-Proto", proto)
		}
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}

	vars := baseEnv(t)
	vars["ENABLE_HTTPS_REDIRECT"] = "true"
	untrusting := startServe(t, vars)
	if resp := get(untrusting.base, "https"); resp.StatusCode != http.StatusPermanentRedirect ||
		!strings.HasPrefix(resp.Header.Get("Location"), "https://") || resp.Header.Get("Strict-Transport-Security") != "" {
		t.Fatalf("spoofed X-Forwarded-Proto from an untrusted peer: got %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}

	vars = baseEnv(t)
	vars["ENABLE_HTTPS_REDIRECT"] = "true"
	vars["FORTRESS_TRUSTED_PROXIES"] = "127.0.0.1/32"
	trusting := startServe(t, vars)
	if resp := get(trusting.base, "https"); resp.StatusCode != http.StatusOK || resp.Header.Get("Strict-Transport-Security") == "" {
		t.Fatalf("HTTPS at a trusted proxy: got %d, HSTS %q; want 200 with HSTS", resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
	}
	if resp := get(trusting.base, "http"); resp.StatusCode != http.StatusPermanentRedirect {
		t.Fatalf("plain HTTP at a trusted proxy: got %d, want 308", resp.StatusCode)
	}
}
