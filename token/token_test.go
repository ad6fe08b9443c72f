package token

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	testSecret = []byte("test-secret-0123456789abcdef-0123456789") // 39 bytes
	testNow    = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
)

const (
	testIssuer   = "fortress"
	testAudience = "fortress-api"
)

func testConfig() Config {
	return Config{
		Secret:   bytes.Clone(testSecret),
		Issuer:   testIssuer,
		Audience: testAudience,
		TTL:      15 * time.Minute,
		Now:      func() time.Time { return testNow },
	}
}

func newTestManager(t testing.TB, c Config) *Manager {
	t.Helper()
	m, err := NewManager(c)
	if err != nil {
		t.Fatalf("NewManager: got error %v, want nil", err)
	}
	return m
}

// validClaims are the claims Issue would write for user 42 at testNow.
func validClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"sub": "42",
		"iss": testIssuer,
		"aud": testAudience,
		"iat": testNow.Unix(),
		"nbf": testNow.Unix(),
		"exp": testNow.Add(15 * time.Minute).Unix(),
		"jti": "b2s0LWp0aS0xMjM0NTY",
		"sid": "7",
	}
}

// sign makes a token with the given method, key, kid header (omitted when kid is nil) and claims.
func sign(t testing.TB, method jwt.SigningMethod, key any, kid any, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != nil {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("signing test token with %s: %v", method.Alg(), err)
	}
	return s
}

func b64(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestIssueVerifyRoundTrip(t *testing.T) {
	m := newTestManager(t, testConfig())
	tok, issued, err := m.Issue(42, 1)
	if err != nil {
		t.Fatalf("Issue: got error %v, want nil", err)
	}
	if issued.UserID != 42 || issued.ID == "" || !issued.IssuedAt.Equal(testNow) || !issued.ExpiresAt.Equal(testNow.Add(15*time.Minute)) {
		t.Fatalf("Issue claims: got %+v, want user 42, an id, iat %v, exp %v", issued, testNow, testNow.Add(15*time.Minute))
	}
	got, err := m.Verify(tok)
	if err != nil {
		t.Fatalf("Verify: got error %v, want nil", err)
	}
	if got.UserID != issued.UserID || got.ID != issued.ID || !got.IssuedAt.Equal(issued.IssuedAt) || !got.ExpiresAt.Equal(issued.ExpiresAt) {
		t.Fatalf("Verify: got %+v, want %+v", got, issued)
	}
}

func TestIssueWireFormat(t *testing.T) {
	m := newTestManager(t, testConfig())
	tok, issued, err := m.Issue(7, 3)
	if err != nil {
		t.Fatalf("Issue: got error %v, want nil", err)
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts, want 3", len(parts))
	}
	var header, payload map[string]any
	for i, dst := range []*map[string]any{&header, &payload} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			t.Fatalf("part %d: %v", i, err)
		}
	}
	wantKID := hex.EncodeToString(func() []byte { s := sha256.Sum256(append([]byte("fortress-kid:"), testSecret...)); return s[:8] }())
	wantHeader := map[string]any{"alg": "HS256", "typ": "JWT", "kid": wantKID}
	if fmt.Sprint(header) != fmt.Sprint(wantHeader) {
		t.Fatalf("header: got %v, want %v", header, wantHeader)
	}
	iat := float64(testNow.Unix())
	wantPayload := map[string]any{
		"sub": "7", "iss": testIssuer, "aud": testAudience, // aud is a single string, not an array
		"iat": iat, "nbf": iat, "exp": iat + 900, "jti": issued.ID, "sid": "3",
	}
	if fmt.Sprint(payload) != fmt.Sprint(wantPayload) {
		t.Fatalf("payload: got %v, want %v", payload, wantPayload)
	}
	id, err := base64.RawURLEncoding.DecodeString(issued.ID)
	if err != nil || len(id) != 16 {
		t.Fatalf("jti: got %q (%d bytes, err %v), want 16 random bytes in base64url", issued.ID, len(id), err)
	}
	if strings.Contains(tok, base64.RawURLEncoding.EncodeToString(testSecret)) {
		t.Fatalf("token contains the secret")
	}
}

