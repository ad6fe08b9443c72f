// Package token issues and verifies the short-lived JWT access tokens that authenticate API requests. The
// algorithm, key id, issuer and audience are pinned on verification, so a token is accepted only if this
// service, with this key, made it for this API. Tokens are signed with HS256 (a shared secret) or EdDSA
// (an Ed25519 key whose public half is published as a JWK set); older keys of either kind can stay
// configured for verification only, so that keys rotate without logging anyone out.
package token

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/fortress-dev/fortress"
)

// ErrInvalidToken is wrapped by every error Verify returns, whatever the reason, so callers answer all
// rejections alike and never have to interpret the cause (which is only for logs).
var ErrInvalidToken = errors.New("token: invalid")

const (
	// MinSecretLen is the shortest HS256 secret accepted: 256 bits, the size of the HMAC-SHA256 output.
	MinSecretLen = 32

	// leeway absorbs small clock differences between instances that issue and verify tokens.
	leeway = 5 * time.Second

	// maxTokenLen bounds the work spent on a token before its signature is checked; ours are ~300 bytes.
	maxTokenLen = 4096
)

// Reasons for rejection that the jwt library does not detect itself. They are wrapped with ErrInvalidToken.
var (
	errKeyID         = errors.New("token: unknown or missing key id")
	errCritical      = errors.New("token: unsupported critical header")
	errSubject       = errors.New("token: subject is not a positive decimal user id")
	errID            = errors.New("token: missing token id")
	errSession       = errors.New("token: session id is not a positive decimal string")
	errMissingClaim  = errors.New("token: missing iat or nbf")
	errTooLong       = errors.New("token: too long")
	errUnexpectedAlg = errors.New("token: algorithm does not match the key")
)

// Config configures a Manager: one signing key (SigningKey if set, else Secret) and any number of older keys
// that only verify, so that keys rotate without logging anyone out. Keys are secret material: Config's
// String, GoString and LogValue redact them, so a logged or printed Config never reveals one.
type Config struct {
	// Secret is the HS256 key, at least MinSecretLen bytes of random data. It signs tokens unless SigningKey
	// is set; then it only verifies the HS256 tokens still in flight and may be left empty.
	Secret []byte
	// PreviousSecrets are retired HS256 keys that still verify tokens but never sign, so that replacing
	// Secret logs nobody out: keep the old key here for one TTL, then drop it. Their kids are derived.
	PreviousSecrets [][]byte
	// SigningKey, when set, signs tokens with EdDSA (Ed25519) instead of HS256. Its public key is
	// published by JWKS, and its kid is its RFC 7638 thumbprint (Ed25519KeyID).
	SigningKey ed25519.PrivateKey
	// VerifyKeys are the public keys of retired (or not yet active) Ed25519 signing keys: they verify tokens
	// and are published by JWKS, but never sign.
	VerifyKeys []ed25519.PublicKey
	// KeyID overrides the kid of Secret, put in the header of the tokens it signs and required on
	// verification. When empty it is derived from Secret with a one-way hash that does not reveal the
	// secret (DeriveKeyID). Ed25519 keys always have their thumbprint as kid.
	KeyID string
	// Issuer is the "iss" claim, required to match on verification.
	Issuer string
	// Audience is the "aud" claim, required to match on verification, so tokens meant for another service
	// sharing the key are refused.
	Audience string
	// TTL is how long a token stays valid after it is issued.
	TTL time.Duration
	// Now returns the current time; nil means time.Now. Tests set it to control expiry.
	Now func() time.Time
}

// String describes c without its keys: only their sizes and numbers.
func (c Config) String() string {
	return fmt.Sprintf("token.Config{Secret:[REDACTED %d bytes], PreviousSecrets:[REDACTED %d keys], "+
		"SigningKey:%s, VerifyKeys:%d, KeyID:%q, Issuer:%q, Audience:%q, TTL:%s}",
		len(c.Secret), len(c.PreviousSecrets), redactedKey(c.SigningKey), len(c.VerifyKeys),
		c.KeyID, c.Issuer, c.Audience, c.TTL)
}

// GoString keeps the keys out of %#v output.
func (c Config) GoString() string {
	return c.String()
}

