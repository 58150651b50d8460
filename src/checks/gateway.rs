//! Gateway checks: MG0301–MG0306.

use std::collections::BTreeSet;
use std::sync::Arc;

use super::{catalog, join_at_most};
use crate::finding::{pointer, Finding};
use crate::model::gateway::{GatewaySpec, Server, ServerClass};
use crate::model::{Kind, ObjKey};
use crate::semantics::envoy_names;
use crate::semantics::gateway_ref::server_host_name;
use crate::view::{ClusterView, Entry, Parsed};

pub fn check(entry: &Entry, gw: &GatewaySpec, view: &ClusterView, out: &mut Vec<Finding>) {
    let key = &entry.object.key;
    // The gateway workloads, looked up once for every check below.
    let workloads: Vec<&Arc<Entry>> = if gw.selector.is_empty() {
        Vec::new()
    } else {
        view.workloads_matching(None, &gw.selector).collect()
    };
    let unserved = !gw.selector.is_empty() && workloads.is_empty();
    if unserved {
        out.push(Finding::new(
            &catalog::MG0301,
            key,
            pointer("/spec/selector"),
            format!(
                "selector {} matches no gateway workload in any namespace: no proxy serves this Gateway",
                super::selector_text(&gw.selector)
            ),
        ));
    }
    if unserved {
        super::egress::check_unserved_gateway(entry, gw, view, out);
    }
    check_ports(entry, gw, &workloads, view, out);
    check_conflicts(entry, gw, &workloads, view, out);
    // MG0303: the TLS secret must live where the gateway proxies run.
    if !workloads.is_empty() {
        let namespaces: BTreeSet<&str> = workloads.iter().map(|w| w.object.key.namespace.as_str()).collect();
        for (i, s) in gw.servers.iter().enumerate() {
            let Some(cred) = s.credential_name.as_deref().filter(|c| !c.is_empty()) else {
                continue;
            };
            let found = namespaces
                .iter()
                .any(|ns| view.get(&ObjKey::new(Kind::Secret, *ns, cred)).is_some());
            if !namespaces.is_empty() && !found {
                out.push(Finding::new(
                    &catalog::MG0303,
                    key,
                    pointer(&format!("/spec/servers/{i}/tls/credentialName")),
                    format!(
                        "credentialName {cred:?}: no such Secret in namespace {} where the gateway proxies run; TLS on this server will fail",
                        super::join(&namespaces)
                    ),
                ));
            }
        }
    }
    let bound = view
        .gateway_binders(&key.namespace, &key.name)
        .any(|vs| view.export_to(vs).visible_to(&key.namespace));
    if !bound {
        out.push(Finding::new(
            &catalog::MG0305,
            key,
            pointer("/metadata/name"),
            format!(
                "no VirtualService visible to namespace {} binds gateway {}: every request to it gets 404",
                key.namespace,
                key.qualified_name()
            ),
        ));
    }
}

/// MG0302: a server port that no Service of the gateway workloads exposes (as
/// `port` or `targetPort`: istiod translates Service ports to target ports).
fn check_ports(entry: &Entry, gw: &GatewaySpec, workloads: &[&Arc<Entry>], view: &ClusterView, out: &mut Vec<Finding>) {
    if workloads.is_empty() {
        return; // MG0301 says so already.
    }
    let namespaces: std::collections::BTreeSet<&str> =
        workloads.iter().map(|w| w.object.key.namespace.as_str()).collect();
    let mut exposed = BTreeSet::new();
    let mut services = Vec::new();
    for ns in namespaces {
        for svc in view.services_in(ns) {
            let crate::view::Parsed::Service(s) = &svc.parsed else {
                continue;
            };
            let selects = !s.selector.is_empty()
                && workloads.iter().any(|w| {
                    w.object.key.namespace == ns
                        && w.workload
                            .as_ref()
                            .is_some_and(|wl| crate::model::workload::labels_match(&s.selector, &wl.labels))
                });
            if selects {
                services.push(svc.object.key.qualified_name());
                for p in &s.ports {
                    exposed.insert(p.port);
                    if let Some(crate::model::service::TargetPort::Number(t)) = &p.target_port {
                        exposed.insert(*t);
                    }
                }
            }
        }
    }
    for (i, s) in gw.servers.iter().enumerate() {
        let Some(port) = s.port else { continue };
        if !exposed.contains(&port) {
            let why = if services.is_empty() {
                "no Service selects the gateway workloads".to_string()
            } else {
                format!(
                    "it is neither a port nor a targetPort of Service {}",
                    super::join(&services)
                )
            };
            out.push(Finding::new(
                &catalog::MG0302,
                &entry.object.key,
                pointer(&format!("/spec/servers/{i}/port/number")),
                format!("port {port} is not exposed: {why}"),
            ));
        }
    }
}

