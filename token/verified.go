package token

import (
	"crypto/sha256"
	"sync"
	"time"
)

// maxVerified bounds the verified-token cache: an entry is about 200 bytes (digest, claims, the token id,
// map overhead), so 4096 entries (under 1 MiB) cover the access tokens of every active user of a typical
// instance within one TTL, and a miss only costs the full verification.
const maxVerified = 4096

// verified remembers the claims of tokens whose signature, key, algorithm, issuer, audience and shape
// have already been checked, because that work (base64, JSON and an HMAC or Ed25519 verification, some
// 40% of an authenticated item read) gives the same answer every time for the same string. What changes
// with time is not cached: the lifetime checks run again on every hit. Revocation is not this package's
// concern and is unaffected: the caller checks the token's session on every request.
//
// Entries are keyed by the token's SHA-256, so the cache holds no usable credential, and only tokens that
// passed verification are stored, so forged tokens cannot fill it.
type verified struct {
	mu      sync.Mutex
	entries map[[sha256.Size]byte]verifiedToken
}

// verifiedToken is what a verification established, with the times it must be checked against again.
type verifiedToken struct {
	claims    Claims
	notBefore time.Time
}

func newVerified() *verified {
	return &verified{entries: make(map[[sha256.Size]byte]verifiedToken)}
}

// get returns the cached claims of the token with this digest, if it was verified before and is still
// within its lifetime at now (the same checks, with the same leeway, as the parser's).
func (v *verified) get(digest [sha256.Size]byte, now time.Time) (Claims, bool) {
	v.mu.Lock()
	e, ok := v.entries[digest]
	v.mu.Unlock()
	if !ok || !e.validAt(now) {
		return Claims{}, false
	}
	return e.claims, true
}

// put remembers verified claims. When the cache is full it drops the expired entries, then arbitrary ones
// (Go's map iteration order is random) until an eighth of the room is free, so the cost of a full cache
// is amortized over many inserts and no client can pin entries in place.
func (v *verified) put(digest [sha256.Size]byte, t verifiedToken, now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.entries) >= maxVerified {
		for d, e := range v.entries {
			if !e.validAt(now) {
				delete(v.entries, d)
			}
		}
		for d := range v.entries {
			if len(v.entries) < maxVerified-maxVerified/8 {
				break
			}
			delete(v.entries, d)
		}
	}
	v.entries[digest] = t
}

// validAt repeats the parser's time checks with the same leeway: not expired (now < exp + leeway), not
// used before it was issued (now >= iat - leeway) and not before it becomes valid (now >= nbf - leeway).
func (t verifiedToken) validAt(now time.Time) bool {
	return now.Before(t.claims.ExpiresAt.Add(leeway)) &&
		!now.Before(t.claims.IssuedAt.Add(-leeway)) &&
		!now.Before(t.notBefore.Add(-leeway))
}
