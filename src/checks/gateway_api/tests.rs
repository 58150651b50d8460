use crate::checks::testutil::{check_yaml, codes, view};

const GW: &str = "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: public, namespace: infra}\nspec:\n  gatewayClassName: istio\n  listeners:\n  - name: http\n    port: 80\n    protocol: HTTP\n    hostname: \"*.example.com\"\n    allowedRoutes:\n      namespaces:\n        from: Selector\n        selector:\n          matchLabels: {shared-gateway: \"true\"}\n  - name: tls\n    port: 443\n    protocol: TLS\n    tls: {mode: Passthrough}\n    allowedRoutes:\n      namespaces: {from: All}\n";
const SHOP_NS: &str =
    "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n  labels: {shared-gateway: \"true\"}\n";
const SVC: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec:\n  ports: [{port: 8080, name: http}]\n";

fn route(parent: &str, hostnames: &str, backend: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: web, namespace: shop}}\nspec:\n  parentRefs:\n  - {parent}\n  hostnames: {hostnames}\n  rules:\n  - backendRefs:\n    - {backend}\n"
    )
}

fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
}

#[test]
fn an_attached_route_to_an_existing_backend_is_clean() {
    let v = view(&[GW, SHOP_NS, SVC]);
    let f = check_yaml(
        &v,
        &route(
            "{name: public, namespace: infra}",
            "[shop.example.com]",
            "{name: web, port: 8080}",
        ),
    );
    assert!(f.is_empty(), "{f:?}");
    // sectionName and port that name the listener.
    let f = check_yaml(
        &v,
        &route(
            "{name: public, namespace: infra, sectionName: http, port: 80}",
            "[shop.example.com]",
            "{name: web, port: 8080}",
        ),
    );
    assert!(f.is_empty(), "{f:?}");
}

#[test]
fn mg0901_a_missing_parent_gateway() {
    let v = view(&[SHOP_NS, SVC]);
    let f = check_yaml(
        &v,
        &route(
            "{name: public, namespace: infra}",
            "[shop.example.com]",
            "{name: web, port: 8080}",
        ),
    );
    assert_eq!(codes(&f), pairs(&[("MG0901", "/spec/parentRefs/0/name")]));
    assert_eq!(
        f[0].message,
        "parent Gateway infra/public not found: the route is attached to nothing there and istiod writes no status for it; requests for shop.example.com at that gateway get 404"
    );
}

#[test]
fn mg0902_a_section_name_or_port_no_listener_has() {
    let v = view(&[GW, SHOP_NS, SVC]);
    let f = check_yaml(
        &v,
        &route(
            "{name: public, namespace: infra, sectionName: htpp}",
            "[shop.example.com]",
            "{name: web, port: 8080}",
        ),
    );
    assert_eq!(codes(&f), pairs(&[("MG0902", "/spec/parentRefs/0/sectionName")]));
    assert!(f[0].message.starts_with("sectionName \"htpp\" names no listener of Gateway infra/public (listeners: http (port 80), tls (port 443); istiod: NoMatchingParent)"), "{}", f[0].message);
    let f = check_yaml(
        &v,
        &route(
            "{name: public, namespace: infra, port: 8080}",
            "[shop.example.com]",
            "{name: web, port: 8080}",
        ),
    );
    assert_eq!(codes(&f), pairs(&[("MG0902", "/spec/parentRefs/0/port")]));
}

#[test]
fn mg0903_a_namespace_or_kind_the_listeners_do_not_admit() {
    // shop is not labelled for the shared gateway: the HTTP listener does not
    // admit it, and the TLS listener (which admits all) does not take HTTPRoutes.
    let unlabelled = SHOP_NS.replace("labels: {shared-gateway: \"true\"}", "labels: {team: shop}");
    let v = view(&[GW, &unlabelled, SVC]);
    let f = check_yaml(
        &v,
        &route(
            "{name: public, namespace: infra}",
            "[shop.example.com]",
            "{name: web, port: 8080}",
        ),
    );
    assert_eq!(codes(&f), pairs(&[("MG0903", "/spec/parentRefs/0")]));
    assert_eq!(
        f[0].message,
        "no listener of Gateway infra/public admits this route: listener \"http\" does not admit namespace shop (its namespace selector does not match), \
         listener \"tls\" (TLS) does not take HTTPRoute (it takes TLSRoute) (istiod: NotAllowedByListeners); not attached, so requests for shop.example.com there get 404"
    );
    // The implicit kubernetes.io/metadata.name label selects too.
    let by_name = GW.replace(
        "matchLabels: {shared-gateway: \"true\"}",
        "matchLabels: {kubernetes.io/metadata.name: shop}",
    );
    let v = view(&[&by_name, &unlabelled, SVC]);
    let f = check_yaml(
        &v,
        &route(
            "{name: public, namespace: infra}",
            "[shop.example.com]",
            "{name: web, port: 8080}",
        ),
    );
    assert!(f.is_empty(), "{f:?}");
    // Same (the default) admits only the Gateway's namespace.
    let same = GW.replace("      namespaces:\n        from: Selector\n        selector:\n          matchLabels: {shared-gateway: \"true\"}\n", "      kinds: [{kind: HTTPRoute}]\n");
    let v = view(&[&same, SHOP_NS, SVC]);
    let f = check_yaml(
        &v,
        &route(
            "{name: public, namespace: infra, sectionName: http}",
            "[shop.example.com]",
            "{name: web, port: 8080}",
        ),
    );
    assert_eq!(codes(&f), pairs(&[("MG0903", "/spec/parentRefs/0")]));
    assert!(
        f[0].message
            .contains("allowedRoutes.namespaces.from: Same, the Gateway's infra"),
        "{}",
        f[0].message
    );
}

