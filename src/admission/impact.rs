//! Impact analysis (product.md §3): what deleting or changing a referent (Gateway,
//! Service, ServiceEntry, DestinationRule; Gateway API Gateway, ReferenceGrant) would break in the objects that refer to
//! it, found through the view's reverse indexes and judged by the same checks.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::checks;
use crate::finding::{Finding, Severity};
use crate::model::{Kind, ObjKey};
use crate::semantics::host;
use crate::view::{ClusterView, Entry, Parsed};

pub enum Change {
    Delete(ObjKey),
    Update(Arc<Entry>),
}

/// Referrers that gain error findings, with those findings.
#[derive(Debug, Default)]
pub struct Impact {
    pub broken: Vec<(Arc<Entry>, Vec<Finding>)>,
}

/// Whether a change to this kind can break referrers.
pub fn is_referent(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Gateway
            | Kind::Service
            | Kind::ServiceEntry
            | Kind::DestinationRule
            | Kind::K8sGateway
            | Kind::ReferenceGrant
    )
}

fn referrers(view: &ClusterView, old: &Entry) -> Vec<Arc<Entry>> {
    let key = &old.object.key;
    let domain = view.cluster_domain();
    let mut out: Vec<Arc<Entry>> = Vec::new();
    let mut seen = BTreeSet::new();
    let mut add = |e: &Arc<Entry>| {
        if seen.insert(e.object.key.clone()) {
            out.push(e.clone());
        }
    };
    match &old.parsed {
        Parsed::Gateway(_) => view.gateway_binders(&key.namespace, &key.name).for_each(&mut add),
        Parsed::Service(_) | Parsed::ServiceEntry(_) => {
            for h in old.provided_hosts(domain) {
                view.host_referrers(&h).for_each(&mut add);
            }
            view.service_routes(&key.namespace, &key.name).for_each(&mut add);
        }
        Parsed::K8sGateway(_) => view.k8s_gateway_routes(&key.namespace, &key.name).for_each(&mut add),
        Parsed::ReferenceGrant(_) => view.cross_namespace_routes(&key.namespace).for_each(&mut add),
        Parsed::DestinationRule(dr) => {
            if let Some(h) = &dr.host {
                view.host_referrers(&host::resolve(h, &key.namespace, domain))
                    .for_each(&mut add);
            }
        }
        _ => {}
    }
    out
}

fn errors(entry: &Entry, view: &ClusterView) -> Vec<Finding> {
    checks::check(entry, view)
        .into_iter()
        .filter(|f| f.severity == Severity::Error)
        .collect()
}

/// The error findings `change` would add to other objects of `before`.
pub fn analyze(before: &ClusterView, change: &Change) -> Impact {
    let (key, old) = match change {
        Change::Delete(k) => (k, before.get(k)),
        Change::Update(e) => (&e.object.key, before.get(&e.object.key)),
    };
    let Some(old) = old.filter(|o| is_referent(o.object.key.kind)) else {
        return Impact::default();
    };
    let candidates = referrers(before, old);
    if candidates.is_empty() {
        return Impact::default();
    }
    let mut after = before.clone();
    match change {
        Change::Delete(k) => {
            after.delete(k);
        }
        Change::Update(e) => {
            after.apply_entry(e.clone());
        }
    }
    let mut impact = Impact::default();
    for r in candidates {
        if r.object.key == *key {
            continue;
        }
        let had: BTreeSet<(&str, String)> = errors(&r, before).into_iter().map(|f| (f.code, f.message)).collect();
        let new: Vec<Finding> = errors(&r, &after)
            .into_iter()
            .filter(|f| !had.contains(&(f.code, f.message.clone())))
            .collect();
        if !new.is_empty() {
            impact.broken.push((r, new));
        }
    }
    impact
}
