//! MG10xx unit tests.
use crate::checks::testutil::{codes, view};
use crate::finding::Finding;

/// The MG10xx findings of a subject (other checks have their own tests).
fn check_yaml(v: &crate::view::ClusterView, doc: &str) -> Vec<Finding> {
    let mut f = crate::checks::testutil::check_yaml(v, doc);
    f.retain(|f| f.code.starts_with("MG10"));
    f
}
use crate::finding::Severity;

const AMBIENT_NS: &str =
    "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {istio.io/dataplane-mode: ambient}}\n";
const SIDECAR_NS: &str =
    "apiVersion: v1\nkind: Namespace\nmetadata: {name: legacy, labels: {istio-injection: enabled}}\n";
const WEB_POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: web-1, namespace: shop, labels: {app: web}}\nspec:\n  serviceAccountName: web\n  containers: [{name: app, image: example/web:1}]\n";
const WEB_SVC: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec:\n  selector: {app: web}\n  ports: [{name: http, port: 80}]\n";
const LEGACY_POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: web-1, namespace: legacy, labels: {app: web}}\nspec:\n  containers: [{name: app, image: example/web:1}, {name: istio-proxy, image: docker.io/istio/proxyv2:1.30.3}]\n";
const WAYPOINT_CLASS: &str = "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: istio-waypoint}\nspec: {controllerName: istio.io/mesh-controller}\n";
const WAYPOINT: &str = "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: waypoint, namespace: shop}\nspec:\n  gatewayClassName: istio-waypoint\n  listeners: [{name: mesh, port: 15008, protocol: HBONE}]\n";

fn ap(ns: &str, body: &str) -> String {
    format!("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {{name: p, namespace: {ns}}}\nspec:\n{body}")
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter().map(|(c, q)| (c.to_string(), q.to_string())).collect()
}

#[test]
fn mg1004_an_l7_only_allow_at_ztunnel_is_a_deny_all() {
    let v = view(&[AMBIENT_NS, WEB_POD]);
    let l7 = ap("shop", "  selector: {matchLabels: {app: web}}\n  rules:\n  - to: [{operation: {methods: [GET]}}]\n  - from: [{source: {requestPrincipals: [\"*\"]}}]\n");
    let f = check_yaml(&v, &l7);
    assert_eq!(codes(&f), pairs(&[("MG1004", "/spec/rules/0")]));
    assert_eq!(f[0].severity, Severity::Error);
    assert!(
        f[0].message
            .contains("ztunnel denies every connection to them (web-1): deny-all, connections reset"),
        "{}",
        f[0].message
    );
    assert!(f[0].message.contains("(methods)"), "{}", f[0].message);
    // Another ALLOW with an L4 rule admits traffic: only those rules are lost.
    let other = ap(
        "shop",
        "  selector: {matchLabels: {app: web}}\n  rules:\n  - from: [{source: {namespaces: [front]}}]\n",
    )
    .replace("name: p,", "name: l4,");
    let f = check_yaml(&view(&[AMBIENT_NS, WEB_POD, &other]), &l7);
    assert_eq!(
        codes(&f),
        pairs(&[("MG1005", "/spec/rules/0"), ("MG1005", "/spec/rules/1")])
    );
    assert_eq!(f[0].severity, Severity::Warning);
    // Sidecar pods see HTTP: nothing to say; no rules at all is a deny-all by design.
    assert!(check_yaml(
        &view(&[SIDECAR_NS, LEGACY_POD]),
        &l7.replace("namespace: shop", "namespace: legacy")
    )
    .is_empty());
    assert!(check_yaml(&v, &ap("shop", "  selector: {matchLabels: {app: web}}\n")).is_empty());
    // A namespace-wide policy in the root namespace reaches ambient pods everywhere.
    let mesh_wide = ap("istio-system", "  rules:\n  - to: [{operation: {paths: [/health]}}]\n");
    assert_eq!(
        codes(&check_yaml(&v, &mesh_wide)),
        pairs(&[("MG1004", "/spec/rules/0")])
    );
    // L4 `when` keys are fine; other keys are HTTP.
    let when = |k: &str| {
        ap(
            "shop",
            &format!("  rules:\n  - when: [{{key: {k}, values: [\"x\"]}}]\n"),
        )
    };
    assert!(check_yaml(&v, &when("source.namespace")).is_empty());
    assert_eq!(
        codes(&check_yaml(&v, &when("\"request.headers[x-user]\""))),
        pairs(&[("MG1004", "/spec/rules/0")])
    );
}

