//! VirtualService checks: MG0101–MG0112.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::{catalog, join};
use crate::finding::{Finding, Referent, Severity};
use crate::model::fields::child;
use crate::model::virtual_service::{Destination, Role, VirtualServiceSpec};
use crate::model::{Kind, ObjKey};
use crate::semantics::gateway_ref::{GatewayRef, ServerHost};
use crate::semantics::{envoy_names, host};
use crate::view::{ClusterView, Entry, Parsed};

pub fn check(entry: &Entry, vs: &VirtualServiceSpec, view: &ClusterView, out: &mut Vec<Finding>) {
    let key = &entry.object.key;
    let ns = key.namespace.as_str();
    let domain = view.cluster_domain();
    let export_to = view.export_to(entry);
    let clients = export_to.client_namespaces(ns);

    let hosts = join(vs.hosts.iter().map(|h| h.value.as_str()));
    // MG0101 and MG0106: gateways.
    for g in vs.gateways.iter().chain(&vs.match_gateways) {
        let GatewayRef::Named { namespace, name } = GatewayRef::parse(&g.value, ns) else {
            continue;
        };
        // A Gateway istiod generates from a Gateway API listener exists
        // exactly when that listener is programmed (product.md §4).
        if super::gateway_api::generated_gateway_programmed(view, &namespace, &name) == Some(true) {
            continue;
        }
        match view.gateway(&namespace, &name) {
            None => out.push(
                Finding::new(
                    &catalog::MG0101,
                    key,
                    g.pointer.clone(),
                    if vs.hosts.is_empty() {
                        format!("gateway \"{namespace}/{name}\" not found: its routes are not served at that gateway (404 NR)")
                    } else {
                        format!(
                            "gateway \"{namespace}/{name}\" not found: its routes are not served at that gateway \
                             (404 NR: no gateway route configuration gets a virtual host for {hosts})"
                        )
                    },
                )
                .with_referent(ObjKey::new(Kind::Gateway, namespace.clone(), name.clone())),
            ),
            Some(gw) => {
                let is_spec_gateway = vs.gateways.iter().any(|s| std::ptr::eq(s, g));
                if is_spec_gateway && !vs.hosts.is_empty() {
                    check_binding(entry, vs, gw, &g.pointer, out);
                }
            }
        }
    }

    for d in &vs.destinations {
        check_destination(entry, vs, d, &clients, view, out);
    }

    super::egress::check_virtual_service(entry, vs, view, out);
    claims::check(entry, vs, view, out);
    check_reachability(entry, vs, out);
    check_weights(entry, vs, domain, out);
    if !vs.is_mesh_bound() {
        check_subset_consistency(entry, vs, view, out);
    }

    // MG0107: delegates.
    let route_configs = if vs.delegates.is_empty() {
        Default::default()
    } else {
        envoy::route_configs(entry, vs, view)
    };
    let missing_delegate = |d: &crate::model::virtual_service::Delegate| {
        view.virtual_service(d.namespace.as_deref().unwrap_or(ns), &d.name)
            .is_none()
    };
    // What istiod serves once the delegating routes are dropped.
    let routes_left = vs.rules.iter().filter(|r| r.section == "http").count()
        > vs.delegates.iter().filter(|d| missing_delegate(d)).count();
    let fallback = if routes_left {
        "the requests it would take go to the next route that matches them".to_string()
    } else {
        let mut then = Vec::new();
        if vs.is_mesh_bound() {
            then.push("sidecars send its hosts' requests to their default route (none of this VirtualService's rules)");
        }
        if vs.gateways.iter().any(|g| g.value != "mesh") {
            then.push("its gateways get no virtual host for them (404 NR)");
        }
        format!("no route is left: {}", then.join("; "))
    };
    for d in &vs.delegates {
        let dns = d.namespace.as_deref().unwrap_or(ns);
        if missing_delegate(d) {
            out.push(
                Finding::new(
                    &catalog::MG0107,
                    key,
                    child(&d.pointer, "name"),
                    format!(
                        "delegate VirtualService \"{dns}/{}\" not found: istiod drops the delegating route from the virtual hosts of {hosts}{}; \
                         {fallback}",
                        d.name,
                        envoy::in_route_configs(&route_configs)
                    ),
                )
                .with_referent(ObjKey::new(Kind::VirtualService, dns, d.name.clone())),
            );
        }
    }

    // MG0108: another mesh-bound VirtualService with the same host.
    if vs.is_mesh_bound() {
        for h in &vs.hosts {
            let fqdn = host::resolve(&h.value, ns, domain);
            let others: Vec<&Arc<Entry>> = view
                .mesh_virtual_services(&fqdn)
                .filter(|o| o.object.key != *key && view.export_to(o).overlaps(&export_to))
                .collect();
            if !others.is_empty() {
                let names = join(others.iter().map(|o| o.object.key.qualified_name()));
                let ports: BTreeSet<u32> = view.registry(&fqdn).flat_map(|e| e.http_ports()).collect();
                let where_ = match ports.first() {
                    Some(&p) => format!(
                        " (virtual host {} in route configuration {})",
                        envoy_names::virtual_host(&fqdn, p),
                        envoy_names::sidecar_route_config(p)
                    ),
                    None => String::new(),
                };
                out.push(Finding::new(
                    &catalog::MG0108,
                    key,
                    h.pointer.clone(),
                    format!(
                        "host {fqdn} is also defined by mesh VirtualService {names} in an overlapping exportTo scope; \
                         sidecars use only one of them and drop the other's routes{where_}: merge the routes into one VirtualService"
                    ),
                ));
            }
        }
    }
}

