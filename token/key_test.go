package token

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// RFC 8037 Appendix A.1 and A.3: an Ed25519 key and its RFC 7638 thumbprint.
const (
	rfc8037D          = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
	rfc8037X          = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
	rfc8037Thumbprint = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
)

var (
	otherSecret = []byte("previous-secret-0123456789abcdef-0123456789") // 43 bytes
	thirdSecret = []byte("third-secret-0123456789abcdef-0123456789abc") // 43 bytes
)

func newEd25519(t testing.TB) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatalf("ed25519.GenerateKey: %v", err)
	}
	return pub, priv
}

// rfc8037Key is the private key of RFC 8037 Appendix A.1.
func rfc8037Key(t testing.TB) ed25519.PrivateKey {
	t.Helper()
	seed, err := base64.RawURLEncoding.DecodeString(rfc8037D)
	if err != nil {
		t.Fatal(err)
	}
	return ed25519.NewKeyFromSeed(seed)
}

func pemBytes(blockType string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: blockType, Bytes: der})
}

func privatePEM(t testing.TB, k any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatalf("MarshalPKCS8PrivateKey: %v", err)
	}
	return pemBytes("PRIVATE KEY", der)
}

func publicPEM(t testing.TB, k any) []byte {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		t.Fatalf("MarshalPKIXPublicKey: %v", err)
	}
	return pemBytes("PUBLIC KEY", der)
}

func writeFile(t testing.TB, name string, content []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, content, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// keyFiles generates an Ed25519 key, writes it as the PEM files an operator would have (the private key
// and its public key) and reads them back the way cmd/fortress does.
func keyFiles(t testing.TB) (ed25519.PrivateKey, ed25519.PublicKey) {
	t.Helper()
	pub, priv := newEd25519(t)
	gotPriv, err := ReadEd25519PrivateKeyFile(writeFile(t, "signing.pem", privatePEM(t, priv)))
	if err != nil {
		t.Fatalf("ReadEd25519PrivateKeyFile: got error %v, want nil", err)
	}
	gotPub, err := ReadEd25519PublicKeyFile(writeFile(t, "signing.pub.pem", publicPEM(t, pub)))
	if err != nil {
		t.Fatalf("ReadEd25519PublicKeyFile: got error %v, want nil", err)
	}
	if !priv.Equal(gotPriv) || !pub.Equal(gotPub) {
		t.Fatalf("keys read back from PEM files differ from the keys written")
	}
	return gotPriv, gotPub
}

func tokenHeader(t testing.TB, tok string) map[string]any {
	t.Helper()
	parsed, _, err := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
	if err != nil {
		t.Fatalf("ParseUnverified: %v", err)
	}
	return parsed.Header
}

func TestSigningAlgorithms(t *testing.T) {
	priv, pub := keyFiles(t)
	_, verifyOnly := keyFiles(t)
	tests := []struct {
		name    string
		mutate  func(*Config)
		wantAlg string
		wantKID string
		wantPub int // public keys in the JWK set
	}{
		{"HS256", func(*Config) {}, "HS256", DeriveKeyID(testSecret), 0},
		{"HS256 with an Ed25519 verification key", func(c *Config) { c.VerifyKeys = []ed25519.PublicKey{verifyOnly} },
			"HS256", DeriveKeyID(testSecret), 1},
		{"EdDSA", func(c *Config) { c.Secret, c.SigningKey = nil, priv }, "EdDSA", Ed25519KeyID(pub), 1},
		{"EdDSA with empty secret", func(c *Config) { c.Secret, c.SigningKey = []byte{}, priv }, "EdDSA", Ed25519KeyID(pub), 1},
		{"EdDSA with an HS256 verification secret", func(c *Config) { c.SigningKey = priv }, "EdDSA", Ed25519KeyID(pub), 1},
		{"EdDSA with every kind of older key", func(c *Config) {
			c.SigningKey, c.PreviousSecrets, c.VerifyKeys = priv, [][]byte{otherSecret}, []ed25519.PublicKey{verifyOnly}
		}, "EdDSA", Ed25519KeyID(pub), 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testConfig()
			tt.mutate(&c)
			m := newTestManager(t, c)
			if m.Algorithm() != tt.wantAlg || m.KeyID() != tt.wantKID {
				t.Fatalf("Algorithm, KeyID: got %s %s, want %s %s", m.Algorithm(), m.KeyID(), tt.wantAlg, tt.wantKID)
			}
			tok, issued, err := m.Issue(42, 1)
			if err != nil {
				t.Fatalf("Issue: got error %v, want nil", err)
			}
			h := tokenHeader(t, tok)
			if want := map[string]any{"alg": tt.wantAlg, "kid": tt.wantKID, "typ": "JWT"}; !reflect.DeepEqual(h, want) {
				t.Fatalf("header: got %v, want %v", h, want)
			}
			got, err := m.Verify(tok)
			if err != nil {
				t.Fatalf("Verify: got error %v, want nil", err)
			}
			if !sameClaims(got, issued) {
				t.Fatalf("Verify: got %+v, want %+v", got, issued)
			}
			if n := len(m.PublicKeys()); n != tt.wantPub {
				t.Fatalf("PublicKeys: got %d keys, want %d", n, tt.wantPub)
			}
			if tt.wantAlg == "EdDSA" {
				// Anyone with the public key alone can verify it: the point of publishing the JWK set.
				if _, err := jwt.Parse(tok, func(*jwt.Token) (any, error) { return pub, nil },
					jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithTimeFunc(c.Now)); err != nil {
					t.Fatalf("verifying with the public key alone: got error %v, want nil", err)
				}
			}
		})
	}
}

