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
    /// `port.name`: part of an HTTPS server's route configuration name.
    pub port_name: Option<String>,
    pub protocol: Option<String>,
    pub hosts: Vec<Located<String>>,
    pub credential_name: Option<String>,
    pub tls_mode: Option<String>,
    /// Whether the server has a `tls` block at all (`httpsRedirect` included).
    pub has_tls: bool,
    /// `bind`: servers on other addresses get their own listener.
    pub bind: Option<String>,
    pub pointer: PointerBuf,
}

/// How istiod merges a server with others on the same port and `bind`
/// (`MergeGateways`): plaintext HTTP servers share one route table; TLS
/// servers (terminated or passed through, not HTTP) share the port by SNI;
/// any other plaintext server owns the port alone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ServerClass {
    PlainHttp,
    PlainOther,
    Tls,
}

/// istiod's `protocol.IsHTTP`: HTTP, HTTP2, GRPC, GRPC-Web, HTTP_PROXY.
pub fn is_http_protocol(protocol: &str) -> bool {
    matches!(
        protocol.to_ascii_uppercase().as_str(),
        "HTTP" | "HTTP2" | "GRPC" | "GRPC-WEB" | "HTTP_PROXY"
    )
}

impl Server {
    /// `None` when the protocol is missing (istiod's validation requires one).
    pub fn class(&self) -> Option<ServerClass> {
        let protocol = self.protocol.as_deref()?;
        Some(if is_http_protocol(protocol) {
            ServerClass::PlainHttp
        } else if self.has_tls {
            ServerClass::Tls
        } else {
            ServerClass::PlainOther
        })
    }

    /// Whether istiod's MergeGateways can keep this server next to `other` on
    /// the same port and `bind`: plaintext HTTP servers share one route table,
    /// TLS servers share the port when no SNI host repeats; anything else (a
    /// second plaintext TCP server, plaintext next to TLS, HTTP next to TCP) cannot.
    pub fn merges_with(&self, other: &Server) -> bool {
        use crate::semantics::gateway_ref::server_host_name;
        match (self.class(), other.class()) {
            (Some(ServerClass::PlainHttp), Some(ServerClass::PlainHttp)) => true,
            (Some(ServerClass::Tls), Some(ServerClass::Tls)) => !self.hosts.iter().any(|h| {
                let h = server_host_name(&h.value);
                other
                    .hosts
                    .iter()
                    .any(|o| server_host_name(&o.value).eq_ignore_ascii_case(h))
            }),
            _ => false,
        }
    }

    /// Whether the server carries HTTP routes: plaintext HTTP, or HTTPS terminated.
    pub fn serves_http(&self) -> bool {
        let protocol = self.protocol.as_deref().unwrap_or("");
        is_http_protocol(protocol)
            || (protocol.eq_ignore_ascii_case("HTTPS")
                && self.has_tls
                && !matches!(self.tls_mode.as_deref(), Some("PASSTHROUGH" | "AUTO_PASSTHROUGH")))
    }
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
            port_name: port_map
                .and_then(|pm| fields::str_field(pm, "name", &port_at, p))
                .map(str::to_string),
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
            has_tls: tls.is_some(),
            bind: fields::str_field(s, "bind", &here, p)
                .filter(|b| !b.is_empty())
                .map(str::to_string),
            pointer: here,
        });
    }
    spec
}
