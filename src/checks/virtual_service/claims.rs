//! MG0112: routing on JWT claims (`@request.auth.claims.*` header matches) at a
//! gateway whose workload no RequestAuthentication covers. istiod fills those
//! pseudo-headers only from a validated token, so such a match never succeeds.

use std::collections::{BTreeMap, BTreeSet};

use crate::checks::{catalog, join_at_most, NAMED_WORKLOADS};
use crate::finding::Finding;
use crate::model::virtual_service::VirtualServiceSpec;
use crate::semantics::gateway_ref::GatewayRef;
use crate::view::{ClusterView, Entry, Parsed};

pub fn check(entry: &Entry, vs: &VirtualServiceSpec, view: &ClusterView, out: &mut Vec<Finding>) {
    let key = &entry.object.key;
    for m in &vs.claim_matches {
        // Gateway → its workloads that no RequestAuthentication covers.
        let mut uncovered: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for g in vs.applies_to(m.gateways.as_deref()) {
            // Sidecars are not judged (IST0149 too looks at gateways only).
            let GatewayRef::Named { namespace, name } = GatewayRef::parse(g, &key.namespace) else {
                continue;
            };
            // A missing Gateway is MG0101; one without workload is MG0301.
            let Some(Parsed::Gateway(gw)) = view.gateway(&namespace, &name).map(|e| &e.parsed) else {
                continue;
            };
            if gw.selector.is_empty() {
                continue;
            }
            for w in view.workloads_matching(None, &gw.selector) {
                let Some(wl) = &w.workload else { continue };
                if view.request_authentication_for(&wl.namespace, &wl.labels).is_none() {
                    uncovered
                        .entry(format!("{namespace}/{name}"))
                        .or_default()
                        .insert(w.object.key.qualified_name());
                }
            }
        }
        if uncovered.is_empty() {
            continue;
        }
        let parts: Vec<String> = uncovered
            .iter()
            .map(|(g, ws)| format!("gateway {g} (workload {})", join_at_most(ws, NAMED_WORKLOADS)))
            .collect();
        out.push(Finding::new(
            &catalog::MG0112,
            key,
            m.pointer.clone(),
            format!(
                "routes on JWT claim {:?} but no RequestAuthentication applies to {}: the claim is never set, so this match never succeeds",
                m.claim,
                parts.join(", ")
            ),
        ));
    }
}
