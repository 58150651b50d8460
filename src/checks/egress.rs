//! The egress path of an external host (product.md §4) — (1) a Gateway serving the
//! host on an egress gateway workload, (2) a mesh-bound VirtualService routing the
//! host to that gateway's Service, (3) a VirtualService bound to the Gateway routing
//! the host onward — and the findings about it: MG0401 (declared but dead) on the
//! ServiceEntry and on the VirtualServices and Gateways of a dead path, MG0402 (no
//! path, or only part of one) on the ServiceEntry.

use std::collections::BTreeSet;
use std::sync::Arc;

use jsonptr::PointerBuf;

use super::{catalog, join, selector_text};
use crate::finding::Finding;
use crate::model::gateway::GatewaySpec;
use crate::model::virtual_service::{Role, VirtualServiceSpec};
use crate::model::workload::labels_match;
use crate::model::ObjKey;
use crate::semantics::gateway_ref::{GatewayRef, ServerHost};
use crate::semantics::host;
use crate::view::{ClusterView, Entry, Parsed};

/// A mesh route sending an external host to another host (an egress gateway's Service).
struct MeshRoute<'v> {
    vs: &'v Arc<Entry>,
    target: String,
    /// The registry entries of the target; empty: not registered (MG0102's case).
    providers: Vec<&'v Arc<Entry>>,
}

/// What the view holds of the egress path of one external host.
struct EgressPath<'v> {
    /// Gateways serving the host, each with whether its selector finds a workload.
    gateways: Vec<(&'v Arc<Entry>, bool)>,
    mesh_routes: Vec<MeshRoute<'v>>,
}

/// Whether a Gateway's selector finds a workload (an empty selector is not judged).
fn has_workload(gw: &GatewaySpec, view: &ClusterView) -> bool {
    gw.selector.is_empty() || view.workloads_matching(None, &gw.selector).next().is_some()
}

/// Whether a server of `gw` names `fqdn` by a host other than the catch-all `*`.
fn serves_by_name(gw: &GatewaySpec, namespace: &str, fqdn: &str) -> bool {
    gw.servers.iter().flat_map(|s| &s.hosts).any(|h| {
        let served = ServerHost::parse(&h.value, namespace).host;
        served != "*" && host::intersect(&served, fqdn)
    })
}

/// The mesh-side routes of `vs` for `fqdn` that send it to another, non-external
/// host: `(destination host pointer, target FQDN, the target's registry entries)`.
fn mesh_targets<'v>(
    vs_entry: &Entry,
    vs: &VirtualServiceSpec,
    fqdn: &str,
    view: &'v ClusterView,
) -> Vec<(PointerBuf, String, Vec<&'v Arc<Entry>>)> {
    let ns = vs_entry.object.key.namespace.as_str();
    let domain = view.cluster_domain();
    let mut out = Vec::new();
    for d in &vs.destinations {
        if d.role == Role::HttpMirror || !vs.applies_to(d.gateways.as_deref()).contains(&"mesh") {
            continue;
        }
        let target = host::resolve(&d.host, ns, domain);
        if target == fqdn {
            continue;
        }
        let providers: Vec<&Arc<Entry>> = view.registry(&target).collect();
        // A route to another external host is a redirect, not an egress gateway.
        if providers
            .iter()
            .any(|p| matches!(&p.parsed, Parsed::ServiceEntry(se) if se.is_mesh_external()))
        {
            continue;
        }
        out.push((d.host_pointer(), target.into_owned(), providers));
    }
    out
}

/// Whether a mesh route's target reaches the egress gateway: a Service among
/// `providers` selects one of the workloads of the path's live Gateways. `None`
/// when it cannot be judged: the target is not registered (MG0102 says so), is a
/// ServiceEntry, or no Gateway of the path has a workload.
fn reaches_gateway(providers: &[&Arc<Entry>], gateways: &[(&Arc<Entry>, bool)], view: &ClusterView) -> Option<bool> {
    let services: Vec<(&str, &std::collections::BTreeMap<String, String>)> = providers
        .iter()
        .filter_map(|p| match &p.parsed {
            Parsed::Service(s) => Some((p.object.key.namespace.as_str(), &s.selector)),
            _ => None,
        })
        .collect();
    if services.is_empty() || services.len() != providers.len() {
        return None;
    }
    let mut judged = false;
    for (g, alive) in gateways {
        let (true, Parsed::Gateway(gw)) = (alive, &g.parsed) else {
            continue;
        };
        for w in view.workloads_matching(None, &gw.selector) {
            judged = true;
            let Some(wl) = &w.workload else { continue };
            if services
                .iter()
                .any(|(ns, sel)| !sel.is_empty() && wl.namespace == *ns && labels_match(sel, &wl.labels))
            {
                return Some(true);
            }
        }
    }
    judged.then_some(false)
}

