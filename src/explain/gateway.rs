//! Traffic entering a gateway workload, as istiod builds its listeners and
//! route configurations (`gateway.go`: `buildGatewayHTTPRouteConfig`).

use std::sync::Arc;

use super::outbound::take_route;
use super::registry::Registered;
use super::request::{Caller, Protocol};
use super::routes::{self, BuiltRoute, For, Source};
use super::{Explanation, Request, VirtualHost};
use crate::model::gateway::{Server, ServerClass};
use crate::model::virtual_service::Destination;
use crate::semantics::gateway_ref::{GatewayRef, ServerHost};
use crate::semantics::{envoy_names, host};
use crate::view::{ClusterView, Entry, Parsed};

struct GwVHost {
    name: String,
    host: String,
    routes: Vec<BuiltRoute>,
}

pub fn follow(view: &ClusterView, caller: &Caller, req: &Request, reg: &[Registered], out: &mut Explanation) {
    let targets = view.gateway_target_ports(&caller.proxy.namespace, &caller.proxy.labels);
    // The port the request arrives on at the workload.
    let arrives = targets.get(&req.target.port).copied().unwrap_or(req.target.port);
    let listener_port = |s: &Server| s.port.map(|n| targets.get(&n).copied().unwrap_or(n));
    let mut servers: Vec<(&Arc<Entry>, &Server)> = Vec::new();
    // istiod's MergeGateways, per port: the oldest server sets how the port is
    // served (plaintext HTTP, TLS by SNI, or one plaintext TCP server); a server
    // of another kind, a second TCP server, or a TLS server with a host an
    // older TLS server has is skipped whole (MG0304). Files carry no creation
    // time, so name order stands in.
    for gw in &caller.gateways {
        let Parsed::Gateway(spec) = &gw.parsed else { continue };
        for s in &spec.servers {
            if listener_port(s) != Some(arrives) || s.bind.is_some() || s.class().is_none() {
                continue;
            }
            if let Some((kept_gw, kept)) = servers.iter().find(|(_, k)| !s.merges_with(k)) {
                out.notes.push(format!(
                    "{} {}: skipped by istiod, it cannot merge with {} {} on this port (MG0304)",
                    super::key(&gw.object.key),
                    s.pointer,
                    super::key(&kept_gw.object.key),
                    kept.pointer
                ));
                continue;
            }
            servers.push((gw, s));
        }
    }
    // The oldest kept server sets how the port is served.
    let port_class = servers.first().and_then(|(_, s)| s.class());
    out.gateways = servers
        .iter()
        .map(|(gw, s)| format!("{} {}", super::key(&gw.object.key), s.pointer))
        .collect();
    let Some(port_class) = port_class else {
        out.fail(
            "connection refused",
            format!(
                "no Gateway selecting this workload has a server on port {arrives}: the gateway has no listener there"
            ),
        );
        return;
    };
    // HTTP and terminated HTTPS servers always have a filter chain; TCP and
    // passthrough ones only with a rule that takes them.
    let has_chain = servers.iter().any(|(gw, s)| {
        s.serves_http() || s.class() == Some(ServerClass::PlainHttp) || builds_l4_chain(view, caller, gw, s, arrives)
    });
    if !has_chain {
        out.fail(
            "connection refused",
            format!("no tcp or tls rule of a VirtualService bound to the Gateway takes port {arrives}: istiod builds no listener without filter chains"),
        );
        return;
    }
    out.listener = Some(envoy_names::gateway_listener(arrives));
    match (port_class, req.target.protocol) {
        // A TCP server proxies whatever arrives, HTTP and TLS included.
        (ServerClass::PlainOther, _) => serve_l4(view, caller, None, reg, &servers, arrives, out),
        (ServerClass::PlainHttp, Protocol::Http) => {
            let plain: Vec<&(&Arc<Entry>, &Server)> = servers.iter().collect();
            let number = plain[0].1.port.unwrap_or(arrives);
            // istiod names a Gateway API listener's route configuration by the
            // port the proxy listens on (the Service's target port).
            let rc_port = if plain[0].0.object.annotations.contains_key(super::gateway_api::DERIVED) {
                arrives
            } else {
                number
            };
            serve_http(
                view,
                caller,
                req,
                reg,
                &plain,
                number,
                envoy_names::gateway_http_route_config(rc_port),
                out,
            );
        }
        (ServerClass::PlainHttp, _) => out.fail(
            "connection reset",
            format!("port {arrives} is served as plaintext HTTP: a TCP or TLS stream is not HTTP (protocol error)"),
        ),
        (ServerClass::Tls, Protocol::Http | Protocol::Tcp) => out.fail(
            "connection reset",
            format!("the servers on port {arrives} expect TLS: a plaintext connection matches no filter chain"),
        ),
        (ServerClass::Tls, Protocol::Tls) => serve_l4(view, caller, req.target.sni(), reg, &servers, arrives, out),
        (ServerClass::Tls, Protocol::Https) => {
            let terminated: Vec<&(&Arc<Entry>, &Server)> =
                servers.iter().filter(|(_, s)| s.serves_http() && s.has_tls).collect();
            let Some(chosen) = by_sni(&terminated, &req.target.host) else {
                // No server terminates this SNI: one may pass it through.
                return serve_l4(view, caller, req.target.sni(), reg, &servers, arrives, out);
            };
            let (gw, server) = *chosen;
            let number = server.port.unwrap_or(arrives);
            let rc = envoy_names::gateway_https_route_config(
                number,
                server.port_name.as_deref().unwrap_or(""),
                &gw.object.key.name,
                &gw.object.key.namespace,
            );
            serve_http(view, caller, req, reg, &[chosen], number, rc, out);
        }
    }
}