func TestIssueUniqueIDs(t *testing.T) {
	m := newTestManager(t, testConfig())
	seen := map[string]bool{}
	for range 100 {
		_, c, err := m.Issue(1, 1)
		if err != nil {
			t.Fatalf("Issue: got error %v, want nil", err)
		}
		if seen[c.ID] {
			t.Fatalf("Issue repeated jti %q, want a fresh one per token", c.ID)
		}
		seen[c.ID] = true
	}
}

func TestIssueRejectsNonPositiveIDs(t *testing.T) {
	m := newTestManager(t, testConfig())
	for _, id := range []int64{0, -1, -1 << 63} {
		if tok, _, err := m.Issue(id, 1); err == nil || tok != "" {
			t.Fatalf("Issue(%d, 1): got token %q err %v, want no token and an error", id, tok, err)
		}
		if tok, _, err := m.Issue(1, id); err == nil || tok != "" {
			t.Fatalf("Issue(1, %d): got token %q err %v, want no token and an error", id, tok, err)
		}
	}
}

func TestKeyID(t *testing.T) {
	derived := DeriveKeyID(testSecret)
	if len(derived) != 16 {
		t.Fatalf("DeriveKeyID: got %q, want 16 hex characters", derived)
	}
	if again := DeriveKeyID(bytes.Clone(testSecret)); again != derived {
		t.Fatalf("DeriveKeyID not stable: got %q then %q", derived, again)
	}
	if other := DeriveKeyID(append(bytes.Clone(testSecret), 'x')); other == derived {
		t.Fatalf("DeriveKeyID: different secrets share id %q", other)
	}
	if strings.Contains(derived, hex.EncodeToString(testSecret[:8])) {
		t.Fatalf("DeriveKeyID %q reveals the secret", derived)
	}

	c := testConfig()
	c.KeyID = "key-2030"
	m := newTestManager(t, c)
	tok, _, err := m.Issue(1, 1)
	if err != nil {
		t.Fatalf("Issue: got error %v, want nil", err)
	}
	parsed, _, err := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
	if err != nil {
		t.Fatalf("ParseUnverified: %v", err)
	}
	if got := parsed.Header["kid"]; got != "key-2030" {
		t.Fatalf("kid header: got %v, want %q", got, "key-2030")
	}
	// A manager with the same secret but the derived kid refuses it: the kid is part of what is verified.
	if _, err := newTestManager(t, testConfig()).Verify(tok); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("Verify with other kid: got %v, want ErrInvalidToken", err)
	}
}

