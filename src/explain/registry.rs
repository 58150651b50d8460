//! The registry a proxy sees: Services and ServiceEntries exported to its
//! namespace and (sidecars) admitted by its Sidecar's egress hosts.

use std::sync::Arc;

use crate::model::sidecar::SidecarSpec;
use crate::model::workload::labels_match;
use crate::model::Kind;
use crate::semantics::host;
use crate::view::{ClusterView, Entry, Parsed};

pub use crate::view::RegistryPort as Port;

#[derive(Clone, Debug)]
pub struct Registered {
    pub entry: Arc<Entry>,
    pub host: String,
    pub ports: Vec<Port>,
    /// The cluster IP or the ServiceEntry's first address.
    pub address: Option<String>,
}

impl Registered {
    pub fn port(&self, number: u32) -> Option<&Port> {
        self.ports.iter().find(|p| p.number == number)
    }

    /// The Host values that reach it (istiod's `generateVirtualHostDomains`
    /// with ports ignored: the FQDN, short forms for a Kubernetes host, the address).
    pub fn domains(&self, proxy_ns: &str, cluster_domain: &str) -> Vec<String> {
        let mut out = vec![self.host.clone()];
        let suffix = format!(".svc.{cluster_domain}");
        if let Some(base) = self.host.strip_suffix(&suffix) {
            if let Some((name, ns)) = base.split_once('.') {
                if ns == proxy_ns {
                    out.push(name.to_string());
                }
                out.push(base.to_string());
                out.push(format!("{base}.svc"));
            }
        }
        out.extend(self.address.clone());
        out
    }
}

/// A Sidecar's egress scope.
pub struct Scope {
    pub name: String,
    namespace: String,
    hosts: Vec<(String, String)>,
}

impl Scope {
    /// Whether an object of `namespace` for `host` is in scope (`ns/host`
    /// entries: `*` any namespace, `.` the Sidecar's, `~` none).
    pub fn admits(&self, namespace: &str, h: &str) -> bool {
        self.hosts.is_empty()
            || self.hosts.iter().any(|(ns, pattern)| {
                let ns_ok = match ns.as_str() {
                    "*" => true,
                    "." => namespace == self.namespace,
                    "~" => false,
                    n => n == namespace,
                };
                ns_ok && (pattern == "*" || pattern == h || host::wildcard_covers(pattern, h))
            })
    }
}

/// The Sidecar that scopes a workload: one selecting it, else its namespace's
/// default, else the root namespace's.
pub fn sidecar_scope(
    view: &ClusterView,
    namespace: &str,
    labels: &std::collections::BTreeMap<String, String>,
) -> Option<Scope> {
    let spec = |e: &Arc<Entry>| match &e.parsed {
        Parsed::Sidecar(s) => Some(s.clone()),
        _ => None,
    };
    let mut selecting: Vec<&Arc<Entry>> = view
        .selecting_sidecars(namespace)
        .filter(
            |e| matches!(&e.parsed, Parsed::Sidecar(s) if s.selector().is_some_and(|sel| labels_match(sel, labels))),
        )
        .collect();
    selecting.sort_by(|a, b| a.object.key.cmp(&b.object.key));
    let chosen = selecting
        .first()
        .copied()
        .or_else(|| first(view.default_sidecars(namespace)))
        .or_else(|| first(view.default_sidecars(&view.mesh().root_namespace)))?;
    let s: SidecarSpec = *spec(chosen)?;
    let own = chosen.object.key.namespace.clone();
    Some(Scope {
        name: format!("Sidecar/{}/{}", own, chosen.object.key.name),
        hosts: s
            .egress_hosts
            .iter()
            .filter_map(|h| h.value.split_once('/'))
            .map(|(n, h)| {
                // `.` in the root namespace's default Sidecar means the workload's own.
                let n = if n == "." { namespace } else { n };
                (n.to_string(), h.to_string())
            })
            .collect(),
        namespace: namespace.to_string(),
    })
}

fn first<'a>(it: impl Iterator<Item = &'a Arc<Entry>>) -> Option<&'a Arc<Entry>> {
    it.min_by(|a, b| a.object.key.cmp(&b.object.key))
}

/// Every registry host visible from `namespace`, narrowed by `scope`.
pub fn visible(view: &ClusterView, namespace: &str, scope: Option<&Scope>) -> Vec<Registered> {
    let domain = view.cluster_domain();
    let mut out = Vec::new();
    let mut entries: Vec<&Arc<Entry>> = view
        .entries()
        .filter(|e| matches!(e.object.key.kind, Kind::Service | Kind::ServiceEntry))
        .collect();
    entries.extend(view.registry(&host::service_fqdn("kubernetes", "default", domain)));
    // Remote clusters' Services after this cluster's: on the same key, the
    // local one is kept (the stable sort keeps their order).
    entries.extend(view.remote_services());
    entries.sort_by(|a, b| a.object.key.cmp(&b.object.key));
    entries.dedup_by(|a, b| a.object.key == b.object.key);
    for e in entries {
        if !view.export_to(e).visible_to(namespace) {
            continue;
        }
        let ns = e.object.key.namespace.as_str();
        let address = match &e.parsed {
            Parsed::Service(s) => s.cluster_ip.clone().filter(|ip| ip != "None"),
            Parsed::ServiceEntry(se) => se.addresses.first().cloned(),
            _ => continue,
        };
        let ports = e.registry_ports();
        for h in e.provided_hosts(domain) {
            if scope.is_some_and(|s| !s.admits(ns, &h)) {
                continue;
            }
            out.push(Registered {
                entry: e.clone(),
                host: h,
                ports: ports.clone(),
                address: address.clone(),
            });
        }
    }
    out
}