// sameClaims compares claims with time.Time.Equal: times parsed from a token carry another location.
func sameClaims(a, b Claims) bool {
	return a.UserID == b.UserID && a.ID == b.ID && a.IssuedAt.Equal(b.IssuedAt) && a.ExpiresAt.Equal(b.ExpiresAt)
}

func TestRotation(t *testing.T) {
	oldPriv, oldPub := keyFiles(t)
	newPriv, newPub := keyFiles(t)
	oldPrivFile := writeFile(t, "old.pem", privatePEM(t, oldPriv))

	hs := func(signing []byte, previous ...[]byte) func(*Config) {
		return func(c *Config) { c.Secret, c.PreviousSecrets = signing, previous }
	}
	ed := func(signing ed25519.PrivateKey, verify ...ed25519.PublicKey) func(*Config) {
		return func(c *Config) { c.Secret, c.SigningKey, c.VerifyKeys = nil, signing, verify }
	}
	tests := []struct {
		name                  string
		before, during, after func(*Config)
	}{
		{"HS256 to HS256", hs(otherSecret), hs(testSecret, otherSecret), hs(testSecret)},
		{"HS256 to HS256 among several previous", hs(otherSecret), hs(testSecret, thirdSecret, otherSecret), hs(testSecret, thirdSecret)},
		{"EdDSA to EdDSA", ed(oldPriv), ed(newPriv, oldPub), ed(newPriv)},
		{"EdDSA to EdDSA, old private key file kept for verification", ed(oldPriv), func(c *Config) {
			pub, err := ReadEd25519PublicKeyFile(oldPrivFile)
			if err != nil {
				t.Fatalf("ReadEd25519PublicKeyFile(private key file): got error %v, want nil", err)
			}
			ed(newPriv, pub)(c)
		}, ed(newPriv)},
		{"HS256 to EdDSA", hs(testSecret), func(c *Config) { c.Secret, c.SigningKey = testSecret, newPriv }, ed(newPriv)},
		{"EdDSA to HS256 (rolling back)", ed(oldPriv), func(c *Config) { c.Secret, c.VerifyKeys = testSecret, []ed25519.PublicKey{oldPub} }, hs(testSecret)},
		{"EdDSA to EdDSA, new key published first", ed(oldPriv, newPub), ed(newPriv, oldPub), ed(newPriv)},
	}
	manager := func(t *testing.T, mutate func(*Config)) *Manager {
		t.Helper()
		c := testConfig()
		mutate(&c)
		return newTestManager(t, c)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before, during, after := manager(t, tt.before), manager(t, tt.during), manager(t, tt.after)
			oldTok, oldClaims, err := before.Issue(7, 1)
			if err != nil {
				t.Fatal(err)
			}
			newTok, newClaims, err := during.Issue(8, 1)
			if err != nil {
				t.Fatal(err)
			}
			if during.KeyID() == before.KeyID() {
				t.Fatalf("signing kid unchanged by the rotation: %s", during.KeyID())
			}
			// While the old key verifies, nobody is logged out, and the new key's tokens verify after it.
			for _, step := range []struct {
				name string
				m    *Manager
				tok  string
				want Claims
			}{
				{"old token during rotation", during, oldTok, oldClaims},
				{"new token during rotation", during, newTok, newClaims},
				{"new token once the old key is removed", after, newTok, newClaims},
			} {
				if got, err := step.m.Verify(step.tok); err != nil || !sameClaims(got, step.want) {
					t.Fatalf("%s: got %+v, %v; want %+v, nil", step.name, got, err, step.want)
				}
			}
			// Once the old key is removed, its tokens are refused: for their kid, or for their algorithm when
			// no key of that algorithm is left.
			_, err = after.Verify(oldTok)
			if !errors.Is(err, ErrInvalidToken) || !errors.Is(err, errKeyID) && !errors.Is(err, jwt.ErrTokenSignatureInvalid) {
				t.Fatalf("old token once the old key is removed: got %v, want ErrInvalidToken for an unknown kid or algorithm", err)
			}
		})
	}
}