// LogValue keeps the keys out of structured logs.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("secret", "[REDACTED]"),
		slog.Int("previous_secrets", len(c.PreviousSecrets)),
		slog.String("signing_key", redactedKey(c.SigningKey)),
		slog.Int("verify_keys", len(c.VerifyKeys)),
		slog.String("key_id", c.KeyID),
		slog.String("issuer", c.Issuer),
		slog.String("audience", c.Audience),
		slog.Duration("ttl", c.TTL),
	)
}

// redactedKey says whether an Ed25519 private key is set, and nothing else about it.
func redactedKey(k ed25519.PrivateKey) string {
	if len(k) == 0 {
		return "none"
	}
	return "[REDACTED Ed25519]"
}

// DeriveKeyID returns the key id used when Config.KeyID is empty: the hex of the first 8 bytes of SHA-256
// over "fortress-kid:" and the secret. It is stable across restarts and safe to publish.
func DeriveKeyID(secret []byte) string {
	sum := sha256.Sum256(append([]byte("fortress-kid:"), secret...))
	return hex.EncodeToString(sum[:8])
}

// verificationKey pairs a key with the one algorithm it may be used with, so a key is never tried with an
// algorithm it was not meant for.
type verificationKey struct {
	method jwt.SigningMethod
	key    any
	raw    []byte // the key's bytes, to tell a key configured twice from two keys sharing a kid
}

// Manager issues and verifies access tokens. It is safe for concurrent use: its keys and settings never
// change after NewManager, and the cache of verified tokens has its own lock.
type Manager struct {
	signingKID    string
	signingMethod jwt.SigningMethod
	signingKey    any
	// keys holds every key a token may be verified with, by kid, each pinned to its algorithm; kids lists
	// them in configuration order (signing key first) for String.
	keys       map[string]verificationKey
	kids       []string
	publicKeys []JWK
	jwks       []byte
	issuer     string
	audience   string
	ttl        time.Duration
	now        func() time.Time
	parser     *jwt.Parser
	verified   *verified
}

// NewManager validates c and returns a Manager. Keys are copied, so later changes to c's slices have no
// effect. A key configured twice (the signing key's public key also among VerifyKeys, say) counts once;
// two different keys with the same kid are an error.
func NewManager(c Config) (*Manager, error) {
	switch {
	case len(c.SigningKey) == 0 && len(c.Secret) == 0:
		return nil, errors.New("token: a signing key is required: Secret (HS256) or SigningKey (EdDSA)")
	case len(c.Secret) > 0 && len(c.Secret) < MinSecretLen:
		return nil, fmt.Errorf("token: Secret must be at least %d bytes, got %d", MinSecretLen, len(c.Secret))
	case c.Issuer == "":
		return nil, errors.New("token: Issuer is required")
	case c.Audience == "":
		return nil, errors.New("token: Audience is required")
	case c.TTL <= 0:
		return nil, errors.New("token: TTL must be positive")
	}
	now := c.Now
	if now == nil {
		now = time.Now
	}
	m := &Manager{
		keys:       map[string]verificationKey{},
		publicKeys: []JWK{},
		issuer:     c.Issuer,
		audience:   c.Audience,
		ttl:        c.TTL,
		now:        now,
		verified:   newVerified(),
	}

	if len(c.SigningKey) > 0 {
		priv, err := checkPrivateKey(c.SigningKey)
		if err != nil {
			return nil, fmt.Errorf("token: SigningKey %w", err)
		}
		pub := publicKey(priv)
		kid := Ed25519KeyID(pub)
		if err := m.add(kid, jwt.SigningMethodEdDSA, pub); err != nil {
			return nil, err
		}
		m.signingKID, m.signingMethod, m.signingKey = kid, jwt.SigningMethodEdDSA, priv
	}
	if len(c.Secret) > 0 {
		secret := bytes.Clone(c.Secret)
		kid := c.KeyID
		if kid == "" {
			kid = DeriveKeyID(secret)
		}
		if err := m.add(kid, jwt.SigningMethodHS256, secret); err != nil {
			return nil, err
		}
		if m.signingKey == nil {
			m.signingKID, m.signingMethod, m.signingKey = kid, jwt.SigningMethodHS256, secret
		}
	}
	for i, s := range c.PreviousSecrets {
		if len(s) < MinSecretLen {
			return nil, fmt.Errorf("token: PreviousSecrets[%d] must be at least %d bytes, got %d", i, MinSecretLen, len(s))
		}
		secret := bytes.Clone(s)
		if err := m.add(DeriveKeyID(secret), jwt.SigningMethodHS256, secret); err != nil {
			return nil, err
		}
	}
	for i, k := range c.VerifyKeys {
		if len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("token: VerifyKeys[%d] must be an Ed25519 public key of %d bytes, got %d", i, ed25519.PublicKeySize, len(k))
		}
		pub := ed25519.PublicKey(bytes.Clone(k))
		if err := m.add(Ed25519KeyID(pub), jwt.SigningMethodEdDSA, pub); err != nil {
			return nil, err
		}
	}

	jwks, err := json.Marshal(JWKSet{Keys: m.publicKeys})
	if err != nil {
		return nil, fmt.Errorf("token: encoding the JWK set: %w", err)
	}
	m.jwks = jwks
	m.parser = jwt.NewParser(
		// Only the algorithms of configured keys; key() then pins each kid to its own algorithm.
		jwt.WithValidMethods(m.algorithms()),
		jwt.WithIssuer(c.Issuer),
		jwt.WithAudience(c.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithNotBeforeRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(leeway),
		jwt.WithTimeFunc(now),
		jwt.WithStrictDecoding(),
	)
	return m, nil
}

