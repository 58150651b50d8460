//! The fields of a DestinationRule that checks and indexes read.

use std::collections::BTreeMap;

use jsonptr::PointerBuf;

use super::fields::{self, child, index, Problems};
use super::Object;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DestinationRuleSpec {
    /// As written; see `ParsedDestinationRule::host` for the resolved FQDN.
    pub host: Option<String>,
    pub subsets: Vec<Subset>,
    pub export_to: Vec<String>,
    pub has_workload_selector: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subset {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub pointer: PointerBuf,
}

pub fn parse(obj: &Object, p: &mut Problems) -> DestinationRuleSpec {
    let mut spec = DestinationRuleSpec::default();
    let root = PointerBuf::parse("/spec").unwrap_or_default();
    let Some(m) = fields::spec(&obj.value, p) else {
        return spec;
    };
    spec.host = fields::str_field(m, "host", &root, p).map(str::to_string);
    if spec.host.is_none() {
        p.invalid(&child(&root, "host"), "a DestinationRule needs a host");
    }
    spec.export_to = fields::string_list(m, "exportTo", &root, p)
        .into_iter()
        .map(|l| l.value)
        .collect();
    spec.has_workload_selector = m.get("workloadSelector").is_some_and(|v| !v.is_null());
    let at = child(&root, "subsets");
    for (i, s) in fields::list(m.get("subsets"), &at, p).iter().enumerate() {
        let here = index(&at, i);
        let Some(s) = fields::mapping(Some(s), &here, p) else {
            continue;
        };
        match fields::str_field(s, "name", &here, p) {
            Some(name) => spec.subsets.push(Subset {
                name: name.to_string(),
                labels: fields::string_map(s, "labels", &here, p),
                pointer: here,
            }),
            None => p.invalid(&child(&here, "name"), "a subset needs a name"),
        }
    }
    spec
}
