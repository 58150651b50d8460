//! The order in which GitOps clients apply one batch, and what it proves about a
//! missing referent at the real apply of its referrer (product.md §3 "Batches
//! and replicas").
//!
//! Flux (`github.com/fluxcd/pkg/ssa` v0.78.0, `ApplyAll`) dry-runs a stage's
//! objects concurrently, then applies them one by one sorted by `less` in
//! `sort.go`: a kind rank (`ReconcileOrder`: Namespace, ..., Service, ...,
//! Deployment first; unknown kinds such as Istio's in between), then group, kind,
//! namespace and name; and it stops at the first error. So when the referrer is
//! applied, every object of the stage sorted before it has been applied. A
//! referent sorted *after* its referrer (a delegate VirtualService named after
//! its root) may still be created by the same stage: denying the referrer then
//! would stop the stage before the referent is ever applied, at every interval
//! (a livelock). Only a referent sorted before its referrer is provably missing.

use std::cmp::Ordering;

use crate::finding::Referent;
use crate::model::{Kind, ObjKey};

/// `ReconcileOrder.First` of fluxcd/pkg/ssa v0.78.0 `sort.go`, as far as the view
/// knows the kinds; unknown kinds rank 0, after all of these.
fn rank(kind: Kind) -> i32 {
    const FIRST: &[&str] = &[
        "CustomResourceDefinition",
        "Namespace",
        "ClusterRole",
        "ClusterClass",
        "RuntimeClass",
        "PriorityClass",
        "StorageClass",
        "VolumeSnapshotClass",
        "IngressClass",
        "GatewayClass",
        "ClusterRoleBinding",
        "ResourceQuota",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "ConfigMap",
        "Secret",
        "Service",
        "LimitRange",
        "Deployment",
        "StatefulSet",
        "CronJob",
        "PodDisruptionBudget",
    ];
    const LAST: &[&str] = &["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"];
    let name = kind.as_str();
    if let Some(i) = FIRST.iter().position(|k| *k == name) {
        return i as i32 - FIRST.len() as i32;
    }
    if let Some(i) = LAST.iter().position(|k| *k == name) {
        return 1 + i as i32;
    }
    0
}

/// Flux's comparison of two kinds (rank, group, kind name).
fn kind_order(a: Kind, b: Kind) -> Ordering {
    (rank(a), a.group(), a.as_str()).cmp(&(rank(b), b.group(), b.as_str()))
}

/// Whether Flux applies `referent` before `referrer` when both are in one
/// stage: then a referent still missing at the referrer's real apply is not in
/// the stage. For a referent known only by kind, its kind must sort first.
pub fn precedes(referent: &Referent, referrer: &ObjKey) -> bool {
    match referent {
        Referent::Object(k) => {
            kind_order(k.kind, referrer.kind)
                .then_with(|| k.namespace.cmp(&referrer.namespace))
                .then_with(|| k.name.cmp(&referrer.name))
                == Ordering::Less
        }
        Referent::AnyOf { kind, .. } => kind_order(*kind, referrer.kind) == Ordering::Less,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(kind: Kind, ns: &str, name: &str) -> ObjKey {
        ObjKey::new(kind, ns, name)
    }

    #[test]
    fn referents_of_other_kinds_come_first_as_flux_sorts_them() {
        let vs = key(Kind::VirtualService, "shop", "a");
        // Service (ranked), then networking.istio.io kinds by name.
        for k in [Kind::Service, Kind::Gateway, Kind::DestinationRule, Kind::ServiceEntry] {
            assert!(precedes(&Referent::Object(key(k, "zzz", "zzz")), &vs), "{k}");
        }
        assert!(precedes(
            &Referent::AnyOf {
                kind: Kind::DestinationRule,
                namespaces: vec![]
            },
            &vs
        ));
        // A Service is applied before a Gateway; a VirtualService after it.
        let gw = key(Kind::Gateway, "a", "a");
        assert!(precedes(&Referent::Object(key(Kind::Service, "z", "z")), &gw));
        assert!(!precedes(&Referent::Object(key(Kind::VirtualService, "a", "a")), &gw));
        // security.istio.io sorts after networking.istio.io.
        assert!(!precedes(
            &Referent::Object(key(Kind::PeerAuthentication, "a", "a")),
            &key(Kind::DestinationRule, "z", "z")
        ));
    }

    #[test]
    fn a_delegate_precedes_its_root_only_by_namespace_then_name() {
        let root = key(Kind::VirtualService, "shop", "m-root");
        let d = |ns: &str, name: &str| Referent::Object(key(Kind::VirtualService, ns, name));
        assert!(precedes(&d("shop", "a-delegate"), &root));
        assert!(!precedes(&d("shop", "z-delegate"), &root));
        assert!(precedes(&d("ops", "z-delegate"), &root));
        assert!(!precedes(&d("team", "a-delegate"), &root));
        assert!(!precedes(&d("shop", "m-root"), &root));
        // A delegate known by kind only cannot be placed.
        assert!(!precedes(
            &Referent::AnyOf {
                kind: Kind::VirtualService,
                namespaces: vec![]
            },
            &root
        ));
    }
}