#[test]
fn mg1005_some_rules_l7() {
    let v = view(&[AMBIENT_NS, WEB_POD]);
    let mixed = ap(
        "shop",
        "  rules:\n  - from: [{source: {namespaces: [front]}}]\n  - to: [{operation: {hosts: [web.shop]}}]\n",
    );
    let f = check_yaml(&v, &mixed);
    assert_eq!(codes(&f), pairs(&[("MG1005", "/spec/rules/1")]));
    assert!(
        f[0].message.contains("(hosts): istiod drops this rule"),
        "{}",
        f[0].message
    );
}

#[test]
fn mg1006_deny_with_l7_is_wider_and_custom_is_not_enforced() {
    let v = view(&[AMBIENT_NS, WEB_POD]);
    let deny = ap("shop", "  action: DENY\n  rules:\n  - from: [{source: {namespaces: [front]}}]\n    to: [{operation: {methods: [POST]}}]\n");
    let f = check_yaml(&v, &deny);
    assert_eq!(codes(&f), pairs(&[("MG1006", "/spec/rules/0")]));
    assert!(
        f[0].message
            .contains("denies every connection the rest of the rule matches"),
        "{}",
        f[0].message
    );
    let custom = ap(
        "shop",
        "  action: CUSTOM\n  provider: {name: ext-authz}\n  rules: [{}]\n",
    );
    let f = check_yaml(&v, &custom);
    assert_eq!(codes(&f), pairs(&[("MG1006", "/spec/action")]));
    assert!(
        f[0].message.contains("istiod sends no CUSTOM policy to ztunnel"),
        "{}",
        f[0].message
    );
    // At a waypoint (targetRefs) both are what the waypoint does: no MG1006.
    let at_waypoint = custom.replace(
        "  rules: [{}]\n",
        "  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: waypoint}]\n  rules: [{}]\n",
    );
    assert!(check_yaml(&view(&[AMBIENT_NS, WEB_POD, WAYPOINT_CLASS, WAYPOINT]), &at_waypoint).is_empty());
}

#[test]
fn mg1008_target_refs_that_never_attach() {
    let bound_svc = WEB_SVC.replace(
        "namespace: shop}",
        "namespace: shop, labels: {istio.io/use-waypoint: waypoint}}",
    );
    let v = view(&[AMBIENT_NS, WEB_POD, WAYPOINT_CLASS, WAYPOINT, &bound_svc]);
    let target = |ns: &str, r: &str| {
        ap(
            ns,
            &format!("  targetRefs: [{r}]\n  rules: [{{from: [{{source: {{namespaces: [front]}}}}]}}]\n"),
        )
    };
    let class = "{group: gateway.networking.k8s.io, kind: GatewayClass, name: istio-waypoint}";
    assert!(check_yaml(&v, &target("istio-system", class)).is_empty());
    let f = check_yaml(&v, &target("shop", class));
    assert_eq!(codes(&f), pairs(&[("MG1008", "/spec/targetRefs/0")]));
    assert!(
        f[0].message.contains("only from the root namespace (istio-system)"),
        "{}",
        f[0].message
    );
    // Decided at the waypoint, which the ambient index (the oracle) does not
    // show: a warning.
    assert_eq!(f[0].severity, Severity::Warning);
    let f = check_yaml(
        &v,
        &target(
            "istio-system",
            "{group: gateway.networking.k8s.io, kind: GatewayClass, name: istio}",
        ),
    );
    assert_eq!(codes(&f), pairs(&[("MG1008", "/spec/targetRefs/0")]));
    // A Service bound to a waypoint: attached; unbound or missing: not.
    let svc = "{group: \"\", kind: Service, name: web}";
    assert!(check_yaml(&v, &target("shop", svc)).is_empty());
    let unbound = view(&[AMBIENT_NS, WEB_POD, WEB_SVC]);
    let f = check_yaml(&unbound, &target("shop", svc));
    assert_eq!(codes(&f), pairs(&[("MG1008", "/spec/targetRefs/0")]));
    assert!(f[0].message.contains("bound to no waypoint"), "{}", f[0].message);
    // The ambient index shows the Service without a waypoint: an error.
    assert_eq!(f[0].severity, Severity::Error);
    let f = check_yaml(
        &v,
        &target("shop", "{group: gateway.networking.k8s.io, kind: Gateway, name: nope}"),
    );
    assert!(
        f[0].message.contains("Gateway shop/nope does not exist"),
        "{}",
        f[0].message
    );
    assert!(f[0].referent.is_some());
}

