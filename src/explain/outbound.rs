//! A sidecar's outbound path, as istiod builds it (`BuildSidecarOutboundVirtualHosts`,
//! `BuildSidecarVirtualHostWrapper`, the outbound TCP listeners).

use std::collections::BTreeSet;
use std::sync::Arc;

use super::registry::{Registered, Scope};
use super::request::{Caller, Protocol};
use super::routes::{self, BuiltRoute, For, Source};
use super::{Cluster, Explanation, Request, Route, VirtualHost};
use crate::model::route_match::RuleAction;
use crate::model::virtual_service::{Destination, Role};
use crate::model::Kind;
use crate::semantics::{envoy_names, host};
use crate::view::{ClusterView, Entry, Parsed};

/// A virtual host of the route configuration and what answers in it.
struct VHost {
    name: String,
    domains: Vec<String>,
    answer: Answer,
}

enum Answer {
    Routes(Vec<BuiltRoute>),
    /// istiod's `default` route to the Service's cluster.
    Default(String),
    AllowAny,
    BlockAll,
}

pub fn follow(
    view: &ClusterView,
    caller: &Caller,
    req: &Request,
    reg: &[Registered],
    scope: Option<&Scope>,
    out: &mut Explanation,
) {
    let ns = caller.proxy.namespace.as_str();
    let port = req.target.port;
    let domain = view.cluster_domain();
    let target = reg
        .iter()
        .find(|r| r.domains(ns, domain).contains(&req.target.host) && r.port(port).is_some());
    // A ServiceEntry without addresses on a plain TCP port gets a wildcard
    // listener `0.0.0.0_<port>` that takes every destination on the port
    // (shown by istiod's generator).
    let target = target.or_else(|| {
        (req.target.protocol == Protocol::Tcp)
            .then(|| {
                reg.iter().find(|r| {
                    r.address.is_none()
                        && r.entry.object.key.kind == crate::model::Kind::ServiceEntry
                        && r.port(port).is_some_and(|p| !p.http && !p.sni)
                })
            })
            .flatten()
    });
    let tcp_target = target.filter(|r| req.target.protocol != Protocol::Http || r.port(port).is_some_and(|p| !p.http));
    if let Some(t) = tcp_target {
        return follow_tcp(view, caller, req, t, scope, out);
    }
    if req.target.protocol != Protocol::Http {
        let why = "no Service or ServiceEntry this proxy sees has that host and port";
        passthrough(view, out, why);
        // A host without address on a TLS port gives the port a wildcard
        // listener; a name none of its SNI filter chains matches takes its
        // passthrough filter chain (shown by istiod's generator).
        let wildcard_tls = reg
            .iter()
            .any(|r| r.address.is_none() && r.port(port).is_some_and(|p| p.sni));
        if req.target.sni().is_some() && wildcard_tls {
            out.listener = Some(format!("0.0.0.0_{port}"));
            out.filter_chain = Some("PassthroughFilterChain".to_string());
        }
        return;
    }
    let on_port: Vec<&Registered> = reg.iter().filter(|r| r.port(port).is_some_and(|p| p.http)).collect();
    if on_port.is_empty() {
        return passthrough(
            view,
            out,
            &format!("no Service or ServiceEntry this proxy sees has an HTTP port {port}"),
        );
    }
    out.listener = Some(format!("0.0.0.0_{port}"));
    out.route_config = Some(envoy_names::sidecar_route_config(port));
    let vhosts = virtual_hosts(view, caller, &on_port, port, scope);
    let request_host = req.headers.get("host").map_or(req.target.host.as_str(), String::as_str);
    let request_host = request_host.rsplit_once(':').map_or(request_host, |(h, p)| {
        if p.chars().all(|c| c.is_ascii_digit()) {
            h
        } else {
            request_host
        }
    });
    let Some(vh) = select(&vhosts, request_host) else {
        out.fail(
            "404 NR",
            format!("no virtual host of route configuration {port} has domain {request_host}"),
        );
        return;
    };
    out.virtual_host = Some(VirtualHost {
        name: vh.name.clone(),
        domains: vh.domains.iter().take(6).cloned().collect(),
    });
    match &vh.answer {
        Answer::Routes(rs) => take_route(view, rs, req, &|d: &Destination, _: &str| d.port.unwrap_or(port), out),
        Answer::Default(h) => {
            out.route = Some(Route {
                name: "default".to_string(),
                ..Route::default()
            });
            out.clusters.push(Cluster {
                name: envoy_names::outbound_cluster(port, "", h),
                ..Cluster::default()
            });
        }
        Answer::AllowAny => {
            out.route = Some(Route {
                name: "allow_any".to_string(),
                ..Route::default()
            });
            out.clusters.push(Cluster {
                name: "PassthroughCluster".to_string(),
                exists: true,
                ..Cluster::default()
            });
            out.fail(
                "OK",
                format!("{request_host} is not a host this proxy knows: sent on unrouted (outboundTrafficPolicy ALLOW_ANY), no mesh policy applies"),
            );
        }
        Answer::BlockAll => {
            out.route = Some(Route {
                name: "block_all".to_string(),
                ..Route::default()
            });
            out.fail(
                "502",
                format!("{request_host} is not a host this proxy knows and outboundTrafficPolicy is REGISTRY_ONLY: Envoy answers 502"),
            );
        }
    }
}

