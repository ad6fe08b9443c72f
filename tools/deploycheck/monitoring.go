package deploycheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/compose-spec/compose-go/v2/types"
	"sigs.k8s.io/yaml"
)

// Where the monitoring configuration lives in the repository, and what the alerts link to.
const (
	monitoringDir = "deploy/monitoring"
	// fortressJob is the scrape job of the api replicas; alerts.yml names it in up{job="fortress"}.
	fortressJob = "fortress"
	// runbookBase is where every alert's runbook_url points: a heading of docs/operations.md.
	runbookBase  = "https://github.com/fortress-dev/fortress/blob/main/docs/operations.md#"
	runbookFile  = "docs/operations.md"
	metricsAddr  = "FORTRESS_METRICS_ADDR"
	dashboardDir = monitoringDir + "/grafana/dashboards"
	// dashboardDatasourceVar is the dashboard variable every panel takes its data source from.
	dashboardDatasourceVar = "${datasource}"
)

// severities are the values the severity label may take: critical pages, warning does not.
var severities = []string{"critical", "warning"}

// promConfig is the part of prometheus.yml the checks read.
type promConfig struct {
	RuleFiles     []string `json:"rule_files"`
	ScrapeConfigs []struct {
		JobName       string `json:"job_name"`
		StaticConfigs []struct {
			Targets []string `json:"targets"`
		} `json:"static_configs"`
		DNSSDConfigs []struct {
			Names []string `json:"names"`
			Type  string   `json:"type"`
			Port  int      `json:"port"`
		} `json:"dns_sd_configs"`
	} `json:"scrape_configs"`
}

// ruleFile is a Prometheus rule file.
type ruleFile struct {
	Groups []struct {
		Name  string `json:"name"`
		Rules []rule `json:"rules"`
	} `json:"groups"`
}

// rule is one recording or alerting rule.
type rule struct {
	Record      string            `json:"record"`
	Alert       string            `json:"alert"`
	Expr        string            `json:"expr"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

// ruleTests is a promtool unit-test file.
type ruleTests struct {
	RuleFiles []string `json:"rule_files"`
	Tests     []struct {
		AlertRuleTest []struct {
			Alertname string            `json:"alertname"`
			ExpAlerts []json.RawMessage `json:"exp_alerts"`
		} `json:"alert_rule_test"`
	} `json:"tests"`
}

// dsRef is a Grafana data source reference.
type dsRef struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// dashboard is the part of a Grafana dashboard JSON the checks read.
type dashboard struct {
	UID        string  `json:"uid"`
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []struct {
			Name       string          `json:"name"`
			Type       string          `json:"type"`
			Datasource *dsRef          `json:"datasource"`
			Query      json.RawMessage `json:"query"`
			Multi      bool            `json:"multi"`
			IncludeAll bool            `json:"includeAll"`
			Current    struct {
				Value json.RawMessage `json:"value"`
			} `json:"current"`
		} `json:"list"`
	} `json:"templating"`
}

// panel is a dashboard panel; rows hold nested panels when collapsed.
type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *dsRef `json:"datasource"`
	Targets    []struct {
		RefID      string `json:"refId"`
		Expr       string `json:"expr"`
		Datasource *dsRef `json:"datasource"`
	} `json:"targets"`
	GridPos *struct {
		W int `json:"w"`
		H int `json:"h"`
	} `json:"gridPos"`
	Panels []panel `json:"panels"`
}

// DashboardQuery is one PromQL query of a dashboard panel with its variables expanded.
type DashboardQuery struct {
	Where string // "fortress.json panel 3 "Title" A"
	Expr  string
}

// grafanaBuiltins are the values Grafana's own variables get when a query is checked.
var grafanaBuiltins = map[string]string{
	"__rate_interval": "1m", "__interval": "1m", "__range": "1h", "__range_s": "3600", "__interval_ms": "60000",
}

// dashboardVar matches $name, ${name} and ${name:format}.
var dashboardVar = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)(?::[A-Za-z]+)?\}|\$([A-Za-z0-9_]+)`)

