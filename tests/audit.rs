//! The audit's property (issue: continuous audit): after any sequence of view
//! changes, the incrementally kept findings equal a from-scratch check of every
//! object. The changes are drawn from a small universe of names, hosts and labels
//! so that objects keep meeting each other: routes find (or lose) their Services
//! and subsets, Gateways their workloads, EnvoyFilters their proxies, policies
//! their namespaces. Deterministic (seeded); `MESHGATE_AUDIT_ROUNDS` runs longer.

mod common;

use std::sync::Arc;

use common::Rng;

use meshgate::audit::{is_audited, Audit};
use meshgate::checks;
use meshgate::model::{ObjKey, Object};
use meshgate::view::{ClusterView, ViewSettings};
use serde_json::{json, Value};

const NAMESPACES: &[&str] = &["a", "b", "istio-system"];
const APPS: &[&str] = &["web", "api"];
const VERSIONS: &[&str] = &["v1", "v2"];
const HOSTS: &[&str] = &[
    "web",
    "api",
    "web.a.svc.cluster.local",
    "api.b.svc.cluster.local",
    "ext.example.com",
    "*.example.com",
    "b/api.b.svc.cluster.local",
];
const PROXY_VERSIONS: &[&str] = &["1.17.5", "1.18.0", "1.30.3"];

fn meta(rng: &mut Rng, names: &[&str]) -> Value {
    let mut m = json!({"name": rng.pick(names), "namespace": rng.pick(NAMESPACES)});
    if rng.below(4) == 0 {
        m["annotations"] = json!({"networking.istio.io/exportTo": rng.pick(&[".", "*", "b"])});
    }
    m
}

fn labels(rng: &mut Rng) -> Value {
    let mut l = serde_json::Map::new();
    if rng.below(5) != 0 {
        l.insert("app".into(), json!(rng.pick(APPS)));
    }
    if rng.coin() {
        l.insert("version".into(), json!(rng.pick(VERSIONS)));
    }
    if rng.below(4) == 0 {
        l.insert("istio".into(), json!(rng.pick(&["ingressgateway", "egressgateway"])));
    }
    if rng.below(6) == 0 {
        l.insert("topology.kubernetes.io/zone".into(), json!(rng.pick(&["z1", "z2"])));
    }
    Value::Object(l)
}

fn selector(rng: &mut Rng) -> Value {
    let mut s = serde_json::Map::new();
    match rng.below(4) {
        0 => {}
        1 => {
            s.insert("istio".into(), json!(rng.pick(&["ingressgateway", "egressgateway"])));
        }
        _ => {
            s.insert("app".into(), json!(rng.pick(APPS)));
            if rng.coin() {
                s.insert("version".into(), json!(rng.pick(VERSIONS)));
            }
        }
    }
    Value::Object(s)
}

fn pod_spec(rng: &mut Rng) -> Value {
    let mut containers = vec![json!({"name": "app", "image": "app:1"})];
    if rng.below(3) != 0 {
        let v = rng.pick(PROXY_VERSIONS);
        containers.push(json!({"name": "istio-proxy", "image": format!("docker.io/istio/proxyv2:{v}")}));
    }
    json!({"containers": containers, "serviceAccountName": rng.pick(&["default", "web", "api"]), "nodeName": rng.pick(&["n1", "n2"])})
}

fn port(rng: &mut Rng) -> Value {
    let (name, number) = *rng.pick(&[
        ("http", 80),
        ("http-web", 9080),
        ("grpc", 8080),
        ("https", 443),
        ("tcp", 5432),
    ]);
    json!({"name": name, "port": number, "targetPort": number + rng.below(2) as u64 * 1000})
}

fn http_route(rng: &mut Rng) -> Value {
    let mut dest = json!({"host": rng.pick(HOSTS).trim_start_matches("b/")});
    if rng.coin() {
        dest["subset"] = json!(rng.pick(VERSIONS));
    }
    if rng.coin() {
        dest["port"] = json!({"number": rng.pick(&[80, 9080, 8080])});
    }
    let mut r = json!({"route": [{"destination": dest}]});
    if rng.below(4) == 0 {
        r["match"] = json!([{"gateways": [rng.pick(&["gw", "a/gw", "mesh"])], "uri": {"prefix": "/x"}}]);
    }
    r
}