/// MG0304 and MG0306: other Gateways on the same workloads serving the same port
/// and host, or using the same certificate.
fn check_conflicts(
    entry: &Entry,
    gw: &GatewaySpec,
    workloads: &[&Arc<Entry>],
    view: &ClusterView,
    out: &mut Vec<Finding>,
) {
    let key = &entry.object.key;
    // The view's entries are shared: their addresses identify them, no key clones.
    let mine: std::collections::HashSet<*const Entry> = workloads.iter().map(|w| Arc::as_ptr(w)).collect();
    // Only workloads the view knows count: two Gateways with the same selector
    // but no proxy behind it conflict nowhere yet. Gateways mostly share a few
    // selectors, so each distinct one is resolved once.
    let memo: std::cell::RefCell<std::collections::BTreeMap<std::collections::BTreeMap<String, String>, bool>> =
        Default::default();
    let shares_workloads = |other: &GatewaySpec| {
        if mine.is_empty() {
            return false;
        }
        if let Some(&hit) = memo.borrow().get(&other.selector) {
            return hit;
        }
        let hit = !other.selector.is_empty()
            && view
                .workloads_matching(None, &other.selector)
                .any(|e| mine.contains(&Arc::as_ptr(e)));
        memo.borrow_mut().insert(other.selector.clone(), hit);
        hit
    };
    // Each server's conflicts with other Gateways, once: a server's own
    // conflicts below ask whether an earlier sibling has any.
    let clashes: Vec<std::collections::BTreeMap<String, String>> = gw
        .servers
        .iter()
        .map(|s| match (s.port, s.class()) {
            (Some(port), Some(class)) => merge_conflicts(key, s, port, class, view, &shares_workloads),
            _ => Default::default(),
        })
        .collect();
    for (i, s) in gw.servers.iter().enumerate() {
        if let (Some(port), Some(_)) = (s.port, s.class()) {
            let clash = &clashes[i];
            // Within one Gateway istiod reads servers in order, so the later of
            // two conflicting ones is skipped — unless the earlier one conflicts
            // with another Gateway's server and may be skipped itself (creation
            // order decides): then the cross-Gateway findings speak.
            let contested = |j: usize| !clashes[j].is_empty();
            let own = (!workloads.is_empty())
                .then(|| own_conflict(gw, i, s, port, &contested))
                .flatten();
            // An own conflict that loses no traffic is a warning, unless another
            // Gateway's conflict makes the finding an error anyway.
            let severity = match &own {
                Some((_, false)) if clash.is_empty() => Some(crate::finding::Severity::Warning),
                _ => None,
            };
            let first = own
                .as_ref()
                .map(|(m, _)| m.clone())
                .or_else(|| clash.first_key_value().map(|(_, m)| m.clone()));
            if let Some(first) = first {
                let mut message = first;
                // The listener `istioctl proxy-config listeners` shows on the gateway pods.
                if let Some(wl) = workloads.first().and_then(|w| w.workload.as_ref()) {
                    let listen = view
                        .gateway_target_ports(&wl.namespace, &wl.labels)
                        .get(&port)
                        .copied()
                        .unwrap_or(port);
                    message.push_str(&format!(" (listener {})", envoy_names::gateway_listener(listen)));
                }
                let also = if own.is_some() { 0 } else { 1 };
                if clash.len() > also {
                    message.push_str(&format!(
                        "; also in conflict on this port: Gateway {}",
                        join_at_most(clash.keys().skip(also), 10)
                    ));
                }
                let finding = Finding::new(&catalog::MG0304, key, pointer(&format!("/spec/servers/{i}")), message);
                out.push(match severity {
                    Some(s) => finding.with_severity(s),
                    None => finding,
                });
            }
        }
        if let Some(cred) = s.credential_name.as_deref().filter(|c| !c.is_empty()) {
            let sharing: Vec<String> = view
                .gateways_with_credential(cred)
                .filter(|o| o.object.key != *key)
                .filter(|o| matches!(&o.parsed, crate::view::Parsed::Gateway(og) if shares_workloads(og)))
                .map(|o| o.object.key.qualified_name())
                .collect();
            if !sharing.is_empty() {
                out.push(Finding::new(
                    &catalog::MG0306,
                    key,
                    pointer(&format!("/spec/servers/{i}/tls/credentialName")),
                    format!(
                        "Gateway {} on the same workloads uses certificate {cred:?} too: with HTTP/2 connection reuse, requests can reach the wrong server",
                        super::join_at_most(&sharing, 10)
                    ),
                ));
            }
        }
    }
}

