package fortress_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/fortress-dev/fortress"

// allowedImports is the import rule of ARCHITECTURE.md: the domain imports nothing of ours, adapters
// import the domain (and shared internal helpers) but never each other, and only cmd/fortress wires
// them together. A new package must be added here, which makes its place in the design a decision.
var allowedImports = map[string][]string{
	"":                   {},
	"config":             {},
	"clientip":           {},
	"ratelimit":          {},
	"metrics":            {},
	"logredact":          {},
	"internal/redistest": {"internal/binarytest"},
	"password":           {""},
	"ui":                 {},
	"token":              {""},
	"httpapi":            {"", "ui", "clientip", "ratelimit"},
	"sqlite":             {"", "internal/migration"},
	"postgres":           {"", "internal/migration"},
	"storetest":          {""},
	"securitytest":       {},
	"browsertest":        {},                                        // drives the real binary in a browser, through HTTP only
	"opstest":            {"internal/pgtest", "internal/redistest"}, // runs real processes: replicas, faults, soak, backups; HTTP only
	"internal/migration": {},
	"internal/pgtest":    {"internal/binarytest"},
	"cmd/fortress":       nil, // the composition root may import anything
	// Child processes of tests (the fortress binary built once, started, its log kept, stopped; and the
	// servers beside it): nothing of ours, so the suites that use it still see the server only through HTTP.
	"internal/binarytest": {},
	// The load generator and its readings of /proc: nothing of ours, so it sees the server only through HTTP.
	"internal/bench": {},
	// The ceilings' handlers (bare net/http doing a scenario's unavoidable work), shared by the harness's
	// ceiling processes and cmd/fortress's in-process BenchmarkAPI: the domain only, an engine comes in as
	// an interface.
	"internal/ceiling": {""},
	// The benchmark harness. It drives the real binary (the release build, or the -tags pprof build for
	// profiles) and never wires the API itself: cmd/fortress is the one composition root. What it imports
	// of ours is for the ceilings: the engines opened as the server opens them (config, sqlite, postgres)
	// for ceiling (b), httpapi's response headers for ceiling (a'), password's parameters for ceiling (c).
	"cmd/fortress-bench": {"config", "httpapi", "password", "sqlite", "postgres",
		"internal/bench", "internal/ceiling", "internal/pgtest"},
}

func TestImportRule(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, module+"/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := relative(fields[0])
		allowed, known := allowedImports[pkg]
		if !known {
			t.Errorf("package %q is not in the import rule (architecture_test.go)", fields[0])
			continue
		}
		if allowed == nil {
			continue
		}
		for _, imp := range fields[1:] {
			if imp != module && !strings.HasPrefix(imp, module+"/") {
				continue
			}
			if dep := relative(imp); !slices.Contains(allowed, dep) {
				t.Errorf("%s imports %s, which the import rule forbids", fields[0], imp)
			}
		}
	}
}

func relative(pkg string) string {
	return strings.TrimPrefix(strings.TrimPrefix(pkg, module), "/")
}
