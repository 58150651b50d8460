//! A Kubernetes Service as the mesh sees it.

use std::collections::BTreeMap;

use jsonptr::PointerBuf;
use serde_json::Value;

use super::fields::{self, child, index, Problems};
use super::Object;

pub const EXPORT_TO_ANNOTATION: &str = "networking.istio.io/exportTo";

/// Protocols istiod selects from a port name `<protocol>[-<suffix>]` or `appProtocol`.
pub const PROTOCOLS: &[&str] = &[
    "http", "http2", "https", "grpc", "grpc-web", "tcp", "tls", "mongo", "mysql", "redis", "udp",
];

/// Whether HTTP routes can apply on a registry port: HTTP, HTTP2, gRPC, or a
/// protocol istiod sniffs (unnamed, unknown); not TCP, TLS, HTTPS or the like.
/// `protocol` is a Service port's `appProtocol` or a ServiceEntry port's `protocol`.
pub fn http_capable(name: Option<&str>, protocol: Option<&str>) -> bool {
    let declared = declared_protocol(name, protocol);
    // Unknown or unset: istiod sniffs, so HTTP routes may apply.
    !PROTOCOLS.contains(&declared.as_str()) || super::gateway::is_http_protocol(&declared)
}

/// Whether istiod matches connections on the port by SNI (`protocol.IsTLS`:
/// TLS or HTTPS, declared or by port-name prefix).
pub fn sni_matched(name: Option<&str>, protocol: Option<&str>) -> bool {
    matches!(declared_protocol(name, protocol).as_str(), "tls" | "https")
}

/// The protocol a port declares (protocol or appProtocol, else its name's
/// prefix), lower case; TCP counts as undeclared for a named port.
fn declared_protocol(name: Option<&str>, protocol: Option<&str>) -> String {
    protocol
        .filter(|p| !p.is_empty() && !p.eq_ignore_ascii_case("TCP"))
        .or_else(|| name.map(|n| n.split('-').next().unwrap_or(n)))
        .unwrap_or("")
        .to_ascii_lowercase()
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceSpec {
    pub ports: Vec<ServicePort>,
    pub selector: BTreeMap<String, String>,
    pub export_to: Vec<String>,
    /// `spec.clusterIP` (`None` as written for a headless Service).
    pub cluster_ip: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServicePort {
    pub port: u32,
    pub target_port: Option<TargetPort>,
    pub name: Option<String>,
    pub protocol: Option<String>,
    pub app_protocol: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetPort {
    Number(u32),
    Name(String),
}

pub fn parse(obj: &Object, p: &mut Problems) -> ServiceSpec {
    let mut spec = ServiceSpec {
        export_to: obj
            .annotations
            .get(EXPORT_TO_ANNOTATION)
            .map(|a| {
                a.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default(),
        ..ServiceSpec::default()
    };
    let root = PointerBuf::parse("/spec").unwrap_or_default();
    let Some(m) = fields::spec(&obj.value, p) else {
        return spec;
    };
    spec.selector = fields::string_map(m, "selector", &root, p);
    spec.cluster_ip = m
        .get("clusterIP")
        .and_then(Value::as_str)
        .filter(|ip| !ip.is_empty())
        .map(str::to_string);
    let at = child(&root, "ports");
    for (i, v) in fields::list(m.get("ports"), &at, p).iter().enumerate() {
        let here = index(&at, i);
        let Some(pm) = fields::mapping(Some(v), &here, p) else {
            continue;
        };
        let Some(port) = fields::port_field(pm, "port", &here, p) else {
            continue;
        };
        let target_port = match pm.get("targetPort") {
            Some(Value::Number(n)) => n.as_u64().map(|n| TargetPort::Number(n as u32)),
            Some(Value::String(s)) => Some(match s.parse::<u32>() {
                Ok(n) => TargetPort::Number(n),
                Err(_) => TargetPort::Name(s.clone()),
            }),
            _ => None,
        };
        spec.ports.push(ServicePort {
            port,
            target_port,
            name: fields::str_field(pm, "name", &here, p).map(str::to_string),
            protocol: fields::str_field(pm, "protocol", &here, p).map(str::to_string),
            app_protocol: fields::str_field(pm, "appProtocol", &here, p).map(str::to_string),
        });
    }
    spec
}
