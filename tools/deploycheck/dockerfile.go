package deploycheck

import (
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// digestRef matches an image reference pinned by a SHA-256 digest; a tag alone can be re-pointed by
// whoever controls the registry, a digest cannot.
var digestRef = regexp.MustCompile(`@sha256:[0-9a-f]{64}$`)

// secretName matches variable names that conventionally hold secrets. Names ending in _FILE are exempt
// because they hold the path of a secret, not the secret (the *_FILE convention of docs/secrets.md).
var secretName = regexp.MustCompile(`(?i)(SECRET|PASSW(OR)?D|TOKEN|CREDENTIAL|PRIVATE|(^|_)(API_?)?KEYS?($|_)|DATABASE_URL|REDIS_URL|_DSN$)`)

// looksSecret reports whether name should never carry a value in an image or a compose file.
func looksSecret(name string) bool {
	upper := strings.ToUpper(name)
	if strings.HasSuffix(upper, "_FILE") {
		return false
	}
	return secretName.MatchString(name)
}

// CheckDockerfile parses a Dockerfile with BuildKit's own parser and returns every violation of the
// container rules: each FROM pinned by digest (or scratch, or an earlier stage), a runtime stage on a
// distroless static nonroot base, a numeric non-root USER, a HEALTHCHECK that runs the entrypoint's
// "healthcheck" subcommand, an EXPOSE, no ADD of a URL, no secret-looking ENV or ARG, a static, trimmed,
// stripped go build, and none of the lint warnings BuildKit raises while parsing instructions (stage name
// casing, for instance; the rest of BuildKit's checks run in `docker build --check`). An error means the
// file cannot be parsed.
func CheckDockerfile(r io.Reader) ([]string, error) {
	res, err := parser.Parse(r)
	if err != nil {
		return nil, fmt.Errorf("parse Dockerfile: %w", err)
	}
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	lint := linter.New(&linter.Config{
		Warn: func(rule, _, _, msg string, loc []parser.Range) {
			line := 0
			if len(loc) > 0 {
				line = loc[0].Start.Line
			}
			add("line %d: BuildKit check %s: %s", line, rule, msg)
		},
	})
	stages, metaArgs, err := instructions.Parse(res.AST, lint)
	if err != nil {
		return nil, fmt.Errorf("parse Dockerfile instructions: %w", err)
	}
	if len(stages) == 0 {
		return nil, fmt.Errorf("the Dockerfile has no FROM")
	}

	for _, a := range metaArgs {
		checkArg(&a, add)
	}

	known := map[string]bool{}
	goBuildSeen := false
	for i, st := range stages {
		checkFrom(st, i, known, add)
		if st.Name != "" {
			known[strings.ToLower(st.Name)] = true
		}
		cgoOff := false
		for _, cmd := range st.Commands {
			switch c := cmd.(type) {
			case *instructions.AddCommand:
				for _, src := range c.SourcePaths {
					if strings.Contains(src, "://") || strings.HasPrefix(src, "git@") {
						add("line %d: ADD %s fetches from the network at build time; download in a pinned, checksummed step or COPY a vendored file", lineOf(c), src)
					}
				}
			case *instructions.EnvCommand:
				for _, kv := range c.Env {
					if looksSecret(kv.Key) && kv.Value != "" {
						add("line %d: ENV %s puts a secret-looking value into every layer and `docker inspect`; supply it at run time through %s_FILE", lineOf(c), kv.Key, kv.Key)
					}
					if kv.Key == "CGO_ENABLED" && kv.Value == "0" {
						cgoOff = true
					}
				}
			case *instructions.ArgCommand:
				checkArg(c, add)
			case *instructions.RunCommand:
				line := strings.Join(c.CmdLine, " ")
				if strings.Contains(line, "go build") {
					goBuildSeen = true
					checkGoBuild(line, cgoOff, lineOf(c), add)
				}
			}
		}
	}
	if !goBuildSeen {
		add("no RUN go build found: the binary must be built from source in a builder stage")
	}

	checkRuntimeStage(stages[len(stages)-1], add)
	return problems, nil
}

// checkArg refuses build arguments named like secrets, with or without a default: --build-arg values are
// recorded in the image history. Build-time secrets belong in RUN --mount=type=secret.
func checkArg(c *instructions.ArgCommand, add func(string, ...any)) {
	for _, a := range c.Args {
		if looksSecret(a.Key) {
			add("line %d: ARG %s looks like a secret; build arguments are kept in the image history, use RUN --mount=type=secret", lineOf(c), a.Key)
		}
	}
}

// checkFrom requires each base to be pinned by digest, unless it is scratch or an earlier stage. A base
// taken from a build argument is refused too: neither this check nor Dependabot can see what it pins.
func checkFrom(st instructions.Stage, i int, known map[string]bool, add func(string, ...any)) {
	base := st.BaseName
	line := 0
	if len(st.Location) > 0 {
		line = st.Location[0].Start.Line
	}
	switch {
	case strings.Contains(base, "$"):
		add("line %d: FROM %s takes the image from a build argument; write the pinned reference literally", line, base)
	case base == "scratch" || known[strings.ToLower(base)]:
	case !digestRef.MatchString(base):
		add("line %d: FROM %s (stage %d) is not pinned by digest: use image:tag@sha256:<digest>", line, base, i)
	}
}

// checkGoBuild requires the build flags that make the binary static, path-independent and stripped.
func checkGoBuild(cmdline string, cgoOffByEnv bool, line int, add func(string, ...any)) {
	if !cgoOffByEnv && !strings.Contains(cmdline, "CGO_ENABLED=0") {
		add("line %d: go build without CGO_ENABLED=0: the distroless static base has no libc", line)
	}
	if !strings.Contains(cmdline, "-trimpath") {
		add("line %d: go build without -trimpath: build paths would leak into the binary and break reproducibility", line)
	}
	if !strings.Contains(cmdline, "-s -w") {
		add("line %d: go build without -ldflags='-s -w': ship a stripped binary", line)
	}
	if strings.Contains(cmdline, "-buildvcs=false") {
		add("line %d: go build -buildvcs=false drops the revision that `fortress version` reports", line)
	}
}

// checkRuntimeStage applies the rules that concern what actually runs: the last stage.
func checkRuntimeStage(st instructions.Stage, add func(string, ...any)) {
	if !strings.HasPrefix(st.BaseName, "gcr.io/distroless/static") || !strings.Contains(st.BaseName, ":nonroot") {
		add("runtime stage FROM %s: use gcr.io/distroless/static-debian12:nonroot (no shell, no package manager)", st.BaseName)
	}
	var (
		user, entrypoint string
		health           *instructions.HealthCheckCommand
		exposed          bool
	)
	for _, cmd := range st.Commands {
		switch c := cmd.(type) {
		case *instructions.UserCommand:
			user = c.User
		case *instructions.EntrypointCommand:
			if c.PrependShell {
				add("line %d: ENTRYPOINT in shell form needs a shell the runtime image does not have; use the exec form [\"/fortress\"]", lineOf(c))
			} else if len(c.CmdLine) > 0 {
				entrypoint = c.CmdLine[0]
			}
		case *instructions.HealthCheckCommand:
			health = c
		case *instructions.ExposeCommand:
			exposed = len(c.Ports) > 0
		}
	}

	if problem := nonRootNumeric(user); problem != "" {
		add("runtime stage USER %q: %s", user, problem)
	}
	if entrypoint == "" {
		add("runtime stage has no exec-form ENTRYPOINT")
	}
	switch {
	case health == nil || health.Health == nil:
		add("runtime stage has no HEALTHCHECK")
	case len(health.Health.Test) < 3 || health.Health.Test[0] != "CMD" ||
		health.Health.Test[1] != entrypoint || health.Health.Test[2] != "healthcheck":
		add("line %d: HEALTHCHECK %q must be CMD [%q, \"healthcheck\"]: the image has no shell or curl", lineOf(health), health.Health.Test, entrypoint)
	}
	if !exposed {
		add("runtime stage has no EXPOSE")
	}
}

// nonRootNumeric explains what is wrong with a USER value, or returns "". The value must be numeric so
// that Kubernetes' runAsNonRoot can verify it without reading /etc/passwd, and must not be uid 0.
func nonRootNumeric(user string) string {
	if user == "" {
		return "missing: the process would run as the base image's default user"
	}
	uid, gid, hasGID := strings.Cut(user, ":")
	n, err := strconv.ParseUint(uid, 10, 32)
	if err != nil {
		return "use a numeric uid (e.g. 65532:65532) so that runAsNonRoot can verify it"
	}
	if n == 0 {
		return "uid 0 is root"
	}
	if hasGID {
		g, err := strconv.ParseUint(gid, 10, 32)
		if err != nil {
			return "use a numeric gid"
		}
		if g == 0 {
			return "gid 0 is the root group"
		}
	}
	return ""
}

// lineOf is the first line of an instruction, for messages.
func lineOf(c interface{ Location() []parser.Range }) int {
	if loc := c.Location(); len(loc) > 0 {
		return loc[0].Start.Line
	}
	return 0
}
