//! Traffic entering a gateway workload, as istiod builds its listeners and
//! route configurations (`gateway.go`: `buildGatewayHTTPRouteConfig`).

use std::sync::Arc;

use super::outbound::take_route;
use super::registry::Registered;
use super::request::{Caller, Protocol};
use super::routes::{self, BuiltRoute, For, Source};
use super::{Explanation, Request, VirtualHost};
use crate::model::gateway::{is_http_protocol, Server};
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
    for gw in &caller.gateways {
        let Parsed::Gateway(spec) = &gw.parsed else { continue };
        for s in &spec.servers {
            if listener_port(s) == Some(arrives) && s.bind.is_none() {
                servers.push((gw, s));
            }
        }
    }
    out.gateways = servers
        .iter()
        .map(|(gw, s)| format!("{} {}", super::key(&gw.object.key), s.pointer))
        .collect();
    if servers.is_empty() {
        out.fail(
            "connection refused",
            format!(
                "no Gateway selecting this workload has a server on port {arrives}: the gateway has no listener there"
            ),
        );
        return;
    }
    out.listener = Some(envoy_names::gateway_listener(arrives));
    let http: Vec<&(&Arc<Entry>, &Server)> = servers
        .iter()
        .filter(|(_, s)| s.protocol.as_deref().is_some_and(is_http_protocol) && !s.has_tls)
        .collect();
    if req.target.protocol != Protocol::Http || http.is_empty() {
        out.notes.push(
            "explain models plaintext HTTP servers at gateways; HTTPS, TLS and TCP servers are not modelled yet"
                .to_string(),
        );
        out.fail("not modelled", "the servers on this port are not plaintext HTTP");
        return;
    }
    let number = http[0].1.port.unwrap_or(arrives);
    out.route_config = Some(envoy_names::gateway_http_route_config(number));
    let vhosts = virtual_hosts(view, caller, &http);
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
            format!("no virtual host of route configuration http.{number} serves {request_host}"),
        );
        return;
    };
    out.virtual_host = Some(VirtualHost {
        name: vh.name.clone(),
        domains: vec![vh.host.clone()],
    });
    // A destination without a port: the Service's only port, else the server's.
    let port_of = |d: &Destination, fqdn: &str| {
        d.port.unwrap_or_else(
            || match reg.iter().find(|r| r.host == fqdn).map(|r| r.ports.as_slice()) {
                Some([only]) => only.number,
                _ => number,
            },
        )
    };
    take_route(view, &vh.routes, req, &port_of, out);
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
        let mut binders: Vec<&Arc<Entry>> = view
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
            .collect();
        binders.sort_by(|a, b| a.object.key.cmp(&b.object.key));
        for vs in binders {
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
