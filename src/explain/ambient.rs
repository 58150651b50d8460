//! Ambient paths for `meshgate explain`: a client ztunnel captures sends over
//! HBONE to the destination Service's waypoint when one is bound, else to a
//! destination pod; the waypoint applies the L7 policies attached to it, the
//! destination's ztunnel the L4 ones, as istiod sends them (HTTP rules of an
//! ALLOW dropped, a DENY's HTTP attributes removed; product.md §4, the checks
//! MG1004-MG1008 and tests/oracle/ambient.rs).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use super::{Explanation, Request};
use crate::model::security::{AuthzRule, SecuritySpec};
use crate::model::{Kind, ObjKey};
use crate::semantics::ambient::{self as amb, istio_match, Binding, Target};
use crate::semantics::host;
use crate::view::{ClusterView, Entry, Parsed};

/// One hop of an ambient path and what its policies decided.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Hop {
    /// `ztunnel (client node)`, `waypoint NS/NAME`, `ztunnel (destination node)`.
    pub at: String,
    pub detail: String,
    /// The AuthorizationPolicies applied there, with their action.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub policies: Vec<String>,
    /// `allowed`, `denied by ...`, or what it depends on.
    pub verdict: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tri {
    Yes,
    No,
    /// Depends on what explain does not know (a JWT, a source IP).
    Unknown,
}

fn any(items: impl IntoIterator<Item = Tri>) -> Tri {
    let mut out = Tri::No;
    for t in items {
        match t {
            Tri::Yes => return Tri::Yes,
            Tri::Unknown => out = Tri::Unknown,
            Tri::No => {}
        }
    }
    out
}

fn all(items: impl IntoIterator<Item = Tri>) -> Tri {
    let mut out = Tri::Yes;
    for t in items {
        match t {
            Tri::No => return Tri::No,
            Tri::Unknown => out = Tri::Unknown,
            Tri::Yes => {}
        }
    }
    out
}

/// Who connects, as the hop sees it.
struct Peer {
    principal: String,
    namespace: String,
}

/// What is asked (`l7`: the hop sees HTTP).
struct Asked<'a> {
    method: &'a str,
    path: &'a str,
    host: &'a str,
    port: u32,
    headers: &'a BTreeMap<String, String>,
    l7: bool,
}

/// A field with its `not` form against a value.
fn field(m: &BTreeMap<String, Vec<String>>, name: &str, test: impl Fn(&str) -> bool) -> Tri {
    let not = format!("not{}{}", name[..1].to_uppercase(), &name[1..]);
    let pos = m.get(name).filter(|v| !v.is_empty()).map(|v| v.iter().any(|p| test(p)));
    let neg = m.get(&not).filter(|v| !v.is_empty()).map(|v| v.iter().any(|p| test(p)));
    if pos == Some(false) || neg == Some(true) {
        Tri::No
    } else {
        Tri::Yes
    }
}

const HTTP_SOURCE: [&str; 4] = [
    "requestPrincipals",
    "notRequestPrincipals",
    "remoteIpBlocks",
    "notRemoteIpBlocks",
];
const HTTP_OPERATION: [&str; 6] = ["hosts", "notHosts", "methods", "notMethods", "paths", "notPaths"];

fn source(m: &BTreeMap<String, Vec<String>>, peer: &Peer, a: &Asked) -> Tri {
    let mut parts = vec![
        field(m, "principals", |p| istio_match(p, &peer.principal)),
        field(m, "namespaces", |p| istio_match(p, &peer.namespace)),
    ];
    // Unknown to explain: source IPs, JWTs (at a waypoint); at ztunnel the HTTP
    // ones are gone (an ALLOW's rule dropped before, a DENY's removed).
    for k in ["ipBlocks", "notIpBlocks"]
        .into_iter()
        .chain(HTTP_SOURCE.into_iter().filter(|_| a.l7))
    {
        if m.get(k).is_some_and(|v| !v.is_empty()) {
            parts.push(Tri::Unknown);
        }
    }
    all(parts)
}

fn operation(m: &BTreeMap<String, Vec<String>>, a: &Asked) -> Tri {
    let port = a.port.to_string();
    let path = a.path.split('?').next().unwrap_or("");
    let mut parts = vec![field(m, "ports", |p| p == port)];
    if a.l7 {
        parts.push(field(m, "methods", |p| p == a.method));
        parts.push(field(m, "paths", |p| istio_match(p, path)));
        parts.push(field(m, "hosts", |p| istio_match(&p.to_ascii_lowercase(), a.host)));
    }
    all(parts)
}