#[test]
fn mg1001_mg1002_use_waypoint() {
    let labelled = |name: &str| {
        WEB_SVC.replace(
            "namespace: shop}",
            &format!("namespace: shop, labels: {{istio.io/use-waypoint: {name}}}}}"),
        )
    };
    let v = view(&[AMBIENT_NS, WAYPOINT_CLASS, WAYPOINT]);
    assert!(check_yaml(&v, &labelled("waypoint")).is_empty());
    let f = check_yaml(&v, &labelled("missing"));
    assert_eq!(
        codes(&f),
        pairs(&[("MG1001", "/metadata/labels/istio.io~1use-waypoint")])
    );
    assert_eq!(f[0].severity, Severity::Warning);
    // L7 configuration depends on it: an error.
    let policy = ap(
        "shop",
        "  targetRefs: [{group: \"\", kind: Service, name: web}]\n  rules: [{}]\n",
    );
    let f = check_yaml(
        &view(&[AMBIENT_NS, WAYPOINT_CLASS, WAYPOINT, &policy]),
        &labelled("missing"),
    );
    assert_eq!(f[0].severity, Severity::Error);
    assert!(
        f[0].message.contains("(AuthorizationPolicy shop/p depend on it)"),
        "{}",
        f[0].message
    );
    // waypoint-for: workload does not take a Service.
    let workload_only = WAYPOINT.replace(
        "namespace: shop}",
        "namespace: shop, labels: {istio.io/waypoint-for: workload}}",
    );
    let f = check_yaml(
        &view(&[AMBIENT_NS, WAYPOINT_CLASS, &workload_only]),
        &labelled("waypoint"),
    );
    assert!(f[0].message.contains("UnsupportedTrafficType"), "{}", f[0].message);
    // A waypoint in another namespace admitting only its own (Same).
    let other = "apiVersion: v1\nkind: Service\nmetadata: {name: api, namespace: other, labels: {istio.io/use-waypoint: waypoint, istio.io/use-waypoint-namespace: shop}}\nspec:\n  ports: [{port: 80}]\n";
    let f = check_yaml(&v, other);
    assert!(
        f[0].message
            .contains("does not admit namespace other (istiod: AttachmentDenied)"),
        "{}",
        f[0].message
    );
    let all = WAYPOINT.replace(
        "protocol: HBONE}",
        "protocol: HBONE, allowedRoutes: {namespaces: {from: All}}}",
    );
    assert!(check_yaml(&view(&[AMBIENT_NS, WAYPOINT_CLASS, &all]), other).is_empty());
    // An ingress Gateway named as a waypoint.
    let ingress = "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: edge, namespace: shop}\nspec:\n  gatewayClassName: istio\n  listeners: [{name: http, port: 80, protocol: HTTP}]\n";
    let f = check_yaml(&view(&[AMBIENT_NS, ingress]), &labelled("edge"));
    assert_eq!(
        codes(&f),
        pairs(&[("MG1002", "/metadata/labels/istio.io~1use-waypoint")])
    );
}

#[test]
fn mg1003_dataplane_mode_values() {
    let ns =
        |labels: &str| format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: shop, labels: {{{labels}}}}}\n");
    let v = view(&[]);
    assert!(check_yaml(&v, &ns("istio.io/dataplane-mode: ambient")).is_empty());
    let f = check_yaml(&v, &ns("istio.io/dataplane-mode: enabled"));
    assert_eq!(
        codes(&f),
        pairs(&[("MG1003", "/metadata/labels/istio.io~1dataplane-mode")])
    );
    assert!(
        f[0].message.contains("captures none of this namespace's pods"),
        "{}",
        f[0].message
    );
    let f = check_yaml(&v, &ns("istio.io/dataplane-mode: ambient, istio-injection: enabled"));
    assert!(
        f[0].message.contains("also injects sidecars (revision default)"),
        "{}",
        f[0].message
    );
}

