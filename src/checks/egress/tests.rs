//! The egress path of Istio's egress-gateway task: ServiceEntry edition.cnn.com,
//! Gateway `istio-egressgateway`, one VirtualService for both legs.

use crate::admission::{analyze_impact as analyze, ImpactChange as Change};
use crate::checks::testutil::*;
use crate::finding::Severity;
use crate::model::{Kind, ObjKey};

const SE: &str = "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: cnn, namespace: default}\nspec:\n  hosts: [edition.cnn.com]\n  ports:\n  - {number: 80, name: http-port, protocol: HTTP}\n  - {number: 443, name: https, protocol: HTTPS}\n  resolution: DNS\n";
const GATEWAY: &str = "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: istio-egressgateway, namespace: default}\nspec:\n  selector: {istio: egressgateway}\n  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [edition.cnn.com]\n";
const VS: &str = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: cnn-via-egress, namespace: default}\nspec:\n  hosts: [edition.cnn.com]\n  gateways: [istio-egressgateway, mesh]\n  http:\n  - match: [{gateways: [mesh], port: 80}]\n    route: [{destination: {host: istio-egressgateway.istio-system.svc.cluster.local, port: {number: 80}}}]\n  - match: [{gateways: [istio-egressgateway], port: 80}]\n    route: [{destination: {host: edition.cnn.com, port: {number: 80}}}]\n";
const MESH_ONLY_VS: &str = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: cnn-mesh, namespace: default}\nspec:\n  hosts: [edition.cnn.com]\n  http:\n  - route: [{destination: {host: istio-egressgateway.istio-system.svc.cluster.local, port: {number: 80}}}]\n";
const EGRESS_POD: &str = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: egress-1\n  namespace: istio-system\n  labels: {istio: egressgateway}\nspec:\n  containers: [{name: istio-proxy, image: docker.io/istio/proxyv2:1.30.3}]\n";
const EGRESS_SVC: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: istio-egressgateway, namespace: istio-system}\nspec:\n  selector: {istio: egressgateway}\n  ports: [{port: 80, name: http}, {port: 443, name: https}]\n";

fn pinned(f: &[crate::finding::Finding], code: &str) -> Vec<(String, String)> {
    codes(f).into_iter().filter(|(c, _)| c == code).collect()
}

fn pair(code: &str, at: &str) -> (String, String) {
    (code.to_string(), at.to_string())
}

#[test]
fn a_complete_live_path_is_clean() {
    let v = view(&[SE, GATEWAY, VS, EGRESS_POD, EGRESS_SVC]);
    assert!(check_yaml(&v, SE).is_empty(), "{:?}", check_yaml(&v, SE));
    assert!(check_yaml(&v, GATEWAY).is_empty(), "{:?}", check_yaml(&v, GATEWAY));
    assert!(check_yaml(&v, VS).is_empty(), "{:?}", check_yaml(&v, VS));
}

#[test]
fn mg0401_egress_gateway_without_workload() {
    let v = view(&[SE, GATEWAY, VS, EGRESS_SVC]);
    let f = check_yaml(&v, SE);
    assert_eq!(codes(&f), [pair("MG0401", "/spec/hosts/0")]);
    assert_eq!(
        f[0].message,
        "the egress path of edition.cnn.com is dead: egress Gateway default/istio-egressgateway serves it but its selector {istio=egressgateway} matches no workload; requests to edition.cnn.com fail with 503 (no healthy upstream at the egress gateway)"
    );
    assert_eq!(f[0].severity, Severity::Error);
    // Applying the Gateway or the VirtualService of the dead path says so too.
    assert_eq!(
        pinned(&check_yaml(&v, GATEWAY), "MG0401"),
        [pair("MG0401", "/spec/servers/0/hosts/0")]
    );
    assert_eq!(
        pinned(&check_yaml(&v, VS), "MG0401"),
        [
            pair("MG0401", "/spec/gateways/0"),
            pair("MG0401", "/spec/http/1/match/0/gateways/0")
        ]
    );
    // Passing: the workload exists.
    let live = view(&[SE, GATEWAY, VS, EGRESS_SVC, EGRESS_POD]);
    assert!(pinned(&check_yaml(&live, GATEWAY), "MG0401").is_empty());
}