func TestAlgorithmConfusion(t *testing.T) {
	priv, pub := keyFiles(t)
	_, stranger := newEd25519(t)
	_, rsaKey := mustRSA(t)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edKID, hsKID, prevKID := Ed25519KeyID(pub), DeriveKeyID(testSecret), DeriveKeyID(otherSecret)
	pubDER, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}

	both := testConfig()
	both.SigningKey, both.PreviousSecrets = priv, [][]byte{otherSecret}
	edOnly := testConfig()
	edOnly.Secret, edOnly.SigningKey = nil, priv
	hsOnly := testConfig()

	hs := jwt.SigningMethodHS256
	tests := []struct {
		name  string
		c     Config
		token string
		cause error
	}{
		// An HS256 token naming an Ed25519 key, keyed with what an attacker knows of that key: its public parts.
		{"HS256, Ed25519 kid, public key as HMAC secret", both, sign(t, hs, []byte(pub), edKID, validClaims()), errUnexpectedAlg},
		{"HS256, Ed25519 kid, JWK x as HMAC secret", both, sign(t, hs, []byte(base64.RawURLEncoding.EncodeToString(pub)), edKID, validClaims()), errUnexpectedAlg},
		{"HS256, Ed25519 kid, public PEM as HMAC secret", both, sign(t, hs, publicPEM(t, pub), edKID, validClaims()), errUnexpectedAlg},
		{"HS256, Ed25519 kid, public DER as HMAC secret", both, sign(t, hs, pubDER, edKID, validClaims()), errUnexpectedAlg},
		{"HS256, Ed25519 kid, the real HMAC secret", both, sign(t, hs, testSecret, edKID, validClaims()), errUnexpectedAlg},
		{"HS256 when only EdDSA is configured", edOnly, sign(t, hs, []byte(pub), edKID, validClaims()), jwt.ErrTokenSignatureInvalid},
		{"HS384, Ed25519 kid", both, sign(t, jwt.SigningMethodHS384, []byte(pub), edKID, validClaims()), jwt.ErrTokenSignatureInvalid},

		// An EdDSA token naming an HS256 key.
		{"EdDSA, HS256 kid, attacker's key", both, sign(t, jwt.SigningMethodEdDSA, stranger, hsKID, validClaims()), errUnexpectedAlg},
		{"EdDSA, HS256 kid, our own key", both, sign(t, jwt.SigningMethodEdDSA, priv, hsKID, validClaims()), errUnexpectedAlg},
		{"EdDSA, previous HS256 kid", both, sign(t, jwt.SigningMethodEdDSA, priv, prevKID, validClaims()), errUnexpectedAlg},
		{"EdDSA when only HS256 is configured", hsOnly, sign(t, jwt.SigningMethodEdDSA, priv, hsKID, validClaims()), jwt.ErrTokenSignatureInvalid},

		// The right algorithm for the kid, the wrong key.
		{"EdDSA, Ed25519 kid, attacker's key", both, sign(t, jwt.SigningMethodEdDSA, stranger, edKID, validClaims()), jwt.ErrTokenSignatureInvalid},
		{"HS256, previous kid, current secret", both, sign(t, hs, testSecret, prevKID, validClaims()), jwt.ErrTokenSignatureInvalid},
		{"HS256, current kid, previous secret", both, sign(t, hs, otherSecret, hsKID, validClaims()), jwt.ErrTokenSignatureInvalid},

		// Algorithms no key has.
		{"none, Ed25519 kid", both, sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, edKID, validClaims()), jwt.ErrTokenSignatureInvalid},
		{"RS256, Ed25519 kid", both, sign(t, jwt.SigningMethodRS256, rsaKey, edKID, validClaims()), jwt.ErrTokenSignatureInvalid},
		{"ES256, Ed25519 kid", both, sign(t, jwt.SigningMethodES256, ecKey, edKID, validClaims()), jwt.ErrTokenSignatureInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := newTestManager(t, tt.c).Verify(tt.token)
			if !errors.Is(err, ErrInvalidToken) || !errors.Is(err, tt.cause) {
				t.Fatalf("Verify: got claims %+v err %v, want ErrInvalidToken with cause %v", got, err, tt.cause)
			}
		})
	}
}

func TestUnknownKeyID(t *testing.T) {
	priv, _ := keyFiles(t)
	_, removed := newEd25519(t)
	c := testConfig()
	c.SigningKey, c.PreviousSecrets = priv, [][]byte{otherSecret}
	m := newTestManager(t, c)
	tests := []struct {
		name  string
		token string
	}{
		{"EdDSA, kid of a key never configured", sign(t, jwt.SigningMethodEdDSA, removed, Ed25519KeyID(removed.Public().(ed25519.PublicKey)), validClaims())},
		{"EdDSA, made-up kid", sign(t, jwt.SigningMethodEdDSA, priv, "nope", validClaims())},
		{"EdDSA, no kid", sign(t, jwt.SigningMethodEdDSA, priv, nil, validClaims())},
		{"EdDSA, empty kid", sign(t, jwt.SigningMethodEdDSA, priv, "", validClaims())},
		{"EdDSA, kid is an object", sign(t, jwt.SigningMethodEdDSA, priv, map[string]string{"kid": Ed25519KeyID(priv.Public().(ed25519.PublicKey))}, validClaims())},
		{"HS256, kid of a secret never configured", sign(t, jwt.SigningMethodHS256, thirdSecret, DeriveKeyID(thirdSecret), validClaims())},
		{"EdDSA, thumbprint in upper case", sign(t, jwt.SigningMethodEdDSA, priv, strings.ToUpper(Ed25519KeyID(priv.Public().(ed25519.PublicKey))), validClaims())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := m.Verify(tt.token); !errors.Is(err, ErrInvalidToken) || !errors.Is(err, errKeyID) {
				t.Fatalf("Verify: got %v, want ErrInvalidToken with cause %v", err, errKeyID)
			}
		})
	}
}

