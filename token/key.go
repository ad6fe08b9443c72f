package token

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
)

// maxKeyFileBytes caps what a key file may hold, so that a mistaken path (/dev/zero, a log file) fails at
// start-up instead of filling memory. A PEM Ed25519 key is about 120 bytes.
const maxKeyFileBytes = 64 << 10

// JWK is one public key of a JWK set (RFC 7517) in the OKP form of RFC 8037. Its fields are named
// explicitly, so nothing but a public key can ever be written into the published document.
type JWK struct {
	KeyType   string `json:"kty"` // always "OKP"
	Curve     string `json:"crv"` // always "Ed25519"
	X         string `json:"x"`   // the public key, base64url without padding
	KeyID     string `json:"kid"` // the RFC 7638 thumbprint, as in the header of the tokens it verifies
	Algorithm string `json:"alg"` // always "EdDSA"
	Use       string `json:"use"` // always "sig"
}

// JWKSet is the document served at /.well-known/jwks.json: what another service needs to verify our tokens.
type JWKSet struct {
	Keys []JWK `json:"keys"`
}

// PublicKeys returns (a copy of) the public keys of every configured Ed25519 key, the signing key first. It is empty
// when only HS256 keys are configured: those are secrets and are never published, so the JWKS route
// answers 404 then.
func (m *Manager) PublicKeys() []JWK {
	return slices.Clone(m.publicKeys)
}

// JWKS returns PublicKeys as a JWK set JSON document, {"keys":[...]}, ready to serve. The document is
// built once by NewManager, so this never fails; with only HS256 keys it is {"keys":[]}.
func (m *Manager) JWKS() []byte {
	return bytes.Clone(m.jwks)
}

// Ed25519KeyID returns the kid of an Ed25519 public key: its JWK thumbprint (RFC 7638) with SHA-256,
// base64url without padding. Anyone holding the JWK set can recompute it, and it changes with the key.
func Ed25519KeyID(pub ed25519.PublicKey) string {
	// RFC 7638 section 3.2: the required members of an OKP key (RFC 8037 section 2), in lexicographic order,
	// with no whitespace. base64url needs no JSON escaping, so the document can be written out directly.
	canonical := `{"crv":"Ed25519","kty":"OKP","x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}`
	sum := sha256.Sum256([]byte(canonical))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// checkPrivateKey copies k after checking that it is a whole Ed25519 private key whose public half matches
// its seed; a mismatched one would sign tokens that nobody can verify.
func checkPrivateKey(k ed25519.PrivateKey) (ed25519.PrivateKey, error) {
	if len(k) != ed25519.PrivateKeySize {
		return nil, fmt.Errorf("must be an Ed25519 private key of %d bytes, got %d", ed25519.PrivateKeySize, len(k))
	}
	if !bytes.Equal(ed25519.NewKeyFromSeed(k.Seed()), k) {
		return nil, errors.New("is malformed: its public half does not match its seed")
	}
	return bytes.Clone(k), nil
}

// publicKey returns the public half of a private key checked by checkPrivateKey.
func publicKey(k ed25519.PrivateKey) ed25519.PublicKey {
	return ed25519.PublicKey(bytes.Clone(k[ed25519.SeedSize:]))
}

// ParseEd25519PrivateKeyPEM reads a signing key from a PEM "PRIVATE KEY" block (PKCS #8), the form
// `openssl genpkey -algorithm ed25519` writes. The data must hold exactly one PEM block. Errors describe
// what is wrong without any of the key's bytes.
func ParseEd25519PrivateKeyPEM(data []byte) (ed25519.PrivateKey, error) {
	k, err := parsePrivatePEM(data)
	if err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	return k, nil
}

// ParseEd25519PublicKeyPEM reads a verification key from a PEM "PUBLIC KEY" block (PKIX
// SubjectPublicKeyInfo, what `openssl pkey -pubout` writes), or from a "PRIVATE KEY" block, whose public
// half it returns, so that a retired signing key file can be moved to the verification list as it is.
// Errors describe what is wrong without any of the key's bytes.
func ParseEd25519PublicKeyPEM(data []byte) (ed25519.PublicKey, error) {
	k, err := parsePublicPEM(data)
	if err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	return k, nil
}

// ReadEd25519PrivateKeyFile reads and parses the signing key file at path (see ParseEd25519PrivateKeyPEM).
// Errors name the file, never its content.
func ReadEd25519PrivateKeyFile(path string) (ed25519.PrivateKey, error) {
	data, err := readKeyFile(path)
	if err == nil {
		var k ed25519.PrivateKey
		if k, err = parsePrivatePEM(data); err == nil {
			return k, nil
		}
	}
	return nil, fmt.Errorf("token: key file %s: %w", strconv.Quote(path), err)
}

// ReadEd25519PublicKeyFile reads and parses the verification key file at path (see
// ParseEd25519PublicKeyPEM). Errors name the file, never its content.
func ReadEd25519PublicKeyFile(path string) (ed25519.PublicKey, error) {
	data, err := readKeyFile(path)
	if err == nil {
		var k ed25519.PublicKey
		if k, err = parsePublicPEM(data); err == nil {
			return k, nil
		}
	}
	return nil, fmt.Errorf("token: key file %s: %w", strconv.Quote(path), err)
}

// readKeyFile returns the file's content, or an error that gives the reason without the path (the caller
// adds it) and without any of the content.
func readKeyFile(path string) ([]byte, error) {
	f, err := os.Open(path) //nolint:gosec // G304: the operator names the key file on purpose
	if err != nil {
		return nil, pathReason(err)
	}
	// Read-only: everything wanted was read (or failed) before the close, which can lose nothing.
	defer func() { _ = f.Close() }()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileBytes+1))
	if err != nil {
		return nil, pathReason(err)
	}
	if len(data) > maxKeyFileBytes {
		return nil, fmt.Errorf("it is larger than %d bytes, too large for a key", maxKeyFileBytes)
	}
	return data, nil
}

