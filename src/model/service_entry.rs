//! The fields of a ServiceEntry that checks and indexes read.

use jsonptr::PointerBuf;

use super::fields::{self, child, index, Located, Problems};
use super::Object;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceEntrySpec {
    pub hosts: Vec<Located<String>>,
    pub ports: Vec<SePort>,
    pub export_to: Vec<String>,
    pub location: Option<String>,
    pub resolution: Option<String>,
    pub addresses: Vec<String>,
    pub endpoint_count: usize,
    pub has_workload_selector: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SePort {
    pub number: u32,
    pub protocol: Option<String>,
    pub name: Option<String>,
    pub pointer: PointerBuf,
}

impl ServiceEntrySpec {
    pub fn is_mesh_external(&self) -> bool {
        self.location.as_deref() != Some("MESH_INTERNAL")
    }
}

pub fn parse(obj: &Object, p: &mut Problems) -> ServiceEntrySpec {
    let mut spec = ServiceEntrySpec::default();
    let root = PointerBuf::parse("/spec").unwrap_or_default();
    let Some(m) = fields::spec(&obj.value, p) else {
        return spec;
    };
    spec.hosts = fields::string_list(m, "hosts", &root, p);
    spec.export_to = fields::string_list(m, "exportTo", &root, p)
        .into_iter()
        .map(|l| l.value)
        .collect();
    spec.addresses = fields::string_list(m, "addresses", &root, p)
        .into_iter()
        .map(|l| l.value)
        .collect();
    spec.location = fields::str_field(m, "location", &root, p).map(str::to_string);
    spec.resolution = fields::str_field(m, "resolution", &root, p).map(str::to_string);
    spec.endpoint_count = fields::list(m.get("endpoints"), &child(&root, "endpoints"), p).len();
    spec.has_workload_selector = m.get("workloadSelector").is_some_and(|v| !v.is_null());
    let at = child(&root, "ports");
    for (i, v) in fields::list(m.get("ports"), &at, p).iter().enumerate() {
        let here = index(&at, i);
        let Some(pm) = fields::mapping(Some(v), &here, p) else {
            continue;
        };
        if let Some(number) = fields::port_field(pm, "number", &here, p) {
            spec.ports.push(SePort {
                number,
                protocol: fields::str_field(pm, "protocol", &here, p).map(str::to_string),
                name: fields::str_field(pm, "name", &here, p).map(str::to_string),
                pointer: here,
            });
        }
    }
    spec
}
