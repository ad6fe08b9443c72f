// Package bench is the library behind cmd/fortress-bench: a lean HTTP/1.1 load generator (closed loop
// with fixed concurrency, open loop at a fixed rate with coordinated-omission-correct timing), the
// response checks that count wrong answers as errors, readings of /proc for the CPU and memory of the
// processes under test, and the report that compares each scenario with the ceiling measured in the
// same run. It imports nothing of Fortress's, so the generator measures the server only through HTTP.
package bench

import (
	"slices"
	"time"
)

// Summary describes a set of latencies. Durations are in milliseconds, the unit the report prints and
// the JSON keeps, so that a reader of bench.json needs no conversion.
type Summary struct {
	Count int     `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

// Percentile returns the nearest-rank p-th percentile (0 < p <= 100) of sorted: the smallest value
// that at least p percent of the values do not exceed. Nearest rank never invents a value that was
// not observed, so a p99 is always a latency some request really had. It is 0 for no values.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if p <= 0 {
		return sorted[0]
	}
	rank := int(p / 100 * float64(n))
	if float64(rank) < p/100*float64(n) {
		rank++ // ceil
	}
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// Summarize sorts latencies in place and summarizes them.
func Summarize(latencies []time.Duration) Summary {
	if len(latencies) == 0 {
		return Summary{}
	}
	slices.Sort(latencies)
	var total time.Duration
	for _, l := range latencies {
		total += l
	}
	return Summary{
		Count: len(latencies),
		Mean:  ms(total / time.Duration(len(latencies))),
		P50:   ms(Percentile(latencies, 50)),
		P90:   ms(Percentile(latencies, 90)),
		P99:   ms(Percentile(latencies, 99)),
		Max:   ms(latencies[len(latencies)-1]),
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
