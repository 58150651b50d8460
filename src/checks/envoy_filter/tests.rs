use crate::checks::testutil::*;
use crate::finding::Severity;

const POD_1_30: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: web-1, namespace: shop, labels: {app: web}}\nspec:\n  containers:\n  - {name: web, image: web:1}\n  - {name: istio-proxy, image: docker.io/istio/proxyv2:1.30.3}\n";

fn ef(ns: &str, labels: &str, spec: &str) -> String {
    format!("apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata:\n  name: stats\n  namespace: {ns}\n  labels: {{{labels}}}\nspec:\n{spec}")
}

fn patch(context: &str, version: &str) -> String {
    format!("  configPatches:\n  - applyTo: HTTP_FILTER\n    match:\n      context: {context}\n      proxy: {{proxyVersion: '{version}'}}\n    patch:\n      operation: INSERT_FIRST\n      value: {{name: x}}\n")
}

#[test]
fn mg0501_dead_proxy_version_names_the_running_versions() {
    let v = view(&[POD_1_30]);
    let f = check_yaml(&v, &ef("shop", "", &patch("SIDECAR_INBOUND", r"^1\.17.*")));
    assert_eq!(
        codes(&f),
        [("MG0501".into(), "/spec/configPatches/0/match/proxy/proxyVersion".into())]
    );
    assert_eq!(f[0].severity, Severity::Error);
    assert!(f[0].message.contains("they run 1.30.3"), "{}", f[0].message);
    assert!(check_yaml(&v, &ef("shop", "", &patch("SIDECAR_INBOUND", r"^1\.30.*"))).is_empty());
    // Unanchored, as istiod matches it.
    assert!(check_yaml(&v, &ef("shop", "", &patch("ANY", r"30\.3"))).is_empty());
}

#[test]
fn mg0501_one_finding_per_dead_patch() {
    let v = view(&[POD_1_30]);
    let three = format!(
        "{}{}{}",
        patch("ANY", "^1\\.17.*"),
        &patch("ANY", "^1\\.18.*")[17..],
        &patch("ANY", "^1\\.30.*")[17..]
    );
    let f = check_yaml(&v, &ef("shop", "", &three));
    assert_eq!(
        codes(&f),
        [
            ("MG0501".into(), "/spec/configPatches/0/match/proxy/proxyVersion".into()),
            ("MG0501".into(), "/spec/configPatches/1/match/proxy/proxyVersion".into())
        ]
    );
}

#[test]
fn mg0501_upgrade_staging_matches_an_installed_control_plane() {
    let istiod = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: istiod-1-31, namespace: istio-system, labels: {app: istiod, istio.io/rev: 1-31}}\nspec:\n  template:\n    metadata: {labels: {app: istiod, istio.io/rev: 1-31}}\n    spec: {containers: [{name: discovery, image: docker.io/istio/pilot:1.31.0}]}\n";
    let v = view(&[POD_1_30, istiod]);
    assert!(check_yaml(&v, &ef("shop", "", &patch("ANY", r"^1\.31.*"))).is_empty());
}