fn condition(key: &str, values: &[String], not_values: &[String], peer: &Peer, a: &Asked) -> Tri {
    let value: Option<String> = match key {
        "source.namespace" => Some(peer.namespace.clone()),
        "source.principal" => Some(peer.principal.clone()),
        "destination.port" => Some(a.port.to_string()),
        k if a.l7 => k
            .strip_prefix("request.headers[")
            .and_then(|h| h.strip_suffix(']'))
            .map(|h| a.headers.get(&h.to_ascii_lowercase()).cloned().unwrap_or_default()),
        // At ztunnel an HTTP key is removed from a DENY (its ALLOW rule is gone).
        _ if !a.l7 => return Tri::Yes,
        _ => None,
    };
    let Some(v) = value else { return Tri::Unknown };
    let pos = values.is_empty() || values.iter().any(|p| istio_match(p, &v));
    let neg = not_values.iter().any(|p| istio_match(p, &v));
    if pos && !neg {
        Tri::Yes
    } else {
        Tri::No
    }
}

fn rule(r: &AuthzRule, peer: &Peer, a: &Asked) -> Tri {
    let from = r
        .from
        .as_ref()
        .map_or(Tri::Yes, |f| any(f.iter().map(|m| source(m, peer, a))));
    let to =
        r.to.as_ref()
            .map_or(Tri::Yes, |t| any(t.iter().map(|m| operation(m, a))));
    let when = all(r.when.iter().map(|(k, v, n)| condition(k, v, n, peer, a)));
    all([from, to, when])
}

/// Whether an HTTP attribute is in the rule (istiod drops such an ALLOW rule
/// for ztunnel).
fn has_http(r: &AuthzRule) -> bool {
    let in_maps = |maps: &Option<Vec<BTreeMap<String, Vec<String>>>>, keys: &[&str]| {
        maps.iter()
            .flatten()
            .any(|m| keys.iter().any(|k| m.get(*k).is_some_and(|v| !v.is_empty())))
    };
    in_maps(&r.from, &HTTP_SOURCE)
        || in_maps(&r.to, &HTTP_OPERATION)
        || r.when.iter().any(|(k, _, _)| {
            !matches!(
                k.as_str(),
                "source.ip" | "source.namespace" | "source.principal" | "destination.ip" | "destination.port"
            )
        })
}

/// Istio's decision over the policies of a hop: a DENY that matches denies;
/// with ALLOW policies, one must match.
fn decide(policies: &[(String, &SecuritySpec)], peer: &Peer, a: &Asked) -> String {
    let mut allows = Vec::new();
    let mut unknown = Vec::new();
    for (name, s) in policies {
        let rules: Vec<&AuthzRule> = s
            .rules_full
            .iter()
            // At ztunnel, istiod drops an ALLOW's HTTP rules.
            .filter(|r| a.l7 || s.action.as_deref() == Some("DENY") || !has_http(r))
            .collect();
        let matched = any(rules.iter().map(|r| rule(r, peer, a)));
        match s.action.as_deref().unwrap_or("ALLOW") {
            "DENY" if matched == Tri::Yes => return format!("denied by {name} (DENY)"),
            "DENY" if matched == Tri::Unknown => unknown.push(name.clone()),
            "ALLOW" => allows.push((name.clone(), matched)),
            _ => {}
        }
    }
    if allows.iter().any(|(_, m)| *m == Tri::Yes) {
        return if unknown.is_empty() {
            "allowed".to_string()
        } else {
            format!(
                "allowed unless {} matches (it depends on a source IP or JWT)",
                unknown.join(", ")
            )
        };
    }
    if allows.is_empty() {
        return if unknown.is_empty() {
            "allowed (no ALLOW policy)".to_string()
        } else {
            format!("depends on {} (a source IP or JWT)", unknown.join(", "))
        };
    }
    let maybe: Vec<&String> = allows
        .iter()
        .filter(|(_, m)| *m == Tri::Unknown)
        .map(|(n, _)| n)
        .collect();
    if !maybe.is_empty() {
        return format!(
            "depends on {} (a source IP or JWT)",
            maybe.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        );
    }
    format!(
        "denied: no rule of the ALLOW policies ({}) matches",
        allows.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
    )
}

