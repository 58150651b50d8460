//! MG0508: a change that moves workloads to another control plane or version
//! once they restart, judged for the EnvoyFilters it makes stop (or start)
//! applying to them. The seed's failure, seen at the change that causes it
//! instead of after the restart: relabelling a namespace to a 1.18 revision
//! while a filter there is pinned to `^1\.17`.
//!
//! Four kinds of change (old object → new object):
//! - a Namespace's `istio.io/rev` / `istio-injection` label: its workloads that
//!   follow the namespace (their proxy's revision is the old label's);
//! - a workload template's `istio.io/rev` label or `sidecar.istio.io/inject`
//!   (label or annotation): the Pods its selector picks (and the template);
//! - a revision tag's MutatingWebhookConfiguration (`istio.io/tag` → revision):
//!   workloads labelled with the tag, or in a namespace labelled with it;
//! - an istiod Deployment's image: the workloads of its revision.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::catalog;
use super::envoy_filter::{in_context, REGEX_SIZE_LIMIT};
use crate::finding::{pointer, Finding};
use crate::model::proxy::{namespace_injection, revision_tag, REV_LABEL};
use crate::model::workload::labels_match;
use crate::model::{Kind, Object};
use crate::view::{ClusterView, Entry, Parsed, ResolvedProxy};

const INJECT: &str = "sidecar.istio.io/inject";

/// Where workloads go once restarted.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Target {
    /// A control-plane revision (its version looked up in the view).
    Revision(String),
    /// Revision kept, version changed (istiod's image).
    Version(String),
    /// No proxy any more (injection turned off).
    NoProxy,
}

struct Move {
    /// The workloads that move, each with the proxy it has now.
    workloads: Vec<(Arc<Entry>, ResolvedProxy)>,
    target: Target,
    /// The field of the reviewed object that causes the move.
    pointer: &'static str,
    /// How the change reads in a message.
    what: String,
}

fn proxied_workloads(view: &ClusterView) -> Vec<(Arc<Entry>, ResolvedProxy)> {
    let everyone = BTreeMap::new();
    view.workloads_matching(None, &everyone)
        .filter_map(|e| view.workload_proxy(e).map(|p| (e.clone(), p)))
        .collect()
}

fn template_labels(o: &Object) -> BTreeMap<String, String> {
    string_map(o.value.pointer("/spec/template/metadata/labels"))
}