/// The cluster port of a destination at a gateway: its own, else the
/// Service's only port, else the server's.
fn destination_port(reg: &[Registered], d: &Destination, fqdn: &str, server_port: u32) -> u32 {
    d.port.unwrap_or_else(
        || match reg.iter().find(|r| r.host == fqdn).map(|r| r.ports.as_slice()) {
            Some([only]) => only.number,
            _ => server_port,
        },
    )
}

/// A server's hosts as TLS server names: without their namespace part, lower case.
fn sni_names(s: &Server) -> Vec<String> {
    s.hosts
        .iter()
        .map(|h| crate::semantics::gateway_ref::server_host_name(&h.value).to_ascii_lowercase())
        .collect()
}

/// The server whose filter chain takes a TLS connection: its SNI among the
/// server hosts, exact before wildcard (longest first); a server for `*`
/// matches any name.
fn by_sni<'a, 'b>(
    servers: &'a [&'b (&'b Arc<Entry>, &'b Server)],
    sni: &str,
) -> Option<&'a &'b (&'b Arc<Entry>, &'b Server)> {
    let names = sni_names;
    servers
        .iter()
        .find(|(_, s)| names(s).iter().any(|n| n == sni))
        .or_else(|| {
            servers
                .iter()
                .filter_map(|e| {
                    let best = names(e.1)
                        .into_iter()
                        .filter(|n| n.starts_with("*.") && host::wildcard_covers(n, sni))
                        .map(|n| n.len())
                        .max()?;
                    Some((e, best))
                })
                .max_by_key(|(_, len)| *len)
                .map(|(e, _)| e)
        })
        .or_else(|| servers.iter().find(|(_, s)| names(s).iter().any(|n| n == "*")))
}