/// Part (2) of the path must be a Service that selects the egress Gateway's
/// workloads: one that selects other workloads makes the path dead; a route to
/// a host that is not registered is MG0102 on the VirtualService, not MG0401.
#[test]
fn mg0401_mesh_route_to_a_service_of_other_workloads() {
    let elsewhere = EGRESS_SVC.replace("selector: {istio: egressgateway}", "selector: {app: something-else}");
    let v = view(&[SE, GATEWAY, VS, EGRESS_POD, &elsewhere]);
    let f = check_yaml(&v, SE);
    assert_eq!(codes(&f), [pair("MG0401", "/spec/hosts/0")]);
    assert!(
        f[0].message.contains("mesh VirtualService default/cnn-via-egress routes it to istio-egressgateway.istio-system.svc.cluster.local, whose Service selects none of the egress Gateway's workloads"),
        "{}",
        f[0].message
    );
    assert_eq!(
        pinned(&check_yaml(&v, VS), "MG0401"),
        [pair("MG0401", "/spec/http/0/route/0/destination/host")]
    );
    // The Service missing altogether: MG0102 on the route, no MG0401 anywhere.
    let v = view(&[SE, GATEWAY, VS, EGRESS_POD]);
    let on_se = check_yaml(&v, SE);
    assert!(on_se.iter().all(|f| f.code != "MG0401"), "{on_se:?}");
    let on_vs = check_yaml(&v, VS);
    assert!(pinned(&on_vs, "MG0401").is_empty(), "{on_vs:?}");
    assert_eq!(
        pinned(&on_vs, "MG0102"),
        [pair("MG0102", "/spec/http/0/route/0/destination/host")]
    );
}

#[test]
fn mg0402_no_path_or_part_of_one() {
    let message = |docs: &[&str]| {
        let f = check_yaml(&view(docs), SE);
        assert_eq!(codes(&f), [pair("MG0402", "/spec/hosts/0")], "{f:?}");
        f[0].message.clone()
    };
    // A mesh with an egress gateway workload: the missing path is a warning.
    assert_eq!(
        message(&[EGRESS_POD]),
        "no egress path: no Gateway serves edition.cnn.com and no mesh VirtualService routes it to an egress gateway; traffic leaves from the sidecars directly"
    );
    assert!(message(&[GATEWAY, EGRESS_POD])
        .contains("Gateway default/istio-egressgateway serves edition.cnn.com but no mesh VirtualService routes it"));
    assert!(message(&[MESH_ONLY_VS, EGRESS_SVC, EGRESS_POD]).contains(
        "mesh VirtualService default/cnn-mesh routes edition.cnn.com to istio-egressgateway.istio-system.svc.cluster.local but no Gateway serves edition.cnn.com"
    ));
    assert!(message(&[GATEWAY, MESH_ONLY_VS, EGRESS_SVC, EGRESS_POD])
        .contains("no VirtualService bound to Gateway default/istio-egressgateway routes edition.cnn.com onward"));
    // An ingress Gateway serving every host (`*`) is no egress path, even without workload.
    let ingress = "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: public, namespace: istio-system}\nspec:\n  selector: {istio: ingressgateway}\n  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [\"*\"]\n";
    assert!(message(&[ingress, EGRESS_POD]).starts_with("no egress path"));
    // Inside the mesh there is nothing to leave through.
    let internal = SE.replace("  resolution: DNS\n", "  resolution: DNS\n  location: MESH_INTERNAL\n");
    assert!(check_yaml(&view(&[]), &internal).is_empty());
}

