//! `meshgate serve` and `meshgate certs`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use crate::manifest::{self, Manifest};
use crate::server::{self, AppState, ServeOptions};
use crate::view::{ClusterView, SharedView, ViewSettings};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Webhook (HTTPS) listen address.
    #[arg(long, default_value = "0.0.0.0:8443")]
    pub addr: SocketAddr,
    /// Admin (plain HTTP) listen address: /livez, /readyz, /metrics.
    #[arg(long, default_value = "0.0.0.0:8080")]
    pub admin_addr: SocketAddr,
    /// Development mode: generate certs/ if missing, bind 127.0.0.1, load the demo cluster view.
    #[arg(long)]
    pub dev: bool,
    /// Build the cluster view from manifest files in DIR (no API server needed).
    #[arg(long, value_name = "DIR", conflicts_with = "kubeconfig")]
    pub cluster_from: Option<String>,
    /// Watch the cluster through this kubeconfig (default: in-cluster config or $KUBECONFIG).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Seconds a failing watch may last before the view counts as stale (not ready).
    #[arg(long, default_value_t = 30)]
    pub stale_seconds: u64,
    /// Serving certificate (PEM); reloaded when it changes on disk.
    #[arg(long, default_value = "certs/tls.crt")]
    pub tls_cert: PathBuf,
    /// Serving key (PEM).
    #[arg(long, default_value = "certs/tls.key")]
    pub tls_key: PathBuf,
    /// Policy file (hot-reloaded).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The webhook's own namespace, exempt by default.
    #[arg(long, env = "POD_NAMESPACE", default_value = "meshgate")]
    pub own_namespace: String,
    /// Largest accepted request body, in bytes.
    #[arg(long, default_value_t = server::DEFAULT_BODY_LIMIT)]
    pub body_limit: usize,
    /// Seconds between checks of the certificate and policy files.
    #[arg(long, default_value_t = 2)]
    pub reload_seconds: u64,
    /// The cluster's DNS domain.
    #[arg(long, default_value = "cluster.local")]
    pub cluster_domain: String,
    /// Write the audit's findings as PolicyReports (wgpolicyk8s.io/v1alpha2), one
    /// per namespace; needs the live view, the CRD, and the RBAC of
    /// manifests/policy-reports. Replicas elect one writer through a Lease in
    /// the own namespace.
    #[arg(long, conflicts_with_all = ["cluster_from", "dev"])]
    pub policy_reports: bool,
    /// This cluster's id in a multi-cluster mesh: a remote secret key equal
    /// to it is ignored. Default: istiod's `CLUSTER_ID` (from its
    /// Deployment), else `Kubernetes`. Remote secrets (label
    /// `istio/multiCluster: "true"`) are read from the own namespace.
    #[arg(long, value_name = "ID", conflicts_with_all = ["cluster_from", "dev"])]
    pub cluster_id: Option<String>,
}

#[derive(Debug, Args)]
pub struct CertsArgs {
    /// DNS names for the serving certificate (repeatable).
    #[arg(long = "dns", value_name = "NAME")]
    pub dns: Vec<String>,
    /// IP addresses for the serving certificate (repeatable).
    #[arg(long = "ip", value_name = "ADDR")]
    pub ip: Vec<String>,
    /// Output directory for ca.crt, ca.key, tls.crt, tls.key.
    #[arg(long, default_value = "certs")]
    pub out: PathBuf,
}

/// The demo cluster view, embedded so `serve --dev` works from any directory.
const DEMO_CLUSTER: &[(&str, &str)] = &[
    (
        "examples/demo-cluster/bookinfo.yaml",
        include_str!("../../examples/demo-cluster/bookinfo.yaml"),
    ),
    (
        "examples/demo-cluster/bookinfo-versions.yaml",
        include_str!("../../examples/demo-cluster/bookinfo-versions.yaml"),
    ),
    (
        "examples/demo-cluster/bookinfo-gateway.yaml",
        include_str!("../../examples/demo-cluster/bookinfo-gateway.yaml"),
    ),
    (
        "examples/demo-cluster/destination-rule-all.yaml",
        include_str!("../../examples/demo-cluster/destination-rule-all.yaml"),
    ),
    (
        "examples/demo-cluster/virtual-service-all-v1.yaml",
        include_str!("../../examples/demo-cluster/virtual-service-all-v1.yaml"),
    ),
    (
        "examples/demo-cluster/ingress-gateway.yaml",
        include_str!("../../examples/demo-cluster/ingress-gateway.yaml"),
    ),
];

