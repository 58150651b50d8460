//! Checks that apply to every Istio object: MG0001–MG0003.

use super::{catalog, join};
use crate::finding::{pointer, Finding};
use crate::model::fields::index;
use crate::model::proxy::REV_LABEL;
use crate::view::{ClusterView, Entry};

pub fn check(entry: &Entry, view: &ClusterView, out: &mut Vec<Finding>) {
    let key = &entry.object.key;
    // MG0001: each field that could not be read, with what was expected.
    for p in &entry.problems.0 {
        out.push(Finding::new(
            &catalog::MG0001,
            key,
            p.pointer.clone(),
            format!(
                "cannot read this field: {}; Istio's validation rejects the object, or istiod ignores the field",
                p.reason
            ),
        ));
    }
    // MG0002: a revision label no control plane answers to. Absence of evidence
    // (no control plane known at all) is not a finding.
    if let Some(rev) = entry.object.labels.get(REV_LABEL) {
        let planes = view.control_planes();
        if !planes.is_empty() && !planes.contains_key(rev) {
            // A revision tag steers injection only: istiod reads configuration
            // labelled with its exact revision.
            let tag = view
                .revision_tags()
                .remove(rev)
                .map(|target| format!(" (\"{rev}\" is a revision tag of revision \"{target}\": tags select injection, configuration must name the revision itself)"))
                .unwrap_or_default();
            out.push(Finding::new(
                &catalog::MG0002,
                key,
                pointer("/metadata/labels/istio.io~1rev"),
                format!(
                    "revision \"{rev}\" matches no control plane (installed revisions: {}): no istiod reads this object{tag}",
                    join(planes.keys())
                ),
            ));
        }
    }
    // MG0003: exportTo naming a namespace that does not exist.
    let at = pointer("/spec/exportTo");
    for (i, ns) in entry.export_to_entries().iter().enumerate() {
        if matches!(ns.as_str(), "." | "*" | "~") || entry.object.key.kind == crate::model::Kind::Service {
            continue;
        }
        if !view.namespace_exists(ns) {
            out.push(Finding::new(
                &catalog::MG0003,
                key,
                index(&at, i),
                format!("exportTo names namespace \"{ns}\", which does not exist"),
            ));
        }
    }
}
