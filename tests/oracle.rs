//! The istiod oracle as a judge of meshgate's error findings (issue #11): each
//! scenario's manifests go to meshgate's checks and to Istio's own config
//! generator (tests/istiod-oracle, a `go test -c` binary of istio.io/istio's
//! pilot/test/xds and pilot/pkg/simulation), with the call its objects concern.
//! For every error finding whose consequence is a traffic outcome, the call
//! must meet that outcome in istiod's output (`503 NC`: the route's cluster does
//! not exist; `404 NR`: no virtual host or route matches); a scenario without
//! error findings must reach an existing cluster. Agreement must be 100 %.
//!
//! The oracle is built on first use (minutes; cached under
//! ~/.cache/meshgate-testbin, keyed by its sources).

mod common;

use std::path::PathBuf;
use std::process::Command;

use common::repo;
use meshgate::checks;
use meshgate::finding::Severity;
use meshgate::manifest::parse_text;
use meshgate::view::{ClusterView, Entry, ViewSettings};
use serde_json::{json, Value};

struct Call {
    /// The calling proxy: a sidecar in a namespace, or the ingress gateway.
    proxy: Value,
    address: &'static str,
    port: u16,
    host: &'static str,
    mode: &'static str,
}

fn sidecar(address: &'static str, port: u16, host: &'static str) -> Call {
    Call {
        proxy: json!({"namespace": "default"}),
        address,
        port,
        host,
        mode: "outbound",
    }
}

fn ingress(port: u16, host: &'static str) -> Call {
    Call {
        proxy: json!({"namespace": "istio-system", "labels": {"istio": "ingressgateway"}, "gateway": true}),
        address: "10.200.0.1",
        port,
        host,
        mode: "gateway",
    }
}

struct Scenario {
    name: &'static str,
    manifests: String,
    call: Call,
    /// The error codes meshgate must report (the scenario's intent).
    errors: &'static [&'static str],
}

const SVC_REVIEWS: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: reviews, namespace: default}\nspec:\n  clusterIP: 10.0.0.10\n  selector: {app: reviews}\n  ports: [{name: http, port: 9080}]\n";
const POD_REVIEWS_V1: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: reviews-v1, namespace: default, labels: {app: reviews, version: v1}}\nspec:\n  containers: [{name: reviews, image: reviews:1}, {name: istio-proxy, image: docker.io/istio/proxyv2:1.30.3}]\n";
const VS_REVIEWS_V1: &str = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews, namespace: default}\nspec:\n  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews, subset: v1}\n";
const DR_REVIEWS: &str = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: reviews, namespace: default}\nspec:\n  host: reviews\n  subsets:\n  - {name: v1, labels: {version: v1}}\n  - {name: v2, labels: {version: v2}}\n";
const INGRESS: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: istio-ingressgateway, namespace: istio-system}\nspec:\n  clusterIP: 10.0.0.2\n  selector: {istio: ingressgateway}\n  ports: [{name: http2, port: 80, targetPort: 8080}]\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: ingress-1, namespace: istio-system, labels: {istio: ingressgateway}}\nspec:\n  containers: [{name: istio-proxy, image: docker.io/istio/proxyv2:1.30.3, args: [proxy, router]}]\n";
const GATEWAY: &str = "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: public, namespace: istio-system}\nspec:\n  selector: {istio: ingressgateway}\n  servers:\n  - port: {number: 8080, name: http, protocol: HTTP}\n    hosts: [\"*\"]\n";

fn docs(parts: &[&str]) -> String {
    parts.join("---\n")
}