#[test]
fn mg0904_no_hostname_intersects_the_listeners() {
    let v = view(&[GW, SHOP_NS, SVC]);
    let f = check_yaml(
        &v,
        &route(
            "{name: public, namespace: infra, sectionName: http}",
            "[shop.example.org]",
            "{name: web, port: 8080}",
        ),
    );
    assert_eq!(codes(&f), pairs(&[("MG0904", "/spec/hostnames")]));
    // A wildcard route hostname meets the listener's either way.
    let f = check_yaml(
        &v,
        &route(
            "{name: public, namespace: infra, sectionName: http}",
            "[\"*.shop.example.com\"]",
            "{name: web, port: 8080}",
        ),
    );
    assert!(f.is_empty(), "{f:?}");
}

#[test]
fn gateways_of_other_controllers_are_not_judged_and_mg0907_unknown_classes() {
    let other = "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: nginx}\nspec: {controllerName: nginx.org/gateway-controller}\n";
    let gw = GW.replace("gatewayClassName: istio", "gatewayClassName: nginx");
    let v = view(&[other, &gw, SHOP_NS]);
    // Neither the typo'd section nor the missing backend is judged: not Istio's.
    let f = check_yaml(
        &v,
        &route(
            "{name: public, namespace: infra, sectionName: htpp}",
            "[shop.example.com]",
            "{name: nope, port: 8080}",
        ),
    );
    assert!(f.is_empty(), "{f:?}");
    let f = check_yaml(&v, &gw);
    assert!(f.is_empty(), "{f:?}");
    let unknown = GW.replace("gatewayClassName: istio", "gatewayClassName: isito");
    let f = check_yaml(&view(&[]), &unknown);
    assert_eq!(codes(&f), pairs(&[("MG0907", "/spec/gatewayClassName")]));
    assert_eq!(f[0].severity, crate::finding::Severity::Warning);
}

#[test]
fn mg0911_mg0912_backends_missing_or_on_a_port_the_service_lacks() {
    let v = view(&[GW, SHOP_NS, SVC]);
    let f = check_yaml(
        &v,
        &route(
            "{name: public, namespace: infra}",
            "[shop.example.com]",
            "{name: webb, port: 8080}",
        ),
    );
    assert_eq!(codes(&f), pairs(&[("MG0911", "/spec/rules/0/backendRefs/0/name")]));
    assert_eq!(
        f[0].message,
        "backend Service shop/webb not found (istiod: BackendNotFound, backend(webb.shop.svc.cluster.local) not found): its share of requests gets 500"
    );
    let f = check_yaml(
        &v,
        &route(
            "{name: public, namespace: infra}",
            "[shop.example.com]",
            "{name: web, port: 80}",
        ),
    );
    assert_eq!(codes(&f), pairs(&[("MG0912", "/spec/rules/0/backendRefs/0/port")]));
    assert!(f[0].message.starts_with("port 80 is not a port of Service shop/web (ports: 8080): cluster outbound|80||web.shop.svc.cluster.local does not exist"), "{}", f[0].message);
}

#[test]
fn mg0913_cross_namespace_backends_need_a_grant_at_gateways_only() {
    let other_svc = SVC.replace("namespace: shop", "namespace: payments");
    let v = view(&[GW, SHOP_NS, &other_svc]);
    let doc = route(
        "{name: public, namespace: infra}",
        "[shop.example.com]",
        "{name: web, namespace: payments, port: 8080}",
    );
    let f = check_yaml(&v, &doc);
    assert_eq!(codes(&f), pairs(&[("MG0913", "/spec/rules/0/backendRefs/0/namespace")]));
    let grant = "apiVersion: gateway.networking.k8s.io/v1beta1\nkind: ReferenceGrant\nmetadata: {name: from-shop, namespace: payments}\nspec:\n  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: shop}]\n  to: [{group: \"\", kind: Service}]\n";
    let v = view(&[GW, SHOP_NS, &other_svc, grant]);
    assert!(check_yaml(&v, &doc).is_empty());
    // A grant for another Service name, or from another namespace, does not do.
    let named = grant.replace("kind: Service}", "kind: Service, name: db}");
    let v = view(&[GW, SHOP_NS, &other_svc, &named]);
    assert_eq!(codes(&check_yaml(&v, &doc))[0].0, "MG0913");
    // A mesh route needs no grant.
    let svc_parent = "apiVersion: v1\nkind: Service\nmetadata: {name: front, namespace: shop}\nspec:\n  ports: [{port: 80, name: http}]\n";
    let v = view(&[SHOP_NS, &other_svc, svc_parent]);
    let mesh = route(
        "{group: \"\", kind: Service, name: front, port: 80}",
        "[]",
        "{name: web, namespace: payments, port: 8080}",
    );
    assert!(check_yaml(&v, &mesh).is_empty(), "{:?}", check_yaml(&v, &mesh));
}

