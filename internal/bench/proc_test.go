package bench

import (
	"encoding/binary"
	"os"
	"runtime"
	"slices"
	"testing"
	"time"
)

func TestParseStatSurvivesAnyCommandName(t *testing.T) {
	// A command name may hold spaces and parentheses; fields are counted from the last ")".
	stat := "4242 (evil) name (x)) S 17 4242 4242 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 9 0 1000 5000000 300\n"
	ppid, ticks, err := parseStat([]byte(stat))
	if err != nil {
		t.Fatal(err)
	}
	if ppid != 17 || ticks != 325 {
		t.Errorf("got ppid %d and %d ticks, want 17 and 325 (utime 250 + stime 75)", ppid, ticks)
	}
	for _, bad := range []string{"no parenthesis at all", "1 (x) S 1 2", "1 (x) S z 1 1 0 -1 0 0 0 0 0 a b 0 0"} {
		if _, _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("parseStat(%q) got no error, want one", bad)
		}
	}
}

func TestParseStatusReadsResidentMemory(t *testing.T) {
	status := "Name:\tfortress\nVmPeak:\t 1234 kB\nVmHWM:\t   40960 kB\nVmRSS:\t   20480 kB\nThreads:\t7\n"
	m, err := parseStatus([]byte(status))
	if err != nil {
		t.Fatal(err)
	}
	if m.RSS != 20<<20 || m.Peak != 40<<20 {
		t.Errorf("got RSS %d and peak %d, want %d and %d", m.RSS, m.Peak, 20<<20, 40<<20)
	}
	if _, err := parseStatus([]byte("Name:\tx\nVmRSS:\t1 kB\n")); err == nil {
		t.Error("status without VmHWM: got no error, want one")
	}
	if _, err := parseStatus([]byte("VmRSS:\tlots kB\nVmHWM:\t1 kB\n")); err == nil {
		t.Error("status with a non-numeric VmRSS: got no error, want one")
	}
}

func TestParseAuxvFindsTheClockTick(t *testing.T) {
	var auxv []byte
	for _, kv := range [][2]uint64{{6, 4096}, {atClkTck, 250}, {0, 0}} {
		auxv = binary.LittleEndian.AppendUint64(auxv, kv[0])
		auxv = binary.LittleEndian.AppendUint64(auxv, kv[1])
	}
	if hz, ok := parseAuxvClkTck(auxv); !ok || hz != 250 {
		t.Errorf("got %d, %v; want 250, true", hz, ok)
	}
	if _, ok := parseAuxvClkTck(auxv[16:16]); ok {
		t.Error("empty vector: got a tick rate, want none")
	}
	if _, ok := parseAuxvClkTck(auxv[32:]); ok {
		t.Error("vector that ends before AT_CLKTCK: got a tick rate, want none")
	}
}

func TestCPUListsRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		in, canonical string
		cpus          []int
	}{
		{"0", "0", []int{0}},
		{"0-3", "0-3", []int{0, 1, 2, 3}},
		{"0,2-3,8", "0,2-3,8", []int{0, 2, 3, 8}},
		{"3,1,2,2", "1-3", []int{1, 2, 3}},
	} {
		got, err := ParseCPUList(tc.in)
		if err != nil || !slices.Equal(got, tc.cpus) {
			t.Errorf("ParseCPUList(%q) got %v, %v; want %v", tc.in, got, err, tc.cpus)
		}
		if s := FormatCPUList(got); s != tc.canonical {
			t.Errorf("FormatCPUList(%v) got %q, want %q", got, s, tc.canonical)
		}
	}
	for _, bad := range []string{"", "a", "3-1", "-1", "0-99999"} {
		if _, err := ParseCPUList(bad); err == nil {
			t.Errorf("ParseCPUList(%q) got no error, want one", bad)
		}
	}
}

func TestSplitCPUsKeepsServerAndGeneratorApart(t *testing.T) {
	for _, tc := range []struct {
		allowed, server, load []int
		ok                    bool
	}{
		{[]int{0}, []int{0}, []int{0}, false},
		{[]int{0, 1}, []int{0}, []int{1}, true},
		{[]int{0, 1, 2}, []int{0, 1}, []int{2}, true},
		{[]int{4, 5, 6, 7}, []int{4, 5}, []int{6, 7}, true},
	} {
		server, load, ok := SplitCPUs(tc.allowed)
		if !slices.Equal(server, tc.server) || !slices.Equal(load, tc.load) || ok != tc.ok {
			t.Errorf("SplitCPUs(%v) got %v, %v, %v; want %v, %v, %v", tc.allowed, server, load, ok, tc.server, tc.load, tc.ok)
		}
	}
}

func TestProcReadingsOfThisProcess(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	if load := LoadAverage(); load < 0 || load > 10_000 {
		t.Errorf("load average got %v, want a plausible value from /proc/loadavg", load)
	}
	before, err := ProcCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(30 * time.Millisecond); time.Now().Before(end); { //nolint:revive // burn CPU on purpose
	}
	after, err := ProcCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after <= before {
		t.Errorf("CPU time after 30 ms of spinning got %v, want more than %v", after, before)
	}
	tree, err := TreeCPU(os.Getpid())
	if err != nil || tree < after {
		t.Errorf("TreeCPU(self) got %v, %v; want at least the process's own %v", tree, err, after)
	}
	if _, err := TreeCPU(1 << 30); err == nil {
		t.Error("TreeCPU of a process that does not exist: got no error, want one")
	}
	if _, err := ProcCPU(1 << 30); err == nil {
		t.Error("ProcCPU of a process that does not exist: got no error, want one")
	}
	m, err := ProcMemory(os.Getpid())
	if err != nil || m.RSS <= 0 || m.Peak < m.RSS {
		t.Errorf("ProcMemory(self) got %+v, %v; want 0 < RSS <= peak", m, err)
	}
	if _, err := ProcMemory(1 << 30); err == nil {
		t.Error("ProcMemory of a process that does not exist: got no error, want one")
	}
	if err := ResetPeak(os.Getpid()); err != nil {
		t.Logf("ResetPeak not permitted here (%v): the report then shows lifetime peaks", err)
	}
	cpus, err := AllowedCPUs()
	if err != nil || len(cpus) == 0 {
		t.Errorf("AllowedCPUs got %v, %v; want at least one CPU", cpus, err)
	}
	if kids := Children(os.Getppid()); !slices.Contains(kids, os.Getpid()) {
		t.Errorf("Children(parent) got %v, want it to list this process %d", kids, os.Getpid())
	}
}

func TestParseProcStatSumsBusyTime(t *testing.T) {
	stat := "cpu  100 5 50 9000 40 3 2 7 11 0\ncpu0 50 2 25 4500 20 1 1 3 5 0\n"
	got, err := parseProcStat([]byte(stat))
	if err != nil || got != 167 { // user 100 + nice 5 + system 50 + irq 3 + softirq 2 + steal 7
		t.Errorf("got %d, %v; want 167 busy ticks (idle and iowait excluded)", got, err)
	}
	for _, bad := range []string{"", "intr 1 2 3", "cpu 1 2 3", "cpu 1 2 x 4 5 6 7 8"} {
		if _, err := parseProcStat([]byte(bad)); err == nil {
			t.Errorf("parseProcStat(%q) got no error, want one", bad)
		}
	}
	if runtime.GOOS == "linux" {
		if busy, err := MachineBusy(); err != nil || busy <= 0 {
			t.Errorf("MachineBusy got %v, %v; want some busy time since boot", busy, err)
		}
	}
}
