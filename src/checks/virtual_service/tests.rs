use crate::checks::testutil::*;
use crate::finding::Severity;

fn vs(spec: &str) -> String {
    format!("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: subject, namespace: default}}\nspec:\n{spec}")
}

const GW_PUBLIC: &str = "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: public, namespace: istio-system}\nspec:\n  selector: {istio: ingressgateway}\n  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [\"*/bookinfo.com\"]\n";
const DR_REVIEWS: &str = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: reviews, namespace: default}\nspec:\n  host: reviews\n  subsets:\n  - {name: v1, labels: {version: v1}}\n  - {name: v2, labels: {version: v2}}\n";

#[test]
fn mg0101_missing_gateway_in_spec_gateways() {
    let v = view(&[SVC_REVIEWS]);
    let f = check_yaml(&v, &vs("  hosts: [bookinfo.com]\n  gateways: [istio-system/public]\n  http:\n  - route:\n    - destination: {host: reviews}\n"));
    assert_eq!(codes(&f), [("MG0101".into(), "/spec/gateways/0".into())]);
    assert_eq!(
        f[0].message,
        "gateway \"istio-system/public\" not found: its routes are not served at that gateway (404 NR: no gateway route configuration gets a virtual host for bookinfo.com)"
    );
    assert_eq!(f[0].severity, Severity::Error);
}

#[test]
fn mg0101_match_gateway_pointer() {
    let v = view(&[SVC_REVIEWS, GW_PUBLIC]);
    let f = check_yaml(
        &v,
        &vs("  hosts: [bookinfo.com]\n  gateways: [istio-system/public]\n  http:\n  - match:\n    - gateways: [istio-system/public, missing]\n    route:\n    - destination: {host: reviews}\n"),
    );
    assert_eq!(codes(&f), [("MG0101".into(), "/spec/http/0/match/0/gateways/1".into())]);
    assert_eq!(
        f[0].message,
        "gateway \"default/missing\" not found: its routes are not served at that gateway (404 NR: no gateway route configuration gets a virtual host for bookinfo.com)"
    );
}

#[test]
fn mg0101_name_forms_resolve() {
    let v = view(&[SVC_REVIEWS, GW_PUBLIC]);
    for g in ["istio-system/public", "public.istio-system.svc.cluster.local", "mesh"] {
        let f = check_yaml(&v, &vs(&format!("  hosts: [bookinfo.com]\n  gateways: [\"{g}\"]\n  http:\n  - route:\n    - destination: {{host: reviews}}\n")));
        assert!(f.is_empty(), "{g}: {f:?}");
    }
    // `./public` and a bare name mean the VirtualService's own namespace.
    for g in ["./public", "public"] {
        let f = check_yaml(&v, &vs(&format!("  hosts: [bookinfo.com]\n  gateways: [\"{g}\"]\n  http:\n  - route:\n    - destination: {{host: reviews}}\n")));
        assert_eq!(
            f[0].message, "gateway \"default/public\" not found: its routes are not served at that gateway (404 NR: no gateway route configuration gets a virtual host for bookinfo.com)",
            "{g}"
        );
    }
}

#[test]
fn mg0102_missing_cluster_host_is_an_error() {
    let v = view(&[SVC_REVIEWS]);
    let f = check_yaml(
        &v,
        &vs("  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: ratings}\n"),
    );
    assert_eq!(
        codes(&f),
        [("MG0102".into(), "/spec/http/0/route/0/destination/host".into())]
    );
    assert_eq!(f[0].severity, Severity::Error);
    assert!(
        f[0].message.contains("ratings.default.svc.cluster.local"),
        "{}",
        f[0].message
    );
    let ok = check_yaml(
        &v,
        &vs("  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews}\n"),
    );
    assert!(ok.is_empty(), "{ok:?}");
}

#[test]
fn mg0102_dotted_short_name_is_not_expanded_and_the_message_says_so() {
    let v = view(&[SVC_REVIEWS]);
    let f = check_yaml(
        &v,
        &vs("  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews.default}\n"),
    );
    assert_eq!(
        codes(&f),
        [("MG0102".into(), "/spec/http/0/route/0/destination/host".into())]
    );
    assert!(
        f[0].message.contains("did you mean reviews.default.svc.cluster.local"),
        "{}",
        f[0].message
    );
    // External-looking host under the default ALLOW_ANY: a warning.
    assert_eq!(f[0].severity, Severity::Warning);
    let ok = check_yaml(
        &v,
        &vs("  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews.default.svc.cluster.local}\n"),
    );
    assert!(ok.is_empty(), "{ok:?}");
}

#[test]
fn mg0102_external_host_severity_follows_outbound_policy() {
    let spec = vs("  hosts: [httpbin.org]\n  http:\n  - route:\n    - destination: {host: httpbin.org}\n");
    let allow_any = view(&[]);
    let f = check_yaml(&allow_any, &spec);
    assert_eq!(
        codes(&f),
        [("MG0102".into(), "/spec/http/0/route/0/destination/host".into())]
    );
    assert_eq!(f[0].severity, Severity::Warning);
    let registry_only = view(&["apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\ndata:\n  mesh: |\n    outboundTrafficPolicy:\n      mode: REGISTRY_ONLY\n"]);
    let f = check_yaml(&registry_only, &spec);
    assert_eq!(f[0].severity, Severity::Error);
    let se = "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: httpbin, namespace: default}\nspec:\n  hosts: [httpbin.org]\n  ports: [{number: 80, name: http, protocol: HTTP}]\n  resolution: DNS\n";
    assert!(check_yaml(&view(&[se]), &spec).is_empty());
}