/// Sets the route and its clusters from the first route that matches.
pub fn take_route(
    view: &ClusterView,
    rs: &[BuiltRoute],
    req: &Request,
    port_of: &dyn Fn(&Destination, &str) -> u32,
    out: &mut Explanation,
) {
    let Some(r) = rs
        .iter()
        .find(|r| routes::request_matches(&r.conditions, &req.target, &req.headers))
    else {
        out.fail(
            "404 NR",
            format!(
                "no route of virtual host {} matches the request",
                out.virtual_host.as_ref().map_or("", |v| v.name.as_str())
            ),
        );
        if let Some(vs) = rs.first() {
            out.notes
                .push(format!("routes come from {}", super::key(&vs.vs.object.key)));
        }
        return;
    };
    let delegated = !Arc::ptr_eq(&r.vs, &r.holder);
    out.route = Some(Route {
        name: r.name.clone(),
        source: Some(super::key(&r.vs.object.key)),
        pointer: Some(r.pointer.clone()),
        delegate: delegated.then(|| format!("{} {}", super::key(&r.holder.object.key), r.holder_rule)),
        conditions: routes::describe(&r.conditions),
    });
    match r.action {
        RuleAction::Redirect(code) => return out.fail(&code.to_string(), "the route redirects (no cluster)"),
        RuleAction::DirectResponse(status) => {
            return out.fail(
                &status.map_or("direct response".to_string(), |s| s.to_string()),
                "the route answers directly (directResponse, no cluster)",
            )
        }
        _ => {}
    }
    let ns = r.holder.object.key.namespace.as_str();
    let dests: Vec<_> = r.destinations.iter().filter(|d| d.role == Role::HttpRoute).collect();
    let weighted = dests.len() > 1;
    for d in dests {
        if let Some(c) = refused_backend(d, weighted) {
            out.clusters.push(c);
            continue;
        }
        let fqdn = host::resolve(&d.host, ns, view.cluster_domain());
        let port = port_of(d, &fqdn);
        out.clusters.push(Cluster {
            name: envoy_names::outbound_cluster(port, d.subset.as_deref().unwrap_or(""), &fqdn),
            weight: weighted.then_some(d.weight.unwrap_or(0)),
            ..Cluster::default()
        });
    }
}

fn passthrough(view: &ClusterView, out: &mut Explanation, why: &str) {
    out.listener = Some("virtualOutbound".to_string());
    out.filter_chain = Some("virtualOutbound-catchall-tcp".to_string());
    if view.mesh().outbound_allow_any {
        out.clusters.push(Cluster {
            name: "PassthroughCluster".to_string(),
            exists: true,
            ..Cluster::default()
        });
        out.fail(
            "OK",
            format!("{why}: sent on unrouted (outboundTrafficPolicy ALLOW_ANY)"),
        );
    } else {
        out.clusters.push(Cluster {
            name: "BlackHoleCluster".to_string(),
            exists: true,
            ..Cluster::default()
        });
        out.fail(
            "blocked",
            format!("{why}: outboundTrafficPolicy REGISTRY_ONLY drops it (BlackHoleCluster)"),
        );
    }
}

/// Mesh VirtualServices this proxy uses, in order.
fn mesh_virtual_services(view: &ClusterView, ns: &str, scope: Option<&Scope>) -> Vec<Arc<Entry>> {
    let domain = view.cluster_domain();
    let mut vss: Vec<Arc<Entry>> = view
        .entries()
        .filter(|e| e.object.key.kind == Kind::VirtualService)
        .filter(|e| match &e.parsed {
            Parsed::VirtualService(s) => {
                let vs_ns = e.object.key.namespace.as_str();
                s.is_mesh_bound()
                    && !s.hosts.is_empty()
                    && view.export_to(e).visible_to(ns)
                    && scope.is_none_or(|sc| {
                        s.hosts
                            .iter()
                            .any(|h| sc.admits(vs_ns, &host::resolve(&h.value, vs_ns, domain)))
                    })
            }
            _ => false,
        })
        .cloned()
        .collect();
    vss.sort_by(|a, b| a.object.key.cmp(&b.object.key));
    vss
}

