# Fortress container image: one static binary on a distroless base, running as a non-root user.
#
#   docker build -t fortress .                                  # binary without VCS stamp
#   docker build --build-context vcs=.git -t fortress .         # with vcs.revision/time in the build info
#
# Base images are pinned by digest (the tag stays as human-readable context): a tag can be re-pointed, a
# digest cannot. Dependabot's docker ecosystem (.github/dependabot.yml) proposes new digests; take them.
# The builder's Go version matches the go directive of go.mod, and GOTOOLCHAIN=local forbids the build to
# download another toolchain.
#
# Build info and .git: `fortress version` reads vcs.revision from the build info that `go build` embeds
# when it sees a .git directory. .dockerignore keeps .git out of the build context (history, hooks and any
# accidentally committed secret never enter a layer), so by default the binary has no VCS stamp. Passing
# the repository as the named context "vcs" (second command above) replaces the empty "vcs" stage below;
# the builder then sees it through a read-only bind mount for the one RUN that compiles, so the stamp is
# embedded while .git is still in no layer of any stage. The image also carries the revision as the OCI
# label org.opencontainers.image.revision when REVISION is passed (CI passes the commit SHA).
#
# Reproducible: the binary depends only on the source, go.sum and the pinned toolchain (-trimpath drops
# paths, the build id is content-derived, VCS values are those of the commit).
# tools/deploycheck proves two builds are byte-identical and enforces the rules of this file.

# Empty unless the build is given `--build-context vcs=.git`.
FROM scratch AS vcs

FROM golang:1.26.8-bookworm@sha256:dc9ad6c05acc7a88e5b71bde60a5fe3bd4b9f0db209011711b464107438a8107 AS build
ENV CGO_ENABLED=0 \
    GOTOOLCHAIN=local \
    GOFLAGS=-mod=readonly
WORKDIR /src

# Modules first, in their own layer, checked against go.sum.
COPY go.mod go.sum ./
RUN go mod download && go mod verify

COPY . .
# The .git symlink exists only when the vcs context was given; -buildvcs=auto then stamps the revision,
# and without it builds without one. safe.directory: the bind-mounted repository belongs to the host's uid.
# /out/data becomes the runtime's writable working directory (owned by the non-root user there).
RUN --mount=type=bind,from=vcs,target=/vcs \
    if [ -f /vcs/HEAD ]; then \
        git config --global --add safe.directory '*' && ln -s /vcs /src/.git; \
    fi && \
    go build -trimpath -buildvcs=auto -ldflags='-s -w' -o /out/fortress ./cmd/fortress && \
    rm -f /src/.git && \
    mkdir -p /out/data && \
    /out/fortress version

# No shell, no package manager; uid/gid 65532 is "nonroot" in this image. Static CA roots and tzdata only.
FROM gcr.io/distroless/static-debian12:nonroot@sha256:afa5c872c891853ca7fcf1f12c3edb23f7eeef36189728842dd51042ff57f7ab

ARG REVISION=""
ARG VERSION=""
LABEL org.opencontainers.image.title="fortress" \
      org.opencontainers.image.description="Secure-by-default HTTP API: JWT, Argon2id, per-user items" \
      org.opencontainers.image.licenses="MIT" \
      org.opencontainers.image.source="https://github.com/fortress-dev/fortress" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.version="${VERSION}"

COPY --from=build /out/fortress /fortress
# The working directory is where the default SQLite file (./fortress.db) lands when no DATABASE_URL is
# given: mount a volume here to keep it. Everything else in the image is read-only to the process.
COPY --from=build --chown=65532:65532 /out/data /data
WORKDIR /data

# Non-secret defaults only. Secrets (JWT_SECRET_KEY, DATABASE_URL) come at run time, preferably as files
# named by JWT_SECRET_KEY_FILE / DATABASE_URL_FILE (docs/secrets.md); production refuses to start without.
ENV FORTRESS_ADDR=:8000 \
    FORTRESS_ENV=production

USER 65532:65532
EXPOSE 8000

# The binary is its own probe (the image has no shell or curl): exit 0 only when /health answers 200.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/fortress", "healthcheck"]

ENTRYPOINT ["/fortress"]
CMD ["serve"]
