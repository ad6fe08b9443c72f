package deploycheck

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// metricInfo describes one metric the Fortress server exports: its type and its labels, and for the
// labels whose values are a closed set, that set.
type metricInfo struct {
	kind   string // counter, gauge or histogram (base name; its series add _bucket, _sum, _count)
	labels []string
	values map[string][]string
}

// The closed label values of the security metrics: a query filtering on anything else matches nothing.
var (
	securityEvents = []string{
		"user.register", "auth.login.success", "auth.login.failure", "auth.login.throttled", "auth.refresh.reuse",
		"auth.logout", "auth.logout.all", "auth.session.revoke", "auth.password.change", "account.delete",
		"admin.role.change", "admin.user.deactivate", "admin.user.reactivate", "authz.denied",
	}
	securityOutcomes  = []string{"success", "failure", "denied"}
	rateLimitPolicies = []string{"default", "login", "register", "login-failures"}
)

// fortressMetrics is what the server's metrics listener (FORTRESS_METRICS_ADDR) exports besides the
// standard go_* and process_* collectors, as the observability issue specifies it. The alert rules and
// the dashboard may query these, the recording rules, up, and go_* / process_* only; a renamed metric
// must change here, in the rules and in the dashboard together.
var fortressMetrics = map[string]metricInfo{
	"fortress_http_requests_total":           {kind: "counter", labels: []string{"route", "method", "code"}},
	"fortress_http_request_duration_seconds": {kind: "histogram", labels: []string{"route", "method"}},
	"fortress_http_requests_in_flight":       {kind: "gauge"},
	"fortress_security_events_total": {kind: "counter", labels: []string{"event", "outcome"},
		values: map[string][]string{"event": securityEvents, "outcome": securityOutcomes}},
	"fortress_rate_limited_total": {kind: "counter", labels: []string{"policy"},
		values: map[string][]string{"policy": rateLimitPolicies}},
	"fortress_password_hash_in_flight":      {kind: "gauge"},
	"fortress_password_hash_queue_depth":    {kind: "gauge"},
	"fortress_password_hash_wait_seconds":   {kind: "histogram"},
	"fortress_password_hash_rejected_total": {kind: "counter"},
	"fortress_ready":                        {kind: "gauge"},
	"fortress_db_open_connections":          {kind: "gauge"},
	"fortress_db_in_use_connections":        {kind: "gauge"},
	"fortress_db_idle_connections":          {kind: "gauge"},
	"fortress_db_max_open_connections":      {kind: "gauge"},
	"fortress_db_wait_total":                {kind: "counter"},
	"fortress_db_wait_seconds_total":        {kind: "counter"},
	"fortress_build_info":                   {kind: "gauge", labels: []string{"version", "revision", "goversion"}},
}

// targetLabels are the labels Prometheus adds to every scraped series.
var targetLabels = []string{"job", "instance"}

// promqlNames is what checkPromQL accepts besides fortressMetrics: the recording rules' names and the
// value the job label must have.
type promqlNames struct {
	recorded map[string]bool
	job      string
}

// aggregators and keywords are identifiers that are not metric names.
var (
	aggregators = []string{"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
		"bottomk", "topk", "quantile", "limitk", "limit_ratio"}
	keywords         = []string{"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan", "start", "end"}
	groupingKeywords = []string{"by", "without", "on", "ignoring", "group_left", "group_right"}
	// simpleAlternation is a regular expression that is only literal alternatives: a|b|c.
	simpleAlternation = regexp.MustCompile(`^[A-Za-z0-9_./-]+(\|[A-Za-z0-9_./-]+)*$`)
)

// token is one lexical element of a PromQL expression.
type token struct {
	kind string // ident, string, number, punct
	text string // for strings, the unquoted value
}

// lexPromQL splits a PromQL expression into tokens. It knows just enough of the grammar to find metric
// names, label matchers and grouping labels; promtool parses the expressions for real.
func lexPromQL(expr string) ([]token, error) {
	var toks []token
	isIdentStart := func(c byte) bool { return c == '_' || c == ':' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
	isIdent := func(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }
	isNumber := func(c byte) bool {
		return c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
	}
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#':
			for i < len(expr) && expr[i] != '\n' {
				i++
			}
		case c >= '0' && c <= '9' || c == '.' && i+1 < len(expr) && expr[i+1] >= '0' && expr[i+1] <= '9':
			j := i
			for j < len(expr) && isNumber(expr[j]) {
				j++
			}
			toks = append(toks, token{"number", expr[i:j]})
			i = j
		case isIdentStart(c):
			j := i
			for j < len(expr) && isIdent(expr[j]) {
				j++
			}
			toks = append(toks, token{"ident", expr[i:j]})
			i = j
		case c == '"' || c == '\'' || c == '`':
			var b strings.Builder
			j := i + 1
			for ; j < len(expr) && expr[j] != c; j++ {
				if expr[j] == '\\' && c != '`' && j+1 < len(expr) {
					j++
				}
				b.WriteByte(expr[j])
			}
			if j >= len(expr) {
				return nil, fmt.Errorf("unterminated string at offset %d", i)
			}
			toks = append(toks, token{"string", b.String()})
			i = j + 1
		case c == '$':
			return nil, fmt.Errorf("unexpanded variable at offset %d", i)
		default:
			if i+1 < len(expr) && slices.Contains([]string{"=~", "!~", "!=", "==", ">=", "<="}, expr[i:i+2]) {
				toks = append(toks, token{"punct", expr[i : i+2]})
				i += 2
			} else {
				toks = append(toks, token{"punct", string(c)})
				i++
			}
		}
	}
	return toks, nil
}

