use super::*;
use crate::manifest::parse_text;

fn objects(text: &str) -> Vec<Object> {
    parse_text("t.yaml", text, "default")
        .unwrap()
        .into_iter()
        .map(|m| m.object)
        .collect()
}

const MIX: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: reviews, namespace: default}\nspec:\n  selector: {app: reviews}\n  ports: [{port: 9080}]\n---\napiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: ext, namespace: default}\nspec:\n  hosts: [api.foo.com, \"*.bar.com\"]\n---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: reviews, namespace: default}\nspec:\n  host: reviews\n---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: r, namespace: default}\nspec:\n  hosts: [reviews]\n  gateways: [mesh, istio-system/gw]\n  http:\n  - route: [{destination: {host: reviews}}]\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: default, labels: {app: reviews, version: v1}}\n---\napiVersion: admissionregistration.k8s.io/v1\nkind: MutatingWebhookConfiguration\nmetadata: {name: istio-revision-tag-prod, labels: {istio.io/tag: prod, istio.io/rev: 1-30-3}}\n---\napiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: jwt, namespace: default}\nspec: {}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: q, namespace: other, labels: {app: q}}\nspec:\n  serviceAccountName: q\n  containers: [{name: istio-proxy, image: istio/proxyv2:1.30.3}]\n";

#[test]
fn lookups_answer_from_indexes() {
    // Both storages: `serve`'s persistent maps and `check`'s plain ones.
    for storage in [Storage::Persistent, Storage::Plain] {
        let mut v = ClusterView::with_storage(ViewSettings::default(), storage);
        for o in objects(MIX) {
            v.apply(o);
        }
        assert_eq!(v.registry("reviews.default.svc.cluster.local").count(), 1);
        assert_eq!(v.registry("api.foo.com").count(), 1);
        assert_eq!(v.covering_registry("x.bar.com").len(), 1);
        assert!(v.any_registry_under("*.foo.com"));
        assert!(v.any_registry_under("*.svc.cluster.local"));
        assert!(!v.any_registry_under("*.baz.com"));
        assert_eq!(v.gateway_binders("istio-system", "gw").count(), 1);
        assert_eq!(v.host_referrers("reviews.default.svc.cluster.local").count(), 1);
        assert_eq!(v.mesh_virtual_services("reviews.default.svc.cluster.local").count(), 1);
        let sel = [("app".to_string(), "reviews".to_string())].into_iter().collect();
        assert_eq!(v.workloads_matching(Some("default"), &sel).count(), 1);
        assert_eq!(v.workloads_matching(Some("other"), &sel).count(), 0);
        assert_eq!(
            v.destination_rules_for("reviews.default.svc.cluster.local", "default", &[])
                .len(),
            1
        );
        assert!(v.namespace_exists("default"));
        assert!(!v.namespace_exists("nowhere"));
    }
}

#[test]
fn delete_removes_every_index_entry() {
    // Both storages: `serve`'s persistent maps and `check`'s plain ones.
    for storage in [Storage::Persistent, Storage::Plain] {
        let mut v = ClusterView::with_storage(ViewSettings::default(), storage);
        let objs = objects(MIX);
        for o in objs.clone() {
            v.apply(o);
        }
        // Re-applying the same objects changes nothing.
        for o in objs.clone() {
            v.apply(o);
        }
        assert_eq!(v.len(), objs.len());
        assert!(v.service_account_exists("other", "q") && v.service_account_exists("default", "default"));
        assert_eq!(v.proxies(Some("other"), None).len(), 1);
        for o in &objs {
            assert!(v.delete(&o.key).is_some());
        }
        assert!(v.is_empty());
        let idx = &v.idx;
        assert!(idx.hosts.is_empty() && idx.reversed_hosts.is_empty() && idx.drs.is_empty());
        assert!(idx.gateway_binders.is_empty() && idx.host_referrers.is_empty() && idx.mesh_vs_hosts.is_empty());
        assert!(idx.workloads_by_label.is_empty() && idx.workloads.is_empty());
        assert!(idx.service_accounts_in_use.is_empty() && idx.proxy_classes.is_empty());
        assert!(idx.revision_tags.is_empty() && idx.request_auth.is_empty());
        assert!(v.object_namespaces.is_empty());
    }
}

#[test]
fn an_update_moves_index_entries() {
    // Both storages: `serve`'s persistent maps and `check`'s plain ones.
    for storage in [Storage::Persistent, Storage::Plain] {
        let mut v = ClusterView::with_storage(ViewSettings::default(), storage);
        for o in objects(MIX) {
            v.apply(o);
        }
        let moved = objects("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: r, namespace: default}\nspec:\n  hosts: [reviews]\n  gateways: [istio-system/other]\n");
        v.apply(moved[0].clone());
        assert_eq!(v.gateway_binders("istio-system", "gw").count(), 0);
        assert_eq!(v.gateway_binders("istio-system", "other").count(), 1);
        assert_eq!(v.mesh_virtual_services("reviews.default.svc.cluster.local").count(), 0);
    }
}

#[test]
fn live_mode_counts_only_pods_and_namespace_objects() {
    let mut v = ClusterView::new(ViewSettings {
        file_mode: false,
        ..ViewSettings::default()
    });
    for o in objects("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d, namespace: app}\nspec:\n  template:\n    metadata: {labels: {app: x}}\n") {
        v.apply(o);
    }
    assert!(!v.namespace_exists("app"));
    let sel = [("app".to_string(), "x".to_string())].into_iter().collect();
    assert_eq!(v.workloads_matching(None, &sel).count(), 0);
    for o in objects("apiVersion: v1\nkind: Namespace\nmetadata: {name: app}\n") {
        v.apply(o);
    }
    assert!(v.namespace_exists("app"));
}

#[test]
fn mesh_config_follows_its_configmap() {
    let mut v = ClusterView::new(ViewSettings::default());
    let cm = objects("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\ndata:\n  mesh: \"rootNamespace: mesh-root\"\n");
    v.apply(cm[0].clone());
    assert_eq!(v.mesh().root_namespace, "mesh-root");
    v.delete(&cm[0].key);
    assert_eq!(v.mesh().root_namespace, "istio-system");
}

#[test]
fn gateways_serving_finds_exact_covering_and_covered_hosts() {
    let gw = |name: &str, host: &str| {
        format!("apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {{name: {name}, namespace: gw}}\nspec:\n  servers:\n  - port: {{number: 443, name: https, protocol: HTTPS}}\n    hosts: [\"{host}\"]\n")
    };
    let mut v = ClusterView::new(ViewSettings::default());
    for (n, h) in [
        ("exact", "a.example.com"),
        ("wild", "*/*.example.com"),
        ("all", "*"),
        ("other", "ns/b.example.org"),
    ] {
        for o in objects(&gw(n, h)) {
            v.apply(o);
        }
    }
    let names = |port: u32, host: &str| -> Vec<String> {
        let mut n: Vec<String> = v
            .gateways_serving(port, host)
            .iter()
            .map(|e| e.object.key.name.clone())
            .collect();
        n.sort();
        n
    };
    assert_eq!(names(443, "a.example.com"), ["all", "exact", "wild"]);
    assert_eq!(names(443, "*.example.com"), ["all", "exact", "wild"]);
    assert_eq!(names(443, "x/b.example.org"), ["all", "other"]);
    assert_eq!(names(443, "*"), ["all", "exact", "other", "wild"]);
    assert!(names(80, "a.example.com").is_empty());
}

#[test]
fn revision_tags_steer_injection_to_their_revision() {
    let cluster = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: istiod-1-30-3, namespace: istio-system, labels: {app: istiod, istio.io/rev: 1-30-3}}\nspec:\n  template:\n    metadata: {labels: {app: istiod, istio.io/rev: 1-30-3}}\n    spec: {containers: [{name: discovery, image: docker.io/istio/pilot:1.30.3}]}\n---\napiVersion: admissionregistration.k8s.io/v1\nkind: MutatingWebhookConfiguration\nmetadata:\n  name: istio-revision-tag-prod\n  labels: {istio.io/tag: prod, istio.io/rev: 1-30-3}\nwebhooks: []\n---\napiVersion: admissionregistration.k8s.io/v1\nkind: MutatingWebhookConfiguration\nmetadata:\n  name: istio-revision-tag-default\n  labels: {istio.io/tag: default, istio.io/rev: 1-30-3}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {istio.io/rev: prod}}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: legacy, labels: {istio-injection: enabled}}\n";
    let template = |ns: &str| {
        format!("apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web, namespace: {ns}}}\nspec:\n  template:\n    metadata: {{labels: {{app: web}}}}\n    spec: {{containers: [{{name: web, image: web:1}}]}}\n")
    };
    let mut v = ClusterView::new(ViewSettings::default());
    for o in objects(cluster)
        .into_iter()
        .chain(objects(&template("shop")))
        .chain(objects(&template("legacy")))
    {
        v.apply(o);
    }
    assert_eq!(
        v.revision_tags(),
        [
            ("default".to_string(), "1-30-3".to_string()),
            ("prod".to_string(), "1-30-3".to_string())
        ]
        .into_iter()
        .collect()
    );
    // `istio.io/rev: prod` and `istio-injection=enabled` (the `default` tag) both
    // inject revision 1-30-3, so the templates will run 1.30.3.
    for ns in ["shop", "legacy"] {
        let p: Vec<ResolvedProxy> = v.proxies(Some(ns), None).into_iter().collect();
        assert_eq!(
            p,
            [ResolvedProxy {
                version: Some("1.30.3".into()),
                gateway: false,
                revision: "1-30-3".into()
            }],
            "{ns}"
        );
    }
    // Without the tag the revision is unknown and so is the version.
    v.delete(&ObjKey::new(
        Kind::MutatingWebhookConfiguration,
        "",
        "istio-revision-tag-prod",
    ));
    let p: Vec<ResolvedProxy> = v.proxies(Some("shop"), None).into_iter().collect();
    assert_eq!((p[0].version.as_deref(), p[0].revision.as_str()), (None, "prod"));
}
