//! The Envoy routes istiod builds from a VirtualService for one listener
//! (`BuildHTTPRoutesForVirtualService`, `translateRoute`), delegates merged, and
//! Envoy's first-match over them.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::request::Target;
use crate::model::route_match::{RequestMatch, RuleAction, StringMatch};
use crate::model::virtual_service::{Destination, RouteRule, VirtualServiceSpec};
use crate::model::workload::labels_match;
use crate::model::Kind;
use crate::semantics::gateway_ref::GatewayRef;
use crate::view::{ClusterView, Entry, Parsed};

/// Which gateway the routes are built for: `mesh` (sidecars) or a Gateway.
#[derive(Clone, Copy, Debug)]
pub enum For<'a> {
    Mesh,
    Gateway { namespace: &'a str, name: &'a str },
}

pub struct Source<'a> {
    pub namespace: &'a str,
    pub labels: &'a BTreeMap<String, String>,
}

#[derive(Clone, Debug)]
pub struct BuiltRoute {
    pub vs: Arc<Entry>,
    pub name: String,
    /// `/spec/http/0/match/1` (the root VirtualService's rule and match).
    pub pointer: String,
    /// Every condition that must hold (the root's match and a delegate's).
    pub conditions: Vec<RequestMatch>,
    pub action: RuleAction,
    /// The VirtualService holding the destinations (a delegate or the root), and
    /// its rule's destinations.
    pub holder: Arc<Entry>,
    pub holder_rule: String,
    pub destinations: Vec<Destination>,
}

fn spec(e: &Entry) -> Option<&VirtualServiceSpec> {
    match &e.parsed {
        Parsed::VirtualService(s) => Some(s),
        _ => None,
    }
}

/// istiod's `translateRoute` filter: a match limited to another port, other
/// source labels or namespace, or other gateways builds no route here.
fn built_here(m: &RequestMatch, vs_ns: &str, port: u32, at: For<'_>, src: &Source<'_>) -> bool {
    if m.port.is_some_and(|p| p != port) {
        return false;
    }
    if !m.source_labels.is_empty() && !labels_match(&m.source_labels, src.labels) {
        return false;
    }
    if m.source_namespace.as_deref().is_some_and(|ns| ns != src.namespace) {
        return false;
    }
    if m.gateways.is_empty() {
        return true;
    }
    m.gateways.iter().any(|g| match (GatewayRef::parse(g, vs_ns), at) {
        (GatewayRef::Mesh, For::Mesh) => true,
        (GatewayRef::Named { namespace, name }, For::Gateway { namespace: n, name: m }) => namespace == n && name == m,
        _ => false,
    })
}

fn destinations_of(spec: &VirtualServiceSpec, rule: &RouteRule) -> Vec<Destination> {
    let list = format!("{}/route", rule.pointer);
    spec.destinations
        .iter()
        .filter(|d| d.route_list().is_some_and(|p| p.as_str() == list))
        .cloned()
        .collect()
}

