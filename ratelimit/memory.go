package ratelimit

import (
	"context"
	"hash/maphash"
	"sync"
	"time"
)

// DefaultMaxKeys is the key bound NewMemory uses when given none: about 10 MB of budgets for typical keys
// (an IP address), 22 MB at worst (64-byte names and keys; longer keys are hashed to 32 bytes).
const DefaultMaxKeys = 100_000

// memoryShards spreads keys over independent locks so concurrent requests for different clients rarely
// wait on each other.
const memoryShards = 16

// Memory is a Limiter that keeps budgets in this process: the default store, and the fallback when Redis
// fails. Its memory is bounded by maxKeys (see the package documentation).
type Memory struct {
	now    func() time.Time
	base   time.Time // TATs are nanoseconds since base, so they fit in an int64 and use the monotonic clock
	seed   maphash.Seed
	shards []memoryShard
}

// MemoryOption configures NewMemory.
type MemoryOption func(*Memory)

// WithClock replaces time.Now, so tests can move time by hand instead of sleeping.
func WithClock(now func() time.Time) MemoryOption {
	return func(m *Memory) { m.now = now }
}

// memoryShard is a map from budget identity to entry, plus a min-heap of the same entries ordered by TAT,
// which finds both the expired entries and the one to evict in O(log n).
type memoryShard struct {
	mu      sync.Mutex
	max     int
	entries map[string]*memoryEntry
	heap    []*memoryEntry
	_       [40]byte // keeps neighbouring shards' locks off one cache line
}

type memoryEntry struct {
	key   string
	tat   int64 // nanoseconds since Memory.base
	index int   // position in the shard's heap
}

// NewMemory returns an in-process limiter holding at most maxKeys keys (DefaultMaxKeys when maxKeys < 1).
// Keys whose budget is full again are dropped; when a shard is full, the key closest to expiry is evicted.
// Each of the shards holds an equal part of maxKeys, so eviction may begin slightly before maxKeys keys
// are held in all (at 99.5% of them for a flood of 100,000 distinct keys).
func NewMemory(maxKeys int, opts ...MemoryOption) *Memory {
	if maxKeys < 1 {
		maxKeys = DefaultMaxKeys
	}
	m := &Memory{now: time.Now, seed: maphash.MakeSeed()}
	for _, opt := range opts {
		opt(m)
	}
	m.base = m.now()
	n := min(memoryShards, maxKeys)
	m.shards = make([]memoryShard, n)
	for i := range m.shards {
		// The shards' bounds add up to exactly maxKeys.
		s := &m.shards[i]
		s.max = maxKeys / n
		if i < maxKeys%n {
			s.max++
		}
		s.entries = make(map[string]*memoryEntry)
	}
	return m
}

// Take consumes one request from key's budget under p. It fails only for an invalid policy.
func (m *Memory) Take(_ context.Context, key string, p Policy) (Result, error) {
	return m.apply(key, p, true)
}

// Peek implements Store.
func (m *Memory) Peek(_ context.Context, key string, p Policy) (Result, error) {
	return m.apply(key, p, false)
}

// Reset implements Store.
func (m *Memory) Reset(_ context.Context, key string, p Policy) error {
	if err := p.Validate(); err != nil {
		return err
	}
	var buf [2*maxRawKey + 2]byte
	id := appendKey(buf[:0], p.Name, key)
	s := &m.shards[maphash.Bytes(m.seed, id)%uint64(len(m.shards))]
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.entries[string(id)]; e != nil {
		s.remove(e)
	}
	return nil
}

// apply answers one request under p, spending from the budget only when commit is set.
func (m *Memory) apply(key string, p Policy, commit bool) (Result, error) {
	if err := p.Validate(); err != nil {
		return Result{}, err
	}
	var buf [2*maxRawKey + 2]byte
	id := appendKey(buf[:0], p.Name, key)
	interval, window := p.span(time.Nanosecond)
	now := int64(m.now().Sub(m.base))

	s := &m.shards[maphash.Bytes(m.seed, id)%uint64(len(m.shards))]
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expire(now)
	e := s.entries[string(id)]
	tat := now
	if e != nil {
		tat = e.tat
	}
	newTAT, allowed := gcra(tat, now, interval, window)
	if allowed && commit {
		if e == nil {
			s.insert(string(id), newTAT)
		} else {
			e.tat = newTAT
			s.down(e.index) // a TAT only grows
		}
	}
	return result(p, allowed, newTAT, now, interval, window, time.Nanosecond), nil
}

// Len returns how many keys are held, after dropping those whose budget is full again.
func (m *Memory) Len() int {
	now := int64(m.now().Sub(m.base))
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		s.expire(now)
		n += len(s.heap)
		s.mu.Unlock()
	}
	return n
}

// expire drops entries whose budget is full again: they hold no debt, so forgetting them changes nothing.
func (s *memoryShard) expire(now int64) {
	for len(s.heap) > 0 && s.heap[0].tat <= now {
		s.remove(s.heap[0])
	}
}

// insert adds a new entry, first evicting the one closest to expiry if the shard is full.
func (s *memoryShard) insert(key string, tat int64) *memoryEntry {
	if len(s.heap) >= s.max {
		s.remove(s.heap[0])
	}
	e := &memoryEntry{key: key, tat: tat, index: len(s.heap)}
	s.entries[key] = e
	s.heap = append(s.heap, e)
	s.up(e.index)
	return e
}

func (s *memoryShard) remove(e *memoryEntry) {
	delete(s.entries, e.key)
	i, last := e.index, len(s.heap)-1
	if i != last {
		s.swap(i, last)
	}
	s.heap[last] = nil
	s.heap = s.heap[:last]
	if i < last { // the former last entry now sits at i and may belong higher or lower
		s.down(i)
		s.up(i)
	}
}

func (s *memoryShard) swap(i, j int) {
	s.heap[i], s.heap[j] = s.heap[j], s.heap[i]
	s.heap[i].index = i
	s.heap[j].index = j
}

func (s *memoryShard) up(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if s.heap[parent].tat <= s.heap[i].tat {
			return
		}
		s.swap(i, parent)
		i = parent
	}
}

func (s *memoryShard) down(i int) {
	for {
		smallest, l, r := i, 2*i+1, 2*i+2
		if l < len(s.heap) && s.heap[l].tat < s.heap[smallest].tat {
			smallest = l
		}
		if r < len(s.heap) && s.heap[r].tat < s.heap[smallest].tat {
			smallest = r
		}
		if smallest == i {
			return
		}
		s.swap(i, smallest)
		i = smallest
	}
}
