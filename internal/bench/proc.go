package bench

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The readings below come from Linux's /proc. They are what the kernel charged to a process, so the
// figures include the Go runtime (GC, scheduler) and the kernel's work for its sockets, not only our
// code: that is the cost a deployment pays.

// atClkTck is the auxiliary-vector key of the clock-tick rate that /proc/<pid>/stat counts in.
const atClkTck = 17

var clockTicks = sync.OnceValue(func() int64 {
	if b, err := os.ReadFile("/proc/self/auxv"); err == nil {
		if hz, ok := parseAuxvClkTck(b); ok {
			return hz
		}
	}
	return 100 // USER_HZ on every mainstream Linux architecture
})

// parseAuxvClkTck finds AT_CLKTCK in a 64-bit little-endian auxiliary vector (pairs of key and value).
func parseAuxvClkTck(b []byte) (int64, bool) {
	for i := 0; i+16 <= len(b); i += 16 {
		key := binary.LittleEndian.Uint64(b[i:])
		val := binary.LittleEndian.Uint64(b[i+8:])
		if key == 0 {
			break
		}
		if key == atClkTck && val > 0 && val < 1<<20 {
			return int64(val), true
		}
	}
	return 0, false
}

// statFields returns the fields of /proc/<pid>/stat after the command name, which may itself contain
// spaces and parentheses: field 3 (state) is at index 0.
func statFields(stat []byte) ([]string, error) {
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return nil, errors.New("bench: malformed /proc stat: no command name")
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return nil, errors.New("bench: malformed /proc stat: too few fields")
	}
	return f, nil
}

// parseStat reads the parent pid and the CPU time (user + system, in clock ticks) from a stat line.
func parseStat(stat []byte) (ppid int, ticks uint64, err error) {
	f, err := statFields(stat)
	if err != nil {
		return 0, 0, err
	}
	ppid, err1 := strconv.Atoi(f[1])
	utime, err2 := strconv.ParseUint(f[11], 10, 64) // field 14
	stime, err3 := strconv.ParseUint(f[12], 10, 64) // field 15
	if err := errors.Join(err1, err2, err3); err != nil {
		return 0, 0, fmt.Errorf("bench: malformed /proc stat: %w", err)
	}
	return ppid, utime + stime, nil
}

func ticksToDuration(ticks uint64) time.Duration {
	return time.Duration(ticks) * time.Second / time.Duration(clockTicks()) //nolint:gosec // G115: CPU ticks of one process fit easily
}

// ProcCPU is the CPU time (user + system) the kernel has charged to process pid, all threads included.
func ProcCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	_, ticks, err := parseStat(b)
	if err != nil {
		return 0, err
	}
	return ticksToDuration(ticks), nil
}

// TreeCPU is the CPU time of process root and of its direct children, as they are now: PostgreSQL's
// postmaster and its backends. A backend that exited during the window takes its time with it.
func TreeCPU(root int) (time.Duration, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	var total uint64
	found := false
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // exited since the listing
		}
		ppid, ticks, err := parseStat(b)
		if err != nil || (pid != root && ppid != root) {
			continue
		}
		found = found || pid == root
		total += ticks
	}
	if !found {
		return 0, fmt.Errorf("bench: process %d not found", root)
	}
	return ticksToDuration(total), nil
}

// Children lists the pids whose parent is ppid.
func Children(ppid int) []int {
	entries, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		if parent, _, err := parseStat(b); err == nil && parent == ppid {
			out = append(out, pid)
		}
	}
	return out
}

// LoadAverage is the machine's 1-minute load average, 0 when it cannot be read.
func LoadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// MachineBusy is the CPU time all CPUs of the machine have spent on anything but idling and waiting for
// I/O since boot (steal included: on a virtual machine, time another guest took). The window's share
// that neither the server, its database nor the generator used is other tenants' load: noise.
func MachineBusy() (time.Duration, error) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	ticks, err := parseProcStat(b)
	return ticksToDuration(ticks), err
}

// parseProcStat sums the busy fields of the aggregate "cpu" line: user, nice, system, irq, softirq and
// steal (guest time is already counted in user).
func parseProcStat(b []byte) (uint64, error) {
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, errors.New("bench: malformed /proc/stat")
	}
	var busy uint64
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		v, err := strconv.ParseUint(f[i], 10, 64)
		if err != nil {
			return 0, errors.New("bench: malformed /proc/stat")
		}
		busy += v
	}
	return busy, nil
}

// Memory is a process's resident memory now and at its peak, in bytes.
type Memory struct {
	RSS  int64 // VmRSS
	Peak int64 // VmHWM: the high-water mark since start or since ResetPeak
}

// ProcMemory reads the resident set size and its high-water mark of process pid.
func ProcMemory(pid int) (Memory, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return Memory{}, err
	}
	return parseStatus(b)
}

func parseStatus(b []byte) (Memory, error) {
	var m Memory
	var seen int
	for line := range strings.Lines(string(b)) {
		name, value, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		kib, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		if err != nil {
			return Memory{}, fmt.Errorf("bench: malformed %s in /proc status", name)
		}
		if name == "VmRSS" {
			m.RSS = kib << 10
		} else {
			m.Peak = kib << 10
		}
		seen++
	}
	if seen != 2 {
		return Memory{}, errors.New("bench: /proc status lacks VmRSS or VmHWM")
	}
	return m, nil
}

// ResetPeak restarts the high-water mark of pid's resident memory at its current size (Linux 4.0+), so
// that each scenario reports its own peak rather than the process's lifetime one.
func ResetPeak(pid int) error {
	return os.WriteFile("/proc/"+strconv.Itoa(pid)+"/clear_refs", []byte("5"), 0)
}

// AllowedCPUs lists the CPUs this process may run on (its affinity mask, which containers and taskset
// narrow), from /proc/self/status.
func AllowedCPUs() ([]int, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return nil, err
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "Cpus_allowed_list:"); ok {
			return ParseCPUList(strings.TrimSpace(v))
		}
	}
	return nil, errors.New("bench: no Cpus_allowed_list in /proc/self/status")
}

// ParseCPUList parses the kernel's CPU list syntax ("0-3,8,10-11") into sorted CPU numbers.
func ParseCPUList(s string) ([]int, error) {
	var out []int
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil || a < 0 {
			return nil, fmt.Errorf("bench: bad CPU list %q", s)
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil || b < a || b-a > 4096 {
				return nil, fmt.Errorf("bench: bad CPU list %q", s)
			}
		}
		for c := a; c <= b; c++ {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// FormatCPUList writes CPU numbers in the syntax taskset and the kernel use ("0,2,3" as "0,2-3").
func FormatCPUList(cpus []int) string {
	cpus = slices.Compact(slices.Sorted(slices.Values(cpus)))
	var parts []string
	for i := 0; i < len(cpus); {
		j := i
		for j+1 < len(cpus) && cpus[j+1] == cpus[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(cpus[i]))
		} else {
			parts = append(parts, strconv.Itoa(cpus[i])+"-"+strconv.Itoa(cpus[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// SplitCPUs divides the allowed CPUs between the server and the load generator: the first half
// (rounded up) serves, the rest generates load. With a single CPU nothing can be kept apart, and ok is
// false.
func SplitCPUs(allowed []int) (server, load []int, ok bool) {
	if len(allowed) < 2 {
		return allowed, allowed, false
	}
	n := (len(allowed) + 1) / 2
	return allowed[:n], allowed[n:], true
}