#[test]
fn mg0102_wildcard_service_entry_only_is_a_warning() {
    let se = "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: wild, namespace: default}\nspec:\n  hosts: [\"*.foo.com\"]\n  ports: [{number: 443, name: tls, protocol: TLS}]\n  location: MESH_EXTERNAL\n  resolution: NONE\n";
    let registry_only = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\ndata:\n  mesh: \"outboundTrafficPolicy: {mode: REGISTRY_ONLY}\"\n";
    let v = view(&[se, registry_only]);
    let f = check_yaml(&v, &vs("  hosts: [a.foo.com]\n  tls:\n  - match: [{sniHosts: [a.foo.com]}]\n    route:\n    - destination: {host: a.foo.com}\n"));
    assert_eq!(
        codes(&f),
        [("MG0102".into(), "/spec/tls/0/route/0/destination/host".into())]
    );
    assert_eq!(f[0].severity, Severity::Warning);
    assert!(f[0].message.contains("*.foo.com"), "{}", f[0].message);
    // A wildcard destination equal to the wildcard registry host is fine.
    let ok = check_yaml(&v, &vs("  hosts: [\"*.foo.com\"]\n  tls:\n  - match: [{sniHosts: [\"*.foo.com\"]}]\n    route:\n    - destination: {host: \"*.foo.com\"}\n"));
    assert!(ok.is_empty(), "{ok:?}");
}

#[test]
fn mg0102_export_to_hides_services() {
    let hidden = "apiVersion: v1\nkind: Service\nmetadata:\n  name: db\n  namespace: data\n  annotations: {networking.istio.io/exportTo: \".\"}\nspec:\n  ports: [{port: 5432}]\n";
    let v = view(&[hidden]);
    let f = check_yaml(
        &v,
        &vs("  hosts: [x]\n  tcp:\n  - route:\n    - destination: {host: db.data.svc.cluster.local}\n"),
    );
    assert_eq!(
        codes(&f),
        [("MG0102".into(), "/spec/tcp/0/route/0/destination/host".into())]
    );
    assert!(
        f[0].message.contains("not exported to namespace default"),
        "{}",
        f[0].message
    );
    // A VirtualService exported only to `data` is used by clients there: visible.
    let f = check_yaml(&v, &vs("  exportTo: [data]\n  hosts: [x]\n  tcp:\n  - route:\n    - destination: {host: db.data.svc.cluster.local}\n"));
    assert!(f.is_empty(), "{f:?}");
}

#[test]
fn mg0102_mesh_default_service_export_to() {
    let mesh = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\ndata:\n  mesh: \"defaultServiceExportTo: ['.']\"\n";
    let svc = "apiVersion: v1\nkind: Service\nmetadata: {name: db, namespace: data}\nspec:\n  ports: [{port: 5432}]\n";
    let v = view(&[mesh, svc]);
    let f = check_yaml(
        &v,
        &vs("  hosts: [x]\n  tcp:\n  - route:\n    - destination: {host: db.data.svc.cluster.local}\n"),
    );
    assert_eq!(
        codes(&f),
        [("MG0102".into(), "/spec/tcp/0/route/0/destination/host".into())]
    );
}

#[test]
fn mg0102_mirrors_are_checked() {
    let v = view(&[SVC_REVIEWS]);
    let f = check_yaml(
        &v,
        &vs("  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews}\n    mirror: {host: shadow}\n    mirrors:\n    - destination: {host: shadow2}\n"),
    );
    assert_eq!(
        codes(&f),
        [
            ("MG0102".into(), "/spec/http/0/mirror/host".into()),
            ("MG0102".into(), "/spec/http/0/mirrors/0/destination/host".into())
        ]
    );
}

#[test]
fn mg0103_subset_needs_a_destination_rule() {
    let v = view(&[SVC_REVIEWS]);
    let spec = vs("  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews, subset: v1}\n");
    let f = check_yaml(&v, &spec);
    assert_eq!(
        codes(&f),
        [("MG0103".into(), "/spec/http/0/route/0/destination/subset".into())]
    );
    let v = view(&[SVC_REVIEWS, DR_REVIEWS]);
    assert!(check_yaml(&v, &spec).is_empty());
    let f = check_yaml(
        &v,
        &vs("  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews, subset: v3}\n"),
    );
    assert_eq!(
        codes(&f),
        [("MG0103".into(), "/spec/http/0/route/0/destination/subset".into())]
    );
    assert!(f[0].message.contains("default/reviews"), "{}", f[0].message);
}

