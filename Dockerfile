# Multi-stage build: compile with the Rust toolchain, run from a minimal base as
# a non-root user. The image holds only the binary.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY examples ./examples
COPY benches ./benches
COPY docs ./docs
RUN cargo build --release --locked --bin meshgate && strip target/release/meshgate

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/meshgate /usr/local/bin/meshgate
USER 65532:65532
EXPOSE 8443 8080
ENTRYPOINT ["/usr/local/bin/meshgate"]
CMD ["serve"]
