//! Engine benchmarks at the product.md §6 view size:
//! `cargo bench --bench engine` (numbers go to docs/performance.md).

use std::sync::{Arc, OnceLock};

use meshgate::checks;
use meshgate::model::Object;
use meshgate::synthetic::{self, Scale};
use meshgate::view::{ClusterView, Entry, ViewSettings};

fn main() {
    divan::main();
}

fn objects() -> &'static Vec<Object> {
    static OBJECTS: OnceLock<Vec<Object>> = OnceLock::new();
    OBJECTS.get_or_init(|| objects_at(&Scale::PRODUCT))
}

fn objects_at(s: &Scale) -> Vec<Object> {
    synthetic::objects(s)
        .into_iter()
        .map(|v| Object::from_value(v, "default").expect("synthetic objects are valid"))
        .collect()
}

/// §6 plus 500 Gateway API Gateways and 5,000 HTTPRoutes.
fn gateway_api_objects() -> &'static Vec<Object> {
    static OBJECTS: OnceLock<Vec<Object>> = OnceLock::new();
    OBJECTS.get_or_init(|| objects_at(&Scale::PRODUCT_GATEWAY_API))
}

fn gateway_api_view() -> &'static ClusterView {
    static VIEW: OnceLock<ClusterView> = OnceLock::new();
    VIEW.get_or_init(|| build(gateway_api_objects()))
}

/// The §6 view plus the Gateway API objects (93,500 objects) indexed from scratch.
#[divan::bench(sample_count = 5, sample_size = 1)]
fn index_build_product_scale_with_gateway_api() -> ClusterView {
    build(divan::black_box(gateway_api_objects()))
}

/// One HTTPRoute or Gateway API Gateway review's check work at that size.
#[divan::bench(args = ["httproute", "k8s-gateway"])]
fn check_one_gateway_api(bencher: divan::Bencher, which: &str) {
    let s = Scale::PRODUCT_GATEWAY_API;
    let value = match which {
        "httproute" => synthetic::http_route(&s, 4242),
        _ => synthetic::k8s_gateway(&s, 77),
    };
    let view = gateway_api_view();
    let entry = Entry::new(Object::from_value(value.clone(), "default").unwrap(), view.settings());
    let findings = checks::check(&entry, view);
    assert!(findings.is_empty(), "synthetic objects are consistent: {findings:?}");
    bencher.bench(|| {
        let o = Object::from_value(divan::black_box(value.clone()), "default").unwrap();
        let entry = Entry::new(o, view.settings());
        checks::check(&entry, view)
    });
}

fn view() -> &'static ClusterView {
    static VIEW: OnceLock<ClusterView> = OnceLock::new();
    VIEW.get_or_init(|| build(objects()))
}

fn build(objects: &[Object]) -> ClusterView {
    let mut v = ClusterView::new(ViewSettings::default());
    for o in objects {
        v.apply(o.clone());
    }
    v
}

/// The whole §6 view (88,000 objects) indexed from scratch.
#[divan::bench(sample_count = 5, sample_size = 1)]
fn index_build_product_scale() -> ClusterView {
    build(divan::black_box(objects()))
}

fn subject(v: serde_json::Value) -> Arc<Entry> {
    let o = Object::from_value(v, "default").unwrap();
    Arc::new(Entry::new(o, view().settings()))
}

/// One review's check work: parse the object into an entry and run every check.
#[divan::bench(args = ["mesh-vs-with-subset", "gateway-vs", "destination-rule", "gateway", "service-entry", "authorization-policy-mesh-wide"])]
fn check_one(bencher: divan::Bencher, which: &str) {
    let s = Scale::PRODUCT;
    let value = match which {
        "mesh-vs-with-subset" => synthetic::virtual_service(&s, 4242),
        "gateway-vs" => synthetic::virtual_service(&s, 4243),
        "destination-rule" => synthetic::destination_rule(&s, 77),
        "service-entry" => synthetic::service_entry(&s, 17),
        // Namespace-wide in the root namespace: every namespace's workloads in
        // scope (the ambient checks go through the indexes, never a scan).
        "authorization-policy-mesh-wide" => serde_json::json!({
            "apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
            "metadata": {"name": "mesh-wide", "namespace": "istio-system"},
            "spec": {"rules": [{"to": [{"operation": {"ports": ["8080"]}}]}, {"to": [{"operation": {"methods": ["GET"]}}]}]}
        }),
        _ => synthetic::gateway(&s, 5),
    };
    let view = view();
    let findings = checks::check(&subject(value.clone()), view);
    let codes: Vec<&str> = findings.iter().map(|f| f.code).collect();
    // Synthetic external hosts leave from the sidecars: the egress-path warning only.
    let expected: &[&str] = if which == "service-entry" { &["MG0402"] } else { &[] };
    assert_eq!(codes, expected, "synthetic objects are consistent: {findings:?}");
    bencher.bench(|| {
        let o = Object::from_value(divan::black_box(value.clone()), "default").unwrap();
        let entry = Entry::new(o, view.settings());
        checks::check(&entry, view)
    });
}