#[test]
fn mg0914_mg0915_unsupported_kinds_and_routes_istiod_drops() {
    let v = view(&[GW, SHOP_NS, SVC]);
    let f = check_yaml(
        &v,
        &route(
            "{name: public, namespace: infra}",
            "[shop.example.com]",
            "{kind: Deployment, group: apps, name: web, port: 8080}",
        ),
    );
    assert_eq!(codes(&f), pairs(&[("MG0914", "/spec/rules/0/backendRefs/0/kind")]));
    let f = check_yaml(
        &v,
        &route(
            "{name: public, namespace: infra}",
            "[shop.example.com]",
            "{name: web.shop.svc.cluster.local, port: 8080}",
        ),
    );
    assert_eq!(codes(&f), pairs(&[("MG0915", "/spec/rules/0/backendRefs/0")]));
    let f = check_yaml(
        &v,
        &route("{name: public, namespace: infra}", "[shop.example.com]", "{name: web}"),
    );
    assert_eq!(codes(&f), pairs(&[("MG0915", "/spec/rules/0/backendRefs/0")]));
}

#[test]
fn mg0931_mg0932_mg0933_mesh_parents() {
    let v = view(&[SHOP_NS, SVC]);
    let f = check_yaml(
        &v,
        &route(
            "{group: \"\", kind: Service, name: front}",
            "[]",
            "{name: web, port: 8080}",
        ),
    );
    assert_eq!(codes(&f), pairs(&[("MG0931", "/spec/parentRefs/0/name")]));
    assert_eq!(f[0].severity, crate::finding::Severity::Warning);
    let f = check_yaml(
        &v,
        &route(
            "{group: \"\", kind: Service, name: web, port: 9090}",
            "[]",
            "{name: web, port: 8080}",
        ),
    );
    assert_eq!(codes(&f), pairs(&[("MG0932", "/spec/parentRefs/0/port")]));
    let f = check_yaml(
        &v,
        &route(
            "{group: \"\", kind: Service, name: web, sectionName: http}",
            "[web.example.com]",
            "{name: web, port: 8080}",
        ),
    );
    assert_eq!(
        codes(&f),
        pairs(&[
            ("MG0933", "/spec/parentRefs/0/sectionName"),
            ("MG0933", "/spec/hostnames")
        ])
    );
}

#[test]
fn mg0916_a_broken_mirror_drops_the_mirror_only() {
    let v = view(&[GW, SHOP_NS, SVC]);
    let doc = "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: web, namespace: shop}\nspec:\n  parentRefs: [{name: public, namespace: infra}]\n  hostnames: [shop.example.com]\n  rules:\n  - filters:\n    - type: RequestMirror\n      requestMirror:\n        backendRef: {name: shadow, port: 8080}\n    backendRefs: [{name: web, port: 8080}]\n";
    let f = check_yaml(&v, doc);
    assert_eq!(
        codes(&f),
        pairs(&[("MG0916", "/spec/rules/0/filters/0/requestMirror/backendRef")])
    );
    assert_eq!(f[0].severity, crate::finding::Severity::Warning);
}

#[test]
fn malformed_fields_are_mg0001_naming_the_field() {
    let v = view(&[GW, SHOP_NS, SVC]);
    let doc = "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: web, namespace: shop}\nspec:\n  parentRefs: {name: public}\n  rules:\n  - backendRefs: [{name: web, port: http}]\n";
    let f = check_yaml(&v, doc);
    assert_eq!(
        codes(&f),
        pairs(&[
            ("MG0001", "/spec/parentRefs"),
            ("MG0001", "/spec/rules/0/backendRefs/0/port")
        ])
    );
}

#[test]
fn impact_deleting_a_parent_gateway_a_backend_or_a_grant_names_the_routes() {
    use crate::admission::{analyze_impact, ImpactChange};
    use crate::model::{Kind, ObjKey};
    let other_svc = SVC.replace("name: web, namespace: shop", "name: pay, namespace: payments");
    let grant = "apiVersion: gateway.networking.k8s.io/v1beta1\nkind: ReferenceGrant\nmetadata: {name: from-shop, namespace: payments}\nspec:\n  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: shop}]\n  to: [{group: \"\", kind: Service}]\n";
    let attached = route(
        "{name: public, namespace: infra}",
        "[shop.example.com]",
        "{name: web, port: 8080}",
    );
    let cross = route(
        "{name: public, namespace: infra}",
        "[pay.example.com]",
        "{name: pay, namespace: payments, port: 8080}",
    )
    .replace("name: web, namespace: shop}", "name: pay, namespace: shop}");
    let v = view(&[GW, SHOP_NS, SVC, &other_svc, grant, &attached, &cross]);
    let broken = |k: ObjKey| -> Vec<(String, String)> {
        analyze_impact(&v, &ImpactChange::Delete(k))
            .broken
            .iter()
            .flat_map(|(r, fs)| fs.iter().map(move |f| (r.object.key.name.clone(), f.code.to_string())))
            .collect()
    };
    assert_eq!(
        broken(ObjKey::new(Kind::K8sGateway, "infra", "public")),
        vec![
            ("pay".to_string(), "MG0901".to_string()),
            ("web".to_string(), "MG0901".to_string())
        ]
    );
    assert_eq!(
        broken(ObjKey::new(Kind::Service, "shop", "web")),
        vec![("web".to_string(), "MG0911".to_string())]
    );
    assert_eq!(
        broken(ObjKey::new(Kind::ReferenceGrant, "payments", "from-shop")),
        vec![("pay".to_string(), "MG0913".to_string())]
    );
}

