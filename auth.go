package fortress

import (
	"context"
	"time"
)

// Limits of a password, counted in characters (the original's rule).
const (
	PasswordMinChars = 12
	PasswordMaxChars = 256
)

// PasswordHasher hashes and verifies passwords. Hashes are self-describing strings that carry their
// own parameters, so that parameters can be raised without invalidating stored hashes. Hashing is
// deliberately expensive, so every method may return EUNAVAILABLE when too much of it is in flight.
type PasswordHasher interface {
	// Hash returns a new salted hash of password.
	Hash(ctx context.Context, password string) (string, error)

	// Verify reports whether password matches hash, and whether hash should be replaced because it
	// was made with other parameters than the current ones. err is for a malformed hash or EUNAVAILABLE.
	Verify(ctx context.Context, password, hash string) (ok, needsRehash bool, err error)

	// VerifyDummy does the work of a failed Verify, for logins of unknown emails, so that the response
	// time does not tell which emails have accounts. err is EUNAVAILABLE or nil.
	VerifyDummy(ctx context.Context, password string) error
}

// AccessClaims is what a verified access token says about its bearer.
type AccessClaims struct {
	UserID    int64
	SessionID int64  // the session the token belongs to (sid); ending the session revokes the token
	ID        string // the token's unique id (jti)
	IssuedAt  time.Time
	ExpiresAt time.Time
}

// TokenService issues and verifies short-lived access tokens.
type TokenService interface {
	// Issue returns a signed token for the user's session and the claims it carries.
	Issue(userID, sessionID int64) (string, AccessClaims, error)

	// Verify returns the claims of a valid token, or an error for any token that is malformed, forged,
	// expired, or signed with another algorithm or key.
	Verify(token string) (AccessClaims, error)
}