/// MG0402's severity follows the mesh's evident intent: information where
/// nothing shows egress gateways are used (Istio's default: sidecars egress
/// directly), a warning once an egress gateway workload, a Gateway selecting
/// one, or outbound policy REGISTRY_ONLY shows they are.
#[test]
fn mg0402_severity_follows_the_mesh_intent() {
    let severity = |docs: &[&str]| check_yaml(&view(docs), SE)[0].severity;
    assert_eq!(severity(&[]), Severity::Info);
    assert_eq!(severity(&[EGRESS_POD]), Severity::Warning);
    let other_gw = GATEWAY
        .replace("edition.cnn.com", "api.example.com")
        .replace("name: istio-egressgateway", "name: other");
    assert_eq!(severity(&[&other_gw]), Severity::Warning);
    let registry_only = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\ndata:\n  mesh: \"outboundTrafficPolicy: {mode: REGISTRY_ONLY}\"\n";
    assert_eq!(severity(&[registry_only]), Severity::Warning);
}

#[test]
fn require_egress_gateway_makes_mg0402_an_error() {
    let mut f = check_yaml(&view(&[]), SE);
    assert_eq!(f[0].severity, Severity::Info);
    crate::checks::require_egress_gateway(&mut f);
    assert_eq!(f[0].severity, Severity::Error);
}

#[test]
fn deleting_the_egress_gateway_or_its_service_breaks_the_routes() {
    let v = view(&[SE, GATEWAY, VS, EGRESS_POD, EGRESS_SVC]);
    let broken = |change: Change| {
        let impact = analyze(&v, &change);
        assert_eq!(impact.broken.len(), 1);
        assert_eq!(impact.broken[0].0.object.key.name, "cnn-via-egress");
        codes(&impact.broken[0].1)
    };
    let gw = broken(Change::Delete(ObjKey::new(
        Kind::Gateway,
        "default",
        "istio-egressgateway",
    )));
    assert!(gw.contains(&pair("MG0101", "/spec/gateways/0")), "{gw:?}");
    let svc = broken(Change::Delete(ObjKey::new(
        Kind::Service,
        "istio-system",
        "istio-egressgateway",
    )));
    assert!(
        svc.contains(&pair("MG0102", "/spec/http/0/route/0/destination/host")),
        "{svc:?}"
    );
}

#[test]
fn a_wildcard_host_through_an_egress_gateway_is_a_path_too() {
    // Istio's wildcard egress task: resolution NONE, hosts `*.wikipedia.org`.
    let wild = |doc: &str| {
        doc.replace("edition.cnn.com", "\"*.wikipedia.org\"")
            .replace("resolution: DNS", "resolution: NONE")
    };
    let (se, gw, vs) = (wild(SE), wild(GATEWAY), wild(VS));
    let live = view(&[&se, &gw, &vs, EGRESS_POD, EGRESS_SVC]);
    assert!(check_yaml(&live, &se).is_empty(), "{:?}", check_yaml(&live, &se));
    let dead = view(&[&se, &gw, &vs, EGRESS_SVC]);
    assert_eq!(codes(&check_yaml(&dead, &se)), [pair("MG0401", "/spec/hosts/0")]);
}

/// A mesh VirtualService for `*.wikipedia.org` routes `www.wikipedia.org` too:
/// the ServiceEntry of the exact host has a path through the wildcard's.
#[test]
fn a_wildcard_mesh_route_covers_an_exact_external_host() {
    let wild = |doc: &str| {
        doc.replace("edition.cnn.com", "\"*.wikipedia.org\"")
            .replace("resolution: DNS", "resolution: NONE")
    };
    let exact = SE
        .replace("edition.cnn.com", "www.wikipedia.org")
        .replace("name: cnn", "name: www");
    let v = view(&[&wild(SE), &wild(GATEWAY), &wild(VS), &exact, EGRESS_POD, EGRESS_SVC]);
    let f = check_yaml(&v, &exact);
    assert!(f.is_empty(), "{f:?}");
}
