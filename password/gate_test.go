package password

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestGateBoundsConcurrency(t *testing.T) {
	g := NewGate(2, 100, time.Minute)
	var running, peak atomic.Int64
	release := make(chan struct{})
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			err := g.Do(context.Background(), func() {
				n := running.Add(1)
				for {
					p := peak.Load()
					if n <= p || peak.CompareAndSwap(p, n) {
						break
					}
				}
				<-release
				running.Add(-1)
			})
			if err != nil {
				t.Errorf("Do: %v", err)
			}
		})
	}
	// Wait until two run and the other eighteen queue, then let them all through.
	for g.InFlight() != 2 || g.Waiting() != 18 {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if peak.Load() != 2 {
		t.Fatalf("peak concurrency: got %d, want 2", peak.Load())
	}
	if g.InFlight() != 0 || g.Waiting() != 0 {
		t.Fatalf("after all: in flight %d, waiting %d; want 0, 0", g.InFlight(), g.Waiting())
	}
}

// countingObserver counts what a Gate reports.
type countingObserver struct {
	mu       sync.Mutex
	waits    []time.Duration
	rejected int
}

func (o *countingObserver) HashWaited(d time.Duration) {
	o.mu.Lock()
	o.waits = append(o.waits, d)
	o.mu.Unlock()
}
func (o *countingObserver) HashRejected() { o.mu.Lock(); o.rejected++; o.mu.Unlock() }

func TestGateRefusesWhenTheQueueIsFull(t *testing.T) {
	g := NewGate(1, 1, time.Minute)
	obs := &countingObserver{}
	g.Observe(obs)
	hold := make(chan struct{})
	started := make(chan struct{})
	go func() { _ = g.Do(context.Background(), func() { close(started); <-hold }) }()
	<-started
	queued := make(chan error)
	go func() { queued <- g.Do(context.Background(), func() {}) }()
	for g.Waiting() != 1 {
		time.Sleep(time.Millisecond)
	}
	ran := false
	if err := g.Do(context.Background(), func() { ran = true }); !errors.Is(err, ErrBusy) || ran {
		t.Fatalf("third caller with a full queue: got %v (ran=%v), want ErrBusy without running", err, ran)
	}
	close(hold)
	if err := <-queued; err != nil {
		t.Fatalf("queued caller: got %v, want nil", err)
	}
	// The first caller never queued; the second waited; the third was refused.
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if len(obs.waits) != 1 || obs.waits[0] <= 0 || obs.rejected != 1 {
		t.Fatalf("observer: got waits %v and %d refusals, want one wait and one refusal", obs.waits, obs.rejected)
	}
}

func TestGateWaitIsBounded(t *testing.T) {
	g := NewGate(1, 5, 20*time.Millisecond)
	hold := make(chan struct{})
	started := make(chan struct{})
	go func() { _ = g.Do(context.Background(), func() { close(started); <-hold }) }()
	<-started
	defer close(hold)
	if err := g.Do(context.Background(), func() {}); !errors.Is(err, ErrBusy) {
		t.Fatalf("wait past the bound: got %v, want ErrBusy", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	g2 := NewGate(1, 5, time.Minute)
	go func() { _ = g2.Do(context.Background(), func() { <-hold }) }()
	for g2.InFlight() != 1 {
		time.Sleep(time.Millisecond)
	}
	if err := g2.Do(ctx, func() {}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: got %v, want context.Canceled", err)
	}
}
