// Package opstest runs Fortress the way operations do: several `fortress serve` processes on one
// PostgreSQL and one Redis behind a Caddy load balancer, and the faults a deployment meets. It holds
// tests only; they build ./cmd/fortress once per test process, start the real binary, and see it through
// HTTP, its logs, its exit status, /proc and its database files, never through its packages (it imports
// only the test helpers internal/binarytest, internal/pgtest and internal/redistest).
//
// What each test proves (measured figures: docs/operations.md; `go test -v -run X ./opstest/ | grep
// FIGURE` prints them):
//
//   - TestReplicasBehindCaddy: three replicas started at once with AUTO_MIGRATE=true apply each migration
//     once; a session opened on one works on all; a logout through one is refused by the others on the
//     next request; the client address comes from Caddy's X-Forwarded-For and cannot be spoofed through
//     it; the rate limit is one budget across replicas (Redis); a rolling restart under steady load
//     through Caddy (out of the configuration, drained, SIGTERM, started, ready, back in) fails no
//     request at a replica, answers no 5xx and loses no acknowledged write; the only client failures
//     allowed are connections Caddy itself closes when it reloads its configuration.
//   - TestKeyRotationAcrossReplicas: the HS256 signing-key rotation of docs/operations.md over two
//     replicas, restarted one at a time: no token is refused at any step, and the old key verifies
//     nothing at the end.
//   - TestKillDuringWrites: kill -9 of a server in the middle of item writes, on SQLite and PostgreSQL:
//     after a restart on the same database, every write answered 201 is there (and SQLite's integrity
//     check passes).
//   - TestPostgresOutage: PostgreSQL stopped under load: quick 503 problems, /readyz 503, no 500, and
//     recovery without a restart within 5s of the database's return; then PostgreSQL hung (every process
//     stopped, connections open): 503s within the statement timeout instead of requests that hang, and
//     recovery when it thaws; nothing acknowledged is lost.
//   - TestRedisOutage: Redis stopped under load: requests keep succeeding, limits fall back to each
//     instance, and sharing resumes by itself when Redis is back.
//   - TestSQLiteReadOnly, TestSQLiteDiskFull: a database that cannot be written (immutable file at run
//     time, read-only file or directory at start) or a full file system: clear 503 problems (or a refusal
//     to start, for a read-only directory), reads still served, recovery once the cause is gone, PRAGMA
//     integrity_check ok and every acknowledged write present.
//   - TestBackupRestore: online backup of a running server (SQLite: VACUUM INTO; PostgreSQL: pg_dump from
//     the server's own bin directory), restore into a fresh database, a new server on it: users log in,
//     items are there, new writes work.
//   - TestSoak (only with SOAK_DURATION set; `make soak`): a steady mixed workload for that long; RSS,
//     threads and open files stay within stated bounds, and no 5xx.
//
// Tools: caddy, the PostgreSQL server binaries (initdb, postgres, pg_dump, pg_restore) and redis-server.
// Without one, the tests that need it are skipped with one line, except under CI=true, where they fail.
// Faults that need root (a tmpfs, chattr, another user) are skipped with one line where they cannot be
// produced.
package opstest
