# Multi-stage build: compile a static binary with the Rust toolchain, run it
# from an empty image as a non-root user. The image holds only the binary (no
# shell, no libc, no /etc/ssl: rustls carries its roots where it needs any).
# CI builds the same image without a daemon from this file's runtime stage
# (tests/image/build.sh reads USER, EXPOSE, ENTRYPOINT, CMD and LABEL from it).
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY examples ./examples
COPY benches ./benches
COPY docs ./docs
ENV RUSTFLAGS="-C target-feature=+crt-static"
RUN cargo build --release --locked --target x86_64-unknown-linux-gnu --bin meshgate \
 && strip target/x86_64-unknown-linux-gnu/release/meshgate

FROM scratch
COPY --from=build /src/target/x86_64-unknown-linux-gnu/release/meshgate /usr/local/bin/meshgate
USER 65532:65532
EXPOSE 8443 8080
LABEL org.opencontainers.image.title="meshgate" \
      org.opencontainers.image.description="Admission webhook for Istio configuration" \
      org.opencontainers.image.source="https://github.com/meshgate/meshgate" \
      org.opencontainers.image.licenses="Apache-2.0"
ENTRYPOINT ["/usr/local/bin/meshgate"]
CMD ["serve"]
