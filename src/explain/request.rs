//! The request: a URL (`http://host[:port]/path`, `https://host[:port]/path`,
//! `tcp://host:port`, `tls://host:port`), headers, and the proxy that sends it.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use super::{Client, ExplainError, From};
use crate::model::workload::labels_match;
use crate::model::{Kind, ObjKey};
use crate::view::{ClusterView, Entry, Parsed};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    Http,
    /// HTTP in TLS whose SNI is the host: a gateway terminating it routes the
    /// HTTP; to a sidecar it is opaque TLS.
    Https,
    Tcp,
    Tls,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    pub protocol: Protocol,
    /// As written (lower-cased); the Host header or SNI.
    pub host: String,
    pub port: u32,
    /// Path with query (HTTP only).
    pub path: String,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.protocol {
            Protocol::Http => write!(f, "http://{}:{}{}", self.host, self.port, self.path),
            Protocol::Https => write!(f, "https://{}:{}{}", self.host, self.port, self.path),
            Protocol::Tcp => write!(f, "tcp://{}:{}", self.host, self.port),
            Protocol::Tls => write!(f, "tls://{}:{}", self.host, self.port),
        }
    }
}

const MAX_URL: usize = 4096;

impl Target {
    /// The TLS server name the client sends (`tls://` and `https://`).
    pub fn sni(&self) -> Option<&str> {
        matches!(self.protocol, Protocol::Tls | Protocol::Https).then_some(self.host.as_str())
    }

    /// Parses a URL; `port` overrides the URL's. A URL without a scheme is HTTP.
    pub fn parse(url: &str, port: Option<u32>) -> Result<Target, ExplainError> {
        let bad = |why: &str| ExplainError::BadRequest(format!("URL {url:?}: {why}"));
        if url.len() > MAX_URL {
            return Err(ExplainError::BadRequest(format!("URL longer than {MAX_URL} bytes")));
        }
        let (protocol, rest) = match url.split_once("://") {
            Some(("http", r)) => (Protocol::Http, r),
            Some(("https", r)) => (Protocol::Https, r),
            Some(("tcp", r)) => (Protocol::Tcp, r),
            Some(("tls", r)) => (Protocol::Tls, r),
            Some((s, _)) => return Err(bad(&format!("scheme {s:?} is not http, https, tcp or tls"))),
            None => (Protocol::Http, url),
        };
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, ""),
        };
        let (host, url_port) = match authority.rsplit_once(':') {
            Some((h, p)) => (h, Some(p.parse::<u32>().map_err(|_| bad("the port is not a number"))?)),
            None => (authority, None),
        };
        if host.is_empty() || host.contains(|c: char| c.is_whitespace() || c == '@') {
            return Err(bad("no host"));
        }
        let default_port = if protocol == Protocol::Https { 443 } else { 80 };
        let port = port.or(url_port).unwrap_or(default_port);
        if port == 0 || port > 65535 {
            return Err(bad("the port is out of range"));
        }
        if matches!(protocol, Protocol::Tcp | Protocol::Tls) && port == 80 && url_port.is_none() {
            return Err(bad("tcp:// and tls:// need a port"));
        }
        let path = match (protocol, path) {
            (Protocol::Http | Protocol::Https, "") => "/".to_string(),
            (Protocol::Http | Protocol::Https, p) if p.starts_with('?') => format!("/{p}"),
            (Protocol::Http | Protocol::Https, p) => p.to_string(),
            _ => String::new(),
        };
        Ok(Target {
            protocol,
            host: host.to_ascii_lowercase(),
            port,
            path,
        })
    }
}

/// `-H 'name: value'`.
pub fn parse_header(h: &str) -> Result<(String, String), ExplainError> {
    // A pseudo-header (`:method: POST`) starts with its own colon.
    let split = match h.strip_prefix(':') {
        Some(rest) => rest.split_once(':').map(|(n, v)| (&h[..n.len() + 1], v)),
        None => h.split_once(':'),
    };
    let Some((name, value)) = split else {
        return Err(ExplainError::BadRequest(format!("header {h:?} is not `name: value`")));
    };
    let name = name.trim();
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(ExplainError::BadRequest(format!("header {h:?} has no valid name")));
    }
    Ok((name.to_ascii_lowercase(), value.trim().to_string()))
}

