//! The fields of an Istio Gateway that checks and indexes read.

use std::collections::BTreeMap;

use jsonptr::PointerBuf;

use super::fields::{self, child, index, Located, Problems};
use super::Object;

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GatewaySpec {
    pub selector: BTreeMap<String, String>,
    pub servers: Vec<Server>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Server {
    pub port: Option<u32>,
    pub protocol: Option<String>,
    pub hosts: Vec<Located<String>>,
    pub credential_name: Option<String>,
    pub tls_mode: Option<String>,
    pub pointer: PointerBuf,
}

pub fn parse(obj: &Object, p: &mut Problems) -> GatewaySpec {
    let mut spec = GatewaySpec::default();
    let root = PointerBuf::parse("/spec").unwrap_or_default();
    let Some(m) = fields::spec(&obj.value, p) else {
        return spec;
    };
    spec.selector = fields::string_map(m, "selector", &root, p);
    let at = child(&root, "servers");
    for (i, s) in fields::list(m.get("servers"), &at, p).iter().enumerate() {
        let here = index(&at, i);
        let Some(s) = fields::mapping(Some(s), &here, p) else {
            continue;
        };
        let port_at = child(&here, "port");
        let port_map = fields::mapping(s.get("port"), &port_at, p);
        let tls_at = child(&here, "tls");
        let tls = fields::mapping(s.get("tls"), &tls_at, p);
        spec.servers.push(Server {
            port: port_map.and_then(|pm| fields::port_field(pm, "number", &port_at, p)),
            protocol: port_map
                .and_then(|pm| fields::str_field(pm, "protocol", &port_at, p))
                .map(str::to_string),
            hosts: fields::string_list(s, "hosts", &here, p),
            credential_name: tls
                .and_then(|t| fields::str_field(t, "credentialName", &tls_at, p))
                .map(str::to_string),
            tls_mode: tls
                .and_then(|t| fields::str_field(t, "mode", &tls_at, p))
                .map(str::to_string),
            pointer: here,
        });
    }
    spec
}