/// One random object of the universe.
fn object(rng: &mut Rng) -> Value {
    if rng.below(6) == 0 {
        return gateway_api_object(rng);
    }
    match rng.below(20) {
        0 => {
            let mut l = serde_json::Map::new();
            match rng.below(4) {
                0 => {
                    l.insert("istio-injection".into(), json!("enabled"));
                }
                1 => {
                    l.insert("istio.io/rev".into(), json!(rng.pick(&["1-17-5", "1-18", "canary"])));
                }
                _ => {}
            }
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": rng.pick(NAMESPACES), "labels": l}})
        }
        1 | 2 => {
            let mut spec = json!({"ports": (0..1 + rng.below(2)).map(|_| port(rng)).collect::<Vec<_>>()});
            if rng.below(5) != 0 {
                spec["selector"] = selector(rng);
            }
            json!({"apiVersion": "v1", "kind": "Service", "metadata": meta(rng, APPS), "spec": spec})
        }
        3 | 4 => {
            let mut m = meta(rng, &["p1", "p2", "p3"]);
            m["labels"] = labels(rng);
            json!({"apiVersion": "v1", "kind": "Pod", "metadata": m, "spec": pod_spec(rng)})
        }
        5 => {
            let mut tl = labels(rng);
            if rng.coin() {
                tl["sidecar.istio.io/inject"] = json!(rng.pick(&["true", "false"]));
            }
            if rng.below(3) == 0 {
                tl["istio.io/rev"] = json!(rng.pick(&["1-17-5", "1-18"]));
            }
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta(rng, &["d1"]),
                   "spec": {"template": {"metadata": {"labels": tl}, "spec": {"containers": [{"name": "app", "image": "app:1"}]}}}})
        }
        6 => {
            let rev = rng.pick(&["1-17-5", "1-18", "default"]);
            let version = rng.pick(PROXY_VERSIONS);
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                   "metadata": {"name": format!("istiod-{rev}"), "namespace": "istio-system", "labels": {"app": "istiod", "istio.io/rev": rev}},
                   "spec": {"template": {"metadata": {"labels": {"app": "istiod", "istio.io/rev": rev}},
                            "spec": {"containers": [{"name": "discovery", "image": format!("docker.io/istio/pilot:{version}")}]}}}})
        }
        7 => json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
                     "metadata": {"name": "istio-revision-tag-canary", "labels": {"istio.io/tag": "canary", "istio.io/rev": rng.pick(&["1-17-5", "1-18"])}}}),
        8 => json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": rng.pick(&["n1", "n2"]),
                     "labels": {"topology.kubernetes.io/region": "r1", "topology.kubernetes.io/zone": rng.pick(&["z1", "z2"])}}}),
        9 => {
            let mesh = match rng.below(3) {
                0 => "outboundTrafficPolicy:\n  mode: REGISTRY_ONLY\n",
                1 => "rootNamespace: a\ndefaultServiceExportTo: [\".\"]\n",
                _ => "defaultVirtualServiceExportTo: [\"*\"]\n",
            };
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "istio", "namespace": "istio-system"}, "data": {"mesh": mesh}})
        }
        10 => {
            let servers: Vec<Value> = (0..1 + rng.below(2))
                .map(|_| {
                    let (number, protocol) = *rng.pick(&[(80, "HTTP"), (443, "HTTPS"), (443, "TLS"), (80, "TCP")]);
                    let mut s = json!({"port": {"number": number, "name": "p", "protocol": protocol},
                                       "hosts": [rng.pick(&["*", "web.example.com", "a/*", "*/ext.example.com"])]});
                    if protocol != "HTTP" && protocol != "TCP" {
                        s["tls"] = json!({"mode": rng.pick(&["SIMPLE", "PASSTHROUGH"]), "credentialName": "cert"});
                    }
                    s
                })
                .collect();
            json!({"apiVersion": "networking.istio.io/v1", "kind": "Gateway", "metadata": meta(rng, &["gw", "gw2"]),
                   "spec": {"selector": selector(rng), "servers": servers}})
        }
        11 | 12 => {
            let mut spec = json!({"hosts": [rng.pick(HOSTS).trim_start_matches("b/")],
                                  "http": (0..1 + rng.below(2)).map(|_| http_route(rng)).collect::<Vec<_>>()});
            if rng.coin() {
                spec["gateways"] = json!([rng.pick(&["gw", "a/gw", "mesh", "istio-system/gw2"])]);
            }
            if rng.below(4) == 0 {
                spec["exportTo"] = json!([rng.pick(&[".", "*"])]);
            }
            json!({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService", "metadata": meta(rng, &["vs1", "vs2"]), "spec": spec})
        }
        13 => {
            let subsets: Vec<Value> = VERSIONS
                .iter()
                .filter(|_| rng.coin())
                .map(|v| json!({"name": v, "labels": {"version": v}}))
                .collect();
            let mut spec = json!({"host": rng.pick(HOSTS).trim_start_matches("b/"), "subsets": subsets});
            if rng.coin() {
                spec["trafficPolicy"] = json!({"tls": {"mode": rng.pick(&["DISABLE", "ISTIO_MUTUAL", "SIMPLE"])}});
            }
            if rng.below(4) == 0 {
                spec["exportTo"] = json!([rng.pick(&[".", "*", "a"])]);
            }
            json!({"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule", "metadata": meta(rng, &["dr1", "dr2"]), "spec": spec})
        }
        14 => {
            let h = *rng.pick(&["ext.example.com", "*.example.com", "db.internal"]);
            json!({"apiVersion": "networking.istio.io/v1", "kind": "ServiceEntry", "metadata": meta(rng, &["se1", "se2"]),
                   "spec": {"hosts": [h], "location": "MESH_EXTERNAL", "resolution": if h.starts_with('*') {"NONE"} else {"DNS"},
                            "ports": [{"number": 443, "name": "tls", "protocol": "TLS"}]}})
        }
        15 => {
            let mut patch = json!({"applyTo": rng.pick(&["HTTP_FILTER", "CLUSTER", "LISTENER"]),
                                   "patch": {"operation": rng.pick(&["INSERT_BEFORE", "MERGE", "ADD"]), "value": {"name": "x"}}});
            if rng.below(4) != 0 {
                patch["match"] = json!({"proxy": {"proxyVersion": rng.pick(&["^1\\.17.*", "^1\\.18.*", "^1\\.30.*"])}});
            }
            let mut spec = json!({"configPatches": [patch]});
            if rng.coin() {
                spec["workloadSelector"] = json!({"labels": selector(rng)});
            }
            json!({"apiVersion": "networking.istio.io/v1alpha3", "kind": "EnvoyFilter", "metadata": meta(rng, &["ef1", "ef2"]), "spec": spec})
        }
        16 => {
            let mut spec =
                json!({"egress": [{"hosts": [rng.pick(&["./*", "a/*", "istio-system/*", "*/ext.example.com"])]}]});
            if rng.coin() {
                spec["workloadSelector"] = json!({"labels": selector(rng)});
            }
            json!({"apiVersion": "networking.istio.io/v1", "kind": "Sidecar", "metadata": meta(rng, &["sc1", "default"]), "spec": spec})
        }
        17 => {
            let mut spec = json!({"mtls": {"mode": rng.pick(&["STRICT", "PERMISSIVE", "DISABLE"])}});
            if rng.coin() {
                spec["selector"] = json!({"matchLabels": selector(rng)});
                if rng.coin() {
                    spec["portLevelMtls"] = json!({"9080": {"mode": rng.pick(&["DISABLE", "STRICT"])}});
                }
            }
            json!({"apiVersion": "security.istio.io/v1", "kind": "PeerAuthentication", "metadata": meta(rng, &["pa1", "default"]), "spec": spec})
        }
        18 => {
            let from = match rng.below(3) {
                0 => json!({"source": {"requestPrincipals": ["*"]}}),
                1 => json!({"source": {"namespaces": [rng.pick(&["a", "b", "team-*", "missing"])]}}),
                _ => {
                    json!({"source": {"principals": [format!("cluster.local/ns/{}/sa/{}", rng.pick(NAMESPACES), rng.pick(&["web", "api", "ghost"]))]}})
                }
            };
            let mut spec = json!({"rules": [{"from": [from]}]});
            if rng.coin() {
                spec["selector"] = json!({"matchLabels": selector(rng)});
            }
            json!({"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy", "metadata": meta(rng, &["ap1"]), "spec": spec})
        }
        _ => match rng.below(3) {
            0 => {
                json!({"apiVersion": "security.istio.io/v1", "kind": "RequestAuthentication", "metadata": meta(rng, &["ra1"]),
                        "spec": {"jwtRules": [{"issuer": "https://issuer"}]}})
            }
            1 => json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": meta(rng, &["web", "api"])}),
            _ => {
                let mut m = meta(rng, &["we1"]);
                m["labels"] = labels(rng);
                json!({"apiVersion": "networking.istio.io/v1", "kind": "WorkloadEntry", "metadata": m,
                       "spec": {"address": "10.0.0.1", "labels": labels(rng), "serviceAccount": "web"}})
            }
        },
    }
}

