//! `meshgate serve`: the HTTPS webhook and the plain-HTTP admin listener. Knows
//! HTTP and TLS; asks `admission` for every decision.

mod explain;
pub mod metrics;
mod report;
pub mod tls;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;

use crate::admission::{self, review, Decision, Pending};
use crate::finding::Referent;
use crate::model::{Kind, ObjKey, Object};
use crate::policy::{Action, Policy};
use crate::view::SharedView;
use metrics::{FindingLabels, KindLabels, Metrics, ReviewLabels};

/// A live GET of one object by key (read-through), with its own timeout.
pub type FetchFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Option<Object>, String>> + Send>>;
/// A live LIST of one kind in one namespace (`None`: all), with its own timeout.
pub type ListFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Vec<Object>, String>> + Send>>;

/// One GET in each remote cluster: per cluster, its answer.
pub type RemoteFetchFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = Vec<(String, Result<Option<Object>, String>)>> + Send>>;

/// The API server, read live before a denial (product.md §3 "Read-through").
pub trait Fetch: Send + Sync {
    /// `Ok(None)` only when the API server says the object does not exist.
    fn fetch(&self, key: ObjKey) -> FetchFuture;
    fn list(&self, kind: Kind, namespace: Option<String>) -> ListFuture {
        let _ = namespace;
        Box::pin(async move { Err(format!("cannot list {kind}")) })
    }
    /// `key` in each remote cluster of a multi-cluster mesh (none by default).
    fn fetch_remote(&self, key: ObjKey) -> RemoteFetchFuture {
        let _ = key;
        Box::pin(async { Vec::new() })
    }
}

/// At most this many GETs and LISTs are made for one review.
const MAX_READ_THROUGH: usize = 8;

/// Everything a request handler needs, shared across connections.
#[derive(Clone)]
pub struct AppState {
    pub view: Arc<SharedView>,
    pub policy: Arc<RwLock<Arc<Policy>>>,
    pub pending: Arc<Pending>,
    pub metrics: Arc<Metrics>,
    /// Live read-through; `None` when the view comes from files.
    pub fetcher: Option<Arc<dyn Fetch>>,
    /// Watch health, for metrics; `None` when the view comes from files.
    pub health: Option<Arc<crate::live::Health>>,
    /// The audit's passes (`serve` runs the audit; `/report` reads it).
    pub audit: Arc<crate::audit::AuditResults>,
    /// Remote clusters of a multi-cluster mesh, for metrics; `None` when the
    /// view comes from files.
    pub remotes: Option<Arc<crate::live::remote::Remotes>>,
}

impl AppState {
    pub fn new(view: Arc<SharedView>, policy: Policy) -> AppState {
        AppState {
            view,
            policy: Arc::new(RwLock::new(Arc::new(policy))),
            pending: Arc::new(Pending::default()),
            metrics: Arc::new(Metrics::new()),
            fetcher: None,
            health: None,
            audit: Arc::default(),
            remotes: None,
        }
    }

