package bench

import (
	"math"
	"testing"
	"time"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestScheduleAtAndDueAreInverse(t *testing.T) {
	for _, rate := range []float64{1, 3, 1000, 3333, 12_345.6, 99_999} {
		s := NewSchedule(epoch, rate)
		for _, i := range []int64{0, 1, 2, 7, 999, 123_456} {
			at := s.At(i)
			if got := s.Due(at); got != i+1 {
				t.Errorf("rate %v: Due(At(%d)) got %d, want %d", rate, i, got, i+1)
			}
			if got := s.Due(at.Add(-1)); got != i {
				t.Errorf("rate %v: Due(At(%d)-1ns) got %d, want %d", rate, i, got, i)
			}
			if got := s.Before(at); got != i {
				t.Errorf("rate %v: Before(At(%d)) got %d, want %d", rate, i, got, i)
			}
		}
	}
}

func TestScheduleCountsAWindow(t *testing.T) {
	s := NewSchedule(epoch, 2000)
	if s.Period != 500*time.Microsecond {
		t.Fatalf("period at 2000/s got %v, want 500µs", s.Period)
	}
	// A 5 s run at 2000/s holds 10,000 requests: the 10,000th is due 500µs before the end.
	if got := s.Before(epoch.Add(5 * time.Second)); got != 10_000 {
		t.Errorf("requests in 5 s got %d, want 10000", got)
	}
	if got := s.Due(epoch.Add(-time.Second)); got != 0 {
		t.Errorf("requests due before the start got %d, want 0", got)
	}
	if got := s.Before(epoch); got != 0 {
		t.Errorf("requests due strictly before the start got %d, want 0", got)
	}
	if got := s.Due(epoch); got != 1 {
		t.Errorf("requests due at the start got %d, want 1 (the first is sent at once)", got)
	}
}

func TestScheduleRateIsCloseToTheRequestedOne(t *testing.T) {
	for _, rate := range []float64{0.5, 7, 3333, 12_345.6, 99_999} {
		got := NewSchedule(epoch, rate).Rate()
		if math.Abs(got-rate)/rate > 1e-4 {
			t.Errorf("requested %v/s, schedule runs at %v/s; want within 0.01%%", rate, got)
		}
	}
	for _, rate := range []float64{0, -5, math.Inf(1)} {
		if got := NewSchedule(epoch, rate).Period; got != time.Hour {
			t.Errorf("rate %v: period got %v, want the harmless one hour", rate, got)
		}
	}
	if got := NewSchedule(epoch, 1e12).Period; got != time.Nanosecond {
		t.Errorf("absurd rate: period got %v, want the 1ns floor", got)
	}
}
