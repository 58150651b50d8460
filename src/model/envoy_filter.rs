//! The fields of an EnvoyFilter that checks read.

use std::collections::BTreeMap;

use jsonptr::PointerBuf;
use serde_json::Value;

use super::fields::{self, child, index, Problems};
use super::Object;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnvoyFilterSpec {
    /// `spec.workloadSelector.labels`; `None` when there is no workloadSelector.
    pub workload_selector: Option<BTreeMap<String, String>>,
    pub has_target_refs: bool,
    pub priority: i64,
    pub patches: Vec<Patch>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Patch {
    pub apply_to: Option<String>,
    pub context: Option<String>,
    pub proxy_version: Option<String>,
    pub operation: Option<String>,
    /// `/spec/configPatches/N`.
    pub pointer: PointerBuf,
}

impl Patch {
    pub fn proxy_version_pointer(&self) -> PointerBuf {
        child(&child(&child(&self.pointer, "match"), "proxy"), "proxyVersion")
    }
    pub fn context_pointer(&self) -> PointerBuf {
        child(&child(&self.pointer, "match"), "context")
    }
    pub fn operation_pointer(&self) -> PointerBuf {
        child(&child(&self.pointer, "patch"), "operation")
    }
}

pub fn parse(obj: &Object, p: &mut Problems) -> EnvoyFilterSpec {
    let mut spec = EnvoyFilterSpec::default();
    let root = PointerBuf::parse("/spec").unwrap_or_default();
    let Some(m) = fields::spec(&obj.value, p) else {
        return spec;
    };
    spec.workload_selector = fields::selector(m, "workloadSelector", "labels", &root, p);
    spec.has_target_refs = fields::has_target_refs(m);
    spec.priority = match m.get("priority") {
        None | Some(Value::Null) => 0,
        Some(Value::Number(n)) => n.as_i64().unwrap_or(0),
        Some(other) => {
            p.wrong_type(&child(&root, "priority"), "an integer", other);
            0
        }
    };
    let at = child(&root, "configPatches");
    for (i, v) in fields::list(m.get("configPatches"), &at, p).iter().enumerate() {
        let here = index(&at, i);
        let Some(cp) = fields::mapping(Some(v), &here, p) else {
            continue;
        };
        let match_at = child(&here, "match");
        let mat = fields::mapping(cp.get("match"), &match_at, p);
        let proxy_at = child(&match_at, "proxy");
        let proxy = mat.and_then(|mm| fields::mapping(mm.get("proxy"), &proxy_at, p));
        let patch_at = child(&here, "patch");
        let patch = fields::mapping(cp.get("patch"), &patch_at, p);
        spec.patches.push(Patch {
            apply_to: fields::str_field(cp, "applyTo", &here, p).map(str::to_string),
            context: mat
                .and_then(|mm| fields::str_field(mm, "context", &match_at, p))
                .map(str::to_string),
            proxy_version: proxy
                .and_then(|pm| fields::str_field(pm, "proxyVersion", &proxy_at, p))
                .map(str::to_string),
            operation: patch
                .and_then(|pm| fields::str_field(pm, "operation", &patch_at, p))
                .map(str::to_string),
            pointer: here,
        });
    }
    spec
}