    pub fn policy(&self) -> Arc<Policy> {
        self.policy.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Publishes cache gauges from the current view.
    pub fn refresh_cache_metrics(&self) {
        let view = self.view.snapshot();
        for (kind, n) in view.counts() {
            self.metrics
                .cache_objects
                .get_or_create(&KindLabels {
                    kind: kind.unique_name().to_string(),
                })
                .set(n as i64);
        }
        self.metrics.cache_ready.set(i64::from(self.view.is_ready()));
        self.refresh_remote_metrics(&view);
        if let Some(h) = &self.health {
            let now = Instant::now();
            for ((kind, part), kh) in h.snapshot() {
                let labels = KindLabels {
                    kind: if part.is_empty() {
                        kind.unique_name().to_string()
                    } else {
                        format!("{} ({part})", kind.unique_name())
                    },
                };
                self.metrics
                    .watch_restarts
                    .get_or_create(&labels)
                    .set(kh.restarts as i64);
                if let Some(t) = kh.last_event {
                    self.metrics
                        .watch_seconds_since_event
                        .get_or_create(&labels)
                        .set(now.duration_since(t).as_secs() as i64);
                }
            }
        }
    }
}

/// A remote cluster's states, as `meshgate_remote_cluster_state` labels them.
const REMOTE_STATES: [&str; 3] = ["synced", "syncing", "unreachable"];

impl AppState {
    fn refresh_remote_metrics(&self, view: &crate::view::ClusterView) {
        let Some(remotes) = &self.remotes else { return };
        let m = &self.metrics;
        let clusters = view.remote_clusters();
        let last_sync = remotes.last_sync();
        // A cluster whose secret is gone leaves the metrics too.
        let known: Vec<String> = m.remote_known.lock().unwrap_or_else(|p| p.into_inner()).clone();
        for id in known.iter().filter(|id| !clusters.contains_key(id.as_str())) {
            let labels = metrics::ClusterLabels { cluster: id.clone() };
            m.remote_cluster_ready.remove(&labels);
            m.remote_cluster_last_sync.remove(&labels);
            for state in REMOTE_STATES {
                m.remote_cluster_state.remove(&metrics::ClusterStateLabels {
                    cluster: id.clone(),
                    state: state.to_string(),
                });
            }
            for kind in [Kind::Service, Kind::Pod] {
                m.remote_cluster_objects.remove(&metrics::ClusterKindLabels {
                    cluster: id.clone(),
                    kind: kind.as_str().to_string(),
                });
            }
        }
        for (id, sync) in &clusters {
            let labels = metrics::ClusterLabels {
                cluster: id.to_string(),
            };
            m.remote_cluster_ready
                .get_or_create(&labels)
                .set(i64::from(*sync == &crate::view::RemoteSync::Synced));
            for state in REMOTE_STATES {
                m.remote_cluster_state
                    .get_or_create(&metrics::ClusterStateLabels {
                        cluster: id.to_string(),
                        state: state.to_string(),
                    })
                    .set(i64::from(sync.state() == state));
            }
            if let Some(t) = last_sync.get(*id) {
                let secs = t.duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
                m.remote_cluster_last_sync.get_or_create(&labels).set(secs);
            }
            for kind in [Kind::Service, Kind::Pod] {
                m.remote_cluster_objects
                    .get_or_create(&metrics::ClusterKindLabels {
                        cluster: id.to_string(),
                        kind: kind.as_str().to_string(),
                    })
                    .set(view.remote_object_count(id, kind) as i64);
            }
        }
        *m.remote_known.lock().unwrap_or_else(|p| p.into_inner()) = clusters.keys().map(|s| s.to_string()).collect();
        let seen = m.remote_secret_rejections.get();
        m.remote_secret_rejections
            .inc_by(remotes.rejected().saturating_sub(seen));
    }
}

pub const DEFAULT_BODY_LIMIT: usize = 8 * 1024 * 1024;

/// The webhook routes: `POST /validate`.
pub fn router(state: AppState, body_limit: usize) -> Router {
    Router::new()
        .route("/validate", post(validate))
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn(
            move |req: axum::extract::Request, next: axum::middleware::Next| {
                reject_declared_oversize(req, next, body_limit)
            },
        ))
        .with_state(state)
}

/// A body whose declared length is over the limit is refused before a byte of it
/// is read (the streaming limit still cuts off undeclared ones).
async fn reject_declared_oversize(req: axum::extract::Request, next: axum::middleware::Next, limit: usize) -> Response {
    let declared = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(n) if n > limit as u64 => error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("cannot read request body: {n} bytes declared, the limit is {limit}"),
        ),
        _ => next.run(req).await,
    }
}