// CheckMonitoring returns every violation of the monitoring rules by the files under deploy/monitoring of
// the repository at root and by the compose file's monitoring profile:
//
//   - prometheus.yml scrapes the api service on the port of its FORTRESS_METRICS_ADDR as job "fortress",
//     from a network both share, and compose mounts it and each rule file it names side by side;
//   - every rule expression names only metrics Fortress exports (with their labels and closed label values),
//     recording rules, up, or go_* / process_*;
//   - every alert has a severity, a summary, a description and a runbook_url into docs/operations.md (whose
//     heading must exist once that file does), and a promtool test where it fires and one where it does not;
//   - the Grafana data source, dashboard provider and dashboards agree with each other and with the compose
//     mounts, every panel query passes the same metric check, and the dashboard shows every Fortress metric.
//
// An error means a file is missing or does not parse.
func CheckMonitoring(ctx context.Context, root string) ([]string, error) {
	project, err := LoadCompose(ctx, filepath.Join(root, "compose.yaml"), "*")
	if err != nil {
		return nil, fmt.Errorf("load compose.yaml with every profile: %w", err)
	}
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	var cfg promConfig
	if err := readYAML(root, monitoringDir+"/prometheus.yml", &cfg); err != nil {
		return nil, err
	}
	prom, ok := serviceByImage(project, "prom/prometheus:")
	if !ok {
		add("compose.yaml: no service runs prom/prometheus")
		return problems, nil
	}
	checkScrapeJob(project, prom, cfg, add)
	checkRuleMounts(project, prom, cfg, add)

	names := promqlNames{recorded: map[string]bool{}, job: fortressJob}
	files := map[string]ruleFile{}
	for _, name := range cfg.RuleFiles {
		var rf ruleFile
		if err := readYAML(root, monitoringDir+"/"+name, &rf); err != nil {
			return nil, err
		}
		files[name] = rf
		for _, g := range rf.Groups {
			for _, r := range g.Rules {
				if r.Record != "" {
					names.recorded[r.Record] = true
				}
			}
		}
	}
	runbook, err := readRepoFile(root, runbookFile)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	anchors := markdownAnchors(string(runbook))
	var alerts []string
	for _, name := range cfg.RuleFiles {
		for _, g := range files[name].Groups {
			for _, r := range g.Rules {
				where := fmt.Sprintf("%s: group %s: %s%s", name, g.Name, r.Record, r.Alert)
				_, ps := checkPromQL(where, r.Expr, names)
				problems = append(problems, ps...)
				if r.Alert != "" {
					if slices.Contains(alerts, r.Alert) {
						add("%s: alert %s is defined twice", name, r.Alert)
					}
					alerts = append(alerts, r.Alert)
					checkAlert(where, r, runbook != nil, anchors, add)
				}
			}
		}
	}
	if len(alerts) == 0 {
		add("%s: the rule files define no alert", monitoringDir)
	}

	var tests ruleTests
	if err := readYAML(root, monitoringDir+"/alerts_test.yml", &tests); err != nil {
		return nil, err
	}
	checkAlertTests(cfg, tests, alerts, add)

	grafana, ok := serviceByImage(project, "grafana/grafana:")
	if !ok {
		add("compose.yaml: no service runs grafana/grafana")
		return problems, nil
	}
	if err := checkGrafana(root, project, grafana, prom, names, add); err != nil {
		return nil, err
	}
	return problems, nil
}

// readRepoFile reads the file name (slash-separated) of the repository at root; os.Root keeps the name
// from escaping root.
func readRepoFile(root, name string) ([]byte, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, err
	}
	defer func() { _ = r.Close() }() // read-only
	return r.ReadFile(filepath.FromSlash(name))
}