pub fn demo_manifests() -> Result<Vec<Manifest>, manifest::LoadError> {
    let mut out = Vec::new();
    for (name, text) in DEMO_CLUSTER {
        out.extend(manifest::parse_text(name, text, "default")?);
    }
    Ok(out)
}

fn loopback(addr: SocketAddr) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], addr.port()))
}

pub fn run_certs(args: &CertsArgs) -> i32 {
    if args.dns.is_empty() && args.ip.is_empty() {
        eprintln!("meshgate: error: name at least one --dns or --ip for the serving certificate");
        return 2;
    }
    match crate::certs::generate(&args.dns, &args.ip).and_then(|g| crate::certs::write_all(&args.out, &g)) {
        Ok(()) => {
            println!(
                "wrote {0}/ca.crt {0}/ca.key {0}/tls.crt {0}/tls.key",
                args.out.display()
            );
            0
        }
        Err(e) => {
            eprintln!("meshgate: error: {e}");
            1
        }
    }
}

pub fn run_serve(mut args: ServeArgs) -> i32 {
    init_logging();
    if args.dev {
        args.addr = loopback(args.addr);
        args.admin_addr = loopback(args.admin_addr);
        let dir = args.tls_cert.parent().unwrap_or(Path::new("certs")).to_path_buf();
        match crate::certs::ensure_dev(&dir) {
            Ok(true) => tracing::info!(dir = %dir.display(), "generated a development CA and serving certificate"),
            Ok(false) => {}
            Err(e) => {
                eprintln!("meshgate: error: {e}");
                return 1;
            }
        }
    }
    let opts = ServeOptions {
        addr: args.addr,
        admin_addr: args.admin_addr,
        cert: args.tls_cert.clone(),
        key: args.tls_key.clone(),
        config: args.config.clone(),
        own_namespace: args.own_namespace.clone(),
        body_limit: args.body_limit,
        header_read_timeout: Duration::from_secs(10),
        reload_interval: Duration::from_secs(args.reload_seconds.max(1)),
        shutdown_grace: Duration::from_secs(30),
        audit_debounce: crate::audit::runner::DEFAULT_DEBOUNCE,
    };
    let policy = match server::load_policy(opts.config.as_ref(), &opts.own_namespace) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("meshgate: error: {e}");
            return 2;
        }
    };
    let mut view = ClusterView::new(ViewSettings {
        cluster_domain: policy
            .cluster_domain
            .clone()
            .unwrap_or_else(|| args.cluster_domain.clone()),
        file_mode: true,
    });
    let live = args.cluster_from.is_none() && !args.dev;
    let loaded = match (&args.cluster_from, args.dev) {
        (Some(dir), _) => {
            let outcome = manifest::visit_paths(std::slice::from_ref(dir), "default", |m| {
                view.apply(m.object);
            });
            for s in &outcome.skipped {
                tracing::info!(file = %s.file, line = s.line, reason = %s.reason, "--cluster-from: skipped a document that is not a Kubernetes object");
            }
            match outcome.errors.into_iter().next() {
                Some(e) => Err(e),
                None => Ok(()),
            }
        }
        (None, true) => demo_manifests().map(|ms| {
            for m in ms {
                view.apply(m.object);
            }
        }),
        (None, false) => {
            // Live: the view fills from watches; it is not ready until every initial list is in.
            view = ClusterView::new(ViewSettings {
                file_mode: false,
                ..view.settings().clone()
            });
            Ok(())
        }
    };
    if let Err(e) = loaded {
        eprintln!("meshgate: error: {e}");
        return 2;
    }
    if !live {
        tracing::info!(objects = view.len(), "cluster view loaded from files");
    }
    let mut state = AppState::new(Arc::new(SharedView::new(view, !live)), policy);
    let bound = match server::bind(&opts) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("meshgate: error: {e}");
            return 1;
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("meshgate: error: cannot start the runtime: {e}");
            return 1;
        }
    };
    let webhook = bound.webhook.local_addr().map(|a| a.to_string()).unwrap_or_default();
    let admin = bound.admin.local_addr().map(|a| a.to_string()).unwrap_or_default();
    tracing::info!(webhook = %webhook, admin = %admin, "meshgate serving");
    if args.dev {
        let ca = args.tls_cert.parent().unwrap_or(Path::new("certs")).join("ca.crt");
        let port = args.addr.port();
        println!(
            "\nmeshgate is serving the demo cluster view (bookinfo) on https://localhost:{port}/validate\n\
             Try a review that gets denied:\n\n  \
             curl --cacert {ca} -H 'Content-Type: application/json' --data @examples/reviews/vs-missing-gateway.json https://localhost:{port}/validate\n\n\
             and one that is allowed: examples/reviews/vs-consistent.json; health: http://127.0.0.1:{admin_port}/readyz, metrics: /metrics\n",
            admin_port = args.admin_addr.port(),
            ca = ca.display()
        );
    }
    if live {
        let started = runtime.block_on(start_live(
            &mut state,
            args.kubeconfig.as_deref(),
            Duration::from_secs(args.stale_seconds),
            args.policy_reports.then_some(args.own_namespace.as_str()),
            &args.own_namespace,
            args.cluster_id.clone(),
        ));
        if let Err(e) = started {
            eprintln!("meshgate: error: {e}");
            return 1;
        }
    }
    match runtime.block_on(server::serve(opts, bound, state, shutdown_signal())) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("meshgate: error: {e}");
            1
        }
    }
}