fn virtual_hosts(
    view: &ClusterView,
    caller: &Caller,
    on_port: &[&Registered],
    port: u32,
    scope: Option<&Scope>,
) -> Vec<VHost> {
    let ns = caller.proxy.namespace.as_str();
    let domain = view.cluster_domain();
    let src = Source {
        namespace: ns,
        labels: &caller.proxy.labels,
    };
    let mut out: Vec<VHost> = Vec::new();
    let mut claimed: BTreeSet<String> = BTreeSet::new();
    let mut names: BTreeSet<String> = BTreeSet::new();
    let mut taken: BTreeSet<String> = BTreeSet::new();
    let service = |h: &str| on_port.iter().find(|r| r.host == h).copied();
    let mut push = |out: &mut Vec<VHost>, name: String, domains: Vec<String>, answer: Answer| {
        if !names.insert(name.clone()) {
            return; // istiod drops a duplicate virtual host
        }
        let domains: Vec<String> = domains.into_iter().filter(|d| taken.insert(d.clone())).collect();
        if !domains.is_empty() {
            out.push(VHost { name, domains, answer });
        }
    };
    for vs in mesh_virtual_services(view, ns, scope) {
        let Parsed::VirtualService(spec) = &vs.parsed else {
            continue;
        };
        let vs_ns = vs.object.key.namespace.as_str();
        let hosts: Vec<String> = spec
            .hosts
            .iter()
            .map(|h| host::resolve(&h.value.to_ascii_lowercase(), vs_ns, domain).into_owned())
            .collect();
        let mut matched: Vec<&Registered> = Vec::new();
        let mut others: Vec<String> = Vec::new();
        for h in &hosts {
            if host::is_wildcard(h) {
                let covered: Vec<&Registered> = on_port
                    .iter()
                    .filter(|r| host::wildcard_covers(h, &r.host) && !claimed.contains(&r.host))
                    .copied()
                    .collect();
                if covered.is_empty() {
                    others.push(h.clone());
                }
                matched.extend(covered);
            } else if let Some(r) = service(h) {
                matched.push(r);
            } else {
                others.push(h.clone());
            }
        }
        // Off port 80, istiod keeps only VirtualServices with a host on this port.
        if matched.is_empty() && port != 80 {
            continue;
        }
        let built = routes::build(view, &vs, port, For::Mesh, &src);
        if built.is_empty() {
            continue;
        }
        for r in matched {
            claimed.insert(r.host.clone());
            push(
                &mut out,
                format!("{}:{port}", r.host),
                r.domains(ns, domain),
                Answer::Routes(built.clone()),
            );
        }
        for h in others {
            push(
                &mut out,
                format!("{h}:{port}"),
                vec![h.clone()],
                Answer::Routes(built.clone()),
            );
        }
    }
    let mut rest: Vec<&&Registered> = on_port.iter().filter(|r| !claimed.contains(&r.host)).collect();
    rest.sort_by(|a, b| a.host.cmp(&b.host));
    for r in rest {
        push(
            &mut out,
            format!("{}:{port}", r.host),
            r.domains(ns, domain),
            Answer::Default(r.host.clone()),
        );
    }
    let last = if view.mesh().outbound_allow_any {
        ("allow_any", Answer::AllowAny)
    } else {
        ("block_all", Answer::BlockAll)
    };
    push(&mut out, last.0.to_string(), vec!["*".to_string()], last.1);
    out
}

/// Envoy's virtual host selection: an exact domain, else the longest suffix
/// wildcard, else `*`.
fn select<'a>(vhosts: &'a [VHost], h: &str) -> Option<&'a VHost> {
    if let Some(v) = vhosts.iter().find(|v| v.domains.iter().any(|d| d == h)) {
        return Some(v);
    }
    vhosts
        .iter()
        .flat_map(|v| v.domains.iter().map(move |d| (v, d)))
        .filter(|(_, d)| d.len() > 1 && d.starts_with('*') && h.ends_with(&d[1..]))
        .max_by_key(|(_, d)| d.len())
        .map(|(v, _)| v)
        .or_else(|| vhosts.iter().find(|v| v.domains.iter().any(|d| d == "*")))
}