/// MG0109: a rule of `http[]`, `tls[]` or `tcp[]` after a rule of the same list
/// that matches everything, or whose every match entry an earlier rule of the
/// list already has (then the earlier rules take all its traffic).
fn check_reachability(entry: &Entry, vs: &VirtualServiceSpec, out: &mut Vec<Finding>) {
    for section in ["http", "tls", "tcp"] {
        let mut catch_all: Option<usize> = None;
        let mut seen: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
        for (i, rule) in vs.rules.iter().filter(|r| r.section == section).enumerate() {
            let why = if let Some(k) = catch_all {
                Some(format!("{section}[{k}] before it matches every request"))
            } else if !rule.match_keys.is_empty() {
                let earlier: Option<BTreeSet<usize>> =
                    rule.match_keys.iter().map(|m| seen.get(m.as_str()).copied()).collect();
                earlier.map(|e| {
                    let names: Vec<String> = e.iter().map(|k| format!("{section}[{k}]")).collect();
                    if rule.match_keys.len() == 1 {
                        format!("{} has the same match", join(&names))
                    } else {
                        format!("each of its match entries is already in {}", join(&names))
                    }
                })
            } else {
                None
            };
            if let Some(why) = why {
                out.push(Finding::new(
                    &catalog::MG0109,
                    &entry.object.key,
                    rule.pointer.clone(),
                    format!("this route rule can never match: {why}, so its routes are never used"),
                ));
            }
            for m in &rule.match_keys {
                seen.entry(m).or_insert(i);
            }
            if rule.catch_all && catch_all.is_none() {
                catch_all = Some(i);
            }
        }
    }
}

/// MG0110: a lone destination with a weight under 100, or one destination twice.
fn check_weights(entry: &Entry, vs: &VirtualServiceSpec, domain: &str, out: &mut Vec<Finding>) {
    let ns = entry.object.key.namespace.as_str();
    let mut lists: std::collections::BTreeMap<String, Vec<&Destination>> = std::collections::BTreeMap::new();
    for d in vs.destinations.iter().filter(|d| d.role != Role::HttpMirror) {
        if let Some(list) = d.route_list() {
            lists.entry(list.to_string()).or_default().push(d);
        }
    }
    for dests in lists.values() {
        if let [only] = dests.as_slice() {
            if let (Some(w), Some(at)) = (only.weight, only.weight_pointer()) {
                if w < 100 {
                    out.push(Finding::new(
                        &catalog::MG0110,
                        &entry.object.key,
                        at,
                        format!("the only destination has weight {w}: istiod sends it all traffic (weight 100) anyway"),
                    ));
                }
            }
            continue;
        }
        let mut seen = BTreeSet::new();
        for d in dests {
            let id = (
                host::resolve(&d.host, ns, domain).into_owned(),
                d.subset.clone(),
                d.port,
            );
            if !seen.insert(id) {
                out.push(Finding::new(
                    &catalog::MG0110,
                    &entry.object.key,
                    d.pointer.clone(),
                    format!(
                        "{}{} appears twice in this route: merge the entries and their weights",
                        d.host,
                        d.subset.as_deref().map(|s| format!(" subset {s}")).unwrap_or_default()
                    ),
                ));
            }
        }
    }
}