fn string_map(v: Option<&serde_json::Value>) -> BTreeMap<String, String> {
    v.and_then(serde_json::Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// A template's injection intent: (revision label, inject switch).
fn template_intent(o: &Object) -> (Option<String>, Option<String>) {
    let labels = template_labels(o);
    let annotations = string_map(o.value.pointer("/spec/template/metadata/annotations"));
    let inject = labels.get(INJECT).or_else(|| annotations.get(INJECT)).cloned();
    (labels.get(REV_LABEL).cloned(), inject)
}

fn find_move(old: &Object, new: &Object, view: &ClusterView) -> Option<Move> {
    let key = &new.key;
    match key.kind {
        Kind::Namespace => {
            let (from, to) = (namespace_injection(&old.labels), namespace_injection(&new.labels));
            if from == to {
                return None;
            }
            let from = from.map(|r| view.resolve_revision_label(&r));
            let workloads = proxied_workloads(view)
                .into_iter()
                .filter(|(e, p)| {
                    e.workload.as_ref().is_some_and(|w| w.namespace == key.name) && from.as_ref() == Some(&p.revision)
                })
                .collect();
            let pointer = if old.labels.get(REV_LABEL) != new.labels.get(REV_LABEL) {
                "/metadata/labels/istio.io~1rev"
            } else {
                "/metadata/labels/istio-injection"
            };
            let target = match &to {
                Some(r) => Target::Revision(view.resolve_revision_label(r)),
                None => Target::NoProxy,
            };
            Some(Move {
                workloads,
                target,
                pointer,
                what: format!("namespace {} now injects {}", key.name, describe(view, &to)),
            })
        }
        Kind::Deployment | Kind::StatefulSet | Kind::DaemonSet => {
            let planes = (
                crate::model::workload::control_plane_of(old),
                crate::model::workload::control_plane_of(new),
            );
            if let (Some(before), Some(after)) = &planes {
                let to = after.version.clone()?;
                if before.version.as_ref() == Some(&to) || before.revision != after.revision {
                    return None;
                }
                let workloads = proxied_workloads(view)
                    .into_iter()
                    .filter(|(_, p)| p.revision == after.revision)
                    .collect();
                return Some(Move {
                    workloads,
                    target: Target::Version(to.clone()),
                    pointer: "/spec/template/spec/containers",
                    what: format!("istiod of revision {} now runs {to}", after.revision),
                });
            }
            let (old_intent, new_intent) = (template_intent(old), template_intent(new));
            if old_intent == new_intent {
                return None;
            }
            let selector = string_map(new.value.pointer("/spec/selector/matchLabels"));
            let selector = if selector.is_empty() {
                template_labels(new)
            } else {
                selector
            };
            let workloads = view
                .workloads_matching(Some(&key.namespace), &selector)
                .filter(|e| e.object.key.kind == Kind::Pod || e.object.key == *key)
                .filter_map(|e| view.workload_proxy(e).map(|p| (e.clone(), p)))
                .collect();
            let pointer = if old_intent.0 != new_intent.0 {
                "/spec/template/metadata/labels/istio.io~1rev"
            } else {
                "/spec/template/metadata/labels/sidecar.istio.io~1inject"
            };
            let (rev, inject) = new_intent;
            let target = if inject.as_deref() == Some("false") {
                Target::NoProxy
            } else {
                let ns_rev = view
                    .get(&crate::model::ObjKey::new(Kind::Namespace, "", &key.namespace))
                    .and_then(|n| namespace_injection(&n.object.labels));
                match rev.or(ns_rev) {
                    Some(r) => Target::Revision(view.resolve_revision_label(&r)),
                    None => Target::NoProxy,
                }
            };
            Some(Move {
                workloads,
                what: format!(
                    "the template of {} {} now gets {}",
                    key.kind.as_str(),
                    key.qualified_name(),
                    target_text(view, &target)
                ),
                target,
                pointer,
            })
        }
        Kind::MutatingWebhookConfiguration => {
            let (tag, to) = revision_tag(&new.labels)?;
            let from = revision_tag(&old.labels).map(|(_, r)| r);
            if from.as_ref() == Some(&to) {
                return None;
            }
            let tagged_namespaces: BTreeSet<String> = view
                .entries()
                .filter(|e| e.object.key.kind == Kind::Namespace)
                .filter(|e| e.object.labels.get(REV_LABEL) == Some(&tag))
                .map(|e| e.object.key.name.clone())
                .collect();
            let workloads = proxied_workloads(view)
                .into_iter()
                .filter(|(e, p)| {
                    let w = e.workload.as_ref();
                    let labelled = w.is_some_and(|w| w.labels.get(REV_LABEL) == Some(&tag));
                    let in_tagged_ns = w.is_some_and(|w| tagged_namespaces.contains(&w.namespace));
                    (labelled || in_tagged_ns) && from.as_ref().is_none_or(|f| *f == p.revision)
                })
                .collect();
            Some(Move {
                workloads,
                target: Target::Revision(to.clone()),
                pointer: "/metadata/labels/istio.io~1rev",
                what: format!("revision tag {tag} now points at {}", describe(view, &Some(to))),
            })
        }
        _ => None,
    }
}

/// `revision 1-18 (1.18.0)`, `no revision (injection off)`.
fn describe(view: &ClusterView, rev: &Option<String>) -> String {
    match rev {
        Some(r) => {
            let r = view.resolve_revision_label(r);
            match version_of(view, &r) {
                Some(v) => format!("revision {r} ({v})"),
                None => format!("revision {r} (no control plane of that revision is installed)"),
            }
        }
        None => "no sidecar (injection off)".to_string(),
    }
}

fn target_text(view: &ClusterView, target: &Target) -> String {
    match target {
        Target::Revision(r) => describe(view, &Some(r.clone())),
        Target::Version(v) => format!("version {v}"),
        Target::NoProxy => "no sidecar (injection off)".to_string(),
    }
}

fn version_of(view: &ClusterView, revision: &str) -> Option<String> {
    view.control_planes()
        .get(revision)
        .and_then(|vs| vs.iter().flatten().next().cloned())
}

/// The proxy a workload gets once restarted.
fn after(view: &ClusterView, now: &ResolvedProxy, target: &Target) -> Option<ResolvedProxy> {
    match target {
        Target::NoProxy => None,
        Target::Version(v) => Some(ResolvedProxy {
            version: Some(v.clone()),
            ..now.clone()
        }),
        Target::Revision(r) => Some(ResolvedProxy {
            version: version_of(view, r),
            gateway: now.gateway,
            revision: r.clone(),
        }),
    }
}

/// Whether an EnvoyFilter has a patch for this proxy of this workload. A proxy
/// of unknown version counts as matched (nothing can be said of it).
fn applies(ef_entry: &Entry, workload: &Entry, proxy: Option<&ResolvedProxy>, root: &str) -> bool {
    let (Some(p), Parsed::EnvoyFilter(ef), Some(w)) = (proxy, &ef_entry.parsed, &workload.workload) else {
        return false;
    };
    let ns = &ef_entry.object.key.namespace;
    if ns != root && *ns != w.namespace {
        return false;
    }
    if ef_entry.object.labels.get(REV_LABEL).is_some_and(|r| *r != p.revision) {
        return false;
    }
    if let Some(sel) = ef.workload_selector.as_ref().filter(|s| !s.is_empty()) {
        if !labels_match(sel, &w.labels) {
            return false;
        }
    }
    ef.patches.iter().any(|patch| {
        let context = patch.context.as_deref().unwrap_or("ANY");
        in_context(p, context)
            && match (&patch.proxy_version, &p.version) {
                (None, _) | (_, None) => true,
                (Some(pv), Some(v)) => regex::RegexBuilder::new(pv)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .build()
                    .is_ok_and(|re| re.is_match(v)),
            }
    })
}

/// MG0508 findings for an update from `old` to `new` (as the API server sent
/// them: templates and annotations are read from the objects themselves).
pub fn check(old: &Object, new: &Object, view: &ClusterView) -> Vec<Finding> {
    let Some(m) = find_move(old, new, view) else {
        return Vec::new();
    };
    if m.workloads.is_empty() {
        return Vec::new();
    }
    let root = view.mesh().root_namespace.clone();
    let filters: Vec<&Arc<Entry>> = view
        .entries()
        .filter(|e| matches!(e.parsed, Parsed::EnvoyFilter(_)))
        .collect();
    // EnvoyFilter → (workloads it stops applying to, workloads it starts applying to).
    let mut changes: BTreeMap<&crate::model::ObjKey, (Vec<&str>, Vec<&str>)> = BTreeMap::new();
    for (w, now) in &m.workloads {
        let next = after(view, now, &m.target);
        for ef in &filters {
            let (before, later) = (applies(ef, w, Some(now), &root), applies(ef, w, next.as_ref(), &root));
            if before != later {
                let slot = changes.entry(&ef.object.key).or_default();
                match before {
                    true => slot.0.push(&w.object.key.name),
                    false => slot.1.push(&w.object.key.name),
                }
            }
        }
    }
    let mut out = Vec::new();
    for (ef, (stops, starts)) in changes {
        for (verb, names) in [("stops", stops), ("starts", starts)] {
            if names.is_empty() {
                continue;
            }
            out.push(Finding::new(
                &catalog::MG0508,
                &new.key,
                pointer(m.pointer),
                format!(
                    "{}: once its {} workload(s) restart, EnvoyFilter {} {verb} applying to {} of them ({})",
                    m.what,
                    m.workloads.len(),
                    ef.qualified_name(),
                    names.len(),
                    super::join_at_most(names.iter(), super::NAMED_WORKLOADS)
                ),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests;
