# The production image: one static binary in an otherwise empty image (under 3 MB).
#
#   docker compose up --build --wait                        # the usual way (compose.yml)
#   DOCKER_BUILDKIT=1 docker build --build-arg LAB_LOGIN=alice --build-arg LAB_TOKEN=... \
#       --build-arg REVISION="$(git rev-parse HEAD)" -t alice/image-lab:01234567 .
#
# Needs BuildKit (for RUN --mount): the default with Docker 23+ (the buildx plugin), and
# DOCKER_BUILDKIT=1 with the 20.10 CLI. No registry? `cargo xtask builder-image` first.
#
# Deliberately no `# syntax=docker/dockerfile:1` line: it makes BuildKit pull the frontend
# image docker/dockerfile from Docker Hub before building, which fails without a registry.
# The frontend built into Engine 20.10 and later already understands RUN --mount.
#
# Reproducible: nothing depends on the date or the machine. The same commit and build args give
# the same image ID while the layer cache holds; rebuilt from scratch (--no-cache) they give the
# same layers (`docker inspect -f '{{.RootFS.Layers}}'`), but Engine 20.10's BuildKit stamps the
# config with the build time, so the ID differs. BuildKit >= 0.11 (Docker 23+) fixes that with
# --build-arg SOURCE_DATE_EPOCH="$(git log -1 --format=%ct)".
#
# Every instruction below says why it is there.

# The build image, pinned to an exact Rust and Debian release; `cargo xtask builder-image` reads this line.
ARG RUST_IMAGE=rust:1.95.0-slim-bookworm

# ---------------------------------------------------------------- build stage
# The compiler stage: cargo, rustc, gcc and glibc's static libraries; none of it reaches the final image.
# checkov:skip=CKV_DOCKER_7: checkov cannot resolve ${RUST_IMAGE}, whose default above is an exact tag (verify: pinned-base).
FROM ${RUST_IMAGE} AS build

# cargo-auditable, pinned: `cargo auditable build` (below) embeds the list of crates compiled in, so that
# scanners (Trivy, Grype, Syft) see the dependencies of a binary in an image with no package database.
# Compiled once from crates.io into this cached layer, before the sources are copied in: editing them
# never compiles it again.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    cargo install --locked cargo-auditable@0.7.7

# A fixed path: it ends up in the binary (panic locations), so the same sources give the same bytes.
WORKDIR /src

# /out holds the final image's files: the runtime user's entries (printf: heredocs need a newer frontend), mtime fixed.
RUN mkdir -p /out/etc \
 && printf 'app:x:10001:10001:image-lab service:/nonexistent:/sbin/nologin\n' > /out/etc/passwd \
 && printf 'app:x:10001:\n' > /out/etc/group \
 && touch -d @0 /out/etc/passwd /out/etc/group /out/etc

# The workspace manifest and lock file (the service's alone: the tooling is a workspace of its own, never copied
# here, so editing it invalidates nothing): --locked below builds exactly the versions in Cargo.lock.
COPY Cargo.toml Cargo.lock ./

# Cargo's project configuration, so the build sees the same settings as a local one.
COPY .cargo/ .cargo/

# The service's sources, last: editing them invalidates only the compile step below.
COPY service/ service/

# Compile, the crate list embedded (cargo-auditable, above). The cache mounts keep crates.io downloads and compiled dependencies between builds, outside any layer,
# so a source edit recompiles only the service. --target makes +crt-static (glibc linked in: the binary needs no
# libc at run time) apply to the service but not to proc-macros and build scripts, which must stay dynamic; it is
# the build machine's own (x86_64, or aarch64 when buildx emulates linux/arm64 in the release workflow).
# The binary is copied out because the cache mount is gone after this step; touch -d @0 fixes its mtime so that
# a rebuild from scratch still gives identical layers.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,id=image-lab-target,sharing=locked,target=/src/target \
    RUSTFLAGS='-C target-feature=+crt-static' \
    cargo auditable build --release --locked -p service --target "$(uname -m)-unknown-linux-gnu" \
 && cp "target/$(uname -m)-unknown-linux-gnu/release/service" /out/service \
 && touch -d @0 /out/service

# ---------------------------------------------------------------- final stage
# Nothing but what the service needs: no shell, no package manager, no libc; nothing to exploit or patch.
FROM scratch

# One layer: /service (the whole service, healthcheck included) and /etc/passwd, /etc/group naming its user.
COPY --from=build /out/ /

# Never root. Numeric, so the engine (and Kubernetes' runAsNonRoot) can check it without reading /etc/passwd.
USER 10001:10001

# The student's identity, given at build time (never SECRET: build args are visible in `docker history`).
ARG LAB_LOGIN=unknown
# Not a secret, though named like one: the lab wants it in a label (below), public by design.
# hadolint ignore=DL3064
ARG LAB_TOKEN=unknown

# The lab reads the identity from these labels.
LABEL org.lab.login="${LAB_LOGIN}" org.lab.token="${LAB_TOKEN}"

# The commit the image was built from (cargo xtask passes `git rev-parse HEAD`; compose passes $REVISION).
ARG REVISION=unknown

# Standard OCI labels, so registries and scanners know what this is (version as in service/Cargo.toml; no build date).
LABEL org.opencontainers.image.title="image-lab" \
      org.opencontainers.image.description="The image lab's mini web service, in Rust" \
      org.opencontainers.image.source="https://github.com/image-lab/rust-image-lab" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.licenses="MIT"

# /proof signs login:token, so the service needs them at run time too; SECRET comes only with `docker run -e`.
# LAB_TOKEN is no secret (see its ARG above).
# hadolint ignore=DL3064
ENV LAB_LOGIN="${LAB_LOGIN}" LAB_TOKEN="${LAB_TOKEN}"

# Documented defaults: visible in `docker inspect`, each overridable with -e at run time without a rebuild.
ENV ROCKET_SIZE=Small PORT=8000

# Documents the port the service listens on (publish it with -p 127.0.0.1:8000:8000).
EXPOSE 8000

# The signal `docker stop` sends: the service drains its connections on SIGTERM and exits 0.
STOPSIGNAL SIGTERM

# The service probes itself (no curl or shell here). Engine 20.10 probes first one interval after start (no
# --start-interval before 25.0), so 2s gives `healthy` about 2 s after `docker run`; the probe's own 2 s timeout
# answers before Docker's 3 s; 3 failures in a row make it unhealthy; failures in the first 10 s do not count.
HEALTHCHECK --interval=2s --timeout=3s --start-period=10s --retries=3 CMD ["/service", "healthcheck"]

# Exec form: the service is PID 1 and receives SIGTERM itself (a shell form would put /bin/sh in between).
ENTRYPOINT ["/service"]
