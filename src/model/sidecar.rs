//! The fields of a Sidecar that checks read.

use std::collections::BTreeMap;

use jsonptr::PointerBuf;

use super::fields::{self, child, index, Located, Problems};
use super::Object;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SidecarSpec {
    /// `spec.workloadSelector.labels`; `None` without a workloadSelector.
    pub workload_selector: Option<BTreeMap<String, String>>,
    /// `spec.egress[].hosts[]`, each `namespace/host`.
    pub egress_hosts: Vec<Located<String>>,
}

impl SidecarSpec {
    pub fn selector(&self) -> Option<&BTreeMap<String, String>> {
        self.workload_selector.as_ref().filter(|s| !s.is_empty())
    }
}

pub fn parse(obj: &Object, p: &mut Problems) -> SidecarSpec {
    let mut spec = SidecarSpec::default();
    let root = PointerBuf::parse("/spec").unwrap_or_default();
    let Some(m) = fields::spec(&obj.value, p) else {
        return spec;
    };
    spec.workload_selector = fields::selector(m, "workloadSelector", "labels", &root, p);
    let eg_at = child(&root, "egress");
    for (i, e) in fields::list(m.get("egress"), &eg_at, p).iter().enumerate() {
        let here = index(&eg_at, i);
        if let Some(e) = fields::mapping(Some(e), &here, p) {
            spec.egress_hosts.extend(fields::string_list(e, "hosts", &here, p));
        }
    }
    spec
}
