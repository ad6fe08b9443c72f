package password

import (
	"context"
	"errors"
	"sync/atomic"
	"time"
)

// ErrBusy is returned by Gate.Do when the hashing queue is full or the wait ran out: the caller should
// answer 503 with Retry-After rather than pile up work.
var ErrBusy = errors.New("password: too many hashing operations in progress")

// Gate bounds the Argon2id work in flight. Each computation allocates MemoryKiB (19 MiB by default), so
// without a bound a few hundred concurrent logins exhaust a small server's memory. At most `slots`
// computations run at once; at most `queue` more wait, each for at most `wait`; the rest fail fast.
type Gate struct {
	slots    chan struct{}
	queue    chan struct{}
	wait     time.Duration
	waiting  atomic.Int64
	observer GateObserver
}

// GateObserver is told how long queued operations waited and how many were refused, for metrics.
type GateObserver interface {
	HashWaited(time.Duration)
	HashRejected()
}

// Observe makes o receive the Gate's waits and refusals. Call it before the Gate is used.
func (g *Gate) Observe(o GateObserver) { g.observer = o }

// NewGate returns a Gate; slots and queue are at least 1 and 0.
func NewGate(slots, queue int, wait time.Duration) *Gate {
	return &Gate{
		slots: make(chan struct{}, max(slots, 1)),
		queue: make(chan struct{}, max(queue, 0)),
		wait:  wait,
	}
}

// Do runs fn when a slot is free. It returns ErrBusy without running fn when the queue is full or no
// slot frees up within the wait, and the context's error when ctx ends first.
func (g *Gate) Do(ctx context.Context, fn func()) error {
	select {
	case g.slots <- struct{}{}: // a free slot: no queueing at all
	default:
		start := time.Now()
		err := g.enqueue(ctx)
		if g.observer != nil {
			if errors.Is(err, ErrBusy) {
				g.observer.HashRejected()
			} else if err == nil {
				g.observer.HashWaited(time.Since(start))
			}
		}
		if err != nil {
			return err
		}
	}
	defer func() { <-g.slots }()
	fn()
	return nil
}

func (g *Gate) enqueue(ctx context.Context) error {
	select {
	case g.queue <- struct{}{}:
	default:
		return ErrBusy
	}
	g.waiting.Add(1)
	defer func() {
		g.waiting.Add(-1)
		<-g.queue
	}()
	timer := time.NewTimer(g.wait)
	defer timer.Stop()
	select {
	case g.slots <- struct{}{}:
		return nil
	case <-timer.C:
		return ErrBusy
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Waiting is the number of operations queued for a slot now (for metrics).
func (g *Gate) Waiting() int { return int(g.waiting.Load()) }

// InFlight is the number of operations running now.
func (g *Gate) InFlight() int { return len(g.slots) }
