#![forbid(unsafe_code)]

/// See Cargo.toml: allocation is most of reading manifests.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // One crypto provider for the whole process, installed before anything uses TLS.
    let _ = rustls::crypto::ring::default_provider().install_default();
    std::process::exit(meshgate::cli::run());
}