/// The routes of `vs` on a listener port, in order.
pub fn build(view: &ClusterView, vs: &Arc<Entry>, port: u32, at: For<'_>, src: &Source<'_>) -> Vec<BuiltRoute> {
    let Some(s) = spec(vs) else { return Vec::new() };
    let ns = vs.object.key.namespace.as_str();
    let mut out = Vec::new();
    for rule in s.rules.iter().filter(|r| r.section == "http") {
        // (pointer, match) pairs this rule builds here; `None`: no match list.
        let matches: Vec<(String, Option<&RequestMatch>)> = if rule.matches.is_empty() {
            vec![(rule.pointer.to_string(), None)]
        } else {
            rule.matches
                .iter()
                .enumerate()
                .filter(|(_, m)| built_here(m, ns, port, at, src))
                .map(|(j, m)| (format!("{}/match/{j}", rule.pointer), Some(m)))
                .collect()
        };
        for (pointer, m) in matches {
            let root_name = rule.name.clone().unwrap_or_default();
            if let RuleAction::Delegate { name, namespace } = &rule.action {
                let dns = namespace.as_deref().unwrap_or(ns);
                let Some(delegate) = view.get(&crate::model::ObjKey::new(Kind::VirtualService, dns, name)) else {
                    continue; // istiod drops a rule whose delegate does not exist
                };
                let Some(ds) = spec(delegate) else { continue };
                for drule in ds.rules.iter().filter(|r| r.section == "http") {
                    let merged_name = match (&drule.name, root_name.as_str()) {
                        (None, r) => r.to_string(),
                        (Some(d), "") => d.clone(),
                        (Some(d), r) => format!("{r}-{d}"),
                    };
                    let dmatches: Vec<Option<&RequestMatch>> = if drule.matches.is_empty() {
                        vec![None]
                    } else {
                        drule
                            .matches
                            .iter()
                            .filter(|d| built_here(d, dns, port, at, src))
                            .map(Some)
                            .collect()
                    };
                    for dm in dmatches {
                        let match_name = dm
                            .and_then(|d| d.name.clone())
                            .or_else(|| m.and_then(|m| m.name.clone()));
                        out.push(BuiltRoute {
                            vs: vs.clone(),
                            name: with_match_name(merged_name.clone(), match_name),
                            pointer: pointer.clone(),
                            conditions: m.into_iter().chain(dm).cloned().collect(),
                            action: drule.action.clone(),
                            holder: delegate.clone(),
                            holder_rule: drule.pointer.to_string(),
                            destinations: destinations_of(ds, drule),
                        });
                    }
                }
                continue;
            }
            out.push(BuiltRoute {
                vs: vs.clone(),
                name: with_match_name(root_name, m.and_then(|m| m.name.clone())),
                pointer,
                conditions: m.into_iter().cloned().collect(),
                action: rule.action.clone(),
                holder: vs.clone(),
                holder_rule: rule.pointer.to_string(),
                destinations: destinations_of(s, rule),
            });
        }
    }
    out
}

fn with_match_name(name: String, match_name: Option<String>) -> String {
    match match_name {
        Some(m) => format!("{name}.{m}"),
        None => name,
    }
}

/// Whether a request meets every condition (Envoy's route match).
pub fn request_matches(conds: &[RequestMatch], target: &Target, headers: &BTreeMap<String, String>) -> bool {
    let (path, query) = match target.path.split_once('?') {
        Some((p, q)) => (p, q),
        None => (target.path.as_str(), ""),
    };
    let query: BTreeMap<&str, &str> = query
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| kv.split_once('=').unwrap_or((kv, "")))
        .collect();
    let header = |name: &str| -> Option<&str> {
        match name {
            ":authority" | "host" => Some(headers.get("host").map_or(target.host.as_str(), String::as_str)),
            ":method" => Some(headers.get(":method").map_or("GET", String::as_str)),
            ":scheme" => Some("http"),
            ":path" => Some(target.path.as_str()),
            n => headers.get(n).map(String::as_str),
        }
    };
    conds.iter().all(|m| {
        m.uri.as_ref().is_none_or(|u| u.matches(Some(path), m.ignore_uri_case))
            && m.scheme.as_ref().is_none_or(|s| s.matches(header(":scheme"), false))
            && m.method.as_ref().is_none_or(|s| s.matches(header(":method"), false))
            && m.authority
                .as_ref()
                .is_none_or(|s| s.matches(header(":authority"), false))
            && m.headers.iter().all(|(k, s)| s.matches(header(k), false))
            && m.without_headers.iter().all(|(k, s)| !s.matches(header(k), false))
            && m.query_params.iter().all(|(k, s)| match s {
                StringMatch::Present => query.contains_key(k.as_str()),
                s => s.matches(query.get(k.as_str()).copied(), false),
            })
    })
}

/// The conditions, for people.
pub fn describe(conds: &[RequestMatch]) -> Vec<String> {
    let mut out = Vec::new();
    for m in conds {
        if let Some(u) = &m.uri {
            out.push(format!("uri {}", u.describe()));
        }
        if let Some(s) = &m.method {
            out.push(format!("method {}", s.describe()));
        }
        if let Some(s) = &m.authority {
            out.push(format!("authority {}", s.describe()));
        }
        for (k, s) in &m.headers {
            out.push(format!("header {k} {}", s.describe()));
        }
        for (k, s) in &m.without_headers {
            out.push(format!("without header {k} {}", s.describe()));
        }
        for (k, s) in &m.query_params {
            out.push(format!("query {k} {}", s.describe()));
        }
        if let Some(p) = m.port {
            out.push(format!("port {p}"));
        }
        if !m.source_labels.is_empty() {
            out.push(format!("sourceLabels {:?}", m.source_labels));
        }
    }
    out
}