/// The calling proxy and, at a gateway, the Gateways that configure it.
#[derive(Clone, Debug)]
pub struct Caller {
    pub proxy: Client,
    pub gateway: bool,
    /// Gateway mode: the Gateways selecting the workload.
    pub gateways: Vec<Arc<Entry>>,
}

fn split(from: &str) -> Result<(&str, Option<&str>), ExplainError> {
    match from.split_once('/') {
        Some((ns, name)) if !ns.is_empty() && !name.is_empty() && !name.contains('/') => Ok((ns, Some(name))),
        None if !from.is_empty() => Ok((from, None)),
        _ => Err(ExplainError::BadRequest(format!("{from:?} is not NAMESPACE/NAME"))),
    }
}

const WORKLOAD_KINDS: &[Kind] = &[
    Kind::Pod,
    Kind::Deployment,
    Kind::StatefulSet,
    Kind::DaemonSet,
    Kind::ReplicaSet,
    Kind::WorkloadEntry,
];

pub(crate) fn workload<'v>(view: &'v ClusterView, ns: &str, name: &str) -> Option<&'v Arc<Entry>> {
    WORKLOAD_KINDS
        .iter()
        .filter_map(|k| view.get(&ObjKey::new(*k, ns, name)))
        .find(|e| e.workload.is_some())
}

fn client_of(view: &ClusterView, kind: &'static str, e: &Entry) -> Client {
    let w = e.workload.as_ref();
    let resolved = view.workload_proxy(e);
    Client {
        kind,
        namespace: e.object.key.namespace.clone(),
        name: format!("{}/{}", e.object.key.kind, e.object.key.name),
        labels: w.map(|w| w.labels.to_map()).unwrap_or_default(),
        version: resolved.as_ref().and_then(|p| p.version.clone()),
        revision: resolved.map(|p| p.revision),
    }
}

pub fn resolve_client(view: &ClusterView, from: &From) -> Result<Caller, ExplainError> {
    match from {
        From::Proxy {
            namespace,
            labels,
            gateway,
        } => {
            let proxy = Client {
                kind: if *gateway { "gateway" } else { "sidecar" },
                namespace: namespace.clone(),
                name: "proxy".to_string(),
                labels: labels.clone(),
                version: None,
                revision: None,
            };
            let gateways = if *gateway {
                selecting_gateways(view, labels)
            } else {
                Vec::new()
            };
            Ok(Caller {
                proxy,
                gateway: *gateway,
                gateways,
            })
        }
        From::Workload(from) => {
            let (ns, name) = split(from)?;
            let Some(name) = name else {
                return Ok(Caller {
                    proxy: Client {
                        kind: "sidecar",
                        namespace: ns.to_string(),
                        name: format!("any workload in {ns}"),
                        labels: BTreeMap::new(),
                        version: None,
                        revision: None,
                    },
                    gateway: false,
                    gateways: Vec::new(),
                });
            };
            let e = workload(view, ns, name).ok_or_else(|| {
                ExplainError::NotFound(format!(
                    "no Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet or WorkloadEntry {ns}/{name} in the view"
                ))
            })?;
            Ok(Caller {
                proxy: client_of(view, "sidecar", e),
                gateway: false,
                gateways: Vec::new(),
            })
        }
        From::Gateway(from) => {
            let (ns, name) = split(from)?;
            let name =
                name.ok_or_else(|| ExplainError::BadRequest(format!("--gateway {from:?} is not NAMESPACE/NAME")))?;
            if let Some(caller) = gateway_api_caller(view, ns, name) {
                return Ok(caller);
            }
            if let Some(gw) = view.gateway(ns, name) {
                let Parsed::Gateway(spec) = &gw.parsed else {
                    return Err(ExplainError::NotFound(format!("Gateway {ns}/{name} cannot be read")));
                };
                let mut workloads: Vec<&Arc<Entry>> = view.workloads_matching(None, &spec.selector).collect();
                workloads.sort_by(|a, b| a.object.key.cmp(&b.object.key));
                let Some(w) = workloads.first() else {
                    return Err(ExplainError::NotFound(format!(
                        "Gateway {ns}/{name} selects no gateway workload in the view: no proxy serves it (MG0301)"
                    )));
                };
                let proxy = client_of(view, "gateway", w);
                let gateways = selecting_gateways(view, &proxy.labels);
                return Ok(Caller {
                    proxy,
                    gateway: true,
                    gateways,
                });
            }
            let e = workload(view, ns, name).ok_or_else(|| {
                ExplainError::NotFound(format!("no Gateway or gateway workload {ns}/{name} in the view"))
            })?;
            let proxy = client_of(view, "gateway", e);
            let gateways = selecting_gateways(view, &proxy.labels);
            Ok(Caller {
                proxy,
                gateway: true,
                gateways,
            })
        }
    }
}