#[test]
fn mg0103_own_namespace_rule_shadows_the_destination_namespace() {
    // The client namespace's rule wins even without the subset, as istiod does.
    let svc = "apiVersion: v1\nkind: Service\nmetadata: {name: ratings, namespace: backend}\nspec:\n  ports: [{port: 9080}]\n";
    let dr_backend = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: ratings, namespace: backend}\nspec:\n  host: ratings\n  subsets: [{name: v1, labels: {version: v1}}]\n";
    let dr_local = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: ratings-local, namespace: default}\nspec:\n  host: ratings.backend.svc.cluster.local\n  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}\n";
    let spec = vs(
        "  hosts: [x]\n  http:\n  - route:\n    - destination: {host: ratings.backend.svc.cluster.local, subset: v1}\n",
    );
    assert!(check_yaml(&view(&[svc, dr_backend]), &spec).is_empty());
    let f = check_yaml(&view(&[svc, dr_backend, dr_local]), &spec);
    assert_eq!(
        codes(&f),
        [("MG0103".into(), "/spec/http/0/route/0/destination/subset".into())]
    );
    assert!(f[0].message.contains("default/ratings-local"), "{}", f[0].message);
}

#[test]
fn mg0103_third_namespace_rule_is_never_used() {
    let svc = "apiVersion: v1\nkind: Service\nmetadata: {name: ratings, namespace: backend}\nspec:\n  ports: [{port: 9080}]\n";
    let dr_third = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: ratings, namespace: third}\nspec:\n  host: ratings.backend.svc.cluster.local\n  exportTo: [\"*\"]\n  subsets: [{name: v1, labels: {version: v1}}]\n";
    let dr_root = dr_third.replace("third", "istio-system");
    let spec = vs(
        "  hosts: [x]\n  http:\n  - route:\n    - destination: {host: ratings.backend.svc.cluster.local, subset: v1}\n",
    );
    assert_eq!(codes(&check_yaml(&view(&[svc, dr_third]), &spec)).len(), 1);
    assert!(check_yaml(&view(&[svc, &dr_root]), &spec).is_empty());
}

#[test]
fn mg0103_exact_host_beats_wildcard_and_unexported_rules_are_skipped() {
    let svc = "apiVersion: v1\nkind: Service\nmetadata: {name: ratings, namespace: backend}\nspec:\n  ports: [{port: 9080}]\n";
    let wild = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: wild, namespace: backend}\nspec:\n  host: \"*.backend.svc.cluster.local\"\n  subsets: [{name: v1, labels: {version: v1}}]\n";
    let exact = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: exact, namespace: backend}\nspec:\n  host: ratings\n  subsets: [{name: v2, labels: {version: v2}}]\n";
    let spec_v1 = vs(
        "  hosts: [x]\n  http:\n  - route:\n    - destination: {host: ratings.backend.svc.cluster.local, subset: v1}\n",
    );
    assert!(check_yaml(&view(&[svc, wild]), &spec_v1).is_empty());
    let f = check_yaml(&view(&[svc, wild, exact]), &spec_v1);
    assert!(f[0].message.contains("backend/exact"), "{}", f[0].message);
    let private = exact
        .replace("  host: ratings\n", "  host: ratings\n  exportTo: [\".\"]\n")
        .replace("v2", "v1");
    // Not exported to `default`: skipped, so the wildcard rule applies.
    assert!(check_yaml(&view(&[svc, wild, &private]), &spec_v1).is_empty());
}

#[test]
fn mg0104_port_not_on_service() {
    let v = view(&[SVC_REVIEWS]);
    let f = check_yaml(
        &v,
        &vs("  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews, port: {number: 80}}\n"),
    );
    assert_eq!(
        codes(&f),
        [("MG0104".into(), "/spec/http/0/route/0/destination/port/number".into())]
    );
    assert!(f[0].message.contains("9080"));
    let ok = check_yaml(
        &v,
        &vs("  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews, port: {number: 9080}}\n"),
    );
    assert!(ok.is_empty(), "{ok:?}");
}

/// DestinationRules of one host and namespace merge only when their exportTo
/// sets are equal; otherwise a sidecar uses the one created last (istiod, read in
/// its sources; shown by the oracle's visibility generator). A subset defined by
/// only one of them depends on creation order: a warning, never a denial.
#[test]
fn mg0103_unmerged_rules_make_a_subset_depend_on_creation_order() {
    let dr = |name: &str, export: &str, subsets: &str| {
        format!("apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {{name: {name}, namespace: default}}\nspec:\n  host: reviews\n{export}  subsets: [{subsets}]\n")
    };
    let route = vs("  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews, subset: v1}\n");
    let v = view(&[
        SVC_REVIEWS,
        &dr("a", "  exportTo: [\".\"]\n", "{name: v1, labels: {version: v1}}"),
        &dr("b", "", ""),
    ]);
    let f = check_yaml(&v, &route);
    assert_eq!(
        codes(&f),
        [("MG0103".into(), "/spec/http/0/route/0/destination/subset".into())]
    );
    assert_eq!(f[0].severity, Severity::Warning);
    assert!(
        f[0].message
            .contains("defined by DestinationRule default/a but not by default/b: their exportTo differ"),
        "{}",
        f[0].message
    );
    // Equal exportTo: istiod merges them, the subset is defined.
    let merged = view(&[
        SVC_REVIEWS,
        &dr("a", "", "{name: v1, labels: {version: v1}}"),
        &dr("b", "", ""),
    ]);
    assert!(check_yaml(&merged, &route).is_empty());
}