/// Gateway API objects meeting each other and the rest: Gateways of class
/// `istio` (or a class a GatewayClass may define) with listeners that admit
/// namespaces by Same, All or label, certificates from Secrets that come and go,
/// routes to those Gateways or to Services, backends across namespaces, grants.
fn gateway_api_object(rng: &mut Rng) -> Value {
    match rng.below(7) {
        6 => {
            let mut m = meta(rng, &["btls1", "btls2"]);
            if rng.coin() {
                m["creationTimestamp"] = json!(rng.pick(&["2026-01-01T00:00:00Z", "2026-02-01T00:00:00Z"]));
            }
            json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "BackendTLSPolicy", "metadata": m,
                   "spec": {"targetRefs": [{"group": "", "kind": "Service", "name": rng.pick(APPS)}],
                            "validation": {"hostname": "x.example.com", "caCertificateRefs": [{"group": "", "kind": "ConfigMap", "name": "ca"}]}}})
        }
        0 => {
            let mut listener = json!({"name": rng.pick(&["http", "https"]), "port": 80, "protocol": rng.pick(&["HTTP", "HTTPS", "TCP"]),
                                      "hostname": rng.pick(&["*.example.com", "ext.example.com"])});
            listener["allowedRoutes"] = match rng.below(3) {
                0 => json!({"namespaces": {"from": "All"}}),
                1 => {
                    json!({"namespaces": {"from": "Selector", "selector": {"matchLabels": {"istio-injection": "enabled"}}}})
                }
                _ => json!({}),
            };
            if listener["protocol"] == "HTTPS" {
                listener["tls"] = json!({"certificateRefs": [{"name": "cert", "namespace": rng.pick(NAMESPACES)}]});
            }
            json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": meta(rng, &["gw1"]),
                   "spec": {"gatewayClassName": rng.pick(&["istio", "custom"]), "listeners": [listener]}})
        }
        1 => {
            json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass", "metadata": {"name": "custom"},
                    "spec": {"controllerName": rng.pick(&["istio.io/gateway-controller", "example.com/other"])}})
        }
        2 | 3 => {
            let parent = if rng.below(3) == 0 {
                json!({"group": "", "kind": "Service", "name": rng.pick(APPS)})
            } else {
                json!({"name": "gw1", "namespace": rng.pick(NAMESPACES), "sectionName": rng.pick(&["http", "https"])})
            };
            let mut backend = json!({"name": rng.pick(APPS), "port": 9080});
            if rng.coin() {
                backend["namespace"] = json!(rng.pick(NAMESPACES));
            }
            json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": rng.pick(&["HTTPRoute", "TCPRoute"]), "metadata": meta(rng, &["r1"]),
                   "spec": {"parentRefs": [parent], "hostnames": [rng.pick(&["ext.example.com", "web.example.com"])],
                            "rules": [{"backendRefs": [backend]}]}})
        }
        4 => {
            json!({"apiVersion": "gateway.networking.k8s.io/v1beta1", "kind": "ReferenceGrant", "metadata": meta(rng, &["g1"]),
                    "spec": {"from": [{"group": "gateway.networking.k8s.io", "kind": rng.pick(&["HTTPRoute", "Gateway"]), "namespace": rng.pick(NAMESPACES)}],
                             "to": [{"group": "", "kind": rng.pick(&["Service", "Secret"])}]}})
        }
        _ => {
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": meta(rng, &["cert"]), "type": "kubernetes.io/tls"})
        }
    }
}

