package password

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/fortress-dev/fortress"
)

func TestGuardedHasher(t *testing.T) {
	h, err := NewHasher(Params{MemoryKiB: 8192, Time: 1, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	var _ fortress.PasswordHasher = (*Guarded)(nil)
	g := NewGuarded(h, NewGate(1, 0, time.Second))
	ctx := context.Background()
	hash, err := g.Hash(ctx, "a good long password")
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, err := g.Verify(ctx, "a good long password", hash); !ok || err != nil {
		t.Fatalf("Verify: got %v, %v; want a match", ok, err)
	}
	if err := g.VerifyDummy(ctx, "x"); err != nil {
		t.Fatal(err)
	}

	// With the only slot taken and no queue, every method answers EUNAVAILABLE without hashing.
	hold, started := make(chan struct{}), make(chan struct{})
	go func() { _ = g.Gate().Do(ctx, func() { close(started); <-hold }) }()
	<-started
	defer close(hold)
	if _, err := g.Hash(ctx, "pw"); fortress.ErrorCode(err) != fortress.EUNAVAILABLE || !errors.Is(err, ErrBusy) {
		t.Fatalf("Hash when busy: got %v, want EUNAVAILABLE", err)
	}
	if _, _, err := g.Verify(ctx, "pw", hash); fortress.ErrorCode(err) != fortress.EUNAVAILABLE {
		t.Fatalf("Verify when busy: got %v, want EUNAVAILABLE", err)
	}
	if err := g.VerifyDummy(ctx, "pw"); fortress.ErrorCode(err) != fortress.EUNAVAILABLE {
		t.Fatalf("VerifyDummy when busy: got %v, want EUNAVAILABLE", err)
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	g2 := NewGuarded(h, NewGate(1, 1, time.Minute))
	go func() { _ = g2.Gate().Do(ctx, func() { <-hold }) }()
	for g2.Gate().InFlight() != 1 {
		time.Sleep(time.Millisecond)
	}
	if err := g2.VerifyDummy(cancelled, "pw"); !errors.Is(err, context.Canceled) || fortress.ErrorCode(err) != "" {
		t.Fatalf("cancelled caller: got %v, want context.Canceled", err)
	}
}
