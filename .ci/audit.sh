#!/usr/bin/env bash
# `make audit`: the supply-chain and delivery checks that need no network, run after `make test`.
#
#   golangci-lint    the module, tests included (.golangci.yml): zero findings
#   govulncheck      known vulnerabilities in code the module calls; needs vuln.go.dev (or GOVULNDB=file://…):
#                    when the database cannot be reached it says so in one line and goes on, because the
#                    CI pipelines enforce it
#   gitleaks         secrets in the whole git history (.gitleaks.toml)
#   actionlint       the GitHub workflows, with shellcheck on their run: scripts
#   scripts          shellcheck on every shell script of the repository
#   yamllint         every YAML file: compose, Kubernetes, both CI systems, tool configs (.yamllint)
#   pre-commit       .pre-commit-config.yaml is a valid configuration
#   terraform fmt    deploy/terraform is formatted (hclfmt, the same formatter, when terraform is absent)
#   promtool         deploy/monitoring: prometheus.yml parses, the recording and alert rules parse with no
#                    duplicates (promtool check rules), and their unit tests pass (promtool test rules
#                    alerts_test.yml: every alert firing and not firing); Debian's prometheus package
#   deploycheck      tools/deploycheck: Dockerfile (BuildKit parser), compose.yaml (compose-spec loader),
#                    Kubernetes manifests, reproducible build, every workflow action pinned by SHA, and
#                    deploy/monitoring held to the server's metrics (rules, dashboard queries, mounts)
#   sbom             a CycloneDX SBOM of what cmd/fortress links, in bin/fortress.cdx.json
#   openapi-lint     /openapi.json against Spectral's OWASP API Security ruleset (.spectral.yaml), zero
#                    errors; scripts/openapi-lint.sh installs the pinned Spectral from npm when missing
#
# A missing tool fails the audit under CI=true (.ci/run installs every one; `make tools` installs the Go
# ones); on a developer's machine it is skipped with one line saying how to get it, and the summary says
# the audit is incomplete.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
PATH="$PATH:$(go env GOPATH 2>/dev/null || echo "$HOME/go")/bin"

ci=false
case "${CI:-}" in true | 1 | yes) ci=true ;; esac

passed=() failed=() skipped=()

