//! MG0607: an AuthorizationPolicy conditions on the peer identity (`principals`,
//! `namespaces` and their `not` forms), which only mTLS carries, for workloads
//! that accept plaintext: PeerAuthentication DISABLE, or PERMISSIVE while
//! MeshConfig turns auto mTLS off (clients then send plaintext unless told).

use std::collections::{BTreeMap, BTreeSet};

use jsonptr::PointerBuf;

use crate::checks::{catalog, join_at_most, NAMED_WORKLOADS};
use crate::finding::Finding;
use crate::model::security::SecuritySpec;
use crate::view::{ClusterView, Entry, MtlsMode, Parsed};

pub fn check(entry: &Entry, spec: &SecuritySpec, view: &ClusterView, out: &mut Vec<Finding>) {
    // One finding per list (`.../source/principals`), not per item.
    let lists: BTreeSet<PointerBuf> = spec
        .source_principals
        .iter()
        .chain(&spec.source_namespaces)
        .filter_map(|l| l.pointer.parent().map(|p| p.to_buf()))
        .collect();
    if lists.is_empty() || spec.has_target_refs {
        return;
    }
    let Some(why) = plaintext_scope(entry, spec, view) else {
        return;
    };
    for at in lists {
        let field = at.tokens().last().map(|t| t.decoded().into_owned()).unwrap_or_default();
        out.push(Finding::new(
            &catalog::MG0607,
            &entry.object.key,
            at.clone(),
            format!(
                "`{field}` needs the peer identity that mTLS carries, but {why}: requests arrive without one, so this condition never matches (an ALLOW rule answers 403 RBAC: access denied; a DENY rule never denies)"
            ),
        ));
    }
}

/// Whether a mode lets a workload receive plaintext from mesh clients.
fn mode_without_mtls(mode: &str, view: &ClusterView) -> bool {
    mode == "DISABLE" || (mode == "PERMISSIVE" && !view.mesh().auto_mtls)
}

/// Whether a workload receives plaintext on every port: a `portLevelMtls` entry
/// that keeps mTLS on one port means the condition can match there.
fn without_mtls(mode: &MtlsMode, view: &ClusterView) -> bool {
    mode.everywhere(|m| mode_without_mtls(m, view))
}

/// What the policy covers that runs without mTLS, said for a message; `None`
/// when everything in scope requires or gets mTLS.
fn plaintext_scope(entry: &Entry, spec: &SecuritySpec, view: &ClusterView) -> Option<String> {
    let ns = entry.object.key.namespace.as_str();
    let root = view.mesh().root_namespace.as_str();
    let describe = |mode: &str| {
        if mode == "DISABLE" {
            "mTLS DISABLE".to_string()
        } else {
            "mTLS PERMISSIVE with auto mTLS off".to_string()
        }
    };
    if let Some(sel) = spec.selector.as_ref().filter(|s| !s.is_empty()) {
        let scope = (ns != root).then_some(ns);
        let mut plain: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for w in view.workloads_matching(scope, sel) {
            let Some(wl) = w.workload.as_ref().filter(|wl| wl.proxy.is_some()) else {
                continue;
            };
            let mode = view.effective_mtls(&wl.namespace, &wl.labels);
            if without_mtls(&mode, view) {
                plain
                    .entry(describe(&mode.mode))
                    .or_default()
                    .insert(w.object.key.qualified_name());
            }
        }
        let parts: Vec<String> = plain
            .iter()
            .map(|(mode, ws)| format!("workload {} runs with {mode}", join_at_most(ws, NAMED_WORKLOADS)))
            .collect();
        return (!parts.is_empty()).then(|| parts.join(", "));
    }
    // Namespace-wide (mesh-wide in the root namespace): the namespace's own mode,
    // then the workloads a DISABLE PeerAuthentication of the namespace selects.
    let mode = view.effective_mtls(ns, &BTreeMap::new());
    if without_mtls(&mode, view) {
        let what = if ns == root {
            "the mesh".to_string()
        } else {
            format!("namespace {ns}")
        };
        return Some(format!("{what} runs with {}", describe(&mode.mode)));
    }
    if ns == root {
        return None;
    }
    let mut plain = BTreeSet::new();
    for pa in view.selecting_peer_authentications(ns) {
        let Parsed::Security(p) = &pa.parsed else { continue };
        let (Some(sel), Some(mode)) = (p.selector.as_ref(), p.mtls_mode.as_deref()) else {
            continue;
        };
        if !mode_without_mtls(mode, view) {
            continue;
        }
        for w in view.workloads_matching(Some(ns), sel) {
            let Some(wl) = w.workload.as_ref().filter(|wl| wl.proxy.is_some()) else {
                continue;
            };
            // The selecting policy that wins may be another one.
            if without_mtls(&view.effective_mtls(ns, &wl.labels), view) {
                plain.insert(w.object.key.qualified_name());
            }
        }
    }
    (!plain.is_empty()).then(|| format!("workload {} runs without mTLS", join_at_most(&plain, NAMED_WORKLOADS)))
}