/// A delegate's route without a port serves the port its mesh root was called
/// on (istiod's generator: `outbound|9080||web...` absent for web on 9000/9090;
/// found by the oracle's random configurations with delegates).
#[test]
fn mg0104_delegate_route_without_port_keeps_its_roots_port() {
    let web = "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default}\nspec:\n  selector: {app: web}\n  ports: [{port: 9000, name: http-a}, {port: 9090, name: http-b}]\n";
    let root = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews, namespace: default}\nspec:\n  hosts: [reviews]\n  http:\n  - delegate: {name: subject}\n";
    let delegate = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: subject, namespace: default}\nspec:\n  http:\n  - route:\n    - destination: {host: web}\n";
    let v = view(&[web, SVC_REVIEWS, root]);
    let f = check_yaml(&v, delegate);
    assert_eq!(
        codes(&f),
        [("MG0104".into(), "/spec/http/0/route/0/destination".into())]
    );
    assert!(
        f[0].message
            .contains("cluster outbound|9080||web.default.svc.cluster.local does not exist"),
        "{}",
        f[0].message
    );
    // Without a root, nothing calls it: no port to judge.
    assert!(check_yaml(&view(&[web, SVC_REVIEWS]), delegate).is_empty());
}

/// A sidecar route that names no port keeps the port the request came in on
/// (istiod's generator: `outbound|9000||ratings...` for a call to web:9000, absent
/// when ratings has only 9080; found by the oracle's random configurations).
#[test]
fn mg0104_sidecar_route_without_port_keeps_the_called_port() {
    let web = "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default}\nspec:\n  selector: {app: web}\n  ports: [{port: 9000, name: http}, {port: 5432, name: tcp-db}]\n";
    let ratings = "apiVersion: v1\nkind: Service\nmetadata: {name: ratings, namespace: default}\nspec:\n  selector: {app: ratings}\n  ports: [{port: 9080, name: http}]\n";
    let v = view(&[web, ratings, SVC_REVIEWS]);
    let f = check_yaml(
        &v,
        &vs("  hosts: [web]\n  http:\n  - route:\n    - destination: {host: ratings}\n"),
    );
    assert_eq!(
        codes(&f),
        [("MG0104".into(), "/spec/http/0/route/0/destination".into())]
    );
    assert_eq!(f[0].severity, Severity::Error);
    assert!(
        f[0].message
            .contains("cluster outbound|9000||ratings.default.svc.cluster.local does not exist"),
        "{}",
        f[0].message
    );
    // Naming the port, or a destination that has the called port, is fine.
    assert!(check_yaml(
        &v,
        &vs("  hosts: [web]\n  http:\n  - route:\n    - destination: {host: ratings, port: {number: 9080}}\n")
    )
    .is_empty());
    let web2 = web.replace("{port: 5432, name: tcp-db}", "{port: 9080, name: http-alt}");
    let v2 = view(&[&web2, ratings, SVC_REVIEWS]);
    // Some HTTP ports of the host missing on the destination: a warning.
    let f = check_yaml(
        &v2,
        &vs("  hosts: [web]\n  http:\n  - route:\n    - destination: {host: ratings}\n"),
    );
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].severity, Severity::Warning);
    // A gateway-only route is MG0105's business, not this one's.
    let gw_only = vs("  hosts: [web.example.com]\n  gateways: [istio-system/public]\n  http:\n  - route:\n    - destination: {host: ratings}\n");
    assert!(check_yaml(&v, &gw_only).iter().all(|f| f.code != "MG0104"));
}

/// The canary pattern: a mesh route to a subset with no port, on a Service with
/// `http 8080` and `grpc 9090`, is valid: a sidecar uses the port the client
/// called. Only a Gateway route can break this way (it uses its server's port).
#[test]
fn mg0105_only_gateway_routes_need_a_port() {
    let svc = "apiVersion: v1\nkind: Service\nmetadata: {name: api, namespace: default}\nspec:\n  selector: {app: api}\n  ports: [{port: 8080, name: http}, {port: 9090, name: grpc}]\n";
    let dr = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: api, namespace: default}\nspec:\n  host: api\n  subsets: [{name: v1, labels: {version: v1}}]\n";
    let gw = GW_PUBLIC.replace("*/bookinfo.com", "*/api.example.com");
    let v = view(&[svc, dr, &gw]);
    let canary = vs("  hosts: [api]\n  http:\n  - route:\n    - destination: {host: api, subset: v1}\n");
    let f = check_yaml(&v, &canary);
    assert!(f.is_empty(), "{f:?}");
    // At the Gateway (server port 80) neither 8080 nor 9090 is the server's port.
    let at_gateway = vs("  hosts: [api.example.com]\n  gateways: [istio-system/public]\n  http:\n  - route:\n    - destination: {host: api, subset: v1}\n");
    let f = check_yaml(&v, &at_gateway);
    assert_eq!(
        codes(&f),
        [("MG0105".into(), "/spec/http/0/route/0/destination".into())]
    );
    assert_eq!(f[0].severity, Severity::Error);
    assert!(
        f[0].message.contains("outbound|80|v1|api.default.svc.cluster.local") && f[0].message.contains("503 NC"),
        "{}",
        f[0].message
    );
    // A server on port 8080 is a port the Service has: istiod's choice works.
    let gw_8080 = gw.replace("number: 80,", "number: 8080,");
    assert!(check_yaml(&view(&[svc, dr, &gw_8080]), &at_gateway).is_empty());
    // Named port: fine at the Gateway too.
    let named = at_gateway.replace("subset: v1}", "subset: v1, port: {number: 9090}}");
    assert!(check_yaml(&v, &named).is_empty());
    // Bound to both mesh and the Gateway: the Gateway side still breaks.
    let both = at_gateway.replace(
        "gateways: [istio-system/public]",
        "gateways: [mesh, istio-system/public]",
    );
    assert_eq!(codes(&check_yaml(&v, &both))[0].0, "MG0105");
    // A rule limited to mesh by match[].gateways never breaks this way.
    let mesh_rule = vs("  hosts: [api.example.com, api]\n  gateways: [mesh, istio-system/public]\n  http:\n  - match: [{gateways: [mesh]}]\n    route:\n    - destination: {host: api, subset: v1}\n");
    assert!(check_yaml(&v, &mesh_rule).is_empty());
}