/// A Gateway API Gateway named as users type it: the Gateway, or the Service or
/// Deployment istiod makes for it (`<name>-istio`). Its proxies carry
/// `gateway.networking.k8s.io/gateway-name: <name>`; without one in the view
/// (files rarely hold what istiod deploys), a proxy with that label stands in.
fn gateway_api_caller(view: &ClusterView, ns: &str, name: &str) -> Option<Caller> {
    let gw = [name, name.strip_suffix("-istio").unwrap_or(name)]
        .into_iter()
        .find(|n| {
            view.get(&crate::model::ObjKey::new(crate::model::Kind::K8sGateway, ns, *n))
                .is_some()
        })?;
    let labels: BTreeMap<String, String> = [("gateway.networking.k8s.io/gateway-name".to_string(), gw.to_string())]
        .into_iter()
        .collect();
    let mut workloads: Vec<&Arc<Entry>> = view.workloads_matching(Some(ns), &labels).collect();
    workloads.sort_by(|a, b| a.object.key.cmp(&b.object.key));
    let proxy = match workloads.first() {
        Some(w) => client_of(view, "gateway", w),
        None => Client {
            kind: "gateway",
            namespace: ns.to_string(),
            name: format!("{gw}-istio"),
            labels: labels.clone(),
            version: None,
            revision: None,
        },
    };
    let gateways = selecting_gateways(view, &proxy.labels);
    Some(Caller {
        proxy,
        gateway: true,
        gateways,
    })
}

/// Gateways (any namespace) whose selector matches the workload's labels.
fn selecting_gateways(view: &ClusterView, labels: &BTreeMap<String, String>) -> Vec<Arc<Entry>> {
    let mut out: Vec<Arc<Entry>> = view
        .entries()
        .filter(|e| match &e.parsed {
            Parsed::Gateway(g) => !g.selector.is_empty() && labels_match(&g.selector, labels),
            _ => false,
        })
        .cloned()
        .collect();
    out.sort_by(|a, b| a.object.key.cmp(&b.object.key));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse_or_fail_clearly() {
        let t = Target::parse("http://reviews:9080/a?b=1", None).unwrap();
        assert_eq!((t.host.as_str(), t.port, t.path.as_str()), ("reviews", 9080, "/a?b=1"));
        let t = Target::parse("Reviews.Default", None).unwrap();
        assert_eq!(
            (t.protocol, t.host.as_str(), t.port, t.path.as_str()),
            (Protocol::Http, "reviews.default", 80, "/")
        );
        assert_eq!(Target::parse("http://r?x", Some(81)).unwrap().path, "/?x");
        assert_eq!(
            Target::parse("tls://api.example.com:443", None).unwrap().protocol,
            Protocol::Tls
        );
        let t = Target::parse("https://Shop.Example.com/cart", None).unwrap();
        assert_eq!(
            (t.protocol, t.host.as_str(), t.port, t.path.as_str(), t.sni()),
            (
                Protocol::Https,
                "shop.example.com",
                443,
                "/cart",
                Some("shop.example.com")
            )
        );
        assert_eq!(Target::parse("http://r/", None).unwrap().sni(), None);
        for bad in [
            "",
            "http://",
            "http://:80/",
            "http://r:x/",
            "http://r:0/",
            "http://r:70000/",
            "gopher://r/",
            "tcp://db",
            "http://a b/",
            "http://user@r/",
        ] {
            assert!(
                matches!(Target::parse(bad, None), Err(ExplainError::BadRequest(_))),
                "{bad:?} should be refused"
            );
        }
        assert!(Target::parse(&format!("http://{}/", "a".repeat(5000)), None).is_err());
    }

    #[test]
    fn headers_need_a_name_and_a_colon() {
        assert_eq!(
            parse_header("End-User:  jason ").unwrap(),
            ("end-user".into(), "jason".into())
        );
        assert_eq!(parse_header("x:").unwrap(), ("x".into(), String::new()));
        assert!(parse_header("novalue").is_err());
        assert!(parse_header(": v").is_err());
        assert!(parse_header("a b: v").is_err());
    }
}