fn label(e: &Entry, s: &SecuritySpec) -> String {
    format!(
        "{} ({})",
        super::key(&e.object.key),
        s.action.as_deref().unwrap_or("ALLOW")
    )
}

/// The Service a URL host names, from the client's namespace.
fn service<'v>(view: &'v ClusterView, host_name: &str, client_ns: &str) -> Option<&'v Arc<Entry>> {
    // Kubernetes DNS: `name`, `name.ns`, `name.ns.svc` and the FQDN all
    // reach the Service.
    let suffix = format!(".svc.{}", view.cluster_domain());
    let fqdn = match host_name.matches('.').count() {
        0 => host::resolve(host_name, client_ns, view.cluster_domain()).into_owned(),
        1 => format!("{host_name}{suffix}"),
        _ if host_name.ends_with(".svc") => format!("{host_name}.{}", view.cluster_domain()),
        _ => host_name.to_string(),
    };
    let short = fqdn.strip_suffix(&suffix)?;
    let (name, ns) = short.split_once('.')?;
    view.get(&ObjKey::new(Kind::Service, ns, name))
}

/// Follows a request from an ambient client. `None` when the URL names no
/// Service (explain then shows its usual path, with a note).
pub(super) fn follow(view: &ClusterView, client: &Entry, req: &Request, out: &mut Explanation) -> Option<()> {
    let w = client.workload.as_ref()?;
    let svc = service(view, &req.target.host, &w.namespace)?;
    let Parsed::Service(spec) = &svc.parsed else {
        return None;
    };
    let sk = &svc.object.key;
    let l7 = matches!(req.target.protocol, super::Protocol::Http);
    let method = req.headers.get(":method").map_or("GET", String::as_str);
    let client_peer = Peer {
        principal: format!(
            "cluster.local/ns/{}/sa/{}",
            w.namespace,
            w.service_account.as_deref().unwrap_or("default")
        ),
        namespace: w.namespace.clone(),
    };
    let mut asked = Asked {
        method,
        path: &req.target.path,
        host: &req.target.host,
        port: req.target.port,
        headers: &req.headers,
        l7,
    };
    let root = view.mesh().root_namespace.clone();
    let binding = amb::waypoint_binding(view, &sk.namespace, &svc.object.labels, Target::Service);
    let waypoint = match &binding {
        Binding::Bound { waypoint, .. } if waypoint.is_waypoint_class() => Some(waypoint.clone()),
        Binding::Bound { waypoint, .. } => {
            // istiod binds any Gateway with an address (MG1002).
            out.hops.push(Hop {
                at: "ztunnel (client node)".to_string(),
                detail: format!(
                    "{} is bound to Gateway {}, of class {}, not a waypoint: sent there over HBONE (port 15008), which it does not serve (MG1002)",
                    super::key(sk),
                    waypoint.key().qualified_name(),
                    waypoint.class
                ),
                policies: Vec::new(),
                verdict: "forwarded".to_string(),
            });
            out.outcome = super::Outcome {
                status: "connection reset".to_string(),
                detail: format!("{} serves no HBONE", waypoint.key().qualified_name()),
            };
            return Some(());
        }
        _ => None,
    };
    out.hops.push(Hop {
        at: "ztunnel (client node)".to_string(),
        detail: match (&waypoint, &binding) {
            (Some(wp), _) => format!(
                "{} is bound to waypoint {}: sent there over HBONE (port 15008)",
                super::key(sk),
                wp.key().qualified_name()
            ),
            (None, Binding::Failed { named, why, .. }) => format!(
                "{} names waypoint {}, which istiod does not bind ({why}): sent straight to its pods over HBONE, bypassing it (MG1001)",
                super::key(sk),
                named.qualified_name()
            ),
            _ => format!("{} has no waypoint: sent straight to its pods over HBONE", super::key(sk)),
        },
        policies: Vec::new(),
        verdict: "forwarded".to_string(),
    });
    // The waypoint: the targetRefs policies attached to it for this Service.
    let mut dest_peer = client_peer;
    if let Some(wp) = &waypoint {
        let wk = wp.key().clone();
        let class = wp.class.clone();
        let attached: Vec<(String, &SecuritySpec)> = view
            .authorization_policies_in(&sk.namespace)
            .chain(view.authorization_policies_in(&wk.namespace))
            .chain(view.authorization_policies_in(&root))
            .filter_map(|e| match &e.parsed {
                Parsed::Security(s)
                    if s.target_refs.iter().any(|r| {
                        let rns = r.namespace.as_deref().unwrap_or(&e.object.key.namespace);
                        (r.kind == "Service" && r.name == sk.name && rns == sk.namespace)
                            || (r.kind == "Gateway" && r.name == wk.name && rns == wk.namespace)
                            || (r.kind == "GatewayClass" && r.name == class && e.object.key.namespace == root)
                    }) =>
                {
                    Some((label(e, s), &**s))
                }
                _ => None,
            })
            .collect::<BTreeMap<_, _>>()
            .into_iter()
            .collect();
        let verdict = decide(&attached, &dest_peer, &asked);
        out.hops.push(Hop {
            at: format!("waypoint {}", wk.qualified_name()),
            detail: "applies the Service's routes and the L7 policies attached to it (targetRefs); routing at the waypoint is not derived yet".to_string(),
            policies: attached.iter().map(|(n, _)| n.clone()).collect(),
            verdict: verdict.clone(),
        });
        if verdict.starts_with("denied") {
            out.outcome = super::Outcome {
                status: "403".to_string(),
                detail: format!("RBAC: access denied at waypoint {}: {verdict}", wk.qualified_name()),
            };
            return Some(());
        }
        // The destination's ztunnel sees the waypoint, not the client.
        let sa = amb::waypoint_identities(view, &wk).swap_remove(0);
        dest_peer = Peer {
            principal: format!("cluster.local/ns/{}/sa/{sa}", wk.namespace),
            namespace: wk.namespace.clone(),
        };
    }
    // The destination pods' ztunnel: the L4 policies istiod sends it, on the
    // port the pod listens on (the Service port's numeric targetPort).
    asked.l7 = false;
    if let Some(crate::model::service::TargetPort::Number(p)) = spec
        .ports
        .iter()
        .find(|p| p.port == req.target.port)
        .and_then(|p| p.target_port.clone())
    {
        asked.port = p;
    }
    let pods: Vec<&Arc<Entry>> = if spec.selector.is_empty() {
        Vec::new()
    } else {
        view.workloads_matching(Some(&sk.namespace), &spec.selector).collect()
    };
    let captured: Vec<&&Arc<Entry>> = pods.iter().filter(|p| amb::is_ambient(view, p)).collect();
    let Some(first) = captured.first() else {
        out.hops.push(Hop {
            at: "destination".to_string(),
            detail: if pods.is_empty() {
                "the Service selects no workload".to_string()
            } else {
                "the destination pods are not captured by ztunnel (a sidecar, or outside the mesh): their own inbound applies".to_string()
            },
            policies: Vec::new(),
            verdict: "not explained".to_string(),
        });
        out.outcome = super::Outcome {
            status: if pods.is_empty() {
                "503 UH".to_string()
            } else {
                "OK".to_string()
            },
            detail: if pods.is_empty() {
                "no endpoints".to_string()
            } else {
                "reaches the destination's own proxy".to_string()
            },
        };
        return Some(());
    };
    let labels = first.workload.as_ref().map(|w| w.labels.to_map()).unwrap_or_default();
    let enforced: Vec<(String, &SecuritySpec)> = amb::ztunnel_policies(view, &sk.namespace, &labels)
        .map(|(e, s)| (label(e, s), s))
        .collect();
    let verdict = decide(&enforced, &dest_peer, &asked);
    out.hops.push(Hop {
        at: "ztunnel (destination node)".to_string(),
        detail: format!(
            "to {} ({}), as {}",
            super::key(&first.object.key),
            if captured.len() > 1 {
                format!("one of {} captured pods", captured.len())
            } else {
                "captured".to_string()
            },
            dest_peer.principal
        ),
        policies: enforced.iter().map(|(n, _)| n.clone()).collect(),
        verdict: verdict.clone(),
    });
    out.outcome = if verdict.starts_with("denied") {
        super::Outcome {
            status: "connection reset".to_string(),
            detail: format!("ztunnel at the destination: {verdict}"),
        }
    } else {
        super::Outcome {
            status: "OK".to_string(),
            detail: format!("reaches {} ({verdict})", super::key(&first.object.key)),
        }
    };
    Some(())
}
