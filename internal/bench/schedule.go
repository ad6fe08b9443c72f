package bench

import (
	"math"
	"time"
)

// Schedule is the open loop's timetable: request i is due at Start + i*Period, whatever happened to
// the requests before it. Latency is measured from when a request was released on this timetable, not
// from when a connection became free to send it, so a server that stalls is charged for every request
// that queued behind the stall (the "coordinated omission" a closed loop hides).
//
// The period is a whole number of nanoseconds, so that At and Due are exact inverses in integer
// arithmetic; the achieved rate (Rate) differs from the requested one by less than one part in 10^4 for
// any rate under 100,000 per second.
type Schedule struct {
	Start  time.Time
	Period time.Duration
}

// NewSchedule returns the timetable of rate requests per second from start. A rate that is not
// positive yields one request per hour, so that a mistaken zero cannot become a flood.
func NewSchedule(start time.Time, rate float64) Schedule {
	period := time.Hour
	if rate > 0 && !math.IsInf(rate, 1) {
		period = max(time.Duration(math.Round(float64(time.Second)/rate)), 1)
	}
	return Schedule{Start: start, Period: period}
}

// Rate is the rate the schedule really runs at, per second.
func (s Schedule) Rate() float64 { return float64(time.Second) / float64(s.Period) }

// At is when request i (from 0) is due.
func (s Schedule) At(i int64) time.Time { return s.Start.Add(time.Duration(i) * s.Period) }

// Due is how many requests are due at t: those with At(i) <= t.
func (s Schedule) Due(t time.Time) int64 {
	if t.Before(s.Start) {
		return 0
	}
	return int64(t.Sub(s.Start)/s.Period) + 1
}

// Before is how many requests are due strictly before t: the requests of a run that ends at t.
func (s Schedule) Before(t time.Time) int64 {
	if !t.After(s.Start) {
		return 0
	}
	return s.Due(t.Add(-1))
}
