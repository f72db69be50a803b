# A MISTAKE shown in the lesson (docs/lesson.md): step 5 with the service's log sent to a file.
# WRONG: with --read-only the shell cannot create the file and exits before the service starts; without
# --read-only, `docker logs` shows nothing, and the file grows in the container until its disk is full.
ARG RUST_IMAGE=rust:1.95.0-slim-bookworm

FROM ${RUST_IMAGE} AS build
WORKDIR /src
# Only the files cargo reads: an edit anywhere else (docs, deploy/, the tooling) rebuilds nothing.
COPY Cargo.toml Cargo.lock ./
COPY .cargo/ .cargo/
COPY service/ service/
# The cache mounts are not part of the image, so the binary is copied out of target/ before the step ends.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,id=image-lab-lesson-target,sharing=locked,target=/src/target \
    cargo build --release --locked -p service \
 && cp target/release/service /service

FROM debian:bookworm-slim
COPY --from=build /service /usr/local/bin/service

ARG LAB_LOGIN=unknown
ARG LAB_TOKEN=unknown
LABEL org.lab.login="${LAB_LOGIN}" org.lab.token="${LAB_TOKEN}"
ENV LAB_LOGIN="${LAB_LOGIN}" LAB_TOKEN="${LAB_TOKEN}"
EXPOSE 8000

# Numeric: the engine and Kubernetes (runAsNonRoot) can check it without reading /etc/passwd, and no
# useradd is needed. Nothing the service does needs root.
USER 10001:10001

# The shell opens the file, then exec makes the service PID 1 with its output going there.
CMD ["/bin/sh", "-c", "exec /usr/local/bin/service >> /tmp/service.log 2>&1"]

# `service healthcheck` asks GET /health and exits 0 or 1. Every 2 s, each probe given 3 s; 3 failures in a
# row make the container unhealthy; failures in the first 10 s do not count.
HEALTHCHECK --interval=2s --timeout=3s --start-period=10s --retries=3 CMD ["/usr/local/bin/service", "healthcheck"]