fn follow_tcp(
    view: &ClusterView,
    caller: &Caller,
    req: &Request,
    target: &Registered,
    scope: Option<&Scope>,
    out: &mut Explanation,
) {
    let port = req.target.port;
    let ns = caller.proxy.namespace.as_str();
    out.listener = Some(format!("{}_{port}", target.address.as_deref().unwrap_or("0.0.0.0")));
    let src = Source {
        namespace: ns,
        labels: &caller.proxy.labels,
    };
    let sni = req.target.sni();
    for vs in mesh_virtual_services(view, ns, scope) {
        let Parsed::VirtualService(spec) = &vs.parsed else {
            continue;
        };
        let vs_ns = vs.object.key.namespace.as_str();
        let domain = view.cluster_domain();
        if !spec
            .hosts
            .iter()
            .any(|h| host::wildcard_covers(&host::resolve(&h.value, vs_ns, domain), &target.host))
        {
            continue;
        }
        let on_mesh = |g: &str, _: &str| g == "mesh";
        let dest_port = |d: &Destination, _: &str| d.port.unwrap_or(port);
        if take_l4_route(view, &vs, port, sni, src.labels, &on_mesh, &dest_port, out) {
            return;
        }
    }
    out.clusters.push(Cluster {
        name: envoy_names::outbound_cluster(port, "", &target.host),
        ..Cluster::default()
    });
}

/// The first `tls` (with an SNI) or `tcp` rule of a VirtualService that takes
/// a connection on `port`: its match port, source labels, gateways (`on` says
/// whether a name as written means this proxy) and SNI hosts. Fills the route
/// and the clusters; false when no rule matches.
#[allow(clippy::too_many_arguments)]
pub fn take_l4_route(
    view: &ClusterView,
    vs: &Arc<Entry>,
    port: u32,
    sni: Option<&str>,
    labels: &std::collections::BTreeMap<String, String>,
    on: &dyn Fn(&str, &str) -> bool,
    dest_port: &dyn Fn(&Destination, &str) -> u32,
    out: &mut Explanation,
) -> bool {
    let Parsed::VirtualService(spec) = &vs.parsed else {
        return false;
    };
    let vs_ns = vs.object.key.namespace.as_str();
    let domain = view.cluster_domain();
    let section = if sni.is_some() { "tls" } else { "tcp" };
    for rule in spec.rules.iter().filter(|r| r.section == section) {
        let hit = rule.matches.is_empty()
            || rule.matches.iter().any(|m| {
                m.port.is_none_or(|p| p == port)
                    && (m.source_labels.is_empty() || crate::model::workload::labels_match(&m.source_labels, labels))
                    && (if m.gateways.is_empty() {
                        spec.applies_to(None).iter().any(|g| on(g, vs_ns))
                    } else {
                        m.gateways.iter().any(|g| on(g, vs_ns))
                    })
                    && sni.is_none_or(|s| m.sni_hosts.iter().any(|h| host::wildcard_covers(h, s)))
            });
        if !hit {
            continue;
        }
        out.route = Some(Route {
            name: String::new(),
            source: Some(super::key(&vs.object.key)),
            pointer: Some(rule.pointer.to_string()),
            ..Route::default()
        });
        let role = if sni.is_some() { Role::TlsRoute } else { Role::TcpRoute };
        let list = format!("{}/route", rule.pointer);
        let dests: Vec<_> = spec
            .destinations
            .iter()
            .filter(|d| d.role == role && d.route_list().is_some_and(|p| p.as_str() == list))
            .collect();
        let weighted = dests.len() > 1;
        for d in dests {
            if let Some(c) = refused_backend(d, weighted) {
                out.clusters.push(c);
                continue;
            }
            let fqdn = host::resolve(&d.host, vs_ns, domain);
            out.clusters.push(Cluster {
                name: envoy_names::outbound_cluster(dest_port(d, &fqdn), d.subset.as_deref().unwrap_or(""), &fqdn),
                weight: weighted.then_some(d.weight.unwrap_or(0)),
                ..Cluster::default()
            });
        }
        return true;
    }
    false
}

/// istiod's stand-in for a Gateway API backend it refuses (RefNotPermitted,
/// InvalidKind): a cluster that does not exist.
fn refused_backend(d: &Destination, weighted: bool) -> Option<Cluster> {
    (d.host == super::gateway_api::UNKNOWN_SERVICE).then(|| Cluster {
        name: d.host.clone(),
        weight: weighted.then_some(d.weight.unwrap_or(0)),
        missing: Some("istiod routes a backend it refuses (RefNotPermitted, InvalidKind) here".to_string()),
        ..Cluster::default()
    })
}
