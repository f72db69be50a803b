# Step 6 of the lesson (docs/lesson.md): nothing in the image but the service. A static binary (glibc
# linked in) needs no libc at run time, so the final stage can start from scratch, the empty image.
ARG RUST_IMAGE=rust:1.95.0-slim-bookworm

FROM ${RUST_IMAGE} AS build
WORKDIR /src
# Only the files cargo reads: an edit anywhere else (docs, deploy/, the tooling) rebuilds nothing.
COPY Cargo.toml Cargo.lock ./
COPY .cargo/ .cargo/
COPY service/ service/
# +crt-static links glibc in. --target (this machine's own) makes it apply to the service only, not to the
# proc-macros and build scripts that cargo runs during the build and that must stay dynamic.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,id=image-lab-lesson-target,sharing=locked,target=/src/target \
    RUSTFLAGS='-C target-feature=+crt-static' \
    cargo build --release --locked -p service --target "$(uname -m)-unknown-linux-gnu" \
 && cp "target/$(uname -m)-unknown-linux-gnu/release/service" /service

# Empty: no shell, no package manager, no libc; nothing to exploit or patch but the service.
FROM scratch
COPY --from=build /service /service

ARG LAB_LOGIN=unknown
ARG LAB_TOKEN=unknown
LABEL org.lab.login="${LAB_LOGIN}" org.lab.token="${LAB_TOKEN}"
ENV LAB_LOGIN="${LAB_LOGIN}" LAB_TOKEN="${LAB_TOKEN}"
EXPOSE 8000

# Numeric: the engine and Kubernetes (runAsNonRoot) can check it without reading /etc/passwd, and no
# useradd is needed. Nothing the service does needs root.
USER 10001:10001

# ENTRYPOINT: the image is the service, and `docker run IMAGE healthcheck` runs its subcommand.
ENTRYPOINT ["/service"]

# `service healthcheck` asks GET /health and exits 0 or 1. Every 2 s, each probe given 3 s; 3 failures in a
# row make the container unhealthy; failures in the first 10 s do not count.
HEALTHCHECK --interval=2s --timeout=3s --start-period=10s --retries=3 CMD ["/service", "healthcheck"]
