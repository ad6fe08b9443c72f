package deploycheck

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// The pipelines run third-party code with the repository's token and secrets, so what they run must not
// change without a reviewed commit: an action is pinned by the full commit SHA (a tag can be re-pointed,
// as happened to tj-actions/changed-files and aquasecurity/trivy-action), with the tag in a comment so
// that people and Dependabot know which release it is; a container image is pinned by digest; and the
// workflow's token starts read-only, each job widening it only for itself.
//
// This file reads the YAML line by line on purpose: the checks concern a handful of keys, and the module
// then needs no YAML library; yamllint and actionlint (make audit) check the files' structure.

var (
	// usesLine matches a `uses:` key, also as the first key of a list item.
	usesLine = regexp.MustCompile(`^\s*(?:-\s+)?uses:\s*(.*)$`)
	// pinnedAction is owner/repo[/path]@<40 hex> followed by a "# vX.Y.Z" comment.
	pinnedAction = regexp.MustCompile(`^([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)(/[^@\s]*)?@([0-9a-f]{40})$`)
	versionNote  = regexp.MustCompile(`^v\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$`)
	// digestPinned is an image reference that ends in a SHA-256 digest.
	digestPinned = regexp.MustCompile(`@sha256:[0-9a-f]{64}$`)
	// keyLine splits `  key: value` (also `  - key: value`) into indentation, key and value.
	keyLine = regexp.MustCompile(`^(\s*)(-\s+)?([A-Za-z0-9_.-]+):(?:\s+(.*?))?\s*$`)
	// listScalar matches a list item that is a plain value (`- postgres:17@sha256:...`).
	listScalar = regexp.MustCompile(`^(\s*)-\s+([^\s:#][^\s#]*)\s*(?:#.*)?$`)
	// shellVar is a $NAME or ${NAME} reference, as GitLab CI expands it in image names.
	shellVar = regexp.MustCompile(`^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$`)
)

// requiredWorkflows are the pipelines the delivery issue asks for; removing one must be a visible change.
var requiredWorkflows = []string{"ci.yml", "codeql.yml", "dast-zap.yml", "gitleaks.yml", "release.yml", "scorecards.yml"}

// actionPin is one pinned `uses:` reference: where it is and what it says.
type actionPin struct {
	where, repo, sha, version string
}

// splitComment separates a YAML scalar from a trailing " # comment" and removes quotes from the scalar.
func splitComment(s string) (value, comment string) {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, " #"); i >= 0 {
		value, comment = s[:i], strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(s[i:]), "#"))
	} else if strings.HasPrefix(s, "#") {
		return "", strings.TrimSpace(s[1:])
	} else {
		value = s
	}
	value = strings.TrimSpace(value)
	if len(value) >= 2 && (value[0] == '"' || value[0] == '\'') && value[len(value)-1] == value[0] {
		value = value[1 : len(value)-1]
	}
	return value, comment
}

// checkUses checks every `uses:` of one workflow or composite action and returns the pins it found.
func checkUses(name, text string) (problems []string, pins []actionPin) {
	for i, line := range strings.Split(text, "\n") {
		m := usesLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		where := fmt.Sprintf("%s:%d", name, i+1)
		ref, comment := splitComment(m[1])
		switch {
		case ref == "":
			problems = append(problems, where+": uses: without a value")
		case strings.HasPrefix(ref, "./"):
			// An action of this repository: reviewed with the commit that changes it.
		case strings.HasPrefix(ref, "docker://"):
			if !digestPinned.MatchString(ref) {
				problems = append(problems, fmt.Sprintf("%s: %s is not pinned by @sha256 digest", where, ref))
			}
		default:
			p := pinnedAction.FindStringSubmatch(ref)
			if p == nil {
				problems = append(problems, fmt.Sprintf("%s: %s is not pinned by a full 40-hex commit SHA", where, ref))
				continue
			}
			version := ""
			if f := strings.Fields(comment); len(f) > 0 {
				version = f[0]
			}
			if !versionNote.MatchString(version) {
				problems = append(problems, fmt.Sprintf("%s: %s needs its release in a comment, like # v1.2.3 (got %q)", where, ref, comment))
				continue
			}
			pins = append(pins, actionPin{where: where, repo: p[1], sha: p[3], version: version})
		}
	}
	return problems, pins
}

