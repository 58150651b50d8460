#![forbid(unsafe_code)]

fn main() {
    // One crypto provider for the whole process, installed before anything uses TLS.
    let _ = rustls::crypto::ring::default_provider().install_default();
    std::process::exit(meshgate::cli::run());
}