#[test]
fn mg0106_gateway_serves_none_of_the_hosts() {
    let v = view(&[SVC_REVIEWS, GW_PUBLIC]);
    let f = check_yaml(&v, &vs("  hosts: [shop.example.com]\n  gateways: [istio-system/public]\n  http:\n  - route:\n    - destination: {host: reviews}\n"));
    assert_eq!(codes(&f), [("MG0106".into(), "/spec/gateways/0".into())]);
    assert_eq!(f[0].severity, Severity::Warning);
    assert!(check_yaml(&v, &vs("  hosts: [bookinfo.com]\n  gateways: [istio-system/public]\n  http:\n  - route:\n    - destination: {host: reviews}\n")).is_empty());
}

#[test]
fn mg0106_namespace_restricted_server_host() {
    let gw = GW_PUBLIC.replace("*/bookinfo.com", "prod/bookinfo.com");
    let v = view(&[SVC_REVIEWS, &gw]);
    let f = check_yaml(&v, &vs("  hosts: [bookinfo.com]\n  gateways: [istio-system/public]\n  http:\n  - route:\n    - destination: {host: reviews}\n"));
    assert_eq!(codes(&f), [("MG0106".into(), "/spec/gateways/0".into())]);
    assert!(f[0].message.contains("for namespace default"), "{}", f[0].message);
}

#[test]
fn mg0107_missing_delegate() {
    let v = view(&[SVC_REVIEWS]);
    let f = check_yaml(
        &v,
        &vs("  hosts: [reviews]\n  http:\n  - delegate: {name: reviews-routes, namespace: team}\n"),
    );
    assert_eq!(codes(&f), [("MG0107".into(), "/spec/http/0/delegate/name".into())]);
    assert_eq!(
        f[0].message,
        "delegate VirtualService \"team/reviews-routes\" not found: istiod drops the delegating route from the virtual hosts of reviews \
         (route configuration 9080); no route is left: sidecars send its hosts' requests to their default route \
         (none of this VirtualService's rules)"
    );
    // With a later route, the delegated requests take it (istiod's generator: tests/oracle.rs).
    let f = check_yaml(
        &v,
        &vs("  hosts: [reviews]\n  http:\n  - match: [{uri: {prefix: /a}}]\n    delegate: {name: reviews-routes, namespace: team}\n  - route:\n    - destination: {host: reviews}\n"),
    );
    assert!(
        f[0].message
            .ends_with("(route configuration 9080); the requests it would take go to the next route that matches them"),
        "{}",
        f[0].message
    );
    let delegate = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews-routes, namespace: team}\nspec:\n  http:\n  - route:\n    - destination: {host: reviews.default.svc.cluster.local}\n";
    let v = view(&[SVC_REVIEWS, delegate]);
    assert!(check_yaml(
        &v,
        &vs("  hosts: [reviews]\n  http:\n  - delegate: {name: reviews-routes, namespace: team}\n")
    )
    .is_empty());
}

/// At a Gateway, the route configurations named are the gateway's: `http.<port>`
/// for plaintext servers, `https.<port>.<port name>.<gateway>.<namespace>` for
/// HTTPS servers it terminates (istiod's `gatewayRDSRouteName`).
#[test]
fn mg0107_names_the_gateway_route_configurations() {
    let gw = "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: public, namespace: istio-system}\nspec:\n  selector: {istio: ingressgateway}\n  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [\"*/bookinfo.com\"]\n  - port: {number: 443, name: https-main, protocol: HTTPS}\n    hosts: [\"*/bookinfo.com\"]\n    tls: {mode: SIMPLE, credentialName: bookinfo-cert}\n  - port: {number: 8443, name: tls, protocol: TLS}\n    hosts: [\"*/bookinfo.com\"]\n    tls: {mode: PASSTHROUGH}\n  - port: {number: 8080, name: http-other, protocol: HTTP}\n    hosts: [\"other.com\"]\n";
    let v = view(&[SVC_REVIEWS, gw]);
    let f = check_yaml(
        &v,
        &vs("  hosts: [bookinfo.com]\n  gateways: [istio-system/public]\n  http:\n  - delegate: {name: routes, namespace: team}\n"),
    );
    assert_eq!(codes(&f), [("MG0107".into(), "/spec/http/0/delegate/name".into())]);
    assert_eq!(
        f[0].message,
        "delegate VirtualService \"team/routes\" not found: istiod drops the delegating route from the virtual hosts of bookinfo.com \
         (route configurations http.80, https.443.https-main.public.istio-system); no route is left: its gateways get no virtual host for them (404 NR)"
    );
}