/// The admin routes: `/livez`, `/readyz`, `/metrics`, `/report`, `/explain`.
pub fn admin_router(state: AppState) -> Router {
    Router::new()
        .route("/livez", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .route("/report", get(report::report))
        .route("/explain", get(explain::explain))
        .with_state(state)
}

fn error(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

async fn validate(
    State(st): State<AppState>,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Response {
    let start = Instant::now();
    let count = |kind: &str, op: &str, decision: &str| {
        st.metrics
            .reviews
            .get_or_create(&ReviewLabels {
                kind: kind.to_string(),
                operation: op.to_string(),
                decision: decision.to_string(),
            })
            .inc();
    };
    let body = match body {
        Ok(b) => b,
        Err(rejection) => {
            count("", "", "invalid");
            return error(
                rejection.status(),
                format!("cannot read request body: {}", rejection.body_text()),
            );
        }
    };
    let mut req = match review::parse(&body) {
        Ok(r) => r,
        Err(e) => {
            count("", "", "invalid");
            tracing::info!(error = %e, "malformed admission review");
            return error(StatusCode::BAD_REQUEST, e.to_string());
        }
    };
    let ready = st.view.is_ready();
    let policy = st.policy();
    let retry = (st.fetcher.is_some() && policy.read_through && ready).then(|| req.clone());
    let mut decision = match admission::decide(
        &mut req,
        &st.view.snapshot(),
        ready,
        &policy,
        &st.pending,
        Instant::now(),
    ) {
        Ok(d) => d,
        Err(e) => {
            count(&req.kind.kind, req.operation.as_str(), "invalid");
            return error(StatusCode::BAD_REQUEST, e.to_string());
        }
    };
    if let (false, Some(mut again), Some(fetcher)) = (decision.allowed, retry, st.fetcher.as_ref()) {
        let (local, remote) = futures::join!(
            read_through(&st, fetcher.as_ref(), &decision),
            remote_read_through(&st, fetcher.as_ref(), &decision)
        );
        let (remote_found, remote_failed) = remote;
        if local || remote_found || !remote_failed.is_empty() {
            let mut base = st.view.snapshot();
            if !remote_failed.is_empty() {
                // Unreachable just now, whatever its watch last said: this
                // decision does not rest on it.
                let mut v = (*base).clone();
                for (id, why) in remote_failed {
                    v.set_remote_sync(&id, crate::view::RemoteSync::Unreachable { why });
                }
                base = Arc::new(v);
            }
            if let Ok(d) = admission::decide(&mut again, &base, ready, &policy, &st.pending, Instant::now()) {
                decision = d;
            }
        }
    }
    for (f, action) in &decision.findings {
        st.metrics
            .findings
            .get_or_create(&FindingLabels {
                code: f.code.to_string(),
                action: action.as_str().to_string(),
            })
            .inc();
        if *action == Action::Audit {
            tracing::info!(code = f.code, kind = %f.kind, namespace = %f.namespace, name = %f.name, pointer = %f.pointer, "finding audited");
        }
    }
    if !ready && decision.allowed {
        st.metrics.not_ready_allowed.inc();
    }
    let outcome = match (decision.exempt, decision.allowed) {
        (true, _) => "exempt",
        (false, true) => "allowed",
        (false, false) => "denied",
    };
    count(decision.kind, req.operation.as_str(), outcome);
    tracing::debug!(uid = %req.uid, kind = decision.kind, namespace = %req.namespace, name = %req.name, operation = req.operation.as_str(), dry_run = req.dry_run, outcome, "review");
    st.metrics.review_seconds.observe(start.elapsed().as_secs_f64());
    let body = review::response(
        req.version,
        &req.uid,
        decision.allowed,
        decision.message.as_deref(),
        &decision.warnings,
    );
    Json(body).into_response()
}

/// Before a denial, the API server is asked (bounded in count and time) about
/// what it is for: each missing referent (GET by name, or LIST of the kind in the
/// namespaces where it may be) and each referrer an impact denial names (GET: a
/// referrer deleted through another replica is gone). A watch that lags the API
/// server by milliseconds, on this replica or another, must never cause a false
/// denial. What is read is real, so it goes into the view. Returns whether the
/// view changed.
async fn read_through(st: &AppState, fetcher: &dyn Fetch, decision: &Decision) -> bool {
    enum Read {
        Referent(ObjKey),
        Referrer(ObjKey),
        List(Kind, Option<String>),
    }
    let mut reads: Vec<Read> = Vec::new();
    let referents: std::collections::BTreeSet<&Referent> = decision
        .findings
        .iter()
        .filter(|(_, a)| *a == Action::Deny)
        .filter_map(|(f, _)| f.referent.as_ref())
        .collect();
    for r in referents {
        match r {
            Referent::Object(k) => reads.push(Read::Referent(k.clone())),
            Referent::AnyOf { kind, namespaces } if namespaces.is_empty() => reads.push(Read::List(*kind, None)),
            Referent::AnyOf { kind, namespaces } => {
                reads.extend(namespaces.iter().map(|ns| Read::List(*kind, Some(ns.clone()))));
            }
        }
    }
    reads.extend(decision.impact_referrers.iter().cloned().map(Read::Referrer));
    if reads.is_empty() || reads.len() > MAX_READ_THROUGH {
        return false;
    }
    let calls = reads.iter().map(|r| match r {
        Read::Referent(k) | Read::Referrer(k) => {
            let f = fetcher.fetch(k.clone());
            Box::pin(async move { f.await.map(|o| o.into_iter().collect::<Vec<_>>()) }) as ListFuture
        }
        Read::List(kind, ns) => fetcher.list(*kind, ns.clone()),
    });
    let results = futures::future::join_all(calls).await;
    let mut found: Vec<Object> = Vec::new();
    let mut gone: Vec<ObjKey> = Vec::new();
    for (read, r) in reads.iter().zip(results) {
        let outcome = match (read, r) {
            (_, Err(e)) => {
                tracing::warn!(error = %e, "read-through failed");
                "error"
            }
            (Read::Referrer(k), Ok(objects)) if objects.is_empty() => {
                gone.push(k.clone());
                "absent"
            }
            (_, Ok(objects)) if objects.is_empty() => "absent",
            (_, Ok(objects)) => {
                found.extend(objects);
                "found"
            }
        };
        st.metrics.count_read_through(outcome);
    }
    if found.is_empty() && gone.is_empty() {
        return false;
    }
    let keys: Vec<ObjKey> = found
        .iter()
        .map(|o| o.key.clone())
        .chain(gone.iter().cloned())
        .collect();
    st.view.update_objects(keys, |v| {
        for o in found {
            v.apply(o);
        }
        for k in &gone {
            v.delete(k);
        }
    });
    true
}

/// Before a denial that finds a Service absent, one bounded GET of it in each
/// remote cluster: a remote watch lagging (or down) must never cause a false
/// denial. Returns whether a remote had it (then it is in the view) and the
/// clusters that did not answer.
async fn remote_read_through(st: &AppState, fetcher: &dyn Fetch, decision: &Decision) -> (bool, Vec<(String, String)>) {
    if decision.remote_lookups.is_empty() || decision.remote_lookups.len() > MAX_READ_THROUGH {
        return (false, Vec::new());
    }
    let answers =
        futures::future::join_all(decision.remote_lookups.iter().map(|k| fetcher.fetch_remote(k.clone()))).await;
    let mut found: Vec<(String, Object)> = Vec::new();
    let mut failed: Vec<(String, String)> = Vec::new();
    for (cluster, got) in answers.into_iter().flatten() {
        let outcome = match got {
            Ok(Some(o)) => {
                found.push((cluster, o));
                "remote found"
            }
            Ok(None) => "remote absent",
            Err(e) => {
                tracing::warn!(cluster = %cluster, error = %e, "remote read-through failed");
                if !failed.iter().any(|(c, _)| *c == cluster) {
                    failed.push((cluster, format!("unreachable: {e}")));
                }
                "remote error"
            }
        };
        st.metrics.count_read_through(outcome);
    }
    let any = !found.is_empty();
    if any {
        st.view.update_remote(|v| {
            let mut topics = Vec::new();
            for (cluster, o) in found {
                // A cluster removed while the GET was out stays removed.
                if v.remote_clusters().contains_key(cluster.as_str()) {
                    topics.extend(v.apply_remote(&cluster, o));
                }
            }
            topics
        });
    }
    (any, failed)
}

async fn readyz(State(st): State<AppState>) -> Response {
    if st.view.is_ready() {
        (StatusCode::OK, "ok\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "cluster view not ready\n").into_response()
    }
}

async fn metrics_text(State(st): State<AppState>) -> Response {
    st.refresh_cache_metrics();
    report::refresh_audit_metrics(&st);
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        st.metrics.encode(),
    )
        .into_response()
}

/// How the server is run.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    pub addr: SocketAddr,
    pub admin_addr: SocketAddr,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub config: Option<PathBuf>,
    pub own_namespace: String,
    pub body_limit: usize,
    pub header_read_timeout: Duration,
    pub reload_interval: Duration,
    pub shutdown_grace: Duration,
    /// Changes closer together than this are audited in one pass.
    pub audit_debounce: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("cannot bind {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Config(String),
    #[error("server failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Loads the policy file, or the defaults when there is none.
pub fn load_policy(path: Option<&PathBuf>, own_namespace: &str) -> Result<Policy, ServeError> {
    let Some(path) = path else {
        return Ok(Policy::with_defaults(own_namespace));
    };
    let text = std::fs::read_to_string(path).map_err(|e| ServeError::Config(format!("{}: {e}", path.display())))?;
    Policy::parse(&text, own_namespace).map_err(|e| ServeError::Config(format!("{}: {e}", path.display())))
}

/// Bound listeners, so callers (and tests) learn the real ports before serving.
pub struct Bound {
    pub webhook: std::net::TcpListener,
    pub admin: std::net::TcpListener,
}

pub fn bind(opts: &ServeOptions) -> Result<Bound, ServeError> {
    let b = |addr: SocketAddr| -> Result<std::net::TcpListener, ServeError> {
        let l = std::net::TcpListener::bind(addr).map_err(|source| ServeError::Bind { addr, source })?;
        l.set_nonblocking(true)?;
        Ok(l)
    };
    Ok(Bound {
        webhook: b(opts.addr)?,
        admin: b(opts.admin_addr)?,
    })
}

/// Serves until `shutdown` resolves, then drains in-flight reviews.
pub async fn serve(
    opts: ServeOptions,
    bound: Bound,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let cert = Arc::new(tls::ReloadingCert::load(opts.cert.clone(), opts.key.clone())?);
    state.metrics.cert_not_after.set(cert.not_after());
    let tls_config = axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(tls::server_config(cert.clone())?));

    spawn_cert_reloader(cert, state.clone(), opts.reload_interval);
    tokio::spawn(crate::audit::runner::run(
        state.view.clone(),
        state.audit.clone(),
        opts.audit_debounce,
    ));
    if let Some(path) = opts.config.clone() {
        spawn_config_reloader(path, opts.own_namespace.clone(), state.clone(), opts.reload_interval);
    }

    let handle = axum_server::Handle::new();
    let admin_handle = axum_server::Handle::new();
    let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(tls_config).handshake_timeout(Duration::from_secs(10));
    let mut server = axum_server::from_tcp(bound.webhook)?
        .acceptor(acceptor)
        .handle(handle.clone());
    server
        .http_builder()
        .http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(opts.header_read_timeout);
    let admin = axum_server::from_tcp(bound.admin)?.handle(admin_handle.clone());

    let grace = opts.shutdown_grace;
    tokio::spawn(async move {
        shutdown.await;
        tracing::info!("shutting down: finishing in-flight reviews");
        handle.graceful_shutdown(Some(grace));
        admin_handle.graceful_shutdown(Some(Duration::from_secs(1)));
    });
    let webhook = server.serve(router(state.clone(), opts.body_limit).into_make_service());
    let admin = admin.serve(admin_router(state).into_make_service());
    let (w, a) = tokio::join!(webhook, admin);
    w?;
    a?;
    Ok(())
}

fn spawn_cert_reloader(cert: Arc<tls::ReloadingCert>, state: AppState, every: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            match cert.reload() {
                Ok(tls::Reload::Unchanged) => {}
                Ok(tls::Reload::Reloaded) => {
                    state.metrics.cert_reloads.inc();
                    state.metrics.cert_not_after.set(cert.not_after());
                    tracing::info!("serving certificate reloaded");
                }
                Err(e) => {
                    state.metrics.cert_reload_failures.inc();
                    tracing::warn!(error = %e, "new serving certificate rejected; keeping the current one");
                }
            }
        }
    });
}