/// HTTP on the chosen servers' route configuration: the virtual host by Host,
/// then the route.
#[allow(clippy::too_many_arguments)]
fn serve_http(
    view: &ClusterView,
    caller: &Caller,
    req: &Request,
    reg: &[Registered],
    servers: &[&(&Arc<Entry>, &Server)],
    number: u32,
    route_config: String,
    out: &mut Explanation,
) {
    out.route_config = Some(route_config.clone());
    let vhosts = virtual_hosts(view, caller, servers);
    let request_host = req.headers.get("host").map_or(req.target.host.as_str(), String::as_str);
    let request_host = request_host.split(':').next().unwrap_or(request_host);
    if vhosts.is_empty() {
        out.virtual_host = Some(VirtualHost {
            name: format!("blackhole:{number}"),
            domains: vec!["*".to_string()],
        });
        out.fail(
            "404 NR",
            "no VirtualService is bound to the Gateway for a host of its server: istiod answers every request with 404",
        );
        return;
    }
    let chosen = vhosts.iter().find(|v| v.host == request_host).or_else(|| {
        vhosts
            .iter()
            .filter(|v| v.host.starts_with('*') && host::wildcard_covers(&v.host, request_host))
            .max_by_key(|v| v.host.len())
    });
    let Some(vh) = chosen else {
        out.fail(
            "404 NR",
            format!("no virtual host of route configuration {route_config} serves {request_host}"),
        );
        return;
    };
    out.virtual_host = Some(VirtualHost {
        name: vh.name.clone(),
        domains: vec![vh.host.clone()],
    });
    let port_of = |d: &Destination, fqdn: &str| destination_port(reg, d, fqdn, number);
    take_route(view, &vh.routes, req, &port_of, out);
}

/// A TLS connection to a server passing it through (by SNI), or a TCP
/// connection to a plaintext TCP server: the first `tls` / `tcp` rule of the
/// VirtualServices bound to its Gateway for its hosts.
fn serve_l4(
    view: &ClusterView,
    caller: &Caller,
    sni: Option<&str>,
    reg: &[Registered],
    servers: &[(&Arc<Entry>, &Server)],
    arrives: u32,
    out: &mut Explanation,
) {
    let all = servers;
    let wanted: Vec<&(&Arc<Entry>, &Server)> = servers
        .iter()
        .filter(|(_, s)| match sni {
            Some(_) => s.has_tls && !s.serves_http() && s.tls_mode.as_deref() == Some("PASSTHROUGH"),
            None => !s.has_tls && s.class() == Some(crate::model::gateway::ServerClass::PlainOther),
        })
        .collect();
    // Passthrough filter chains match the `tls` rules' sniHosts (within the
    // server's hosts), not the server's hosts: every server whose hosts cover
    // the name is a candidate.
    let servers: Vec<&(&Arc<Entry>, &Server)> = match sni {
        Some(name) => wanted.into_iter().filter(|e| by_sni(&[*e], name).is_some()).collect(),
        None => wanted,
    };
    let what = if sni.is_some() { "TLS passthrough" } else { "TCP" };
    let unmodelled =
        |s: &Server| s.has_tls && !s.serves_http() && !matches!(s.tls_mode.as_deref(), Some("PASSTHROUGH") | None);
    if sni.is_some() && all.iter().any(|(_, s)| unmodelled(s)) {
        out.notes.push(
            "a TLS server here terminates TLS (or is AUTO_PASSTHROUGH): explain does not model those yet".to_string(),
        );
    }
    if servers.is_empty() {
        return out.fail(
            "connection reset",
            format!("no {what} server on port {arrives} takes this connection: no filter chain matches"),
        );
    }
    let domain = view.cluster_domain();
    // Envoy prefers a chain naming the SNI exactly to a wildcard one.
    let names_exactly = |vs: &Arc<Entry>| match (&vs.parsed, sni) {
        (Parsed::VirtualService(spec), Some(name)) => spec
            .rules
            .iter()
            .filter(|r| r.section == "tls")
            .any(|r| r.matches.iter().any(|m| m.sni_hosts.iter().any(|h| h == name))),
        _ => true,
    };
    for exact_only in [true, false] {
        for (gw, server) in &servers {
            let (gns, gname) = (gw.object.key.namespace.as_str(), gw.object.key.name.as_str());
            let number = server.port.unwrap_or(arrives);
            let this_gateway = GatewayRef::Named {
                namespace: gns.to_string(),
                name: gname.to_string(),
            };
            let on = |g: &str, vs_ns: &str| GatewayRef::parse(g, vs_ns) == this_gateway;
            let dest_port = |d: &Destination, fqdn: &str| destination_port(reg, d, fqdn, number);
            for vs in bound_virtual_services(view, caller, gw) {
                let Parsed::VirtualService(spec) = &vs.parsed else {
                    continue;
                };
                if (!exact_only || names_exactly(&vs))
                    && serves_a_host(server, gns, spec, &vs.object.key.namespace, domain)
                    && super::outbound::take_l4_route(
                        view,
                        &vs,
                        number,
                        sni,
                        &caller.proxy.labels,
                        &on,
                        &dest_port,
                        out,
                    )
                {
                    return;
                }
            }
        }
    }
    out.fail(
        "connection reset",
        format!(
            "no {} rule of a VirtualService bound to the Gateway takes this connection: no filter chain matches",
            if sni.is_some() { "tls" } else { "tcp" }
        ),
    );
}