func TestEd25519KeyIDMatchesRFC8037(t *testing.T) {
	priv := rfc8037Key(t)
	pub := priv.Public().(ed25519.PublicKey)
	if got := base64.RawURLEncoding.EncodeToString(pub); got != rfc8037X {
		t.Fatalf("public key of RFC 8037 A.1: got x %q, want %q", got, rfc8037X)
	}
	if got := Ed25519KeyID(pub); got != rfc8037Thumbprint {
		t.Fatalf("Ed25519KeyID: got %q, want the RFC 8037 A.3 thumbprint %q", got, rfc8037Thumbprint)
	}
	_, other := newEd25519(t)
	if Ed25519KeyID(other.Public().(ed25519.PublicKey)) == rfc8037Thumbprint {
		t.Fatalf("Ed25519KeyID: another key has the same kid")
	}
}

func TestJWKS(t *testing.T) {
	priv := rfc8037Key(t)
	signingPub := priv.Public().(ed25519.PublicKey)
	_, oldPub := keyFiles(t)
	oldKID := Ed25519KeyID(oldPub)

	c := testConfig()
	c.SigningKey = priv
	c.PreviousSecrets = [][]byte{otherSecret}
	// The signing key's public key listed again, as it may be during a rotation: published once.
	c.VerifyKeys = []ed25519.PublicKey{oldPub, signingPub}
	m := newTestManager(t, c)

	doc := m.JWKS()
	want := `{"keys":[` +
		`{"kty":"OKP","crv":"Ed25519","x":"` + rfc8037X + `","kid":"` + rfc8037Thumbprint + `","alg":"EdDSA","use":"sig"},` +
		`{"kty":"OKP","crv":"Ed25519","x":"` + base64.RawURLEncoding.EncodeToString(oldPub) + `","kid":"` + oldKID + `","alg":"EdDSA","use":"sig"}` +
		`]}`
	if string(doc) != want {
		t.Fatalf("JWKS:\n got %s\nwant %s", doc, want)
	}
	wantKeys := []JWK{
		{KeyType: "OKP", Curve: "Ed25519", X: rfc8037X, KeyID: rfc8037Thumbprint, Algorithm: "EdDSA", Use: "sig"},
		{KeyType: "OKP", Curve: "Ed25519", X: base64.RawURLEncoding.EncodeToString(oldPub), KeyID: oldKID, Algorithm: "EdDSA", Use: "sig"},
	}
	if got := m.PublicKeys(); !reflect.DeepEqual(got, wantKeys) {
		t.Fatalf("PublicKeys: got %+v, want %+v", got, wantKeys)
	}

	// Nothing secret: no HMAC key in any encoding, no private key, no member but the public ones.
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		t.Fatalf("JWKS is not JSON: %v", err)
	}
	for _, k := range set.Keys {
		var members []string
		for name := range k {
			members = append(members, name)
		}
		slices.Sort(members)
		if want := []string{"alg", "crv", "kid", "kty", "use", "x"}; !slices.Equal(members, want) {
			t.Fatalf("JWK members: got %v, want %v", members, want)
		}
	}
	for _, secret := range [][]byte{testSecret, otherSecret, priv.Seed(), priv} {
		for _, leak := range []string{string(secret), base64.RawURLEncoding.EncodeToString(secret), base64.StdEncoding.EncodeToString(secret), hex.EncodeToString(secret)} {
			if strings.Contains(string(doc), leak) {
				t.Fatalf("JWKS %s contains secret material", doc)
			}
		}
	}
	for _, kid := range []string{DeriveKeyID(testSecret), DeriveKeyID(otherSecret)} {
		if strings.Contains(string(doc), kid) {
			t.Fatalf("JWKS %s lists the HS256 key %s, want only Ed25519 keys", doc, kid)
		}
	}

	// A verifier that knows nothing but the JWK set accepts our tokens.
	tok, _, err := m.Issue(3, 1)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := jwt.Parse(tok, jwksKeyfunc(t, doc), jwt.WithValidMethods([]string{"EdDSA"}), jwt.WithTimeFunc(c.Now)); err != nil {
		t.Fatalf("verifying with the published JWK set: got error %v, want nil", err)
	}

	// Callers get copies.
	doc[0] = 'X'
	m.PublicKeys()[0].X = "changed"
	if string(m.JWKS()) != want || m.PublicKeys()[0].X != rfc8037X {
		t.Fatalf("changing what JWKS or PublicKeys returned changed the Manager's JWK set")
	}
}