func TestVerifyRejects(t *testing.T) {
	m := newTestManager(t, testConfig())
	kid := DeriveKeyID(testSecret)
	hs := jwt.SigningMethodHS256

	_, rsaKey := mustRSA(t)
	_, edKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}

	with := func(mutate func(jwt.MapClaims)) jwt.MapClaims {
		c := validClaims()
		mutate(c)
		return c
	}
	valid := sign(t, hs, testSecret, kid, validClaims())
	parts := strings.Split(valid, ".")
	noneHeader := func(alg string) string { return b64(t, map[string]any{"alg": alg, "typ": "JWT", "kid": kid}) }

	tamperedPayload := with(func(c jwt.MapClaims) { c["sub"] = "43" })

	tests := []struct {
		name  string
		token string
		cause error // the specific reason, to show the intended check is what fired
	}{
		// Algorithms.
		{"alg none crafted", noneHeader("none") + "." + parts[1] + ".", jwt.ErrTokenSignatureInvalid},
		{"alg none crafted with original signature", noneHeader("none") + "." + parts[1] + "." + parts[2], jwt.ErrTokenSignatureInvalid},
		{"alg None crafted", noneHeader("None") + "." + parts[1] + ".", jwt.ErrTokenUnverifiable},
		{"alg NONE crafted", noneHeader("NONE") + "." + parts[1] + ".", jwt.ErrTokenUnverifiable},
		{"alg missing", b64(t, map[string]any{"typ": "JWT", "kid": kid}) + "." + parts[1] + "." + parts[2], jwt.ErrTokenUnverifiable},
		{"alg none via library", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, kid, validClaims()), jwt.ErrTokenSignatureInvalid},
		{"HS384 same key", sign(t, jwt.SigningMethodHS384, testSecret, kid, validClaims()), jwt.ErrTokenSignatureInvalid},
		{"HS512 same key", sign(t, jwt.SigningMethodHS512, testSecret, kid, validClaims()), jwt.ErrTokenSignatureInvalid},
		{"RS256", sign(t, jwt.SigningMethodRS256, rsaKey, kid, validClaims()), jwt.ErrTokenSignatureInvalid},
		{"PS256", sign(t, jwt.SigningMethodPS256, rsaKey, kid, validClaims()), jwt.ErrTokenSignatureInvalid},
		{"ES256", sign(t, jwt.SigningMethodES256, ecKey, kid, validClaims()), jwt.ErrTokenSignatureInvalid},
		{"EdDSA", sign(t, jwt.SigningMethodEdDSA, edKey, kid, validClaims()), jwt.ErrTokenSignatureInvalid},
		{"RS256 header on HS256 signature", b64(t, map[string]any{"alg": "RS256", "typ": "JWT", "kid": kid}) + "." + parts[1] + "." + parts[2], jwt.ErrTokenSignatureInvalid},

		// Keys.
		{"wrong key", sign(t, hs, []byte("another-secret-0123456789abcdef-0123"), kid, validClaims()), jwt.ErrTokenSignatureInvalid},
		{"secret prefix as key", sign(t, hs, testSecret[:32], kid, validClaims()), jwt.ErrTokenSignatureInvalid},
		{"wrong kid", sign(t, hs, testSecret, "some-other-key", validClaims()), errKeyID},
		{"missing kid", sign(t, hs, testSecret, nil, validClaims()), errKeyID},
		{"empty kid", sign(t, hs, testSecret, "", validClaims()), errKeyID},
		{"kid not a string", sign(t, hs, testSecret, 12345, validClaims()), errKeyID},
		{"critical header", func() string {
			tok := jwt.NewWithClaims(hs, validClaims())
			tok.Header["kid"] = kid
			tok.Header["crit"] = []string{"exp"}
			s, _ := tok.SignedString(testSecret)
			return s
		}(), errCritical},

		// Issuer and audience.
		{"wrong iss", sign(t, hs, testSecret, kid, with(func(c jwt.MapClaims) { c["iss"] = "evil" })), jwt.ErrTokenInvalidIssuer},
		{"missing iss", sign(t, hs, testSecret, kid, with(func(c jwt.MapClaims) { delete(c, "iss") })), jwt.ErrTokenRequiredClaimMissing},
		{"wrong aud", sign(t, hs, testSecret, kid, with(func(c jwt.MapClaims) { c["aud"] = "other-api" })), jwt.ErrTokenInvalidAudience},
		{"aud array without ours", sign(t, hs, testSecret, kid, with(func(c jwt.MapClaims) { c["aud"] = []string{"a", "b"} })), jwt.ErrTokenInvalidAudience},
		{"missing aud", sign(t, hs, testSecret, kid, with(func(c jwt.MapClaims) { delete(c, "aud") })), jwt.ErrTokenRequiredClaimMissing},

		// Lifetime.
		{"expired", sign(t, hs, testSecret, kid, with(func(c jwt.MapClaims) { c["exp"] = testNow.Add(-time.Minute).Unix() })), jwt.ErrTokenExpired},
		{"expired exactly leeway ago", sign(t, hs, testSecret, kid, with(func(c jwt.MapClaims) { c["exp"] = testNow.Add(-leeway).Unix() })), jwt.ErrTokenExpired},
		{"missing exp", sign(t, hs, testSecret, kid, with(func(c jwt.MapClaims) { delete(c, "exp") })), jwt.ErrTokenRequiredClaimMissing},
		{"exp not a number", sign(t, hs, testSecret, kid, with(func(c jwt.MapClaims) { c["exp"] = "tomorrow" })), jwt.ErrTokenMalformed},
		{"nbf in future", sign(t, hs, testSecret, kid, with(func(c jwt.MapClaims) { c["nbf"] = testNow.Add(time.Minute).Unix() })), jwt.ErrTokenNotValidYet},
		{"nbf just past leeway", sign(t, hs, testSecret, kid, with(func(c jwt.MapClaims) { c["nbf"] = testNow.Add(leeway + time.Second).Unix() })), jwt.ErrTokenNotValidYet},
		{"missing nbf", sign(t, hs, testSecret, kid, with(func(c jwt.MapClaims) { delete(c, "nbf") })), jwt.ErrTokenRequiredClaimMissing},
		{"iat in future", sign(t, hs, testSecret, kid, with(func(c jwt.MapClaims) { c["iat"] = testNow.Add(time.Minute).Unix() })), jwt.ErrTokenUsedBeforeIssued},
		{"missing iat", sign(t, hs, testSecret, kid, with(func(c jwt.MapClaims) { delete(c, "iat") })), errMissingClaim},

		// Subject.
		{"sub not a number", sign(t, hs, testSecret, kid, with(func(c jwt.MapClaims) { c["sub"] = "alice" })), errSubject},
		{"sub negative", sign(t, hs, testSecret, kid, with(func(c jwt.MapClaims) { c["sub"] = "-42" })), errSubject},
		{"sub zero", sign(t, hs, testSecret, kid, with(func(c jwt.MapClaims) { c["sub"] = "0" })), errSubject},
		{"sub beyond int64", sign(t, hs, testSecret, kid, with(func(c jwt.MapClaims) { c["sub"] = "9223372036854775808" })), errSubject},
		{"sub plus sign", sign(t, hs, testSecret, kid, with(func(c jwt.MapClaims) { c["sub"] = "+42" })), errSubject},
		{"sub leading zero", sign(t, hs, testSecret, kid, with(func(c jwt.MapClaims) { c["sub"] = "042" })), errSubject},
		{"sub with space", sign(t, hs, testSecret, kid, with(func(c jwt.MapClaims) { c["sub"] = " 42" })), errSubject},
		{"sub decimal point", sign(t, hs, testSecret, kid, with(func(c jwt.MapClaims) { c["sub"] = "42.0" })), errSubject},
		{"sub empty", sign(t, hs, testSecret, kid, with(func(c jwt.MapClaims) { c["sub"] = "" })), errSubject},
		{"sub missing", sign(t, hs, testSecret, kid, with(func(c jwt.MapClaims) { delete(c, "sub") })), errSubject},
		{"sub JSON number", sign(t, hs, testSecret, kid, with(func(c jwt.MapClaims) { c["sub"] = 42 })), jwt.ErrTokenMalformed},

		// Token id.
		{"missing jti", sign(t, hs, testSecret, kid, with(func(c jwt.MapClaims) { delete(c, "jti") })), errID},
		{"empty jti", sign(t, hs, testSecret, kid, with(func(c jwt.MapClaims) { c["jti"] = "" })), errID},

		// Session id.
		{"sid missing", sign(t, hs, testSecret, kid, with(func(c jwt.MapClaims) { delete(c, "sid") })), errSession},
		{"sid zero", sign(t, hs, testSecret, kid, with(func(c jwt.MapClaims) { c["sid"] = "0" })), errSession},
		{"sid leading zero", sign(t, hs, testSecret, kid, with(func(c jwt.MapClaims) { c["sid"] = "07" })), errSession},
		{"sid JSON number", sign(t, hs, testSecret, kid, with(func(c jwt.MapClaims) { c["sid"] = 7 })), jwt.ErrTokenMalformed},

		// Tampering and garbage.
		{"tampered payload", parts[0] + "." + b64(t, tamperedPayload) + "." + parts[2], jwt.ErrTokenSignatureInvalid},
		{"tampered header kid", b64(t, map[string]any{"alg": "HS256", "typ": "JWT", "kid": "x"}) + "." + parts[1] + "." + parts[2], errKeyID},
		{"signature removed", parts[0] + "." + parts[1] + ".", jwt.ErrTokenSignatureInvalid},
		{"signature truncated text", valid[:len(valid)-2], jwt.ErrTokenMalformed},
		{"signature one byte short", parts[0] + "." + parts[1] + "." + shorten(t, parts[2]), jwt.ErrTokenSignatureInvalid},
		{"signature non-canonical trailing bits", parts[0] + "." + parts[1] + "." + nonCanonical(t, parts[2]), jwt.ErrTokenMalformed},
		{"signature flipped", parts[0] + "." + parts[1] + "." + flipFirst(parts[2]), jwt.ErrTokenSignatureInvalid},
		{"signature padded", valid + "=", jwt.ErrTokenMalformed},
		{"signature of other token", parts[0] + "." + parts[1] + "." + strings.Split(sign(t, hs, testSecret, kid, tamperedPayload), ".")[2], jwt.ErrTokenSignatureInvalid},
		{"trailing space", valid + " ", jwt.ErrTokenMalformed},
		{"bearer prefix", "Bearer " + valid, jwt.ErrTokenMalformed},
		{"four parts", valid + ".x", jwt.ErrTokenMalformed},
		{"two parts", parts[0] + "." + parts[1], jwt.ErrTokenMalformed},
		{"empty", "", jwt.ErrTokenMalformed},
		{"dots only", "..", jwt.ErrTokenMalformed},
		{"garbage", "not-a-token", jwt.ErrTokenMalformed},
		{"garbage three parts", "a.b.c", jwt.ErrTokenMalformed},
		{"header not JSON", base64.RawURLEncoding.EncodeToString([]byte("hello")) + "." + parts[1] + "." + parts[2], jwt.ErrTokenMalformed},
		{"payload not JSON object", parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte("[1,2]")) + "." + parts[2], jwt.ErrTokenMalformed},
		{"standard base64 alphabet", strings.NewReplacer("-", "+", "_", "/").Replace(valid) + "+/", jwt.ErrTokenMalformed},
		{"too long", valid + strings.Repeat("A", maxTokenLen), errTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := m.Verify(tt.token)
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("Verify: got claims %+v err %v, want an error wrapping ErrInvalidToken", got, err)
			}
			if !errors.Is(err, tt.cause) {
				t.Fatalf("Verify: got error %q, want cause %q", err, tt.cause)
			}
			if got != (Claims{}) {
				t.Fatalf("Verify: got claims %+v with an error, want zero Claims", got)
			}
			if strings.Contains(err.Error(), string(testSecret)) {
				t.Fatalf("Verify: error %q contains the secret", err)
			}
		})
	}
}