/// What istiod's `MergeGateways` cannot merge with server `s` on its port and
/// `bind`, one message per other Gateway: TLS servers with a common host (one
/// SNI filter chain each), plaintext servers of which either is not HTTP, and
/// plaintext next to TLS. Plaintext HTTP servers merge: never a conflict.
fn merge_conflicts(
    key: &ObjKey,
    s: &Server,
    port: u32,
    class: ServerClass,
    view: &ClusterView,
    shares_workloads: &dyn Fn(&GatewaySpec) -> bool,
) -> std::collections::BTreeMap<String, String> {
    let mut clash = std::collections::BTreeMap::new();
    let consider = |other: &Arc<Entry>, clash: &mut std::collections::BTreeMap<String, String>| {
        if other.object.key == *key {
            return;
        }
        let Parsed::Gateway(og) = &other.parsed else { return };
        let name = other.object.key.qualified_name();
        if clash.contains_key(&name) || !shares_workloads(og) {
            return;
        }
        for o in og.servers.iter().filter(|o| o.port == Some(port) && o.bind == s.bind) {
            if o.class().is_none() {
                continue;
            }
            let message = conflict_message(
                &format!("Gateway {name} on the same workloads"),
                "the server created first",
                s,
                o,
                port,
            );
            if let Some(m) = message {
                clash.insert(name, m);
                return;
            }
        }
    };
    let conflicting: &[ServerClass] = match class {
        ServerClass::PlainHttp => &[ServerClass::PlainOther, ServerClass::Tls],
        ServerClass::PlainOther | ServerClass::Tls => &[ServerClass::PlainHttp, ServerClass::PlainOther],
    };
    for c in conflicting {
        for other in view.gateways_on_port(port, *c) {
            consider(other, &mut clash);
        }
    }
    if class == ServerClass::Tls {
        for h in &s.hosts {
            for other in view.gateways_serving(port, server_host_name(&h.value)) {
                consider(other, &mut clash);
            }
        }
    }
    clash
}

/// Why istiod cannot merge server `s` with server `o` on `port` (MergeGateways),
/// or `None` when it can: `who` names `o`'s owner, `kept` the server istiod keeps.
fn conflict_message(who: &str, kept: &str, s: &Server, o: &Server, port: u32) -> Option<String> {
    let (class, oclass) = (s.class()?, o.class()?);
    if s.merges_with(o) {
        return None;
    }
    match (class, oclass) {
        (ServerClass::Tls, ServerClass::Tls) => {
            let common: Vec<&str> = s
                .hosts
                .iter()
                .map(|h| server_host_name(&h.value))
                .filter(|h| o.hosts.iter().any(|oh| server_host_name(&oh.value).eq_ignore_ascii_case(h)))
                .collect();
            let h = common.first()?;
            let others: Vec<&str> = s
                .hosts
                .iter()
                .map(|x| server_host_name(&x.value))
                .filter(|x| !common.contains(x))
                .collect();
            let rest = if others.is_empty() {
                String::new()
            } else {
                format!(
                    "; if this server is the one skipped, its other hosts ({}) get no filter chain and their TLS connections are reset",
                    join_at_most(&others, 5)
                )
            };
            Some(format!(
                "{who} has a TLS server on port {port} for host {h} too: istiod keeps {kept} and skips the other whole \
                 (duplicate SNI filter chain): {h} gets the kept one's certificate and routes{rest}"
            ))
        }
        _ => Some(format!(
            "{who} serves port {port} as {}: istiod cannot merge it with this {} server, keeps {kept} and skips the other \
             whole; the skipped server's clients reach the kept one: {}",
            describe(o.protocol.as_deref().unwrap_or(""), oclass),
            describe(s.protocol.as_deref().unwrap_or(""), class),
            landing(class, oclass)
        )),
    }
}

