//! The Envoy objects a VirtualService's routes land in, named as `istioctl
//! proxy-config routes` shows them, for findings to say where to look.

use std::collections::BTreeSet;

use crate::model::virtual_service::VirtualServiceSpec;
use crate::semantics::envoy_names;
use crate::semantics::host;
use crate::view::{ClusterView, Entry};

/// Route configurations that get virtual hosts from this VirtualService's
/// hosts: at each bound Gateway that exists, `http.<port>` for its plaintext
/// HTTP servers and `https.<port>.<name>.<gateway>.<namespace>` for the HTTPS
/// ones it terminates, admitting a host; at sidecars (mesh-bound), one per
/// HTTP port of the registry hosts it names.
pub fn route_configs(entry: &Entry, vs: &VirtualServiceSpec, view: &ClusterView) -> BTreeSet<String> {
    let ns = entry.object.key.namespace.as_str();
    let named: Vec<&str> = vs.gateways.iter().map(|g| g.value.as_str()).collect();
    let mut out: BTreeSet<String> = super::admitting_http_servers(ns, vs, &named, view)
        .into_iter()
        .filter(|(_, _, s)| s.bind.is_none())
        .filter_map(|(gw_ns, gw_name, s)| {
            let port = s.port?;
            Some(if s.has_tls {
                envoy_names::gateway_https_route_config(port, s.port_name.as_deref().unwrap_or(""), &gw_name, &gw_ns)
            } else {
                envoy_names::gateway_http_route_config(port)
            })
        })
        .collect();
    if vs.is_mesh_bound() {
        out.extend(
            host_http_ports(vs, ns, view)
                .into_iter()
                .map(envoy_names::sidecar_route_config),
        );
    }
    out
}

/// The HTTP ports of the registry hosts a VirtualService names.
pub fn host_http_ports(vs: &VirtualServiceSpec, ns: &str, view: &ClusterView) -> BTreeSet<u32> {
    let domain = view.cluster_domain();
    vs.hosts
        .iter()
        .flat_map(|h| view.registry(&host::resolve(&h.value, ns, domain)))
        .flat_map(|e| e.http_ports())
        .collect()
}

/// ` (route configuration 80, http.8080)`, or nothing when none is known.
pub fn in_route_configs(configs: &BTreeSet<String>) -> String {
    match configs.len() {
        0 => String::new(),
        1 => format!(" (route configuration {})", crate::checks::join(configs)),
        _ => format!(" (route configurations {})", crate::checks::join(configs)),
    }
}