// jwksKeyfunc finds a token's key in a JWK set document, as an independent verifier would.
func jwksKeyfunc(t *testing.T, doc []byte) jwt.Keyfunc {
	t.Helper()
	var set JWKSet
	if err := json.Unmarshal(doc, &set); err != nil {
		t.Fatal(err)
	}
	return func(tok *jwt.Token) (any, error) {
		for _, k := range set.Keys {
			if k.KeyID == tok.Header["kid"] {
				x, err := base64.RawURLEncoding.DecodeString(k.X)
				if err != nil {
					return nil, err
				}
				if Ed25519KeyID(x) != k.KeyID {
					return nil, fmt.Errorf("kid %s is not the thumbprint of its key", k.KeyID)
				}
				return ed25519.PublicKey(x), nil
			}
		}
		return nil, errors.New("kid not in the JWK set")
	}
}

func TestJWKSEmptyWithOnlyHS256(t *testing.T) {
	c := testConfig()
	c.PreviousSecrets = [][]byte{otherSecret}
	m := newTestManager(t, c)
	if got := string(m.JWKS()); got != `{"keys":[]}` {
		t.Fatalf("JWKS: got %s, want {\"keys\":[]}", got)
	}
	if got := m.PublicKeys(); got == nil || len(got) != 0 {
		t.Fatalf("PublicKeys: got %#v, want an empty list", got)
	}
}

func TestParseKeyPEM(t *testing.T) {
	edPub, edPriv := newEd25519(t)
	rsaPub, rsaKey := mustRSA(t)
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	xKey, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecDER, err := x509.MarshalECPrivateKey(ecKey)
	if err != nil {
		t.Fatal(err)
	}
	edPrivPEM, edPubPEM := privatePEM(t, edPriv), publicPEM(t, edPub)
	withHeaders := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Headers: map[string]string{"Proc-Type": "4,ENCRYPTED"}, Bytes: pemBody(t, edPrivPEM)})
	garbageDER := make([]byte, 48)
	if _, err := rand.Read(garbageDER); err != nil {
		t.Fatal(err)
	}

	const (
		ok            = ""
		wantPrivBlock = `the PEM block is "PUBLIC KEY", want PRIVATE KEY`
	)
	tests := []struct {
		name             string
		data             []byte
		private, public  string // the error each parser must give (a substring), or ok
		wantPublicFromEd bool
	}{
		{"Ed25519 private key", edPrivPEM, ok, ok, true},
		{"Ed25519 private key after text", append([]byte("my signing key\n"), edPrivPEM...), ok, ok, true},
		{"Ed25519 public key", edPubPEM, wantPrivBlock, ok, true},
		{"RSA private key in PKCS #8", privatePEM(t, rsaKey), "the private key is an RSA key, want Ed25519", "the private key is an RSA key, want Ed25519", false},
		{"RSA private key in PKCS #1", pemBytes("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rsaKey)),
			`the PEM block is "RSA PRIVATE KEY", want PRIVATE KEY`, `the PEM block is "RSA PRIVATE KEY", want PUBLIC KEY`, false},
		{"RSA public key", publicPEM(t, rsaPub), wantPrivBlock, "the public key is an RSA key, want Ed25519", false},
		{"RSA public key in PKCS #1", pemBytes("RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(rsaPub)), "only Ed25519 keys are supported", "only Ed25519 keys are supported", false},
		{"ECDSA private key", privatePEM(t, ecKey), "the private key is an ECDSA key", "the private key is an ECDSA key", false},
		{"ECDSA public key", publicPEM(t, &ecKey.PublicKey), wantPrivBlock, "the public key is an ECDSA key", false},
		{"EC private key (SEC 1)", pemBytes("EC PRIVATE KEY", ecDER), `"EC PRIVATE KEY"`, `"EC PRIVATE KEY"`, false},
		{"X25519 private key", privatePEM(t, xKey), "the private key is an X25519 (key agreement) key", "X25519", false},
		{"X25519 public key", publicPEM(t, xKey.PublicKey()), wantPrivBlock, "the public key is an X25519 (key agreement) key", false},
		{"certificate", pemBytes("CERTIFICATE", garbageDER), `the PEM block is "CERTIFICATE"`, `the PEM block is "CERTIFICATE"`, false},
		{"encrypted private key", pemBytes("ENCRYPTED PRIVATE KEY", garbageDER), "encrypted keys are not supported", "encrypted keys are not supported", false},
		{"OpenSSH private key", pemBytes("OPENSSH PRIVATE KEY", garbageDER), "openssl genpkey", "openssl genpkey", false},
		{"long block type", pemBytes(strings.Repeat("K", 100), garbageDER), `"` + strings.Repeat("K", 40) + `", want`, `"` + strings.Repeat("K", 40) + `", want`, false},
		{"legacy encrypted PEM", withHeaders, "has headers", "has headers", false},
		{"PRIVATE KEY of random bytes", pemBytes("PRIVATE KEY", garbageDER), "not a valid PKCS #8 private key", "not a valid PKCS #8 private key", false},
		{"PUBLIC KEY of random bytes", pemBytes("PUBLIC KEY", garbageDER), wantPrivBlock, "not a valid PKIX public key", false},
		{"two keys", append(bytes.Clone(edPrivPEM), privatePEM(t, edPriv)...), "more than one PEM block", "more than one PEM block", false},
		{"private and public key", append(bytes.Clone(edPrivPEM), edPubPEM...), "more than one PEM block", "more than one PEM block", false},
		{"base64 without PEM armour", []byte(base64.StdEncoding.EncodeToString(pemBody(t, edPrivPEM))), "no PEM block", "no PEM block", false},
		{"raw DER", pemBody(t, edPrivPEM), "no PEM block", "no PEM block", false},
		{"truncated", edPrivPEM[:len(edPrivPEM)-10], "no PEM block", "no PEM block", false},
		{"garbage", []byte("not a key at all"), "no PEM block", "no PEM block", false},
		{"empty", nil, "no PEM block", "no PEM block", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			priv, err := ParseEd25519PrivateKeyPEM(tt.data)
			checkKeyErr(t, "ParseEd25519PrivateKeyPEM", tt.data, err, tt.private)
			if tt.private == ok && !edPriv.Equal(priv) {
				t.Fatalf("ParseEd25519PrivateKeyPEM: got another key than the one encoded")
			}
			pub, err := ParseEd25519PublicKeyPEM(tt.data)
			checkKeyErr(t, "ParseEd25519PublicKeyPEM", tt.data, err, tt.public)
			if tt.public == ok && !edPub.Equal(pub) {
				t.Fatalf("ParseEd25519PublicKeyPEM: got another key than the one encoded")
			}
		})
	}
}

// pemBody returns the DER bytes of the first PEM block of data.
func pemBody(t testing.TB, data []byte) []byte {
	t.Helper()
	b, _ := pem.Decode(data)
	if b == nil {
		t.Fatal("no PEM block")
	}
	return b.Bytes
}

// checkKeyErr checks err against want (a substring, or "" for no error) and that it shows no key material:
// no 12-character run of the PEM's base64 text, and none of the DER bytes in hex.
func checkKeyErr(t *testing.T, fn string, data []byte, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("%s: got error %v, want nil", fn, err)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), "token: ") {
		t.Fatalf("%s: got error %v, want one starting with \"token: \" and containing %q", fn, err, want)
	}
	if leak := keyMaterialIn(data, err.Error()); leak != "" {
		t.Fatalf("%s: error %q shows key material %q", fn, err, leak)
	}
}