// pathReason strips the operation and path from an *os.PathError, keeping the reason ("no such file or
// directory", "permission denied").
func pathReason(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func parsePrivatePEM(data []byte) (ed25519.PrivateKey, error) {
	block, err := onePEMBlock(data)
	if err != nil {
		return nil, err
	}
	if block.Type != "PRIVATE KEY" {
		return nil, wrongBlock(block.Type, "PRIVATE KEY (an Ed25519 key in PKCS #8, as `openssl genpkey -algorithm ed25519` writes)")
	}
	return parsePKCS8(block.Bytes)
}

func parsePublicPEM(data []byte) (ed25519.PublicKey, error) {
	block, err := onePEMBlock(data)
	if err != nil {
		return nil, err
	}
	switch block.Type {
	case "PRIVATE KEY":
		priv, err := parsePKCS8(block.Bytes)
		if err != nil {
			return nil, err
		}
		return publicKey(priv), nil
	case "PUBLIC KEY":
	default:
		return nil, wrongBlock(block.Type, "PUBLIC KEY (an Ed25519 key in PKIX form, as `openssl pkey -pubout` writes)")
	}
	// x509's errors are not passed on: they are about the DER structure, which the operator cannot act on,
	// and keeping them out guarantees that no part of a key reaches a log.
	k, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, errors.New("the PUBLIC KEY block is not a valid PKIX public key")
	}
	pub, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("the public key is %s, want Ed25519", keyKind(k))
	}
	return pub, nil
}

func parsePKCS8(der []byte) (ed25519.PrivateKey, error) {
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, errors.New("the PRIVATE KEY block is not a valid PKCS #8 private key")
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("the private key is %s, want Ed25519", keyKind(k))
	}
	return priv, nil
}

// onePEMBlock returns the only PEM block of data. A second block would leave it unclear which key is meant,
// and PEM headers only ever carry legacy encryption, which is not supported.
func onePEMBlock(data []byte) (*pem.Block, error) {
	block, rest := pem.Decode(data)
	switch {
	case block == nil:
		return nil, errors.New("no PEM block found (want a PEM file beginning with -----BEGIN)")
	case len(block.Headers) > 0:
		return nil, errors.New("the PEM block has headers (legacy PEM encryption is not supported; store the key unencrypted, readable only by the service)")
	}
	if next, _ := pem.Decode(rest); next != nil {
		return nil, errors.New("more than one PEM block found; put one key in each file")
	}
	return block, nil
}

// wrongBlock explains a PEM block of the wrong type. The type is the text of the BEGIN line, not key
// material; it is quoted and shortened all the same.
func wrongBlock(got, want string) error {
	const maxShown = 40
	if len(got) > maxShown {
		got = got[:maxShown]
	}
	hint := ""
	switch got {
	case "ENCRYPTED PRIVATE KEY":
		hint = " (encrypted keys are not supported; store the key unencrypted, readable only by the service)"
	case "RSA PRIVATE KEY", "RSA PUBLIC KEY", "EC PRIVATE KEY":
		hint = " (only Ed25519 keys are supported)"
	case "OPENSSH PRIVATE KEY":
		hint = " (convert it, or generate a key with `openssl genpkey -algorithm ed25519`)"
	}
	return fmt.Errorf("the PEM block is %s, want %s%s", strconv.Quote(got), want, hint)
}

// keyKind names the kind of a parsed key that is not Ed25519, for an error message.
func keyKind(k any) string {
	switch k.(type) {
	case *rsa.PrivateKey, *rsa.PublicKey:
		return "an RSA key"
	case *ecdsa.PrivateKey, *ecdsa.PublicKey:
		return "an ECDSA key"
	case *ecdh.PrivateKey, *ecdh.PublicKey:
		return "an X25519 (key agreement) key"
	}
	return fmt.Sprintf("a key of type %T", k)
}