#[test]
fn mg0108_duplicate_mesh_host() {
    let other = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: other, namespace: default}\nspec:\n  hosts: [reviews.default.svc.cluster.local]\n  http:\n  - route:\n    - destination: {host: reviews}\n";
    let v = view(&[SVC_REVIEWS, other]);
    let spec = vs("  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews}\n");
    let f = check_yaml(&v, &spec);
    assert_eq!(codes(&f), [("MG0108".into(), "/spec/hosts/0".into())]);
    assert!(f[0].message.contains("default/other"), "{}", f[0].message);
    assert!(
        f[0].message.contains(
            "drop the other's routes (virtual host reviews.default.svc.cluster.local:9080 in route configuration 9080)"
        ),
        "{}",
        f[0].message
    );
    // Disjoint exportTo scopes do not conflict; gateway-only VirtualServices do not either.
    let scoped = other.replace("spec:\n", "spec:\n  exportTo: [\".\"]\n");
    let v2 = view(&[
        SVC_REVIEWS,
        &scoped,
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: elsewhere}\n",
    ]);
    assert!(check_yaml(
        &v2,
        &vs("  exportTo: [elsewhere]\n  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews}\n")
    )
    .is_empty());
    let gw_only = vs("  hosts: [reviews]\n  gateways: [istio-system/public]\n  http:\n  - route:\n    - destination: {host: reviews}\n");
    let v3 = view(&[SVC_REVIEWS, other, GW_PUBLIC]);
    assert!(!codes(&check_yaml(&v3, &gw_only)).iter().any(|(c, _)| c == "MG0108"));
}

#[test]
fn mg0108_does_not_conflict_with_itself() {
    let me = vs("  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews}\n");
    let v = view(&[SVC_REVIEWS, &me]);
    assert!(check_yaml(&v, &me).is_empty());
}

#[test]
fn mg0001_malformed_fields_are_named() {
    let v = view(&[SVC_REVIEWS]);
    let f = check_yaml(
        &v,
        &vs("  hosts: reviews\n  http:\n  - match: [{uri: {prefix: /a}}]\n    route:\n    - destination: {host: 42}\n  - route: {}\n"),
    );
    assert_eq!(
        codes(&f),
        [
            ("MG0001".into(), "/spec/hosts".into()),
            ("MG0001".into(), "/spec/http/0/route/0/destination/host".into()),
            ("MG0001".into(), "/spec/http/1/route".into()),
        ]
    );
    assert_eq!(f[0].message, "cannot read this field: expected a list, found a string; Istio's validation rejects the object, or istiod ignores the field");
    let f = check_yaml(
        &v,
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: x}\nspec: [1]\n",
    );
    assert_eq!(codes(&f), [("MG0001".into(), "/spec".into())]);
}

#[test]
fn mg0003_export_to_a_namespace_that_does_not_exist() {
    let v = view(&[
        SVC_REVIEWS,
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: team-a}\n",
    ]);
    let f = check_yaml(&v, &vs("  exportTo: [\".\", team-a, team-b]\n  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews}\n"));
    assert_eq!(codes(&f), [("MG0003".into(), "/spec/exportTo/2".into())]);
    assert_eq!(
        f[0].message,
        "exportTo names namespace \"team-b\", which does not exist"
    );
    assert!(check_yaml(&v, &vs("  exportTo: [\".\", team-a]\n  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews}\n")).is_empty());
}

#[test]
fn mg0109_unreachable_rules() {
    let v = view(&[SVC_REVIEWS]);
    let route = "    route: [{destination: {host: reviews}}]\n";
    let f = check_yaml(
        &v,
        &vs(&format!("  hosts: [reviews]\n  http:\n  - match: [{{headers: {{end-user: {{exact: jason}}}}}}]\n{route}  - match: [{{name: again, headers: {{end-user: {{exact: jason}}}}}}]\n{route}  - match: [{{uri: {{prefix: /}}}}]\n{route}  - match: [{{uri: {{prefix: /api}}}}]\n{route}")),
    );
    assert_eq!(
        codes(&f),
        [
            ("MG0109".into(), "/spec/http/1".into()),
            ("MG0109".into(), "/spec/http/3".into())
        ]
    );
    assert!(f[0].message.contains("http[0] has the same match"), "{}", f[0].message);
    assert!(
        f[1].message.contains("http[2] before it matches every request"),
        "{}",
        f[1].message
    );
    let ok = check_yaml(
        &v,
        &vs(&format!(
            "  hosts: [reviews]\n  http:\n  - match: [{{uri: {{prefix: /api}}}}]\n{route}  - {}",
            &route[4..]
        )),
    );
    assert!(ok.is_empty(), "{ok:?}");
}