fn spawn_config_reloader(path: PathBuf, own_namespace: String, state: AppState, every: Duration) {
    tokio::spawn(async move {
        let mut last = std::fs::read(&path).ok();
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let Ok(now) = std::fs::read(&path) else { continue };
            if last.as_ref() == Some(&now) {
                continue;
            }
            last = Some(now.clone());
            match Policy::parse(&String::from_utf8_lossy(&now), &own_namespace) {
                Ok(p) => {
                    *state.policy.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(p);
                    state.metrics.config_reloads.inc();
                    tracing::info!(path = %path.display(), "policy reloaded");
                }
                Err(e) => {
                    state.metrics.config_reload_failures.inc();
                    tracing::warn!(path = %path.display(), error = %e, "policy rejected; keeping the running one");
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    fn state() -> AppState {
        let view = crate::checks::testutil::view(&[crate::checks::testutil::SVC_REVIEWS]);
        AppState::new(Arc::new(SharedView::new(view, true)), Policy::with_defaults("meshgate"))
    }

    async fn call(router: Router, req: Request<Body>) -> (StatusCode, serde_json::Value) {
        let resp = router.oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        )
    }

    fn post(body: impl Into<Body>) -> Request<Body> {
        Request::post("/validate")
            .header("content-type", "application/json")
            .body(body.into())
            .unwrap()
    }

    #[tokio::test]
    async fn router_denies_allows_and_rejects() {
        let review = |gateway: &str| {
            json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
                "uid": "u1", "kind": {"group": "networking.istio.io", "version": "v1", "kind": "VirtualService"},
                "namespace": "default", "name": "r", "operation": "CREATE",
                "object": {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
                           "metadata": {"name": "r", "namespace": "default"},
                           "spec": {"hosts": ["r.example.com"], "gateways": [gateway],
                                    "http": [{"route": [{"destination": {"host": "reviews"}}]}]}}}})
            .to_string()
        };
        let (status, v) = call(router(state(), DEFAULT_BODY_LIMIT), post(review("missing"))).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(v["response"]["allowed"], false);
        assert_eq!(
            v["response"]["status"]["message"],
            "MG0101 /spec/gateways/0: gateway \"default/missing\" not found: its routes are not served at that gateway (404 NR: no gateway route configuration gets a virtual host for r.example.com)"
        );
        let (_, v) = call(router(state(), DEFAULT_BODY_LIMIT), post(review("mesh"))).await;
        assert_eq!(v["response"]["allowed"], true);
        let (status, v) = call(router(state(), DEFAULT_BODY_LIMIT), post("{")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(v["error"].as_str().unwrap().starts_with("request body is not JSON"));
        let (status, _) = call(router(state(), 1024), post(vec![b' '; 2048])).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        let resp = router(state(), 1024)
            .oneshot(Request::get("/validate").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
    }

    #[tokio::test]
    async fn admin_router_explains_requests() {
        let st = state();
        let get = |q: &str| Request::get(format!("/explain?{q}")).body(Body::empty()).unwrap();
        let (status, v) = call(
            admin_router(st.clone()),
            get("from=default&url=http%3A%2F%2Freviews%3A9080%2F&header=end-user%3A%20jason"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{v}");
        assert_eq!(v["listener"], "0.0.0.0_9080");
        assert_eq!(v["virtual_host"]["name"], "reviews.default.svc.cluster.local:9080");
        assert_eq!(v["route"]["name"], "default");
        assert_eq!(
            v["clusters"][0]["name"],
            "outbound|9080||reviews.default.svc.cluster.local"
        );
        let (status, v) = call(
            admin_router(st.clone()),
            get("from=default/nope&url=http://reviews:9080/"),
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(v["error"].as_str().unwrap().contains("default/nope"));
        for bad in [
            "from=default",
            "from=default&url=ftp://x",
            "from=default&url=http://r/&format=xml",
            "from=default&url=http://r/&bogus=1",
            "url=http://r/",
            "from=default&url=http://r/&header=nocolon",
        ] {
            let (status, v) = call(admin_router(st.clone()), get(bad)).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {v}");
        }
        st.view.set_ready(false);
        let (status, _) = call(admin_router(st), get("from=default&url=http://reviews:9080/")).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    }

    #[tokio::test]
    async fn admin_router_reports_readiness() {
        let st = state();
        st.view.set_ready(false);
        let resp = admin_router(st.clone())
            .oneshot(Request::get("/readyz").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        st.view.set_ready(true);
        let resp = admin_router(st)
            .oneshot(Request::get("/readyz").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
    }
}

#[cfg(test)]
mod remote_read_through_tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    /// Remote clusters that answer a GET with `answer` (the local API server
    /// knows nothing more than the view).
    struct Remote {
        answer: fn() -> Result<Option<Object>, String>,
    }

    impl Fetch for Remote {
        fn fetch(&self, _key: ObjKey) -> FetchFuture {
            Box::pin(async { Ok(None) })
        }
        fn fetch_remote(&self, _key: ObjKey) -> RemoteFetchFuture {
            let answer = self.answer;
            Box::pin(async move { vec![("west".to_string(), answer())] })
        }
    }

    fn pay_service() -> Result<Option<Object>, String> {
        let v = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "pay", "namespace": "payments"},
                       "spec": {"ports": [{"port": 8080}]}});
        Ok(Some(Object::from_value(v, "payments").unwrap()))
    }

    /// A route to `pay.payments`, which the view (west synced) does not have.
    async fn review(answer: fn() -> Result<Option<Object>, String>) -> (serde_json::Value, Arc<SharedView>) {
        let mut view = crate::checks::testutil::view(&[]);
        view.set_remote_sync("west", crate::view::RemoteSync::Synced);
        let shared = Arc::new(SharedView::new(view, true));
        let mut st = AppState::new(shared.clone(), Policy::with_defaults("meshgate"));
        st.fetcher = Some(Arc::new(Remote { answer }));
        let body = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
            "uid": "u1", "kind": {"group": "networking.istio.io", "version": "v1", "kind": "VirtualService"},
            "namespace": "shop", "name": "pay", "operation": "CREATE",
            "object": {"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
                       "metadata": {"name": "pay", "namespace": "shop"},
                       "spec": {"hosts": ["pay.shop.svc.cluster.local"],
                                "http": [{"route": [{"destination": {"host": "pay.payments.svc.cluster.local"}}]}]}}}});
        let resp = router(st, DEFAULT_BODY_LIMIT)
            .oneshot(
                Request::post("/validate")
                    .header("content-type", "application/json")
                    .body(Body::from(body.to_string()))
                    .unwrap(),
            )
            .await
            .unwrap();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
        (serde_json::from_slice(&bytes).unwrap(), shared)
    }

    #[tokio::test]
    async fn a_remote_that_has_the_service_after_all_turns_the_denial_into_an_admission() {
        let (v, shared) = review(pay_service).await;
        assert_eq!(v["response"]["allowed"], true, "{v}");
        assert_eq!(
            shared
                .snapshot()
                .remote_clusters_serving("pay.payments.svc.cluster.local"),
            ["west"],
            "what the remote GET found is in the view"
        );
    }

    #[tokio::test]
    async fn a_remote_that_does_not_answer_makes_the_absence_a_warning() {
        let (v, _) = review(|| Err("GET timed out after 1s".to_string())).await;
        assert_eq!(v["response"]["allowed"], true, "{v}");
        let warnings = v["response"]["warnings"].to_string();
        assert!(
            warnings.contains("MG0102")
                && warnings.contains("remote cluster west (unreachable: GET timed out after 1s)"),
            "{warnings}"
        );
    }

    #[tokio::test]
    async fn remotes_that_say_absent_leave_the_denial() {
        let (v, _) = review(|| Ok(None)).await;
        assert_eq!(v["response"]["allowed"], false, "{v}");
        assert!(v["response"]["status"]["message"]
            .as_str()
            .unwrap()
            .starts_with("MG0102 "));
    }
}