func TestVerifyAccepts(t *testing.T) {
	m := newTestManager(t, testConfig())
	kid := DeriveKeyID(testSecret)
	with := func(mutate func(jwt.MapClaims)) jwt.MapClaims {
		c := validClaims()
		mutate(c)
		return c
	}
	tests := []struct {
		name   string
		claims jwt.MapClaims
	}{
		{"as issued", validClaims()},
		{"aud array containing ours", with(func(c jwt.MapClaims) { c["aud"] = []string{"other", testAudience} })},
		{"expiring within leeway", with(func(c jwt.MapClaims) { c["exp"] = testNow.Add(-leeway + time.Second).Unix() })},
		{"nbf within leeway", with(func(c jwt.MapClaims) { c["nbf"] = testNow.Add(leeway).Unix() })},
		{"iat within leeway", with(func(c jwt.MapClaims) { c["iat"] = testNow.Add(leeway).Unix() })},
		{"largest user id", with(func(c jwt.MapClaims) { c["sub"] = "9223372036854775807" })},
		{"unknown extra claim", with(func(c jwt.MapClaims) { c["role"] = "admin" })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := m.Verify(sign(t, jwt.SigningMethodHS256, testSecret, kid, tt.claims))
			if err != nil {
				t.Fatalf("Verify: got error %v, want nil", err)
			}
			if got.UserID <= 0 || got.ID != tt.claims["jti"] {
				t.Fatalf("Verify: got %+v, want a positive user id and jti %v", got, tt.claims["jti"])
			}
		})
	}
}

