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
            assert!(
                r["failure"].is_null(),
                "istiod failed on {}: {}",
                r["name"],
                r["failure"]
            );
            r["ambient"].clone()
        })
        .collect()
}

fn find(list: &Value, pred: impl Fn(&Value) -> bool) -> Option<&Value> {
    list.as_array().and_then(|a| a.iter().find(|v| pred(v)))
}

/// Whether istiod's ambient index shows what finding `f` claims.
fn ambient_shows(f: &meshgate::finding::Finding, a: &Value) -> bool {
    let policy = find(&a["policies"], |p| {
        p["namespace"] == f.namespace.as_str() && p["name"] == f.name.as_str()
    });
    let service = |name: &str| {
        find(&a["services"], |s| {
            s["hostname"] == format!("{name}.{}.svc.cluster.local", f.namespace).as_str()
        })
    };
    let captured = a["workloads"]
        .as_array()
        .is_some_and(|w| w.iter().any(|w| w["hbone"] == true));
    match f.code {
        // Sent to ztunnel with no group: nothing it allows.
        "MG1004" => policy.is_some_and(|p| {
            p["action"] == "ALLOW" && p["groups"].as_array().is_none_or(Vec::is_empty) && http_dropped(p)
        }),
        // Sent with fewer groups than rules written (the HTTP ones dropped).
        "MG1005" => policy.is_some_and(|p| p["groups"].as_array().map_or(0, Vec::len) < rules_of(f) && http_dropped(p)),
        "MG1006" if f.pointer.as_str() == "/spec/action" => policy.is_none() && captured,
        // A DENY sent without the HTTP attributes istiod found.
        "MG1006" => policy.is_some_and(|p| p["action"] == "DENY" && http_dropped(p)),
        "MG1001" => service(&f.name).is_some_and(|s| s["waypoint"] == "" && s["waypointError"] != ""),
        "MG1002" => service(&f.name).is_some_and(|s| s["waypoint"].as_str().is_some_and(|w| w.contains("ingress"))),
        // The target Service has no waypoint: nothing would apply the policy.
        "MG1008" => {
            let target = f
                .message
                .split("Service ")
                .nth(1)
                .and_then(|t| t.split_whitespace().next())
                .map(|t| {
                    t.trim_end_matches("'s")
                        .trim_end_matches(|c: char| !c.is_alphanumeric())
                })
                .and_then(|t| t.split_once('/'));
            target.is_some_and(|(ns, name)| {
                find(&a["services"], |s| {
                    s["hostname"] == format!("{name}.{ns}.svc.cluster.local").as_str()
                })
                .is_none_or(|s| s["waypoint"] == "")
            })
        }
        // What selects them is captured by ztunnel: no sidecar reads it.
        "MG1009" => captured,
        // The pods named sit behind the waypoint named, and no ALLOW istiod
        // sends for them admits its identity.
        "MG1007" => {
            let waypoint = f
                .message
                .split("behind waypoint ")
                .nth(1)
                .and_then(|t| t.split(',').next())
                .unwrap_or("");
            let workloads = a["workloads"].as_array().cloned().unwrap_or_default();
            // The pods, as namespace/name, before " sit behind".
            let listed = f
                .message
                .split(" sit behind")
                .next()
                .unwrap_or("")
                .rsplit(", and ")
                .next()
                .unwrap_or("");
            let named: Vec<&Value> = workloads
                .iter()
                .filter(|w| {
                    let q = format!(
                        "{}/{}",
                        w["namespace"].as_str().unwrap_or(""),
                        w["name"].as_str().unwrap_or("")
                    );
                    listed.split([',', ' ']).any(|t| t == q)
                })
                .collect();
            !named.is_empty()
                && named.iter().all(|w| {
                    waypoints_in_front(w, a).contains(&waypoint.to_string()) && !waypoint_admitted(w, waypoint, a)
                })
        }
        _ => false,
    }
}