#[test]
fn mg1009_sidecar_only_configuration_on_ambient_pods() {
    let v = view(&[AMBIENT_NS, WEB_POD, SIDECAR_NS, LEGACY_POD]);
    let ef = |ns: &str| {
        format!("apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata: {{name: f, namespace: {ns}}}\nspec:\n  workloadSelector: {{labels: {{app: web}}}}\n  configPatches:\n  - applyTo: HTTP_FILTER\n    match: {{context: SIDECAR_INBOUND}}\n    patch: {{operation: INSERT_BEFORE, value: {{name: x}}}}\n")
    };
    let f: Vec<_> = check_yaml(&v, &ef("shop"))
        .into_iter()
        .filter(|f| f.code == "MG1009")
        .collect();
    assert_eq!(codes(&f), pairs(&[("MG1009", "/spec/workloadSelector")]));
    assert!(check_yaml(&v, &ef("legacy")).iter().all(|f| f.code != "MG1009"));
    let sidecar = "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: s, namespace: shop}\nspec:\n  workloadSelector: {labels: {app: web}}\n  egress: [{hosts: [\"./*\"]}]\n";
    assert_eq!(
        codes(&check_yaml(&v, sidecar)),
        pairs(&[("MG1009", "/spec/workloadSelector")])
    );
    let ra = "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: jwt, namespace: shop}\nspec:\n  selector: {matchLabels: {app: web}}\n  jwtRules: [{issuer: https://idp.example.com}]\n";
    assert_eq!(codes(&check_yaml(&v, ra)), pairs(&[("MG1009", "/spec/selector")]));
}

/// A live view: Pods captured by their annotation, waypoints bound once they
/// have a status address.
fn live(docs: &[&str]) -> crate::view::ClusterView {
    let mut v = crate::view::ClusterView::new(crate::view::ViewSettings {
        file_mode: false,
        ..Default::default()
    });
    for d in docs {
        for m in crate::manifest::parse_text("live.yaml", d, "default").unwrap() {
            v.apply(m.object);
        }
    }
    v
}

#[test]
fn live_a_starting_waypoint_is_no_error_and_pods_are_judged_by_annotation() {
    let policy = ap(
        "shop",
        "  targetRefs: [{group: \"\", kind: Service, name: web}]\n  rules:\n  - to: [{operation: {methods: [GET]}}]\n",
    );
    let bound = WEB_SVC.replace(
        "namespace: shop}",
        "namespace: shop, labels: {istio.io/use-waypoint: waypoint}}",
    );
    // The waypoint exists but has no address yet (a GitOps batch just made it):
    // warnings, never an error.
    let v = live(&[AMBIENT_NS, WAYPOINT_CLASS, WAYPOINT, &policy]);
    let f = check_yaml(&v, &bound);
    assert_eq!(
        codes(&f),
        pairs(&[("MG1001", "/metadata/labels/istio.io~1use-waypoint")])
    );
    assert_eq!(f[0].severity, Severity::Warning);
    assert!(f[0].message.contains("has no address yet"), "{}", f[0].message);
    let v = live(&[AMBIENT_NS, WAYPOINT_CLASS, WAYPOINT, &bound]);
    let f = check_yaml(&v, &policy);
    assert_eq!(codes(&f), pairs(&[("MG1008", "/spec/targetRefs/0")]));
    assert_eq!(f[0].severity, Severity::Warning);
    // Once it has one: bound, silent.
    let ready =
        format!("{WAYPOINT}status:\n  addresses: [{{type: Hostname, value: waypoint.shop.svc.cluster.local}}]\n");
    let v = live(&[AMBIENT_NS, WAYPOINT_CLASS, &ready, &bound]);
    assert!(check_yaml(&v, &policy).is_empty());
    // Live Pods: the namespace label alone does not capture them; istio-cni's
    // annotation does.
    let l7 = ap(
        "shop",
        "  selector: {matchLabels: {app: web}}\n  rules:\n  - to: [{operation: {methods: [GET]}}]\n",
    );
    assert!(check_yaml(&live(&[AMBIENT_NS, WEB_POD]), &l7).is_empty());
    let captured = WEB_POD.replace(
        "labels: {app: web}}",
        "labels: {app: web}, annotations: {ambient.istio.io/redirection: enabled}}",
    );
    assert_eq!(
        codes(&check_yaml(&live(&[AMBIENT_NS, &captured]), &l7)),
        pairs(&[("MG1004", "/spec/rules/0")])
    );
}