// keyMaterialIn returns a piece of the key material in data that msg shows, or "".
func keyMaterialIn(data []byte, msg string) string {
	const run = 12
	var body strings.Builder
	for _, line := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(line, "-----") && !strings.Contains(line, ":") {
			body.WriteString(strings.TrimSpace(line))
		}
	}
	b := body.String()
	for i := 0; i+run <= len(b); i++ {
		if strings.Contains(msg, b[i:i+run]) {
			return b[i : i+run]
		}
	}
	if block, _ := pem.Decode(data); block != nil && len(block.Bytes) >= 8 {
		for i := 0; i+8 <= len(block.Bytes); i += 8 {
			if h := hex.EncodeToString(block.Bytes[i : i+8]); strings.Contains(msg, h) {
				return h
			}
		}
	}
	return ""
}

func TestReadKeyFiles(t *testing.T) {
	pub, priv := newEd25519(t)
	dir := t.TempDir()
	write := func(name string, content []byte) string {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, content, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	privFile := write("signing.pem", privatePEM(t, priv))
	pubFile := write("signing.pub.pem", publicPEM(t, pub))
	big := write("big.pem", append(privatePEM(t, priv), bytes.Repeat([]byte("\n"), maxKeyFileBytes)...))
	exact := write("exact.pem", append(privatePEM(t, priv), bytes.Repeat([]byte("\n"), maxKeyFileBytes-len(privatePEM(t, priv)))...))
	missing := filepath.Join(dir, "missing.pem")

	if k, err := ReadEd25519PrivateKeyFile(exact); err != nil || !priv.Equal(k) {
		t.Fatalf("ReadEd25519PrivateKeyFile(file of exactly the limit): got error %v, want the key", err)
	}
	if k, err := ReadEd25519PublicKeyFile(privFile); err != nil || !pub.Equal(k) {
		t.Fatalf("ReadEd25519PublicKeyFile(private key file): got error %v, want its public key", err)
	}
	tests := []struct {
		name string
		read func(string) error
		path string
		want string
	}{
		{"private: missing", readPriv, missing, "no such file or directory"},
		{"private: directory", readPriv, dir, "is a directory"},
		{"private: too large", readPriv, big, "it is larger than 65536 bytes"},
		{"private: a public key", readPriv, pubFile, `want PRIVATE KEY`},
		{"public: missing", readPub, missing, "no such file or directory"},
		{"public: directory", readPub, dir, "is a directory"},
		{"public: too large", readPub, big, "it is larger than 65536 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.read(tt.path)
			prefix := fmt.Sprintf("token: key file %q: ", tt.path)
			if err == nil || !strings.HasPrefix(err.Error(), prefix) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got error %v, want one starting with %s and containing %q", err, prefix, tt.want)
			}
			if strings.Count(err.Error(), tt.path) != 1 {
				t.Fatalf("error %q: want the path exactly once", err)
			}
			if content, _ := os.ReadFile(tt.path); len(content) > 0 {
				if leak := keyMaterialIn(content, err.Error()); leak != "" {
					t.Fatalf("error %q shows key material %q", err, leak)
				}
			}
		})
	}
}