/// Every audited object's findings, checked from scratch.
fn from_scratch(view: &ClusterView) -> Vec<(ObjKey, Vec<meshgate::finding::Finding>)> {
    let mut out: Vec<_> = view
        .entries()
        .filter(|e| is_audited(e.object.key.kind))
        .map(|e| (e.object.key.clone(), checks::check(e, view)))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn incremental(audit: &Audit) -> Vec<(ObjKey, Vec<meshgate::finding::Finding>)> {
    audit.objects().map(|(k, f)| (k.clone(), f.to_vec())).collect()
}

fn rounds() -> usize {
    std::env::var("MESHGATE_AUDIT_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60)
}

/// Runs one random history: batches of 1–6 changes (applies, replacements,
/// deletes), one audit pass per batch, compared with a from-scratch check.
fn history(seed: u64, file_mode: bool, steps: usize) -> (usize, usize) {
    let mut rng = Rng(seed);
    let settings = ViewSettings {
        cluster_domain: "cluster.local".to_string(),
        file_mode,
    };
    let mut view = ClusterView::new(settings);
    for _ in 0..rng.below(30) {
        if let Ok(o) = Object::from_value(object(&mut rng), "default") {
            view.apply(o);
        }
    }
    let mut audit = Audit::new(Arc::new(view.clone()));
    assert_eq!(incremental(&audit), from_scratch(&view), "seed {seed}: the cold audit");
    let (mut rechecked, mut total) = (0, 0);
    for step in 0..steps {
        let mut changed = Vec::new();
        for _ in 0..1 + rng.below(6) {
            let existing: Vec<ObjKey> = view.entries().map(|e| e.object.key.clone()).collect();
            if !existing.is_empty() && rng.below(3) == 0 {
                let key = existing[rng.below(existing.len())].clone();
                view.delete(&key);
                changed.push(key);
            } else if let Ok(o) = Object::from_value(object(&mut rng), "default") {
                changed.push(o.key.clone());
                view.apply(o);
            }
        }
        let stats = audit.advance(Arc::new(view.clone()), changed.clone());
        rechecked += stats.rechecked;
        total += audit.len();
        let want = from_scratch(&view);
        let got = incremental(&audit);
        if got != want {
            let diff: Vec<String> = want
                .iter()
                .filter(|w| !got.contains(w))
                .map(|(k, f)| format!("{k}: want {:?}", f.iter().map(|f| f.headline()).collect::<Vec<_>>()))
                .chain(
                    got.iter()
                        .filter(|g| !want.contains(g))
                        .map(|(k, f)| format!("{k}: got {:?}", f.iter().map(|f| f.headline()).collect::<Vec<_>>())),
                )
                .collect();
            panic!(
                "seed {seed} (file mode {file_mode}), step {step}, after changing {changed:?}: the audit differs from a fresh check:\n{}",
                diff.join("\n")
            );
        }
    }
    (rechecked, total)
}

#[test]
fn audit_after_any_changes_equals_a_fresh_check() {
    let (mut rechecked, mut total) = (0, 0);
    for round in 0..rounds() as u64 {
        for file_mode in [true, false] {
            let (r, t) = history(0xA0D1_7000 + round, file_mode, 40);
            rechecked += r;
            total += t;
        }
    }
    // Incremental means fewer checks than re-checking everything each pass.
    assert!(
        rechecked * 2 < total,
        "the audit re-checked {rechecked} of {total} object-passes: not incremental"
    );
    eprintln!("audit property: {rechecked} re-checks over {total} object-passes");
}

#[test]
fn a_pod_event_rechecks_only_what_it_meets() {
    let docs = [
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "a"},
               "spec": {"selector": {"app": "web"}, "ports": [{"name": "http", "port": 80}]}}),
        json!({"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule", "metadata": {"name": "web", "namespace": "a"},
               "spec": {"host": "web", "subsets": [{"name": "v2", "labels": {"version": "v2"}}]}}),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "other", "namespace": "b"},
               "spec": {"selector": {"app": "other"}, "ports": [{"name": "http", "port": 80}]}}),
        json!({"apiVersion": "networking.istio.io/v1", "kind": "DestinationRule", "metadata": {"name": "other", "namespace": "b"},
               "spec": {"host": "other", "subsets": [{"name": "v1", "labels": {"version": "v1"}}]}}),
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-1", "namespace": "a", "labels": {"app": "web", "version": "v1"}},
               "spec": {"containers": [{"name": "app", "image": "web:1"}]}}),
    ];
    let mut view = ClusterView::new(ViewSettings {
        cluster_domain: "cluster.local".to_string(),
        file_mode: false,
    });
    for d in docs {
        view.apply(Object::from_value(d, "default").unwrap());
    }
    let mut audit = Audit::new(Arc::new(view.clone()));
    let dr = ObjKey::new(meshgate::model::Kind::DestinationRule, "a", "web");
    let codes = |a: &Audit| a.findings_of(&dr).unwrap().iter().map(|f| f.code).collect::<Vec<_>>();
    assert_eq!(codes(&audit), ["MG0202"], "subset v2 selects no Pod yet");
    // A v2 Pod arrives: the subset now has an endpoint.
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-2", "namespace": "a", "labels": {"app": "web", "version": "v2"}},
                     "spec": {"containers": [{"name": "app", "image": "web:2"}]}});
    let pod = Object::from_value(pod, "default").unwrap();
    let key = pod.key.clone();
    view.apply(pod);
    let stats = audit.advance(Arc::new(view.clone()), [key]);
    assert_eq!(codes(&audit), Vec::<&str>::new());
    // Namespace a's Service and rule read the Pod's labels; b's objects do not.
    assert_eq!(stats.changed, 1);
    assert!(
        stats.rechecked <= 2,
        "one Pod in namespace a re-checked {} objects",
        stats.rechecked
    );
}