// add registers a verification key under kid. Ed25519 keys are also published in the JWK set.
func (m *Manager) add(kid string, method jwt.SigningMethod, key []byte) error {
	if old, ok := m.keys[kid]; ok {
		if old.method == method && bytes.Equal(old.raw, key) {
			return nil
		}
		return fmt.Errorf("token: two different keys have the key id %q", kid)
	}
	vk := verificationKey{method: method, key: key, raw: key}
	if method == jwt.SigningMethodEdDSA {
		pub := ed25519.PublicKey(key)
		vk.key = pub
		m.publicKeys = append(m.publicKeys, JWK{
			KeyType: "OKP", Curve: "Ed25519", X: base64.RawURLEncoding.EncodeToString(pub),
			KeyID: kid, Algorithm: method.Alg(), Use: "sig",
		})
	}
	m.keys[kid] = vk
	m.kids = append(m.kids, kid)
	return nil
}

// algorithms lists the algorithms of the configured keys, the only ones the parser lets through.
func (m *Manager) algorithms() []string {
	var algs []string
	for _, kid := range m.kids {
		if alg := m.keys[kid].method.Alg(); !slices.Contains(algs, alg) {
			algs = append(algs, alg)
		}
	}
	return algs
}

// String identifies the Manager without revealing its keys: their kids are safe to publish.
func (m *Manager) String() string {
	return fmt.Sprintf("token.Manager{Algorithm:%q, KeyID:%q, AcceptedKeyIDs:%q, Issuer:%q, Audience:%q, TTL:%s}",
		m.signingMethod.Alg(), m.signingKID, m.kids, m.issuer, m.audience, m.ttl)
}

// KeyID returns the kid of the signing key, for the start-up log that tells operators which key is live.
func (m *Manager) KeyID() string {
	return m.signingKID
}

// Algorithm returns the JWS algorithm of the tokens this Manager issues: "HS256" or "EdDSA".
func (m *Manager) Algorithm() string {
	return m.signingMethod.Alg()
}

// TTL returns how long issued tokens live, for the expires_in a client is told.
func (m *Manager) TTL() time.Duration {
	return m.ttl
}

// Claims is what a valid token says: whose it is, its unique id (for revocation lists and logs) and its
// lifetime. It is the domain's type, so that *Manager is a fortress.TokenService.
type Claims = fortress.AccessClaims

