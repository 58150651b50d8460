//! The fields of PeerAuthentication, RequestAuthentication and AuthorizationPolicy
//! that checks read.

use std::collections::BTreeMap;

use jsonptr::PointerBuf;
use serde_json::Value;

use super::fields::{self, child, Problems};
use super::Object;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SecuritySpec {
    /// `spec.selector.matchLabels`; `None` when there is no selector.
    pub selector: Option<BTreeMap<String, String>>,
    pub has_target_refs: bool,
}

impl SecuritySpec {
    /// Applies to the whole namespace (or the mesh, in the root namespace).
    pub fn is_namespace_wide(&self) -> bool {
        self.selector.as_ref().is_none_or(BTreeMap::is_empty) && !self.has_target_refs
    }
}

pub fn parse(obj: &Object, p: &mut Problems) -> SecuritySpec {
    let mut spec = SecuritySpec::default();
    let root = PointerBuf::parse("/spec").unwrap_or_default();
    let Some(m) = fields::spec(&obj.value, p) else {
        return spec;
    };
    let sel_at = child(&root, "selector");
    if let Some(sel) = fields::mapping(m.get("selector"), &sel_at, p) {
        spec.selector = Some(fields::string_map(sel, "matchLabels", &sel_at, p));
    }
    spec.has_target_refs = m
        .get("targetRefs")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
        || m.get("targetRef").is_some_and(|v| !v.is_null());
    spec
}
