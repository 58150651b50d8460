use crate::model::Object;
use crate::view::ClusterView;

fn istiod(rev: &str, version: &str) -> String {
    format!("apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: istiod-{rev}, namespace: istio-system, labels: {{app: istiod, istio.io/rev: {rev}}}}}\nspec:\n  template:\n    metadata: {{labels: {{app: istiod, istio.io/rev: {rev}}}}}\n    spec: {{containers: [{{name: discovery, image: docker.io/istio/pilot:{version}}}]}}\n")
}

fn namespace(labels: &str) -> String {
    format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: shop, labels: {{{labels}}}}}\n")
}

fn pod(name: &str, rev: &str, version: &str) -> String {
    format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: {name}, namespace: shop, labels: {{app: web, istio.io/rev: {rev}}}}}\nspec:\n  containers:\n  - {{name: web, image: web:1}}\n  - {{name: istio-proxy, image: docker.io/istio/proxyv2:{version}}}\n")
}

fn filter(name: &str, ns: &str, labels: &str, version: &str) -> String {
    format!("apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata: {{name: {name}, namespace: {ns}, labels: {{{labels}}}}}\nspec:\n  configPatches:\n  - applyTo: HTTP_FILTER\n    match:\n      context: SIDECAR_INBOUND\n      proxy: {{proxyVersion: '{version}'}}\n    patch: {{operation: INSERT_FIRST, value: {{name: x}}}}\n")
}

fn entry(_v: &ClusterView, doc: &str) -> Object {
    crate::manifest::parse_text("t.yaml", doc, "default")
        .unwrap()
        .remove(0)
        .object
}

/// A live view (Pods and Namespaces are the workloads, as watched).
fn live(docs: &[&str]) -> ClusterView {
    let mut v = ClusterView::new(crate::view::ViewSettings {
        file_mode: false,
        ..crate::view::ViewSettings::default()
    });
    for d in docs {
        v.apply(entry(&v, d));
    }
    v
}

fn messages(old: &Object, new: &Object, v: &ClusterView) -> Vec<String> {
    super::check(old, new, v)
        .into_iter()
        .map(|f| format!("{} {}: {}", f.code, f.pointer, f.message))
        .collect()
}

/// The seed's canary, at the change that causes it: relabelling the namespace
/// names the filter pinned to 1.17 that stops applying, and the one for 1.18
/// that starts.
#[test]
fn namespace_relabel_names_filters_that_stop_and_start() {
    let (old_cp, new_cp) = (istiod("1-17-5", "1.17.5"), istiod("1-18", "1.18.0"));
    let ns_old = namespace("istio.io/rev: 1-17-5");
    let (p1, p2) = (pod("web-1", "1-17-5", "1.17.5"), pod("web-2", "1-17-5", "1.17.5"));
    let pinned = filter("stats-117", "shop", "", r"^1\.17.*");
    let next = filter("stats-118", "shop", "", r"^1\.18.*");
    let seed_copy = filter(
        "stats-filter-1.17-1-17-5",
        "istio-system",
        "istio.io/rev: 1-17-5",
        r"^1\.17.*",
    );
    let v = live(&[&old_cp, &new_cp, &ns_old, &p1, &p2, &pinned, &next, &seed_copy]);
    let old = entry(&v, &ns_old);
    let new = entry(&v, &namespace("istio.io/rev: 1-18"));
    assert_eq!(
        messages(&old, &new, &v),
        [
            "MG0508 /metadata/labels/istio.io~1rev: namespace shop now injects revision 1-18 (1.18.0): once its 2 workload(s) restart, EnvoyFilter istio-system/stats-filter-1.17-1-17-5 stops applying to 2 of them (web-1, web-2)",
            "MG0508 /metadata/labels/istio.io~1rev: namespace shop now injects revision 1-18 (1.18.0): once its 2 workload(s) restart, EnvoyFilter shop/stats-117 stops applying to 2 of them (web-1, web-2)",
            "MG0508 /metadata/labels/istio.io~1rev: namespace shop now injects revision 1-18 (1.18.0): once its 2 workload(s) restart, EnvoyFilter shop/stats-118 starts applying to 2 of them (web-1, web-2)",
        ]
    );
    // An unrelated label change moves nothing.
    let other = entry(&v, &namespace("istio.io/rev: 1-17-5, team: web"));
    assert!(messages(&old, &other, &v).is_empty());
    // Injection turned off: every filter stops.
    let off = entry(&v, &namespace("team: web"));
    assert_eq!(messages(&old, &off, &v).len(), 2, "{:?}", messages(&old, &off, &v));
}

