package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeFortress answers like Fortress for one user (id 7, items 70-72), so the generator's requests
// and checks can be exercised without the real server.
func fakeFortress(t *testing.T, wrong *atomic.Bool) string {
	t.Helper()
	item := func(id int64) map[string]any {
		return map[string]any{"id": id, "name": "n", "description": nil, "owner_id": 7}
	}
	reply := func(w http.ResponseWriter, status int, v any) {
		if wrong != nil && wrong.Load() {
			status = http.StatusInternalServerError
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, _ *http.Request) { reply(w, 200, map[string]string{"status": "ok"}) })
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
		reply(w, 200, item(id))
	})
	mux.HandleFunc("GET /owners/7/items/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.ParseInt(r.PathValue("id"), 10, 64)
		reply(w, 200, item(id))
	})
	mux.HandleFunc("GET /items", func(w http.ResponseWriter, _ *http.Request) {
		reply(w, 200, []any{item(70), item(71), item(72)})
	})
	mux.HandleFunc("POST /items", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Name string }
		_ = json.NewDecoder(r.Body).Decode(&in)
		reply(w, 201, map[string]any{"id": 99, "name": in.Name, "description": "d", "owner_id": 7})
	})
	mux.HandleFunc("POST /auth/login", func(w http.ResponseWriter, r *http.Request) {
		if r.FormValue("password") != bob.Password {
			reply(w, 401, map[string]string{"detail": "Incorrect email or password"})
			return
		}
		reply(w, 200, map[string]any{"access_token": "h.p.s", "token_type": "bearer", "expires_in": 900,
			"refresh_token": "q3Y0nQx0CqkXfVb2m0gS8m8rJ8zHn3sV4k1yQp6tT2E"})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func TestRunClosedLoopCountsRightAnswers(t *testing.T) {
	addr := fakeFortress(t, nil)
	res, err := Run(t.Context(), Job{
		Scenario: ScenarioMixed, Mix: Mixes[ScenarioMixed], Addr: addr, Users: []User{bob},
		Concurrency: 4, Warmup: 50 * time.Millisecond, Duration: 300 * time.Millisecond, ServerPID: os.Getpid(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 0 || res.Requests < 100 {
		t.Fatalf("got %d answers and %d errors (%v), want at least 100 and none", res.Requests, res.Errors, res.ErrorSamples)
	}
	if res.Mode != "closed" || res.ReleaseLag != nil || res.Latency.Count != int(res.Requests) {
		t.Errorf("got mode %q, lag %v, %d latencies for %d answers; want a closed loop with one latency per answer",
			res.Mode, res.ReleaseLag, res.Latency.Count, res.Requests)
	}
	if res.ByKind[KindItemGet] <= res.ByKind[KindItemCreate] || res.ByKind[KindItemList] == 0 {
		t.Errorf("mix got %v, want mostly single reads, some pages and writes", res.ByKind)
	}
	if want := float64(res.Requests) / 0.3; res.RPS < want*0.99 || res.RPS > want*1.01 {
		t.Errorf("rps got %.0f, want answers/window = %.0f", res.RPS, want)
	}
	if res.ServerCPU <= 0 || res.ServerPeakRSS <= 0 || res.GenCPU <= 0 {
		t.Errorf("server CPU %v, peak RSS %d, generator CPU %v: want all read from /proc", res.ServerCPU, res.ServerPeakRSS, res.GenCPU)
	}
}

func TestRunOpenLoopKeepsTheRate(t *testing.T) {
	addr := fakeFortress(t, nil)
	res, err := Run(t.Context(), Job{
		Scenario: ScenarioItemOpen, Mix: Mix{{KindCeilingItem, 100}}, Addr: addr, Users: []User{bob},
		Concurrency: 4, Rate: 1000, Warmup: 50 * time.Millisecond, Duration: 400 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	// The window holds exactly rate*duration scheduled requests, and every one must be answered.
	if res.Errors != 0 || res.Requests != 400 {
		t.Errorf("got %d answers and %d errors (%v), want all 400 scheduled in the window", res.Requests, res.Errors, res.ErrorSamples)
	}
	if res.Mode != "open" || res.TargetRate != 1000 || res.ReleaseLag == nil || res.ReleaseLag.Count != 400 {
		t.Errorf("got mode %q at %v/s with lag %+v, want an open loop at 1000/s with a lag per answer", res.Mode, res.TargetRate, res.ReleaseLag)
	}
}

func TestRunCountsWrongAnswersAsErrors(t *testing.T) {
	var wrong atomic.Bool
	wrong.Store(true)
	addr := fakeFortress(t, &wrong)
	for _, rate := range []float64{0, 500} {
		res, err := Run(t.Context(), Job{
			Scenario: ScenarioHealth, Mix: Mixes[ScenarioHealth], Addr: addr,
			Concurrency: 2, Rate: rate, Duration: 200 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		if res.Requests != 0 || res.Errors == 0 || len(res.ErrorSamples) == 0 || !strings.Contains(res.ErrorSamples[0], "status 500") {
			t.Errorf("rate %v: got %d answers, %d errors %v; want only errors, naming the status", rate, res.Requests, res.Errors, res.ErrorSamples)
		}
	}
}

func TestRunSurvivesAServerThatGoesAway(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = fmt.Fprint(w, `{"status":"ok"}`)
	}))
	addr := strings.TrimPrefix(srv.URL, "http://")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	go func() {
		time.Sleep(100 * time.Millisecond)
		srv.CloseClientConnections()
		srv.Close()
	}()
	res, err := Run(ctx, Job{Scenario: ScenarioHealth, Mix: Mixes[ScenarioHealth], Addr: addr, Concurrency: 2, Duration: 400 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors == 0 {
		t.Errorf("got %d answers and no errors from a server that closed mid-run, want errors", res.Requests)
	}
}

func TestJobValidation(t *testing.T) {
	good := Job{Mix: Mixes[ScenarioItemGet], Addr: "127.0.0.1:1", Users: []User{bob}, Concurrency: 1, Duration: time.Second}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid job: %v", err)
	}
	for name, mutate := range map[string]func(*Job){
		"no address":      func(j *Job) { j.Addr = "" },
		"no concurrency":  func(j *Job) { j.Concurrency = 0 },
		"no duration":     func(j *Job) { j.Duration = 0 },
		"negative rate":   func(j *Job) { j.Rate = -1 },
		"bad mix":         func(j *Job) { j.Mix = Mix{{KindItemGet, 50}} },
		"no users":        func(j *Job) { j.Users = nil },
		"user sans items": func(j *Job) { j.Users = []User{{ID: 1}} },
	} {
		j := good
		mutate(&j)
		if err := j.Validate(); err == nil {
			t.Errorf("%s: got no error, want one", name)
		}
		if _, err := Run(t.Context(), j); err == nil {
			t.Errorf("%s: Run got no error, want one", name)
		}
	}
	if _, err := Run(t.Context(), Job{Mix: Mixes[ScenarioHealth], Addr: "127.0.0.1:1", Concurrency: 1, Duration: time.Second}); err == nil {
		t.Error("Run against a closed port: got no error, want one")
	}
}