// Issue returns a signed token for userID in sessionID, valid from now for the configured TTL, and its
// claims. The session id ("sid") lets every request check that the session has not ended, so a logout
// takes effect at once instead of when the token expires.
func (m *Manager) Issue(userID, sessionID int64) (token string, c Claims, err error) {
	if userID <= 0 || sessionID <= 0 {
		return "", Claims{}, fmt.Errorf("token: user and session ids must be positive, got %d and %d", userID, sessionID)
	}
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		return "", Claims{}, fmt.Errorf("token: reading random id: %w", err)
	}
	// JWT times have whole seconds; truncate first so the returned Claims equal what Verify will read.
	now := m.now().Truncate(time.Second)
	c = Claims{
		UserID:    userID,
		SessionID: sessionID,
		ID:        base64.RawURLEncoding.EncodeToString(raw),
		IssuedAt:  now,
		ExpiresAt: now.Add(m.ttl).Truncate(time.Second),
	}
	// MapClaims rather than RegisteredClaims so that "aud" is a single string, as the original API wrote it,
	// without flipping the library's global jwt.MarshalSingleStringAsArray.
	t := jwt.NewWithClaims(m.signingMethod, jwt.MapClaims{
		"sub": strconv.FormatInt(userID, 10),
		"iss": m.issuer,
		"aud": m.audience,
		"iat": c.IssuedAt.Unix(),
		"nbf": c.IssuedAt.Unix(),
		"exp": c.ExpiresAt.Unix(),
		"jti": c.ID,
		"sid": strconv.FormatInt(sessionID, 10),
	})
	t.Header["kid"] = m.signingKID
	token, err = t.SignedString(m.signingKey)
	if err != nil {
		return "", Claims{}, fmt.Errorf("token: signing: %w", err)
	}
	return token, c, nil
}

// Verify checks token's algorithm, key id, signature, issuer, audience and lifetime and returns its claims.
// Every failure wraps ErrInvalidToken; the wrapped cause is for logs and never contains a key. A token
// verified before is not parsed again: its lifetime is checked against the cached claims (see verified).
func (m *Manager) Verify(token string) (Claims, error) {
	if len(token) > maxTokenLen {
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalidToken, errTooLong)
	}
	now := m.now()
	digest := sha256.Sum256([]byte(token))
	if c, ok := m.verified.get(digest, now); ok {
		return c, nil
	}
	t, err := m.verify(token)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	m.verified.put(digest, t, now)
	return t.claims, nil
}

func (m *Manager) verify(token string) (verifiedToken, error) {
	var rc claims
	if _, err := m.parser.ParseWithClaims(token, &rc, m.key); err != nil {
		return verifiedToken{}, err
	}
	// The parser checks iat and nbf when present; we always write them, so their absence means someone else
	// made this token.
	if rc.IssuedAt == nil || rc.NotBefore == nil {
		return verifiedToken{}, errMissingClaim
	}
	userID, ok := parseID(rc.Subject)
	if !ok {
		return verifiedToken{}, errSubject
	}
	if rc.ID == "" {
		return verifiedToken{}, errID
	}
	sessionID, ok := parseID(rc.SessionID)
	if !ok {
		return verifiedToken{}, errSession
	}
	return verifiedToken{
		claims:    Claims{UserID: userID, SessionID: sessionID, ID: rc.ID, IssuedAt: rc.IssuedAt.Time, ExpiresAt: rc.ExpiresAt.Time},
		notBefore: rc.NotBefore.Time,
	}, nil
}

// claims are the registered claims and the session id, as a token carries them.
type claims struct {
	jwt.RegisteredClaims
	SessionID string `json:"sid"`
}

// parseID reads a positive id in the only form we write ("42", not "+42", "042" or a number).
func parseID(s string) (int64, bool) {
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil && id > 0 && strconv.FormatInt(id, 10) == s
}

// key finds the verification key named by the token's kid header. The parser has already refused algorithms
// outside its list; the key's own algorithm is checked too, so that with several keys of different kinds a
// token can never make one key be used with another key's algorithm.
func (m *Manager) key(t *jwt.Token) (any, error) {
	if _, ok := t.Header["crit"]; ok {
		return nil, errCritical // RFC 7515 4.1.11: we understand no extensions, so any "crit" must be refused
	}
	kid, _ := t.Header["kid"].(string)
	k, ok := m.keys[kid]
	if !ok {
		return nil, errKeyID
	}
	if t.Method.Alg() != k.method.Alg() {
		return nil, errUnexpectedAlg
	}
	return k.key, nil
}
