# Step 4 of the lesson (docs/lesson.md): never root. Step 3, plus a user given by number.
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

# Exec form (a JSON list): Docker starts the service itself, as PID 1, and SIGTERM reaches it.
CMD ["/usr/local/bin/service"]
