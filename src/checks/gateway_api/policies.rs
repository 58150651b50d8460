//! BackendTLSPolicy as istiod attaches it (`backend_policies.go`: targets,
//! conflicts, `getBackendTLSCredentialName`).

use super::*;
use crate::model::gateway_api::{BackendTlsPolicySpec, PolicyTarget};

/// istiod's `btlsHasHigherPriority`: older first; equal (or unknown) age, the
/// smaller name. A policy not created yet (`None`) is the newest.
fn older(a: (&Option<String>, &str), b: (&Option<String>, &str)) -> bool {
    match (a.0, b.0) {
        (Some(x), Some(y)) if x != y => x < y,
        (Some(_), None) => true,
        (None, Some(_)) => false,
        _ => a.1 < b.1,
    }
}

fn same_target(a: &PolicyTarget, b: &PolicyTarget) -> bool {
    a.group == b.group && a.kind == b.kind && a.name == b.name && a.section_name == b.section_name
}

pub(crate) fn check_backend_tls_policy(
    entry: &Entry,
    spec: &BackendTlsPolicySpec,
    view: &ClusterView,
    out: &mut Vec<Finding>,
) {
    if spec.ignored {
        return;
    }
    let key = &entry.object.key;
    let ns = key.namespace.as_str();
    for t in &spec.targets {
        let target_kind = match (t.group.as_str(), t.kind.as_str()) {
            ("" | "core", "Service") => Kind::Service,
            ("networking.istio.io", "ServiceEntry") => Kind::ServiceEntry,
            _ => {
                out.push(Finding::new(
                    &catalog::MG0925,
                    key,
                    t.pointer.clone(),
                    format!("target kind {:?} is not a Service or ServiceEntry (istiod: TargetNotFound, unsupported reference kind): the policy applies to nothing there", t.kind),
                ));
                continue;
            }
        };
        let tkey = ObjKey::new(target_kind, ns, t.name.clone());
        let Some(target) = view.get(&tkey) else {
            out.push(
                Finding::new(
                    &catalog::MG0925,
                    key,
                    t.pointer.clone(),
                    format!("target {target_kind} {ns}/{} does not exist (istiod: TargetNotFound): no TLS is originated to it", t.name),
                )
                .with_referent(tkey),
            );
            continue;
        };
        if let Some(section) = &t.section_name {
            let names: Vec<&str> = match &target.parsed {
                Parsed::Service(svc) => svc.ports.iter().filter_map(|p| p.name.as_deref()).collect(),
                Parsed::ServiceEntry(se) => se.ports.iter().filter_map(|p| p.name.as_deref()).collect(),
                _ => Vec::new(),
            };
            if !names.contains(&section.as_str()) {
                out.push(Finding::new(
                    &catalog::MG0925,
                    key,
                    child(&t.pointer, "sectionName"),
                    format!(
                        "sectionName {section:?} names no port of {target_kind} {ns}/{} (ports: {}; istiod: TargetNotFound): no TLS is originated to it",
                        t.name,
                        if names.is_empty() { "none named".to_string() } else { join(&names) }
                    ),
                ));
                continue;
            }
        }
        let winner = view.backend_tls_policies_in(ns).find(|other| {
            let Parsed::BackendTlsPolicy(o) = &other.parsed else {
                return false;
            };
            other.object.key.name != key.name
                && !o.ignored
                && o.targets.iter().any(|ot| same_target(ot, t))
                && older((&o.created, &other.object.key.name), (&spec.created, &key.name))
        });
        if let Some(w) = winner {
            out.push(Finding::new(
                &catalog::MG0925,
                key,
                t.pointer.clone(),
                format!(
                    "BackendTLSPolicy {} already targets {target_kind} {ns}/{}{} and is older (istiod: Conflicted): this policy is not applied there",
                    w.object.key.qualified_name(),
                    t.name,
                    t.section_name.as_deref().map(|s| format!(" section {s}")).unwrap_or_default()
                ),
            ));
        }
    }
    if let Some(wk) = &spec.well_known {
        if wk != "System" {
            out.push(Finding::new(
                &catalog::MG0924,
                key,
                crate::finding::pointer("/spec/validation/wellKnownCACertificates"),
                format!("wellKnownCACertificates {wk:?} is not System (istiod: Invalid): TLS to the backend is verified with the system roots, a private certificate fails (503)"),
            ));
        }
        return;
    }
    let Some(ca) = spec.ca_refs.first() else { return };
    if !(matches!(ca.group.as_str(), "" | "core") && ca.kind == "ConfigMap") {
        out.push(Finding::new(
            &catalog::MG0924,
            key,
            ca.pointer.clone(),
            format!(
                "caCertificateRefs[0] is a {} (istiod supports only ConfigMap here: InvalidKind): TLS to the backend is not verified by that CA, a private certificate fails (503)",
                ca.kind
            ),
        ));
        return;
    }
    // The live view holds every ConfigMap (as metadata, but for `istio`).
    let cm = ObjKey::new(Kind::ConfigMap, ns, ca.name.clone());
    if view.get(&cm).is_none() {
        out.push(
            Finding::new(
                &catalog::MG0924,
                key,
                ca.pointer.clone(),
                format!(
                    "CA ConfigMap {ns}/{} does not exist (istiod: InvalidCACertificateRef): TLS to the backend is not verified by that CA, a private certificate fails (503)",
                    ca.name
                ),
            )
            .with_referent(cm),
        );
    }
}
