//! Multi-cluster meshes against istiod (issue #22): the fake discovery server
//! gets the config cluster's objects and a remote cluster's (`west`: Services,
//! Pods, EndpointSlices), merges registries by hostname as istiod does, and
//! answers a sidecar's call. meshgate sees the same objects (the remote ones
//! through `apply_remote`, as its remote secrets feed them) and must agree:
//! no MG0102 where istiod builds the cluster, MG0202 exactly where the
//! subset's cluster has no endpoint anywhere, MG0113's cluster-local warning
//! where istiod sends no endpoint, and MG0911 only a warning for a Gateway API
//! backend only a remote cluster has: istiod's controller reads the config
//! cluster's Services (status BackendNotFound) but routes to the host, which
//! the merged registry builds.

use super::*;
use meshgate::finding::Finding;

const BASE: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: base, namespace: shop}\nspec:\n  clusterIP: 10.0.0.49\n  selector: {app: base}\n  ports: [{name: http, port: 80}]\n";
const VS_PAY: &str = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: pay, namespace: shop}\nspec:\n  hosts: [pay.payments.svc.cluster.local]\n  http:\n  - route:\n    - destination: {host: pay.payments.svc.cluster.local, port: {number: 8080}}\n";
const REMOTE_SVC: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: pay, namespace: payments}\nspec:\n  clusterIP: 10.0.0.90\n  selector: {app: pay}\n  ports: [{name: http, port: 8080}]\n";
const REMOTE_POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: pay-1, namespace: payments, labels: {app: pay, version: v1}}\nspec:\n  containers: [{name: app, image: example/pay:1}, {name: istio-proxy, image: docker.io/istio/proxyv2:1.30.3}]\nstatus:\n  phase: Running\n  podIP: 10.1.0.9\n  podIPs: [{ip: 10.1.0.9}]\n  conditions: [{type: Ready, status: \"True\"}]\n";
const REMOTE_SLICE: &str = "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: pay-1, namespace: payments, labels: {kubernetes.io/service-name: pay}}\naddressType: IPv4\nendpoints:\n- addresses: [10.1.0.9]\n  conditions: {ready: true}\n  targetRef: {kind: Pod, name: pay-1, namespace: payments}\nports: [{name: http, port: 8080, protocol: TCP}]\n";
const CLUSTER_LOCAL_MESH: &str =
    "serviceSettings:\n- settings: {clusterLocal: true}\n  hosts: [\"*.payments.svc.cluster.local\"]\n";

fn dr_subsets(route_subset: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {{name: pay, namespace: shop}}\nspec:\n  host: pay.payments.svc.cluster.local\n  subsets:\n  - {{name: v1, labels: {{version: v1}}}}\n  - {{name: v2, labels: {{version: v2}}}}\n---\n{}",
        VS_PAY.replace("port: {number: 8080}}", &format!("port: {{number: 8080}}, subset: {route_subset}}}"))
    )
}

/// A mesh HTTPRoute (GAMMA) on a local Service whose backend only `west` has.
const GAMMA_ROUTE: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: front, namespace: payments}\nspec:\n  clusterIP: 10.0.0.91\n  selector: {app: front}\n  ports: [{name: http, port: 8080}]\n---\napiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: front, namespace: payments}\nspec:\n  parentRefs: [{group: \"\", kind: Service, name: front, port: 8080}]\n  rules:\n  - backendRefs: [{name: pay, port: 8080}]\n";

struct Case {
    name: &'static str,
    /// The config cluster's objects (Istio configuration and Kubernetes).
    local: String,
    /// `west`'s objects.
    remote: String,
    mesh: &'static str,
    /// The call: (address, port, Host).
    call: (&'static str, u16, &'static str),
}

/// meshgate's findings on the config cluster's objects, `west` synced, and
/// its explanation of the call.
fn findings(c: &Case) -> (Vec<Finding>, meshgate::explain::Explanation) {
    let mut view = ClusterView::new(ViewSettings::default());
    let mut subjects = Vec::new();
    for m in parse_text("local.yaml", &c.local, "default").expect("local parses") {
        subjects.push(m.object.clone());
        view.apply(m.object);
    }
    if !c.mesh.is_empty() {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "istio", "namespace": "istio-system"}, "data": {"mesh": c.mesh}});
        view.apply(meshgate::model::Object::from_value(cm, "istio-system").unwrap());
    }
    for m in parse_text("remote.yaml", &c.remote, "default").expect("remote parses") {
        view.apply_remote("west", m.object);
    }
    view.set_remote_sync("west", meshgate::view::RemoteSync::Synced);
    let (address, port, host) = c.call;
    let _ = address;
    let req = meshgate::explain::Request {
        from: meshgate::explain::From::Proxy {
            namespace: "shop".to_string(),
            labels: Default::default(),
            gateway: false,
        },
        target: meshgate::explain::Target::parse(&format!("http://{host}:{port}/"), None).expect("a URL"),
        headers: Default::default(),
    };
    let explained = meshgate::explain::explain(&view, &req).expect("explain runs");
    let fs = subjects
        .into_iter()
        .flat_map(|o| checks::check(&Entry::new(o, view.settings()), &view))
        .collect();
    (fs, explained)
}