/// Whether a server admits one of a VirtualService's hosts (its namespace part
/// included) and the two hosts intersect.
fn serves_a_host(
    server: &Server,
    gateway_ns: &str,
    spec: &crate::model::virtual_service::VirtualServiceSpec,
    vs_ns: &str,
    domain: &str,
) -> bool {
    server.hosts.iter().any(|sh| {
        let sh = ServerHost::parse(&sh.value, gateway_ns);
        spec.hosts.iter().any(|h| {
            let vh = host::resolve(&h.value.to_ascii_lowercase(), vs_ns, domain).into_owned();
            sh.admits(vs_ns, &vh) && host::intersect(&sh.host.to_ascii_lowercase(), &vh)
        })
    })
}

/// Whether istiod builds any filter chain for a TCP or TLS passthrough server:
/// a `tcp` / `tls` rule of a VirtualService bound to its Gateway whose match
/// takes the server's port (and, for TLS, names one of its hosts). A listener
/// without filter chains is not built at all.
fn builds_l4_chain(view: &ClusterView, caller: &Caller, gw: &Arc<Entry>, server: &Server, arrives: u32) -> bool {
    let (gns, gname) = (gw.object.key.namespace.as_str(), gw.object.key.name.as_str());
    let number = server.port.unwrap_or(arrives);
    let section = if server.has_tls { "tls" } else { "tcp" };
    let this_gateway = GatewayRef::Named {
        namespace: gns.to_string(),
        name: gname.to_string(),
    };
    let names = sni_names(server);
    bound_virtual_services(view, caller, gw).iter().any(|vs| {
        let Parsed::VirtualService(spec) = &vs.parsed else {
            return false;
        };
        let vs_ns = vs.object.key.namespace.as_str();
        serves_a_host(server, gns, spec, vs_ns, view.cluster_domain())
            && spec.rules.iter().filter(|r| r.section == section).any(|rule| {
                rule.matches.is_empty()
                    || rule.matches.iter().any(|m| {
                        m.port.is_none_or(|p| p == number)
                            && (m.gateways.is_empty()
                                || m.gateways.iter().any(|g| GatewayRef::parse(g, vs_ns) == this_gateway))
                            && (!server.has_tls
                                || m.sni_hosts.iter().any(|h| names.iter().any(|n| host::intersect(n, h))))
                    })
            })
    })
}