/// MG0304 within one Gateway: an earlier server on the same port and `bind`
/// that istiod cannot merge with this one. istiod reads servers in order, so
/// this (later) server is the one skipped.
fn own_conflict(
    gw: &GatewaySpec,
    i: usize,
    s: &Server,
    port: u32,
    contested: &dyn Fn(usize) -> bool,
) -> Option<(String, bool)> {
    gw.servers[..i]
        .iter()
        .enumerate()
        .filter(|(j, o)| o.port == Some(port) && o.bind == s.bind && !contested(*j))
        .find_map(|(j, o)| {
            let m = conflict_message(
                &format!("server /spec/servers/{j} of this Gateway"),
                "the earlier one",
                s,
                o,
                port,
            )?;
            Some((
                m.replace(
                    "if this server is the one skipped, its other hosts",
                    "this server's other hosts",
                ),
                loses_traffic(s, o),
            ))
        })
}

/// Whether skipping server `s` for the earlier `o` of the same Gateway changes
/// traffic. Both bind the same VirtualServices (they are bound to the Gateway,
/// not a server), so a TLS server whose every host the earlier one has, or a
/// TCP server whose hosts it covers, loses only its own TLS settings: a warning.
fn loses_traffic(s: &Server, o: &Server) -> bool {
    let covered = |h: &crate::model::fields::Located<String>| {
        let h = server_host_name(&h.value);
        o.hosts.iter().any(|x| {
            let x = server_host_name(&x.value);
            x == "*" || x == h
        })
    };
    match (s.class(), o.class()) {
        (Some(ServerClass::Tls), Some(ServerClass::Tls))
        | (Some(ServerClass::PlainOther), Some(ServerClass::PlainOther)) => !s.hosts.iter().all(covered),
        _ => true,
    }
}

/// What the clients of the skipped server meet on the kept one's listener,
/// either way round (shown by istiod's generator, `tests/oracle.rs`).
fn landing(a: ServerClass, b: ServerClass) -> &'static str {
    use ServerClass::*;
    match (a.min(b), a.max(b)) {
        (PlainHttp, PlainOther) => {
            "HTTP requests sent to a TCP server go to its TCP route's destination; a TCP stream sent to an HTTP server is closed (protocol error)"
        }
        (PlainHttp, Tls) => {
            "plaintext HTTP sent to TLS servers matches no filter chain (reset); TLS sent to an HTTP server is closed (protocol error)"
        }
        (PlainOther, Tls) => {
            "plaintext sent to TLS servers matches no filter chain (reset); TLS sent to a TCP server goes to its TCP route's destination"
        }
        _ => "its connections go to the kept server's TCP route's destination",
    }
}

fn describe(protocol: &str, class: ServerClass) -> String {
    match class {
        ServerClass::Tls => format!("{protocol} with TLS"),
        _ => format!("plaintext {protocol}"),
    }
}

#[cfg(test)]
mod tests {
    use crate::checks::testutil::*;