#[test]
fn mg0905_a_hostname_a_more_specific_listener_owns() {
    let gw = "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: public, namespace: shop}\nspec:\n  gatewayClassName: istio\n  listeners:\n  - {name: wild, port: 80, protocol: HTTP, hostname: \"*.example.com\"}\n  - {name: shop, port: 80, protocol: HTTP, hostname: shop.example.com}\n  - {name: other-port, port: 81, protocol: HTTP, hostname: shop.example.com}\n";
    let v = view(&[gw, SVC]);
    let f = check_yaml(
        &v,
        &route(
            "{name: public, sectionName: wild}",
            "[shop.example.com, api.example.com]",
            "{name: web, port: 8080}",
        ),
    );
    assert_eq!(codes(&f), pairs(&[("MG0905", "/spec/hostnames/0")]));
    assert_eq!(f[0].severity, crate::finding::Severity::Warning);
    assert!(f[0].message.starts_with("hostname shop.example.com is dropped by listener isolation at Gateway shop/public: listener \"shop\" owns it at \"wild\"'s port 80 (hostname shop.example.com)"), "{}", f[0].message);
    // Attached to the specific listener too (no sectionName): served there.
    let f = check_yaml(
        &v,
        &route("{name: public}", "[shop.example.com]", "{name: web, port: 8080}"),
    );
    assert!(f.is_empty(), "{f:?}");
}

const ISTIOD_1_30: &str = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: istiod, namespace: istio-system, labels: {app: istiod}}\nspec:\n  template:\n    metadata: {labels: {app: istiod}}\n    spec: {containers: [{name: discovery, image: docker.io/istio/pilot:1.30.3}]}\n";

fn https_gateway(refs: &str, options: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: public, namespace: infra}}\nspec:\n  gatewayClassName: istio\n  listeners:\n  - name: https\n    port: 443\n    protocol: HTTPS\n    hostname: \"*.example.com\"\n    allowedRoutes: {{namespaces: {{from: All}}}}\n    tls:\n      mode: Terminate\n      certificateRefs: {refs}\n{options}"
    )
}

#[test]
fn mg0921_certificates_and_mg0906_routes_behind_them() {
    let secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: cert, namespace: infra}\ntype: kubernetes.io/tls\n";
    let other_secret = secret.replace("namespace: infra", "namespace: certs");
    let route_doc = route(
        "{name: public, namespace: infra}",
        "[shop.example.com]",
        "{name: web, port: 8080}",
    );
    // A Secret that exists: clean.
    let ok = https_gateway("[{name: cert}]", "");
    let v = view(&[&ok, secret, SHOP_NS, SVC]);
    assert!(check_yaml(&v, &ok).is_empty());
    assert!(check_yaml(&v, &route_doc).is_empty());
    // Missing (cert-manager may create it later): warnings.
    let v = view(&[&ok, SHOP_NS, SVC]);
    let f = check_yaml(&v, &ok);
    assert_eq!(
        codes(&f),
        pairs(&[("MG0921", "/spec/listeners/0/tls/certificateRefs/0")])
    );
    assert_eq!(f[0].severity, crate::finding::Severity::Warning);
    let f = check_yaml(&v, &route_doc);
    assert_eq!(codes(&f), pairs(&[("MG0906", "/spec/parentRefs/0")]));
    assert_eq!(f[0].severity, crate::finding::Severity::Warning);
    // In another namespace without a grant, or of another kind: errors.
    let cross = https_gateway("[{name: cert, namespace: certs}]", "");
    let v = view(&[&cross, &other_secret, SHOP_NS, SVC]);
    let f = check_yaml(&v, &cross);
    assert_eq!(
        codes(&f),
        pairs(&[("MG0921", "/spec/listeners/0/tls/certificateRefs/0")])
    );
    assert_eq!(f[0].severity, crate::finding::Severity::Error);
    assert!(
        f[0].message.contains(
            "Secret certs/cert is in another namespace and no ReferenceGrant there lets Gateways in infra use it"
        ),
        "{}",
        f[0].message
    );
    let f = check_yaml(&v, &route_doc);
    assert_eq!(f[0].code, "MG0906");
    assert_eq!(f[0].severity, crate::finding::Severity::Error);
    let grant = "apiVersion: gateway.networking.k8s.io/v1beta1\nkind: ReferenceGrant\nmetadata: {name: gw, namespace: certs}\nspec:\n  from: [{group: gateway.networking.k8s.io, kind: Gateway, namespace: infra}]\n  to: [{group: \"\", kind: Secret}]\n";
    let v = view(&[&cross, &other_secret, grant, SHOP_NS, SVC]);
    assert!(check_yaml(&v, &cross).is_empty());
    let configmap = https_gateway("[{kind: ConfigMap, name: cert}]", "");
    let f = check_yaml(&view(&[]), &configmap);
    assert!(
        f[0].message.contains("ConfigMap infra/cert is not a Secret"),
        "{}",
        f[0].message
    );
    // Istio's own certificates need no reference.
    let istio = https_gateway(
        "[{name: nope}]",
        "      options: {gateway.istio.io/tls-terminate-mode: ISTIO_MUTUAL}\n",
    );
    assert!(check_yaml(&view(&[]), &istio).is_empty());
}