/// MG0111: a gateway route to a host without subset while another VirtualService
/// splits that host by subsets: gateway traffic skips the split.
fn check_subset_consistency(entry: &Entry, vs: &VirtualServiceSpec, view: &ClusterView, out: &mut Vec<Finding>) {
    let key = &entry.object.key;
    let domain = view.cluster_domain();
    for d in vs
        .destinations
        .iter()
        .filter(|d| d.subset.is_none() && d.role != Role::HttpMirror)
    {
        let fqdn = host::resolve(&d.host, &key.namespace, domain);
        let splitting: Vec<String> =
            view.host_referrers(&fqdn)
                .filter(|o| o.object.key != *key)
                .filter(|o| match &o.parsed {
                    Parsed::VirtualService(ovs) => ovs.destinations.iter().any(|od| {
                        od.subset.is_some() && host::resolve(&od.host, &o.object.key.namespace, domain) == fqdn
                    }),
                    _ => false,
                })
                .map(|o| o.object.key.qualified_name())
                .collect();
        if !splitting.is_empty() {
            out.push(Finding::new(
                &catalog::MG0111,
                key,
                d.host_pointer(),
                format!(
                    "{fqdn} is routed by subset in {}, but this gateway route names no subset: its traffic ignores that split",
                    join(&splitting)
                ),
            ));
        }
    }
}

/// MG0106: none of the VirtualService's hosts is served by the bound Gateway.
fn check_binding(entry: &Entry, vs: &VirtualServiceSpec, gw: &Entry, at: &jsonptr::Pointer, out: &mut Vec<Finding>) {
    let Parsed::Gateway(spec) = &gw.parsed else {
        return;
    };
    let ns = entry.object.key.namespace.as_str();
    let gw_ns = gw.object.key.namespace.as_str();
    let server_hosts: Vec<ServerHost> = spec
        .servers
        .iter()
        .flat_map(|s| &s.hosts)
        .map(|h| ServerHost::parse(&h.value, gw_ns))
        .collect();
    let served = vs
        .hosts
        .iter()
        .any(|h| server_hosts.iter().any(|sh| sh.admits(ns, &h.value)));
    if !served {
        let written: BTreeSet<&str> = spec
            .servers
            .iter()
            .flat_map(|s| &s.hosts)
            .map(|h| h.value.as_str())
            .collect();
        out.push(Finding::new(
            &catalog::MG0106,
            &entry.object.key,
            at.to_buf(),
            format!(
                "gateway \"{}\" serves none of this VirtualService's hosts [{}] for namespace {ns} (server hosts: [{}]); \
                 requests for these hosts get 404 there",
                gw.object.key.qualified_name(),
                join(vs.hosts.iter().map(|h| h.value.as_str())),
                join(written)
            ),
        ));
    }
}