#[test]
fn mg1008_gateway_class_by_controller_and_target_namespace() {
    let target = |ns: &str, r: &str| ap(ns, &format!("  targetRefs: [{r}]\n  rules: [{{}}]\n"));
    // Another class of the mesh controller takes policies too.
    let custom = "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: my-waypoints}\nspec: {controllerName: istio.io/mesh-controller}\n";
    let v = view(&[custom]);
    assert!(check_yaml(
        &v,
        &target(
            "istio-system",
            "{group: gateway.networking.k8s.io, kind: GatewayClass, name: my-waypoints}"
        )
    )
    .is_empty());
    let f = check_yaml(
        &v,
        &target(
            "istio-system",
            "{group: gateway.networking.k8s.io, kind: GatewayClass, name: nope}",
        ),
    );
    assert!(
        f[0].message.contains("GatewayClass nope does not exist"),
        "{}",
        f[0].message
    );
    // A target's own namespace.
    let v = view(&[AMBIENT_NS, WAYPOINT_CLASS, WAYPOINT]);
    assert!(check_yaml(
        &v,
        &target(
            "other",
            "{group: gateway.networking.k8s.io, kind: Gateway, name: waypoint, namespace: shop}"
        )
    )
    .is_empty());
}

#[test]
fn mg1007_a_ztunnel_allow_that_does_not_admit_the_waypoint() {
    let bound = WEB_SVC.replace(
        "namespace: shop}",
        "namespace: shop, labels: {istio.io/use-waypoint: waypoint}}",
    );
    let v = view(&[AMBIENT_NS, WEB_POD, WAYPOINT_CLASS, WAYPOINT, &bound]);
    let only_front = ap(
        "shop",
        "  selector: {matchLabels: {app: web}}\n  rules:\n  - from: [{source: {namespaces: [front]}}]\n",
    );
    let f = check_yaml(&v, &only_front);
    assert_eq!(codes(&f), pairs(&[("MG1007", "/spec/rules")]));
    assert_eq!(f[0].severity, Severity::Error);
    assert!(
        f[0].message.contains(
            "shop/web-1 sit behind waypoint shop/waypoint, whose identity no ztunnel ALLOW rule for them admits"
        ),
        "{}",
        f[0].message
    );
    // Its service account (the Gateway's name by default), its namespace, or a
    // rule without `from` admit it.
    for rule in [
        "  - from: [{source: {principals: [cluster.local/ns/shop/sa/waypoint]}}]\n",
        "  - from: [{source: {principals: [\"*/ns/shop/sa/*\"]}}]\n",
        "  - from: [{source: {namespaces: [shop]}}]\n",
        "  - to: [{operation: {ports: [\"8080\"]}}]\n",
    ] {
        let admits = format!("{only_front}{rule}");
        assert!(check_yaml(&v, &admits).is_empty(), "{rule}");
    }
    // Another ALLOW for the same pods admitting it is enough.
    let other = ap(
        "shop",
        "  selector: {matchLabels: {app: web}}\n  rules:\n  - from: [{source: {namespaces: [shop]}}]\n",
    )
    .replace("name: p,", "name: from-waypoint,");
    assert!(check_yaml(
        &view(&[AMBIENT_NS, WEB_POD, WAYPOINT_CLASS, WAYPOINT, &bound, &other]),
        &only_front
    )
    .is_empty());
    // No waypoint in front: nothing to say; istiod's automatic allow: nothing either.
    assert!(check_yaml(&view(&[AMBIENT_NS, WEB_POD, WEB_SVC]), &only_front).is_empty());
    let istiod = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: istiod, namespace: istio-system, labels: {app: istiod}}\nspec:\n  template:\n    metadata: {labels: {app: istiod}}\n    spec: {containers: [{name: discovery, image: docker.io/istio/pilot:1.30.3, env: [{name: PILOT_AUTO_ALLOW_WAYPOINT_POLICY, value: \"true\"}]}]}\n";
    assert!(check_yaml(
        &view(&[AMBIENT_NS, WEB_POD, WAYPOINT_CLASS, WAYPOINT, &bound, istiod]),
        &only_front
    )
    .is_empty());
}