#[test]
fn mg0922_mg0908_protocols_and_kinds_istiod_does_not_program() {
    let gw = |protocol: &str| {
        format!("apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: edge, namespace: shop}}\nspec:\n  gatewayClassName: istio\n  listeners:\n  - {{name: l, port: 9000, protocol: {protocol}}}\n")
    };
    for (p, needle) in [
        ("http", "case-sensitive: HTTP"),
        ("UDP", "UnsupportedProtocol"),
        ("HBONE", "only for waypoint"),
    ] {
        let f = check_yaml(&view(&[]), &gw(p));
        assert_eq!(codes(&f), pairs(&[("MG0922", "/spec/listeners/0/protocol")]), "{p}");
        assert!(f[0].message.contains(needle), "{}", f[0].message);
    }
    // TCP: silent with no control plane known; an error with istiod 1.30 and
    // the alpha flag off; fine with it on.
    assert!(check_yaml(&view(&[]), &gw("TCP")).is_empty());
    let f = check_yaml(&view(&[ISTIOD_1_30]), &gw("TCP"));
    assert_eq!(codes(&f), pairs(&[("MG0922", "/spec/listeners/0/protocol")]));
    assert!(
        f[0].message.contains(
            "istiod 1.30.3 (revision default) programs TCP listeners only with PILOT_ENABLE_ALPHA_GATEWAY_API=true"
        ),
        "{}",
        f[0].message
    );
    let alpha = ISTIOD_1_30.replace(
        "image: docker.io/istio/pilot:1.30.3}",
        "image: docker.io/istio/pilot:1.30.3, env: [{name: PILOT_ENABLE_ALPHA_GATEWAY_API, value: \"true\"}]}",
    );
    assert!(check_yaml(&view(&[&alpha]), &gw("TCP")).is_empty());
    let tcp_route = "apiVersion: gateway.networking.k8s.io/v1alpha2\nkind: TCPRoute\nmetadata: {name: db, namespace: shop}\nspec:\n  parentRefs: [{name: edge}]\n  rules: [{backendRefs: [{name: web, port: 8080}]}]\n";
    let f = check_yaml(&view(&[ISTIOD_1_30, SVC]), tcp_route);
    assert_eq!(codes(&f), pairs(&[("MG0908", "/kind")]));
    let v131 = ISTIOD_1_30.replace("pilot:1.30.3", "pilot:1.31.0");
    let f = check_yaml(&view(&[&v131, SVC, &gw("TCP")]), tcp_route);
    assert!(f.is_empty(), "{f:?}");
}

#[test]
fn mg0926_mg0917_mg0941() {
    let gw = "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: edge, namespace: shop}\nspec:\n  gatewayClassName: istio\n  listeners:\n  - name: l\n    port: 80\n    protocol: HTTP\n    allowedRoutes: {kinds: [{kind: TCPRoute}]}\n";
    let f = check_yaml(&view(&[]), gw);
    assert_eq!(codes(&f), pairs(&[("MG0926", "/spec/listeners/0/allowedRoutes/kinds")]));
    let v = view(&[GW, SHOP_NS, SVC]);
    let doc = "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: web, namespace: shop}\nspec:\n  parentRefs: [{name: public, namespace: infra}]\n  hostnames: [shop.example.com]\n  rules:\n  - matches: [{path: {type: PathPrefix, value: /old}}]\n  - backendRefs: [{name: web, port: 8080, weight: 0}]\n  - filters: [{type: RequestRedirect, requestRedirect: {hostname: www.example.com}}]\n";
    let f = check_yaml(&v, doc);
    assert_eq!(
        codes(&f),
        pairs(&[("MG0917", "/spec/rules/0"), ("MG0917", "/spec/rules/1")])
    );
    let grant = "apiVersion: gateway.networking.k8s.io/v1beta1\nkind: ReferenceGrant\nmetadata: {name: g, namespace: shop}\nspec:\n  from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: nowhere}, {group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: shop}]\n  to: [{group: \"\", kind: Service}]\n";
    let f = check_yaml(&v, grant);
    assert_eq!(codes(&f), pairs(&[("MG0941", "/spec/from/0/namespace")]));
}

#[test]
fn mg0101_knows_the_gateways_istiod_generates_from_listeners() {
    let vs = |gateway: &str| {
        format!("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: legacy, namespace: infra}}\nspec:\n  hosts: [legacy.example.com]\n  gateways: [{gateway}]\n  http:\n  - route:\n    - destination: {{host: web.shop.svc.cluster.local, port: {{number: 8080}}}}\n")
    };
    let v = view(&[GW, SHOP_NS, SVC]);
    assert!(check_yaml(&v, &vs("public~istio-autogenerated-k8s-gateway~http")).is_empty());
    let f = check_yaml(&v, &vs("public~istio-autogenerated-k8s-gateway~htpp"));
    assert_eq!(codes(&f), pairs(&[("MG0101", "/spec/gateways/0")]));
    // Not programmed (UDP): no generated Gateway either.
    let udp = GW.replace("protocol: HTTP\n", "protocol: UDP\n");
    let f = check_yaml(
        &view(&[&udp, SHOP_NS, SVC]),
        &vs("public~istio-autogenerated-k8s-gateway~http"),
    );
    assert_eq!(codes(&f), pairs(&[("MG0101", "/spec/gateways/0")]));
}