/// Read-through GETs on the live API server (and on remote clusters), each
/// bounded by a timeout.
struct LiveFetch {
    client: kube::Client,
    remotes: Arc<crate::live::remote::Remotes>,
}

impl server::Fetch for LiveFetch {
    fn fetch(&self, key: crate::model::ObjKey) -> server::FetchFuture {
        let client = self.client.clone();
        Box::pin(async move { crate::live::fetch(&client, &key, Duration::from_secs(1)).await })
    }

    fn list(&self, kind: crate::model::Kind, namespace: Option<String>) -> server::ListFuture {
        let client = self.client.clone();
        Box::pin(async move { crate::live::list(&client, kind, namespace.as_deref(), Duration::from_secs(1)).await })
    }

    fn fetch_remote(&self, key: crate::model::ObjKey) -> server::RemoteFetchFuture {
        let remotes = self.remotes.clone();
        Box::pin(async move { crate::live::remote::fetch_everywhere(&remotes, &key, Duration::from_secs(1)).await })
    }
}

/// Connects to the API server, starts the watches and the readiness monitor, and
/// wires read-through into the server state.
async fn start_live(
    state: &mut AppState,
    kubeconfig: Option<&Path>,
    stale_after: Duration,
    policy_reports_lease_namespace: Option<&str>,
    own_namespace: &str,
    cluster_id: Option<String>,
) -> Result<(), String> {
    let client = crate::live::client(kubeconfig).await?;
    // Remote clusters never hold readiness back: they are not in `health`.
    let remotes = Arc::new(crate::live::remote::Remotes::default());
    let local_id = match cluster_id {
        Some(id) => id,
        None => crate::live::remote::local_cluster_id(&client).await,
    };
    tracing::info!(cluster_id = %local_id, namespace = %own_namespace, "reading remote secrets");
    tokio::spawn(crate::live::remote::run_secrets(
        client.clone(),
        own_namespace.to_string(),
        local_id,
        state.view.clone(),
        remotes.clone(),
    ));
    if let Some(ns) = policy_reports_lease_namespace {
        let policy = state.policy.clone();
        let identity = std::env::var("POD_NAME").unwrap_or_else(|_| {
            let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
            format!("{}-{}", host.trim(), std::process::id())
        });
        tracing::info!(identity = %identity, lease = %format!("{ns}/{}", crate::live::policy_reports::LEASE_NAME), "writing PolicyReports while holding the Lease");
        tokio::spawn(crate::live::policy_reports::run(
            client.clone(),
            state.audit.clone(),
            move || policy.read().unwrap_or_else(|p| p.into_inner()).clone(),
            ns.to_string(),
            identity,
        ));
    }
    let health = Arc::new(crate::live::Health::new(stale_after));
    crate::live::start(
        client.clone(),
        state.view.clone(),
        state.pending.clone(),
        health.clone(),
    )
    .await;
    let view = state.view.clone();
    let monitor = health.clone();
    tokio::spawn(async move {
        let mut was = false;
        loop {
            let ready = monitor.is_ready(std::time::Instant::now());
            if ready != was {
                tracing::info!(ready, "cluster view readiness changed");
                was = ready;
            }
            view.set_ready(ready);
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
    state.fetcher = Some(Arc::new(LiveFetch {
        client,
        remotes: remotes.clone(),
    }));
    state.remotes = Some(remotes);
    state.health = Some(health);
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .try_init();
}
