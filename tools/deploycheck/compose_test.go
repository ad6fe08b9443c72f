package deploycheck

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCompose(t *testing.T) {
	problems, err := CheckCompose(context.Background(), filepath.Join(repoRoot(t), "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	wantNoProblems(t, "compose.yaml", problems)
}

// TestComposeRulesBite breaks the real compose file one rule at a time and expects the check to say so.
// The broken copies live in a temporary directory whose deploy/ and secrets/ link to the real ones, so
// that bind mounts and secret files resolve as they do for the real file.
func TestComposeRulesBite(t *testing.T) {
	root := repoRoot(t)
	good := readFileIn(t, root, "compose.yaml")
	dir := t.TempDir()
	for _, sub := range []string{"deploy", "secrets"} {
		if err := os.Symlink(filepath.Join(root, sub), filepath.Join(dir, sub)); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name, old, new, want string
	}{
		{"postgres by tag", "postgres:17-alpine@sha256:742f40ea20b9ff2ff31db5458d127452988a2164df9e17441e191f3b72252193", "postgres:17-alpine", "not pinned by digest"},
		{"no pg_isready", `["CMD", "pg_isready", "-U", "fortress", "-d", "fortress", "-h", "127.0.0.1"]`, `["CMD", "true"]`, "pg_isready"},
		{"api not gated on migrate", "condition: service_completed_successfully", "condition: service_started", "depends_on migrate must have condition service_completed_successfully"},
		{"migrate not gated on health", "      db:\n        condition: service_healthy\n    # A one-shot", "      db:\n        condition: service_started\n    # A one-shot", "service migrate: depends_on db"},
		{"port on all interfaces", `"127.0.0.1:8000:8000"`, `"8000:8000"`, "bind it to 127.0.0.1"},
		{"writable root", "  read_only: true\n", "  read_only: false\n", "read_only must be true"},
		{"capabilities kept", "  cap_drop: [ALL]\n", "  cap_drop: [NET_RAW]\n", "cap_drop must contain ALL"},
		{"extra capability", "cap_add: [NET_BIND_SERVICE]", "cap_add: [NET_BIND_SERVICE, SYS_ADMIN]", "cap_add SYS_ADMIN"},
		{"privileges", `security_opt: ["no-new-privileges:true"]`, `security_opt: ["apparmor:unconfined"]`, "no-new-privileges"},
		{"secret in env", "      JWT_SECRET_KEY_FILE: /run/secrets/jwt_secret_key\n", "      JWT_SECRET_KEY: hunter2hunter2hunter2hunter2hunter2\n", "environment JWT_SECRET_KEY holds"},
		{"unmounted secret", "    secrets: [jwt_secret_key, database_url]", "    secrets: [database_url]", "does not mount"},
		{"auto migrate", `AUTO_MIGRATE: "false"`, `AUTO_MIGRATE: "true"`, "AUTO_MIGRATE"},
		{"api unprobed", `test: ["CMD", "/fortress", "healthcheck"]`, `disable: true`, "service api: needs a healthcheck"},
		{"no profile tls", "profiles: [tls]", "profiles: [proxy]", "profile tls"},
		{"redis always on", "    profiles: [redis]\n", "", "without profiles compose starts"},
		{"secret outside secrets/", "file: ./secrets/jwt_secret_key", "file: ./jwt_secret_key", "not under ./secrets/"},
		{"missing config file", "./deploy/caddy/Caddyfile:/etc/caddy/Caddyfile:ro", "./deploy/caddy/Caddyfile.missing:/etc/caddy/Caddyfile:ro", "does not exist"},
		{"db reachable", "    internal: true\n", "    internal: false\n", "not internal"},
		{"no profile monitoring", "    profiles: [monitoring]\n    image: grafana", "    profiles: [metrics]\n    image: grafana", "profile monitoring: no service runs grafana/grafana"},
		{"metrics published", `      - "127.0.0.1:8000:8000"`, `      - "127.0.0.1:8000:8000"` + "\n      - \"127.0.0.1:9091:9090\"", "metrics listener (FORTRESS_METRICS_ADDR, port 9090) is published"},
		{"metrics off", "      FORTRESS_METRICS_ADDR: \":9090\"\n", "", "FORTRESS_METRICS_ADDR is not set"},
		{"prometheus open", `"127.0.0.1:9090:9090"`, `"9090:9090"`, "bind it to 127.0.0.1"},
		{"prometheus user implicit", "    user: \"65534:65534\"\n", "", `service prometheus: user ""`},
		{"grafana root group", `user: "472:472"`, `user: "472:0"`, "not group 0"},
		{"grafana admin password inline", "GF_SECURITY_ADMIN_PASSWORD__FILE: /run/secrets/grafana_admin_password", "GF_SECURITY_ADMIN_PASSWORD: correct-horse-battery", "GF_SECURITY_ADMIN_PASSWORD puts the admin password"},
		{"grafana anonymous", `GF_AUTH_ANONYMOUS_ENABLED: "false"`, `GF_AUTH_ANONYMOUS_ENABLED: "true"`, "GF_AUTH_ANONYMOUS_ENABLED"},
		{"grafana on backend", "    networks: [monitoring]\n", "    networks: [monitoring, backend]\n", "service grafana: on the backend network"},
		{"monitoring config missing", "./deploy/monitoring/alerts.yml:/etc/prometheus/alerts.yml:ro", "./deploy/monitoring/alert.yml:/etc/prometheus/alerts.yml:ro", "does not exist"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(string(good), tc.old) {
				t.Fatalf("compose.yaml has no %q to replace", tc.old)
			}
			bad := strings.Replace(string(good), tc.old, tc.new, 1)
			writeFileIn(t, dir, "compose.yaml", []byte(bad))
			file := filepath.Join(dir, "compose.yaml")
			problems, err := CheckCompose(context.Background(), file)
			if err != nil {
				t.Fatal(err)
			}
			wantProblem(t, problems, tc.want)
		})
	}
}