// checkTopLevelPermissions requires a workflow-level `permissions:` that grants nothing but read (or
// nothing at all), so a job without its own block never gets the repository's default, possibly
// writable, token.
func checkTopLevelPermissions(name, text string) []string {
	lines := strings.Split(text, "\n")
	for i, line := range lines {
		if !strings.HasPrefix(line, "permissions:") {
			continue
		}
		value, _ := splitComment(strings.TrimPrefix(line, "permissions:"))
		switch value {
		case "{}":
			return nil
		case "":
		default:
			return []string{fmt.Sprintf("%s:%d: top-level permissions: %s, want {} or a block of read/none scopes", name, i+1, value)}
		}
		var problems []string
		scopes := 0
		for j := i + 1; j < len(lines); j++ {
			l := lines[j]
			if strings.TrimSpace(l) == "" || strings.HasPrefix(strings.TrimSpace(l), "#") {
				continue
			}
			if !strings.HasPrefix(l, " ") {
				break // the next top-level key
			}
			m := keyLine.FindStringSubmatch(l)
			if m == nil {
				problems = append(problems, fmt.Sprintf("%s:%d: cannot read permission line %q", name, j+1, strings.TrimSpace(l)))
				continue
			}
			scopes++
			if access, _ := splitComment(m[4]); access != "read" && access != "none" {
				problems = append(problems, fmt.Sprintf("%s:%d: top-level permission %s: %s, want read or none (widen it in the job that needs it)", name, j+1, m[3], access))
			}
		}
		if scopes == 0 {
			problems = append(problems, fmt.Sprintf("%s:%d: top-level permissions: is empty, want {} or read scopes", name, i+1))
		}
		return problems
	}
	return []string{name + ": no top-level permissions: block (the token would get the repository's default, possibly write, scopes)"}
}

// checkWorkflowImages requires digests on the container images a workflow runs (services, container).
func checkWorkflowImages(name, text string) []string {
	var problems []string
	for i, line := range strings.Split(text, "\n") {
		m := keyLine.FindStringSubmatch(line)
		if len(m) < 5 || (m[3] != "image" && m[3] != "container") {
			continue
		}
		ref, _ := splitComment(m[4])
		if ref == "" || strings.HasPrefix(ref, "${{") {
			continue // a block (container: with image: below) or an expression
		}
		if !digestPinned.MatchString(ref) {
			problems = append(problems, fmt.Sprintf("%s:%d: image %s is not pinned by @sha256 digest", name, i+1, ref))
		}
	}
	return problems
}

// checkNoWriteAll rejects `write-all` anywhere: a job that needs to write names the scope it writes.
func checkNoWriteAll(name, text string) []string {
	var problems []string
	for i, line := range strings.Split(text, "\n") {
		if v, _ := splitComment(line); strings.HasSuffix(v, "write-all") {
			problems = append(problems, fmt.Sprintf("%s:%d: write-all permissions; name the scopes the job writes", name, i+1))
		}
	}
	return problems
}

// checkPinConsistency requires one commit per action repository across all files, and one version
// comment per commit: two pins of the same action that disagree mean one of them was not updated.
func checkPinConsistency(pins []actionPin) []string {
	byRepo := map[string]map[string][]actionPin{}
	for _, p := range pins {
		if byRepo[p.repo] == nil {
			byRepo[p.repo] = map[string][]actionPin{}
		}
		byRepo[p.repo][p.sha] = append(byRepo[p.repo][p.sha], p)
	}
	var problems []string
	for repo, bySHA := range byRepo {
		if len(bySHA) > 1 {
			var seen []string
			for sha, ps := range bySHA {
				seen = append(seen, fmt.Sprintf("%s (%s, %s)", sha, ps[0].version, ps[0].where))
			}
			sort.Strings(seen)
			problems = append(problems, fmt.Sprintf("%s is pinned to %d different commits: %s", repo, len(bySHA), strings.Join(seen, "; ")))
		}
		for sha, ps := range bySHA {
			for _, p := range ps[1:] {
				if p.version != ps[0].version {
					problems = append(problems, fmt.Sprintf("%s@%s is %s at %s but %s at %s", repo, sha, ps[0].version, ps[0].where, p.version, p.where))
				}
			}
		}
	}
	sort.Strings(problems)
	return problems
}

// checkWorkflow runs every per-file check on one workflow.
func checkWorkflow(name, text string) (problems []string, pins []actionPin) {
	problems, pins = checkUses(name, text)
	problems = append(problems, checkTopLevelPermissions(name, text)...)
	problems = append(problems, checkWorkflowImages(name, text)...)
	problems = append(problems, checkNoWriteAll(name, text)...)
	return problems, pins
}

