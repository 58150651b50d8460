//! Ambient mode against istiod's own ambient index (run with
//! `PILOT_ENABLE_AMBIENT=true`): what it sends ztunnel for each scenario — the
//! workloads it captures (HBONE), their and their Services' waypoints (or why
//! none), and each AuthorizationPolicy as ztunnel gets it. Every MG10xx error
//! must be a gap there, and every such gap reported.

use super::*;
use std::collections::BTreeMap;

/// An ambient namespace `shop` with a captured Pod `web-1` (istio-cni's
/// redirection annotation; the API server's status), the waypoint class and a
/// ready waypoint `waypoint` (status address), a Namespace `other`, and a
/// Service (without any, the fake API server's Gateway collections never sync).
const AMBIENT_BASE: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: base, namespace: shop}\nspec:\n  clusterIP: 10.0.0.49\n  selector: {app: base}\n  ports: [{name: http, port: 80}]\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {istio.io/dataplane-mode: ambient}}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: other}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: web-1, namespace: shop, labels: {app: web}, annotations: {ambient.istio.io/redirection: enabled}}\nspec:\n  serviceAccountName: web\n  containers: [{name: app, image: example/web:1}]\nstatus:\n  phase: Running\n  podIP: 10.1.0.5\n  podIPs: [{ip: 10.1.0.5}]\n  conditions: [{type: Ready, status: \"True\"}]\n---\napiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: istio-waypoint}\nspec: {controllerName: istio.io/mesh-controller}\n---\napiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: waypoint, namespace: shop}\nspec:\n  gatewayClassName: istio-waypoint\n  listeners: [{name: mesh, port: 15008, protocol: HBONE}]\nstatus:\n  addresses: [{type: Hostname, value: waypoint.shop.svc.cluster.local}]\n";

fn svc(ns: &str, name: &str, labels: &str, ip: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: {ns}, labels: {{{labels}}}}}\nspec:\n  clusterIP: {ip}\n  selector: {{app: {name}}}\n  ports: [{{name: http, port: 80, targetPort: 8080}}]\n"
    )
}

fn policy(name: &str, body: &str) -> String {
    format!("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {{name: {name}, namespace: shop}}\nspec:\n{body}")
}

/// istiod's ambient index for each case (all objects through the fake API
/// server: the ambient index reads policies from Kubernetes).
fn ambient_oracle(cases: &[(String, String)]) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let cases: Vec<Value> = cases
        .iter()
        .map(|(name, manifests)| {
            json!({"name": name, "config": "", "kube": manifests, "mesh": "", "calls": [], "ambient": true})
        })
        .collect();
    run_oracle(dir.path(), &cases, &[("PILOT_ENABLE_AMBIENT", "true")])
        .into_iter()
        .map(|r| {
            assert!(r["failure"].is_null(), "istiod failed on {}: {}", r["name"], r["failure"]);
            r["ambient"].clone()
        })
        .collect()
}

fn find<'a>(list: &'a Value, pred: impl Fn(&Value) -> bool) -> Option<&'a Value> {
    list.as_array().and_then(|a| a.iter().find(|v| pred(v)))
}

/// Whether istiod's ambient index shows what finding `f` claims.
fn ambient_shows(f: &meshgate::finding::Finding, a: &Value) -> bool {
    let policy = find(&a["policies"], |p| p["namespace"] == f.namespace.as_str() && p["name"] == f.name.as_str());
    let service = |name: &str| {
        find(&a["services"], |s| {
            s["hostname"] == format!("{name}.{}.svc.cluster.local", f.namespace).as_str()
        })
    };
    let captured = a["workloads"].as_array().is_some_and(|w| w.iter().any(|w| w["hbone"] == true));
    match f.code {
        // Sent to ztunnel with no group: nothing it allows.
        "MG1004" => policy.is_some_and(|p| p["action"] == "ALLOW" && p["groups"].as_array().is_none_or(Vec::is_empty)),
        // Sent with fewer groups than rules written (the HTTP ones dropped).
        "MG1005" => policy.is_some_and(|p| p["groups"].as_array().map_or(0, Vec::len) < rules_of(f)),
        "MG1006" if f.pointer.as_str() == "/spec/action" => policy.is_none() && captured,
        // A DENY clause left matching every connection.
        "MG1006" => policy.is_some_and(|p| {
            p["action"] == "DENY"
                && p["groups"]
                    .as_array()
                    .is_some_and(|g| g.iter().flat_map(|c| c.as_array().into_iter().flatten()).any(|e| e == true))
        }),
        "MG1001" => service(&f.name).is_some_and(|s| s["waypoint"] == "" && s["waypointError"] != ""),
        "MG1002" => service(&f.name).is_some_and(|s| s["waypoint"].as_str().is_some_and(|w| w.contains("ingress"))),
        // The target Service has no waypoint: nothing would apply the policy.
        "MG1008" => f.message.split_whitespace().find_map(|w| w.strip_prefix("shop/")).is_some_and(|target| {
            service(target.trim_end_matches(|c: char| !c.is_alphanumeric() && c != '-')).is_none_or(|s| s["waypoint"] == "")
        }),
        // What selects them is captured by ztunnel: no sidecar reads it.
        "MG1009" => captured,
        _ => false,
    }
}

