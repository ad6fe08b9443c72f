package securitytest

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/fortress-dev/fortress/token"
)

// kid is the key id the server writes into its tokens and requires.
var kid = token.DeriveKeyID([]byte(jwtSecret))

// claimsFor returns the claims the server itself would write for a user in one of their sessions (sid, as
// sidOf reads it from a real token), valid for ten minutes.
func claimsFor(sub, sid string) jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"sub": sub, "iss": "fortress", "aud": "fortress-api", "jti": "securitytest-" + strconv.FormatInt(now.UnixNano(), 36),
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(), "sid": sid,
	}
}

// forge signs claims with method and key under the given header fields (kid defaults to the server's).
func forge(t *testing.T, method jwt.SigningMethod, key any, claims jwt.MapClaims, hdr map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	tok.Header["kid"] = kid
	for k, v := range hdr {
		if v == nil {
			delete(tok.Header, k)
			continue
		}
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("signing a %s token: %v", method.Alg(), err)
	}
	return s
}

// b64 is JWT's base64url without padding.
func b64(v any) string {
	b, ok := v.([]byte)
	if !ok {
		b, _ = json.Marshal(v)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// segments splits a compact JWT.
func segments(t *testing.T, tok string) (header, payload map[string]any, sig string) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q has %d segments, want 3", tok, len(parts))
	}
	for i, dst := range []*map[string]any{&header, &payload} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			t.Fatal(err)
		}
	}
	return header, payload, parts[2]
}

// asymmetricKeys are generated once: RSA generation is slow.
var asymmetricKeys = sync.OnceValues(func() (*rsa.PrivateKey, *ecdsa.PrivateKey) {
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	ek, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return rk, ek
})