#[cfg(test)]
mod remote_metrics_tests {
    use super::*;
    use crate::view::RemoteSync;

    #[test]
    fn remote_cluster_metrics_follow_the_view_and_leave_with_the_cluster() {
        let mut view = crate::checks::testutil::view(&[]);
        view.set_remote_sync("west", RemoteSync::Synced);
        view.set_remote_sync(
            "east",
            RemoteSync::Unreachable {
                why: "unreachable since 2026-12-07T05:00:00Z".into(),
            },
        );
        view.set_remote_sync(
            "north",
            RemoteSync::Syncing {
                why: "syncing: first list not in yet".into(),
            },
        );
        let shared = Arc::new(SharedView::new(view, true));
        let mut st = AppState::new(shared.clone(), Policy::with_defaults("meshgate"));
        st.remotes = Some(Arc::default());
        st.refresh_cache_metrics();
        let text = st.metrics.encode();
        for line in [
            "meshgate_remote_cluster_ready{cluster=\"west\"} 1",
            "meshgate_remote_cluster_ready{cluster=\"east\"} 0",
            "meshgate_remote_cluster_state{cluster=\"east\",state=\"unreachable\"} 1",
            "meshgate_remote_cluster_state{cluster=\"east\",state=\"synced\"} 0",
            "meshgate_remote_cluster_state{cluster=\"north\",state=\"syncing\"} 1",
            "meshgate_remote_cluster_objects{cluster=\"west\",kind=\"Service\"} 0",
        ] {
            assert!(text.contains(line), "{line} missing:\n{text}");
        }
        shared.update_remote(|v| v.drop_remote_cluster("east"));
        st.refresh_cache_metrics();
        let text = st.metrics.encode();
        assert!(
            !text.contains("cluster=\"east\""),
            "a removed cluster leaves the metrics:\n{text}"
        );
        assert!(text.contains("meshgate_remote_cluster_ready{cluster=\"west\"} 1"));
    }
}
