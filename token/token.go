// Package token issues and verifies the short-lived JWT access tokens that authenticate API requests. The
// algorithm, key id, issuer and audience are pinned on verification, so a token is accepted only if this
// service, with this key, made it for this API.
package token

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
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
	errMissingClaim  = errors.New("token: missing iat or nbf")
	errTooLong       = errors.New("token: too long")
	errUnexpectedAlg = errors.New("token: algorithm does not match the key")
)

// Config configures a Manager. Secret is sensitive: Config's String, GoString and LogValue redact it, so a
// logged or printed Config never reveals it.
type Config struct {
	// Secret is the HS256 key, at least MinSecretLen bytes of random data.
	Secret []byte
	// KeyID is put in each token's "kid" header and required on verification, so keys can be rotated later.
	// When empty it is derived from Secret with a one-way hash that does not reveal the secret.
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

// String describes c without its secret.
func (c Config) String() string {
	return fmt.Sprintf("token.Config{Secret:[REDACTED %d bytes], KeyID:%q, Issuer:%q, Audience:%q, TTL:%s}",
		len(c.Secret), c.KeyID, c.Issuer, c.Audience, c.TTL)
}

// GoString keeps the secret out of %#v output.
func (c Config) GoString() string {
	return c.String()
}

// LogValue keeps the secret out of structured logs.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("secret", "[REDACTED]"),
		slog.String("key_id", c.KeyID),
		slog.String("issuer", c.Issuer),
		slog.String("audience", c.Audience),
		slog.Duration("ttl", c.TTL),
	)
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
}

// Manager issues and verifies access tokens. It is safe for concurrent use.
type Manager struct {
	signingKID    string
	signingMethod jwt.SigningMethod
	signingKey    any
	// keys holds every key a token may be verified with, by kid. Today it has the signing key only; rotation
	// or EdDSA would add entries (and their algorithm to the parser's list) without changing Verify.
	keys     map[string]verificationKey
	issuer   string
	audience string
	ttl      time.Duration
	now      func() time.Time
	parser   *jwt.Parser
}

// NewManager validates c and returns a Manager. The secret is copied, so later changes to c.Secret have no
// effect.
func NewManager(c Config) (*Manager, error) {
	switch {
	case len(c.Secret) < MinSecretLen:
		return nil, fmt.Errorf("token: Secret must be at least %d bytes, got %d", MinSecretLen, len(c.Secret))
	case c.Issuer == "":
		return nil, errors.New("token: Issuer is required")
	case c.Audience == "":
		return nil, errors.New("token: Audience is required")
	case c.TTL <= 0:
		return nil, errors.New("token: TTL must be positive")
	}
	secret := bytes.Clone(c.Secret)
	kid := c.KeyID
	if kid == "" {
		kid = DeriveKeyID(secret)
	}
	now := c.Now
	if now == nil {
		now = time.Now
	}
	m := &Manager{
		signingKID:    kid,
		signingMethod: jwt.SigningMethodHS256,
		signingKey:    secret,
		keys:          map[string]verificationKey{kid: {method: jwt.SigningMethodHS256, key: secret}},
		issuer:        c.Issuer,
		audience:      c.Audience,
		ttl:           c.TTL,
		now:           now,
	}
	m.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
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

// String identifies the Manager without revealing its keys.
func (m *Manager) String() string {
	return fmt.Sprintf("token.Manager{KeyID:%q, Issuer:%q, Audience:%q, TTL:%s}", m.signingKID, m.issuer, m.audience, m.ttl)
}

// TTL returns how long issued tokens live, for the expires_in a client is told.
func (m *Manager) TTL() time.Duration {
	return m.ttl
}

// Claims is what a valid token says: whose it is, its unique id (for revocation lists and logs) and its
// lifetime. It is the domain's type, so that *Manager is a fortress.TokenService.
type Claims = fortress.AccessClaims

// Issue returns a signed token for userID, valid from now for the configured TTL, and its claims.
func (m *Manager) Issue(userID int64) (token string, c Claims, err error) {
	if userID <= 0 {
		return "", Claims{}, fmt.Errorf("token: user id must be positive, got %d", userID)
	}
	raw := make([]byte, 16)
	if _, err := rand.Read(raw); err != nil {
		return "", Claims{}, fmt.Errorf("token: reading random id: %w", err)
	}
	// JWT times have whole seconds; truncate first so the returned Claims equal what Verify will read.
	now := m.now().Truncate(time.Second)
	c = Claims{
		UserID:    userID,
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
	})
	t.Header["kid"] = m.signingKID
	token, err = t.SignedString(m.signingKey)
	if err != nil {
		return "", Claims{}, fmt.Errorf("token: signing: %w", err)
	}
	return token, c, nil
}

// Verify checks token's algorithm, key id, signature, issuer, audience and lifetime and returns its claims.
// Every failure wraps ErrInvalidToken; the wrapped cause is for logs and never contains a key.
func (m *Manager) Verify(token string) (Claims, error) {
	c, err := m.verify(token)
	if err != nil {
		return Claims{}, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	return c, nil
}

func (m *Manager) verify(token string) (Claims, error) {
	if len(token) > maxTokenLen {
		return Claims{}, errTooLong
	}
	var rc jwt.RegisteredClaims
	if _, err := m.parser.ParseWithClaims(token, &rc, m.key); err != nil {
		return Claims{}, err
	}
	// The parser checks iat and nbf when present; we always write them, so their absence means someone else
	// made this token.
	if rc.IssuedAt == nil || rc.NotBefore == nil {
		return Claims{}, errMissingClaim
	}
	userID, err := strconv.ParseInt(rc.Subject, 10, 64)
	// Only the canonical form we write ("42", not "+42" or "042") is accepted.
	if err != nil || userID <= 0 || strconv.FormatInt(userID, 10) != rc.Subject {
		return Claims{}, errSubject
	}
	if rc.ID == "" {
		return Claims{}, errID
	}
	return Claims{UserID: userID, ID: rc.ID, IssuedAt: rc.IssuedAt.Time, ExpiresAt: rc.ExpiresAt.Time}, nil
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