/// The seed's failure: the workloads moved to the 1-18 control plane (namespace
/// relabelled, Pods recreated with 1.18 proxies) while the 1-17-5 one is still
/// installed. A `^1\.17` patch meets none of them: dead, though a 1.17
/// control plane runs. Staging ahead (a newer plane, or the namespace's own
/// revision) still counts.
#[test]
fn mg0501_a_left_over_control_plane_does_not_keep_a_patch_alive() {
    let istiod = |rev: &str, v: &str| {
        format!("apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: istiod-{rev}, namespace: istio-system, labels: {{app: istiod, istio.io/rev: {rev}}}}}\nspec:\n  template:\n    metadata: {{labels: {{app: istiod, istio.io/rev: {rev}}}}}\n    spec: {{containers: [{{name: discovery, image: docker.io/istio/pilot:{v}}}]}}\n")
    };
    let ns = |rev: &str| {
        format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: shop, labels: {{istio.io/rev: {rev}}}}}\n")
    };
    let pod = |rev: &str, v: &str| {
        format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: web-1, namespace: shop, labels: {{app: web, istio.io/rev: {rev}}}}}\nspec:\n  containers:\n  - {{name: web, image: web:1}}\n  - {{name: istio-proxy, image: docker.io/istio/proxyv2:{v}}}\n")
    };
    let (old, new) = (istiod("1-17-5", "1.17.5"), istiod("1-18", "1.18.0"));
    let filter = ef("shop", "", &patch("SIDECAR_INBOUND", r"^1\.17.*"));
    // Before: the workloads run 1.17.5, the filter applies.
    let before = view(&[&old, &new, &ns("1-17-5"), &pod("1-17-5", "1.17.5")]);
    assert!(check_yaml(&before, &filter).is_empty());
    // During the canary, relabelled but not restarted: the namespace still counts
    // 1-17-5's Pod, so a 1.18 patch staged ahead is fine, and so is the 1.17 one.
    let relabelled = view(&[&old, &new, &ns("1-18"), &pod("1-17-5", "1.17.5")]);
    assert!(check_yaml(&relabelled, &filter).is_empty());
    assert!(check_yaml(&relabelled, &ef("shop", "", &patch("SIDECAR_INBOUND", r"^1\.18.*"))).is_empty());
    // After: every proxy in scope runs 1.18.0 from revision 1-18.
    let after = view(&[&old, &new, &ns("1-18"), &pod("1-18", "1.18.0")]);
    let f = check_yaml(&after, &filter);
    assert_eq!(
        codes(&f),
        [("MG0501".into(), "/spec/configPatches/0/match/proxy/proxyVersion".into())]
    );
    assert_eq!(f[0].severity, Severity::Error);
    assert!(
        f[0].message.contains("they run 1.18.0")
            && f[0].message.contains("revision 1-17-5 (1.17.5) serves none of them"),
        "{}",
        f[0].message
    );
    // A rollback staged by relabelling the namespace back keeps it alive.
    let rolling_back = view(&[&old, &new, &ns("1-17-5"), &pod("1-18", "1.18.0")]);
    assert!(check_yaml(&rolling_back, &filter).is_empty());
}

#[test]
fn mg0501_is_a_warning_when_no_proxy_in_scope_has_a_known_version() {
    let digest = POD_1_30.replace("docker.io/istio/proxyv2:1.30.3", "docker.io/istio/proxyv2@sha256:0123");
    let f = check_yaml(&view(&[&digest]), &ef("shop", "", &patch("ANY", r"^1\.17.*")));
    assert_eq!(
        codes(&f),
        [("MG0501".into(), "/spec/configPatches/0/match/proxy/proxyVersion".into())]
    );
    assert_eq!(f[0].severity, Severity::Warning);
}

#[test]
fn mg0501_scope_is_namespace_or_mesh_and_narrows_by_context_and_revision() {
    let other_ns = POD_1_30
        .replace("namespace: shop", "namespace: other")
        .replace("1.30.3", "1.17.5");
    let v = view(&[POD_1_30, &other_ns]);
    // In `shop` only 1.30.3 runs; in the root namespace the mesh runs both.
    assert_eq!(
        codes(&check_yaml(&v, &ef("shop", "", &patch("ANY", r"^1\.17.*")))).len(),
        1
    );
    assert!(check_yaml(&v, &ef("istio-system", "", &patch("ANY", r"^1\.17.*"))).is_empty());
    // GATEWAY context: only gateway proxies count.
    let gw = "apiVersion: v1\nkind: Pod\nmetadata: {name: gw, namespace: shop, labels: {istio: ingressgateway}}\nspec:\n  containers: [{name: istio-proxy, image: istio/proxyv2:1.17.5, args: [proxy, router]}]\n";
    let v = view(&[POD_1_30, gw]);
    assert!(check_yaml(&v, &ef("shop", "", &patch("GATEWAY", r"^1\.17.*"))).is_empty());
    assert_eq!(
        codes(&check_yaml(
            &v,
            &ef("shop", "", &patch("SIDECAR_OUTBOUND", r"^1\.17.*"))
        ))
        .len(),
        1
    );
    // A filter labelled for a revision sees only that revision's proxies.
    let f = check_yaml(
        &view(&[POD_1_30]),
        &ef("shop", "istio.io/rev: 1-17-5", &patch("ANY", r"^1\.17.*")),
    );
    assert_eq!(f[0].severity, Severity::Warning, "no proxy of revision 1-17-5: {f:?}");
}

