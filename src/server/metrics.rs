//! Prometheus metrics (text exposition on the admin listener's `/metrics`).

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use std::sync::atomic::AtomicU64;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReviewLabels {
    pub kind: String,
    pub operation: String,
    /// allowed | denied | exempt | invalid
    pub decision: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct FindingLabels {
    pub code: String,
    pub action: String,
}

/// No object names: one series per code, severity and namespace.
#[derive(Clone, Debug, Hash, PartialEq, Eq, PartialOrd, Ord, EncodeLabelSet)]
pub struct AuditLabels {
    pub code: String,
    pub severity: String,
    pub namespace: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClusterLabels {
    pub cluster: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClusterStateLabels {
    pub cluster: String,
    pub state: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClusterKindLabels {
    pub cluster: String,
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: String,
}

pub struct Metrics {
    registry: Registry,
    pub reviews: Family<ReviewLabels, Counter>,
    pub review_seconds: Histogram,
    pub findings: Family<FindingLabels, Counter>,
    pub cache_objects: Family<KindLabels, Gauge>,
    pub cache_ready: Gauge,
    pub not_ready_allowed: Counter,
    pub cert_not_after: Gauge,
    pub cert_reloads: Counter,
    pub cert_reload_failures: Counter,
    pub config_reloads: Counter,
    pub config_reload_failures: Counter,
    pub watch_restarts: Family<KindLabels, Gauge>,
    pub watch_seconds_since_event: Family<KindLabels, Gauge>,
    pub read_through: Family<OutcomeLabels, Counter>,
    pub audit_findings: Family<AuditLabels, Gauge>,
    pub audit_objects: Gauge,
    pub audit_last_pass: Gauge<f64, AtomicU64>,
    pub audit_last_pass_seconds: Gauge<f64, AtomicU64>,
    pub audit_last_pass_rechecked: Gauge,
    pub audit_passes: Gauge,
    pub remote_cluster_ready: Family<ClusterLabels, Gauge>,
    pub remote_cluster_state: Family<ClusterStateLabels, Gauge>,
    pub remote_cluster_last_sync: Family<ClusterLabels, Gauge<f64, AtomicU64>>,
    pub remote_cluster_objects: Family<ClusterKindLabels, Gauge>,
    pub remote_secret_rejections: Counter,
    /// The clusters the remote gauges were last published for.
    pub remote_known: std::sync::Mutex<Vec<String>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("meshgate");
        let reviews = Family::<ReviewLabels, Counter>::default();
        registry.register(
            "reviews",
            "Admission reviews by kind, operation and decision",
            reviews.clone(),
        );
        let review_seconds = Histogram::new([0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.25, 1.0]);
        registry.register(
            "review_duration_seconds",
            "Time to decide one review",
            review_seconds.clone(),
        );
        let findings = Family::<FindingLabels, Counter>::default();
        registry.register(
            "findings",
            "Findings at admission by code and action taken",
            findings.clone(),
        );
        let cache_objects = Family::<KindLabels, Gauge>::default();
        registry.register(
            "cache_objects",
            "Objects in the cluster view by kind",
            cache_objects.clone(),
        );
        let cache_ready = Gauge::default();
        registry.register(
            "cache_ready",
            "1 when every initial list of the cluster view is in",
            cache_ready.clone(),
        );
        let not_ready_allowed = Counter::default();
        registry.register(
            "cache_not_ready_allowed",
            "Reviews allowed with a warning because the cluster view was not ready",
            not_ready_allowed.clone(),
        );
        let cert_not_after = Gauge::default();
        registry.register(
            "certificate_expiry_timestamp_seconds",
            "Expiry of the serving certificate (Unix seconds)",
            cert_not_after.clone(),
        );
        let cert_reloads = Counter::default();
        registry.register(
            "certificate_reloads",
            "Serving certificate reloads",
            cert_reloads.clone(),
        );
        let cert_reload_failures = Counter::default();
        registry.register(
            "certificate_reload_failures",
            "New certificate pairs rejected (the old one stays)",
            cert_reload_failures.clone(),
        );
        let config_reloads = Counter::default();
        registry.register("config_reloads", "Policy configuration reloads", config_reloads.clone());
        let config_reload_failures = Counter::default();
        registry.register(
            "config_reload_failures",
            "Policy configurations rejected (the running one stays)",
            config_reload_failures.clone(),
        );
        let watch_restarts = Family::<KindLabels, Gauge>::default();
        registry.register(
            "watch_restarts",
            "Watch failures (each followed by a retry) by kind",
            watch_restarts.clone(),
        );
        let watch_seconds_since_event = Family::<KindLabels, Gauge>::default();
        registry.register(
            "watch_seconds_since_event",
            "Seconds since the last watch event by kind",
            watch_seconds_since_event.clone(),
        );
        let read_through = Family::<OutcomeLabels, Counter>::default();
        registry.register(
            "read_through",
            "Live GETs before a denial, by outcome",
            read_through.clone(),
        );
        let audit_findings = Family::<AuditLabels, Gauge>::default();
        registry.register(
            "audit_findings",
            "Findings on existing objects (the audit, exemptions applied) by code, severity and namespace",
            audit_findings.clone(),
        );
        let audit_objects = Gauge::default();
        registry.register("audit_objects", "Objects the audit covers", audit_objects.clone());
        let audit_last_pass = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "audit_last_pass_timestamp_seconds",
            "When the last audit pass finished (Unix seconds)",
            audit_last_pass.clone(),
        );
        let audit_last_pass_seconds = Gauge::<f64, AtomicU64>::default();
        registry.register(
            "audit_last_pass_duration_seconds",
            "How long the last audit pass took",
            audit_last_pass_seconds.clone(),
        );
        let audit_last_pass_rechecked = Gauge::default();
        registry.register(
            "audit_last_pass_rechecked_objects",
            "Objects the last audit pass checked again",
            audit_last_pass_rechecked.clone(),
        );
        let audit_passes = Gauge::default();
        registry.register("audit_passes", "Audit passes since start", audit_passes.clone());
        let remote_cluster_ready = Family::<ClusterLabels, Gauge>::default();
        registry.register(
            "remote_cluster_ready",
            "1 while a remote cluster (multi-cluster mesh) is synced, 0 while it is syncing or unreachable (its last-known objects are kept)",
            remote_cluster_ready.clone(),
        );
        let remote_cluster_state = Family::<ClusterStateLabels, Gauge>::default();
        registry.register(
            "remote_cluster_state",
            "1 for a remote cluster's current state (synced, syncing, unreachable), 0 for the others",
            remote_cluster_state.clone(),
        );
        let remote_cluster_last_sync = Family::<ClusterLabels, Gauge<f64, AtomicU64>>::default();
        registry.register(
            "remote_cluster_last_sync_timestamp_seconds",
            "When a remote cluster's objects were last known current (Unix seconds)",
            remote_cluster_last_sync.clone(),
        );
        let remote_cluster_objects = Family::<ClusterKindLabels, Gauge>::default();
        registry.register(
            "remote_cluster_objects",
            "Objects of a remote cluster in the view, by kind",
            remote_cluster_objects.clone(),
        );
        let remote_secret_rejections = Counter::default();
        registry.register(
            "remote_secret_rejections",
            "Remote secret keys rejected (an unsafe or unreadable kubeconfig: never used)",
            remote_secret_rejections.clone(),
        );
        Metrics {
            registry,
            reviews,
            review_seconds,
            findings,
            cache_objects,
            cache_ready,
            not_ready_allowed,
            cert_not_after,
            cert_reloads,
            cert_reload_failures,
            config_reloads,
            config_reload_failures,
            watch_restarts,
            watch_seconds_since_event,
            read_through,
            audit_findings,
            audit_objects,
            audit_last_pass,
            audit_last_pass_seconds,
            audit_last_pass_rechecked,
            audit_passes,
            remote_cluster_ready,
            remote_cluster_state,
            remote_cluster_last_sync,
            remote_cluster_objects,
            remote_secret_rejections,
            remote_known: std::sync::Mutex::default(),
        }
    }

    /// One live read before a denial, by outcome.
    pub fn count_read_through(&self, outcome: &str) {
        self.read_through
            .get_or_create(&OutcomeLabels {
                outcome: outcome.to_string(),
            })
            .inc();
    }

    pub fn encode(&self) -> String {
        let mut s = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut s, &self.registry);
        s
    }
}
