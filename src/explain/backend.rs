//! The end of the path: whether each cluster exists for this proxy, its
//! DestinationRule, endpoints and AuthorizationPolicies; the EnvoyFilters on
//! the proxy; the outcome and the findings that explain it.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::registry::Registered;
use super::request::Caller;
use super::{Cluster, Endpoint, Explanation, FilterPatch};
use crate::checks;
use crate::finding::Severity;
use crate::model::proxy::REV_LABEL;
use crate::model::workload::labels_match;
use crate::model::{Kind, ObjKey};
use crate::view::{ClusterView, Entry, Parsed};

const REGEX_SIZE_LIMIT: usize = 1 << 20;

pub fn finish(view: &ClusterView, caller: &Caller, reg: &[Registered], out: &mut Explanation) {
    let ns = caller.proxy.namespace.as_str();
    let mut involved: Vec<Arc<Entry>> = Vec::new();
    for c in &mut out.clusters {
        judge_cluster(view, ns, reg, c, &mut involved);
    }
    out.envoy_filters = envoy_filters(view, caller);
    // A Gateway API route's missing cluster is answered 500 (istiod's
    // cluster_not_found_response_code on them), a VirtualService's 503.
    let gateway_api = out
        .route
        .as_ref()
        .and_then(|r| r.source.as_deref())
        .and_then(|s| {
            let mut parts = s.splitn(3, '/');
            let (_, ns, name) = (parts.next()?, parts.next()?, parts.next()?);
            view.virtual_service(ns, name)
        })
        .is_some_and(|vs| vs.object.annotations.contains_key(super::gateway_api::DERIVED));
    outcome(out, if gateway_api { "500" } else { "503 NC" });
    findings(view, out, involved);
}

fn judge_cluster(view: &ClusterView, ns: &str, reg: &[Registered], c: &mut Cluster, involved: &mut Vec<Arc<Entry>>) {
    let parts: Vec<&str> = c.name.splitn(4, '|').collect();
    let [_, port, subset, host] = parts.as_slice() else {
        return; // PassthroughCluster, BlackHoleCluster
    };
    let port: u32 = port.parse().unwrap_or(0);
    let Some(r) = reg.iter().find(|r| r.host == *host) else {
        c.missing = Some(if view.registry(host).next().is_some() {
            format!("{host} is declared, but not visible to a proxy in namespace {ns} (exportTo or the Sidecar's egress hosts)")
        } else {
            format!("no Service or ServiceEntry declares {host}")
        });
        return;
    };
    if r.port(port).is_none() {
        let ports: Vec<String> = r.ports.iter().map(|p| p.number.to_string()).collect();
        c.missing = Some(format!("{host} has no port {port} (ports: {})", ports.join(", ")));
        return;
    }
    let dest_ns = vec![r.entry.object.key.namespace.clone()];
    let rules = view.destination_rules_for(host, ns, &dest_ns);
    let mut subset_labels = None;
    if let Some(dr) = rules.first() {
        c.destination_rule = Some(
            rules
                .iter()
                .map(|d| super::key(&d.object.key))
                .collect::<Vec<_>>()
                .join(", "),
        );
        if let Parsed::DestinationRule(spec) = &dr.parsed {
            for t in &spec.tls {
                let mode = t.mode.as_deref().unwrap_or("unset");
                let at = match (&t.subset, t.port) {
                    (Some(s), _) => format!(" (subset {s})"),
                    (None, Some(p)) => format!(" (port {p})"),
                    _ => String::new(),
                };
                c.traffic_policy.push(format!("tls {mode}{at}"));
            }
        }
        involved.extend(rules.iter().map(|d| (*d).clone()));
    }
    if !subset.is_empty() {
        let found = rules.iter().find_map(|d| match &d.parsed {
            Parsed::DestinationRule(s) => s.subsets.iter().find(|x| x.name == *subset),
            _ => None,
        });
        match found {
            Some(s) => subset_labels = Some(s.labels.clone()),
            None => {
                c.missing = Some(match rules.first() {
                    Some(_) => format!(
                        "the DestinationRule this proxy uses for {host} ({}) defines no subset {subset}",
                        c.destination_rule.as_deref().unwrap_or("")
                    ),
                    None => format!("no DestinationRule for {host} that this proxy uses defines subsets"),
                });
                return;
            }
        }
    }
    c.exists = true;
    if let Parsed::Service(s) = &r.entry.parsed {
        if s.selector.is_empty() {
            return; // endpoints managed elsewhere
        }
        let svc_ns = r.entry.object.key.namespace.as_str();
        let in_subset = |e: &crate::view::Entry| {
            let w = e.workload.as_ref()?;
            subset_labels
                .as_ref()
                .is_none_or(|l| labels_match(l, &w.labels))
                .then(|| (e.object.key.clone(), w.ip.clone(), w.labels.to_map()))
        };
        let mut eps: Vec<(ObjKey, Option<String>, std::collections::BTreeMap<String, String>)> = view
            .workloads_matching(Some(svc_ns), &s.selector)
            .filter_map(|e| in_subset(e))
            .collect();
        eps.sort_by(|a, b| a.0.cmp(&b.0));
        // Remote clusters' endpoints too (istiod merges them), unless the host
        // is cluster-local. Policies and TLS are judged on this cluster's.
        let mut remote: Vec<Endpoint> = Vec::new();
        if !crate::semantics::cluster_local::is_cluster_local(view.mesh(), host, view.cluster_domain()) {
            for (cluster, e) in view.remote_workloads_matching(svc_ns, &s.selector) {
                if let Some((k, ip, _)) = in_subset(e) {
                    remote.push(Endpoint {
                        workload: format!("{}/{}/{}", k.kind, k.namespace, k.name),
                        address: ip,
                        cluster: Some(cluster.to_string()),
                    });
                }
            }
        }
        remote.sort_by(|a, b| (&a.cluster, &a.workload).cmp(&(&b.cluster, &b.workload)));
        c.tls_mismatch = tls_mismatch(view, rules.first(), host, port, subset, &eps);
        c.authorization = authorization(view, svc_ns, &eps.iter().map(|e| e.2.clone()).collect::<Vec<_>>(), c);
        c.endpoints = Some(
            eps.into_iter()
                .map(|(k, ip, _)| Endpoint {
                    workload: format!("{}/{}/{}", k.kind, k.namespace, k.name),
                    address: ip,
                    cluster: None,
                })
                .chain(remote)
                .collect(),
        );
    }
}