#[test]
fn impact_deleting_a_gateway_api_gateway_names_virtual_services_bound_to_its_listeners() {
    use crate::admission::{analyze_impact, ImpactChange};
    use crate::model::{Kind, ObjKey};
    let vs = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: legacy, namespace: infra}\nspec:\n  hosts: [legacy.example.com]\n  gateways: [public~istio-autogenerated-k8s-gateway~http]\n  http:\n  - route:\n    - destination: {host: web.shop.svc.cluster.local, port: {number: 8080}}\n";
    let v = view(&[GW, SHOP_NS, SVC, vs]);
    let broken: Vec<(String, String)> = analyze_impact(
        &v,
        &ImpactChange::Delete(ObjKey::new(Kind::K8sGateway, "infra", "public")),
    )
    .broken
    .iter()
    .flat_map(|(r, fs)| fs.iter().map(move |f| (r.object.key.name.clone(), f.code.to_string())))
    .collect();
    assert_eq!(broken, vec![("legacy".to_string(), "MG0101".to_string())]);
}

const SHARED_GW: &str = "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: shared, namespace: infra}\nspec:\n  gatewayClassName: istio\n  allowedListeners:\n    namespaces:\n      from: Selector\n      selector: {matchLabels: {shared-gateway: \"true\"}}\n  listeners:\n  - {name: http, port: 80, protocol: HTTP}\n";
const SET: &str = "apiVersion: gateway.networking.k8s.io/v1\nkind: ListenerSet\nmetadata: {name: shop, namespace: shop}\nspec:\n  parentRef: {name: shared, namespace: infra}\n  listeners:\n  - name: shop\n    port: 8443\n    protocol: HTTP\n    hostname: shop.example.com\n";

#[test]
fn listener_sets_mg0909_and_routes_attached_to_them() {
    let v = view(&[SHARED_GW, SHOP_NS, SVC, SET]);
    assert!(check_yaml(&v, SET).is_empty(), "{:?}", check_yaml(&v, SET));
    let to_set = route(
        "{kind: ListenerSet, name: shop}",
        "[shop.example.com]",
        "{name: web, port: 8080}",
    );
    assert!(check_yaml(&v, &to_set).is_empty(), "{:?}", check_yaml(&v, &to_set));
    let typo = route(
        "{kind: ListenerSet, name: shop, sectionName: shp}",
        "[shop.example.com]",
        "{name: web, port: 8080}",
    );
    let f = check_yaml(&v, &typo);
    assert_eq!(codes(&f), pairs(&[("MG0902", "/spec/parentRefs/0/sectionName")]));
    assert!(
        f[0].message
            .contains("names no listener of ListenerSet shop/shop (listeners: shop (port 8443)"),
        "{}",
        f[0].message
    );
    // The Gateway does not admit the namespace (no label; or allowedListeners absent).
    let unlabelled = SHOP_NS.replace("labels: {shared-gateway: \"true\"}", "labels: {}");
    let v = view(&[SHARED_GW, &unlabelled, SVC, SET]);
    let f = check_yaml(&v, SET);
    assert_eq!(codes(&f), pairs(&[("MG0909", "/spec/parentRef")]));
    assert!(
        f[0].message
            .contains("Gateway infra/shared's spec.allowedListeners does not admit namespace shop"),
        "{}",
        f[0].message
    );
    // Errors: the istiod oracle shows the refused set's routes get nothing.
    assert_eq!(f[0].severity, crate::finding::Severity::Error);
    let f = check_yaml(&v, &to_set);
    assert_eq!(codes(&f), pairs(&[("MG0901", "/spec/parentRefs/0/name")]));
    assert_eq!(f[0].severity, crate::finding::Severity::Error);
    assert!(
        f[0].message
            .starts_with("parent ListenerSet shop/shop refused by its Gateway"),
        "{}",
        f[0].message
    );
    let closed = SHARED_GW.replace("  allowedListeners:\n    namespaces:\n      from: Selector\n      selector: {matchLabels: {shared-gateway: \"true\"}}\n", "");
    assert_eq!(
        codes(&check_yaml(&view(&[&closed, SHOP_NS, SVC]), SET)),
        pairs(&[("MG0909", "/spec/parentRef")])
    );
    // A missing ListenerSet.
    let f = check_yaml(&view(&[SHARED_GW, SHOP_NS, SVC]), &to_set);
    assert_eq!(codes(&f), pairs(&[("MG0901", "/spec/parentRefs/0/name")]));
    // istiod 1.29 reads no gateway.networking.k8s.io ListenerSet.
    let old = ISTIOD_1_30.replace("pilot:1.30.3", "pilot:1.29.2");
    assert_eq!(
        codes(&check_yaml(&view(&[&old, SHARED_GW, SHOP_NS]), SET)),
        pairs(&[("MG0908", "/kind")])
    );
}

fn btls(name: &str, target: &str, validation: &str, created: &str) -> String {
    format!(
        "apiVersion: gateway.networking.k8s.io/v1\nkind: BackendTLSPolicy\nmetadata:\n  name: {name}\n  namespace: shop\n{created}spec:\n  targetRefs: [{target}]\n  validation: {validation}\n"
    )
}