thread_local! {
    static RULES: std::cell::RefCell<BTreeMap<String, usize>> = Default::default();
}

/// The number of rules the policy of `f` was written with (recorded per scenario).
fn rules_of(f: &meshgate::finding::Finding) -> usize {
    RULES.with(|r| r.borrow().get(&f.name).copied().unwrap_or(0))
}

#[test]
fn ambient_findings_agree_with_istiods_ambient_index() {
    let l7_only = policy("l7", "  selector: {matchLabels: {app: web}}\n  rules:\n  - to: [{operation: {methods: [GET]}}]\n");
    let l4 = policy("l4", "  selector: {matchLabels: {app: web}}\n  rules:\n  - from: [{source: {namespaces: [front]}}]\n");
    let scenarios: Vec<(&str, String, &[&str])> = vec![
        ("an L4 ALLOW at ztunnel", l4.clone(), &[]),
        ("an L7-only ALLOW at ztunnel: deny-all", l7_only.clone(), &["MG1004"]),
        ("the same next to an L4 ALLOW: only its rules lost", format!("{l7_only}---\n{l4}"), &["MG1005"]),
        (
            "an ALLOW with an L4 and an L7 rule",
            policy("mixed", "  selector: {matchLabels: {app: web}}\n  rules:\n  - from: [{source: {namespaces: [front]}}]\n  - to: [{operation: {paths: [/admin]}}]\n"),
            &["MG1005"],
        ),
        (
            "a DENY with a method: sent without it",
            policy("deny-post", "  action: DENY\n  selector: {matchLabels: {app: web}}\n  rules:\n  - from: [{source: {namespaces: [front]}}]\n    to: [{operation: {methods: [POST]}}]\n"),
            &["MG1006"],
        ),
        (
            "a DENY on L4 attributes only",
            policy("deny-front", "  action: DENY\n  selector: {matchLabels: {app: web}}\n  rules:\n  - from: [{source: {namespaces: [front]}}]\n"),
            &[],
        ),
        (
            "a CUSTOM policy at ztunnel: not sent",
            policy("ext", "  action: CUSTOM\n  provider: {name: ext-authz}\n  selector: {matchLabels: {app: web}}\n  rules: [{}]\n"),
            &["MG1006"],
        ),
        ("a Service bound to its waypoint", svc("shop", "web", "istio.io/use-waypoint: waypoint", "10.0.0.50"), &[]),
        ("a Service naming a waypoint that does not exist", svc("shop", "api", "istio.io/use-waypoint: nope", "10.0.0.51"), &["MG1001"]),
        (
            "a Service and a waypoint only for workloads",
            format!(
                "{}---\n{}",
                svc("shop", "api", "istio.io/use-waypoint: wl-waypoint", "10.0.0.51"),
                "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: wl-waypoint, namespace: shop, labels: {istio.io/waypoint-for: workload}}\nspec:\n  gatewayClassName: istio-waypoint\n  listeners: [{name: mesh, port: 15008, protocol: HBONE}]\nstatus:\n  addresses: [{type: Hostname, value: wl-waypoint.shop.svc.cluster.local}]\n"
            ),
            &["MG1001"],
        ),
        (
            "a Service in another namespace, the waypoint admitting only its own",
            svc("other", "pay", "istio.io/use-waypoint: waypoint, istio.io/use-waypoint-namespace: shop", "10.0.0.52"),
            &["MG1001"],
        ),
        (
            "an ingress Gateway named as a waypoint",
            format!(
                "{}---\n{}",
                svc("shop", "admin", "istio.io/use-waypoint: ingress", "10.0.0.53"),
                "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: ingress, namespace: shop}\nspec:\n  gatewayClassName: istio\n  listeners: [{name: http, port: 80, protocol: HTTP}]\nstatus:\n  addresses: [{type: Hostname, value: ingress-istio.shop.svc.cluster.local}]\n"
            ),
            &["MG1002"],
        ),
        (
            "a targetRefs policy for a Service bound to no waypoint",
            format!(
                "{}---\n{}",
                svc("shop", "api", "", "10.0.0.51"),
                policy("api-get", "  targetRefs: [{group: \"\", kind: Service, name: api}]\n  rules:\n  - to: [{operation: {methods: [GET]}}]\n")
            ),
            &["MG1008"],
        ),
        (
            "an EnvoyFilter for the captured pod",
            "apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata: {name: lua, namespace: shop}\nspec:\n  workloadSelector: {labels: {app: web}}\n  configPatches:\n  - applyTo: HTTP_FILTER\n    match: {context: SIDECAR_INBOUND}\n    patch: {operation: INSERT_BEFORE, value: {name: envoy.filters.http.lua}}\n".to_string(),
            &["MG1009"],
        ),
    ];
    let cases: Vec<(String, String)> = scenarios
        .iter()
        .map(|(name, extra, _)| (name.to_string(), format!("{AMBIENT_BASE}---\n{extra}")))
        .collect();
    let outcomes = ambient_oracle(&cases);
    let mut disagreements = Vec::new();
    let mut checked = 0;
    for ((name, extra, expected), a) in scenarios.iter().zip(&outcomes) {
        let manifests = format!("{AMBIENT_BASE}---\n{extra}");
        RULES.with(|r| {
            let mut r = r.borrow_mut();
            r.clear();
            for doc in manifests.split("---\n").filter(|d| d.contains("AuthorizationPolicy")) {
                let v: Value = serde_json::to_value(parse_text("p.yaml", doc, "shop").unwrap()[0].object.value.clone()).unwrap();
                let n = v["spec"]["rules"].as_array().map_or(0, Vec::len);
                r.insert(v["metadata"]["name"].as_str().unwrap().to_string(), n);
            }
        });
        let findings: Vec<_> = meshgate_findings(&manifests)
            .into_iter()
            .filter(|f| f.code.starts_with("MG10"))
            .collect();
        let codes: Vec<&str> = findings.iter().map(|f| f.code).collect();
        let mut verdict = Vec::new();
        if codes != *expected {
            verdict.push(format!("meshgate reports {codes:?}, the scenario means {expected:?}"));
        }
        for f in &findings {
            checked += 1;
            if !ambient_shows(f, a) {
                verdict.push(format!("{}: not what istiod's ambient index shows", f.headline()));
            }
        }
        // Conversely: every gap in istiod's output is reported.
        for p in a["policies"].as_array().into_iter().flatten() {
            let no_groups = p["groups"].as_array().is_none_or(Vec::is_empty);
            let reported = |code: &str| findings.iter().any(|f| f.code == code && f.name == p["name"].as_str().unwrap_or(""));
            if p["action"] == "ALLOW" && no_groups && rules_written(&manifests, p) > 0 && !reported("MG1004") && !reported("MG1005") {
                verdict.push(format!("istiod sends ALLOW {} with no rule, and no finding says so", p["name"]));
            }
        }
        for s in a["services"].as_array().into_iter().flatten() {
            if s["waypointError"] != "" && !findings.iter().any(|f| f.code == "MG1001") {
                verdict.push(format!("istiod binds no waypoint to {} ({}), and no finding says so", s["hostname"], s["waypointError"]));
            }
        }
        if !verdict.is_empty() {
            disagreements.push(format!("{name}: {}\n  istiod: {a}", verdict.join("; ")));
        }
    }
    eprintln!(
        "istiod oracle, ambient: {} of {} scenarios agree ({checked} MG10xx findings cross-checked)",
        scenarios.len() - disagreements.len(),
        scenarios.len()
    );
    assert!(disagreements.is_empty(), "disagreements:\n{}", disagreements.join("\n"));
}

/// How many rules the policy istiod reports was written with.
fn rules_written(manifests: &str, p: &Value) -> usize {
    manifests
        .split("---\n")
        .filter(|d| d.contains("AuthorizationPolicy") && d.contains(&format!("name: {},", p["name"].as_str().unwrap_or(""))))
        .filter_map(|d| parse_text("p.yaml", d, "shop").ok())
        .flatten()
        .map(|m| m.object.value["spec"]["rules"].as_array().map_or(0, Vec::len))
        .next()
        .unwrap_or(0)
}