// promqlRefs is what an expression refers to: metric names as written (with histogram suffixes).
type promqlRefs struct {
	metrics []string
}

// checkPromQL reports the problems of one expression, each prefixed with where: metric names that the
// server does not export (or a histogram used without _bucket, _sum or _count), label names a metric does
// not have, label values outside a closed set, grouping by labels no metric has, and a job other than
// the scrape job. It returns the metrics referred to as well.
func checkPromQL(where, expr string, names promqlNames) (promqlRefs, []string) {
	var refs promqlRefs
	var problems []string
	add := func(format string, args ...any) {
		problems = append(problems, where+": "+fmt.Sprintf(format, args...))
	}
	toks, err := lexPromQL(expr)
	if err != nil {
		add("%v", err)
		return refs, problems
	}
	allLabels := append([]string{"le"}, targetLabels...)
	for _, m := range fortressMetrics {
		allLabels = append(allLabels, m.labels...)
	}
	next := func(i int) token {
		if i+1 < len(toks) {
			return toks[i+1]
		}
		return token{}
	}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		switch {
		case t.kind == "punct" && t.text == "[":
			// A range or subquery: durations only ([5m], [1h:1m]).
			for i < len(toks) && toks[i].text != "]" {
				i++
			}
		case t.kind == "punct" && t.text == "{":
			add("a selector without a metric name")
		case t.kind != "ident":
		case slices.Contains(groupingKeywords, t.text) && next(i).text == "(":
			for i += 2; i < len(toks) && toks[i].text != ")"; i++ {
				if toks[i].kind == "ident" && !slices.Contains(allLabels, toks[i].text) {
					add("%s (%s): no Fortress metric has a label %q", t.text, toks[i].text, toks[i].text)
				}
			}
		case next(i).text == "(", slices.Contains(aggregators, t.text), slices.Contains(keywords, t.text):
			// A function call, an aggregation or an operator keyword.
		default:
			refs.metrics = append(refs.metrics, t.text)
			labels, values, ok := metricLabels(t.text, names)
			if !ok {
				add("unknown metric %s: not exported by Fortress, not a recording rule", t.text)
			}
			if next(i).text != "{" {
				continue
			}
			for i += 2; i < len(toks) && toks[i].text != "}"; i++ {
				if toks[i].kind != "ident" {
					continue
				}
				label, op, value := toks[i].text, next(i).text, ""
				if i+2 < len(toks) {
					value = toks[i+2].text
				}
				i += 2
				if ok && labels != nil && !slices.Contains(labels, label) {
					add("%s has no label %q", t.text, label)
					continue
				}
				checkLabelValue(t.text, label, op, value, values, names, add)
			}
		}
	}
	return refs, problems
}

// metricLabels returns the labels a series name may carry (nil: not checked) and the closed value sets,
// and whether the name is known at all.
func metricLabels(name string, names promqlNames) (labels []string, values map[string][]string, ok bool) {
	switch {
	case name == "up":
		return targetLabels, nil, true
	case names.recorded[name]:
		return targetLabels, nil, true
	case strings.HasPrefix(name, "go_"), strings.HasPrefix(name, "process_"):
		return nil, nil, true
	}
	if m, found := fortressMetrics[name]; found && m.kind != "histogram" {
		return append(slices.Clone(targetLabels), m.labels...), m.values, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, cut := strings.CutSuffix(name, suffix)
		if m, found := fortressMetrics[base]; cut && found && m.kind == "histogram" {
			labels = append(slices.Clone(targetLabels), m.labels...)
			if suffix == "_bucket" {
				labels = append(labels, "le")
			}
			return labels, m.values, true
		}
	}
	return nil, nil, false
}

// checkLabelValue checks an equality or simple alternation matcher against a closed set of values, and
// the job label against the scrape job.
func checkLabelValue(metric, label, op, value string, values map[string][]string, names promqlNames, add func(string, ...any)) {
	allowed := values[label]
	if label == "job" && names.job != "" {
		allowed = []string{names.job}
	}
	if allowed == nil {
		return
	}
	var literals []string
	switch {
	case op == "=":
		literals = []string{value}
	case op == "=~" && simpleAlternation.MatchString(value):
		literals = strings.Split(value, "|")
	default:
		return
	}
	for _, v := range literals {
		if !slices.Contains(allowed, v) {
			add("%s{%s%s%q}: %q is not one of %v", metric, label, op, value, v, allowed)
		}
	}
}