#[test]
fn mg0924_mg0925_backend_tls_policies() {
    let svc = "apiVersion: v1\nkind: Service\nmetadata: {name: pay, namespace: shop}\nspec:\n  ports: [{port: 443, name: https}]\n";
    let ca = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: pay-ca, namespace: shop}\ndata: {ca.crt: x}\n";
    let good_validation =
        "{hostname: pay.example.com, caCertificateRefs: [{group: \"\", kind: ConfigMap, name: pay-ca}]}";
    let target = "{group: \"\", kind: Service, name: pay, sectionName: https}";
    let v = view(&[svc, ca]);
    assert!(check_yaml(&v, &btls("pay", target, good_validation, "")).is_empty());
    // Unusable CA references.
    let f = check_yaml(
        &v,
        &btls(
            "pay",
            target,
            "{hostname: pay.example.com, caCertificateRefs: [{group: \"\", kind: Secret, name: pay-ca}]}",
            "",
        ),
    );
    assert_eq!(codes(&f), pairs(&[("MG0924", "/spec/validation/caCertificateRefs/0")]));
    let f = check_yaml(&view(&[svc]), &btls("pay", target, good_validation, ""));
    assert_eq!(codes(&f), pairs(&[("MG0924", "/spec/validation/caCertificateRefs/0")]));
    assert!(
        f[0].message.starts_with("CA ConfigMap shop/pay-ca does not exist"),
        "{}",
        f[0].message
    );
    // Targets: missing, a section no port is named, an unsupported kind.
    let f = check_yaml(
        &v,
        &btls(
            "pay",
            "{group: \"\", kind: Service, name: payment}",
            good_validation,
            "",
        ),
    );
    assert_eq!(codes(&f), pairs(&[("MG0925", "/spec/targetRefs/0")]));
    let f = check_yaml(
        &v,
        &btls(
            "pay",
            "{group: \"\", kind: Service, name: pay, sectionName: tls}",
            good_validation,
            "",
        ),
    );
    assert_eq!(codes(&f), pairs(&[("MG0925", "/spec/targetRefs/0/sectionName")]));
    let f = check_yaml(
        &v,
        &btls("pay", "{group: apps, kind: Deployment, name: pay}", good_validation, ""),
    );
    assert_eq!(codes(&f), pairs(&[("MG0925", "/spec/targetRefs/0")]));
    // Conflicts: the older policy wins; equal (or unknown) age, the smaller name.
    let older = btls(
        "b-older",
        target,
        good_validation,
        "  creationTimestamp: \"2026-01-01T00:00:00Z\"\n",
    );
    let v = view(&[svc, ca, &older]);
    let f = check_yaml(
        &v,
        &btls(
            "a-newer",
            target,
            good_validation,
            "  creationTimestamp: \"2026-06-01T00:00:00Z\"\n",
        ),
    );
    assert_eq!(codes(&f), pairs(&[("MG0925", "/spec/targetRefs/0")]));
    assert!(
        f[0].message
            .starts_with("BackendTLSPolicy shop/b-older already targets Service shop/pay section https and is older"),
        "{}",
        f[0].message
    );
    assert!(check_yaml(
        &v,
        &btls(
            "c",
            target,
            good_validation,
            "  creationTimestamp: \"2025-06-01T00:00:00Z\"\n"
        )
    )
    .is_empty());
    // A new policy (no timestamp yet) is the newest; an ignored one takes no part.
    assert_eq!(check_yaml(&v, &btls("a", target, good_validation, "")).len(), 1);
    let ignored = older.replace(
        "  name: b-older\n",
        "  name: b-older\n  annotations: {istio.io/ignore-policy-attachment: \"true\"}\n",
    );
    assert!(check_yaml(&view(&[svc, ca, &ignored]), &btls("a", target, good_validation, "")).is_empty());
}

#[test]
fn mg0923_listener_conflicts_from_istiod_1_31() {
    let gw = "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: edge, namespace: shop}\nspec:\n  gatewayClassName: istio\n  allowedListeners: {namespaces: {from: Same}}\n  listeners:\n  - {name: a, port: 80, protocol: HTTP, hostname: shop.example.com}\n  - {name: b, port: 80, protocol: HTTP, hostname: shop.example.com}\n  - {name: c, port: 80, protocol: HTTPS, hostname: api.example.com, tls: {certificateRefs: []}}\n  - {name: d, port: 80, protocol: TCP}\n";
    // istiod 1.30 detects no conflicts; no control plane known: silent.
    assert!(check_yaml(&view(&[ISTIOD_1_30]), gw).iter().all(|f| f.code != "MG0923"));
    assert!(check_yaml(&view(&[]), gw).iter().all(|f| f.code != "MG0923"));
    let v131 = ISTIOD_1_30.replace("pilot:1.30.3", "pilot:1.31.0");
    let f: Vec<_> = check_yaml(&view(&[&v131]), gw)
        .into_iter()
        .filter(|f| f.code == "MG0923")
        .collect();
    assert_eq!(
        codes(&f),
        pairs(&[("MG0923", "/spec/listeners/1"), ("MG0923", "/spec/listeners/3")])
    );
    assert!(
        f[0].message
            .contains("conflicts with listener \"a\" of Gateway shop/edge on port 80 (HostnameConflict)"),
        "{}",
        f[0].message
    );
    assert!(f[1].message.contains("(ProtocolConflict)"), "{}", f[1].message);
    assert_eq!(f[0].severity, crate::finding::Severity::Warning);
    // A ListenerSet's listener loses to the Gateway's; the Gateway itself is clean of it.
    let set = "apiVersion: gateway.networking.k8s.io/v1\nkind: ListenerSet\nmetadata: {name: team, namespace: shop}\nspec:\n  parentRef: {name: edge}\n  listeners:\n  - {name: mine, port: 80, protocol: HTTP, hostname: shop.example.com}\n  - {name: other, port: 80, protocol: HTTP, hostname: team.example.com}\n";
    let clean = gw
        .replace(
            "  - {name: b, port: 80, protocol: HTTP, hostname: shop.example.com}\n",
            "",
        )
        .replace("  - {name: d, port: 80, protocol: TCP}\n", "");
    let v = view(&[&v131, &clean, set]);
    let f: Vec<_> = check_yaml(&v, set).into_iter().filter(|f| f.code == "MG0923").collect();
    assert_eq!(codes(&f), pairs(&[("MG0923", "/spec/listeners/0")]));
    assert!(check_yaml(&v, &clean).iter().all(|f| f.code != "MG0923"));
    // A route naming the losing listener gets nothing from 1.31: MG0906, a
    // warning like the conflict itself; the winner's route is clean.
    let route = |section: &str| {
        format!("apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {{name: r, namespace: shop}}\nspec:\n  parentRefs: [{{name: edge, sectionName: {section}}}]\n  hostnames: [shop.example.com]\n")
    };
    let v = view(&[&v131, gw]);
    let f = check_yaml(&v, &route("b"));
    assert_eq!(codes(&f), pairs(&[("MG0906", "/spec/parentRefs/0")]), "{f:?}");
    assert_eq!(f[0].severity, crate::finding::Severity::Warning);
    assert!(
        f[0].message.contains("conflicts with listener \"a\""),
        "{}",
        f[0].message
    );
    assert!(check_yaml(&v, &route("a")).iter().all(|f| f.code != "MG0906"));
    // istiod 1.30 programs both: no finding on the route.
    assert!(check_yaml(&view(&[ISTIOD_1_30, gw]), &route("b"))
        .iter()
        .all(|f| f.code != "MG0906"));
}

