package bench

import (
	"math"
	"testing"
	"time"
)

func TestPercentileIsNearestRank(t *testing.T) {
	// 1..100 ms: the p-th percentile of a hundred values is the p-th value.
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i+1) * time.Millisecond
	}
	four := []time.Duration{10, 20, 30, 40}
	for _, tc := range []struct {
		name   string
		sorted []time.Duration
		p      float64
		want   time.Duration
	}{
		{"empty", nil, 50, 0},
		{"one value", []time.Duration{7}, 99, 7},
		{"p50 of 1..100", hundred, 50, 50 * time.Millisecond},
		{"p90 of 1..100", hundred, 90, 90 * time.Millisecond},
		{"p99 of 1..100", hundred, 99, 99 * time.Millisecond},
		{"p100 is the max", hundred, 100, 100 * time.Millisecond},
		{"p0 is the min", hundred, 0, time.Millisecond},
		{"rank rounds up: p50 of four", four, 50, 20},
		{"rank rounds up: p51 of four", four, 51, 30},
		{"p99 of four is the max", four, 99, 40},
		{"never beyond the end", four, 150, 40},
	} {
		if got := Percentile(tc.sorted, tc.p); got != tc.want {
			t.Errorf("%s: Percentile(p=%v) got %v, want %v", tc.name, tc.p, got, tc.want)
		}
	}
}

func TestSummarizeSortsAndConverts(t *testing.T) {
	lat := []time.Duration{3 * time.Millisecond, time.Millisecond, 2 * time.Millisecond, 10 * time.Millisecond}
	s := Summarize(lat)
	want := Summary{Count: 4, Mean: 4, P50: 2, P90: 10, P99: 10, Max: 10}
	if s != want {
		t.Errorf("got %+v, want %+v", s, want)
	}
	if lat[0] != time.Millisecond || lat[3] != 10*time.Millisecond {
		t.Errorf("latencies after Summarize got %v, want them sorted in place", lat)
	}
	if got := Summarize(nil); got != (Summary{}) {
		t.Errorf("Summarize(nil) got %+v, want the zero Summary", got)
	}
}

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{5}, 5}, {[]float64{9, 1, 5}, 5}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := Median(tc.in); math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("Median(%v) got %v, want %v", tc.in, got, tc.want)
		}
	}
}