// readYAML decodes a YAML file of the repository into v.
func readYAML(root, name string, v any) error {
	data, err := readRepoFile(root, name)
	if err != nil {
		return err
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	return nil
}

// serviceByImage returns the service that runs image (a name with its trailing ':').
func serviceByImage(p *types.Project, image string) (types.ServiceConfig, bool) {
	for _, name := range slices.Sorted(maps.Keys(p.Services)) {
		if s := p.Services[name]; strings.HasPrefix(s.Image, image) {
			return s, true
		}
	}
	return types.ServiceConfig{}, false
}

// MetricsPort returns the port of the api service's metrics listener from its FORTRESS_METRICS_ADDR.
func MetricsPort(p *types.Project) (int, error) {
	api, ok := p.Services[serviceAPI]
	if !ok {
		return 0, fmt.Errorf("no service %s", serviceAPI)
	}
	v := api.Environment[metricsAddr]
	if v == nil || *v == "" {
		return 0, fmt.Errorf("service %s: %s is not set, so no metrics listener runs", serviceAPI, metricsAddr)
	}
	_, port, err := net.SplitHostPort(*v)
	if err != nil {
		return 0, fmt.Errorf("service %s: %s=%q: %w", serviceAPI, metricsAddr, *v, err)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n <= 0 || n > 65535 {
		return 0, fmt.Errorf("service %s: %s=%q has no numeric port", serviceAPI, metricsAddr, *v)
	}
	return n, nil
}

// sharesNetwork reports whether two services have a network in common.
func sharesNetwork(a, b types.ServiceConfig) bool {
	for n := range a.Networks {
		if _, ok := b.Networks[n]; ok {
			return true
		}
	}
	return false
}

// checkScrapeJob requires a job "fortress" that finds the api replicas on their metrics port.
func checkScrapeJob(p *types.Project, prom types.ServiceConfig, cfg promConfig, add func(string, ...any)) {
	port, err := MetricsPort(p)
	if err != nil {
		add("%v", err)
		return
	}
	want := net.JoinHostPort(serviceAPI, strconv.Itoa(port))
	found := false
	for _, sc := range cfg.ScrapeConfigs {
		if sc.JobName != fortressJob {
			continue
		}
		found = true
		var got []string
		for _, d := range sc.DNSSDConfigs {
			for _, n := range d.Names {
				got = append(got, net.JoinHostPort(n, strconv.Itoa(d.Port)))
			}
		}
		for _, s := range sc.StaticConfigs {
			got = append(got, s.Targets...)
		}
		if !slices.Contains(got, want) {
			add("prometheus.yml: job %s scrapes %v, want %s (the api's %s)", fortressJob, got, want, metricsAddr)
		}
	}
	if !found {
		add("prometheus.yml: no scrape job %q (the alert rules expect it)", fortressJob)
	}
	if api, ok := p.Services[serviceAPI]; ok && !sharesNetwork(prom, api) {
		add("service %s shares no network with %s and cannot scrape it", prom.Name, serviceAPI)
	}
}

// checkRuleMounts requires compose to mount prometheus.yml where --config.file says and every rule file
// it names next to it, from deploy/monitoring.
func checkRuleMounts(p *types.Project, prom types.ServiceConfig, cfg promConfig, add func(string, ...any)) {
	config := ""
	for _, arg := range prom.Command {
		if v, ok := strings.CutPrefix(arg, "--config.file="); ok {
			config = v
		}
	}
	if config == "" {
		add("service %s: command has no --config.file", prom.Name)
		return
	}
	mounts := bindMounts(p, prom)
	if mounts[config] != monitoringDir+"/prometheus.yml" {
		add("service %s: %s is not mounted from %s/prometheus.yml", prom.Name, config, monitoringDir)
	}
	if len(cfg.RuleFiles) == 0 {
		add("prometheus.yml: no rule_files")
	}
	for _, rf := range cfg.RuleFiles {
		if path.IsAbs(rf) || strings.ContainsAny(rf, "*/") {
			add("prometheus.yml: rule file %s must be a plain name next to prometheus.yml", rf)
			continue
		}
		if target := path.Join(path.Dir(config), rf); mounts[target] != monitoringDir+"/"+rf {
			add("service %s: rule file %s is not mounted at %s from %s/%s", prom.Name, rf, target, monitoringDir, rf)
		}
	}
}

// bindMounts maps the container target of each bind mount of s to its source relative to the project.
func bindMounts(p *types.Project, s types.ServiceConfig) map[string]string {
	m := map[string]string{}
	for _, v := range s.Volumes {
		if v.Type != types.VolumeTypeBind {
			continue
		}
		if rel, err := filepath.Rel(p.WorkingDir, v.Source); err == nil {
			m[v.Target] = filepath.ToSlash(rel)
		}
	}
	return m
}

// checkAlert requires the labels and annotations every alert carries.
func checkAlert(where string, r rule, haveRunbook bool, anchors []string, add func(string, ...any)) {
	if !slices.Contains(severities, r.Labels["severity"]) {
		add("%s: label severity %q, want one of %v", where, r.Labels["severity"], severities)
	}
	for _, a := range []string{"summary", "description", "runbook_url"} {
		if strings.TrimSpace(r.Annotations[a]) == "" {
			add("%s: no %s annotation", where, a)
		}
	}
	url := r.Annotations["runbook_url"]
	anchor, ok := strings.CutPrefix(url, runbookBase)
	switch {
	case url == "":
	case !ok || anchor == "":
		add("%s: runbook_url %s is not a heading of %s (%s...)", where, url, runbookFile, runbookBase)
	case haveRunbook && !slices.Contains(anchors, anchor):
		add("%s: runbook_url: %s has no heading with anchor #%s", where, runbookFile, anchor)
	}
}

// checkAlertTests requires alerts_test.yml to load the rule files and to test every alert both firing
// and not firing.
func checkAlertTests(cfg promConfig, tests ruleTests, alerts []string, add func(string, ...any)) {
	for _, rf := range cfg.RuleFiles {
		if !slices.Contains(tests.RuleFiles, rf) {
			add("alerts_test.yml: rule_files does not load %s", rf)
		}
	}
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, t := range tests.Tests {
		for _, a := range t.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
			if !slices.Contains(alerts, a.Alertname) {
				add("alerts_test.yml: tests alert %s, which no rule file defines", a.Alertname)
			}
		}
	}
	for _, a := range alerts {
		if !fires[a] {
			add("alerts_test.yml: no promtool test where %s fires", a)
		}
		if !quiet[a] {
			add("alerts_test.yml: no promtool test where %s does not fire", a)
		}
	}
}

// markdownAnchors returns the anchors GitHub gives the headings of a Markdown document (lower case,
// punctuation dropped, spaces as hyphens, repeats numbered), and explicit <a id/name> anchors.
func markdownAnchors(doc string) []string {
	var anchors []string
	seen := map[string]int{}
	explicit := regexp.MustCompile(`<a\s+(?:id|name)="([^"]+)"`)
	inFence := false
	for line := range strings.SplitSeq(doc, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			inFence = !inFence
		}
		for _, m := range explicit.FindAllStringSubmatch(line, -1) {
			anchors = append(anchors, m[1])
		}
		title, ok := strings.CutPrefix(strings.TrimLeft(line, "#"), " ")
		if inFence || !ok || !strings.HasPrefix(line, "#") || len(line)-len(strings.TrimLeft(line, "#")) > 6 {
			continue
		}
		var b strings.Builder
		for _, r := range strings.ToLower(strings.TrimSpace(title)) {
			switch {
			case r == ' ':
				b.WriteByte('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r):
				b.WriteRune(r)
			}
		}
		slug := b.String()
		if n := seen[slug]; n > 0 {
			anchors = append(anchors, slug+"-"+strconv.Itoa(n))
		} else {
			anchors = append(anchors, slug)
		}
		seen[slug]++
	}
	return anchors
}

// checkGrafana checks the data source and dashboard provisioning against the compose mounts, and every
// dashboard's panels and queries.
func checkGrafana(root string, p *types.Project, grafana, prom types.ServiceConfig, names promqlNames, add func(string, ...any)) error {
	mounts := bindMounts(p, grafana)
	var provisioning string
	for target, src := range mounts {
		if src == monitoringDir+"/grafana/provisioning" {
			provisioning = target
		}
	}
	if provisioning == "" {
		add("service %s: %s/grafana/provisioning is not mounted", grafana.Name, monitoringDir)
	} else if v := grafana.Environment["GF_PATHS_PROVISIONING"]; v != nil && *v != provisioning {
		add("service %s: GF_PATHS_PROVISIONING=%s, but provisioning is mounted at %s", grafana.Name, *v, provisioning)
	}
	if !sharesNetwork(grafana, prom) {
		add("service %s shares no network with %s", grafana.Name, prom.Name)
	}

	var uids []string
	dsFiles, _ := filepath.Glob(filepath.Join(root, monitoringDir, "grafana", "provisioning", "datasources", "*.yml"))
	for _, f := range dsFiles {
		var ds struct {
			Datasources []struct {
				UID  string `json:"uid"`
				Type string `json:"type"`
				URL  string `json:"url"`
			} `json:"datasources"`
		}
		rel, _ := filepath.Rel(root, f)
		if err := readYAML(root, filepath.ToSlash(rel), &ds); err != nil {
			return err
		}
		for _, d := range ds.Datasources {
			if d.Type != "prometheus" {
				continue
			}
			uids = append(uids, d.UID)
			if want := "http://" + prom.Name + ":"; !strings.HasPrefix(d.URL, want) {
				add("%s: data source %s has url %s, want %s...", rel, d.UID, d.URL, want)
			}
		}
	}
	if len(uids) == 0 {
		add("grafana/provisioning/datasources: no Prometheus data source")
	}

	dbFiles, _ := filepath.Glob(filepath.Join(root, monitoringDir, "grafana", "provisioning", "dashboards", "*.yml"))
	providers := 0
	for _, f := range dbFiles {
		var prov struct {
			Providers []struct {
				Type    string `json:"type"`
				Options struct {
					Path string `json:"path"`
				} `json:"options"`
			} `json:"providers"`
		}
		rel, _ := filepath.Rel(root, f)
		if err := readYAML(root, filepath.ToSlash(rel), &prov); err != nil {
			return err
		}
		for _, pr := range prov.Providers {
			providers++
			if mounts[pr.Options.Path] != dashboardDir {
				add("%s: dashboards are read from %s, where compose mounts no %s", rel, pr.Options.Path, dashboardDir)
			}
		}
	}
	if providers == 0 {
		add("grafana/provisioning/dashboards: no dashboard provider")
	}

	dashboards, _ := filepath.Glob(filepath.Join(root, filepath.FromSlash(dashboardDir), "*.json"))
	if len(dashboards) == 0 {
		add("%s: no dashboard", dashboardDir)
	}
	shown := map[string]bool{}
	for _, f := range dashboards {
		data, err := readRepoFile(root, dashboardDir+"/"+filepath.Base(f))
		if err != nil {
			return err
		}
		queries, ps, err := DashboardQueries(filepath.Base(f), data, uids)
		if err != nil {
			return err
		}
		for _, m := range ps {
			add("%s", m)
		}
		for _, q := range queries {
			refs, ps := checkPromQL(q.Where, q.Expr, names)
			for _, m := range ps {
				add("%s", m)
			}
			for _, m := range refs.metrics {
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					m = strings.TrimSuffix(m, suffix)
				}
				shown[m] = true
			}
		}
	}
	for _, m := range slices.Sorted(maps.Keys(fortressMetrics)) {
		if len(dashboards) > 0 && !shown[m] {
			add("%s: no panel shows %s", dashboardDir, m)
		}
	}
	return nil
}

