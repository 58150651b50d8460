//! `meshgate explain`: a request's path through istiod's Envoy configuration,
//! from manifest files and/or the live cluster (product.md §1.4, docs/explain.md).

use clap::{Args, ValueEnum};

use crate::explain::{self, ExplainError, From, Request, Target};
use crate::manifest;
use crate::view::{ClusterView, ViewSettings};

#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Manifest files or directories, then the URL: `http://host[:port]/path`,
    /// `https://host[:port]/path` (HTTP in TLS, SNI = host), `tcp://host:port`
    /// or `tls://host:port` (SNI = host).
    #[arg(required = true, value_name = "PATH... URL")]
    pub args: Vec<String>,
    /// The client: `NAMESPACE/NAME` of a Pod or workload (Deployment, ...), or
    /// `NAMESPACE` for any sidecar there.
    #[arg(
        long,
        value_name = "NS/NAME",
        required_unless_present = "gateway",
        conflicts_with = "gateway"
    )]
    pub from: Option<String>,
    /// Traffic entering a Gateway's workload: `NAMESPACE/NAME` of the Gateway (or
    /// of the gateway workload); the URL's port is the gateway Service's.
    #[arg(long, value_name = "NS/NAME")]
    pub gateway: Option<String>,
    /// A request header, `name: value` (repeatable).
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub headers: Vec<String>,
    /// The port called (default: the URL's, else 80).
    #[arg(long)]
    pub port: Option<u32>,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Format::Text)]
    pub output: Format,
    /// Namespace for objects that name none.
    #[arg(short = 'n', long, default_value = "default")]
    pub namespace: String,
    /// The cluster's DNS domain.
    #[arg(long, default_value = "cluster.local")]
    pub cluster_domain: String,
    /// Add a live snapshot of the cluster to the view (files shadow live objects).
    #[arg(long)]
    pub cluster: bool,
    /// The kubeconfig for `--cluster`.
    #[arg(long, value_name = "FILE", requires = "cluster")]
    pub kubeconfig: Option<std::path::PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Mermaid,
}

/// The request from flags, for the CLI and the admin endpoint alike.
pub fn request(
    from: Option<&str>,
    gateway: Option<&str>,
    url: &str,
    port: Option<u32>,
    headers: &[String],
) -> Result<Request, ExplainError> {
    let from = match (from, gateway) {
        (Some(f), None) => From::Workload(f.to_string()),
        (None, Some(g)) => From::Gateway(g.to_string()),
        _ => {
            return Err(ExplainError::BadRequest(
                "give exactly one of --from and --gateway".into(),
            ))
        }
    };
    let target = Target::parse(url, port)?;
    let mut h = std::collections::BTreeMap::new();
    for raw in headers {
        let (k, v) = explain::parse_header(raw)?;
        h.insert(k, v);
    }
    Ok(Request {
        from,
        target,
        headers: h,
    })
}

pub fn run(args: &ExplainArgs) -> i32 {
    let Some((url, paths)) = args.args.split_last() else {
        eprintln!("meshgate: error: explain needs a URL");
        return 2;
    };
    if paths.is_empty() && !args.cluster {
        eprintln!("meshgate: error: explain needs manifest files or --cluster");
        return 2;
    }
    let req = match request(
        args.from.as_deref(),
        args.gateway.as_deref(),
        url,
        args.port,
        &args.headers,
    ) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("meshgate: error: {e}");
            return 2;
        }
    };
    let mut view = ClusterView::new(ViewSettings {
        cluster_domain: args.cluster_domain.clone(),
        file_mode: true,
    });
    if args.cluster {
        match super::check::snapshot(args.kubeconfig.as_deref()) {
            Ok(objects) => {
                for o in objects {
                    view.apply(o);
                }
            }
            Err(e) => {
                eprintln!("meshgate: error: --cluster: {e}");
                return 2;
            }
        }
    }
    let outcome = manifest::visit_paths(paths, &args.namespace, |m| {
        view.apply(m.object);
    });
    for e in &outcome.errors {
        eprintln!("meshgate: error: {e}");
    }
    if !outcome.errors.is_empty() {
        return 2;
    }
    let e = match explain::explain(&view, &req) {
        Ok(e) => e,
        Err(err) => {
            eprintln!("meshgate: error: {err}");
            return 2;
        }
    };
    let text = match args.output {
        Format::Text => explain::text(&e),
        Format::Json => explain::json(&e),
        Format::Mermaid => explain::mermaid(&e),
    };
    print!("{text}");
    // 0: the request is served; 1: it breaks (404, 503, 403, ...).
    i32::from(e.outcome.status != "OK")
}