fn path<'v>(fqdn: &str, view: &'v ClusterView) -> EgressPath<'v> {
    let gateways: Vec<(&Arc<Entry>, bool)> = view
        .gateways_serving_host(fqdn)
        .into_iter()
        .filter_map(|g| match &g.parsed {
            // A catch-all `*` server is an ingress listener, not an egress path for H.
            Parsed::Gateway(gw) if serves_by_name(gw, &g.object.key.namespace, fqdn) => {
                Some((g, has_workload(gw, view)))
            }
            _ => None,
        })
        .collect();
    let mut mesh_routes = Vec::new();
    for vs in mesh_virtual_services_for(fqdn, view) {
        if let Parsed::VirtualService(spec) = &vs.parsed {
            for (_, target, providers) in mesh_targets(vs, spec, fqdn, view) {
                mesh_routes.push(MeshRoute { vs, target, providers });
            }
        }
    }
    EgressPath { gateways, mesh_routes }
}

/// Part (3): whether a VirtualService bound to one of `gateways` declares `fqdn`.
fn routed_onward(gateways: &[(&Arc<Entry>, bool)], fqdn: &str, view: &ClusterView) -> bool {
    let domain = view.cluster_domain();
    gateways.iter().any(|(g, _)| {
        view.gateway_binders(&g.object.key.namespace, &g.object.key.name)
            .any(|vs| match &vs.parsed {
                Parsed::VirtualService(spec) => {
                    let ns = vs.object.key.namespace.as_str();
                    spec.hosts
                        .iter()
                        .any(|h| host::intersect(&host::resolve(&h.value, ns, domain), fqdn))
                }
                _ => false,
            })
    })
}

fn names<'a>(entries: impl IntoIterator<Item = &'a Arc<Entry>>) -> String {
    let set: BTreeSet<String> = entries.into_iter().map(|e| e.object.key.qualified_name()).collect();
    join(set)
}

/// Mesh-bound VirtualServices whose hosts take `fqdn`: the exact host, or a
/// wildcard host covering it (`*.wikipedia.org` for `www.wikipedia.org`).
fn mesh_virtual_services_for<'v>(fqdn: &str, view: &'v ClusterView) -> Vec<&'v Arc<Entry>> {
    let mut out: Vec<&Arc<Entry>> = view.mesh_virtual_services(fqdn).collect();
    if !host::is_wildcard(fqdn) {
        for w in host::covering_wildcards(fqdn) {
            out.extend(view.mesh_virtual_services(&w));
        }
    }
    out
}

/// Whether sidecars never send `fqdn` to its own cluster: mesh VirtualServices
/// declare it, and every mesh route of theirs for it goes to another host (an
/// egress gateway's Service).
pub fn sidecars_route_via_gateway(fqdn: &str, view: &ClusterView) -> bool {
    let domain = view.cluster_domain();
    let mut any = false;
    for vs in mesh_virtual_services_for(fqdn, view) {
        let Parsed::VirtualService(spec) = &vs.parsed else {
            continue;
        };
        let ns = vs.object.key.namespace.as_str();
        for d in &spec.destinations {
            if d.role == Role::HttpMirror || !spec.applies_to(d.gateways.as_deref()).contains(&"mesh") {
                continue;
            }
            if host::resolve(&d.host, ns, domain) == fqdn {
                return false;
            }
            any = true;
        }
    }
    any
}

/// MG0401/MG0402 for one host of a MESH_EXTERNAL ServiceEntry.
pub fn check_external_host(key: &ObjKey, raw_host: &str, at: &PointerBuf, view: &ClusterView, out: &mut Vec<Finding>) {
    let fqdn = host::resolve(raw_host, &key.namespace, view.cluster_domain());
    let p = path(&fqdn, view);
    let mut dead = Vec::new();
    for (g, alive) in &p.gateways {
        if let (false, Parsed::Gateway(gw)) = (alive, &g.parsed) {
            dead.push(format!(
                "egress Gateway {} serves it but its selector {} matches no workload",
                g.object.key.qualified_name(),
                selector_text(&gw.selector)
            ));
        }
    }
    for r in &p.mesh_routes {
        if reaches_gateway(&r.providers, &p.gateways, view) == Some(false) {
            dead.push(format!(
                "mesh VirtualService {} routes it to {}, whose Service selects none of the egress Gateway's workloads",
                r.vs.object.key.qualified_name(),
                r.target
            ));
        }
    }
    if !dead.is_empty() {
        out.push(Finding::new(
            &catalog::MG0401,
            key,
            at.clone(),
            format!(
                "the egress path of {fqdn} is dead: {}; requests to {fqdn} fail with 503 (no healthy upstream at the egress gateway)",
                dead.join("; ")
            ),
        ));
        return;
    }
    let gateways = || p.gateways.iter().map(|(g, _)| *g);
    let missing = match (p.gateways.is_empty(), p.mesh_routes.is_empty()) {
        (true, true) => Some(format!(
            "no egress path: no Gateway serves {fqdn} and no mesh VirtualService routes it to an egress gateway; traffic leaves from the sidecars directly"
        )),
        (false, true) => Some(format!(
            "part of an egress path: Gateway {} serves {fqdn} but no mesh VirtualService routes it to an egress gateway; sidecars still send it directly",
            names(gateways())
        )),
        (true, false) => Some(format!(
            "part of an egress path: mesh VirtualService {} routes {fqdn} to {} but no Gateway serves {fqdn}; the egress gateway has no listener for it",
            names(p.mesh_routes.iter().map(|r| r.vs)),
            join(p.mesh_routes.iter().map(|r| r.target.as_str()).collect::<BTreeSet<_>>())
        )),
        (false, false) if !routed_onward(&p.gateways, &fqdn, view) => Some(format!(
            "part of an egress path: no VirtualService bound to Gateway {} routes {fqdn} onward; the egress gateway answers 404",
            names(gateways())
        )),
        (false, false) => None,
    };
    if let Some(m) = missing {
        let mut f = Finding::new(&catalog::MG0402, key, at.clone(), m);
        // No path at all in a mesh that shows no sign of egress gateways is
        // Istio's default (sidecars egress directly): information, not a warning.
        if p.gateways.is_empty() && p.mesh_routes.is_empty() && !view.uses_egress_gateways() {
            f.severity = crate::finding::Severity::Info;
            f.message.push_str(" (this mesh shows no sign of egress gateways: no egress gateway workload or Gateway, outbound policy ALLOW_ANY)");
        }
        out.push(f);
    }
}