// TestVerifyFollowsClock checks the lifetime at each instant twice: on a token seen for the first time
// (the parser's checks) and on one verified at issue time (the cache's checks), which must agree.
func TestVerifyFollowsClock(t *testing.T) {
	for _, cached := range []bool{false, true} {
		now := testNow
		c := testConfig()
		c.Now = func() time.Time { return now }
		m := newTestManager(t, c)
		tok, issued, err := m.Issue(5, 1)
		if err != nil {
			t.Fatalf("Issue: got error %v, want nil", err)
		}
		tests := []struct {
			at     time.Time
			wantOK bool
		}{
			{testNow.Add(-leeway), true},
			{testNow.Add(-leeway - time.Second), false}, // before nbf/iat beyond the leeway
			{issued.ExpiresAt.Add(-time.Second), true},
			{issued.ExpiresAt.Add(leeway - time.Nanosecond), true},
			{issued.ExpiresAt.Add(leeway), false},
			{issued.ExpiresAt.Add(time.Hour), false},
		}
		for _, tt := range tests {
			m.verified = newVerified()
			if cached {
				now = testNow
				if _, err := m.Verify(tok); err != nil {
					t.Fatalf("Verify at issue: got error %v, want nil", err)
				}
			}
			now = tt.at
			_, err := m.Verify(tok)
			if (err == nil) != tt.wantOK || (err != nil && !errors.Is(err, ErrInvalidToken)) {
				t.Fatalf("Verify (cached=%v) at issue%+v: got error %v, want ok=%v", cached, tt.at.Sub(testNow), err, tt.wantOK)
			}
		}
	}
}

