// Package password hashes and verifies passwords with Argon2id and stores them as PHC strings, so that the
// parameters travel with each hash and can be raised later without invalidating existing accounts.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Bounds on Argon2id parameters. They apply both to the parameters we hash with and to those read back from a
// stored hash, so that every hash we produce can be verified and a corrupted or hostile stored hash cannot make
// a verification allocate or compute without limit.
const (
	// maxMemoryKiB is 4 GiB expressed in KiB.
	maxMemoryKiB = 4 * 1024 * 1024
	// maxTime caps the number of passes.
	maxTime = 100
	// minSaltLen and maxSaltLen bound the salt length, in bytes, accepted from a stored hash.
	minSaltLen, maxSaltLen = 8, 1024
	// minKeyLen and maxKeyLen bound the derived key length, in bytes, accepted from a stored hash.
	minKeyLen, maxKeyLen = 8, 1024
)

// Lengths of what Hash produces: 128-bit salts and 256-bit keys.
const (
	saltLen = 16
	keyLen  = 32
)

// maxEncodedLen bounds the whole stored string before any decoding: the fixed parts, three numbers, and the
// longest salt and key in unpadded base64.
var maxEncodedLen = len("$argon2id$v=19$m=,t=,p=$$") + 3*10 + 2*base64.RawStdEncoding.EncodedLen(maxSaltLen)

// ErrMalformedHash is wrapped by Verify when the stored string is not a well-formed Argon2id PHC string within
// bounds. Its text never contains the stored hash.
var ErrMalformedHash = errors.New("password: malformed hash")

// ErrUnsupportedHash is wrapped by Verify when the stored string names another algorithm or Argon2 version, so
// a caller can tell a foreign hash from a corrupted one.
var ErrUnsupportedHash = errors.New("password: unsupported hash")

// Params are Argon2id cost parameters. They are recorded in every hash, so changing them affects only new
// hashes; Verify reports when an old hash should be upgraded.
type Params struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
}

// DefaultParams returns the OWASP minimum recommendation for Argon2id (19 MiB, 2 passes, 1 lane), which costs
// tens of milliseconds per hash on current servers.
func DefaultParams() Params {
	return Params{MemoryKiB: 19456, Time: 2, Threads: 1}
}

// Validate reports parameters that Argon2id cannot use or that would make a hash impractical to verify. The
// error names the offending field.
func (p Params) Validate() error {
	switch {
	case p.Threads < 1:
		return errors.New("password: Threads must be at least 1")
	case p.Time < 1:
		return errors.New("password: Time must be at least 1")
	case p.Time > maxTime:
		return fmt.Errorf("password: Time must be at most %d", maxTime)
	case p.MemoryKiB < 8*uint32(p.Threads):
		return fmt.Errorf("password: MemoryKiB must be at least 8*Threads (%d)", 8*uint32(p.Threads))
	case p.MemoryKiB > maxMemoryKiB:
		return fmt.Errorf("password: MemoryKiB must be at most %d (4 GiB)", maxMemoryKiB)
	}
	return nil
}

// keyFunc has the signature of argon2.IDKey. Tests substitute it to observe which parameters are used.
type keyFunc func(password, salt []byte, time, memory uint32, threads uint8, keyLen uint32) []byte

// Hasher hashes and verifies passwords with fixed parameters. It is safe for concurrent use.
type Hasher struct {
	params Params
	idKey  keyFunc
	// dummy is a PHC string with params, a random salt and a random key; VerifyDummy verifies against it so
	// that a login for an unknown account costs what a wrong password costs.
	dummy string
}

// NewHasher validates p and returns a Hasher using it.
func NewHasher(p Params) (*Hasher, error) {
	return newHasher(p, argon2.IDKey)
}

func newHasher(p Params, idKey keyFunc) (*Hasher, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	// The dummy needs no Argon2id run of its own: verifying against it derives a key with p from the
	// password and the salt, exactly as for a real hash, and a random key is as unmatchable as a derived one
	// (a 2^-256 chance). So start-up costs no hashing time and no Argon2id memory.
	salt, key := make([]byte, saltLen), make([]byte, keyLen)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("password: reading random bytes: %w", err)
	}
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("password: reading random bytes: %w", err)
	}
	dummy := encode(p, salt, key)
	// VerifyDummy ignores Verify's error: a dummy that did not decode would skip Argon2id silently and
	// tell unknown emails from known ones by time. Make that impossible rather than merely untested.
	if _, err := decode(dummy); err != nil {
		return nil, fmt.Errorf("password: dummy hash: %w", err)
	}
	return &Hasher{params: p, idKey: idKey, dummy: dummy}, nil
}

// Params returns the parameters new hashes are made with.
func (h *Hasher) Params() Params {
	return h.params
}

// Hash returns a PHC string ($argon2id$v=19$m=…,t=…,p=…$salt$key) of password with a fresh random salt, so
// that equal passwords never share a hash.
func (h *Hasher) Hash(password string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: reading random salt: %w", err)
	}
	key := h.idKey([]byte(password), salt, h.params.Time, h.params.MemoryKiB, h.params.Threads, keyLen)
	return encode(h.params, salt, key), nil
}