#[test]
fn mg0501_templates_not_injected_yet_get_their_control_plane_version() {
    let ns = "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {istio-injection: enabled}}\n";
    let istiod = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: istiod, namespace: istio-system}\nspec:\n  template:\n    metadata: {labels: {app: istiod}}\n    spec: {containers: [{name: discovery, image: docker.io/istio/pilot:1.30.3}]}\n";
    let deploy = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: web:1}]}\n";
    let v = view(&[ns, istiod, deploy]);
    let f = check_yaml(&v, &ef("shop", "", &patch("SIDECAR_INBOUND", r"^1\.17.*")));
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].severity, Severity::Error);
    assert!(f[0].message.contains("they run 1.30.3"), "{}", f[0].message);
}

#[test]
fn mg0502_invalid_regex() {
    let v = view(&[POD_1_30]);
    let f = check_yaml(&v, &ef("shop", "", &patch("ANY", "^1\\.(17")));
    assert_eq!(
        codes(&f),
        [("MG0502".into(), "/spec/configPatches/0/match/proxy/proxyVersion".into())]
    );
    // Valid but enormous: rejected by the size limit, not compiled.
    let f = check_yaml(&v, &ef("shop", "", &patch("ANY", "(a{1000}){1000}")));
    assert_eq!(codes(&f)[0].0, "MG0502");
}

#[test]
fn mg0503_selector_matches_nothing() {
    let v = view(&[POD_1_30]);
    let spec = format!(
        "  workloadSelector:\n    labels: {{app: nothing}}\n{}",
        patch("ANY", r"^1\.30.*")
    );
    let f = check_yaml(&v, &ef("shop", "", &spec));
    assert_eq!(codes(&f)[0], ("MG0503".into(), "/spec/workloadSelector".into()));
    let spec = format!(
        "  workloadSelector:\n    labels: {{app: web}}\n{}",
        patch("ANY", r"^1\.30.*")
    );
    assert!(check_yaml(&v, &ef("shop", "", &spec)).is_empty());
}

#[test]
fn mg0504_and_mg0505_operations() {
    let v = view(&[POD_1_30]);
    let spec = "  configPatches:\n  - applyTo: HTTP_FILTER\n    patch: {operation: INSERT_BEFORE, value: {name: x}}\n  - applyTo: CLUSTER\n    patch: {operation: REPLACE}\n  - applyTo: HTTP_ROUTE\n    patch: {operation: ADD}\n";
    let f = check_yaml(&v, &ef("shop", "", spec));
    // HTTP_ROUTE ADD is applied (istiod appends the route); CLUSTER REPLACE is
    // ignored, so its priority does not matter: MG0505 alone.
    assert_eq!(
        codes(&f),
        [
            ("MG0504".into(), "/spec/configPatches/0/patch/operation".into()),
            ("MG0505".into(), "/spec/configPatches/1/patch/operation".into()),
        ]
    );
    assert!(
        f[1].message.contains("it applies ADD, REMOVE, MERGE") && f[1].message.contains("filter not applied"),
        "{}",
        f[1].message
    );
    let with_priority = format!(
        "  priority: 10\n{}",
        "  configPatches:\n  - applyTo: HTTP_FILTER\n    patch: {operation: INSERT_BEFORE, value: {name: x}}\n"
    );
    assert!(check_yaml(&v, &ef("shop", "", &with_priority)).is_empty());
}

/// The operations istiod's patchers honour, applyTo by applyTo.
#[test]
fn mg0505_follows_istiods_patchers() {
    let v = view(&[POD_1_30]);
    let cases = [
        ("ROUTE_CONFIGURATION", "MERGE", true),
        ("ROUTE_CONFIGURATION", "ADD", false),
        ("HTTP_ROUTE", "INSERT_FIRST", true),
        ("HTTP_ROUTE", "REPLACE", false),
        ("VIRTUAL_HOST", "REPLACE", true),
        ("VIRTUAL_HOST", "INSERT_BEFORE", false),
        ("LISTENER", "INSERT_FIRST", false),
        ("LISTENER", "REMOVE", true),
        ("FILTER_CHAIN", "REPLACE", false),
        ("LISTENER_FILTER", "REPLACE", true),
        ("NETWORK_FILTER", "INSERT_FIRST", true),
        ("CLUSTER", "INSERT_AFTER", false),
        ("CLUSTER", "ADD", true),
        ("EXTENSION_CONFIG", "ADD", true),
    ];
    for (apply_to, op, applied) in cases {
        let spec = format!("  priority: 1\n  configPatches:\n  - applyTo: {apply_to}\n    patch: {{operation: {op}, value: {{name: x}}}}\n");
        let f = check_yaml(&v, &ef("shop", "", &spec));
        assert_eq!(f.iter().all(|f| f.code != "MG0505"), applied, "{apply_to} {op}: {f:?}");
    }
}