/// A DestinationRule's TLS `DISABLE` for this cluster toward endpoints that
/// accept only mTLS at their port (what MG0204 reports).
fn tls_mismatch(
    view: &ClusterView,
    rule: Option<&&Arc<Entry>>,
    host: &str,
    port: u32,
    subset: &str,
    eps: &[(ObjKey, Option<String>, std::collections::BTreeMap<String, String>)],
) -> Option<String> {
    let dr = rule?;
    let Parsed::DestinationRule(spec) = &dr.parsed else {
        return None;
    };
    let t = spec
        .tls_for(port, Some(subset).filter(|s| !s.is_empty()))
        .filter(|t| t.mode.as_deref() == Some("DISABLE"))?;
    let strict: BTreeSet<String> = checks::strict_plaintext_targets(spec, t, host, view)
        .into_iter()
        .filter(|x| x.service_port == port && eps.iter().any(|e| e.0 == x.workload.object.key))
        .map(|x| {
            let at = x.target_port.map(|p| format!(":{p}")).unwrap_or_default();
            format!("{}{at}", super::key(&x.workload.object.key))
        })
        .collect();
    (!strict.is_empty()).then(|| {
        format!(
            "{} sets TLS DISABLE ({}) but {} accept only mTLS (STRICT PeerAuthentication)",
            super::key(&dr.object.key),
            t.pointer,
            strict.into_iter().collect::<Vec<_>>().join(", ")
        )
    })
}

