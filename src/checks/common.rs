//! Checks that apply to every Istio object.

use super::catalog;
use crate::finding::Finding;
use crate::view::Entry;

/// MG0001: each field that could not be read, with what was expected.
pub fn check(entry: &Entry, out: &mut Vec<Finding>) {
    for p in &entry.problems.0 {
        out.push(Finding::new(
            &catalog::MG0001,
            &entry.object.key,
            p.pointer.clone(),
            format!("cannot read this field: {}", p.reason),
        ));
    }
}
