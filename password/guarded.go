package password

import (
	"context"
	"errors"
	"fmt"

	"github.com/fortress-dev/fortress"
)

// Guarded is a Hasher whose every Argon2id computation passes through a Gate. It is the
// fortress.PasswordHasher that the server uses.
type Guarded struct {
	hasher *Hasher
	gate   *Gate
}

// NewGuarded returns h behind g.
func NewGuarded(h *Hasher, g *Gate) *Guarded { return &Guarded{hasher: h, gate: g} }

// errBusy is what clients see: retry shortly (the HTTP layer adds Retry-After).
var errBusy = &fortress.Error{Code: fortress.EUNAVAILABLE, Message: "Too many sign-ins are being processed; retry shortly."}

// Hash implements fortress.PasswordHasher.
func (g *Guarded) Hash(ctx context.Context, password string) (hash string, err error) {
	gateErr := g.gate.Do(ctx, func() { hash, err = g.hasher.Hash(password) })
	if gateErr != nil {
		return "", busy(gateErr)
	}
	return hash, err
}

// Verify implements fortress.PasswordHasher.
func (g *Guarded) Verify(ctx context.Context, password, hash string) (ok, needsRehash bool, err error) {
	gateErr := g.gate.Do(ctx, func() { ok, needsRehash, err = g.hasher.Verify(password, hash) })
	if gateErr != nil {
		return false, false, busy(gateErr)
	}
	return ok, needsRehash, err
}

// VerifyDummy implements fortress.PasswordHasher.
func (g *Guarded) VerifyDummy(ctx context.Context, password string) error {
	if err := g.gate.Do(ctx, func() { g.hasher.VerifyDummy(password) }); err != nil {
		return busy(err)
	}
	return nil
}

// Gate returns the gate, for metrics.
func (g *Guarded) Gate() *Gate { return g.gate }

func busy(err error) error {
	if errors.Is(err, ErrBusy) {
		return fmt.Errorf("%w (%w)", errBusy, err)
	}
	return err // the caller's context ended
}