fn scenarios() -> Vec<Scenario> {
    let gateway_vs = |gateway: &str, dest: &str| {
        format!("apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: edge, namespace: default}}\nspec:\n  hosts: [shop.example.com]\n  gateways: [{gateway}]\n  http:\n  - route:\n    - destination: {dest}\n")
    };
    let multi_port = "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: default}\nspec:\n  clusterIP: 10.0.0.20\n  selector: {app: web}\n  ports: [{name: http, port: 9000}, {name: grpc, port: 9090}]\n";
    vec![
        Scenario {
            name: "subset route with its DestinationRule",
            manifests: docs(&[SVC_REVIEWS, POD_REVIEWS_V1, VS_REVIEWS_V1, DR_REVIEWS]),
            call: sidecar("10.0.0.10", 9080, "reviews.default.svc.cluster.local"),
            errors: &[],
        },
        Scenario {
            name: "subset route without a DestinationRule (the seed's 503)",
            manifests: docs(&[SVC_REVIEWS, POD_REVIEWS_V1, VS_REVIEWS_V1]),
            call: sidecar("10.0.0.10", 9080, "reviews.default.svc.cluster.local"),
            errors: &["MG0103"],
        },
        Scenario {
            name: "subset the DestinationRule does not define",
            manifests: docs(&[
                SVC_REVIEWS,
                POD_REVIEWS_V1,
                &VS_REVIEWS_V1.replace("subset: v1", "subset: v3"),
                DR_REVIEWS,
            ]),
            call: sidecar("10.0.0.10", 9080, "reviews.default.svc.cluster.local"),
            errors: &["MG0103"],
        },
        Scenario {
            name: "route to a host no Service declares",
            manifests: docs(&[
                SVC_REVIEWS,
                POD_REVIEWS_V1,
                "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews, namespace: default}\nspec:\n  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: ratings}\n",
            ]),
            call: sidecar("10.0.0.10", 9080, "reviews.default.svc.cluster.local"),
            errors: &["MG0102"],
        },
        Scenario {
            name: "route to a port the Service does not have",
            manifests: docs(&[
                SVC_REVIEWS,
                POD_REVIEWS_V1,
                "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: reviews, namespace: default}\nspec:\n  hosts: [reviews]\n  http:\n  - route:\n    - destination: {host: reviews, port: {number: 9999}}\n",
            ]),
            call: sidecar("10.0.0.10", 9080, "reviews.default.svc.cluster.local"),
            errors: &["MG0104"],
        },
        Scenario {
            name: "gateway route to a single-port Service",
            manifests: docs(&[
                INGRESS,
                GATEWAY,
                SVC_REVIEWS,
                POD_REVIEWS_V1,
                &gateway_vs("istio-system/public", "{host: reviews.default.svc.cluster.local}"),
            ]),
            call: ingress(8080, "shop.example.com"),
            errors: &[],
        },
        Scenario {
            name: "route bound to a Gateway that does not exist (404 NR at the gateway)",
            manifests: docs(&[
                INGRESS,
                GATEWAY,
                SVC_REVIEWS,
                POD_REVIEWS_V1,
                &gateway_vs("istio-system/missing", "{host: reviews.default.svc.cluster.local}"),
            ]),
            call: ingress(8080, "shop.example.com"),
            errors: &["MG0101"],
        },
        Scenario {
            name: "gateway route without a port to a multi-port Service",
            manifests: docs(&[
                INGRESS,
                GATEWAY,
                multi_port,
                "apiVersion: v1\nkind: Pod\nmetadata: {name: web-1, namespace: default, labels: {app: web}}\nspec:\n  containers: [{name: web, image: web:1}]\n",
                &gateway_vs("istio-system/public", "{host: web.default.svc.cluster.local}"),
            ]),
            call: ingress(8080, "shop.example.com"),
            errors: &["MG0105"],
        },
        Scenario {
            name: "gateway route with the port to a multi-port Service",
            manifests: docs(&[
                INGRESS,
                GATEWAY,
                multi_port,
                "apiVersion: v1\nkind: Pod\nmetadata: {name: web-1, namespace: default, labels: {app: web}}\nspec:\n  containers: [{name: web, image: web:1}]\n",
                &gateway_vs(
                    "istio-system/public",
                    "{host: web.default.svc.cluster.local, port: {number: 9000}}",
                ),
            ]),
            call: ingress(8080, "shop.example.com"),
            errors: &[],
        },
    ]
}

/// meshgate's error findings on the scenario's objects (file mode, as `check`).
fn meshgate_errors(manifests: &str) -> Vec<(String, String)> {
    let mut view = ClusterView::new(ViewSettings::default());
    let objects: Vec<_> = parse_text("scenario.yaml", manifests, "default")
        .expect("scenario parses")
        .into_iter()
        .map(|m| m.object)
        .collect();
    for o in &objects {
        view.apply(o.clone());
    }
    let mut out = Vec::new();
    for o in objects {
        let entry = Entry::new(o, view.settings());
        for f in checks::check(&entry, &view) {
            if f.severity == Severity::Error {
                out.push((f.code.to_string(), f.headline()));
            }
        }
    }
    out
}

