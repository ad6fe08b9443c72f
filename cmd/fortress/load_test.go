package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestBinaryConcurrentLoginsStayBounded sends 500 logins at once to the real binary with the default
// Argon2id cost (19 MiB each). The hashing gate must keep the process's peak RSS under 300 MiB, and
// every request must get an answer (200, 401, 429 or 503) — none may hang.
func TestBinaryConcurrentLoginsStayBounded(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("needs /proc to read the peak RSS")
	}
	vars := baseEnv(t)
	delete(vars, "FORTRESS_ARGON2_MEMORY_KIB") // the production cost
	delete(vars, "FORTRESS_ARGON2_TIME")
	vars["FORTRESS_RATE_LIMIT"] = "off"
	vars["FORTRESS_LOGIN_RATE_LIMIT"] = "off"
	cmd, base := startBinary(t, vars)

	registerAndLogin(t, base, "load@example.com", "the right password")
	const n = 500
	client := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	var mu sync.Mutex
	counts := map[int]int{}
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		wg.Go(func() {
			email, pw := "load@example.com", "the right password"
			switch i % 3 {
			case 1:
				email, pw = fmt.Sprintf("unknown%d@example.com", i), "some wrong password"
			case 2:
				pw = "a wrong password " + strconv.Itoa(i)
			}
			form := url.Values{"username": {email}, "password": {pw}}.Encode()
			req, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, base+"/auth/login", strings.NewReader(form))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := client.Do(req)
			code := -1
			if err == nil {
				code = resp.StatusCode
				resp.Body.Close()
			}
			mu.Lock()
			counts[code]++
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	peak := peakRSS(t, cmd.Process.Pid)
	t.Logf("500 concurrent logins in %s: %v; %.0f answers/s, %.1f successful logins/s; peak RSS %d MiB",
		elapsed.Round(time.Millisecond), counts, n/elapsed.Seconds(), float64(counts[200])/elapsed.Seconds(), peak>>20)

	for code, c := range counts {
		switch code {
		case 200, 401, 429, 503:
		default:
			t.Errorf("%d requests got %d; want only 200, 401, 429 or 503 (and no hangs or resets)", c, code)
		}
	}
	if counts[200] == 0 || counts[503] == 0 {
		t.Errorf("want some logins served and some shed with 503: got %v", counts)
	}
	if peak >= 300<<20 {
		t.Fatalf("peak RSS %d MiB, want under 300 MiB", peak>>20)
	}
}

// peakRSS reads the high-water mark of a process's resident memory (VmHWM) from /proc.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}