func readPriv(path string) error { _, err := ReadEd25519PrivateKeyFile(path); return err }
func readPub(path string) error  { _, err := ReadEd25519PublicKeyFile(path); return err }

func TestNewManagerKeyValidation(t *testing.T) {
	priv, pub := keyFiles(t)
	mismatched := bytes.Clone(priv)
	mismatched[len(mismatched)-1] ^= 1
	tests := []struct {
		name     string
		mutate   func(*Config)
		want     string // a phrase the error must contain; "" means valid
		wantKIDs int
	}{
		{"only an Ed25519 signing key", func(c *Config) { c.Secret, c.SigningKey = nil, priv }, "", 1},
		{"no key at all", func(c *Config) { c.Secret = []byte{} }, "a signing key is required", 0},
		{"short Secret beside a signing key", func(c *Config) { c.SigningKey, c.Secret = priv, []byte("short") }, "Secret must be at least 32 bytes, got 5", 0},
		{"short previous secret", func(c *Config) { c.PreviousSecrets = [][]byte{otherSecret, []byte("short-previous")} }, "PreviousSecrets[1] must be at least 32 bytes, got 14", 0},
		{"empty previous secret", func(c *Config) { c.PreviousSecrets = [][]byte{nil} }, "PreviousSecrets[0] must be at least 32 bytes, got 0", 0},
		{"verification key too short", func(c *Config) { c.VerifyKeys = []ed25519.PublicKey{pub[:31]} }, "VerifyKeys[0] must be an Ed25519 public key of 32 bytes, got 31", 0},
		{"private key as verification key", func(c *Config) { c.VerifyKeys = []ed25519.PublicKey{ed25519.PublicKey(priv)} }, "VerifyKeys[0] must be an Ed25519 public key of 32 bytes, got 64", 0},
		{"signing key too short", func(c *Config) { c.SigningKey = priv[:32] }, "SigningKey must be an Ed25519 private key of 64 bytes, got 32", 0},
		{"signing key with a foreign public half", func(c *Config) { c.SigningKey = mismatched }, "SigningKey is malformed", 0},
		{"previous secret equal to the current one", func(c *Config) { c.PreviousSecrets = [][]byte{testSecret, bytes.Clone(testSecret)} }, "", 1},
		{"signing key's public key also for verification", func(c *Config) { c.SigningKey, c.VerifyKeys = priv, []ed25519.PublicKey{pub, pub} }, "", 2},
		{"KeyID of another secret", func(c *Config) { c.KeyID, c.PreviousSecrets = DeriveKeyID(otherSecret), [][]byte{otherSecret} }, "two different keys have the key id", 0},
		{"KeyID of an Ed25519 key", func(c *Config) { c.KeyID, c.SigningKey = Ed25519KeyID(pub), priv }, "two different keys have the key id", 0},
		{"KeyID of a verification key", func(c *Config) { c.KeyID, c.VerifyKeys = Ed25519KeyID(pub), []ed25519.PublicKey{pub} }, "two different keys have the key id", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := testConfig()
			tt.mutate(&c)
			m, err := NewManager(c)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("NewManager: got error %v, want nil", err)
				}
				if len(m.kids) != tt.wantKIDs {
					t.Fatalf("keys: got %d (%v), want %d", len(m.kids), m.kids, tt.wantKIDs)
				}
				return
			}
			if err == nil || m != nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewManager: got %v, %v; want nil and an error containing %q", m, err, tt.want)
			}
			for _, secret := range [][]byte{testSecret, otherSecret, priv, priv.Seed()} {
				for _, leak := range []string{string(secret), hex.EncodeToString(secret), base64.RawURLEncoding.EncodeToString(secret)} {
					if strings.Contains(err.Error(), leak) {
						t.Fatalf("NewManager: error %q shows key material", err)
					}
				}
			}
		})
	}
}

