package main

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEdDSASigningKey: with an Ed25519 signing key, tokens are EdDSA, their kid is in the published
// JWK Set, and the API accepts them.
func TestEdDSASigningKey(t *testing.T) {
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "signing.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	vars := baseEnv(t)
	vars["FORTRESS_JWT_SIGNING_KEY_FILE"] = keyFile
	s := startServe(t, vars)

	var set struct {
		Keys []struct{ Kid, Alg, Kty string } `json:"keys"`
	}
	if resp := call(t, http.MethodGet, s.base+"/.well-known/jwks.json", "", "", "", &set); resp.StatusCode != http.StatusOK || len(set.Keys) != 1 || set.Keys[0].Alg != "EdDSA" {
		t.Fatalf("JWKS: got %d %+v", resp.StatusCode, set)
	}
	token := registerAndLogin(t, s.base, "eddsa@example.com", "a long enough password")
	header, err := base64.RawURLEncoding.DecodeString(strings.Split(token, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var h struct{ Alg, Kid string }
	if err := json.Unmarshal(header, &h); err != nil || h.Alg != "EdDSA" || h.Kid != set.Keys[0].Kid {
		t.Fatalf("token header %s: want alg EdDSA and the published kid %q", header, set.Keys[0].Kid)
	}
	if resp := call(t, http.MethodGet, s.base+"/items/", token, "", "", nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("an EdDSA token on the API: got %d, want 200", resp.StatusCode)
	}
	if strings.Contains(s.log.String(), "PRIVATE KEY") {
		t.Fatal("the log shows the private key")
	}
}