// TestAPI2_BrokenAuthentication presents every kind of bad credential: forged, tampered, expired and
// mis-addressed tokens, tokens of users that no longer may sign in, and password guessing against one
// account and across many.
func TestAPI2_BrokenAuthentication(t *testing.T) {
	t.Parallel()
	forEachEngine(t, func(t *testing.T, eng engine) {
		s := startOn(t, eng, map[string]string{"FORTRESS_LOGIN_FAILURES_MAX": "3", "FORTRESS_LOGIN_LOCKOUT": "15m"})
		alice := s.newAccount(t, "alice")
		bob := s.newAccount(t, "bob")
		aliceItem := s.createItem(t, alice.token, "alice's", "")
		sub, sid := strconv.FormatInt(alice.id, 10), alice.sid
		// A session of alice's that has ended: its id names no usable session any more.
		ended := alice
		ended.signIn(t, s)
		s.do(t, "POST", "/auth/logout", bearer(ended.token)).want(t, http.StatusNoContent, "")

		// refused checks that a token opens nothing: the item list, one item, and a write.
		refused := func(t *testing.T, tok string) {
			t.Helper()
			for _, r := range []response{
				s.do(t, "GET", "/items/", bearer(tok)),
				s.do(t, "GET", itemPath(aliceItem.ID), bearer(tok)),
				s.do(t, "POST", "/items/", bearer(tok), jsonBody(`{"name":"forged"}`)),
			} {
				r.want(t, http.StatusUnauthorized, detailInvalidToken)
			}
		}

		t.Run("the suite forges tokens the server accepts", func(t *testing.T) {
			// Without this, every refusal below could be the suite's mistake rather than the server's check.
			hdr, payload, _ := segments(t, alice.token)
			if hdr["alg"] != "HS256" || hdr["kid"] != kid {
				t.Fatalf("server token header %v, want alg HS256 and kid %s", hdr, kid)
			}
			if payload["sub"] != sub || payload["sid"] != sid {
				t.Fatalf("server token claims %v, want sub %q and sid %q", payload, sub, sid)
			}
			r := s.do(t, "GET", itemPath(aliceItem.ID), bearer(forge(t, jwt.SigningMethodHS256, []byte(jwtSecret), claimsFor(sub, sid), nil)))
			r.want(t, http.StatusOK, "")
			// Bob's own sid with bob's sub is what the key holder can do: the session check is not a
			// second signature, it only ends tokens with their session.
			r = s.do(t, "GET", "/auth/me", bearer(forge(t, jwt.SigningMethodHS256, []byte(jwtSecret), claimsFor(strconv.FormatInt(bob.id, 10), bob.sid), nil)))
			r.want(t, http.StatusOK, "")
			var me struct {
				ID int64 `json:"id"`
			}
			r.decode(t, &me)
			if me.ID != bob.id {
				t.Errorf("%s: id %d, want bob %d", r, me.ID, bob.id)
			}
		})

		rsaKey, ecKey := asymmetricKeys()
		_, edKey, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		pubDER, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
		pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
		secret := []byte(jwtSecret)
		with := func(change func(jwt.MapClaims)) jwt.MapClaims {
			c := claimsFor(sub, sid)
			change(c)
			return c
		}
		hs := func(c jwt.MapClaims, hdr map[string]any) string {
			return forge(t, jwt.SigningMethodHS256, secret, c, hdr)
		}
		_, alicePayload, aliceSig := segments(t, alice.token)
		aliceHeader, _, _ := segments(t, alice.token)
		_, _, bobSig := segments(t, bob.token)
		retoken := func(header, payload map[string]any, sig string) string {
			return b64(header) + "." + b64(payload) + "." + sig
		}
		tampered := func(change func(map[string]any)) map[string]any {
			p := map[string]any{}
			for k, v := range alicePayload {
				p[k] = v
			}
			change(p)
			return p
		}
		now := time.Now()

		forged := []struct{ name, token string }{
			{"alg none", forge(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, claimsFor(sub, sid), nil)},
			{"alg none, no signature", retoken(map[string]any{"alg": "none", "typ": "JWT", "kid": kid}, alicePayload, "")},
			{"alg None", retoken(map[string]any{"alg": "None", "typ": "JWT", "kid": kid}, alicePayload, "")},
			{"alg NONE", retoken(map[string]any{"alg": "NONE", "kid": kid}, alicePayload, "")},
			{"alg none with the real signature", retoken(map[string]any{"alg": "none", "kid": kid}, alicePayload, aliceSig)},
			{"alg missing", retoken(map[string]any{"typ": "JWT", "kid": kid}, alicePayload, aliceSig)},
			{"HS384 with the right key", forge(t, jwt.SigningMethodHS384, secret, claimsFor(sub, sid), nil)},
			{"HS512 with the right key", forge(t, jwt.SigningMethodHS512, secret, claimsFor(sub, sid), nil)},
			{"RS256", forge(t, jwt.SigningMethodRS256, rsaKey, claimsFor(sub, sid), nil)},
			{"PS256", forge(t, jwt.SigningMethodPS256, rsaKey, claimsFor(sub, sid), nil)},
			{"ES256", forge(t, jwt.SigningMethodES256, ecKey, claimsFor(sub, sid), nil)},
			{"EdDSA", forge(t, jwt.SigningMethodEdDSA, edKey, claimsFor(sub, sid), nil)},
			{"RS256 with an embedded jwk", forge(t, jwt.SigningMethodRS256, rsaKey, claimsFor(sub, sid), map[string]any{
				"jwk": map[string]any{"kty": "RSA", "n": b64(rsaKey.N.Bytes()), "e": "AQAB"}})},
			{"HS256 keyed with a public key", forge(t, jwt.SigningMethodHS256, pubPEM, claimsFor(sub, sid), nil)},
			{"HS256 with another key", forge(t, jwt.SigningMethodHS256, []byte("another-key-that-is-long-enough-0123456789"), claimsFor(sub, sid), nil)},
			{"HS256 with another key and no kid", forge(t, jwt.SigningMethodHS256, []byte("another-key-that-is-long-enough-0123456789"), claimsFor(sub, sid), map[string]any{"kid": nil})},
			{"right key, no kid", hs(claimsFor(sub, sid), map[string]any{"kid": nil})},
			{"right key, unknown kid", hs(claimsFor(sub, sid), map[string]any{"kid": "0000000000000000"})},
			{"right key, kid path traversal", hs(claimsFor(sub, sid), map[string]any{"kid": "../../../../dev/null"})},
			{"right key, kid SQL", hs(claimsFor(sub, sid), map[string]any{"kid": "' OR '1'='1"})},
			{"right key, crit header", hs(claimsFor(sub, sid), map[string]any{"crit": []string{"exp"}})},
			{"tampered sub", retoken(aliceHeader, tampered(func(p map[string]any) { p["sub"] = strconv.FormatInt(bob.id, 10) }), aliceSig)},
			{"tampered exp", retoken(aliceHeader, tampered(func(p map[string]any) { p["exp"] = now.Add(24 * time.Hour).Unix() }), aliceSig)},
			{"another token's signature", retoken(aliceHeader, alicePayload, bobSig)},
			{"signature stripped", retoken(aliceHeader, alicePayload, "")},
			{"signature truncated", alice.token[:len(alice.token)-4]},
			{"expired", hs(with(func(c jwt.MapClaims) {
				c["iat"], c["nbf"], c["exp"] = now.Add(-20*time.Minute).Unix(), now.Add(-20*time.Minute).Unix(), now.Add(-time.Minute).Unix()
			}), nil)},
			{"not yet valid", hs(with(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Hour).Unix() }), nil)},
			{"issued in the future", hs(with(func(c jwt.MapClaims) {
				c["iat"], c["nbf"], c["exp"] = now.Add(time.Hour).Unix(), now.Add(time.Hour).Unix(), now.Add(2*time.Hour).Unix()
			}), nil)},
			{"wrong iss", hs(with(func(c jwt.MapClaims) { c["iss"] = "someone-else" }), nil)},
			{"no iss", hs(with(func(c jwt.MapClaims) { delete(c, "iss") }), nil)},
			{"wrong aud", hs(with(func(c jwt.MapClaims) { c["aud"] = "another-api" }), nil)},
			{"aud list without ours", hs(with(func(c jwt.MapClaims) { c["aud"] = []string{"another-api", "fortress-apix"} }), nil)},
			{"no aud", hs(with(func(c jwt.MapClaims) { delete(c, "aud") }), nil)},
			{"no exp", hs(with(func(c jwt.MapClaims) { delete(c, "exp") }), nil)},
			{"no nbf", hs(with(func(c jwt.MapClaims) { delete(c, "nbf") }), nil)},
			{"no iat", hs(with(func(c jwt.MapClaims) { delete(c, "iat") }), nil)},
			{"no jti", hs(with(func(c jwt.MapClaims) { delete(c, "jti") }), nil)},
			{"no sub", hs(with(func(c jwt.MapClaims) { delete(c, "sub") }), nil)},
			{"sub of no user", hs(with(func(c jwt.MapClaims) { c["sub"] = "987654321" }), nil)},
			{"sub zero", hs(with(func(c jwt.MapClaims) { c["sub"] = "0" }), nil)},
			{"sub negative", hs(with(func(c jwt.MapClaims) { c["sub"] = "-" + sub }), nil)},
			{"sub with a leading zero", hs(with(func(c jwt.MapClaims) { c["sub"] = "0" + sub }), nil)},
			{"sub as a number", hs(with(func(c jwt.MapClaims) { c["sub"] = alice.id }), nil)},
			{"sub SQL", hs(with(func(c jwt.MapClaims) { c["sub"] = sub + " OR 1=1" }), nil)},
			{"sub an email", hs(with(func(c jwt.MapClaims) { c["sub"] = alice.email }), nil)},
			{"oversized", hs(with(func(c jwt.MapClaims) { c["pad"] = strings.Repeat("a", 5000) }), nil)},
			// The session claim: a token is good only while the session it names is open and is the
			// token's user's.
			{"no sid", hs(with(func(c jwt.MapClaims) { delete(c, "sid") }), nil)},
			{"sid empty", hs(with(func(c jwt.MapClaims) { c["sid"] = "" }), nil)},
			{"sid zero", hs(with(func(c jwt.MapClaims) { c["sid"] = "0" }), nil)},
			{"sid negative", hs(with(func(c jwt.MapClaims) { c["sid"] = "-" + sid }), nil)},
			{"sid with a leading zero", hs(with(func(c jwt.MapClaims) { c["sid"] = "0" + sid }), nil)},
			{"sid with a plus", hs(with(func(c jwt.MapClaims) { c["sid"] = "+" + sid }), nil)},
			{"sid with blanks", hs(with(func(c jwt.MapClaims) { c["sid"] = " " + sid + " " }), nil)},
			{"sid as a number", hs(with(func(c jwt.MapClaims) { c["sid"] = atoi(sid) }), nil)},
			{"sid as a float", hs(with(func(c jwt.MapClaims) { c["sid"] = sid + ".0" }), nil)},
			{"sid null", hs(with(func(c jwt.MapClaims) { c["sid"] = nil }), nil)},
			{"sid as a list", hs(with(func(c jwt.MapClaims) { c["sid"] = []string{sid} }), nil)},
			{"sid SQL", hs(with(func(c jwt.MapClaims) { c["sid"] = sid + " OR 1=1" }), nil)},
			{"sid too large", hs(with(func(c jwt.MapClaims) { c["sid"] = "99999999999999999999" }), nil)},
			{"sid of no session", hs(with(func(c jwt.MapClaims) { c["sid"] = "987654321" }), nil)},
			{"sid of another user's session", hs(with(func(c jwt.MapClaims) { c["sid"] = bob.sid }), nil)},
			{"sid of an ended session", hs(with(func(c jwt.MapClaims) { c["sid"] = ended.sid }), nil)},
			{"the ended session's own token", ended.token},
			{"another user's sub in alice's session", hs(with(func(c jwt.MapClaims) { c["sub"] = strconv.FormatInt(bob.id, 10) }), nil)},
			{"not a JWT", "not-a-jwt"},
			{"two segments", "eyJhbGciOiJIUzI1NiJ9.e30"},
			{"four segments", alice.token + ".extra"},
			{"garbage base64", "!!!.@@@.###"},
		}
		t.Run("forged and tampered tokens", func(t *testing.T) {
			for _, tc := range forged {
				t.Run(tc.name, func(t *testing.T) { refused(t, tc.token) })
			}
		})

		t.Run("credentials that are not a bearer token", func(t *testing.T) {
			basic := base64.StdEncoding.EncodeToString([]byte(alice.email + ":" + alice.password))
			for _, tc := range []struct {
				name string
				opts []option
			}{
				{"no Authorization", nil},
				{"Basic with the right password", []option{header("Authorization", "Basic "+basic)}},
				{"Bearer without a token", []option{header("Authorization", "Bearer")}},
				{"Bearer with blanks", []option{header("Authorization", "Bearer    ")}},
				{"another scheme", []option{header("Authorization", "Token "+alice.token)}},
				{"token without a scheme", []option{header("Authorization", alice.token)}},
				{"token in a cookie", []option{header("Cookie", "access_token="+alice.token)}},
				{"token in X-Access-Token", []option{header("X-Access-Token", alice.token)}},
			} {
				r := s.do(t, "GET", "/items/", tc.opts...)
				r.want(t, http.StatusUnauthorized, detailNotAuthenticated)
			}
			// Tokens in URLs end up in logs and Referer headers: never accepted there.
			r := s.do(t, "GET", "/items/?access_token="+url.QueryEscape(alice.token))
			r.want(t, http.StatusUnauthorized, detailNotAuthenticated)
		})

		t.Run("token of a deleted user", func(t *testing.T) {
			carol := s.newAccount(t, "carol")
			s.do(t, "GET", "/items/", bearer(carol.token)).want(t, http.StatusOK, "")
			if n := s.db.exec(t, "DELETE FROM users WHERE id = ?", carol.id); n != 1 {
				t.Fatalf("deleted %d rows, want 1", n)
			}
			refused(t, carol.token)
			s.refresh(t, carol.refresh).want(t, http.StatusUnauthorized, detailInvalidToken)
			s.login(t, carol.email, carol.password).want(t, http.StatusUnauthorized, detailBadCredentials)
			// A new account never takes over the deleted one's id, so the old token stays dead.
			again := s.newAccount(t, "carol-again")
			if again.id == carol.id {
				t.Errorf("a new account got the deleted account's id %d", carol.id)
			}
			refused(t, carol.token)
		})

		t.Run("token of an inactive user", func(t *testing.T) {
			dave := s.newAccount(t, "dave")
			s.do(t, "GET", "/items/", bearer(dave.token)).want(t, http.StatusOK, "")
			if n := s.db.exec(t, "UPDATE users SET is_active = FALSE WHERE id = ?", dave.id); n != 1 {
				t.Fatalf("updated %d rows, want 1", n)
			}
			refused(t, dave.token)
			// Deactivated behind the API's back, the sessions were not ended; the refresh token must still
			// get nothing: a new access token of an inactive user would be refused, but it must not be issued.
			s.refresh(t, dave.refresh).want(t, http.StatusUnauthorized, detailInvalidToken)
			// Signing in with the right password gets the wrong-password answer: nothing tells that the
			// account exists but is disabled.
			right := s.login(t, dave.email, dave.password)
			right.want(t, http.StatusUnauthorized, detailBadCredentials)
			sameAnswer(t, right, s.login(t, dave.email, "a wrong password entirely"))
		})

		t.Run("password guessing against one account is throttled", func(t *testing.T) {
			victim := s.newAccount(t, "victim")
			ghost := "ghost@example.com" // no such account
			var fourth []response
			for _, email := range []string{victim.email, ghost} {
				for i := range 3 {
					r := s.login(t, email, "guess number "+strconv.Itoa(i))
					r.want(t, http.StatusUnauthorized, detailBadCredentials)
				}
				r := s.login(t, email, "guess number 4")
				r.want(t, http.StatusTooManyRequests, detailLockedOut)
				fourth = append(fourth, r)
			}
			// The same answer for an account and for no account: the lock reveals nothing.
			if a, b := fourth[0].header.Get("Retry-After"), fourth[1].header.Get("Retry-After"); a == "" || b == "" {
				t.Errorf("Retry-After %q and %q, want both set", a, b)
			} else if x, y := atoi(a), atoi(b); x-y > 1 || y-x > 1 {
				t.Errorf("Retry-After %s for the account and %s for no account, want the same", a, b)
			}
			if fourth[0].detail() != fourth[1].detail() {
				t.Errorf("details differ: %q vs %q", fourth[0].detail(), fourth[1].detail())
			}
			// While locked, the right password is no oracle, letter case is no way around, and neither is
			// another client address.
			s.login(t, victim.email, victim.password).want(t, http.StatusTooManyRequests, detailLockedOut)
			s.login(t, strings.ToUpper(victim.email), victim.password).want(t, http.StatusTooManyRequests, detailLockedOut)
			s.login(t, victim.email, victim.password, fromIP("127.0.0.2")).want(t, http.StatusTooManyRequests, detailLockedOut)
			// The lock is per account: everyone else signs in.
			s.login(t, alice.email, alice.password).want(t, http.StatusOK, "")
		})

		t.Run("credential stuffing across accounts is throttled per client", func(t *testing.T) {
			s2 := startOn(t, eng, map[string]string{"FORTRESS_LOGIN_RATE_LIMIT": "4/1h", "FORTRESS_LOGIN_FAILURES_MAX": "1000"})
			genuine := account{email: "real@example.com", password: "the real password of real"}
			s2.register(t, genuine.email, genuine.password).want(t, http.StatusCreated, "")
			for i := range 4 {
				r := s2.login(t, "stuffed"+strconv.Itoa(i)+"@example.com", "leaked password "+strconv.Itoa(i))
				r.want(t, http.StatusUnauthorized, detailBadCredentials)
			}
			r := s2.login(t, "stuffed4@example.com", "leaked password 4")
			r.want(t, http.StatusTooManyRequests, detailTooMany)
			if p := strings.Join(r.header.Values("RateLimit-Policy"), ", "); !strings.Contains(p, `"login";q=4;w=3600`) {
				t.Errorf("%s: RateLimit-Policy %q, want the login policy", r, p)
			}
			if l := strings.Join(r.header.Values("RateLimit"), ", "); !strings.Contains(l, `"login";r=0;`) {
				t.Errorf("%s: RateLimit %q, want the login budget at 0", r, l)
			}
			// Even the right password gets no token now, and forwarding headers from an untrusted peer do not
			// make a new client.
			for _, opts := range [][]option{
				nil,
				{header("X-Forwarded-For", "203.0.113.7")},
				{header("Forwarded", "for=203.0.113.8")},
				{header("X-Real-IP", "203.0.113.9")},
			} {
				s2.login(t, genuine.email, genuine.password, opts...).want(t, http.StatusTooManyRequests, detailTooMany)
			}
			// Another client has its own budget.
			s2.login(t, genuine.email, genuine.password, fromIP("127.0.0.2")).want(t, http.StatusOK, "")
		})
	})
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
