package httpapi

import "time"

// Observer receives what the server measures, for metrics (package metrics implements it). Its label
// values come from fixed sets: route patterns (empty when no route matched), methods, statuses, event
// names and budget names, never from request data.
type Observer interface {
	RequestStarted()
	RequestDone(route, method string, status int, d time.Duration)
	SecurityEvent(event, outcome string)
	RateLimited(policy string)
	Ready(ok bool)
}

// noObserver is the Observer of a server without metrics.
type noObserver struct{}

func (noObserver) RequestStarted()                                {}
func (noObserver) RequestDone(string, string, int, time.Duration) {}
func (noObserver) SecurityEvent(string, string)                   {}
func (noObserver) RateLimited(string)                             {}
func (noObserver) Ready(bool)                                     {}
