package bench

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Job is what one generator process runs: one scenario against one server. It travels as JSON on the
// generator's standard input.
type Job struct {
	Scenario    string        `json:"scenario"`
	Mix         Mix           `json:"mix"`
	Addr        string        `json:"addr"` // host:port, also the Host header
	Users       []User        `json:"users"`
	Concurrency int           `json:"concurrency"`    // connections; in a closed loop, requests in flight
	Rate        float64       `json:"rate,omitempty"` // open loop: requests per second; 0 runs a closed loop
	Warmup      time.Duration `json:"warmup"`
	Duration    time.Duration `json:"duration"`
	ServerPID   int           `json:"server_pid,omitempty"` // charged CPU and peak memory are read for it
	DBPID       int           `json:"db_pid,omitempty"`     // PostgreSQL's postmaster, when it is ours
}

// Result is what a generator measured over its window (after the warm-up).
type Result struct {
	Scenario     string         `json:"scenario"`
	Mode         string         `json:"mode"` // "closed" or "open"
	Concurrency  int            `json:"concurrency"`
	TargetRate   float64        `json:"target_rate,omitempty"` // open loop, per second
	Seconds      float64        `json:"seconds"`
	Requests     int64          `json:"requests"`
	Errors       int64          `json:"errors"`
	ErrorSamples []string       `json:"error_samples,omitempty"`
	ByKind       map[Kind]int64 `json:"by_kind"`
	RPS          float64        `json:"rps"`
	Latency      Summary        `json:"latency"`
	// ReleaseLag is how late the open loop's pacer released requests against the timetable: the
	// granularity of the generator's timers, which the latencies (measured from release) exclude.
	ReleaseLag    *Summary `json:"release_lag,omitempty"`
	ServerCPU     float64  `json:"server_cpu_s"`
	ServerPeakRSS int64    `json:"server_peak_rss_bytes"`
	PeakScoped    bool     `json:"peak_rss_scoped"` // the peak was reset when the window opened
	DBCPU         float64  `json:"db_cpu_s,omitempty"`
	GenCPU        float64  `json:"generator_cpu_s"`
	GenProcs      int      `json:"generator_procs"` // GOMAXPROCS of the generator
	// OtherCPU is the CPU time the rest of the machine used in the window: other tenants' load, which
	// makes a figure noisy. Near zero on a quiet machine.
	OtherCPU float64 `json:"other_cpu_s"`
}

// Validate reports a job that cannot run.
func (j Job) Validate() error {
	switch {
	case j.Addr == "":
		return errors.New("bench: job without an address")
	case j.Concurrency < 1:
		return errors.New("bench: concurrency must be at least 1")
	case j.Duration <= 0 || j.Warmup < 0:
		return errors.New("bench: duration must be positive and warm-up not negative")
	case j.Rate < 0:
		return errors.New("bench: rate must not be negative")
	}
	if err := j.Mix.Validate(); err != nil {
		return err
	}
	for _, s := range j.Mix {
		if s.Kind != KindHealth && len(j.Users) == 0 {
			return fmt.Errorf("bench: %s needs users", s.Kind)
		}
		if (s.Kind == KindItemGet || s.Kind == KindCeilingItem || s.Kind == KindItemList) && len(j.Users[0].ItemIDs) == 0 {
			return fmt.Errorf("bench: %s needs items", s.Kind)
		}
	}
	return nil
}

// openGrace is how long an open loop keeps sending, after its window, the requests released in the
// window; those still unanswered then count as errors.
const openGrace = 3 * time.Second

// requestTimeout bounds one request, so that a hung server ends the run with errors, not a hang.
const requestTimeout = 30 * time.Second

// recorder is one connection's tally; merged after the run, so the hot path takes no lock.
type recorder struct {
	latencies []time.Duration
	lags      []time.Duration
	ok, errs  int64
	byKind    map[Kind]int64
	samples   []string
}

func (r *recorder) fail(err error) {
	r.errs++
	if len(r.samples) < 3 {
		r.samples = append(r.samples, err.Error())
	}
}

// snapshot is the counters read when the window opens and when it closes.
type snapshot struct {
	at        time.Time
	server    time.Duration
	db        time.Duration
	gen       time.Duration
	machine   time.Duration
	serverMem Memory
}