#[test]
fn mg0110_weights_and_duplicates() {
    let v = view(&[SVC_REVIEWS, DR_REVIEWS]);
    let f = check_yaml(
        &v,
        &vs("  hosts: [reviews]\n  http:\n  - route:\n    - {destination: {host: reviews, subset: v1}, weight: 50}\n"),
    );
    assert_eq!(codes(&f), [("MG0110".into(), "/spec/http/0/route/0/weight".into())]);
    let f = check_yaml(
        &v,
        &vs("  hosts: [reviews]\n  http:\n  - route:\n    - {destination: {host: reviews, subset: v1}, weight: 50}\n    - {destination: {host: reviews.default.svc.cluster.local, subset: v1}, weight: 50}\n"),
    );
    assert_eq!(
        codes(&f),
        [("MG0110".into(), "/spec/http/0/route/1/destination".into())]
    );
    let ok = check_yaml(
        &v,
        &vs("  hosts: [reviews]\n  http:\n  - route:\n    - {destination: {host: reviews, subset: v1}, weight: 80}\n    - {destination: {host: reviews, subset: v2}, weight: 20}\n"),
    );
    assert!(ok.is_empty(), "{ok:?}");
}

#[test]
fn mg0111_gateway_route_skips_a_subset_split() {
    let split = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: split, namespace: default}\nspec:\n  hosts: [reviews]\n  http:\n  - route:\n    - {destination: {host: reviews, subset: v1}, weight: 90}\n    - {destination: {host: reviews, subset: v2}, weight: 10}\n";
    let v = view(&[SVC_REVIEWS, DR_REVIEWS, GW_PUBLIC, split]);
    let f = check_yaml(&v, &vs("  hosts: [bookinfo.com]\n  gateways: [istio-system/public]\n  http:\n  - route:\n    - destination: {host: reviews}\n"));
    assert_eq!(
        codes(&f),
        [("MG0111".into(), "/spec/http/0/route/0/destination/host".into())]
    );
    assert!(f[0].message.contains("default/split"), "{}", f[0].message);
    let ok = check_yaml(&v, &vs("  hosts: [bookinfo.com]\n  gateways: [istio-system/public]\n  http:\n  - route:\n    - destination: {host: reviews, subset: v1}\n"));
    assert!(ok.is_empty(), "{ok:?}");
}

#[test]
fn mg0112_claim_routing_at_a_gateway_without_request_authentication() {
    let claim_vs = |gateways: &str, match_gateways: &str| {
        vs(&format!("  hosts: [bookinfo.com]\n  gateways: {gateways}\n  http:\n  - match:\n    - headers:\n        \"@request.auth.claims.group\": {{exact: admin}}\n{match_gateways}    route:\n    - destination: {{host: reviews}}\n"))
    };
    let subject = claim_vs("[istio-system/public]", "");
    let v = view(&[SVC_REVIEWS, GW_PUBLIC, INGRESS_POD]);
    let f = check_yaml(&v, &subject);
    assert_eq!(
        codes(&f),
        [(
            "MG0112".into(),
            "/spec/http/0/match/0/headers/@request.auth.claims.group".into()
        )]
    );
    assert_eq!(
        f[0].message,
        "routes on JWT claim \"@request.auth.claims.group\" but no RequestAuthentication applies to gateway istio-system/public (workload istio-system/ingress-1): the claim is never set, so this match never succeeds"
    );
    assert_eq!(f[0].severity, Severity::Warning);
    let ra = |ns: &str, selector: &str| {
        format!("apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {{name: jwt, namespace: {ns}}}\nspec:\n{selector}  jwtRules: [{{issuer: https://issuer.example.com}}]\n")
    };
    // Covered: an RA selecting the gateway workload, or namespace-wide where it runs
    // (istio-system is also the root namespace: mesh-wide).
    for covering in [
        ra("istio-system", "  selector: {matchLabels: {istio: ingressgateway}}\n"),
        ra("istio-system", ""),
    ] {
        let v = view(&[SVC_REVIEWS, GW_PUBLIC, INGRESS_POD, &covering]);
        assert!(check_yaml(&v, &subject).is_empty(), "{covering}");
    }
    // Not covered: an RA of another namespace, or selecting other workloads.
    for other in [
        ra("default", ""),
        ra("istio-system", "  selector: {matchLabels: {app: web}}\n"),
    ] {
        let v = view(&[SVC_REVIEWS, GW_PUBLIC, INGRESS_POD, &other]);
        assert_eq!(check_yaml(&v, &subject).len(), 1, "{other}");
    }
    // A rule limited to sidecars (`match.gateways: [mesh]`) is not judged.
    let mesh_rule = claim_vs("[istio-system/public, mesh]", "      gateways: [mesh]\n");
    assert!(check_yaml(&v, &mesh_rule).is_empty());
}

/// `kubernetes.default` and the built-in namespaces exist in every cluster, in
/// file mode too: a route to the API server is no MG0102.
#[test]
fn builtin_kubernetes_service_resolves() {
    let v = view(&[]);
    let to_api = vs("  hosts: [api-proxy]\n  http:\n  - route:\n    - destination: {host: kubernetes.default.svc.cluster.local, port: {number: 443}}\n");
    let f = check_yaml(&v, &to_api);
    assert!(f.is_empty(), "{f:?}");
    let wrong_port = to_api.replace("number: 443", "number: 80");
    assert_eq!(codes(&check_yaml(&v, &wrong_port))[0].0, "MG0104");
    let elsewhere = to_api.replace("kubernetes.default.svc", "kubernetes.other.svc");
    assert_eq!(codes(&check_yaml(&v, &elsewhere))[0].0, "MG0102");
}

