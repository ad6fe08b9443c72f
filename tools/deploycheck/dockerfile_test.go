package deploycheck

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDockerfile(t *testing.T) {
	f, err := os.Open(filepath.Join(repoRoot(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	problems, err := CheckDockerfile(f)
	if err != nil {
		t.Fatal(err)
	}
	wantNoProblems(t, "Dockerfile", problems)
}

// goodDockerfile passes every rule; each case of TestDockerfileRulesBite breaks one.
const goodDockerfile = `FROM scratch AS vcs
FROM golang:1.26.8-bookworm@sha256:dc9ad6c05acc7a88e5b71bde60a5fe3bd4b9f0db209011711b464107438a8107 AS build
ENV CGO_ENABLED=0
RUN go build -trimpath -ldflags='-s -w' -o /out/fortress ./cmd/fortress
FROM gcr.io/distroless/static-debian12:nonroot@sha256:afa5c872c891853ca7fcf1f12c3edb23f7eeef36189728842dd51042ff57f7ab
COPY --from=build /out/fortress /fortress
ENV FORTRESS_ADDR=:8000 JWT_SECRET_KEY_FILE=/run/secrets/jwt_secret_key
USER 65532:65532
EXPOSE 8000
HEALTHCHECK CMD ["/fortress", "healthcheck"]
ENTRYPOINT ["/fortress"]
CMD ["serve"]
`

func TestDockerfileRulesBite(t *testing.T) {
	problems, err := CheckDockerfile(strings.NewReader(goodDockerfile))
	if err != nil {
		t.Fatal(err)
	}
	wantNoProblems(t, "the good example", problems)

	const builder = "golang:1.26.8-bookworm@sha256:dc9ad6c05acc7a88e5b71bde60a5fe3bd4b9f0db209011711b464107438a8107"
	const runtime = "gcr.io/distroless/static-debian12:nonroot@sha256:afa5c872c891853ca7fcf1f12c3edb23f7eeef36189728842dd51042ff57f7ab"
	cases := []struct {
		name, old, new, want string
	}{
		{"builder by tag", builder, "golang:1.26.8-bookworm", "not pinned by digest"},
		{"runtime by tag", runtime, "gcr.io/distroless/static-debian12:nonroot", "not pinned by digest"},
		{"base from an ARG", "FROM " + builder, "ARG BASE=" + builder + "\nFROM ${BASE}", "build argument"},
		{"runtime with a shell", runtime, "debian:bookworm-slim@sha256:" + strings.Repeat("a", 64), "distroless"},
		{"root user", "USER 65532:65532", "USER 0", "root"},
		{"named user", "USER 65532:65532", "USER nonroot", "numeric uid"},
		{"no user", "USER 65532:65532\n", "", "USER \"\": missing"},
		{"no healthcheck", `HEALTHCHECK CMD ["/fortress", "healthcheck"]` + "\n", "", "no HEALTHCHECK"},
		{"curl healthcheck", `CMD ["/fortress", "healthcheck"]`, `CMD curl -f http://localhost:8000/health`, "must be CMD"},
		{"no expose", "EXPOSE 8000\n", "", "no EXPOSE"},
		{"add url", "COPY --from=build", "ADD https://example.com/tool.tgz /tool.tgz\nCOPY --from=build", "ADD https://example.com/tool.tgz"},
		{"secret env", "ENV FORTRESS_ADDR=:8000", "ENV JWT_SECRET_KEY=hunter2hunter2hunter2hunter2hunter2 FORTRESS_ADDR=:8000", "ENV JWT_SECRET_KEY"},
		{"password env", "ENV FORTRESS_ADDR=:8000", "ENV POSTGRES_PASSWORD=x FORTRESS_ADDR=:8000", "ENV POSTGRES_PASSWORD"},
		{"token arg", "ENV CGO_ENABLED=0", "ARG GITHUB_TOKEN\nENV CGO_ENABLED=0", "ARG GITHUB_TOKEN"},
		{"cgo on", "ENV CGO_ENABLED=0\n", "", "CGO_ENABLED=0"},
		{"no trimpath", "-trimpath ", "", "-trimpath"},
		{"not stripped", "-ldflags='-s -w' ", "", "-s -w"},
		{"no vcs", "go build -trimpath", "go build -buildvcs=false -trimpath", "-buildvcs=false"},
		{"shell entrypoint", `ENTRYPOINT ["/fortress"]`, `ENTRYPOINT /fortress`, "shell form"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(goodDockerfile, tc.old) {
				t.Fatalf("the good example has no %q to replace", tc.old)
			}
			bad := strings.Replace(goodDockerfile, tc.old, tc.new, 1)
			problems, err := CheckDockerfile(strings.NewReader(bad))
			if err != nil {
				t.Fatal(err)
			}
			wantProblem(t, problems, tc.want)
		})
	}
}

func TestLooksSecret(t *testing.T) {
	for name, want := range map[string]bool{
		"JWT_SECRET_KEY": true, "POSTGRES_PASSWORD": true, "GITHUB_TOKEN": true, "API_KEY": true,
		"AWS_SECRET_ACCESS_KEY": true, "DATABASE_URL": true, "REDIS_URL": true, "SENTRY_DSN": true, "SSH_PRIVATE_KEY": true,
		"JWT_SECRET_KEY_FILE": false, "GF_SECURITY_ADMIN_PASSWORD__FILE": false, "FORTRESS_ADDR": false,
		"MONKEY": false, "KEYBOARD": false, "CGO_ENABLED": false, "FORTRESS_ENV": false,
	} {
		if got := looksSecret(name); got != want {
			t.Errorf("looksSecret(%q) = %v, want %v", name, got, want)
		}
	}
}