type runner struct {
	job    Job
	window struct{ start, end time.Time }
	seq    atomic.Uint64
	stop   atomic.Bool
}

// Run runs the job and returns what it measured. Every answer is checked; a wrong one is an error.
func Run(ctx context.Context, job Job) (Result, error) {
	if err := job.Validate(); err != nil {
		return Result{}, err
	}
	r := &runner{job: job}
	conns := make([]*Conn, job.Concurrency)
	for i := range conns {
		c, err := Dial(ctx, job.Addr)
		if err != nil {
			closeAll(conns)
			return Result{}, fmt.Errorf("bench: connect to the server: %w", err)
		}
		conns[i] = c
	}
	recs := make([]*recorder, job.Concurrency)
	for i := range recs {
		recs[i] = &recorder{latencies: make([]time.Duration, 0, 4096), byKind: map[Kind]int64{}}
	}
	start := time.Now()
	r.window.start = start.Add(job.Warmup)
	r.window.end = r.window.start.Add(job.Duration)

	var before, after snapshot
	var peakScoped bool
	observed := make(chan struct{})
	go func() {
		defer close(observed)
		sleepUntil(ctx, r.window.start)
		if job.ServerPID > 0 {
			peakScoped = ResetPeak(job.ServerPID) == nil
		}
		before = r.snap()
		sleepUntil(ctx, r.window.end)
		after = r.snap()
		r.stop.Store(true)
	}()

	var wg sync.WaitGroup
	if job.Rate > 0 {
		r.openLoop(ctx, &wg, conns, recs)
	} else {
		for i := range conns {
			wg.Go(func() { r.closedLoop(ctx, conns[i], recs[i]) })
		}
	}
	wg.Wait()
	<-observed
	closeAll(conns)
	if err := ctx.Err(); err != nil {
		return Result{}, err
	}
	return r.result(recs, before, after, peakScoped), nil
}

func closeAll(conns []*Conn) {
	for _, c := range conns {
		if c != nil {
			_ = c.Close()
		}
	}
}

func (r *runner) snap() snapshot {
	s := snapshot{at: time.Now()}
	s.gen, _ = ProcCPU(os.Getpid())
	s.machine, _ = MachineBusy()
	if r.job.ServerPID > 0 {
		s.server, _ = ProcCPU(r.job.ServerPID)
		s.serverMem, _ = ProcMemory(r.job.ServerPID)
	}
	if r.job.DBPID > 0 {
		s.db, _ = TreeCPU(r.job.DBPID)
	}
	return s
}

func sleepUntil(ctx context.Context, t time.Time) {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
}

// next picks the request to send: its kind, its user and that user's sequence number.
func (r *runner) next() (Kind, *User, uint64) {
	n := r.seq.Add(1) - 1
	k := r.job.Mix.Pick(n)
	if len(r.job.Users) == 0 {
		return k, nil, n
	}
	users := uint64(len(r.job.Users))
	return k, &r.job.Users[n%users], n / users
}

// send sends one request on *c (dialling again if the connection was lost) and checks the answer.
func (r *runner) send(ctx context.Context, c **Conn, buf []byte) ([]byte, Kind, error) {
	k, u, n := r.next()
	buf, expect := Build(buf[:0], r.job.Addr, k, u, n)
	if *c == nil {
		conn, err := Dial(ctx, r.job.Addr)
		if err != nil {
			time.Sleep(10 * time.Millisecond) // a server that is gone must not turn the loop into a spin
			return buf, k, err
		}
		*c = conn
	}
	_ = (*c).SetDeadline(time.Now().Add(requestTimeout))
	resp, err := (*c).Do(buf)
	if err != nil || resp.Close {
		_ = (*c).Close()
		*c = nil
	}
	if err != nil {
		return buf, k, err
	}
	return buf, k, Check(expect, resp.Status, resp.Body)
}

