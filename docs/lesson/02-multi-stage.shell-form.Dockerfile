# A MISTAKE shown in step 2 of the lesson (docs/lesson.md): the same image with a shell-form CMD.
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

# WRONG: shell form. Docker runs /bin/sh -c "...": sh is PID 1, gets the SIGTERM and does not pass it on.
CMD /usr/local/bin/service
