package deploycheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestMonitoring(t *testing.T) {
	root := repoRoot(t)
	problems, err := CheckMonitoring(context.Background(), root)
	if err != nil {
		t.Fatal(err)
	}
	wantNoProblems(t, monitoringDir, problems)
	if _, err := os.Stat(filepath.Join(root, runbookFile)); errors.Is(err, fs.ErrNotExist) {
		t.Logf("%s does not exist yet: the alerts' runbook anchors are not checked", runbookFile)
	}
}

// TestMonitoringRulesBite copies compose.yaml and deploy/monitoring, breaks one rule at a time and
// expects the check to say so.
func TestMonitoringRulesBite(t *testing.T) {
	root := repoRoot(t)
	cases := []struct {
		name, file, old, new, want string
	}{
		{"unknown metric", "deploy/monitoring/alerts.yml", "fortress_security_events_total{event=\"auth.refresh.reuse\"}[10m]",
			"fortress_security_event_total{event=\"auth.refresh.reuse\"}[10m]", "unknown metric fortress_security_event_total"},
		{"event typo", "deploy/monitoring/recording.yml", `event="auth.login.failure"`, `event="auth.login.failed"`, `"auth.login.failed" is not one of`},
		{"label typo", "deploy/monitoring/grafana/dashboards/fortress.json", "sum by (route, code)", "sum by (route, status)", `no Fortress metric has a label "status"`},
		{"matcher on a missing label", "deploy/monitoring/recording.yml", `fortress_http_requests_total{code=~"5..", `, `fortress_http_requests_total{status=~"5..", `, `has no label "status"`},
		{"histogram without suffix", "deploy/monitoring/recording.yml", "rate(fortress_http_request_duration_seconds_count{", "rate(fortress_http_request_duration_seconds{", "unknown metric fortress_http_request_duration_seconds"},
		{"wrong job", "deploy/monitoring/alerts.yml", `up{job="fortress"} == 0`, `up{job="api"} == 0`, `"api" is not one of [fortress]`},
		{"no runbook", "deploy/monitoring/alerts.yml", "          runbook_url: https://github.com/fortress-dev/fortress/blob/main/docs/operations.md#instance-down\n", "", "FortressInstanceDown: no runbook_url"},
		{"runbook elsewhere", "deploy/monitoring/alerts.yml", "blob/main/docs/operations.md#instance-down", "blob/main/README.md#instance-down", "is not a heading of docs/operations.md"},
		{"no severity", "deploy/monitoring/alerts.yml", "          severity: warning\n        annotations:\n          summary: \"{{ $labels.instance }} is down\"",
			"          team: ops\n        annotations:\n          summary: \"{{ $labels.instance }} is down\"", `label severity ""`},
		{"untested alert", "deploy/monitoring/alerts.yml", "alert: FortressInstanceDown", "alert: FortressInstanceGone", "no promtool test where FortressInstanceGone fires"},
		{"scrape port", "deploy/monitoring/prometheus.yml", "port: 9090", "port: 9100", "want api:9090"},
		{"no fortress job", "deploy/monitoring/prometheus.yml", "job_name: fortress", "job_name: api", `no scrape job "fortress"`},
		{"rule file not mounted", "compose.yaml", "      - ./deploy/monitoring/alerts.yml:/etc/prometheus/alerts.yml:ro\n", "", "rule file alerts.yml is not mounted"},
		{"metrics listener off", "compose.yaml", "      FORTRESS_METRICS_ADDR: \":9090\"\n", "", "FORTRESS_METRICS_ADDR is not set"},
		{"datasource uid", "deploy/monitoring/grafana/provisioning/datasources/prometheus.yml", "uid: prometheus", "uid: prom", "want prometheus and one of the provisioned uids [prom]"},
		{"dashboards not mounted", "deploy/monitoring/grafana/provisioning/dashboards/fortress.yml", "path: /etc/grafana/dashboards", "path: /var/lib/grafana/dashboards", "where compose mounts no"},
		{"unknown variable", "deploy/monitoring/grafana/dashboards/fortress.json", `instance=~\"$instance\"`, `instance=~\"$inst\"`, "unknown variable $inst"},
		{"metric not shown", "deploy/monitoring/grafana/dashboards/fortress.json", "fortress_password_hash_rejected_total", "fortress_password_hash_in_flight", "no panel shows fortress_password_hash_rejected_total"},
		{"variable data source", "deploy/monitoring/grafana/dashboards/fortress.json", `"uid": "${datasource}"`, `"uid": "other"`, "variable job: data source &{Type:prometheus UID:other}"},
		{"panel data source", "deploy/monitoring/grafana/dashboards/fortress.json", `"title": "Request rate",
      "description": "Requests per second answered by the selected instances, every route.",
      "datasource": {
        "type": "prometheus",
        "uid": "${datasource}"`, `"title": "Request rate",
      "description": "Requests per second answered by the selected instances, every route.",
      "datasource": {
        "type": "prometheus",
        "uid": "other"`, `panel 2 "Request rate": data source &{Type:prometheus UID:other}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			copyTree(t, filepath.Join(root, "deploy", "monitoring"), filepath.Join(dir, "deploy", "monitoring"))
			writeFileIn(t, dir, "compose.yaml", readFileIn(t, root, "compose.yaml"))
			data := string(readFileIn(t, dir, tc.file))
			if !strings.Contains(data, tc.old) {
				t.Fatalf("%s has no %q to replace", tc.file, tc.old)
			}
			writeFileIn(t, dir, tc.file, []byte(strings.Replace(data, tc.old, tc.new, 1)))
			problems, err := CheckMonitoring(context.Background(), dir)
			if err != nil {
				t.Fatal(err)
			}
			wantProblem(t, problems, tc.want)
		})
	}
}

// TestMonitoringRunbookAnchors: once docs/operations.md exists, every runbook_url must name one of its
// headings.
func TestMonitoringRunbookAnchors(t *testing.T) {
	root := repoRoot(t)
	dir := t.TempDir()
	copyTree(t, filepath.Join(root, "deploy", "monitoring"), filepath.Join(dir, "deploy", "monitoring"))
	writeFileIn(t, dir, "compose.yaml", readFileIn(t, root, "compose.yaml"))
	if err := os.Mkdir(filepath.Join(dir, "docs"), 0o700); err != nil {
		t.Fatal(err)
	}
	writeFileIn(t, dir, runbookFile, []byte("# Operations\n\n## Credential stuffing\n\n```\n# Refresh-token reuse\n```\n"))
	problems, err := CheckMonitoring(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	wantProblem(t, problems, "docs/operations.md has no heading with anchor #refresh-token-reuse")
	for _, p := range problems {
		if strings.Contains(p, "#credential-stuffing") {
			t.Errorf("got %q, want #credential-stuffing found", p)
		}
	}
}

func TestMarkdownAnchors(t *testing.T) {
	doc := "# Operations\n## Credential stuffing\n### 5xx ratio (server errors)\n## Credential stuffing\n" +
		"```sh\n# not a heading\n```\n<a id=\"custom\"></a>\n#nospace\n"
	got := markdownAnchors(doc)
	want := []string{"operations", "credential-stuffing", "5xx-ratio-server-errors", "credential-stuffing-1", "custom"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestCheckPromQL(t *testing.T) {
	names := promqlNames{recorded: map[string]bool{"job:x:rate5m": true}, job: "fortress"}
	good := []string{
		`sum by (job, instance) (rate(fortress_security_events_total{event="auth.login.failure"}[5m]))`,
		`histogram_quantile(0.99, sum by (route, le) (rate(fortress_http_request_duration_seconds_bucket{job="fortress", route="/items/{item_id}"}[5m])))`,
		`job:x:rate5m > (14.4 * 0.01) and job:x:rate5m offset 1h > 0`,
		`rate(fortress_http_requests_total[1h:1m]) # a comment naming no_metric`,
		`sum(rate(fortress_rate_limited_total{policy=~"login|login-failures"}[5m])) / sum(go_goroutines)`,
		`max by (instance) (fortress_db_in_use_connections / fortress_db_max_open_connections)`,
	}
	for _, expr := range good {
		if _, problems := checkPromQL("good", expr, names); len(problems) > 0 {
			t.Errorf("%s: got %q, want no problems", expr, problems)
		}
	}
	bad := map[string]string{
		`rate(fortress_requests_total[5m])`:                         "unknown metric fortress_requests_total",
		`fortress_security_events_total{event="auth.login.failed"}`: `"auth.login.failed" is not one of`,
		`fortress_security_events_total{outcome=~"success|ok"}`:     `"ok" is not one of`,
		`fortress_rate_limited_total{route="/auth/login"}`:          `has no label "route"`,
		`sum without (status) (fortress_http_requests_total)`:       `no Fortress metric has a label "status"`,
		`fortress_http_request_duration_seconds_count{le="0.25"}`:   `has no label "le"`,
		`up{job="node"}`:              `"node" is not one of [fortress]`,
		`{__name__="fortress_ready"}`: "a selector without a metric name",
		`rate(fortress_http_requests_total[$__rate_interval])`:                   "unexpanded variable",
		`fortress_ready{instance="unterminated}`:                                 "unterminated string",
		`job:y:rate5m`:                                                           "unknown metric job:y:rate5m",
		`histogram_quantile(0.5, rate(fortress_password_hash_wait_seconds[5m]))`: "unknown metric fortress_password_hash_wait_seconds",
	}
	for expr, want := range bad {
		_, problems := checkPromQL("bad", expr, names)
		wantProblem(t, problems, want)
	}
}

// TestDashboardQueriesParse hands every dashboard query, variables expanded, to promtool as a recording
// rule: PromQL's own parser then rejects what the lighter checks cannot see (a misplaced parenthesis, a
// function that does not exist, a range where an instant vector is needed). Without promtool (Debian's
// prometheus package) it is skipped with one line, except under CI=true.
func TestDashboardQueriesParse(t *testing.T) {
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if ci := os.Getenv("CI"); ci == "true" || ci == "1" || ci == "yes" {
			t.Fatal("promtool is not installed (Debian's prometheus package; .ci/run installs it)")
		}
		t.Skip("promtool is not installed (Debian's prometheus package): dashboard queries not parsed")
	}
	root := repoRoot(t)
	files, err := filepath.Glob(filepath.Join(root, filepath.FromSlash(dashboardDir), "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards in %s (%v)", dashboardDir, err)
	}
	var rules strings.Builder
	rules.WriteString("groups:\n  - name: dashboard\n    rules:\n")
	n := 0
	for _, f := range files {
		data := readFileIn(t, filepath.Dir(f), filepath.Base(f))
		queries, _, err := DashboardQueries(filepath.Base(f), data, []string{"prometheus"})
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range queries {
			n++
			expr, err := json.Marshal(q.Expr) // a JSON string is a YAML double-quoted scalar
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&rules, "      # %s\n      - record: dashboard:query_%d\n        expr: %s\n", strings.ReplaceAll(q.Where, "\n", " "), n, expr)
		}
	}
	dir := t.TempDir()
	writeFileIn(t, dir, "dashboard-rules.yml", []byte(rules.String()))
	out, err := exec.CommandContext(t.Context(), promtool, "check", "rules", filepath.Join(dir, "dashboard-rules.yml")).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check rules on the %d dashboard queries: %v\n%s\n%s", n, err, out, rules.String())
	}
	if !strings.Contains(string(out), fmt.Sprintf("SUCCESS: %d rules found", n)) {
		t.Errorf("promtool: got %s, want %d rules checked", out, n)
	}
}

// copyTree copies the directory src to dst, which must not exist.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
}