/// The waypoints (`namespace/name`) in front of an ambient workload in
/// istiod's output: its own, and those of the Services it backs.
fn waypoints_in_front(w: &Value, a: &Value) -> Vec<String> {
    let name_of = |addr: &str| -> Option<String> {
        // "ns/name.ns.svc.cluster.local" → "ns/name"
        let (ns, host) = addr.split_once('/')?;
        Some(format!("{ns}/{}", host.split('.').next()?))
    };
    let mut out: Vec<String> = name_of(w["waypoint"].as_str().unwrap_or("")).into_iter().collect();
    // The generator's ingress Gateway (`ingress-istio`) is MG1002's case, not a
    // waypoint of the waypoint class.
    for key in w["services"].as_array().into_iter().flatten() {
        let host = key.as_str().unwrap_or("").split_once('/').map_or("", |(_, h)| h);
        if let Some(s) = find(&a["services"], |s| s["hostname"] == host) {
            out.extend(name_of(s["waypoint"].as_str().unwrap_or("")));
        }
    }
    out.retain(|w| !w.ends_with("-istio"));
    out.sort();
    out.dedup();
    out
}

/// Istio's string patterns: `*`, `prefix*`, `*suffix`, exact.
fn pattern_matches(p: &str, v: &str) -> bool {
    if p == "*" {
        true
    } else if let Some(s) = p.strip_prefix('*') {
        v.ends_with(s)
    } else if let Some(s) = p.strip_suffix('*') {
        v.starts_with(s)
    } else {
        p == v
    }
}

/// Whether an ALLOW istiod sends ztunnel for workload `w` admits the identity
/// of `waypoint` (`ns/name`; its service account is its name: the scenarios
/// run no waypoint Pods): a group every clause of which has a match whose
/// principals and namespaces (where constrained) take it.
fn waypoint_admitted(w: &Value, waypoint: &str, a: &Value) -> bool {
    let (wns, wname) = waypoint.split_once('/').unwrap_or(("", ""));
    let principal = format!("cluster.local/ns/{wns}/sa/{wname}");
    let key_of = |p: &Value| {
        format!(
            "{}/{}",
            p["namespace"].as_str().unwrap_or(""),
            p["name"].as_str().unwrap_or("")
        )
    };
    a["policies"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["action"] == "ALLOW")
        .filter(|p| match p["scope"].as_str() {
            Some("WORKLOAD_SELECTOR") => w["policies"]
                .as_array()
                .is_some_and(|l| l.iter().any(|x| x == key_of(p).as_str())),
            Some("NAMESPACE") => p["namespace"] == w["namespace"],
            _ => true,
        })
        .any(|p| {
            p["sources"].as_array().into_iter().flatten().any(|group| {
                group.as_array().is_some_and(|clauses| {
                    clauses.iter().all(|clause| {
                        clause.as_array().is_some_and(|ms| {
                            ms.iter().any(|m| {
                                let ok = |field: &str, v: &str| {
                                    m[field].as_array().is_none_or(|l| {
                                        l.is_empty() || l.iter().any(|x| pattern_matches(x.as_str().unwrap_or(""), v))
                                    })
                                };
                                ok("principals", &principal) && ok("namespaces", wns)
                            })
                        })
                    })
                })
            })
        })
}