// checkGitLabImages requires a digest on every image of a GitLab CI file (job and default images,
// services), resolving $VARIABLE references against the file's top-level variables.
func checkGitLabImages(name, text string) []string {
	lines := strings.Split(text, "\n")
	vars := map[string]string{}
	inVars := false
	for _, line := range lines {
		if !strings.HasPrefix(line, " ") && strings.TrimSpace(line) != "" {
			inVars = strings.HasPrefix(line, "variables:")
			continue
		}
		if m := keyLine.FindStringSubmatch(line); inVars && m != nil && len(m[1]) == 2 && m[2] == "" {
			vars[m[3]], _ = splitComment(m[4])
		}
	}

	type frame struct {
		indent int
		key    string
	}
	var stack []frame
	var problems []string
	check := func(i int, raw string) {
		ref, _ := splitComment(raw)
		if ref == "" {
			return
		}
		shown := ref
		if m := shellVar.FindStringSubmatch(ref); m != nil {
			v, ok := vars[m[1]]
			if !ok {
				problems = append(problems, fmt.Sprintf("%s:%d: image %s names no top-level variable", name, i+1, ref))
				return
			}
			ref, shown = v, ref+" = "+v
		}
		if !digestPinned.MatchString(ref) {
			problems = append(problems, fmt.Sprintf("%s:%d: image %s is not pinned by @sha256 digest", name, i+1, shown))
		}
	}
	for i, line := range lines {
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue
		}
		if m := keyLine.FindStringSubmatch(line); m != nil {
			indent := len(m[1]) + len(m[2])
			for len(stack) > 0 && stack[len(stack)-1].indent >= indent {
				stack = stack[:len(stack)-1]
			}
			parent := ""
			if len(stack) > 0 {
				parent = stack[len(stack)-1].key
			}
			switch {
			case m[3] == "image" && m[4] != "":
				check(i, m[4])
			case m[3] == "name" && (parent == "image" || parent == "services"):
				check(i, m[4])
			}
			stack = append(stack, frame{indent: indent, key: m[3]})
			continue
		}
		if m := listScalar.FindStringSubmatch(line); m != nil {
			indent := len(m[1])
			for len(stack) > 0 && stack[len(stack)-1].indent >= indent+2 {
				stack = stack[:len(stack)-1]
			}
			if len(stack) > 0 && stack[len(stack)-1].key == "services" {
				check(i, m[2])
			}
		}
	}
	return problems
}

