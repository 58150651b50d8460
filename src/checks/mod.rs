//! The check engine: pure functions of (object, cluster view) → findings, one module
//! per resource kind. The CLI and the webhook both call `check`.

pub mod ambient;
pub mod catalog;
mod common;
mod destination_rule;
pub(crate) use destination_rule::strict_plaintext_targets;
mod egress;
mod envoy_filter;
mod gateway;
pub(crate) mod gateway_api;
mod security;
mod service;
mod service_entry;
mod sidecar;
pub mod upgrade;
mod virtual_service;

use crate::finding::Finding;
use crate::view::{ClusterView, Entry, Parsed};

/// All findings for one object against the view. The object need not be in the
/// view (admission of a new object); if it is, it never conflicts with itself.
pub fn check(entry: &Entry, view: &ClusterView) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Parsed::Service(svc) = &entry.parsed {
        service::check(entry, svc, view, &mut out);
        ambient::check_labels(entry, view, &mut out);
        return out;
    }
    if entry.object.key.kind.is_gateway_api() {
        common::check(entry, view, &mut out);
        match &entry.parsed {
            Parsed::K8sGateway(gw) => gateway_api::check_gateway(entry, gw, view, &mut out),
            Parsed::Route(route) => gateway_api::check_route(entry, route, view, &mut out),
            Parsed::ReferenceGrant(grant) => gateway_api::check_reference_grant(entry, grant, view, &mut out),
            Parsed::ListenerSet(set) => gateway_api::check_listener_set(entry, set, view, &mut out),
            Parsed::BackendTlsPolicy(policy) => gateway_api::check_backend_tls_policy(entry, policy, view, &mut out),
            _ => {}
        }
        return out;
    }
    if !entry.object.key.kind.is_istio() {
        // Namespaces and workloads: their ambient labels.
        if entry.object.key.kind == crate::model::Kind::Namespace || entry.workload.is_some() {
            ambient::check_labels(entry, view, &mut out);
        }
        return out;
    }
    common::check(entry, view, &mut out);
    match &entry.parsed {
        Parsed::VirtualService(vs) => virtual_service::check(entry, vs, view, &mut out),
        Parsed::DestinationRule(dr) => destination_rule::check(entry, dr, view, &mut out),
        Parsed::Gateway(gw) => gateway::check(entry, gw, view, &mut out),
        Parsed::EnvoyFilter(ef) => {
            envoy_filter::check(entry, ef, view, &mut out);
            ambient::check_sidecar_only(entry, ef.workload_selector.as_ref(), view, &mut out);
        }
        Parsed::Security(sec) => {
            security::check(entry, sec, view, &mut out);
            ambient::check_authorization(entry, sec, view, &mut out);
            if entry.object.key.kind == crate::model::Kind::RequestAuthentication && sec.target_refs.is_empty() {
                ambient::check_sidecar_only(entry, sec.selector.as_ref(), view, &mut out);
            }
        }
        Parsed::ServiceEntry(se) => {
            service_entry::check(entry, se, view, &mut out);
            ambient::check_labels(entry, view, &mut out);
        }
        Parsed::Sidecar(sc) => {
            sidecar::check(entry, sc, view, &mut out);
            ambient::check_sidecar_only(entry, sc.workload_selector.as_ref(), view, &mut out);
        }
        _ => {}
    }
    if entry.object.key.kind == crate::model::Kind::WorkloadEntry {
        ambient::check_labels(entry, view, &mut out);
    }
    out
}

/// The policy setting `requireEgressGateway`: a host without an egress path
/// (MG0402) is an error, not a warning.
pub fn require_egress_gateway(findings: &mut [Finding]) {
    for f in findings.iter_mut().filter(|f| f.code == catalog::MG0402.code) {
        f.severity = crate::finding::Severity::Error;
    }
}

/// A label selector for a message: `{app=web,version=v1}`.
pub(crate) fn selector_text(sel: &std::collections::BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = sel.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{{{}}}", pairs.join(","))
}

/// The first `shown` names for a message, then a count of the rest: `a, b and 3 more`.
pub(crate) fn join_at_most<I>(items: I, shown: usize) -> String
where
    I: IntoIterator,
    I::Item: AsRef<str>,
    I::IntoIter: ExactSizeIterator,
{
    let items = items.into_iter();
    let total = items.len();
    let mut s = join(items.take(shown));
    if total > shown {
        s.push_str(&format!(" and {} more", total - shown));
    }
    s
}

/// How many workloads a message names before it counts the rest.
pub(crate) const NAMED_WORKLOADS: usize = 3;

/// Joins names for a message: `a, b, c`.
pub(crate) fn join<I: IntoIterator<Item = S>, S: AsRef<str>>(items: I) -> String {
    items
        .into_iter()
        .map(|s| s.as_ref().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
pub(crate) mod testutil;