/// AuthorizationPolicies on the destination workloads; sets `denied_by` when
/// one denies every request (a DENY rule `{}`, or only ALLOW policies without rules).
fn authorization(
    view: &ClusterView,
    ns: &str,
    workloads: &[std::collections::BTreeMap<String, String>],
    c: &mut Cluster,
) -> Vec<String> {
    let root = view.mesh().root_namespace.clone();
    let mut applying: Vec<&Arc<Entry>> = view
        .entries()
        .filter(|e| e.object.key.kind == Kind::AuthorizationPolicy)
        .filter(|e| e.object.key.namespace == ns || e.object.key.namespace == root)
        .filter(|e| match &e.parsed {
            Parsed::Security(s) if s.has_target_refs => false,
            Parsed::Security(s) => match s.selector.as_ref().filter(|sel| !sel.is_empty()) {
                None => true,
                Some(sel) => workloads.iter().any(|w| labels_match(sel, w)),
            },
            _ => false,
        })
        .collect();
    applying.sort_by(|a, b| a.object.key.cmp(&b.object.key));
    let mut allow_with_rules = false;
    let mut allow_nothing = None;
    let mut out = Vec::new();
    for e in applying {
        let Parsed::Security(s) = &e.parsed else { continue };
        let action = s.action.as_deref().unwrap_or("ALLOW");
        out.push(format!("{} ({action})", super::key(&e.object.key)));
        match (action, s.rules) {
            ("DENY", Some((_, true))) => {
                c.denied_by = Some(format!(
                    "{} denies every request (a rule `{{}}`)",
                    super::key(&e.object.key)
                ))
            }
            ("ALLOW", None | Some((0, _))) => allow_nothing = allow_nothing.or(Some(super::key(&e.object.key))),
            ("ALLOW", _) => allow_with_rules = true,
            _ => {}
        }
    }
    if c.denied_by.is_none() && !allow_with_rules {
        if let Some(k) = allow_nothing {
            c.denied_by = Some(format!("{k} is an ALLOW policy without rules: it allows nothing"));
        }
    }
    out
}

/// EnvoyFilter patches aimed at this proxy (its namespace's and the root
/// namespace's, selector matching), and whether each applies.
fn envoy_filters(view: &ClusterView, caller: &Caller) -> Vec<FilterPatch> {
    let ns = caller.proxy.namespace.as_str();
    let root = view.mesh().root_namespace.clone();
    let mut filters: Vec<&Arc<Entry>> = view
        .entries()
        .filter(|e| e.object.key.kind == Kind::EnvoyFilter)
        .filter(|e| e.object.key.namespace == ns || e.object.key.namespace == root)
        .filter(|e| match &e.parsed {
            Parsed::EnvoyFilter(f) => f
                .workload_selector
                .as_ref()
                .is_none_or(|sel| labels_match(sel, &caller.proxy.labels)),
            _ => false,
        })
        .collect();
    filters.sort_by(|a, b| a.object.key.cmp(&b.object.key));
    let mut out = Vec::new();
    for e in filters {
        let Parsed::EnvoyFilter(f) = &e.parsed else { continue };
        let rev = e.object.labels.get(REV_LABEL);
        for p in &f.patches {
            let context = p.context.as_deref().unwrap_or("ANY");
            let context_ok = match context {
                "ANY" => true,
                "GATEWAY" => caller.gateway,
                "SIDECAR_OUTBOUND" | "SIDECAR_INBOUND" => !caller.gateway,
                _ => false,
            };
            let mut reasons = Vec::new();
            if !context_ok {
                reasons.push(format!("context {context} is not this proxy's"));
            }
            if let Some(pv) = &p.proxy_version {
                let re = regex::RegexBuilder::new(pv).size_limit(REGEX_SIZE_LIMIT).build();
                match (&caller.proxy.version, re) {
                    (_, Err(_)) => reasons.push(format!("proxyVersion {pv:?} is not a valid regex")),
                    (None, _) => reasons.push(format!("proxyVersion {pv:?}: this proxy's version is unknown")),
                    (Some(v), Ok(re)) if !re.is_match(v) => {
                        reasons.push(format!("proxyVersion {pv:?} does not match this proxy's {v}"))
                    }
                    _ => {}
                }
            }
            if let (Some(r), Some(mine)) = (rev, caller.proxy.revision.as_ref()) {
                if r != mine {
                    reasons.push(format!(
                        "labelled for revision {r}, this proxy's control plane is {mine}"
                    ));
                }
            }
            let reason = (!reasons.is_empty()).then(|| reasons.join("; "));
            out.push(FilterPatch {
                envoy_filter: super::key(&e.object.key),
                pointer: p.pointer.to_string(),
                apply_to: p.apply_to.clone(),
                applied: reason.is_none(),
                reason,
            });
        }
    }
    out
}

