# Step 2 of the lesson (docs/lesson.md): two stages. The first compiles, exactly as the naive image did;
# the second starts from a small Debian and takes one file from the first: the compiler, cargo's
# downloads and target/ stay behind.
ARG RUST_IMAGE=rust:1.95.0-slim-bookworm

# The build stage: the naive Dockerfile's lines, unchanged but for its name.
FROM ${RUST_IMAGE} AS build
WORKDIR /app
COPY . .
RUN cargo build --release -p service

# The final stage: Debian without the toolchain, and the binary copied from the stage above.
FROM debian:bookworm-slim
COPY --from=build /app/target/release/service /usr/local/bin/service

ARG LAB_LOGIN=unknown
ARG LAB_TOKEN=unknown
LABEL org.lab.login="${LAB_LOGIN}" org.lab.token="${LAB_TOKEN}"
ENV LAB_LOGIN="${LAB_LOGIN}" LAB_TOKEN="${LAB_TOKEN}"
EXPOSE 8000

# Exec form (a JSON list): Docker starts the service itself, as PID 1, and SIGTERM reaches it.
CMD ["/usr/local/bin/service"]
