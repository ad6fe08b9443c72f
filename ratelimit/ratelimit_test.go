package ratelimit

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestPolicyValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    Policy
		want string // "" for valid, else a fragment of the error
	}{
		{"typical", Policy{"api", 100, time.Minute}, ""},
		{"login", Policy{"login.ip-v4_x", 5, 15 * time.Minute}, ""},
		{"fastest", Policy{"x", 1000, time.Millisecond}, ""},
		{"longest", Policy{"x", 1, MaxWindow}, ""},
		{"longest name", Policy{strings.Repeat("n", MaxNameLen), 1, time.Second}, ""},
		{"empty name", Policy{"", 1, time.Second}, "name"},
		{"long name", Policy{strings.Repeat("n", MaxNameLen+1), 1, time.Second}, "name"},
		{"colon in name", Policy{"a:b", 1, time.Second}, "may only hold"},
		{"space in name", Policy{"a b", 1, time.Second}, "may only hold"},
		{"quote in name", Policy{`a"b`, 1, time.Second}, "may only hold"},
		{"zero limit", Policy{"x", 0, time.Second}, "limit"},
		{"negative limit", Policy{"x", -1, time.Second}, "limit"},
		{"zero window", Policy{"x", 1, 0}, "window"},
		{"tiny window", Policy{"x", 1, time.Millisecond - 1}, "window"},
		{"huge window", Policy{"x", 1, MaxWindow + 1}, "window"},
		{"sub-microsecond interval", Policy{"x", 1001, time.Millisecond}, "microsecond"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Validate()
			if tc.want == "" {
				if err != nil {
					t.Errorf("Validate(%+v) = %v, want nil", tc.p, err)
				}
				return
			}
			if err == nil || !errors.Is(err, ErrInvalidPolicy) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate(%+v) = %v, want ErrInvalidPolicy mentioning %q", tc.p, err, tc.want)
			}
		})
	}
}

// The emission interval is rounded down, and the burst span is Limit whole intervals, so rounding can
// never let a burst exceed Limit: 600 per 1000µs rounds the interval to 1µs, and without this the burst
// would be 1000.
func TestSpanNeverAllowsMoreThanLimitInABurst(t *testing.T) {
	for _, p := range []Policy{
		{"a", 600, time.Millisecond},
		{"b", 3, time.Second},
		{"c", 7, 100 * time.Millisecond},
		{"d", 1000, time.Millisecond},
	} {
		for _, unit := range []time.Duration{time.Nanosecond, time.Microsecond} {
			interval, window := p.span(unit)
			tat, allowed := int64(0), 0
			for range p.Limit + 5 {
				var ok bool
				if tat, ok = gcra(tat, 0, interval, window); ok {
					allowed++
				}
			}
			if allowed != p.Limit {
				t.Errorf("%+v in units of %v: burst allowed %d, want %d", p, unit, allowed, p.Limit)
			}
			if window > int64(p.Window/unit) {
				t.Errorf("%+v in units of %v: span %d exceeds the window %d", p, unit, window, int64(p.Window/unit))
			}
		}
	}
}

func TestResultFields(t *testing.T) {
	p := Policy{"api", 4, 4 * time.Second} // interval 1s
	interval, window := p.span(time.Nanosecond)
	sec := int64(time.Second)
	for _, tc := range []struct {
		name    string
		allowed bool
		tat     int64
		want    Result
	}{
		{"first of a full budget", true, 1 * sec, Result{Allowed: true, Limit: 4, Remaining: 3, Reset: time.Second}},
		{"last of the burst", true, 4 * sec, Result{Allowed: true, Limit: 4, Remaining: 0, Reset: 4 * time.Second}},
		{"denied", false, 4 * sec, Result{Allowed: false, Limit: 4, Remaining: 0, Reset: 4 * time.Second, RetryAfter: time.Second}},
		{"denied mid-interval", false, 3*sec + sec/2,
			Result{Allowed: false, Limit: 4, Remaining: 0, Reset: 3500 * time.Millisecond, RetryAfter: 500 * time.Millisecond}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := result(p, tc.allowed, tc.tat, 0, interval, window, time.Nanosecond)
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestAppendKeyHashesLongKeysAndKeepsShortOnes(t *testing.T) {
	short := "ip:2001:db8::1"
	if got := string(appendKey(nil, "api", short)); got != "api:"+short {
		t.Errorf("short key: got %q, want %q", got, "api:"+short)
	}
	exact := strings.Repeat("k", maxRawKey)
	if got := string(appendKey(nil, "api", exact)); got != "api:"+exact {
		t.Errorf("%d-byte key: got %q, want it unchanged", maxRawKey, got)
	}
	long1 := strings.Repeat("k", maxRawKey+1)
	long2 := strings.Repeat("k", maxRawKey) + "j"
	h1, h2 := appendKey(nil, "api", long1), appendKey(nil, "api", long2)
	if len(h1) != len("api:")+1+32 || h1[4] != hashedKeyMark {
		t.Errorf("long key: got %d bytes starting %q, want name, mark and a 32-byte digest", len(h1), h1[:5])
	}
	if bytes.Equal(h1, h2) {
		t.Errorf("two long keys differing in the last byte map to the same budget")
	}
	if !bytes.Equal(h1, appendKey(nil, "api", long1)) {
		t.Errorf("one long key mapped to two budgets")
	}
}
