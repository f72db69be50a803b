# Step 3 of the lesson (docs/lesson.md): a source edit recompiles the service only. The build stage copies
# what cargo needs and nothing else, and keeps cargo's downloads and compiled dependencies in BuildKit
# cache mounts, which outlive the build. Needs BuildKit (DOCKER_BUILDKIT=1 with a Docker 20.10 CLI).
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

# Exec form (a JSON list): Docker starts the service itself, as PID 1, and SIGTERM reaches it.
CMD ["/usr/local/bin/service"]