// TestVerifyCachesOnlyValidTokens: a rejected token leaves no entry, so forged tokens cannot fill the
// cache, and a cached token does not make a near copy of it acceptable.
func TestVerifyCachesOnlyValidTokens(t *testing.T) {
	m := newTestManager(t, testConfig())
	tok, _, err := m.Issue(7, 3)
	if err != nil {
		t.Fatalf("Issue: got error %v, want nil", err)
	}
	tampered := tok[:len(tok)-2] + flip(tok[len(tok)-2:len(tok)-1]) + tok[len(tok)-1:]
	if _, err := m.Verify(tampered); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("Verify(tampered): got %v, want ErrInvalidToken", err)
	}
	if n := len(m.verified.entries); n != 0 {
		t.Fatalf("after a rejected token: got %d cached entries, want 0", n)
	}
	for range 2 {
		c, err := m.Verify(tok)
		if err != nil || c.UserID != 7 || c.SessionID != 3 {
			t.Fatalf("Verify: got %+v, %v; want user 7, session 3", c, err)
		}
	}
	if n := len(m.verified.entries); n != 1 {
		t.Fatalf("after a valid token: got %d cached entries, want 1", n)
	}
	if _, err := m.Verify(tampered); !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("Verify(tampered) after the genuine token was cached: got %v, want ErrInvalidToken", err)
	}
}

// flip replaces a base64url character by another one.
func flip(c string) string {
	if c == "A" {
		return "B"
	}
	return "A"
}