func (r *runner) closedLoop(ctx context.Context, c *Conn, rec *recorder) {
	defer func() {
		if c != nil {
			_ = c.Close()
		}
	}()
	buf := make([]byte, 0, 1024)
	for !r.stop.Load() && ctx.Err() == nil {
		t0 := time.Now()
		var k Kind
		var err error
		buf, k, err = r.send(ctx, &c, buf)
		t1 := time.Now()
		if t1.Before(r.window.start) || t1.After(r.window.end) {
			continue
		}
		if err != nil {
			rec.fail(err)
			continue
		}
		rec.ok++
		rec.byKind[k]++
		rec.latencies = append(rec.latencies, t1.Sub(t0))
	}
}

// release is a request the pacer let go: its place on the timetable and when it was let go.
type release struct {
	due, at time.Time
}

// openLoop releases requests on the schedule from one pacer into a queue that never blocks it, so that
// arrivals do not depend on how fast the server answers; the connections take them in turn. Latency
// runs from release to answer, so time spent queued behind a slow server is charged to the server.
// Go's timers fire up to about a millisecond late, so the pacer releases in small bursts; its lag
// behind the timetable is reported apart, and it is not charged to the server.
func (r *runner) openLoop(ctx context.Context, wg *sync.WaitGroup, conns []*Conn, recs []*recorder) {
	sched := NewSchedule(time.Now(), r.job.Rate)
	total := sched.Before(r.window.end)
	queue := make(chan release, min(total, 1<<20))
	wg.Go(func() {
		defer close(queue)
		var i int64
		for i < total && ctx.Err() == nil {
			now := time.Now()
			for due := min(sched.Due(now), total); i < due; i++ {
				queue <- release{due: sched.At(i), at: now}
			}
			if i < total {
				time.Sleep(time.Until(sched.At(i)))
			}
		}
	})
	deadline := r.window.end.Add(openGrace)
	for i := range conns {
		c, rec := conns[i], recs[i]
		wg.Go(func() {
			buf := make([]byte, 0, 1024)
			for rel := range queue {
				inWindow := !rel.due.Before(r.window.start) && rel.due.Before(r.window.end)
				if time.Now().After(deadline) || ctx.Err() != nil {
					if inWindow {
						rec.fail(errors.New("not answered within the grace period after the window"))
					}
					continue
				}
				var k Kind
				var err error
				buf, k, err = r.send(ctx, &c, buf)
				done := time.Now()
				if !inWindow {
					continue
				}
				if err != nil {
					rec.fail(err)
					continue
				}
				rec.ok++
				rec.byKind[k]++
				rec.latencies = append(rec.latencies, done.Sub(rel.at))
				rec.lags = append(rec.lags, rel.at.Sub(rel.due))
			}
			if c != nil {
				_ = c.Close()
			}
		})
	}
}

func (r *runner) result(recs []*recorder, before, after snapshot, peakScoped bool) Result {
	res := Result{
		Scenario:    r.job.Scenario,
		Mode:        "closed",
		Concurrency: r.job.Concurrency,
		Seconds:     r.job.Duration.Seconds(),
		ByKind:      map[Kind]int64{},
		GenProcs:    runtime.GOMAXPROCS(0),
		PeakScoped:  peakScoped,
	}
	var lat, lags []time.Duration
	for _, rec := range recs {
		res.Requests += rec.ok
		res.Errors += rec.errs
		for k, n := range rec.byKind {
			res.ByKind[k] += n
		}
		if len(res.ErrorSamples) < 5 {
			res.ErrorSamples = append(res.ErrorSamples, rec.samples[:min(len(rec.samples), 5-len(res.ErrorSamples))]...)
		}
		lat = append(lat, rec.latencies...)
		lags = append(lags, rec.lags...)
	}
	res.RPS = float64(res.Requests) / res.Seconds
	res.Latency = Summarize(lat)
	if r.job.Rate > 0 {
		res.Mode = "open"
		res.TargetRate = r.job.Rate
		lag := Summarize(lags)
		res.ReleaseLag = &lag
	}
	res.GenCPU = (after.gen - before.gen).Seconds()
	res.ServerCPU = (after.server - before.server).Seconds()
	res.DBCPU = (after.db - before.db).Seconds()
	res.ServerPeakRSS = after.serverMem.Peak
	if after.machine > 0 && before.machine > 0 {
		res.OtherCPU = max(0, (after.machine-before.machine).Seconds()-res.GenCPU-res.ServerCPU-res.DBCPU)
	}
	return res
}