#[test]
fn mg0506_context_with_nothing_in_scope() {
    let v = view(&[POD_1_30]);
    let f = check_yaml(&v, &ef("shop", "", &patch("GATEWAY", r"^1\.30.*")));
    assert_eq!(
        codes(&f)[0],
        ("MG0506".into(), "/spec/configPatches/0/match/context".into())
    );
    assert!(check_yaml(&v, &ef("shop", "", &patch("SIDECAR_INBOUND", r"^1\.30.*"))).is_empty());
}

#[test]
fn mg0002_revision_without_control_plane() {
    let istiod = "apiVersion: v1\nkind: Pod\nmetadata: {name: istiod-x, namespace: istio-system, labels: {app: istiod}}\nspec: {containers: [{name: discovery, image: docker.io/istio/pilot:1.30.3}]}\n";
    let v = view(&[POD_1_30, istiod]);
    let f = check_yaml(&v, &ef("shop", "istio.io/rev: 1-17-5", &patch("ANY", r"^1\.30.*")));
    assert_eq!(codes(&f)[0], ("MG0002".into(), "/metadata/labels/istio.io~1rev".into()));
    assert!(
        f[0].message.contains("installed revisions: default"),
        "{}",
        f[0].message
    );
    assert!(!codes(&check_yaml(
        &v,
        &ef("shop", "istio.io/rev: default", &patch("ANY", r"^1\.30.*"))
    ))
    .iter()
    .any(|(c, _)| c == "MG0002"));
    // No control plane known at all: silent.
    let f = check_yaml(
        &view(&[POD_1_30]),
        &ef("shop", "istio.io/rev: 1-17-5", &patch("ANY", r"^1\.30.*")),
    );
    assert!(!codes(&f).iter().any(|(c, _)| c == "MG0002"), "{f:?}");
}

#[test]
fn revision_tags_in_mg0002_and_mg0501() {
    let istiod = "apiVersion: v1\nkind: Pod\nmetadata: {name: istiod-1-30-3-x, namespace: istio-system, labels: {app: istiod, istio.io/rev: 1-30-3}}\nspec: {containers: [{name: discovery, image: docker.io/istio/pilot:1.30.3-distroless}]}\n";
    let tag = "apiVersion: admissionregistration.k8s.io/v1\nkind: MutatingWebhookConfiguration\nmetadata:\n  name: istio-revision-tag-prod\n  labels: {istio.io/tag: prod, istio.io/rev: 1-30-3}\n";
    // A Deployment not injected yet, in a namespace injected through the tag.
    let ns = "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {istio.io/rev: prod}}\n";
    let web = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  template:\n    metadata: {labels: {app: web}}\n    spec: {containers: [{name: web, image: web:1}]}\n";
    let v = view(&[istiod, tag, ns, web]);
    // The template will run the tag's revision, 1.30.3: a filter pinned to 1.17 is dead.
    let f = check_yaml(&v, &ef("shop", "", &patch("SIDECAR_INBOUND", r"^1\.17.*")));
    assert_eq!(
        codes(&f),
        [("MG0501".into(), "/spec/configPatches/0/match/proxy/proxyVersion".into())]
    );
    assert!(f[0].message.contains("they run 1.30.3"), "{}", f[0].message);
    assert_eq!(f[0].severity, Severity::Error);
    // A configuration object labelled with the tag: no istiod reads it.
    let f = check_yaml(&v, &ef("shop", "istio.io/rev: prod", &patch("ANY", r"^1\.30.*")));
    assert_eq!(codes(&f)[0], ("MG0002".into(), "/metadata/labels/istio.io~1rev".into()));
    assert_eq!(
        f[0].message,
        "revision \"prod\" matches no control plane (installed revisions: 1-30-3): no istiod reads this object (\"prod\" is a revision tag of revision \"1-30-3\": tags select injection, configuration must name the revision itself)"
    );
    assert!(!codes(&check_yaml(
        &v,
        &ef("shop", "istio.io/rev: 1-30-3", &patch("ANY", r"^1\.30.*"))
    ))
    .iter()
    .any(|(c, _)| c == "MG0002"));
}