/// VirtualServices bound to a Gateway (`spec.gateways`) and visible to the
/// gateway's namespace, oldest first (name order: files have no creation time).
fn bound_virtual_services(view: &ClusterView, caller: &Caller, gw: &Arc<Entry>) -> Vec<Arc<Entry>> {
    let (gns, gname) = (gw.object.key.namespace.as_str(), gw.object.key.name.as_str());
    let mut binders: Vec<Arc<Entry>> = view
        .gateway_binders(gns, gname)
        .filter(|vs| view.export_to(vs).visible_to(&caller.proxy.namespace))
        .filter(|vs| match &vs.parsed {
            Parsed::VirtualService(s) => s.gateways.iter().any(|g| {
                GatewayRef::parse(&g.value, &vs.object.key.namespace)
                    == GatewayRef::Named {
                        namespace: gns.to_string(),
                        name: gname.to_string(),
                    }
            }),
            _ => false,
        })
        .cloned()
        .collect();
    binders.sort_by(|a, b| a.object.key.cmp(&b.object.key));
    binders
}

fn virtual_hosts(view: &ClusterView, caller: &Caller, servers: &[&(&Arc<Entry>, &Server)]) -> Vec<GwVHost> {
    let domain = view.cluster_domain();
    let src = Source {
        namespace: &caller.proxy.namespace,
        labels: &caller.proxy.labels,
    };
    let mut out: Vec<GwVHost> = Vec::new();
    for (gw, server) in servers {
        let (gns, gname) = (gw.object.key.namespace.as_str(), gw.object.key.name.as_str());
        let number = server.port.unwrap_or(0);
        let binders = bound_virtual_services(view, caller, gw);
        for vs in &binders {
            let Parsed::VirtualService(spec) = &vs.parsed else {
                continue;
            };
            let vs_ns = vs.object.key.namespace.as_str();
            let mut hosts: Vec<String> = Vec::new();
            for sh in &server.hosts {
                let sh = ServerHost::parse(&sh.value, gns);
                for h in &spec.hosts {
                    let vh = host::resolve(&h.value.to_ascii_lowercase(), vs_ns, domain).into_owned();
                    if !sh.admits(vs_ns, &vh) {
                        continue;
                    }
                    let sh_host = sh.host.to_ascii_lowercase();
                    let inter = if host::wildcard_covers(&sh_host, &vh) {
                        vh.clone()
                    } else if host::wildcard_covers(&vh, &sh_host) {
                        sh_host.clone()
                    } else {
                        continue;
                    };
                    if !hosts.contains(&inter) {
                        hosts.push(inter);
                    }
                }
            }
            if hosts.is_empty() {
                continue;
            }
            let built = routes::build(
                view,
                vs,
                number,
                For::Gateway {
                    namespace: gns,
                    name: gname,
                },
                &src,
            );
            // A VirtualService left without routes (a dropped delegate) adds no
            // virtual host (shown by istiod's generator).
            if built.is_empty() {
                continue;
            }
            for h in hosts {
                match out.iter_mut().find(|v| v.host == h) {
                    Some(v) => v.routes.extend(built.iter().cloned()),
                    None => out.push(GwVHost {
                        name: format!("{h}:{number}"),
                        host: h,
                        routes: built.clone(),
                    }),
                }
            }
        }
    }
    // istiod's SortVHostRoutes: catch-all routes move to the end.
    for v in &mut out {
        let (catch_all, rest): (Vec<BuiltRoute>, Vec<BuiltRoute>) =
            v.routes.drain(..).partition(|r| is_catch_all(&r.conditions));
        v.routes = rest.into_iter().chain(catch_all).collect();
    }
    out
}

fn is_catch_all(conds: &[crate::model::route_match::RequestMatch]) -> bool {
    use crate::model::route_match::StringMatch;
    conds.iter().all(|m| {
        (match &m.uri {
            None => true,
            Some(StringMatch::Prefix(p)) => p == "/" || p.is_empty(),
            Some(_) => false,
        }) && m.headers.is_empty()
            && m.without_headers.is_empty()
            && m.query_params.is_empty()
            && m.method.is_none()
            && m.authority.is_none()
            && m.scheme.is_none()
    })
}