/// The MG0102 warning for a host only a wildcard covers holds only while that
/// wildcard ServiceEntry is visible to the clients; a hidden one is the error.
#[test]
fn mg0102_hidden_wildcard_is_the_plain_error() {
    let se = "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: wild, namespace: egress}\nspec:\n  hosts: [\"*.foo.com\"]\n  exportTo: [\".\"]\n  ports: [{number: 443, name: tls, protocol: TLS}]\n  location: MESH_EXTERNAL\n  resolution: NONE\n";
    let registry_only = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\ndata:\n  mesh: \"outboundTrafficPolicy: {mode: REGISTRY_ONLY}\"\n";
    let v = view(&[se, registry_only]);
    let route = vs("  hosts: [a.foo.com]\n  tls:\n  - match: [{sniHosts: [a.foo.com]}]\n    route:\n    - destination: {host: a.foo.com}\n");
    let f = check_yaml(&v, &route);
    assert_eq!(
        codes(&f),
        [("MG0102".into(), "/spec/tls/0/route/0/destination/host".into())]
    );
    assert_eq!(f[0].severity, Severity::Error, "{}", f[0].message);
    let v = view(&[&se.replace("[\".\"]", "[\"*\"]"), registry_only]);
    assert_eq!(check_yaml(&v, &route)[0].severity, Severity::Warning);
}

/// MG0103 is judged even when the host does not resolve: the rules istiod would
/// look up (the client's, the named namespace's, the root's) define no subset.
#[test]
fn mg0103_judged_when_the_host_does_not_resolve() {
    let v = view(&[DR_REVIEWS]);
    let f = check_yaml(
        &v,
        &vs("  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews, subset: v3}\n"),
    );
    assert_eq!(
        codes(&f),
        [
            ("MG0102".into(), "/spec/http/0/route/0/destination/host".into()),
            ("MG0103".into(), "/spec/http/0/route/0/destination/subset".into())
        ]
    );
    assert!(
        f[1].message
            .contains("outbound|<port>|v3|reviews.default.svc.cluster.local")
            && f[1].message.contains("503 NC"),
        "{}",
        f[1].message
    );
    // A subset the client namespace's rule defines: only MG0102.
    let f = check_yaml(
        &v,
        &vs("  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews, subset: v1}\n"),
    );
    assert_eq!(codes(&f).len(), 1);
    // A rule in the namespace the host names counts too.
    let there = DR_REVIEWS
        .replace("namespace: default", "namespace: shop")
        .replace("host: reviews", "host: reviews.shop.svc.cluster.local");
    let v = view(&[&there]);
    let f = check_yaml(&v, &vs("  hosts: [x]\n  http:\n  - route:\n    - destination: {host: reviews.shop.svc.cluster.local, subset: v2}\n"));
    assert_eq!(codes(&f).len(), 1, "{f:?}");
}

/// MG0109 on `tls[]` and `tcp[]` too, and per match entry: a rule whose entries
/// are each in some earlier rule is shadowed; one new entry makes it reachable.
#[test]
fn mg0109_tls_tcp_and_match_entries() {
    let v = view(&[SVC_REVIEWS]);
    let route = "    route: [{destination: {host: reviews}}]\n";
    let f = check_yaml(
        &v,
        &vs(&format!("  hosts: [reviews]\n  http:\n  - match: [{{headers: {{a: {{exact: \"1\"}}}}}}]\n{route}  - match: [{{headers: {{b: {{exact: \"2\"}}}}}}]\n{route}  - match: [{{name: both, headers: {{b: {{exact: \"2\"}}}}}}, {{headers: {{a: {{exact: \"1\"}}}}}}]\n{route}  - match: [{{headers: {{a: {{exact: \"1\"}}}}}}, {{headers: {{c: {{exact: \"3\"}}}}}}]\n{route}  tcp:\n  - {route}  - match: [{{port: 5432}}]\n{route}")),
    );
    assert_eq!(
        codes(&f),
        [
            ("MG0109".into(), "/spec/http/2".into()),
            ("MG0109".into(), "/spec/tcp/1".into())
        ]
    );
    assert!(
        f[0].message
            .contains("each of its match entries is already in http[0], http[1]"),
        "{}",
        f[0].message
    );
    assert!(
        f[1].message.contains("tcp[0] before it matches every request"),
        "{}",
        f[1].message
    );
    let tls = vs("  hosts: [a.example.com]\n  tls:\n  - match: [{sniHosts: [a.example.com]}]\n    route: [{destination: {host: reviews}}]\n  - match: [{sniHosts: [a.example.com]}]\n    route: [{destination: {host: reviews}}]\n");
    assert_eq!(codes(&check_yaml(&v, &tls)), [("MG0109".into(), "/spec/tls/1".into())]);
    // The same match in another list is no shadow.
    let mixed = vs("  hosts: [reviews]\n  http:\n  - route: [{destination: {host: reviews}}]\n  tcp:\n  - route: [{destination: {host: reviews}}]\n");
    assert!(check_yaml(&v, &mixed).is_empty());
}