/// MG0102–MG0105 for one destination.
fn check_destination(
    entry: &Entry,
    vs: &VirtualServiceSpec,
    d: &Destination,
    clients: &[String],
    view: &ClusterView,
    out: &mut Vec<Finding>,
) {
    let key = &entry.object.key;
    let ns = key.namespace.as_str();
    let domain = view.cluster_domain();
    let fqdn = host::resolve(&d.host, ns, domain);
    let all: Vec<&Arc<Entry>> = view.registry(&fqdn).collect();
    let visible: Vec<&Arc<Entry>> = all
        .iter()
        .copied()
        .filter(|e| {
            let ex = view.export_to(e);
            clients.iter().any(|c| ex.visible_to(c))
        })
        .collect();

    if visible.is_empty() {
        let mut f = Finding::new(&catalog::MG0102, key, d.host_pointer(), String::new());
        if let Some(hidden) = all.first() {
            f.message = format!(
                "host {fqdn} is declared by {} but not exported to namespace {} (exportTo: {}): these clients have no cluster for it, so requests get 503 NC",
                hidden.object.key,
                join(clients),
                view.export_to(hidden).describe()
            );
        } else if let Some((pattern, se)) = (!host::is_wildcard(&fqdn))
            .then(|| {
                // Only a wildcard entry the clients can see makes this a warning.
                view.covering_registry(&fqdn).into_iter().find(|(_, se)| {
                    let ex = view.export_to(se);
                    clients.iter().any(|c| ex.visible_to(c))
                })
            })
            .flatten()
        {
            f.message = format!(
                "host {fqdn} is covered only by wildcard host {pattern} of {}: istiod builds no cluster for {fqdn}, \
                 so this route fails; add {fqdn} to a ServiceEntry's hosts",
                se.object.key
            );
            f.severity = Severity::Warning;
        } else {
            f.message = format!(
                "host {fqdn} matches no Service or ServiceEntry: istiod builds no cluster for it (outbound|{}|{}|{fqdn}), so requests get 503 NC",
                d.port.map_or("<port>".to_string(), |p| p.to_string()),
                d.subset.as_deref().unwrap_or("")
            );
            // The Service a cluster host names, else any ServiceEntry declaring it.
            f.referent = Some(match host::service_of(&fqdn, domain) {
                Some((ns, name)) => Referent::Object(ObjKey::new(Kind::Service, ns, name)),
                None => Referent::AnyOf {
                    kind: Kind::ServiceEntry,
                    namespaces: Vec::new(),
                },
            });
            if d.host.contains('.') && !host::is_cluster_host(&d.host, domain) {
                let expanded = format!("{}.svc.{domain}", d.host);
                if view.registry(&expanded).next().is_some() {
                    f.message.push_str(&format!(
                        "; a host with a dot is not expanded: did you mean {expanded}?"
                    ));
                }
            }
            if !host::is_cluster_host(&fqdn, domain) && view.mesh().outbound_allow_any {
                f.message.push_str(
                    "; MeshConfig outboundTrafficPolicy ALLOW_ANY lets unknown external hosts pass through, \
                     but this route has no cluster to send to",
                );
                f.severity = Severity::Warning;
            }
        }
        out.push(f);
        // The subset is judged all the same: the rules istiod would look up are
        // those of the clients, of the namespace the host names, and of the root.
        if d.subset.is_some() {
            let mut namespaces: Vec<String> = host::service_of(&fqdn, domain)
                .map(|(ns, _)| ns.to_string())
                .into_iter()
                .collect();
            namespaces.push(view.mesh().root_namespace.clone());
            check_subset(entry, d, &fqdn, clients, &namespaces, view, out);
        }
        return;
    }

    // MG0113: only remote clusters serve the host: valid, said for the reader;
    // unless the host is cluster-local, where istiod sends this cluster's
    // endpoints only (none).
    if view.local_registry(&fqdn).next().is_none() {
        let remote = view.remote_clusters_serving(&fqdn);
        if !remote.is_empty() {
            let clusters = format!(
                "remote cluster{} {}",
                if remote.len() == 1 { "" } else { "s" },
                join(&remote)
            );
            let mut f = Finding::new(
                &catalog::MG0113,
                key,
                d.host_pointer(),
                format!("host {fqdn} is served only by {clusters}: istiod sends these requests there"),
            );
            if crate::semantics::cluster_local::is_cluster_local(view.mesh(), &fqdn, domain) {
                f.severity = Severity::Warning;
                f.message = format!(
                    "host {fqdn} is served only by {clusters}, and it is cluster-local (MeshConfig serviceSettings, or istiod's defaults: kube-system, kubernetes.default, istiod): \
                     istiod sends these clients this cluster's endpoints only, and there are none, so requests get 503 UH (no healthy upstream)"
                );
            }
            out.push(f);
        }
    }

    // MG0104 / MG0105: ports. An update of the host's entry (in the same batch)
    // may add the port: the entry is the referent.
    let ports: BTreeSet<u32> = visible.iter().flat_map(|e| e.ports()).collect();
    let declared_by = visible[0].object.key.clone();
    match d.port {
        Some(p) if !ports.is_empty() && !ports.contains(&p) => out.push(
            Finding::new(
                &catalog::MG0104,
                key,
                d.port_pointer(),
                format!(
                    "port {p} is not a port of {fqdn} (ports: {}): cluster outbound|{p}|{}|{fqdn} does not exist, so requests get 503 NC",
                    join(ports.iter().map(u32::to_string)),
                    d.subset.as_deref().unwrap_or("")
                ),
            )
            .with_referent(declared_by),
        ),
        None if d.role == Role::HttpRoute => {
            sidecar_port(entry, vs, d, &fqdn, &ports, view, out);
            if ports.len() < 2 {
                return check_subset_of_visible(entry, d, &fqdn, clients, &visible, view, out);
            }
            // Sidecars use the port the client called; a Gateway uses its server's.
            let missing: BTreeSet<(String, u32)> = gateway_server_ports(entry, vs, d, view)
                .into_iter()
                .filter(|(_, p)| !ports.contains(p))
                .collect();
            if let Some((gw, p)) = missing.first() {
                out.push(
                    Finding::new(
                        &catalog::MG0105,
                        key,
                        d.pointer.clone(),
                        format!(
                            "no port named, and {fqdn} has several ({}): at gateway {gw} istiod sends this route to the server's port {p}, \
                             which {fqdn} does not have; cluster outbound|{p}|{}|{fqdn} does not exist, so requests get 503 NC: name a port with port.number",
                            join(ports.iter().map(u32::to_string)),
                            d.subset.as_deref().unwrap_or("")
                        ),
                    )
                    .with_referent(declared_by),
                );
            }
        }
        _ => {}
    }

    check_subset_of_visible(entry, d, &fqdn, clients, &visible, view, out);
}