// TestVerifiedIsBounded: a full cache drops expired entries first, then enough others to stay within
// maxVerified, and the newest entry is always kept.
func TestVerifiedIsBounded(t *testing.T) {
	live := verifiedToken{claims: Claims{UserID: 1, IssuedAt: testNow, ExpiresAt: testNow.Add(time.Hour)}, notBefore: testNow}
	expired := verifiedToken{claims: Claims{UserID: 2, IssuedAt: testNow.Add(-2 * time.Hour), ExpiresAt: testNow.Add(-time.Hour)}}
	digest := func(i int) [sha256.Size]byte { return sha256.Sum256([]byte(strconv.Itoa(i))) }

	v := newVerified()
	for i := range maxVerified {
		v.put(digest(i), expired, testNow)
	}
	v.put(digest(-1), live, testNow)
	if n := len(v.entries); n != 1 {
		t.Fatalf("full of expired entries, then one more: got %d entries, want 1", n)
	}

	v = newVerified()
	for i := range 3 * maxVerified {
		v.put(digest(i), live, testNow)
		if n := len(v.entries); n > maxVerified {
			t.Fatalf("after %d inserts: got %d entries, want at most %d", i+1, n, maxVerified)
		}
	}
	if c, ok := v.get(digest(3*maxVerified-1), testNow); !ok || c.UserID != 1 {
		t.Fatalf("newest entry: got %+v, %v; want it cached", c, ok)
	}
}

func TestNewManagerValidation(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string // a word the error must contain; "" means valid
	}{
		{"valid", func(*Config) {}, ""},
		{"secret exactly 32 bytes", func(c *Config) { c.Secret = bytes.Repeat([]byte{7}, 32) }, ""},
		{"nil Now uses the real clock", func(c *Config) { c.Now = nil }, ""},
		{"nil secret", func(c *Config) { c.Secret = nil }, "Secret"},
		{"short secret", func(c *Config) { c.Secret = []byte("short-secret-but-secret-31bytes") }, "Secret"},
		{"empty issuer", func(c *Config) { c.Issuer = "" }, "Issuer"},
		{"empty audience", func(c *Config) { c.Audience = "" }, "Audience"},
		{"zero TTL", func(c *Config) { c.TTL = 0 }, "TTL"},
		{"negative TTL", func(c *Config) { c.TTL = -time.Minute }, "TTL"},
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
				if m.TTL() != c.TTL {
					t.Fatalf("TTL(): got %v, want %v", m.TTL(), c.TTL)
				}
				return
			}
			if err == nil || m != nil {
				t.Fatalf("NewManager: got %v, %v; want nil and an error naming %s", m, err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewManager: got error %q, want it to name %s", err, tt.want)
			}
			if len(c.Secret) > 0 && strings.Contains(err.Error(), string(c.Secret)) {
				t.Fatalf("NewManager: error %q contains the secret", err)
			}
		})
	}
}

func TestRealClock(t *testing.T) {
	c := testConfig()
	c.Now = nil
	m := newTestManager(t, c)
	before := time.Now().Truncate(time.Second)
	tok, issued, err := m.Issue(1, 1)
	if err != nil {
		t.Fatalf("Issue: got error %v, want nil", err)
	}
	if issued.IssuedAt.Before(before) || issued.IssuedAt.After(time.Now()) {
		t.Fatalf("IssuedAt: got %v, want between %v and now", issued.IssuedAt, before)
	}
	if _, err := m.Verify(tok); err != nil {
		t.Fatalf("Verify: got error %v, want nil", err)
	}
}

func TestSecretIsCopied(t *testing.T) {
	c := testConfig()
	m := newTestManager(t, c)
	tok, _, err := m.Issue(1, 1)
	if err != nil {
		t.Fatalf("Issue: got error %v, want nil", err)
	}
	for i := range c.Secret {
		c.Secret[i] = 0
	}
	if _, err := m.Verify(tok); err != nil {
		t.Fatalf("Verify after caller cleared its secret: got error %v, want nil", err)
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	c := testConfig()
	m := newTestManager(t, c)
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "token", c, "manager", m)
	outputs := map[string]string{
		"%v config":   fmt.Sprintf("%v", c),
		"%+v config":  fmt.Sprintf("%+v", c),
		"%#v config":  fmt.Sprintf("%#v", c),
		"%s config":   fmt.Sprintf("%s", c), //nolint:staticcheck // S1025: the %s verb itself is under test
		"%v manager":  fmt.Sprintf("%v", m),
		"%+v manager": fmt.Sprintf("%+v", m),
		"slog":        logs.String(),
	}
	leaks := []string{
		string(testSecret),
		fmt.Sprint(testSecret), //nolint:staticcheck // QF1010: fmt's rendering of the []byte is one of the leaks looked for
		hex.EncodeToString(testSecret),
		base64.StdEncoding.EncodeToString(testSecret),
	}
	for name, out := range outputs {
		for _, leak := range leaks {
			if strings.Contains(out, leak) {
				t.Fatalf("%s output %q contains the secret", name, out)
			}
		}
		if !strings.Contains(out, testIssuer) {
			t.Fatalf("%s output %q lacks the issuer, want a useful description", name, out)
		}
	}
}