# run NAME TOOL... -- COMMAND...: runs COMMAND when every TOOL is on PATH.
run() {
  local name=$1 tool missing=()
  shift
  while [ "$1" != "--" ]; do
    command -v "$1" >/dev/null 2>&1 || missing+=("$1")
    shift
  done
  shift
  printf '\n== %s\n' "$name"
  if [ ${#missing[@]} -gt 0 ]; then
    for tool in "${missing[@]}"; do
      echo "$name: $tool is not installed (make tools, or see .ci/run)"
    done
    if $ci; then failed+=("$name (missing ${missing[*]})"); else skipped+=("$name"); fi
    return
  fi
  if "$@"; then passed+=("$name"); else failed+=("$name"); fi
}

lint() { golangci-lint run ./...; }

vulncheck() {
  local out rc
  out=$(govulncheck ./... 2>&1)
  rc=$?
  if [ $rc -ne 0 ] && grep -qE 'fetching vulnerabilities|dial tcp|no such host|connection refused|i/o timeout|network is unreachable' <<<"$out"; then
    echo "govulncheck: vulnerability database unreachable from here; not checked offline (the CI pipelines enforce it)"
    return 0
  fi
  printf '%s\n' "$out"
  return $rc
}

secrets() {
  if ! git rev-parse --git-dir >/dev/null 2>&1; then
    echo "gitleaks: not a git checkout, no history to scan"
    return 1
  fi
  gitleaks git --no-banner --redact --config .gitleaks.toml --exit-code 1 .
}

workflows() { actionlint -no-color && echo "actionlint: .github/workflows pass"; }

scripts() {
  local f files=()
  while IFS= read -r f; do
    case "$f" in
      *.sh) files+=("$f") ;;
      *) head -n 1 "$f" | grep -qE '^#!(/usr/bin/env (ba)?sh|/bin/(ba)?sh)' && files+=("$f") ;;
    esac
  done < <(find . \( -path ./.git -o -name node_modules -o -path ./bin -o -path ./dist \) -prune \
    -o -type f \( -name '*.sh' -o -path './.ci/*' -o -path './scripts/*' \) -print | sort)
  if [ ${#files[@]} -eq 0 ]; then
    echo "shellcheck: no shell scripts found"
    return 1
  fi
  echo "shellcheck: ${files[*]}"
  shellcheck --external-sources "${files[@]}"
}

yaml() { yamllint -c .yamllint --strict . && echo "yamllint: every YAML file passes"; }

precommit() { pre-commit validate-config .pre-commit-config.yaml && echo "pre-commit: .pre-commit-config.yaml is valid"; }

tffmt() {
  local dir=deploy/terraform
  if [ -z "$(find "$dir" -name '*.tf' 2>/dev/null | head -n 1)" ]; then
    echo "terraform fmt: no Terraform files under $dir"
    return 1
  fi
  if command -v terraform >/dev/null 2>&1; then
    # fmt reads no CLI configuration; a TF_CLI_CONFIG_FILE naming a missing file would only add a warning.
    TF_CLI_CONFIG_FILE=/dev/null terraform fmt -check -recursive -diff "$dir" && echo "terraform fmt: $dir is formatted"
  else
    echo "terraform is not installed: checking with hclfmt, the HCL formatter terraform fmt is built on"
    local f rc=0
    while IFS= read -r f; do
      hclfmt -require-no-change "$f" >/dev/null || { echo "not formatted: $f"; rc=1; }
    done < <(find "$dir" -name '*.tf' | sort)
    [ $rc -eq 0 ] && echo "hclfmt: $dir is formatted"
    return $rc
  fi
}

# check config also parses the rule files prometheus.yml names; check rules lints them for duplicates.
alertrules() {
  local dir=deploy/monitoring
  promtool check config "$dir/prometheus.yml" &&
    promtool check rules --lint=all --lint-fatal "$dir/recording.yml" "$dir/alerts.yml" &&
    promtool test rules "$dir/alerts_test.yml"
}

deploycheck() { (cd tools/deploycheck && go test ./...); }

sbom() {
  mkdir -p bin
  cyclonedx-gomod app -json -licenses -main cmd/fortress -output bin/fortress.cdx.json . 2>/dev/null || return 1
  grep -q '"bomFormat": "CycloneDX"' bin/fortress.cdx.json &&
    grep -q '"name": "github.com/golang-jwt/jwt/v5"' bin/fortress.cdx.json &&
    echo "sbom: bin/fortress.cdx.json ($(grep -c '"bom-ref"' bin/fortress.cdx.json) bom-refs)"
}

run golangci-lint golangci-lint -- lint
run govulncheck govulncheck -- vulncheck
run gitleaks gitleaks git -- secrets
run actionlint actionlint shellcheck -- workflows
run shellcheck shellcheck -- scripts
run yamllint yamllint -- yaml
run pre-commit-config pre-commit -- precommit
if command -v terraform >/dev/null 2>&1; then
  run "terraform fmt" terraform -- tffmt
else
  run "terraform fmt" hclfmt -- tffmt
fi
run promtool promtool -- alertrules
run deploycheck go -- deploycheck
run sbom cyclonedx-gomod -- sbom
run openapi-lint node npm -- bash scripts/openapi-lint.sh

printf '\n== audit summary\n'
[ ${#passed[@]} -gt 0 ] && printf 'passed:  %s\n' "${passed[*]}"
[ ${#skipped[@]} -gt 0 ] && printf 'skipped: %s (INCOMPLETE: install the tools above)\n' "${skipped[*]}"
[ ${#failed[@]} -gt 0 ] && printf 'FAILED:  %s\n' "${failed[*]}"
summary="audit: ${#passed[@]} passed, ${#failed[@]} failed"
[ ${#skipped[@]} -gt 0 ] && summary="$summary, ${#skipped[@]} skipped"
echo "$summary"
[ ${#failed[@]} -eq 0 ]