fn outcome(out: &mut Explanation, no_cluster: &str) {
    if out.outcome.status != "OK" || !out.outcome.detail.is_empty() {
        return;
    }
    let missing: Vec<&Cluster> = out.clusters.iter().filter(|c| !c.exists).collect();
    if !missing.is_empty() {
        let total: i64 = out.clusters.iter().filter_map(|c| c.weight).sum();
        let share: i64 = missing.iter().filter_map(|c| c.weight).sum();
        let what = missing
            .iter()
            .map(|c| format!("{} ({})", c.name, c.missing.as_deref().unwrap_or("")))
            .collect::<Vec<_>>()
            .join("; ");
        let part = match (out.clusters.len() > 1, total > 0) {
            (true, true) => format!(" for {}% of requests", share * 100 / total),
            _ => String::new(),
        };
        return out.fail(no_cluster, format!("no cluster{part}: {what}"));
    }
    if let Some(c) = out
        .clusters
        .iter()
        .find(|c| c.endpoints.as_ref().is_some_and(Vec::is_empty))
    {
        return out.fail(
            "503 UH",
            format!(
                "cluster {} has no endpoints: no workload in the view matches its Service selector and subset",
                c.name
            ),
        );
    }
    if let Some(c) = out.clusters.iter().find(|c| c.tls_mismatch.is_some()) {
        return out.fail(
            "TLS mismatch",
            format!(
                "cluster {} sends plaintext: {}; their proxies reset the connections and clients see 503 (upstream connect error)",
                c.name,
                c.tls_mismatch.as_deref().unwrap_or("")
            ),
        );
    }
    if let Some(c) = out.clusters.iter().find(|c| c.denied_by.is_some()) {
        return out.fail(
            "403",
            format!("RBAC: access denied: {}", c.denied_by.as_deref().unwrap_or("")),
        );
    }
    let endpoints: usize = out
        .clusters
        .iter()
        .filter_map(|c| c.endpoints.as_ref().map(Vec::len))
        .sum();
    let detail = match out.clusters.as_slice() {
        [] => "the request is answered without a cluster".to_string(),
        [c] if c.name == "PassthroughCluster" => "sent on unrouted".to_string(),
        cs if cs.iter().all(|c| c.endpoints.is_some()) => {
            format!("reaches {endpoints} endpoint(s)")
        }
        _ => "reaches the cluster (endpoints not known from the view)".to_string(),
    };
    out.fail("OK", detail);
}

/// Warnings and errors of the objects on the path: the route's rule in its
/// VirtualService (and delegate), the DestinationRules, the Gateways, the Sidecar,
/// the EnvoyFilters listed.
fn findings(view: &ClusterView, out: &mut Explanation, mut involved: Vec<Arc<Entry>>) {
    let mut prefixes: Vec<(ObjKey, String)> = Vec::new();
    if let Some(r) = &out.route {
        if let (Some(src), Some(ptr)) = (&r.source, &r.pointer) {
            if let Some(e) = find(view, src) {
                let rule: String = ptr.split('/').take(4).collect::<Vec<_>>().join("/");
                prefixes.push((e.object.key.clone(), rule));
                involved.push(e);
            }
        }
        if let Some(d) = &r.delegate {
            if let Some((key, ptr)) = d.split_once(' ') {
                if let Some(e) = find(view, key) {
                    prefixes.push((e.object.key.clone(), ptr.to_string()));
                    involved.push(e);
                }
            }
        }
    }
    for g in &out.gateways {
        if let Some(e) = g.split_once(' ').and_then(|(k, _)| find(view, k)) {
            involved.push(e);
        }
    }
    if let Some(s) = &out.sidecar {
        involved.extend(find(view, s));
    }
    for f in out.envoy_filters.iter().filter(|f| !f.applied) {
        involved.extend(find(view, &f.envoy_filter));
    }
    let mut seen = BTreeSet::new();
    for e in involved {
        if !seen.insert(e.object.key.clone()) {
            continue;
        }
        for f in checks::check(&e, view) {
            if f.severity < Severity::Warning {
                continue;
            }
            let limited: Vec<&String> = prefixes
                .iter()
                .filter(|(k, _)| *k == e.object.key)
                .map(|(_, p)| p)
                .collect();
            let ptr = f.pointer.to_string();
            if !limited.is_empty() && !limited.iter().any(|p| ptr == **p || ptr.starts_with(&format!("{p}/"))) {
                continue;
            }
            out.findings.push(f);
        }
    }
}

/// `Kind/namespace/name` (the `ObjKey` display) back to the view's entry.
fn find(view: &ClusterView, key: &str) -> Option<Arc<Entry>> {
    let mut parts = key.splitn(3, '/');
    let (kind, ns, name) = (parts.next()?, parts.next()?, parts.next()?);
    let kind = [
        Kind::VirtualService,
        Kind::DestinationRule,
        Kind::Gateway,
        Kind::Sidecar,
        Kind::EnvoyFilter,
    ]
    .into_iter()
    .find(|k| k.as_str() == kind)?;
    view.get(&ObjKey::new(kind, ns, name)).cloned()
}
