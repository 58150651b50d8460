//! The command line: `meshgate check` (and the others as they land). `main` only
//! calls `run`.

mod check;
pub mod explain;
mod serve;

use clap::{Parser, Subcommand};

pub use check::CheckArgs;
pub use serve::{demo_manifests, CertsArgs, ServeArgs};

#[derive(Debug, Parser)]
#[command(
    name = "meshgate",
    version,
    about = "Admission webhook and CI checker for Istio configuration"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check manifest files against the cluster view they form (no cluster needed).
    Check(CheckArgs),
    /// Follow a request through the Envoy configuration istiod would build:
    /// listener, route, cluster, endpoints, and where it breaks.
    Explain(explain::ExplainArgs),
    /// Run the admission webhook (HTTPS) and its admin listener.
    Serve(ServeArgs),
    /// Generate a CA and a serving certificate for the webhook.
    Certs(CertsArgs),
    /// Print the check catalog as Markdown (the source of docs/checks.md).
    Catalog,
}

/// Runs the command line and returns the process exit status.
pub fn run() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            // clap's own codes: 0 for --help/--version, 2 for usage errors.
            return e.exit_code();
        }
    };
    match cli.command {
        Command::Check(args) => check::run(&args),
        Command::Explain(args) => explain::run(&args),
        Command::Serve(args) => serve::run_serve(args),
        Command::Certs(args) => serve::run_certs(&args),
        Command::Catalog => {
            print!("{}", crate::checks::catalog::markdown());
            0
        }
    }
}