func TestKeysAreCopied(t *testing.T) {
	priv, pub := keyFiles(t)
	_, oldPub := keyFiles(t)
	c := testConfig()
	c.SigningKey, c.VerifyKeys, c.PreviousSecrets = bytes.Clone(priv), []ed25519.PublicKey{bytes.Clone(oldPub)}, [][]byte{bytes.Clone(otherSecret)}
	m := newTestManager(t, c)
	jwks := m.JWKS()
	for _, b := range [][]byte{c.Secret, c.SigningKey, c.VerifyKeys[0], c.PreviousSecrets[0]} {
		clear(b)
	}
	tok, _, err := m.Issue(1, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{
		tok,
		sign(t, jwt.SigningMethodHS256, testSecret, DeriveKeyID(testSecret), validClaims()),
		sign(t, jwt.SigningMethodHS256, otherSecret, DeriveKeyID(otherSecret), validClaims()),
	} {
		if _, err := m.Verify(tok); err != nil {
			t.Fatalf("Verify after the caller cleared its keys: got error %v, want nil", err)
		}
	}
	if !bytes.Equal(m.JWKS(), jwks) || m.KeyID() != Ed25519KeyID(pub) {
		t.Fatalf("JWK set or kid changed after the caller cleared its keys")
	}
}

func TestKeysNeverPrinted(t *testing.T) {
	priv, _ := keyFiles(t)
	_, oldPub := keyFiles(t)
	c := testConfig()
	c.SigningKey, c.VerifyKeys, c.PreviousSecrets = priv, []ed25519.PublicKey{oldPub}, [][]byte{otherSecret}
	m := newTestManager(t, c)
	var jsonLogs, textLogs bytes.Buffer
	for _, h := range []slog.Handler{slog.NewJSONHandler(&jsonLogs, nil), slog.NewTextHandler(&textLogs, nil)} {
		slog.New(h).Info("config", "token", c, "manager", m, "pointer", &c)
	}
	outputs := map[string]string{
		"%v config":   fmt.Sprintf("%v", c),
		"%+v config":  fmt.Sprintf("%+v", c),
		"%#v config":  fmt.Sprintf("%#v", c),
		"%v pointer":  fmt.Sprintf("%v", &c),
		"%v manager":  fmt.Sprintf("%v", m),
		"%+v manager": fmt.Sprintf("%+v", m),
		"json log":    jsonLogs.String(),
		"text log":    textLogs.String(),
	}
	var leaks []string
	for _, secret := range [][]byte{testSecret, otherSecret, priv, priv.Seed()} {
		leaks = append(leaks, string(secret), fmt.Sprint(secret), hex.EncodeToString(secret), //nolint:staticcheck // QF1010: fmt's rendering of the []byte is one of the leaks looked for
			base64.StdEncoding.EncodeToString(secret), base64.RawURLEncoding.EncodeToString(secret))
	}
	for name, out := range outputs {
		for _, leak := range leaks {
			if strings.Contains(out, leak) {
				t.Fatalf("%s output %q shows key material", name, out)
			}
		}
		if !strings.Contains(out, testIssuer) {
			t.Fatalf("%s output %q lacks the issuer, want a useful description", name, out)
		}
	}
	for _, want := range []string{"[REDACTED Ed25519]", "PreviousSecrets:[REDACTED 1 keys]", "VerifyKeys:1"} {
		if !strings.Contains(c.String(), want) {
			t.Fatalf("Config.String: got %s, want it to contain %s", c, want)
		}
	}
	if s := m.String(); !strings.Contains(s, m.KeyID()) || !strings.Contains(s, Ed25519KeyID(oldPub)) || !strings.Contains(s, `"EdDSA"`) {
		t.Fatalf("Manager.String: got %s, want the algorithm and every kid", s)
	}
	if s := testConfig().String(); !strings.Contains(s, "SigningKey:none") {
		t.Fatalf("Config.String without a signing key: got %s, want SigningKey:none", s)
	}
}

// FuzzVerifyMixedKeys fuzzes a Manager that holds keys of both algorithms, where a token could try to
// have one key used with the other's algorithm.
func FuzzVerifyMixedKeys(f *testing.F) {
	// Fixed keys: each fuzz worker process runs this setup again and must agree on which inputs are valid.
	priv := rfc8037Key(f)
	pub := priv.Public().(ed25519.PublicKey)
	c := testConfig()
	c.SigningKey, c.PreviousSecrets = priv, [][]byte{otherSecret}
	m := newTestManager(f, c)
	edKID, hsKID := Ed25519KeyID(pub), DeriveKeyID(testSecret)
	// Ed25519 signatures are deterministic, so these are the only three valid tokens.
	valid := []string{
		sign(f, jwt.SigningMethodEdDSA, priv, edKID, validClaims()),
		sign(f, jwt.SigningMethodHS256, testSecret, hsKID, validClaims()),
		sign(f, jwt.SigningMethodHS256, otherSecret, DeriveKeyID(otherSecret), validClaims()),
	}
	for _, seed := range append(slices.Clone(valid),
		sign(f, jwt.SigningMethodHS256, []byte(pub), edKID, validClaims()),
		sign(f, jwt.SigningMethodEdDSA, priv, hsKID, validClaims()),
		sign(f, jwt.SigningMethodHS256, testSecret, edKID, validClaims()),
		"", "a.b.c",
	) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := m.Verify(s)
		if err == nil {
			if !slices.Contains(valid, s) {
				t.Fatalf("Verify accepted %q, want rejection", s)
			}
			return
		}
		if !errors.Is(err, ErrInvalidToken) || c != (Claims{}) {
			t.Fatalf("Verify: got %+v, %v; want zero Claims and an error wrapping ErrInvalidToken", c, err)
		}
	})
}

func BenchmarkIssueEdDSA(b *testing.B) {
	c := testConfig()
	c.SigningKey = rfc8037Key(b)
	m := newTestManager(b, c)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := m.Issue(42, 1); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyEdDSA(b *testing.B) {
	c := testConfig()
	c.SigningKey = rfc8037Key(b)
	benchmarkVerify(b, newTestManager(b, c))
}