#[test]
fn remote_clusters_agree_with_istiods_merged_registry() {
    let remote_all = [REMOTE_SVC, REMOTE_POD, REMOTE_SLICE].join("---\n");
    let cases = [
        Case {
            name: "the host only west serves",
            local: [BASE, VS_PAY].join("---\n"),
            remote: remote_all.clone(),
            mesh: "",
            call: ("10.0.0.90", 8080, "pay.payments.svc.cluster.local"),
        },
        Case {
            name: "the host served nowhere",
            local: [BASE, VS_PAY].join("---\n"),
            remote: String::new(),
            mesh: "",
            call: ("10.0.0.90", 8080, "pay.payments.svc.cluster.local"),
        },
        Case {
            name: "a cluster-local host only west serves",
            local: [BASE, VS_PAY].join("---\n"),
            remote: remote_all.clone(),
            mesh: CLUSTER_LOCAL_MESH,
            call: ("10.0.0.90", 8080, "pay.payments.svc.cluster.local"),
        },
        Case {
            name: "a subset whose endpoints live in west",
            local: [BASE.to_string(), dr_subsets("v1")].join("---\n"),
            remote: remote_all.clone(),
            mesh: "",
            call: ("10.0.0.90", 8080, "pay.payments.svc.cluster.local"),
        },
        Case {
            name: "a subset with endpoints nowhere",
            local: [BASE.to_string(), dr_subsets("v2")].join("---\n"),
            remote: remote_all.clone(),
            mesh: "",
            call: ("10.0.0.90", 8080, "pay.payments.svc.cluster.local"),
        },
        Case {
            name: "a Gateway API backend only west serves",
            local: [BASE, GAMMA_ROUTE].join("---\n"),
            remote: remote_all.clone(),
            mesh: "",
            call: ("10.0.0.91", 8080, "front.payments.svc.cluster.local"),
        },
    ];
    let dir = tempfile::tempdir().unwrap();
    let input: Vec<Value> = cases
        .iter()
        .map(|c| {
            let (config, kube) = split_config(&c.local);
            let (address, port, host) = c.call;
            json!({
                "name": c.name, "config": config, "kube": kube, "mesh": c.mesh,
                "remote": {"west": c.remote},
                "calls": [{"proxy": {"namespace": "shop"}, "address": address, "port": port, "host": host, "mode": "outbound"}],
            })
        })
        .collect();
    let results = run_oracle(dir.path(), &input, &[]);
    let mut report = Vec::new();
    let mut failures = Vec::new();
    for (c, r) in cases.iter().zip(&results) {
        assert!(r["failure"].is_null(), "istiod failed on {}: {}", c.name, r["failure"]);
        let o = &r["outcomes"][0];
        let exists = o["clusterExists"] == true;
        let endpoints = o["endpoints"].as_array().map_or(0, Vec::len);
        let (fs, explained) = findings(c);
        // explain's endpoints for the cluster istiod picked, as istiod's EDS
        // addresses (IP:port), each remote one naming its cluster.
        let mine: Vec<String> = explained
            .clusters
            .iter()
            .filter(|cl| Some(cl.name.as_str()) == o["cluster"].as_str())
            .flat_map(|cl| cl.endpoints.iter().flatten())
            .filter(|ep| ep.cluster.as_deref() == Some("west"))
            .filter_map(|ep| ep.address.as_ref().map(|a| format!("{a}:{}", c.call.1)))
            .collect();
        let theirs: Vec<String> = o["endpoints"]
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_string)).collect())
            .unwrap_or_default();
        if exists && o["cluster"].as_str().unwrap_or("").starts_with("outbound|") && mine != theirs {
            failures.push(format!(
                "{}: explain's endpoints {mine:?}, istiod's {theirs:?}; explain: {}",
                c.name,
                serde_json::to_string(&explained.clusters).unwrap_or_default()
            ));
        }
        let has = |code: &str, sev: Severity| fs.iter().any(|f| f.code == code && f.severity == sev);
        let codes: Vec<String> = fs.iter().map(|f| format!("{} {:?}", f.code, f.severity)).collect();
        report.push(format!(
            "{}: istiod cluster {} exists={exists} endpoints={endpoints} direct={} | meshgate {codes:?}",
            c.name, o["cluster"], o["directResponse"]
        ));
        // What each case must show on both sides.
        let agrees = match c.name {
            "the host only west serves" => {
                exists && endpoints == 1 && !has("MG0102", Severity::Error) && has("MG0113", Severity::Info)
            }
            // No listener for a host nobody serves: the call passes through,
            // never reaching a cluster of pay.
            "the host served nowhere" => {
                !o["cluster"].as_str().unwrap_or("").contains("pay.payments") && has("MG0102", Severity::Error)
            }
            "a cluster-local host only west serves" => {
                exists && endpoints == 0 && !has("MG0102", Severity::Error) && has("MG0113", Severity::Warning)
            }
            "a subset whose endpoints live in west" => {
                exists
                    && endpoints == 1
                    && o["cluster"].as_str().unwrap_or("").contains("|v1|")
                    && !fs
                        .iter()
                        .any(|f| f.code == "MG0202" && f.pointer == "/spec/subsets/0/labels")
            }
            "a subset with endpoints nowhere" => {
                exists
                    && endpoints == 0
                    && fs
                        .iter()
                        .any(|f| f.code == "MG0202" && f.pointer == "/spec/subsets/1/labels")
            }
            // istiod's status says BackendNotFound, but the route still names
            // the host, whose cluster the merged registry builds: it works.
            "a Gateway API backend only west serves" => {
                exists && endpoints == 1 && has("MG0911", Severity::Warning) && !has("MG0911", Severity::Error)
            }
            _ => false,
        };
        if !agrees {
            failures.push(format!("{}: {o} | {codes:?}", c.name));
        }
    }
    eprintln!("multi-cluster oracle:\n  {}", report.join("\n  "));
    assert!(
        failures.is_empty(),
        "disagreements with istiod:\n{}",
        failures.join("\n")
    );
}