fn oracle_binary() -> PathBuf {
    let out = Command::new("bash")
        .arg(repo("tests/istiod-oracle/build.sh"))
        .output()
        .expect("bash runs");
    assert!(
        out.status.success(),
        "building the istiod oracle failed (needs Go and the Go module proxy):\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    PathBuf::from(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Runs the oracle on every scenario at once: one outcome per scenario.
fn oracle(scenarios: &[Scenario]) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<Value> = scenarios
        .iter()
        .map(|s| {
            let (mut config, mut kube) = (Vec::new(), Vec::new());
            for doc in s.manifests.split("---\n") {
                if doc.contains("istio.io/v1") {
                    config.push(doc);
                } else {
                    kube.push(doc);
                }
            }
            json!({
                "name": s.name,
                "config": config.join("---\n"),
                "kube": kube.join("---\n"),
                "calls": [{"proxy": s.call.proxy, "address": s.call.address, "port": s.call.port,
                           "host": s.call.host, "mode": s.call.mode}],
            })
        })
        .collect();
    let input = dir.path().join("in.json");
    let output = dir.path().join("out.json");
    std::fs::write(&input, serde_json::to_vec(&cases).unwrap()).unwrap();
    let run = Command::new(oracle_binary())
        .arg("-test.run=TestOracle")
        .env("ORACLE_INPUT", &input)
        .env("ORACLE_OUTPUT", &output)
        .current_dir(dir.path())
        .output()
        .expect("the oracle runs");
    let text = std::fs::read_to_string(&output).unwrap_or_else(|_| {
        panic!(
            "the oracle wrote no result:\n{}",
            String::from_utf8_lossy(&run.stdout)
                .lines()
                .rev()
                .take(30)
                .collect::<Vec<_>>()
                .join("\n")
        )
    });
    let results: Vec<Value> = serde_json::from_str(&text).unwrap();
    results
        .into_iter()
        .map(|r| {
            assert!(
                r["failure"].is_null(),
                "istiod's generator failed on {}: {}",
                r["name"],
                r["failure"]
            );
            r["outcomes"][0].clone()
        })
        .collect()
}

/// What a consequence looks like in istiod's output for the call.
fn oracle_shows(consequence: &str, o: &Value) -> bool {
    let error = o["error"].as_str().unwrap_or("");
    let vhost = o["virtualHost"].as_str().unwrap_or("");
    let cluster_missing = o["cluster"].as_str().is_some_and(|c| !c.is_empty()) && o["clusterExists"] == false;
    let not_routed = error.contains("no route matched")
        || error.contains("no virtual host matched")
        || error.contains("no listener matched")
        || vhost.starts_with("blackhole");
    if consequence.starts_with("503 NC") {
        cluster_missing
    } else if consequence.starts_with("404 NR") {
        not_routed
    } else {
        false
    }
}

#[test]
fn error_findings_agree_with_istiods_generator() {
    let scenarios = scenarios();
    let outcomes = oracle(&scenarios);
    let (mut agreed, mut disagreements) = (0, Vec::new());
    for (s, o) in scenarios.iter().zip(&outcomes) {
        let errors = meshgate_errors(&s.manifests);
        let codes: Vec<&str> = errors.iter().map(|(c, _)| c.as_str()).collect();
        let mut verdict = Vec::new();
        if codes != s.errors {
            verdict.push(format!("meshgate reports {codes:?}, the scenario means {:?}", s.errors));
        }
        if errors.is_empty() {
            if !(o["clusterExists"] == true && o["error"] == "") {
                verdict.push("no error finding, but istiod's output does not reach an existing cluster".to_string());
            }
        } else {
            for (code, line) in &errors {
                let consequence = checks::catalog::lookup(code).map_or("", |c| c.consequence);
                if !oracle_shows(consequence, o) {
                    verdict.push(format!(
                        "{line}: consequence {consequence:?} not shown by istiod's output"
                    ));
                }
            }
        }
        if verdict.is_empty() {
            agreed += 1;
        } else {
            disagreements.push(format!("{}: {}\n  istiod: {o}", s.name, verdict.join("; ")));
        }
    }
    eprintln!(
        "istiod oracle: {agreed} of {} scenarios agree ({} error findings cross-checked)",
        scenarios.len(),
        scenarios.iter().map(|s| s.errors.len()).sum::<usize>()
    );
    assert!(disagreements.is_empty(), "disagreements:\n{}", disagreements.join("\n"));
}