    const GW: &str = "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: public, namespace: istio-system}\nspec:\n  selector: {istio: ingressgateway}\n  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [\"*\"]\n";
    const VS: &str = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: bound, namespace: default}\nspec:\n  hosts: [\"*\"]\n  gateways: [istio-system/public]\n  http:\n  - route:\n    - destination: {host: reviews}\n";

    #[test]
    fn mg0301_selector_matches_no_workload() {
        let v = view(&[VS]);
        assert_eq!(codes(&check_yaml(&v, GW)), [("MG0301".into(), "/spec/selector".into())]);
        let v = view(&[VS, INGRESS_POD, INGRESS_SVC]);
        assert!(check_yaml(&v, GW).is_empty());
    }

    #[test]
    fn mg0301_counts_deployment_templates_in_file_mode() {
        let deploy = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: gw, namespace: ingress}\nspec:\n  template:\n    metadata:\n      labels: {istio: ingressgateway}\n    spec: {containers: [{name: istio-proxy, image: auto}]}\n";
        let svc = INGRESS_SVC.replace("namespace: istio-system", "namespace: ingress");
        let v = view(&[VS, deploy, &svc]);
        assert!(check_yaml(&v, GW).is_empty());
    }

    #[test]
    fn mg0303_credential_secret_in_the_gateway_namespace() {
        let tls_gw = GW.replace(
            "  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [\"*\"]\n",
            "  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: [\"*\"]\n    tls: {mode: SIMPLE, credentialName: shop-cert}\n",
        );
        let v = view(&[VS, INGRESS_POD, INGRESS_SVC]);
        assert_eq!(
            codes(&check_yaml(&v, &tls_gw)),
            [("MG0303".into(), "/spec/servers/0/tls/credentialName".into())]
        );
        let wrong_ns =
            "apiVersion: v1\nkind: Secret\nmetadata: {name: shop-cert, namespace: default}\ntype: kubernetes.io/tls\n";
        assert_eq!(
            codes(&check_yaml(&view(&[VS, INGRESS_POD, INGRESS_SVC, wrong_ns]), &tls_gw)).len(),
            1
        );
        let right_ns = wrong_ns.replace("namespace: default", "namespace: istio-system");
        assert!(check_yaml(&view(&[VS, INGRESS_POD, INGRESS_SVC, &right_ns]), &tls_gw).is_empty());
    }

    #[test]
    fn mg0305_unbound_gateway_is_info() {
        let v = view(&[INGRESS_POD, INGRESS_SVC]);
        let f = check_yaml(&v, GW);
        assert_eq!(codes(&f), [("MG0305".into(), "/metadata/name".into())]);
        assert_eq!(f[0].severity, crate::finding::Severity::Info);
    }

    #[test]
    fn mg0305_binder_must_be_visible_to_the_gateway_namespace() {
        let hidden = VS.replace("  hosts:", "  exportTo: [\".\"]\n  hosts:");
        let v = view(&[INGRESS_POD, INGRESS_SVC, &hidden]);
        assert_eq!(codes(&check_yaml(&v, GW)), [("MG0305".into(), "/metadata/name".into())]);
    }

    const INGRESS_SVC: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: istio-ingressgateway, namespace: istio-system}\nspec:\n  selector: {istio: ingressgateway}\n  ports: [{name: http2, port: 80, targetPort: 8080}, {name: https, port: 443, targetPort: 8443}]\n";

    #[test]
    fn mg0302_port_not_exposed() {
        let v = view(&[VS, INGRESS_POD, INGRESS_SVC]);
        assert!(check_yaml(&v, GW).is_empty(), "port 80 is a Service port");
        assert!(
            check_yaml(&v, &GW.replace("number: 80", "number: 8080")).is_empty(),
            "8080 is a targetPort"
        );
        let f = check_yaml(&v, &GW.replace("number: 80", "number: 9999"));
        assert_eq!(codes(&f), [("MG0302".into(), "/spec/servers/0/port/number".into())]);
        let f = check_yaml(&view(&[VS, INGRESS_POD]), GW);
        assert!(
            f[0].message.contains("no Service selects the gateway workloads"),
            "{}",
            f[0].message
        );
    }

    fn gateway(ns: &str, name: &str, servers: &str) -> String {
        format!("apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {{name: {name}, namespace: {ns}}}\nspec:\n  selector: {{istio: ingressgateway}}\n  servers:\n{servers}")
    }

    /// Two servers of one Gateway that istiod cannot merge: it reads them in
    /// order and skips the later (istiod's generator, `tests/oracle.rs`'s random
    /// gateways). When the earlier one conflicts with another Gateway too, which
    /// survives depends on creation order: only the cross-Gateway findings speak.
    #[test]
    fn mg0304_within_one_gateway_reports_the_later_server() {
        let tcp = "  - port: {number: 8080, name: tcp, protocol: TCP}\n    hosts: [\"*\"]\n";
        let http = "  - port: {number: 8080, name: http, protocol: HTTP}\n    hosts: [\"*\"]\n";
        let v = view(&[VS, INGRESS_POD, INGRESS_SVC]);
        let f = check_yaml(&v, &gateway("istio-system", "public", &format!("{tcp}{http}")));
        let mg: Vec<_> = f.iter().filter(|f| f.code == "MG0304").collect();
        assert_eq!(mg.len(), 1, "{f:?}");
        assert_eq!(mg[0].pointer.as_str(), "/spec/servers/1");
        assert!(
            mg[0].message.starts_with(
                "server /spec/servers/0 of this Gateway serves port 8080 as plaintext TCP: istiod cannot merge it with this plaintext HTTP server, keeps the earlier one"
            ),
            "{}",
            mg[0].message
        );
        // Same SNI host twice in one Gateway: the later server goes, with its other hosts.
        let tls = |hosts: &str| {
            format!("  - port: {{number: 443, name: https, protocol: HTTPS}}\n    hosts: [{hosts}]\n    tls: {{mode: SIMPLE, credentialName: c}}\n")
        };
        let f = check_yaml(
            &v,
            &gateway(
                "istio-system",
                "public",
                &(tls("a.example.com") + &tls("a.example.com, b.example.com")),
            ),
        );
        let mg: Vec<_> = f.iter().filter(|f| f.code == "MG0304").collect();
        assert_eq!(mg.len(), 1, "{f:?}");
        assert!(
            mg[0]
                .message
                .contains("this server's other hosts (b.example.com) get no filter chain"),
            "{}",
            mg[0].message
        );
        assert_eq!(mg[0].severity, crate::finding::Severity::Error);
        // The later server's hosts all on the earlier one: the same VirtualServices
        // serve them, only its TLS settings are dropped — a warning.
        let f = check_yaml(
            &v,
            &gateway(
                "istio-system",
                "public",
                &(tls("a.example.com, b.example.com") + &tls("b.example.com")),
            ),
        );
        let mg: Vec<_> = f.iter().filter(|f| f.code == "MG0304").collect();
        assert_eq!(mg.len(), 1, "{f:?}");
        assert_eq!(mg[0].severity, crate::finding::Severity::Warning);
        // The earlier server contested by another Gateway (HTTP on 8080): no
        // finding on the later one; the TCP server's own finding names the conflict.
        let other = gateway("platform", "web", http);
        let v = view(&[VS, INGRESS_POD, INGRESS_SVC, &other]);
        let f = check_yaml(&v, &gateway("istio-system", "public", &format!("{tcp}{http}")));
        let pointers: Vec<&str> = f
            .iter()
            .filter(|f| f.code == "MG0304")
            .map(|f| f.pointer.as_str())
            .collect();
        assert_eq!(pointers, ["/spec/servers/0"], "{f:?}");
    }

    /// A platform's own Gateway and the default one, in different namespaces,
    /// both plain HTTP on port 80 for `*` on one ingress workload: istiod merges
    /// their routes into one `http.80` route table. Not a conflict.
    #[test]
    fn mg0304_plain_http_servers_merge() {
        let http = "  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [\"*\"]\n";
        let platform = gateway("platform", "platform-gw", http);
        let v = view(&[VS, INGRESS_POD, INGRESS_SVC, &platform]);
        let f = check_yaml(&v, &gateway("istio-system", "public", http));
        assert!(f.iter().all(|f| f.code != "MG0304"), "{f:?}");
        // HTTP2 and GRPC are HTTP too; an httpsRedirect server is plaintext HTTP.
        let h2 = "  - port: {number: 80, name: http2, protocol: HTTP2}\n    hosts: [\"*\"]\n    tls: {httpsRedirect: true}\n";
        assert!(check_yaml(&v, &gateway("istio-system", "public", h2))
            .iter()
            .all(|f| f.code != "MG0304"));
    }

    #[test]
    fn mg0304_what_istiod_cannot_merge() {
        let https = |host: &str| {
            format!("  - port: {{number: 443, name: https, protocol: HTTPS}}\n    hosts: [\"{host}\"]\n    tls: {{mode: SIMPLE, credentialName: c-{}}}\n", host.replace(['*', '/', '.'], "-"))
        };
        let existing = gateway("platform", "platform-gw", &https("shop.example.com"));
        let v = view(&[VS, INGRESS_POD, INGRESS_SVC, &existing]);
        // The same SNI host on one port, even behind another namespace prefix.
        for host in ["shop.example.com", "shop/shop.example.com", "*/shop.example.com"] {
            let f = check_yaml(&v, &gateway("shop", "shop-gw", &https(host)));
            let mg: Vec<_> = f.iter().filter(|f| f.code == "MG0304").collect();
            assert_eq!(mg.len(), 1, "{host}: {f:?}");
            assert_eq!(mg[0].pointer.as_str(), "/spec/servers/0");
            assert_eq!(mg[0].severity, crate::finding::Severity::Error);
            assert!(
                mg[0].message.contains("platform/platform-gw") && mg[0].message.contains("duplicate SNI"),
                "{}",
                mg[0].message
            );
            // The gateway Service maps 443 to 8443: the pods' listener is 0.0.0.0_8443.
            assert!(mg[0].message.ends_with(" (listener 0.0.0.0_8443)"), "{}", mg[0].message);
        }
        // Another host on the same port: SNI tells them apart.
        let f = check_yaml(&v, &gateway("shop", "shop-gw", &https("admin.example.com")));
        assert!(f.iter().all(|f| f.code != "MG0304"), "{f:?}");
        // Another `bind`: its own listener.
        let bound = https("shop.example.com") + "    bind: 10.0.0.7\n";
        assert!(check_yaml(&v, &gateway("shop", "shop-gw", &bound))
            .iter()
            .all(|f| f.code != "MG0304"));
        // Two plain TCP servers on one port.
        let tcp = "  - port: {number: 5432, name: tcp, protocol: TCP}\n    hosts: [\"*\"]\n";
        let v = view(&[VS, INGRESS_POD, INGRESS_SVC, &gateway("db", "pg", tcp)]);
        let f = check_yaml(&v, &gateway("shop", "shop-gw", tcp));
        let mg: Vec<_> = f.iter().filter(|f| f.code == "MG0304").collect();
        assert_eq!(mg.len(), 1, "{f:?}");
        // No Service port 5432: the listener keeps the server's number.
        assert!(mg[0].message.ends_with(" (listener 0.0.0.0_5432)"), "{}", mg[0].message);
        // HTTP next to TCP on one port.
        let http_5432 = "  - port: {number: 5432, name: http, protocol: HTTP}\n    hosts: [\"*\"]\n";
        let f = check_yaml(&v, &gateway("shop", "shop-gw", http_5432));
        let mg: Vec<_> = f.iter().filter(|f| f.code == "MG0304").collect();
        assert!(
            mg[0].message.contains("plaintext TCP") && mg[0].message.contains("plaintext HTTP"),
            "{}",
            mg[0].message
        );
        // Plain HTTP next to HTTPS on one port.
        let http_443 = "  - port: {number: 443, name: http, protocol: HTTP}\n    hosts: [\"*\"]\n";
        let v = view(&[VS, INGRESS_POD, INGRESS_SVC, &existing]);
        assert_eq!(
            check_yaml(&v, &gateway("shop", "shop-gw", http_443))
                .iter()
                .filter(|f| f.code == "MG0304")
                .count(),
            1
        );
    }

    #[test]
    fn mg0304_and_mg0306_conflicting_gateways() {
        let tls = GW.replace(
            "  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [\"*\"]\n",
            "  - port: {number: 443, name: https, protocol: HTTPS}\n    hosts: [\"shop.example.com\"]\n    tls: {mode: SIMPLE, credentialName: shop-cert}\n",
        );
        let secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: shop-cert, namespace: istio-system}\n";
        let v = view(&[
            VS,
            INGRESS_POD,
            INGRESS_SVC,
            secret,
            &tls.replace("name: public", "name: other"),
        ]);
        let f = check_yaml(&v, &tls);
        assert_eq!(
            codes(&f),
            [
                ("MG0304".into(), "/spec/servers/0".into()),
                ("MG0306".into(), "/spec/servers/0/tls/credentialName".into())
            ]
        );
        assert_eq!(f[0].severity, crate::finding::Severity::Error);
        // Another host on the same port, same certificate: only MG0306.
        let f = check_yaml(&v, &tls.replace("[\"shop.example.com\"]", "[\"admin.example.com\"]"));
        assert_eq!(
            codes(&f),
            [("MG0306".into(), "/spec/servers/0/tls/credentialName".into())]
        );
    }
}