// DashboardQueries parses a Grafana dashboard and returns its panels' PromQL queries with the
// dashboard's variables expanded (to the current value, or .* for multi-value ones) and Grafana's
// built-in intervals set to fixed durations, with the problems of its structure: a missing uid or title,
// duplicate panel ids, panels without position or queries, a data source other than the datasource
// variable or one of uids, and variables the dashboard does not define. An error means it is not JSON.
func DashboardQueries(file string, data []byte, uids []string) ([]DashboardQuery, []string, error) {
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, nil, fmt.Errorf("%s: %w", file, err)
	}
	var problems []string
	add := func(format string, args ...any) {
		problems = append(problems, file+": "+fmt.Sprintf(format, args...))
	}
	if d.UID == "" || d.Title == "" {
		add("needs a uid and a title")
	}
	vars := maps.Clone(grafanaBuiltins)
	hasDatasourceVar := false
	for _, v := range d.Templating.List {
		var cur string
		_ = json.Unmarshal(v.Current.Value, &cur)
		switch {
		case v.Type == "datasource":
			hasDatasourceVar = true
			var q string
			_ = json.Unmarshal(v.Query, &q)
			if q != "prometheus" || !slices.Contains(uids, cur) {
				add("variable %s: type %q, default %q; want prometheus and one of the provisioned uids %v", v.Name, q, cur, uids)
			}
			vars[v.Name] = cur
		case v.Multi || v.IncludeAll:
			vars[v.Name] = ".*"
		default:
			vars[v.Name] = cur
		}
	}
	expand := func(where, expr string) string {
		return dashboardVar.ReplaceAllStringFunc(expr, func(ref string) string {
			m := dashboardVar.FindStringSubmatch(ref)
			name := m[1] + m[2]
			v, ok := vars[name]
			if !ok {
				add("%s: unknown variable $%s", where, name)
			}
			return v
		})
	}
	validDS := func(ds *dsRef) bool {
		return ds != nil && ds.Type == "prometheus" && (ds.UID == dashboardDatasourceVar && hasDatasourceVar || slices.Contains(uids, ds.UID))
	}
	for _, v := range d.Templating.List {
		if v.Type == "query" && !validDS(v.Datasource) {
			add("variable %s: data source %+v, want %s or a provisioned uid %v", v.Name, v.Datasource, dashboardDatasourceVar, uids)
		}
	}
	var queries []DashboardQuery
	ids := map[int]bool{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, pn := range ps {
			where := fmt.Sprintf("panel %d %q", pn.ID, pn.Title)
			if ids[pn.ID] {
				add("%s: duplicate panel id %d", where, pn.ID)
			}
			ids[pn.ID] = true
			if pn.GridPos == nil || pn.GridPos.W <= 0 || pn.GridPos.H <= 0 {
				add("%s: no gridPos", where)
			}
			if pn.Type == "row" {
				walk(pn.Panels)
				continue
			}
			if pn.Title == "" {
				add("panel %d: no title", pn.ID)
			}
			if !validDS(pn.Datasource) {
				add("%s: data source %+v, want %s or a provisioned uid %v", where, pn.Datasource, dashboardDatasourceVar, uids)
			}
			if len(pn.Targets) == 0 {
				add("%s: no query", where)
			}
			for _, t := range pn.Targets {
				tw := where + " " + t.RefID
				if t.Datasource != nil && !validDS(t.Datasource) {
					add("%s: data source %+v, want %s or a provisioned uid %v", tw, t.Datasource, dashboardDatasourceVar, uids)
				}
				if strings.TrimSpace(t.Expr) == "" {
					add("%s: empty query", tw)
					continue
				}
				queries = append(queries, DashboardQuery{Where: file + ": " + tw, Expr: expand(tw, t.Expr)})
			}
		}
	}
	walk(d.Panels)
	return queries, problems, nil
}