/// A whole review in-process, without HTTP or TLS: decode the AdmissionReview JSON,
/// decide (overlay, checks, policy), encode the response.
#[divan::bench(args = ["VirtualService", "Gateway", "DestinationRule"])]
fn review_in_process(bencher: divan::Bencher, kind: &str) {
    use meshgate::admission::{decide, review, Pending};
    use meshgate::policy::Policy;
    use std::time::Instant;
    let s = Scale::PRODUCT;
    let obj = match kind {
        "VirtualService" => synthetic::virtual_service(&s, 1000),
        "Gateway" => synthetic::gateway(&s, 5),
        _ => synthetic::destination_rule(&s, 7),
    };
    let body = serde_json::to_vec(
        &serde_json::json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": "u", "kind": {"group": "networking.istio.io", "version": "v1", "kind": kind},
                    "namespace": obj["metadata"]["namespace"], "name": obj["metadata"]["name"],
                    "operation": "CREATE", "object": obj, "dryRun": true}}),
    )
    .unwrap();
    let base = Arc::new(view().clone());
    let policy = Policy::with_defaults("meshgate");
    let pending = Pending::default();
    bencher.bench(|| {
        let mut req = review::parse(divan::black_box(&body)).unwrap();
        let d = decide(&mut req, &base, true, &policy, &pending, Instant::now()).unwrap();
        let out = review::response(req.version, &req.uid, d.allowed, d.message.as_deref(), &d.warnings);
        serde_json::to_vec(&out).unwrap()
    });
}

/// The audit from cold: every Istio object and Service of the §6 view checked,
/// with the topics each read recorded.
#[divan::bench(sample_count = 3, sample_size = 1)]
fn audit_cold_product_scale() -> usize {
    let audit = meshgate::audit::Audit::new(Arc::new(view().clone()));
    audit.len()
}

/// The audit following one watch event at the §6 view, and its revert: each
/// iteration is two passes of one changed object each.
#[divan::bench(
    sample_count = 20,
    args = ["pod-relabel", "service-port-change", "virtual-service-update", "gateway-update", "ingress-pod-delete"]
)]
fn audit_event_and_revert(bencher: divan::Bencher, which: &str) {
    use meshgate::audit::Audit;
    let s = Scale::PRODUCT;
    let before = Arc::new(view().clone());
    let changed = match which {
        "pod-relabel" => {
            let mut p = synthetic::pod(&s, 123);
            p["metadata"]["labels"]["version"] = "v3".into();
            p
        }
        "service-port-change" => {
            let mut svc = synthetic::service(&s, 321);
            svc["spec"]["ports"][0]["port"] = 8080.into();
            svc
        }
        "virtual-service-update" => {
            let mut vs = synthetic::virtual_service(&s, 4242);
            vs["spec"]["http"][0]["route"][0]["destination"]["subset"] = "v2".into();
            vs
        }
        "gateway-update" => {
            let mut gw = synthetic::gateway(&s, 5);
            gw["spec"]["servers"][0]["port"]["number"] = 8080.into();
            gw
        }
        _ => synthetic::ingress_pod(0),
    };
    let object = Object::from_value(changed, "default").unwrap();
    let key = object.key.clone();
    let mut after = (*before).clone();
    if which == "ingress-pod-delete" {
        after.delete(&key);
    } else {
        after.apply(object);
    }
    let after = Arc::new(after);
    let mut audit = Audit::new(before.clone());
    let forward = audit.advance(after.clone(), [key.clone()]);
    audit.advance(before.clone(), [key.clone()]);
    eprintln!("{which}: one event re-checks {} objects", forward.rechecked);
    bencher.bench_local(|| {
        audit.advance(after.clone(), [key.clone()]);
        audit.advance(before.clone(), [key.clone()])
    });
}
