# Fortress: the two commands a newcomer needs are `make run` (or `go run ./cmd/fortress serve`) and
# `make test`. Everything here works offline once the Go modules are downloaded.

GO        ?= go
COVER_MIN ?= 85
BENCHTIME ?= 1s
BIN       ?= bin/fortress

FUZZTIME  ?= 30s

# The tools of `make audit` and of the pre-commit hooks, pinned; `make tools` installs exactly these (CI
# too, through .ci/run). Bump them together with the versions in .github/workflows and .gitlab-ci.yml.
GOLANGCI_LINT_VERSION   ?= v2.15.0
GOVULNCHECK_VERSION     ?= v1.9.0
GITLEAKS_VERSION        ?= v8.30.1
ACTIONLINT_VERSION      ?= v1.7.12
CYCLONEDX_GOMOD_VERSION ?= v1.10.0
HCLFMT_VERSION          ?= v2.25.0

.PHONY: run test cover bench microbench fuzz build vet clean lint audit tools

## run: start the server on embedded SQLite with development defaults (http://127.0.0.1:8000/)
run:
	$(GO) run ./cmd/fortress serve

## test: vet, then every test (unit, both engines, end-to-end) with -race, the tracing build (-tags otel),
## then the coverage gate
test: vet
	$(GO) test -race -count=1 -coverpkg=./... -coverprofile=coverage.out ./...
	$(GO) vet -tags otel ./cmd/fortress/
	$(GO) test -race -count=1 -tags otel -run Tracing ./cmd/fortress/
	@$(MAKE) --no-print-directory cover

## cover: fail when statement coverage of the module is under COVER_MIN percent
cover:
	@total=$$($(GO) tool cover -func=coverage.out | awk '/^total:/ {sub("%", "", $$3); print $$3}'); \
	echo "coverage: $$total% of statements (gate: $(COVER_MIN)%)"; \
	awk -v t="$$total" -v min="$(COVER_MIN)" 'BEGIN { exit !(t >= min) }' || \
	  { echo "coverage $$total% is under the $(COVER_MIN)% gate"; exit 1; }

vet:
	$(GO) vet ./...

## bench: build the release binary, then load it on SQLite and PostgreSQL against the ceilings the
## machine allows (cmd/fortress-bench; docs/performance.md): a table on stdout, JSON in bin/bench.json.
## BENCH_FLAGS passes flags, e.g. BENCH_FLAGS='-duration 2s -engines sqlite'
bench: build
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/fortress-bench ./cmd/fortress-bench
	bin/fortress-bench -bin $(BIN) -json bin/bench.json $(BENCH_FLAGS)

## profile: build the server with its profiler (bin/fortress-pprof: `make build` plus -tags pprof; the
## release binary has none) and the harness, then run PROFILE_FLAGS' scenarios against it, pinned and
## loaded as in `make bench`: CPU profiles in bin/profile-ENGINE.prof (docs/performance.md, Profiling).
## E.g. PROFILE_FLAGS='-engines sqlite,postgres -duration 10s -memprofile bin/allocs-ENGINE.prof'
PROFILE_FLAGS ?=
.PHONY: profile
profile:
	CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=true -ldflags='-s -w' -tags pprof -o bin/fortress-pprof ./cmd/fortress
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/fortress-bench ./cmd/fortress-bench
	bin/fortress-bench profile -bin bin/fortress-pprof $(PROFILE_FLAGS)

## soak: a bounded mixed workload (reads, writes, logins) against the real binary for SOAK_DURATION
## (default 10m; SOAK_RATE req/s, default 50; SOAK_DATABASE=postgres for PostgreSQL): RSS, goroutines,
## threads and open files must stay within opstest's bounds, and no request may fail or answer 5xx
## (opstest.TestSoak).
## The test bounds itself by SOAK_DURATION, hence no go test timeout.
SOAK_DURATION ?= 10m
.PHONY: soak
soak:
	SOAK_DURATION=$(SOAK_DURATION) $(GO) test -count=1 -timeout 0 -run '^TestSoak$$' -v ./opstest/

## microbench: the Go micro-benchmarks of the hot paths (token issue/verify, password hash/verify, one
## authenticated item read through the handler stack, the rate-limit stores, and the per-request session
## check of both engines next to a bare user lookup: the price of immediate revocation), then BenchmarkAPI
microbench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./token/ ./password/ ./httpapi/ ./ratelimit/
	$(GO) test -run '^$$' -bench Authentication -benchmem -benchtime $(BENCHTIME) ./sqlite/ ./postgres/
# BenchmarkAPI: /health and an authenticated item read through the whole server as `fortress serve` wires
# it (cmd/fortress buildAPI), on both engines, next to the ceilings' handlers (internal/ceiling): the
# in-process counterpart of `make bench`'s ratios, without the sockets.
	$(GO) test -run '^$$' -bench BenchmarkAPI -benchmem -benchtime $(BENCHTIME) ./cmd/fortress/

## fuzz: run every fuzz target for FUZZTIME each: a duration (30s) or an execution count (50000x); a crash
## is saved under testdata/fuzz and from then on replayed by `make test` as a regression test. CI uses a
## count: with a duration, Go 1.26's coordinator can report a bare "context deadline exceeded" failure
## when the deadline races a busy worker (go.dev/issue/75804, fixed in Go 1.27); a count has no deadline.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$target ($(FUZZTIME))"; \
	    $(GO) test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

## build: a static, reproducible binary with its VCS revision in the build info
build:
	CGO_ENABLED=0 $(GO) build -trimpath -buildvcs=true -ldflags='-s -w' -o $(BIN) ./cmd/fortress

clean:
	rm -rf bin coverage.out

## lint: golangci-lint over the whole module, tests included (.golangci.yml); zero findings
lint:
	golangci-lint run ./...

## audit: the offline supply-chain and delivery checks (.ci/audit.sh says which); CI runs it after test
audit:
	@bash .ci/audit.sh

## tools: install the pinned Go tools of `make audit` into $(go env GOPATH)/bin (Debian's shellcheck,
## yamllint and pre-commit come from apt: see .ci/run)
tools:
	$(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	$(GO) install golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION)
	$(GO) install github.com/zricethezav/gitleaks/v8@$(GITLEAKS_VERSION)
	$(GO) install github.com/rhysd/actionlint/cmd/actionlint@$(ACTIONLINT_VERSION)
	$(GO) install github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@$(CYCLONEDX_GOMOD_VERSION)
	$(GO) install github.com/hashicorp/hcl/v2/cmd/hclfmt@$(HCLFMT_VERSION)