/// MG0103 for a destination whose host resolves: the subset is looked up from
/// the clients, then in the namespaces declaring the host.
fn check_subset_of_visible(
    entry: &Entry,
    d: &Destination,
    fqdn: &str,
    clients: &[String],
    visible: &[&Arc<Entry>],
    view: &ClusterView,
    out: &mut Vec<Finding>,
) {
    let dest_namespaces: Vec<String> = visible
        .iter()
        .map(|e| e.object.key.namespace.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    check_subset(entry, d, fqdn, clients, &dest_namespaces, view, out);
}

/// The ports sidecars call a host on with HTTP: its registry entries' HTTP or
/// sniffed ports.
fn http_listener_ports(hosts: &[String], view: &ClusterView) -> BTreeSet<u32> {
    let mut out = BTreeSet::new();
    for h in hosts.iter().filter(|h| !host::is_wildcard(h)) {
        for e in view.registry(h) {
            match &e.parsed {
                Parsed::Service(s) => out.extend(
                    s.ports
                        .iter()
                        .filter(|p| {
                            !p.protocol.as_deref().is_some_and(|k| k == "UDP" || k == "SCTP")
                                && crate::model::service::http_capable(p.name.as_deref(), p.app_protocol.as_deref())
                        })
                        .map(|p| p.port),
                ),
                Parsed::ServiceEntry(se) => out.extend(
                    se.ports
                        .iter()
                        .filter(|p| crate::model::service::http_capable(p.name.as_deref(), p.protocol.as_deref()))
                        .map(|p| p.number),
                ),
                _ => {}
            }
        }
    }
    out
}

/// MG0104 for a sidecar route that names no port: istiod's sidecar routes keep
/// the port the request came in on (the route configuration's services are
/// those with that port, so a destination without it has no cluster there).
/// Every HTTP port of the VirtualService's hosts missing on the destination:
/// an error; some: a warning naming them.
fn sidecar_port(
    entry: &Entry,
    vs: &VirtualServiceSpec,
    d: &Destination,
    fqdn: &str,
    dest_ports: &BTreeSet<u32>,
    view: &ClusterView,
    out: &mut Vec<Finding>,
) {
    if dest_ports.is_empty() || !vs.applies_to(d.gateways.as_deref()).contains(&"mesh") {
        return;
    }
    let ns = entry.object.key.namespace.as_str();
    let domain = view.cluster_domain();
    let mut hosts: Vec<String> = vs
        .hosts
        .iter()
        .map(|h| host::resolve(&h.value, ns, domain).into_owned())
        .collect();
    // A delegate has no hosts: its routes serve those of the mesh-bound
    // VirtualServices delegating to it (istiod's generator, tests/oracle.rs).
    if vs.hosts.is_empty() {
        for root in view.delegators(ns, &entry.object.key.name) {
            if let Parsed::VirtualService(r) = &root.parsed {
                if r.is_mesh_bound() {
                    let rns = root.object.key.namespace.as_str();
                    hosts.extend(
                        r.hosts
                            .iter()
                            .map(|h| host::resolve(&h.value, rns, domain).into_owned()),
                    );
                }
            }
        }
    }
    let listener_ports = http_listener_ports(&hosts, view);
    let missing: Vec<u32> = listener_ports
        .iter()
        .copied()
        .filter(|p| !dest_ports.contains(p))
        .collect();
    let Some(first) = missing.first() else { return };
    let all = missing.len() == listener_ports.len();
    let f = Finding::new(
        &catalog::MG0104,
        &entry.object.key,
        d.pointer.clone(),
        format!(
            "no port named, so sidecars keep the port the request came in on ({}), which {fqdn} does not have (ports: {}): cluster outbound|{first}|{}|{fqdn} does not exist, so {} get 503 NC: name a port with port.number",
            join(missing.iter().map(u32::to_string)),
            join(dest_ports.iter().map(u32::to_string)),
            d.subset.as_deref().unwrap_or(""),
            if all { "requests" } else { "requests on those ports" }
        ),
    );
    out.push(if all { f } else { f.with_severity(Severity::Warning) });
}

/// MG0103: the destination's subset must be defined by a DestinationRule that
/// istiod's lookup finds for the host from the client namespaces.
fn check_subset(
    entry: &Entry,
    d: &Destination,
    fqdn: &str,
    clients: &[String],
    dest_namespaces: &[String],
    view: &ClusterView,
    out: &mut Vec<Finding>,
) {
    let Some(subset) = &d.subset else { return };
    let mut seen_rules = BTreeSet::new();
    let mut defined = false;
    let mut order_dependent: Option<(String, String)> = None;
    for client in clients {
        let rules = view.destination_rules_for(fqdn, client, dest_namespaces);
        for dr in &rules {
            seen_rules.insert(dr.object.key.qualified_name());
            if let Parsed::DestinationRule(spec) = &dr.parsed {
                defined |= spec.subsets.iter().any(|s| &s.name == subset);
            }
        }
        if order_dependent.is_none() {
            order_dependent = unmerged_rule_without(&rules, subset);
        }
    }
    if let (true, Some((with, used))) = (defined, order_dependent) {
        out.push(
            Finding::new(
                &catalog::MG0103,
                &entry.object.key,
                d.subset_pointer(),
                format!(
                    "subset \"{subset}\" of {fqdn} is defined by DestinationRule {with} but not by {used}: their exportTo differ, so istiod \
                     does not merge them and a sidecar uses the one created last; if that is {used}, cluster \
                     outbound|<port>|{subset}|{fqdn} does not exist and requests get 503 NC: give them the same exportTo"
                ),
            )
            .with_severity(Severity::Warning),
        );
    }
    if !defined {
        let port = d.port.map_or_else(|| "<port>".to_string(), |p| p.to_string());
        let cluster = format!("outbound|{port}|{subset}|{fqdn}");
        let message = if seen_rules.is_empty() {
            format!(
                "subset \"{subset}\" of {fqdn} is defined by no DestinationRule: none applies to this host from namespace {}; \
                 cluster {cluster} does not exist, so requests get 503 NC",
                join(clients)
            )
        } else {
            format!(
                "subset \"{subset}\" is not defined by DestinationRule {} for {fqdn}; cluster {cluster} does not exist, so requests get 503 NC",
                join(&seen_rules)
            )
        };
        // Any rule istiod's lookup would take may define it: those namespaces'
        // DestinationRules are the referents.
        let mut namespaces: Vec<String> = clients.to_vec();
        namespaces.extend(dest_namespaces.iter().cloned());
        namespaces.push(view.mesh().root_namespace.clone());
        namespaces.sort();
        namespaces.dedup();
        out.push(
            Finding::new(&catalog::MG0103, &entry.object.key, d.subset_pointer(), message)
                .with_referents_of(Kind::DestinationRule, namespaces),
        );
    }
}

/// istiod merges the DestinationRules of one host and namespace only when their
/// `exportTo` sets are equal (none written is the empty set); the others stay
/// separate entries, and a sidecar uses the last one (`mergeDestinationRule`,
/// `SidecarScope.DestinationRule`; rules sorted by creation time, then name).
/// When one entry defines `subset` and another does not, which applies depends
/// on creation order: (rules defining it, rules that do not).
fn unmerged_rule_without(rules: &[&Arc<Entry>], subset: &str) -> Option<(String, String)> {
    let specs: Vec<(&Arc<Entry>, &crate::model::destination_rule::DestinationRuleSpec)> = rules
        .iter()
        .filter_map(|e| match &e.parsed {
            Parsed::DestinationRule(s) => Some((*e, &**s)),
            _ => None,
        })
        .collect();
    if specs.len() < 2 || specs.iter().any(|(_, s)| s.has_workload_selector) {
        return None;
    }
    let mut ordered = specs;
    ordered.sort_by(|a, b| {
        (&a.0.object.key.name, &a.0.object.key.namespace).cmp(&(&b.0.object.key.name, &b.0.object.key.namespace))
    });
    // Entries: (exportTo set, rule names, subset names).
    let mut entries: Vec<(BTreeSet<&str>, Vec<String>, BTreeSet<&str>)> = Vec::new();
    for (e, spec) in ordered {
        let export: BTreeSet<&str> = spec.export_to.iter().map(String::as_str).collect();
        let subsets: BTreeSet<&str> = spec.subsets.iter().map(|s| s.name.as_str()).collect();
        let name = e.object.key.qualified_name();
        let mut separate = true;
        for entry in entries.iter_mut() {
            if entry.0 == export {
                separate = false;
            } else if entry.0.is_empty() || !export.is_superset(&entry.0) {
                continue;
            }
            entry.1.push(name.clone());
            entry.2.extend(subsets.iter().copied());
        }
        if separate {
            entries.push((export, vec![name], subsets));
        }
    }
    // Creation order decides which is last: any entry without the subset can be.
    let (_, used, _) = entries.iter().rev().find(|(_, _, subsets)| !subsets.contains(subset))?;
    let with = entries
        .iter()
        .find(|(_, _, subsets)| subsets.contains(subset))
        .map(|(_, names, _)| join(names))?;
    Some((with, join(used)))
}

/// The Gateway servers a destination's route is served on: (gateway, server
/// port) for each existing Gateway its rule applies to and each HTTP server of
/// it that admits one of the VirtualService's hosts.
fn gateway_server_ports(
    entry: &Entry,
    vs: &VirtualServiceSpec,
    d: &Destination,
    view: &ClusterView,
) -> Vec<(String, u32)> {
    let ns = entry.object.key.namespace.as_str();
    admitting_http_servers(ns, vs, &vs.applies_to(d.gateways.as_deref()), view)
        .into_iter()
        .filter_map(|(gw_ns, gw_name, s)| Some((format!("{gw_ns}/{gw_name}"), s.port?)))
        .collect()
}

/// The servers carrying HTTP routes (plaintext, or HTTPS terminated) of the
/// existing Gateways named in `gateways` (as written in namespace `ns`) that
/// admit one of the VirtualService's hosts: (gateway namespace, name, server).
fn admitting_http_servers<'v>(
    ns: &str,
    vs: &VirtualServiceSpec,
    gateways: &[&str],
    view: &'v ClusterView,
) -> Vec<(String, String, &'v crate::model::gateway::Server)> {
    let mut out = Vec::new();
    for g in gateways {
        let GatewayRef::Named { namespace, name } = GatewayRef::parse(g, ns) else {
            continue;
        };
        let Some(Parsed::Gateway(spec)) = view.gateway(&namespace, &name).map(|gw| &gw.parsed) else {
            continue;
        };
        for s in spec.servers.iter().filter(|s| s.port.is_some() && s.serves_http()) {
            let admits = s.hosts.iter().any(|sh| {
                let sh = ServerHost::parse(&sh.value, &namespace);
                vs.hosts.iter().any(|h| sh.admits(ns, &h.value))
            });
            if admits {
                out.push((namespace.clone(), name.clone(), s));
            }
        }
    }
    out
}

mod claims;
mod envoy;

#[cfg(test)]
mod tests;