#[test]
fn istiod_image_and_revision_tag_moves() {
    let cp = istiod("1-18", "1.18.0");
    let ns = namespace("istio.io/rev: prod");
    let tag = |rev: &str| {
        format!("apiVersion: admissionregistration.k8s.io/v1\nkind: MutatingWebhookConfiguration\nmetadata:\n  name: istio-revision-tag-prod\n  labels: {{istio.io/tag: prod, istio.io/rev: {rev}}}\nwebhooks: []\n")
    };
    let p = pod("web-1", "1-18", "1.18.0");
    let pinned = filter("stats-118", "shop", "", r"^1\.18.*");
    let v = live(&[&cp, &istiod("1-19", "1.19.1"), &ns, &tag("1-18"), &p, &pinned]);
    // istio tag set prod --revision 1-19
    let found = messages(&entry(&v, &tag("1-18")), &entry(&v, &tag("1-19")), &v);
    assert_eq!(
        found,
        ["MG0508 /metadata/labels/istio.io~1rev: revision tag prod now points at revision 1-19 (1.19.1): once its 1 workload(s) restart, EnvoyFilter shop/stats-118 stops applying to 1 of them (web-1)"]
    );
    // istiod 1-18 upgraded in place to 1.19.0.
    let found = messages(&entry(&v, &cp), &entry(&v, &istiod("1-18", "1.19.0")), &v);
    assert_eq!(
        found,
        ["MG0508 /spec/template/spec/containers: istiod of revision 1-18 now runs 1.19.0: once its 1 workload(s) restart, EnvoyFilter shop/stats-118 stops applying to 1 of them (web-1)"]
    );
    // A patch release that the regex still matches: nothing to say.
    assert!(messages(&entry(&v, &cp), &entry(&v, &istiod("1-18", "1.18.3")), &v).is_empty());
}

#[test]
fn template_revision_label_and_injection_switch() {
    let deploy = |labels: &str| {
        format!("apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web, namespace: shop}}\nspec:\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web{labels}}}}}\n    spec: {{containers: [{{name: web, image: web:1}}]}}\n")
    };
    let v = live(&[
        &istiod("1-17-5", "1.17.5"),
        &istiod("1-18", "1.18.0"),
        &namespace("istio.io/rev: 1-17-5"),
        &pod("web-1", "1-17-5", "1.17.5"),
        &filter("stats-117", "shop", "", r"^1\.17.*"),
    ]);
    let found = messages(&entry(&v, &deploy("")), &entry(&v, &deploy(", istio.io/rev: 1-18")), &v);
    assert_eq!(
        found,
        ["MG0508 /spec/template/metadata/labels/istio.io~1rev: the template of Deployment shop/web now gets revision 1-18 (1.18.0): once its 1 workload(s) restart, EnvoyFilter shop/stats-117 stops applying to 1 of them (web-1)"]
    );
    let found = messages(
        &entry(&v, &deploy("")),
        &entry(&v, &deploy(", sidecar.istio.io/inject: 'false'")),
        &v,
    );
    assert_eq!(found.len(), 1);
    assert!(found[0].starts_with("MG0508 /spec/template/metadata/labels/sidecar.istio.io~1inject: the template of Deployment shop/web now gets no sidecar (injection off)"), "{found:?}");
    // The template's other labels: nothing moves.
    assert!(messages(&entry(&v, &deploy("")), &entry(&v, &deploy(", tier: front")), &v).is_empty());
}