/// The MESH_EXTERNAL ServiceEntries declaring `fqdn`, by name.
fn external_entries(fqdn: &str, view: &ClusterView) -> Option<String> {
    let se: Vec<&Arc<Entry>> = view
        .registry(fqdn)
        .filter(|e| matches!(&e.parsed, Parsed::ServiceEntry(se) if se.is_mesh_external()))
        .collect();
    (!se.is_empty()).then(|| names(se))
}

/// MG0401 on a VirtualService of a dead egress path: it declares an external
/// host and names an egress Gateway that is missing or has no workload, or routes
/// the host from the mesh to a gateway Service that does not exist.
pub fn check_virtual_service(entry: &Entry, vs: &VirtualServiceSpec, view: &ClusterView, out: &mut Vec<Finding>) {
    let key = &entry.object.key;
    let ns = key.namespace.as_str();
    let domain = view.cluster_domain();
    let mut seen = BTreeSet::new();
    for h in &vs.hosts {
        let fqdn = host::resolve(&h.value, ns, domain);
        let Some(ses) = external_entries(&fqdn, view) else {
            continue;
        };
        let mut report = |at: &PointerBuf, why: String| {
            if seen.insert(at.to_string()) {
                out.push(Finding::new(
                    &catalog::MG0401,
                    key,
                    at.clone(),
                    format!("the egress path of external host {fqdn} (ServiceEntry {ses}) is dead: {why}; requests to {fqdn} fail with 503 (no healthy upstream)"),
                ));
            }
        };
        if vs.is_mesh_bound() {
            let gateways = path(&fqdn, view).gateways;
            for (at, target, providers) in mesh_targets(entry, vs, &fqdn, view) {
                if reaches_gateway(&providers, &gateways, view) == Some(false) {
                    report(
                        &at,
                        format!("the mesh route sends it to {target}, whose Service selects none of the egress Gateway's workloads"),
                    );
                }
            }
        }
        // A missing egress Gateway is MG0101; one without a workload is a dead path.
        for g in vs.gateways.iter().chain(&vs.match_gateways) {
            let GatewayRef::Named { namespace, name } = GatewayRef::parse(&g.value, ns) else {
                continue;
            };
            if let Some(Parsed::Gateway(gw)) = view.gateway(&namespace, &name).map(|e| &e.parsed) {
                if !has_workload(gw, view) {
                    report(
                        &g.pointer,
                        format!(
                            "its egress Gateway {namespace}/{name} selects no workload ({})",
                            selector_text(&gw.selector)
                        ),
                    );
                }
            }
        }
    }
}

/// MG0401 on a Gateway whose selector finds no workload (the caller has looked)
/// when it serves an external host.
pub fn check_unserved_gateway(entry: &Entry, gw: &GatewaySpec, view: &ClusterView, out: &mut Vec<Finding>) {
    let key = &entry.object.key;
    for s in &gw.servers {
        for h in &s.hosts {
            let served = ServerHost::parse(&h.value, &key.namespace).host;
            if served == "*" {
                continue;
            }
            if let Some(ses) = external_entries(&served, view) {
                out.push(Finding::new(
                    &catalog::MG0401,
                    key,
                    h.pointer.clone(),
                    format!(
                        "serves external host {served} (ServiceEntry {ses}) as an egress gateway, but its selector {} matches no workload: the egress path is dead and requests to {served} fail with 503 (no healthy upstream)",
                        selector_text(&gw.selector)
                    ),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests;
