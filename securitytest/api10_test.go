package securitytest

import (
	"maps"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/fortress-dev/fortress/internal/binarytest"
)

// linkedModules is every module allowed into the fortress binary, with why. Fortress consumes no
// third-party API: nothing it links calls a service on the internet. The only modules that open network
// connections at all are the drivers of the database and of Redis, services the operator runs and names
// in DATABASE_URL and REDIS_URL. A module that is not here fails TestAPI10 until a reviewer has decided
// that it consumes nothing unsafely and added it with the reason.
var linkedModules = map[string]string{
	"github.com/fortress-dev/fortress": "this module",
	"github.com/golang-jwt/jwt/v5":     "JWT signing and verification; no network (remote key sets are not supported)",
	"github.com/jackc/pgx/v5":          "PostgreSQL driver: connects only to DATABASE_URL",
	"github.com/jackc/pgpassfile":      "pgx: reads ~/.pgpass; no network",
	"github.com/jackc/pgservicefile":   "pgx: reads pg_service.conf; no network",
	"github.com/jackc/puddle/v2":       "pgx: connection pool; no network of its own",
	"github.com/pressly/goose/v3":      "migrations from the embedded files; no network of its own",
	"github.com/mfridman/interpolate":  "goose: environment interpolation; no network",
	"github.com/sethvargo/go-retry":    "goose: retry loops; no network",
	"go.uber.org/atomic":               "goose: atomics; no network",
	"go.uber.org/multierr":             "goose: error lists; no network",
	"github.com/rs/cors":               "CORS middleware; no network",
	"github.com/redis/go-redis/v9":     "Redis client for shared rate limits: connects only to REDIS_URL",
	"github.com/cespare/xxhash/v2":     "go-redis: hashing; no network",
	"golang.org/x/crypto":              "Argon2id; no network",
	"golang.org/x/sync":                "concurrency helpers; no network",
	"golang.org/x/sys":                 "system calls; no network of its own",
	"golang.org/x/text":                "text handling for pgx; no network",
	"modernc.org/sqlite":               "pure-Go SQLite: a local file",
	"modernc.org/libc":                 "modernc.org/sqlite runtime; no network",
	"modernc.org/mathutil":             "modernc.org/sqlite: math; no network",
	"modernc.org/memory":               "modernc.org/sqlite: allocator; no network",
	"github.com/remyoudompheng/bigfft": "modernc.org/mathutil: big-number FFT; no network",
	"github.com/dustin/go-humanize":    "modernc.org/sqlite: number formatting; no network",
	"github.com/google/uuid":           "modernc.org/sqlite: ids; no network",
	"github.com/ncruces/go-strftime":   "modernc.org/sqlite: date formatting; no network",
	"github.com/mattn/go-isatty":       "terminal detection; no network",
	// Metrics: the official Prometheus client. It serves only on FORTRESS_METRICS_ADDR and connects nowhere
	// (no push gateway is used).
	"github.com/prometheus/client_golang": "Prometheus exposition on the metrics listener; no outbound connections",
	"github.com/prometheus/client_model":  "client_golang: the metric data model; no network",
	"github.com/prometheus/common":        "client_golang: text exposition format; no network",
	"github.com/prometheus/procfs":        "client_golang's process collector: reads /proc; no network",
	"github.com/beorn7/perks":             "client_golang: summary quantiles; no network",
	"github.com/munnerz/goautoneg":        "client_golang: Accept header negotiation; no network",
	"google.golang.org/protobuf":          "client_golang: the protobuf exposition format; no network",
}

// TestAPI10_UnsafeConsumptionOfAPIs asserts what the binary links: only the allow-listed modules, so that
// an SDK of a third-party service, or an HTTP client library, cannot arrive unnoticed. Fortress consumes no
// third-party API (see the package documentation); if one is ever added, this is where its review starts.
func TestAPI10_UnsafeConsumptionOfAPIs(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "version", "-m", binarytest.Build(t)).CombinedOutput()
	if err != nil {
		t.Fatalf("go version -m: %v: %s", err, out)
	}
	var linked []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 2 && (f[0] == "mod" || f[0] == "dep"):
			linked = append(linked, f[1])
		case len(f) >= 2 && f[0] == "=>":
			t.Errorf("module replaced by %s: a replacement bypasses the checksums of go.sum; review it", f[1])
		}
	}
	if !slices.Contains(linked, "github.com/fortress-dev/fortress") {
		t.Fatalf("go version -m lists no main module; output:\n%s", out)
	}
	for _, m := range linked {
		if _, ok := linkedModules[m]; !ok {
			t.Errorf("the binary links %s, which is not in linkedModules: review what it connects to and add it with the reason", m)
		}
	}
	for _, m := range slices.Sorted(maps.Keys(linkedModules)) {
		if !slices.Contains(linked, m) && !optionalModule(m) {
			t.Errorf("linkedModules lists %s, which the binary no longer links: remove it to keep the inventory true", m)
		}
	}
	t.Logf("%d modules linked, all reviewed", len(linked))
}

// optionalModule reports modules that appear in the build only on some platforms.
func optionalModule(m string) bool {
	return m == "github.com/mattn/go-isatty" || m == "github.com/ncruces/go-strftime"
}