// workflowFiles lists the workflows and the repository's own composite actions.
func workflowFiles(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	for _, pattern := range []string{"*.yml", "*.yaml"} {
		m, err := filepath.Glob(filepath.Join(root, ".github", "workflows", pattern))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, m...)
	}
	actions := filepath.Join(root, ".github", "actions")
	if _, err := os.Stat(actions); err == nil {
		err := filepath.WalkDir(actions, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && (d.Name() == "action.yml" || d.Name() == "action.yaml") {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	sort.Strings(files)
	return files
}

func TestWorkflowsPinned(t *testing.T) {
	root := repoRoot(t)
	files := workflowFiles(t, root)
	present := map[string]bool{}
	var problems []string
	var pins []actionPin
	for _, f := range files {
		text, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, f)
		present[filepath.Base(f)] = strings.HasPrefix(rel, filepath.Join(".github", "workflows"))
		var p []string
		var filePins []actionPin
		if strings.HasPrefix(rel, filepath.Join(".github", "workflows")) {
			p, filePins = checkWorkflow(rel, string(text))
		} else {
			p, filePins = checkUses(rel, string(text)) // a composite action has no permissions of its own
			p = append(p, checkWorkflowImages(rel, string(text))...)
		}
		problems = append(problems, p...)
		pins = append(pins, filePins...)
	}
	for _, w := range requiredWorkflows {
		if !present[w] {
			problems = append(problems, ".github/workflows/"+w+" is missing")
		}
	}
	if len(pins) == 0 {
		problems = append(problems, "no pinned action found: the check would pass vacuously")
	}
	problems = append(problems, checkPinConsistency(pins)...)
	wantNoProblems(t, ".github", problems)
}

func TestGitLabCIImagesPinned(t *testing.T) {
	text, err := os.ReadFile(filepath.Join(repoRoot(t), ".gitlab-ci.yml"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(text), "image:") {
		t.Fatal(".gitlab-ci.yml names no image: the check would pass vacuously")
	}
	wantNoProblems(t, ".gitlab-ci.yml", checkGitLabImages(".gitlab-ci.yml", string(text)))
}

const (
	sha40 = "3d3c42e5aac5ba805825da76410c181273ba90b1"
	sha64 = "be1190afcb28352bfddc4ddeb71470835d16462af68d310f9f4bca710961a41e"
)

// goodWorkflow passes every check; each case of TestWorkflowRulesBite breaks one thing in it.
const goodWorkflow = `name: x
on: push
permissions:
  contents: read # the default for every job
jobs:
  a:
    permissions:
      contents: write
    services:
      db:
        image: postgres:17@sha256:` + sha64 + `
    steps:
      - uses: actions/checkout@` + sha40 + ` # v7.0.1
      - uses: "github/codeql-action/init@` + sha40 + `" # v4.37.8
      - uses: ./.github/actions/local
      - uses: docker://alpine:3@sha256:` + sha64 + `
      - name: x
        uses: actions/setup-go@` + sha40 + ` # v7.0.0
`

func TestWorkflowRulesBite(t *testing.T) {
	problems, pins := checkWorkflow("good.yml", goodWorkflow)
	wantNoProblems(t, "goodWorkflow", problems)
	if len(pins) != 3 {
		t.Errorf("goodWorkflow: got %d pins, want 3", len(pins))
	}
	for _, tc := range []struct {
		name, old, new, want string
	}{
		{"tag instead of a SHA", "actions/checkout@" + sha40, "actions/checkout@v7", "not pinned by a full 40-hex commit SHA"},
		{"short SHA", "actions/checkout@" + sha40, "actions/checkout@" + sha40[:12], "not pinned by a full 40-hex commit SHA"},
		{"branch", "actions/setup-go@" + sha40, "actions/setup-go@main", "not pinned by a full 40-hex commit SHA"},
		{"no version comment", sha40 + " # v7.0.1", sha40, "needs its release in a comment"},
		{"vague version comment", "# v7.0.1", "# v7", "needs its release in a comment"},
		{"docker action by tag", "alpine:3@sha256:" + sha64, "alpine:3", "not pinned by @sha256 digest"},
		{"service image by tag", "postgres:17@sha256:" + sha64, "postgres:17", "image postgres:17 is not pinned"},
		{"write at the top", "  contents: read # the default for every job", "  contents: write", "top-level permission contents: write"},
		{"write-all at the top", "permissions:\n  contents: read # the default for every job", "permissions: write-all", "top-level permissions: write-all"},
		{"no top-level permissions", "permissions:\n  contents: read # the default for every job\n", "", "no top-level permissions"},
		{"job container by tag", "      contents: write", "      contents: write\n    container: node:22", "image node:22 is not pinned"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(goodWorkflow, tc.old) {
				t.Fatalf("test case does not apply: %q not in goodWorkflow", tc.old)
			}
			problems, _ := checkWorkflow("bad.yml", strings.Replace(goodWorkflow, tc.old, tc.new, 1))
			wantProblem(t, problems, tc.want)
		})
	}

	t.Run("empty top-level permissions allowed", func(t *testing.T) {
		text := strings.Replace(goodWorkflow, "permissions:\n  contents: read # the default for every job", "permissions: {}", 1)
		wantNoProblems(t, "permissions: {}", checkTopLevelPermissions("x.yml", text))
	})
	t.Run("write-all anywhere", func(t *testing.T) {
		wantProblem(t, checkNoWriteAll("x.yml", "jobs:\n  a:\n    permissions: write-all\n"), "write-all permissions")
	})
	t.Run("one commit per action", func(t *testing.T) {
		other := strings.Repeat("a", 40)
		_, a := checkUses("a.yml", "- uses: actions/checkout@"+sha40+" # v7.0.1")
		_, b := checkUses("b.yml", "- uses: actions/checkout@"+other+" # v6.0.0")
		wantProblem(t, checkPinConsistency(append(a, b...)), "actions/checkout is pinned to 2 different commits")
	})
	t.Run("one version per commit", func(t *testing.T) {
		_, a := checkUses("a.yml", "- uses: actions/checkout@"+sha40+" # v7.0.1")
		_, b := checkUses("b.yml", "- uses: actions/checkout@"+sha40+" # v7.0.0")
		wantProblem(t, checkPinConsistency(append(a, b...)), "is v7.0.1 at a.yml:1 but v7.0.0 at b.yml:1")
	})
}

// goodGitLabCI passes checkGitLabImages; each case of TestGitLabCIRulesBite breaks one image.
const goodGitLabCI = `variables:
  GO_IMAGE: golang:1.26@sha256:` + sha64 + `
  TRIVY_IMAGE: aquasec/trivy:0.70.0@sha256:` + sha64 + `
.go:
  image: $GO_IMAGE
test:
  extends: .go
  services:
    - name: postgres:17@sha256:` + sha64 + `
      alias: postgres
    - redis:7@sha256:` + sha64 + `
scan:
  image:
    name: ${TRIVY_IMAGE}
    entrypoint: [""]
  environment:
    name: production
`

func TestGitLabCIRulesBite(t *testing.T) {
	wantNoProblems(t, "goodGitLabCI", checkGitLabImages("good.yml", goodGitLabCI))
	for _, tc := range []struct {
		name, old, new, want string
	}{
		{"variable by tag", "GO_IMAGE: golang:1.26@sha256:" + sha64, "GO_IMAGE: golang:1.26", "image $GO_IMAGE = golang:1.26 is not pinned"},
		{"unknown variable", "image: $GO_IMAGE", "image: $NO_SUCH_IMAGE", "names no top-level variable"},
		{"inline image by tag", "image: $GO_IMAGE", "image: golang:1.26", "image golang:1.26 is not pinned"},
		{"service mapping by tag", "- name: postgres:17@sha256:" + sha64, "- name: postgres:17", "image postgres:17 is not pinned"},
		{"service scalar by tag", "- redis:7@sha256:" + sha64, "- redis:7", "image redis:7 is not pinned"},
		{"image block by tag", "name: ${TRIVY_IMAGE}", "name: aquasec/trivy:latest", "image aquasec/trivy:latest is not pinned"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(goodGitLabCI, tc.old) {
				t.Fatalf("test case does not apply: %q not in goodGitLabCI", tc.old)
			}
			wantProblem(t, checkGitLabImages("bad.yml", strings.Replace(goodGitLabCI, tc.old, tc.new, 1)), tc.want)
		})
	}
}

