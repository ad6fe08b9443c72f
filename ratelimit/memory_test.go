package ratelimit

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

func TestMemoryConformance(t *testing.T) {
	conformance(t, func(t *testing.T) Store {
		return NewMemory(1000, WithClock(newClock().Now))
	}, 0)
}

func TestMemoryRefillsContinuously(t *testing.T) {
	clk := newClock()
	m := NewMemory(100, WithClock(clk.Now))
	p := Policy{"refill", 4, 4 * time.Second} // one request per second
	for range 4 {
		take(t, m, "k", p)
	}
	if r := take(t, m, "k", p); r.Allowed || r.RetryAfter != time.Second {
		t.Fatalf("fifth request: got %+v, want denied with RetryAfter 1s", r)
	}

	clk.Advance(999 * time.Millisecond)
	if r := take(t, m, "k", p); r.Allowed || r.RetryAfter != time.Millisecond {
		t.Fatalf("1ms before the refill: got %+v, want denied with RetryAfter 1ms", r)
	}
	clk.Advance(time.Millisecond)
	if r := take(t, m, "k", p); !r.Allowed || r.Remaining != 0 || r.Reset != 4*time.Second {
		t.Fatalf("at the refill: got %+v, want allowed, remaining 0, reset 4s", r)
	}

	clk.Advance(2500 * time.Millisecond) // 2.5 requests' worth: 2 whole requests back
	if r := take(t, m, "k", p); !r.Allowed || r.Remaining != 1 || r.Reset != 2500*time.Millisecond {
		t.Fatalf("after 2.5s: got %+v, want allowed, remaining 1, reset 2.5s", r)
	}

	clk.Advance(time.Hour) // idle far longer than the window: a full burst again, never more
	allowed := 0
	for range 10 {
		if take(t, m, "k", p).Allowed {
			allowed++
		}
	}
	if allowed != 4 {
		t.Errorf("after an idle hour: %d of 10 allowed, want the burst of 4", allowed)
	}
}

func TestMemoryDropsKeysWhoseBudgetIsFull(t *testing.T) {
	clk := newClock()
	m := NewMemory(100, WithClock(clk.Now))
	p := Policy{"drop", 2, 2 * time.Second}
	take(t, m, "once", p)  // full again after 1s
	take(t, m, "twice", p) // full again after 2s
	take(t, m, "twice", p)
	if got := m.Len(); got != 2 {
		t.Fatalf("Len = %d, want 2", got)
	}
	clk.Advance(time.Second)
	if got := m.Len(); got != 1 {
		t.Errorf("after 1s: Len = %d, want 1 (the key spent once is full again)", got)
	}
	clk.Advance(time.Second)
	if got := m.Len(); got != 0 {
		t.Errorf("after 2s: Len = %d, want 0", got)
	}
}

func TestMemoryDefaultsAndRealClock(t *testing.T) {
	m := NewMemory(0)
	total := 0
	for i := range m.shards {
		total += m.shards[i].max
	}
	if total != DefaultMaxKeys {
		t.Errorf("NewMemory(0) holds %d keys, want DefaultMaxKeys (%d)", total, DefaultMaxKeys)
	}
	if r := take(t, m, "k", Policy{"real", 1, time.Hour}); !r.Allowed || r.Reset <= 0 || r.Reset > time.Hour {
		t.Errorf("on the real clock: got %+v, want allowed with 0 < Reset <= 1h", r)
	}
	if small := NewMemory(3); len(small.shards) != 3 {
		t.Errorf("NewMemory(3) has %d shards, want 3 (never more shards than keys)", len(small.shards))
	}
}

// A flood of distinct keys cannot grow memory beyond maxKeys, and evicts the entries closest to expiry —
// its own — rather than the budget of a client that is being limited.
func TestMemoryIsBoundedUnderAFloodOfDistinctKeys(t *testing.T) {
	const maxKeys, flood = 10_000, 1_000_000
	clk := newClock()
	m := NewMemory(maxKeys, WithClock(clk.Now))
	p := Policy{"flood", 10, time.Hour}

	// An abuser spends its whole budget first.
	for range 10 {
		take(t, m, "abuser", p)
	}
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)

	ctx := context.Background()
	key := make([]byte, 0, 32)
	for i := range flood {
		key = strconv.AppendInt(append(key[:0], "flood-"...), int64(i), 10)
		if _, err := m.Take(ctx, string(key), p); err != nil {
			t.Fatal(err)
		}
		if i%100_000 == 0 {
			clk.Advance(time.Millisecond) // the flood is spread over time, as a real one would be
		}
	}
	if got := m.Len(); got > maxKeys {
		t.Errorf("after %d distinct keys: Len = %d, want <= %d", flood, got, maxKeys)
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc) //nolint:gosec // G115: heap sizes are far below 2^63 bytes
	t.Logf("heap grew %d KiB for %d held keys (%d bytes per key)", grown/1024, m.Len(), grown/int64(m.Len()))
	if limit := int64(maxKeys * 1024); grown > limit {
		t.Errorf("heap grew %d bytes, want at most %d (1 KiB per held key)", grown, limit)
	}
	if r := take(t, m, "abuser", p); r.Allowed {
		t.Errorf("abuser after the flood: got %+v, want still denied (its debt must survive eviction)", r)
	}
}

// The heap invariant and the map agree after many inserts, refills, expiries and evictions.
func TestMemoryHeapStaysConsistent(t *testing.T) {
	clk := newClock()
	m := NewMemory(64, WithClock(clk.Now))
	p := Policy{"heap", 8, 8 * time.Second}
	for i := range 5000 {
		take(t, m, fmt.Sprint(i%97), p)
		if i%7 == 0 {
			take(t, m, fmt.Sprint(i%13), p)
		}
		if i%50 == 0 {
			clk.Advance(time.Duration(i%5) * 300 * time.Millisecond)
		}
		if i%500 == 0 {
			m.Len()
		}
	}
	for i := range m.shards {
		s := &m.shards[i]
		if len(s.heap) != len(s.entries) || len(s.heap) > s.max {
			t.Fatalf("shard %d: heap %d, map %d, max %d; want heap == map <= max", i, len(s.heap), len(s.entries), s.max)
		}
		for j, e := range s.heap {
			if e.index != j || s.entries[e.key] != e {
				t.Fatalf("shard %d: entry at %d has index %d or is not the map's", i, j, e.index)
			}
			if j > 0 && s.heap[(j-1)/2].tat > e.tat {
				t.Fatalf("shard %d: heap order broken at %d", i, j)
			}
		}
	}
}

// BenchmarkMemoryTake measures a Take on keys that are already held (the common case: returning
// clients) and on a flood of new keys, each of which evicts another once the store is full.
func BenchmarkMemoryTake(b *testing.B) {
	keys := make([]string, 10_000)
	for i := range keys {
		keys[i] = "ip:10.0." + strconv.Itoa(i/256) + "." + strconv.Itoa(i%256)
	}
	ctx := context.Background()
	b.Run("held", func(b *testing.B) {
		m := NewMemory(DefaultMaxKeys)
		p := Policy{"bench", 1_000_000, time.Hour}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := 0
			for pb.Next() {
				if _, err := m.Take(ctx, keys[i%len(keys)], p); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	})
	b.Run("flood", func(b *testing.B) {
		m := NewMemory(10_000)
		p := Policy{"bench", 10, time.Hour}
		var n atomic.Int64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			key := make([]byte, 0, 32)
			for pb.Next() {
				key = strconv.AppendInt(append(key[:0], "flood-"...), n.Add(1), 10)
				if _, err := m.Take(ctx, string(key), p); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}