/// istiod's status on a policy: it found HTTP attributes ztunnel cannot see.
fn http_dropped(p: &Value) -> bool {
    p["status"]
        .as_str()
        .is_some_and(|s| s.contains("ztunnel does not support HTTP attributes"))
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
    let l7_only = policy(
        "l7",
        "  selector: {matchLabels: {app: web}}\n  rules:\n  - to: [{operation: {methods: [GET]}}]\n",
    );
    let l4 = policy(
        "l4",
        "  selector: {matchLabels: {app: web}}\n  rules:\n  - from: [{source: {namespaces: [front]}}]\n",
    );
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
            "an L4 ALLOW for a pod behind a waypoint, not admitting it",
            format!(
                "{}---\n{}",
                svc("shop", "web", "istio.io/use-waypoint: waypoint", "10.0.0.50"),
                policy("front-only", "  selector: {matchLabels: {app: web}}\n  rules:\n  - from: [{source: {namespaces: [front]}}]\n")
            ),
            &["MG1007"],
        ),
        (
            "the same admitting the waypoint's service account",
            format!(
                "{}---\n{}",
                svc("shop", "web", "istio.io/use-waypoint: waypoint", "10.0.0.50"),
                policy("front-and-waypoint", "  selector: {matchLabels: {app: web}}\n  rules:\n  - from: [{source: {namespaces: [front]}}]\n  - from: [{source: {principals: [cluster.local/ns/shop/sa/waypoint]}}]\n")
            ),
            &[],
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
        let (codes, n, mut verdict) = judge(&manifests, a);
        checked += n;
        if codes != *expected {
            verdict.insert(
                0,
                format!("meshgate reports {codes:?}, the scenario means {expected:?}"),
            );
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

/// meshgate's MG10xx codes on `manifests`, how many findings were
/// cross-checked, and where they and istiod's ambient index `a` disagree: a
/// finding istiod's output does not show, or a gap in it no finding reports.
fn judge(manifests: &str, a: &Value) -> (Vec<&'static str>, usize, Vec<String>) {
    RULES.with(|r| {
        let mut r = r.borrow_mut();
        r.clear();
        for m in parse_text("p.yaml", manifests, "default").unwrap() {
            let v = &m.object.value;
            if v["kind"] == "AuthorizationPolicy" {
                let n = v["spec"]["rules"].as_array().map_or(0, Vec::len);
                r.insert(v["metadata"]["name"].as_str().unwrap_or("").to_string(), n);
            }
        }
    });
    let findings: Vec<_> = meshgate_findings(manifests)
        .into_iter()
        .filter(|f| f.code.starts_with("MG10") && f.code != "MG1003")
        .collect();
    let codes: Vec<&'static str> = findings.iter().map(|f| f.code).collect();
    let mut verdict = Vec::new();
    for f in &findings {
        // A GatewayClass target is judged on istiod's policyattachment.go
        // (the ambient index does not show waypoint policy selection).
        if f.code == "MG1008" && f.message.contains("GatewayClass") {
            continue;
        }
        if !ambient_shows(f, a) {
            verdict.push(format!("{}: not what istiod's ambient index shows", f.headline()));
        }
    }
    // Conversely: every gap in istiod's output for captured pods is reported.
    let workloads = a["workloads"].as_array().cloned().unwrap_or_default();
    for p in a["policies"].as_array().into_iter().flatten() {
        let (ns, name) = (p["namespace"].as_str().unwrap_or(""), p["name"].as_str().unwrap_or(""));
        let key = format!("{ns}/{name}");
        let applies = workloads.iter().any(|w| {
            w["hbone"] == true
                && match p["scope"].as_str() {
                    Some("WORKLOAD_SELECTOR") => w["policies"]
                        .as_array()
                        .is_some_and(|l| l.iter().any(|x| x == key.as_str())),
                    Some("NAMESPACE") => w["namespace"] == ns,
                    _ => true,
                }
        });
        let reported = |codes: &[&str]| {
            findings
                .iter()
                .any(|f| codes.contains(&f.code) && f.name == name && f.namespace == ns)
        };
        if !applies || !http_dropped(p) {
            continue;
        }
        if p["action"] == "ALLOW" && !reported(&["MG1004", "MG1005"]) {
            verdict.push(format!(
                "istiod drops HTTP rules of ALLOW {key} for captured pods, and no finding says so"
            ));
        }
        if p["action"] == "DENY" && !reported(&["MG1006"]) {
            verdict.push(format!(
                "istiod sends DENY {key} without its HTTP attributes, and no finding says so"
            ));
        }
    }
    for s in a["services"].as_array().into_iter().flatten() {
        let host = s["hostname"].as_str().unwrap_or("");
        let name = host.split('.').next().unwrap_or("");
        let on_it = |code: &str| {
            findings
                .iter()
                .any(|f| f.code == code && f.kind == "Service" && f.name == name)
        };
        if s["waypointError"] != "" && !on_it("MG1001") {
            verdict.push(format!(
                "istiod binds no waypoint to {host} ({}), and no finding says so",
                s["waypointError"]
            ));
        }
        if s["waypoint"].as_str().is_some_and(|w| w.contains("ingress")) && !on_it("MG1002") {
            verdict.push(format!(
                "istiod binds {host} to an ingress Gateway, and no finding says so"
            ));
        }
    }
    // Every captured workload behind a waypoint that an ALLOW (with a rule)
    // applies to, and none admits the waypoint: MG1007 names it.
    for w in &workloads {
        if w["hbone"] != true {
            continue;
        }
        let name = w["name"].as_str().unwrap_or("");
        let key_of = |p: &Value| {
            format!(
                "{}/{}",
                p["namespace"].as_str().unwrap_or(""),
                p["name"].as_str().unwrap_or("")
            )
        };
        let governed = a["policies"].as_array().into_iter().flatten().any(|p| {
            p["action"] == "ALLOW"
                && p["groups"].as_array().is_some_and(|g| !g.is_empty())
                && match p["scope"].as_str() {
                    Some("WORKLOAD_SELECTOR") => w["policies"]
                        .as_array()
                        .is_some_and(|l| l.iter().any(|x| x == key_of(p).as_str())),
                    Some("NAMESPACE") => p["namespace"] == w["namespace"],
                    _ => true,
                }
        });
        if !governed {
            continue;
        }
        for waypoint in waypoints_in_front(w, a) {
            if !waypoint_admitted(w, &waypoint, a)
                && !findings.iter().any(|f| {
                    f.code == "MG1007"
                        && f.message.contains(&format!("behind waypoint {waypoint},"))
                        && f.message.contains(name)
                })
            {
                verdict.push(format!(
                    "no ALLOW istiod sends for {name} admits waypoint {waypoint}, and no MG1007 says so"
                ));
            }
        }
    }
    (codes, findings.len(), verdict)
}

/// A random ambient configuration: namespaces `a` and `c` ambient, `b` not
/// (its pods may opt in by label, `a`'s may opt out with `none`); pods of apps
/// web and api, annotated as istio-cni would capture them; 0-2 waypoints in `a`
/// (`waypoint-for` none, service, workload or all; HBONE `allowedRoutes` Same
/// or All) and sometimes an ingress Gateway; Services in each namespace with
/// `use-waypoint` absent, `none`, a waypoint (maybe in `a` from elsewhere), a
/// missing one or the ingress Gateway; 1-4 AuthorizationPolicies (ALLOW, DENY,
/// CUSTOM; selector or namespace-wide, some in the root namespace, some with
/// `targetRefs` to a Service) with 1-3 rules of L4 and HTTP attributes.
fn generated_ambient(seed: u64) -> String {
    let mut rng = Rng(seed);
    let mut docs: Vec<String> = vec![
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: a, labels: {istio.io/dataplane-mode: ambient}}\n".into(),
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: b}\n".into(),
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: c, labels: {istio.io/dataplane-mode: ambient}}\n".into(),
        "apiVersion: v1\nkind: Service\nmetadata: {name: base, namespace: istio-system}\nspec:\n  clusterIP: 10.0.0.9\n  selector: {app: base}\n  ports: [{name: http, port: 80}]\n".into(),
        "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: istio-waypoint}\nspec: {controllerName: istio.io/mesh-controller}\n".into(),
    ];
    let mut ip = 10;
    for ns in ["a", "b", "c"] {
        for i in 0..1 + rng.below(2) {
            let app = *rng.pick(&["web", "api"]);
            let mode = match (ns, rng.below(4)) {
                ("a", 0) => Some("none"),
                ("b", 0 | 1) => Some("ambient"),
                _ => None,
            };
            let captured = mode == Some("ambient") || (ns != "b" && mode != Some("none"));
            let mut labels = format!("app: {app}");
            if let Some(m) = mode {
                labels.push_str(&format!(", istio.io/dataplane-mode: {m}"));
            }
            let ann = if captured {
                "\n  annotations: {ambient.istio.io/redirection: enabled}"
            } else {
                ""
            };
            ip += 1;
            docs.push(format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: {app}-{i}\n  namespace: {ns}\n  labels: {{{labels}}}{ann}\nspec:\n  serviceAccountName: {app}\n  containers: [{{name: app, image: example/{app}:1}}]\nstatus:\n  phase: Running\n  podIP: 10.1.0.{ip}\n  podIPs: [{{ip: 10.1.0.{ip}}}]\n  conditions: [{{type: Ready, status: \"True\"}}]\n"));
        }
    }
    let mut waypoints = Vec::new();
    for i in 0..rng.below(3) {
        let name = format!("wp{i}");
        let label = match rng.below(4) {
            0 => String::new(),
            k => format!(
                ", labels: {{istio.io/waypoint-for: {}}}",
                ["service", "workload", "all"][k - 1]
            ),
        };
        let routes = if rng.coin() {
            ", allowedRoutes: {namespaces: {from: All}}"
        } else {
            ""
        };
        docs.push(format!("apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {{name: {name}, namespace: a{label}}}\nspec:\n  gatewayClassName: istio-waypoint\n  listeners: [{{name: mesh, port: 15008, protocol: HBONE{routes}}}]\nstatus:\n  addresses: [{{type: Hostname, value: {name}.a.svc.cluster.local}}]\n"));
        waypoints.push(name);
    }
    if rng.below(3) == 0 {
        docs.push("apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: ingress, namespace: a}\nspec:\n  gatewayClassName: istio\n  listeners: [{name: http, port: 80, protocol: HTTP}]\nstatus:\n  addresses: [{type: Hostname, value: ingress-istio.a.svc.cluster.local}]\n".into());
        waypoints.push("ingress".into());
    }
    let mut services = Vec::new();
    for ns in ["a", "b", "c"] {
        for i in 0..rng.below(3) {
            let name = format!("s{i}");
            let mut labels = String::new();
            match rng.below(5) {
                0 => {}
                1 => labels.push_str("istio.io/use-waypoint: none"),
                2 => labels.push_str("istio.io/use-waypoint: missing"),
                _ if !waypoints.is_empty() => {
                    labels.push_str(&format!("istio.io/use-waypoint: {}", rng.pick(&waypoints)));
                    if ns != "a" {
                        labels.push_str(", istio.io/use-waypoint-namespace: a");
                    }
                }
                _ => {}
            }
            ip += 1;
            docs.push(format!("apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: {ns}, labels: {{{labels}}}}}\nspec:\n  clusterIP: 10.0.1.{ip}\n  selector: {{app: {}}}\n  ports: [{{name: http, port: 80}}]\n", rng.pick(&["web", "api"])));
            services.push((ns, name));
        }
    }
    let rule_kinds = [
        "{from: [{source: {namespaces: [front]}}]}",
        "{to: [{operation: {ports: [\"8080\"]}}]}",
        "{to: [{operation: {methods: [GET]}}]}",
        "{to: [{operation: {paths: [/admin]}}]}",
        "{from: [{source: {principals: [cluster.local/ns/a/sa/web]}}], to: [{operation: {methods: [POST]}}]}",
        "{to: [{operation: {ports: [\"8080\"], methods: [GET]}}]}",
        "{when: [{key: \"request.auth.claims[iss]\", values: [idp]}]}",
        "{when: [{key: source.ip, values: [10.0.0.0/8]}]}",
    ];
    for i in 0..1 + rng.below(4) {
        let ns = *rng.pick(&["a", "a", "b", "c", "istio-system"]);
        let action = *rng.pick(&["ALLOW", "ALLOW", "ALLOW", "DENY", "DENY", "CUSTOM"]);
        let mut spec = format!("  action: {action}\n");
        if action == "CUSTOM" {
            spec.push_str("  provider: {name: ext-authz}\n");
        }
        let in_ns: Vec<&(&str, String)> = services.iter().filter(|(n, _)| *n == ns).collect();
        if !in_ns.is_empty() && rng.below(5) == 0 {
            spec.push_str(&format!(
                "  targetRefs: [{{group: \"\", kind: Service, name: {}}}]\n",
                rng.pick(&in_ns).1
            ));
        } else if rng.coin() {
            spec.push_str(&format!(
                "  selector: {{matchLabels: {{app: {}}}}}\n",
                rng.pick(&["web", "api"])
            ));
        }
        spec.push_str("  rules:\n");
        for _ in 0..1 + rng.below(3) {
            spec.push_str(&format!("  - {}\n", rng.pick(&rule_kinds)));
        }
        docs.push(format!("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {{name: p{i}, namespace: {ns}}}\nspec:\n{spec}"));
    }
    docs.join("---\n")
}

#[test]
fn random_ambient_configurations_agree_with_istiods_ambient_index() {
    let n: u64 = std::env::var("MESHGATE_ORACLE_AMBIENT_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100);
    let generated: Vec<String> = (0..n).map(|i| generated_ambient(0xA3B1_0000 + i)).collect();
    if let Ok(path) = std::env::var("MESHGATE_ORACLE_DUMP") {
        std::fs::write(path, &generated[0]).unwrap();
    }
    let cases: Vec<(String, String)> = generated
        .iter()
        .enumerate()
        .map(|(i, m)| (format!("ambient-{i}"), m.clone()))
        .collect();
    let outcomes = ambient_oracle(&cases);
    let (mut checked, mut by_code, mut disagreements) = (0, BTreeMap::<&str, usize>::new(), Vec::new());
    let mut explained = (0, 0, 0, 0);
    for ((name, manifests), a) in cases.iter().zip(&outcomes) {
        let (codes, n, mut verdict) = judge(manifests, a);
        let (calls, agreed, differ, compared, resets) = explain_agrees(manifests, a);
        explained.0 += calls;
        explained.1 += agreed;
        explained.2 += compared;
        explained.3 += resets;
        verdict.extend(differ);
        checked += n;
        for c in codes {
            *by_code.entry(c).or_default() += 1;
        }
        if !verdict.is_empty() {
            disagreements.push(format!(
                "{name}: {}\n  config:\n{manifests}\n  istiod: {a}",
                verdict.join("; ")
            ));
        }
    }
    eprintln!(
        "istiod oracle, {n} random ambient configurations: {checked} MG10xx findings ({by_code:?}); explain from an ambient client: {} of {} calls agree on the waypoint, {} destination ztunnel verdicts checked on istiod's groups ({} resets); {} disagreements",
        explained.1,
        explained.0,
        explained.2,
        explained.3,
        disagreements.len()
    );
    assert!(
        disagreements.is_empty(),
        "disagreements:\n{}",
        disagreements.iter().take(3).cloned().collect::<Vec<_>>().join("\n")
    );
}

/// Whether ztunnel, on istiod's groups for workload `w`, lets a connection from
/// `principal`/`ns` to `port` through: `None` when it depends on an IP.
fn ztunnel_allows(w: &Value, a: &Value, principal: &str, ns: &str, port: u64) -> Option<bool> {
    let key_of = |p: &Value| {
        format!(
            "{}/{}",
            p["namespace"].as_str().unwrap_or(""),
            p["name"].as_str().unwrap_or("")
        )
    };
    let strs = |m: &Value, k: &str| -> Vec<String> {
        m[k].as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect()
    };
    let nums = |m: &Value, k: &str| -> Vec<u64> {
        m[k].as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_u64)
            .collect()
    };
    // Tri-state as (matched, unknown).
    let match_ok = |m: &Value| -> Option<bool> {
        let any_of = |list: Vec<String>, v: &str| list.is_empty() || list.iter().any(|p| pattern_matches(p, v));
        let none_of = |list: Vec<String>, v: &str| !list.iter().any(|p| pattern_matches(p, v));
        let ok = any_of(strs(m, "principals"), principal)
            && any_of(strs(m, "namespaces"), ns)
            && none_of(strs(m, "notPrincipals"), principal)
            && none_of(strs(m, "notNamespaces"), ns)
            && (nums(m, "ports").is_empty() || nums(m, "ports").contains(&port))
            && !nums(m, "notPorts").contains(&port);
        if !ok {
            Some(false)
        } else if m["ips"] == true {
            None
        } else {
            Some(true)
        }
    };
    let tri_any = |v: Vec<Option<bool>>| {
        if v.contains(&Some(true)) {
            Some(true)
        } else if v.contains(&None) {
            None
        } else {
            Some(false)
        }
    };
    let tri_all = |v: Vec<Option<bool>>| {
        if v.contains(&Some(false)) {
            Some(false)
        } else if v.contains(&None) {
            None
        } else {
            Some(true)
        }
    };
    let mut allow_results = Vec::new();
    let mut deny_unknown = false;
    for p in a["policies"].as_array().into_iter().flatten() {
        let applies = match p["scope"].as_str() {
            Some("WORKLOAD_SELECTOR") => w["policies"]
                .as_array()
                .is_some_and(|l| l.iter().any(|x| x == key_of(p).as_str())),
            Some("NAMESPACE") => p["namespace"] == w["namespace"],
            _ => true,
        };
        if !applies {
            continue;
        }
        let groups: Vec<Option<bool>> = p["sources"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|g| {
                tri_all(
                    g.as_array()
                        .into_iter()
                        .flatten()
                        .map(|c| tri_any(c.as_array().into_iter().flatten().map(match_ok).collect()))
                        .collect(),
                )
            })
            .collect();
        let matched = tri_any(groups);
        match p["action"].as_str() {
            Some("DENY") if matched == Some(true) => return Some(false),
            Some("DENY") if matched.is_none() => deny_unknown = true,
            Some("ALLOW") => allow_results.push(matched),
            _ => {}
        }
    }
    if deny_unknown {
        return None;
    }
    if allow_results.is_empty() {
        return Some(true);
    }
    tri_any(allow_results)
}

/// `meshgate explain` from an ambient client to each Service of a generated
/// configuration that captured pods back, against istiod's output: the
/// waypoint it goes through, and — when no waypoint policy answers 403 and
/// nothing depends on an IP or a JWT — whether the destination's ztunnel lets
/// it through, on istiod's groups for the waypoint's or the client's identity.
/// (calls, agreed, disagreements).
fn explain_agrees(manifests: &str, a: &Value) -> (usize, usize, Vec<String>, usize, usize) {
    let workloads = a["workloads"].as_array().cloned().unwrap_or_default();
    let Some(client) = workloads.iter().find(|w| w["hbone"] == true) else {
        return (0, 0, Vec::new(), 0, 0);
    };
    let (cns, cname) = (
        client["namespace"].as_str().unwrap_or(""),
        client["name"].as_str().unwrap_or(""),
    );
    let csa = cname.split('-').next().unwrap_or("");
    let mut view = ClusterView::new(ViewSettings::default());
    for m in parse_text("scenario.yaml", manifests, "default").unwrap() {
        view.apply(m.object);
    }
    let (mut calls, mut agreed, mut differ) = (0, 0, Vec::new());
    // Verdicts compared with istiod's groups, and how many of them deny.
    let (mut compared, mut resets) = (0, 0);
    for s in a["services"].as_array().into_iter().flatten() {
        let host = s["hostname"].as_str().unwrap_or("");
        let (sname, sns) = match host.split('.').collect::<Vec<_>>()[..] {
            [n, ns, ..] => (n, ns),
            _ => continue,
        };
        let key = format!("{}/{host}", s["namespace"].as_str().unwrap_or(""));
        let Some(dest) = workloads.iter().find(|w| {
            w["hbone"] == true
                && w["services"]
                    .as_array()
                    .is_some_and(|l| l.iter().any(|x| x == key.as_str()))
        }) else {
            continue;
        };
        let req = meshgate::explain::Request {
            from: meshgate::explain::From::Workload(format!("{cns}/{cname}")),
            target: meshgate::explain::Target::parse(&format!("http://{sname}.{sns}:80/"), None).unwrap(),
            headers: Default::default(),
        };
        let e = meshgate::explain::explain(&view, &req).expect("explain runs");
        calls += 1;
        let theirs_waypoint = s["waypoint"].as_str().unwrap_or("");
        let mine = e.hops.first().map(|h| h.detail.clone()).unwrap_or_default();
        let mut wrong = Vec::new();
        let wp_name = waypoints_in_front(&json!({"waypoint": "", "services": [key.clone()]}), a)
            .into_iter()
            .next();
        match (&wp_name, theirs_waypoint.contains("ingress")) {
            (_, true) => {
                if !mine.contains("not a waypoint") {
                    wrong.push(format!("istiod binds {host} to an ingress Gateway; explain: {mine}"));
                }
            }
            (Some(w), false) => {
                if !mine.contains(&format!("bound to waypoint {w}")) {
                    wrong.push(format!("istiod binds {host} to waypoint {w}; explain: {mine}"));
                }
            }
            (None, false) => {
                if mine.contains("bound to") {
                    wrong.push(format!("istiod binds {host} to no waypoint; explain: {mine}"));
                }
            }
        }
        let depends = e
            .hops
            .iter()
            .any(|h| h.verdict.contains("depends") || h.verdict.contains("unless"));
        if wrong.is_empty() && !depends && e.outcome.status != "403" && !theirs_waypoint.contains("ingress") {
            let (principal, ns) = match &wp_name {
                Some(w) => {
                    let (wns, wn) = w.split_once('/').unwrap_or(("", ""));
                    (format!("cluster.local/ns/{wns}/sa/{wn}"), wns.to_string())
                }
                None => (format!("cluster.local/ns/{cns}/sa/{csa}"), cns.to_string()),
            };
            if let Some(allowed) = ztunnel_allows(dest, a, &principal, &ns, 80) {
                compared += 1;
                resets += usize::from(!allowed);
                let mine_allowed = e.outcome.status != "connection reset";
                if allowed != mine_allowed {
                    wrong.push(format!(
                        "{host} from {principal}: istiod's groups {} it at the destination's ztunnel, explain says {} ({})",
                        if allowed { "allow" } else { "deny" },
                        e.outcome.status,
                        e.outcome.detail
                    ));
                }
            }
        }
        if wrong.is_empty() {
            agreed += 1;
        } else {
            differ.extend(wrong.into_iter().map(|w| format!("explain: {w}")));
        }
    }
    (calls, agreed, differ, compared, resets)
}