// TestDependabotEcosystems keeps every kind of pin under Dependabot: Go modules, the SHA-pinned actions
// and the digest-pinned images.
func TestDependabotEcosystems(t *testing.T) {
	text, err := os.ReadFile(filepath.Join(repoRoot(t), ".github", "dependabot.yml"))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, line := range strings.Split(string(text), "\n") {
		if m := keyLine.FindStringSubmatch(line); len(m) > 4 && m[3] == "package-ecosystem" {
			v, _ := splitComment(m[4])
			seen[v] = true
		}
	}
	var problems []string
	for _, want := range []string{"gomod", "github-actions", "docker"} {
		if !seen[want] {
			problems = append(problems, "no update entry for the "+want+" ecosystem")
		}
	}
	wantNoProblems(t, ".github/dependabot.yml", problems)
}

// toolVersion matches a pinned tool version in the Makefile (`NAME_VERSION ?= v1.2.3`).
var toolVersion = regexp.MustCompile(`^([A-Z][A-Z0-9_]*_VERSION)\s*\?=\s*(\S+)\s*$`)

// checkToolVersions reports a pipeline that pins a tool of the Makefile at another version: `make audit`
// and the pipelines must judge the code with the same tools.
func checkToolVersions(makefile string, pipelines map[string]string) []string {
	want := map[string]string{}
	for _, line := range strings.Split(makefile, "\n") {
		if m := toolVersion.FindStringSubmatch(line); m != nil {
			want[m[1]] = m[2]
		}
	}
	var problems []string
	if len(want) == 0 {
		return []string{"Makefile: no NAME_VERSION ?= pins found"}
	}
	names := make([]string, 0, len(pipelines))
	for name := range pipelines {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		for i, line := range strings.Split(pipelines[name], "\n") {
			m := keyLine.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			pinned, ok := want[m[3]]
			if !ok {
				continue
			}
			if got, _ := splitComment(m[4]); got != pinned {
				problems = append(problems, fmt.Sprintf("%s:%d: %s is %s, but the Makefile pins %s", name, i+1, m[3], got, pinned))
			}
		}
	}
	return problems
}

func TestToolVersionsAgree(t *testing.T) {
	root := repoRoot(t)
	read := func(rel string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	pipelines := map[string]string{".gitlab-ci.yml": read(".gitlab-ci.yml")}
	for _, f := range workflowFiles(t, root) {
		rel, _ := filepath.Rel(root, f)
		pipelines[rel] = read(rel)
	}
	wantNoProblems(t, "tool versions", checkToolVersions(read("Makefile"), pipelines))

	t.Run("bites", func(t *testing.T) {
		makefile := "GOLANGCI_LINT_VERSION ?= v2.15.0\n"
		wantNoProblems(t, "same version", checkToolVersions(makefile, map[string]string{"ci.yml": "env:\n  GOLANGCI_LINT_VERSION: v2.15.0\n"}))
		wantProblem(t, checkToolVersions(makefile, map[string]string{"ci.yml": "env:\n  GOLANGCI_LINT_VERSION: v2.14.0\n"}),
			"ci.yml:2: GOLANGCI_LINT_VERSION is v2.14.0, but the Makefile pins v2.15.0")
	})
}