#[test]
fn mg0921_the_gateways_frontend_client_ca() {
    let secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: cert, namespace: infra}\ntype: kubernetes.io/tls\n";
    let ca = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: client-ca, namespace: infra}\n";
    let with_frontend = |tls: &str| {
        https_gateway("[{name: cert}]", "").replace(
            "spec:\n  gatewayClassName: istio\n",
            &format!("spec:\n  gatewayClassName: istio\n  tls:\n    frontend:\n{tls}"),
        )
    };
    let default = |refs: &str| format!("      default:\n        validation:\n          caCertificateRefs: {refs}\n");
    let frontend_findings = |gw: &str, docs: &[&str]| {
        let mut all = vec![gw, secret, SHOP_NS, SVC];
        all.extend_from_slice(docs);
        check_yaml(&view(&all), gw)
    };
    // A ConfigMap that exists: clean.
    let ok = with_frontend(&default("[{group: \"\", kind: ConfigMap, name: client-ca}]"));
    assert!(frontend_findings(&ok, &[ca]).is_empty());
    // Missing: a warning (it may come after the Gateway).
    let f = frontend_findings(&ok, &[]);
    assert_eq!(
        codes(&f),
        pairs(&[("MG0921", "/spec/tls/frontend/default/validation/caCertificateRefs/0")])
    );
    assert_eq!(f[0].severity, crate::finding::Severity::Warning);
    assert!(
        f[0].message.contains(
            "the client CA ConfigMap infra/client-ca of spec.tls.frontend does not exist (istiod: InvalidTLS)"
        ),
        "{}",
        f[0].message
    );
    // Of another kind, or two of them: errors istiod refuses the listener for.
    let service = with_frontend(&default("[{group: \"\", kind: Service, name: client-ca}]"));
    let f = frontend_findings(&service, &[ca]);
    assert_eq!(
        codes(&f),
        pairs(&[("MG0921", "/spec/tls/frontend/default/validation/caCertificateRefs/0")])
    );
    assert_eq!(f[0].severity, crate::finding::Severity::Error);
    let two = with_frontend(&default(
        "[{group: \"\", kind: ConfigMap, name: client-ca}, {group: \"\", kind: ConfigMap, name: client-ca}]",
    ));
    let f = frontend_findings(&two, &[ca]);
    assert_eq!(
        codes(&f),
        pairs(&[("MG0921", "/spec/tls/frontend/default/validation/caCertificateRefs/1")])
    );
    assert!(
        f[0].message.contains("only one caCertificateRef is supported"),
        "{}",
        f[0].message
    );
    // A perPort entry for the listener's port replaces the default, even
    // without validation; one for another port does not.
    let per_port = |port: u32| {
        with_frontend(&format!(
            "{}      perPort:\n      - port: {port}\n        tls: {{}}\n",
            default("[{group: \"\", kind: Service, name: client-ca}]")
        ))
    };
    assert!(frontend_findings(&per_port(443), &[ca]).is_empty());
    assert_eq!(frontend_findings(&per_port(8443), &[ca]).len(), 1);
    // Across namespaces without a grant: a warning.
    let cross = with_frontend(&default(
        "[{group: \"\", kind: ConfigMap, name: client-ca, namespace: certs}]",
    ));
    let f = frontend_findings(&cross, &[&ca.replace("namespace: infra", "namespace: certs")]);
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].severity, crate::finding::Severity::Warning);
    assert!(f[0].message.contains("(istiod: RefNotPermitted)"), "{}", f[0].message);
}