func TestConcurrentUse(t *testing.T) {
	m := newTestManager(t, testConfig())
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Go(func() {
			id := int64(i + 1)
			tok, _, err := m.Issue(id, 1)
			if err != nil {
				errs <- err
				return
			}
			for range 3 { // the first verification fills the cache, the others read it
				c, err := m.Verify(tok)
				if err != nil || c.UserID != id {
					errs <- fmt.Errorf("Verify: got %+v, %v; want user %d", c, err, id)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func mustRSA(t testing.TB) (*rsa.PublicKey, *rsa.PrivateKey) {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return &k.PublicKey, k
}

// shorten drops the last byte of a base64url segment and re-encodes it canonically.
func shorten(t testing.TB, seg string) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(raw[:len(raw)-1])
}

// nonCanonical sets unused trailing bits of a 32-byte signature's encoding, which lenient decoders ignore.
func nonCanonical(t testing.TB, seg string) string {
	t.Helper()
	if len(seg) != 43 { // 32 bytes: the last character carries 4 data bits and 2 unused ones
		t.Fatalf("signature segment has %d characters, want 43", len(seg))
	}
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, seg[42])
	return seg[:42] + string(alphabet[i|1])
}

// flipFirst changes the first character of a base64url segment to another valid one.
func flipFirst(s string) string {
	if s[0] == 'A' {
		return "B" + s[1:]
	}
	return "A" + s[1:]
}

func FuzzVerify(f *testing.F) {
	m := newTestManager(f, testConfig())
	// Deterministic, unlike Issue's random jti: each fuzz worker process runs this setup again and must
	// agree on which single input is valid.
	valid := sign(f, jwt.SigningMethodHS256, testSecret, DeriveKeyID(testSecret), validClaims())
	parts := strings.Split(valid, ".")
	for _, seed := range []string{
		valid,
		"",
		"a.b.c",
		parts[0] + "." + parts[1] + ".",
		b64(f, map[string]any{"alg": "none"}) + "." + parts[1] + ".",
		sign(f, jwt.SigningMethodHS256, testSecret, "x", validClaims()),
		sign(f, jwt.SigningMethodHS512, testSecret, DeriveKeyID(testSecret), validClaims()),
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := m.Verify(s)
		if err == nil {
			// Nothing but the exact token we issued can carry a valid HMAC.
			if s != valid {
				t.Fatalf("Verify accepted %q, want rejection", s)
			}
			return
		}
		if !errors.Is(err, ErrInvalidToken) {
			t.Fatalf("Verify: got error %v, want one wrapping ErrInvalidToken", err)
		}
		if c != (Claims{}) {
			t.Fatalf("Verify: got claims %+v with error, want zero Claims", c)
		}
	})
}

func BenchmarkIssue(b *testing.B) {
	m := newTestManager(b, testConfig())
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := m.Issue(42, 1); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	benchmarkVerify(b, newTestManager(b, testConfig()))
}

// benchmarkVerify measures a token's first verification (the parser's whole work) and every later one
// (a cache hit that only rechecks the lifetime).
func benchmarkVerify(b *testing.B, m *Manager) {
	tok, _, err := m.Issue(42, 1)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("first", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := m.verify(tok); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := m.Verify(tok); err != nil {
				b.Fatal(err)
			}
		}
	})
}