// Verify reports whether password matches the stored hash encoded, recomputing it with the parameters stored in
// encoded. needsRehash is true when the password matches but the hash was made with other parameters or
// lengths than h uses, so the caller can store a fresh Hash. err is non-nil only when encoded is malformed or
// of another algorithm (it wraps ErrMalformedHash or ErrUnsupportedHash), never because the password is wrong.
func (h *Hasher) Verify(password, encoded string) (ok bool, needsRehash bool, err error) {
	stored, err := decode(encoded)
	if err != nil {
		return false, false, err
	}
	p := stored.params
	storedKeyLen := uint32(len(stored.key)) //nolint:gosec // G115: decode bounds a stored key to maxKeyLen (1024) bytes
	key := h.idKey([]byte(password), stored.salt, p.Time, p.MemoryKiB, p.Threads, storedKeyLen)
	if subtle.ConstantTimeCompare(key, stored.key) != 1 {
		return false, false, nil
	}
	needsRehash = p != h.params || len(stored.salt) != saltLen || len(stored.key) != keyLen
	return true, needsRehash, nil
}

// VerifyDummy does the work of a Verify that fails, against a hash made with h's parameters. Call it when the
// account does not exist, so that the response time does not tell which accounts exist.
func (h *Hasher) VerifyDummy(password string) {
	// The outcome is meaningless: nobody knows the dummy's password, and its format is our own.
	_, _, _ = h.Verify(password, h.dummy)
}

type phc struct {
	params    Params
	salt, key []byte
}

func encode(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, p.MemoryKiB, p.Time, p.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

// decode parses a PHC string strictly: only the canonical form that encode writes is accepted. Error texts
// describe the problem but never quote the input, which is secret material.
func decode(s string) (phc, error) {
	if len(s) > maxEncodedLen {
		return phc{}, fmt.Errorf("%w: too long", ErrMalformedHash)
	}
	parts := strings.Split(s, "$")
	if len(parts) < 2 || parts[0] != "" {
		return phc{}, fmt.Errorf("%w: not a PHC string", ErrMalformedHash)
	}
	if parts[1] != "argon2id" {
		return phc{}, fmt.Errorf("%w: algorithm is not argon2id", ErrUnsupportedHash)
	}
	if len(parts) != 6 {
		return phc{}, fmt.Errorf("%w: want 5 fields", ErrMalformedHash)
	}
	version, ok := strings.CutPrefix(parts[2], "v=")
	if !ok {
		return phc{}, fmt.Errorf("%w: missing version", ErrMalformedHash)
	}
	if v, err := parseUint(version, 32); err != nil || v != argon2.Version {
		return phc{}, fmt.Errorf("%w: version is not %d", ErrUnsupportedHash, argon2.Version)
	}
	p, err := decodeParams(parts[3])
	if err != nil {
		return phc{}, err
	}
	salt, err := decodeBase64(parts[4], minSaltLen, maxSaltLen)
	if err != nil {
		return phc{}, fmt.Errorf("%w: salt: %w", ErrMalformedHash, err)
	}
	key, err := decodeBase64(parts[5], minKeyLen, maxKeyLen)
	if err != nil {
		return phc{}, fmt.Errorf("%w: key: %w", ErrMalformedHash, err)
	}
	return phc{params: p, salt: salt, key: key}, nil
}

// decodeParams reads exactly "m=<n>,t=<n>,p=<n>" in that order and checks the values against Validate's bounds.
func decodeParams(s string) (Params, error) {
	fields := strings.Split(s, ",")
	names := [3]string{"m", "t", "p"}
	bits := [3]int{32, 32, 8}
	var values [3]uint64
	if len(fields) != len(names) {
		return Params{}, fmt.Errorf("%w: want parameters m, t, p", ErrMalformedHash)
	}
	for i, f := range fields {
		name, value, ok := strings.Cut(f, "=")
		if !ok || name != names[i] {
			return Params{}, fmt.Errorf("%w: want parameters m, t, p", ErrMalformedHash)
		}
		v, err := parseUint(value, bits[i])
		if err != nil {
			return Params{}, fmt.Errorf("%w: parameter %s: %w", ErrMalformedHash, name, err)
		}
		values[i] = v
	}
	p := Params{MemoryKiB: uint32(values[0]), Time: uint32(values[1]), Threads: uint8(values[2])} //nolint:gosec // G115: parseUint parsed each value with its field's bit size
	if err := p.Validate(); err != nil {
		return Params{}, fmt.Errorf("%w: %w", ErrMalformedHash, err)
	}
	return p, nil
}

var errNotCanonical = errors.New("not a canonical decimal number")

// parseUint accepts only canonical decimals: no sign, no leading zeros, no spaces, nothing strconv would
// tolerate beyond that.
func parseUint(s string, bitSize int) (uint64, error) {
	if s == "" || (len(s) > 1 && s[0] == '0') {
		return 0, errNotCanonical
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errNotCanonical
		}
	}
	v, err := strconv.ParseUint(s, 10, bitSize)
	if err != nil {
		return 0, errors.New("number out of range") // strconv's error would quote the input
	}
	return v, nil
}

// decodeBase64 decodes unpadded standard base64 of min..max bytes, checking the length before decoding so a
// huge field is never allocated, and requiring the canonical encoding (the decoder itself skips CR and LF and,
// unless strict, tolerates stray trailing bits).
func decodeBase64(s string, minLen, maxLen int) ([]byte, error) {
	enc := base64.RawStdEncoding
	if len(s) < enc.EncodedLen(minLen) || len(s) > enc.EncodedLen(maxLen) {
		return nil, fmt.Errorf("length must be %d to %d bytes", minLen, maxLen)
	}
	b, err := enc.Strict().DecodeString(s)
	if err != nil || enc.EncodeToString(b) != s {
		return nil, errors.New("not canonical unpadded base64")
	}
	if len(b) < minLen || len(b) > maxLen {
		return nil, fmt.Errorf("length must be %d to %d bytes", minLen, maxLen)
	}
	return b, nil
}
