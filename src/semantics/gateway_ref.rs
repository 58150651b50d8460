//! Gateway names as VirtualServices write them, and Gateway server hosts.

use super::host;

/// What a VirtualService `gateways` entry names.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GatewayRef {
    /// The reserved name `mesh`: all sidecars.
    Mesh,
    Named {
        namespace: String,
        name: String,
    },
}

impl GatewayRef {
    /// `mesh`; `ns/name`; `./name` (own namespace); a dotted name is the legacy
    /// FQDN form `name.ns.svc.cluster.local` → `ns/name`; a plain name is in the
    /// VirtualService's own namespace. (istiod's `resolveGatewayName`.)
    pub fn parse(raw: &str, own_namespace: &str) -> GatewayRef {
        if raw == "mesh" {
            return GatewayRef::Mesh;
        }
        if let Some((ns, name)) = raw.split_once('/') {
            let ns = if ns == "." { own_namespace } else { ns };
            return GatewayRef::Named {
                namespace: ns.to_string(),
                name: name.to_string(),
            };
        }
        let mut labels = raw.split('.');
        match (labels.next(), labels.next()) {
            (Some(name), Some(ns)) => GatewayRef::Named {
                namespace: ns.to_string(),
                name: name.to_string(),
            },
            _ => GatewayRef::Named {
                namespace: own_namespace.to_string(),
                name: raw.to_string(),
            },
        }
    }
}

impl std::fmt::Display for GatewayRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            GatewayRef::Mesh => f.write_str("mesh"),
            GatewayRef::Named { namespace, name } => write!(f, "{namespace}/{name}"),
        }
    }
}

/// A Gateway server host `ns/host`: which VirtualService namespaces may bind it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServerHost {
    /// `None` = any namespace (`*/host` or a bare host).
    pub namespace: Option<String>,
    pub host: String,
}

/// The host part of a Gateway server host `namespace/host` (the SNI name a TLS
/// server matches, the name the view indexes servers by).
pub fn server_host_name(raw: &str) -> &str {
    raw.split_once('/').map_or(raw, |(_, h)| h)
}

impl ServerHost {
    pub fn parse(raw: &str, gateway_namespace: &str) -> ServerHost {
        match raw.split_once('/') {
            Some(("*", h)) => ServerHost {
                namespace: None,
                host: h.to_string(),
            },
            Some((".", h)) => ServerHost {
                namespace: Some(gateway_namespace.to_string()),
                host: h.to_string(),
            },
            Some((ns, h)) => ServerHost {
                namespace: Some(ns.to_string()),
                host: h.to_string(),
            },
            None => ServerHost {
                namespace: None,
                host: raw.to_string(),
            },
        }
    }

    /// Whether a VirtualService in `vs_namespace` with host `vs_host` binds here.
    pub fn admits(&self, vs_namespace: &str, vs_host: &str) -> bool {
        self.namespace.as_deref().is_none_or(|ns| ns == vs_namespace) && host::intersect(&self.host, vs_host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named(ns: &str, name: &str) -> GatewayRef {
        GatewayRef::Named {
            namespace: ns.into(),
            name: name.into(),
        }
    }

    #[test]
    fn gateway_name_forms() {
        assert_eq!(GatewayRef::parse("mesh", "app"), GatewayRef::Mesh);
        assert_eq!(
            GatewayRef::parse("istio-system/public", "app"),
            named("istio-system", "public")
        );
        assert_eq!(GatewayRef::parse("./public", "app"), named("app", "public"));
        assert_eq!(GatewayRef::parse("public", "app"), named("app", "public"));
        assert_eq!(
            GatewayRef::parse("public.istio-system.svc.cluster.local", "app"),
            named("istio-system", "public")
        );
        assert_eq!(named("a", "b").to_string(), "a/b");
    }

    #[test]
    fn server_host_namespaces() {
        let any = ServerHost::parse("*/bookinfo.com", "gw");
        assert!(any.admits("x", "bookinfo.com"));
        let bare = ServerHost::parse("bookinfo.com", "gw");
        assert!(bare.admits("x", "bookinfo.com"));
        let dot = ServerHost::parse("./bookinfo.com", "gw");
        assert!(dot.admits("gw", "bookinfo.com"));
        assert!(!dot.admits("x", "bookinfo.com"));
        let ns = ServerHost::parse("prod/*.example.com", "gw");
        assert!(ns.admits("prod", "a.example.com"));
        assert!(!ns.admits("dev", "a.example.com"));
        assert!(!ns.admits("prod", "example.org"));
        assert!(ServerHost::parse("*", "gw").admits("any", "anything.com"));
    }
}
