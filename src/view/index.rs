//! Secondary indexes of the view. `add` and `remove` walk the same contributions
//! of an entry, so an object's index entries leave exactly as they came.

use std::sync::Arc;

use super::entry::{Entry, Parsed};
use crate::model::proxy::Proxy;
use crate::model::ObjKey;
use crate::semantics::gateway_ref::GatewayRef;
use crate::semantics::host;

pub(super) use super::keyset::KeySet as Keys;
pub(super) use super::map::{HashMap, Storage};

#[derive(Clone, Debug, Default)]
pub(super) struct Indexes {
    /// Registry host (FQDN or literal wildcard) → Services/ServiceEntries.
    pub hosts: HashMap<String, Keys>,
    /// Non-wildcard registry hosts, labels reversed, for "anything under *.foo.com".
    pub reversed_hosts: imbl::OrdSet<String>,
    /// Namespace → DestinationRule host (resolved) → rules.
    pub drs: HashMap<String, HashMap<String, Keys>>,
    /// Gateway (namespace, name) → VirtualServices naming it.
    pub gateway_binders: HashMap<(String, String), Keys>,
    /// Destination FQDN → VirtualServices routing to it.
    pub host_referrers: HashMap<String, Keys>,
    /// Delegate VirtualService (namespace, name) → the VirtualServices delegating to it.
    pub delegators: HashMap<(String, String), Keys>,
    /// Host FQDN → mesh-bound VirtualServices declaring it.
    pub mesh_vs_hosts: HashMap<String, Keys>,
    /// Label → value → workloads carrying it. Two levels, so that neither
    /// string is copied to look a pair up or to add a workload to a known pair.
    pub workloads_by_label: HashMap<String, HashMap<String, Keys>>,
    pub workloads: Keys,
    /// Namespace → workloads (what a namespace-wide policy selects).
    pub workloads_by_ns: HashMap<String, Keys>,
    /// Namespaces labelled `istio.io/dataplane-mode: ambient`, and workloads
    /// captured by their own label or istio-cni's annotation: where ambient
    /// pods can be, so a mesh-wide policy need not scan every workload.
    pub ambient_namespaces: Keys,
    pub ambient_opt_ins: Keys,
    /// Control-plane revision → istiod Deployments/Pods.
    pub control_planes: HashMap<String, Keys>,
    /// Nodes (their labels answer subset topology labels).
    pub nodes: Keys,
    /// Revision tag → the MutatingWebhookConfigurations that make it.
    pub revision_tags: HashMap<String, Keys>,
    /// Namespace → service account → how many workloads run as it.
    pub service_accounts_in_use: HashMap<String, HashMap<String, usize>>,
    /// Namespace → Services.
    pub services_by_ns: HashMap<String, Keys>,
    /// Gateway server port → (server host with labels reversed, Gateway): the
    /// Gateways that serve a host on a port, by exact, covering or covered host.
    pub gateway_hosts: HashMap<u32, imbl::OrdSet<(String, Arc<ObjKey>)>>,
    /// (server port, how istiod merges the server) → Gateways with such a server:
    /// the candidates for a protocol conflict on a port (MG0304).
    pub gateway_port_classes: HashMap<(u32, crate::model::gateway::ServerClass), Keys>,
    /// How many Gateways select the standard egress gateway labels
    /// (`istio: egressgateway`, `app: istio-egressgateway`): a sign of intent.
    pub egress_gateway_selectors: usize,
    /// TLS credentialName → Gateways using it.
    pub gateway_credentials: HashMap<String, Keys>,
    /// Namespace → Sidecars without a workloadSelector, and with one.
    pub sidecars_default: HashMap<String, Keys>,
    pub sidecars_selecting: HashMap<String, Keys>,
    /// Namespace → PeerAuthentications without a selector.
    pub namespace_wide_peer_auth: HashMap<String, Keys>,
    /// DestinationRules that turn TLS off (`mode: DISABLE` anywhere).
    pub tls_disabling_drs: Keys,
    /// Namespace → PeerAuthentications with a selector.
    pub selecting_peer_auth: HashMap<String, Keys>,
    /// Namespace → RequestAuthentications.
    pub request_auth: HashMap<String, Keys>,
    /// Namespace → AuthorizationPolicies.
    pub authorization_policies: HashMap<String, Keys>,
    /// Waypoint Gateway (namespace, name) → the Services, ServiceEntries and
    /// Namespaces whose `istio.io/use-waypoint` names it.
    pub waypoint_users: HashMap<(String, String), Keys>,
    /// Namespace → ReferenceGrants.
    pub reference_grants: HashMap<String, Keys>,
    /// Namespace → BackendTLSPolicies.
    pub backend_tls_policies: HashMap<String, Keys>,
    /// Gateway API Gateway (namespace, name) → routes naming it as a parent.
    pub k8s_gateway_routes: HashMap<(String, String), Keys>,
    /// ListenerSet (namespace, name) → routes naming it as a parent.
    pub listener_set_routes: HashMap<(String, String), Keys>,
    /// Secret (namespace, name) → Gateway API Gateways and ListenerSets whose
    /// listeners name it in `tls.certificateRefs`.
    pub certificate_users: HashMap<(String, String), Keys>,
    /// Gateway API Gateway (namespace, name) → ListenerSets naming it as parent.
    pub gateway_listener_sets: HashMap<(String, String), Keys>,
    /// Service or ServiceEntry (namespace, name) → routes naming it as a parent
    /// or (Service) as a backend.
    pub service_routes: HashMap<(String, String), Keys>,
    /// Namespace → routes with a backend in it from another namespace (what a
    /// ReferenceGrant there permits).
    pub cross_namespace_routes: HashMap<String, Keys>,
    /// Namespace → proxy → how many workloads run (or will run) such a proxy.
    pub proxy_classes: HashMap<String, HashMap<Proxy, usize>>,
}

/// Changes the value at `outer` → `inner` of a two-level map (`V::default()`
/// when new). Neither key is copied when both are there (the common case: a
/// label pair, a namespace's proxy class, met again).
fn nested_update<Q, K, V>(map: &mut HashMap<String, HashMap<K, V>>, outer: &str, inner: &Q, change: impl FnOnce(&mut V))
where
    Q: std::hash::Hash + Eq + ToOwned<Owned = K> + ?Sized,
    K: std::hash::Hash + Eq + Clone + std::borrow::Borrow<Q>,
    V: Clone + Default,
{
    let storage = map.storage();
    map.update_with(
        outer,
        || HashMap::new(storage),
        |level| level.update_with(inner, V::default, change),
    );
}

/// Removes `outer` → `inner` of a two-level map when `gone` says its value is
/// done with (after changing it), and `outer` when nothing is left under it.
fn nested_leave<Q, K, V>(
    map: &mut HashMap<String, HashMap<K, V>>,
    outer: &str,
    inner: &Q,
    gone: impl FnOnce(&mut V) -> bool,
) where
    Q: std::hash::Hash + Eq + ?Sized,
    K: std::hash::Hash + Eq + Clone + std::borrow::Borrow<Q>,
    V: Clone,
{
    let Some(level) = map.get_mut(outer) else { return };
    if level.get_mut(inner).is_some_and(gone) {
        level.remove(inner);
        if level.is_empty() {
            map.remove(outer);
        }
    }
}

/// `update` on a two-level map: `key` joins or leaves the set at `outer` → `inner`.
fn update_nested<Q, K>(map: &mut HashMap<String, HashMap<K, Keys>>, outer: &str, inner: &Q, key: &Arc<ObjKey>, op: Op)
where
    Q: std::hash::Hash + Eq + ToOwned<Owned = K> + ?Sized,
    K: std::hash::Hash + Eq + Clone + std::borrow::Borrow<Q>,
{
    match op {
        Op::Add => nested_update(map, outer, inner, |set| set.insert(key.clone())),
        Op::Remove => nested_leave(map, outer, inner, |set| {
            set.remove(key);
            set.is_empty()
        }),
    }
}

/// A counted multiset on a two-level map: entries leave when their count
/// reaches zero.
fn count_nested<Q, K>(map: &mut HashMap<String, HashMap<K, usize>>, outer: &str, inner: &Q, op: Op)
where
    Q: std::hash::Hash + Eq + ToOwned<Owned = K> + ?Sized,
    K: std::hash::Hash + Eq + Clone + std::borrow::Borrow<Q>,
{
    match op {
        Op::Add => nested_update(map, outer, inner, |n| *n += 1),
        Op::Remove => nested_leave(map, outer, inner, |n| {
            *n -= 1;
            *n == 0
        }),
    }
}

pub(super) use crate::semantics::gateway_ref::server_host_name as server_host;

/// The labels Istio's installs give egress gateway workloads.
pub(crate) const EGRESS_GATEWAY_LABELS: [(&str, &str); 2] =
    [("istio", "egressgateway"), ("app", "istio-egressgateway")];

fn is_egress_selector(selector: &std::collections::BTreeMap<String, String>) -> bool {
    EGRESS_GATEWAY_LABELS
        .iter()
        .any(|(k, v)| selector.get(*k).is_some_and(|s| s == v))
}

/// The Secrets (namespace, name) that listeners name as certificates.
fn certificate_secrets(
    listeners: &[crate::model::gateway_api::Listener],
    ns: &str,
) -> std::collections::BTreeSet<(String, String)> {
    listeners
        .iter()
        .flat_map(|l| &l.certificate_refs)
        .filter(|c| matches!(c.group.as_str(), "" | "core") && c.kind == "Secret")
        .map(|c| (c.namespace.as_deref().unwrap_or(ns).to_string(), c.name.clone()))
        .collect()
}

#[derive(Clone, Copy)]
enum Op {
    Add,
    Remove,
}

fn update<K: std::hash::Hash + Eq + Clone>(map: &mut HashMap<K, Keys>, k: K, key: &Arc<ObjKey>, op: Op) {
    match op {
        Op::Add => {
            map.or_default(k).insert(key.clone());
        }
        Op::Remove => {
            if let Some(set) = map.get_mut(&k) {
                set.remove(key);
                if set.is_empty() {
                    map.remove(&k);
                }
            }
        }
    }
}

impl Indexes {
    pub fn new(storage: Storage) -> Indexes {
        Indexes {
            hosts: HashMap::new(storage),
            drs: HashMap::new(storage),
            gateway_binders: HashMap::new(storage),
            host_referrers: HashMap::new(storage),
            delegators: HashMap::new(storage),
            mesh_vs_hosts: HashMap::new(storage),
            workloads_by_label: HashMap::new(storage),
            control_planes: HashMap::new(storage),
            revision_tags: HashMap::new(storage),
            service_accounts_in_use: HashMap::new(storage),
            services_by_ns: HashMap::new(storage),
            gateway_hosts: HashMap::new(storage),
            gateway_port_classes: HashMap::new(storage),
            gateway_credentials: HashMap::new(storage),
            sidecars_default: HashMap::new(storage),
            sidecars_selecting: HashMap::new(storage),
            namespace_wide_peer_auth: HashMap::new(storage),
            selecting_peer_auth: HashMap::new(storage),
            request_auth: HashMap::new(storage),
            authorization_policies: HashMap::new(storage),
            waypoint_users: HashMap::new(storage),
            workloads_by_ns: HashMap::new(storage),
            proxy_classes: HashMap::new(storage),
            reference_grants: HashMap::new(storage),
            backend_tls_policies: HashMap::new(storage),
            k8s_gateway_routes: HashMap::new(storage),
            listener_set_routes: HashMap::new(storage),
            gateway_listener_sets: HashMap::new(storage),
            certificate_users: HashMap::new(storage),
            service_routes: HashMap::new(storage),
            cross_namespace_routes: HashMap::new(storage),
            ..Indexes::default()
        }
    }

    pub fn add(&mut self, key: &Arc<ObjKey>, entry: &Entry, domain: &str) {
        self.walk(key, entry, domain, Op::Add);
    }

    pub fn remove(&mut self, key: &Arc<ObjKey>, entry: &Entry, domain: &str) {
        self.walk(key, entry, domain, Op::Remove);
    }

    fn walk(&mut self, key: &Arc<ObjKey>, entry: &Entry, domain: &str, op: Op) {
        let ns = key.namespace.as_str();
        if let Some(w) = crate::semantics::ambient::named_waypoint(entry) {
            update(&mut self.waypoint_users, w, key, op);
        }
        for h in entry.provided_hosts(domain) {
            if !host::is_wildcard(&h) {
                let rev = host::reversed(&h);
                match op {
                    Op::Add => {
                        self.reversed_hosts.insert(rev);
                    }
                    // Another object may still provide the same host.
                    Op::Remove => {
                        if self.hosts.get(&h).is_some_and(|s| s.len() == 1 && s.contains(key)) {
                            self.reversed_hosts.remove(&rev);
                        }
                    }
                }
            }
            update(&mut self.hosts, h, key, op);
        }
        match &entry.parsed {
            Parsed::DestinationRule(dr) => {
                if let Some(h) = &dr.host {
                    let h = host::resolve(h, ns, domain).into_owned();
                    if dr.tls.iter().any(|t| t.mode.as_deref() == Some("DISABLE")) {
                        match op {
                            Op::Add => self.tls_disabling_drs.insert(key.clone()),
                            Op::Remove => self.tls_disabling_drs.remove(key),
                        }
                    }
                    update_nested(&mut self.drs, ns, h.as_str(), key, op);
                }
            }
            Parsed::Security(sec) if key.kind == crate::model::Kind::PeerAuthentication => {
                let map = if sec.is_namespace_wide() {
                    &mut self.namespace_wide_peer_auth
                } else {
                    &mut self.selecting_peer_auth
                };
                update(map, ns.to_string(), key, op);
            }
            Parsed::Security(_) if key.kind == crate::model::Kind::RequestAuthentication => {
                update(&mut self.request_auth, ns.to_string(), key, op);
            }
            Parsed::Security(_) if key.kind == crate::model::Kind::AuthorizationPolicy => {
                update(&mut self.authorization_policies, ns.to_string(), key, op);
            }
            Parsed::Service(_) => update(&mut self.services_by_ns, ns.to_string(), key, op),
            Parsed::Gateway(gw) => {
                let served: std::collections::BTreeSet<(u32, String)> = gw
                    .servers
                    .iter()
                    .filter_map(|s| s.port.map(|p| (p, s)))
                    .flat_map(|(p, s)| s.hosts.iter().map(move |h| (p, host::reversed(server_host(&h.value)))))
                    .collect();
                for (p, rev) in served {
                    let set = self.gateway_hosts.or_default(p);
                    match op {
                        Op::Add => {
                            set.insert((rev, key.clone()));
                        }
                        Op::Remove => {
                            set.remove(&(rev, key.clone()));
                            if set.is_empty() {
                                self.gateway_hosts.remove(&p);
                            }
                        }
                    }
                }
                if is_egress_selector(&gw.selector) {
                    match op {
                        Op::Add => self.egress_gateway_selectors += 1,
                        Op::Remove => self.egress_gateway_selectors = self.egress_gateway_selectors.saturating_sub(1),
                    }
                }
                let classes: std::collections::BTreeSet<(u32, crate::model::gateway::ServerClass)> =
                    gw.servers.iter().filter_map(|s| Some((s.port?, s.class()?))).collect();
                for pc in classes {
                    update(&mut self.gateway_port_classes, pc, key, op);
                }
                let creds: std::collections::BTreeSet<&String> =
                    gw.servers.iter().filter_map(|s| s.credential_name.as_ref()).collect();
                for c in creds {
                    update(&mut self.gateway_credentials, c.clone(), key, op);
                }
            }
            Parsed::ReferenceGrant(_) => update(&mut self.reference_grants, ns.to_string(), key, op),
            Parsed::BackendTlsPolicy(_) => update(&mut self.backend_tls_policies, ns.to_string(), key, op),
            Parsed::ListenerSet(set) => {
                if let Some(p) = &set.parent {
                    update(
                        &mut self.gateway_listener_sets,
                        (p.namespace_or(ns).to_string(), p.name.clone()),
                        key,
                        op,
                    );
                }
                for secret in certificate_secrets(&set.listeners, ns) {
                    update(&mut self.certificate_users, secret, key, op);
                }
            }
            Parsed::K8sGateway(gw) => {
                for secret in certificate_secrets(&gw.listeners, ns) {
                    update(&mut self.certificate_users, secret, key, op);
                }
            }
            Parsed::Route(route) => {
                let mut sets: std::collections::BTreeSet<(String, String)> = Default::default();
                let mut gateways: std::collections::BTreeSet<(String, String)> = Default::default();
                let mut services: std::collections::BTreeSet<(String, String)> = Default::default();
                let mut into: std::collections::BTreeSet<String> = Default::default();
                for r in &route.parent_refs {
                    let pair = (r.namespace_or(ns).to_string(), r.name.clone());
                    match r.kind.as_str() {
                        "Gateway" => {
                            gateways.insert(pair);
                        }
                        "ListenerSet" => {
                            sets.insert(pair);
                        }
                        "Service" | "ServiceEntry" => {
                            services.insert(pair);
                        }
                        _ => {}
                    }
                }
                for b in &route.backends {
                    let bns = b.namespace.as_deref().unwrap_or(ns);
                    if b.kind == "Service" || b.kind == "ServiceImport" {
                        services.insert((bns.to_string(), b.name.clone()));
                    }
                    if bns != ns {
                        into.insert(bns.to_string());
                    }
                }
                for g in gateways {
                    update(&mut self.k8s_gateway_routes, g, key, op);
                }
                for l in sets {
                    update(&mut self.listener_set_routes, l, key, op);
                }
                for s in services {
                    update(&mut self.service_routes, s, key, op);
                }
                for n in into {
                    update(&mut self.cross_namespace_routes, n, key, op);
                }
            }
            Parsed::Sidecar(sc) => {
                let map = if sc.selector().is_some() {
                    &mut self.sidecars_selecting
                } else {
                    &mut self.sidecars_default
                };
                update(map, ns.to_string(), key, op);
            }
            Parsed::VirtualService(vs) => {
                let mut gateways: std::collections::BTreeSet<(String, String)> = Default::default();
                for g in vs.gateways.iter().chain(&vs.match_gateways) {
                    if let GatewayRef::Named { namespace, name } = GatewayRef::parse(&g.value, ns) {
                        gateways.insert((namespace, name));
                    }
                }
                for g in gateways {
                    update(&mut self.gateway_binders, g, key, op);
                }
                let delegates: std::collections::BTreeSet<(String, String)> = vs
                    .delegates
                    .iter()
                    .map(|d| (d.namespace.clone().unwrap_or_else(|| ns.to_string()), d.name.clone()))
                    .collect();
                for d in delegates {
                    update(&mut self.delegators, d, key, op);
                }
                let dests: std::collections::BTreeSet<String> = vs
                    .destinations
                    .iter()
                    .map(|d| host::resolve(&d.host, ns, domain).into_owned())
                    .collect();
                for d in dests {
                    update(&mut self.host_referrers, d, key, op);
                }
                if vs.is_mesh_bound() {
                    let hosts: std::collections::BTreeSet<String> = vs
                        .hosts
                        .iter()
                        .map(|h| host::resolve(&h.value, ns, domain).into_owned())
                        .collect();
                    for h in hosts {
                        update(&mut self.mesh_vs_hosts, h, key, op);
                    }
                }
            }
            _ => {}
        }
        if key.kind == crate::model::Kind::Node {
            match op {
                Op::Add => self.nodes.insert(key.clone()),
                Op::Remove => self.nodes.remove(key),
            };
        }
        if key.kind == crate::model::Kind::MutatingWebhookConfiguration {
            if let Some((tag, _)) = crate::model::proxy::revision_tag(&entry.object.labels) {
                update(&mut self.revision_tags, tag, key, op);
            }
        }
        if let Some(cp) = &entry.control_plane {
            update(&mut self.control_planes, cp.revision.clone(), key, op);
        }
        if let Some(p) = entry.workload.as_ref().and_then(|w| w.proxy.as_ref()) {
            count_nested(&mut self.proxy_classes, ns, p, op);
        }
        if let Some(w) = &entry.workload {
            let sa = w.service_account.as_deref().unwrap_or("default");
            count_nested(&mut self.service_accounts_in_use, ns, sa, op);
            for (k, v) in w.labels.iter() {
                update_nested(&mut self.workloads_by_label, k, v, key, op);
            }
            match op {
                Op::Add => self.workloads.insert(key.clone()),
                Op::Remove => self.workloads.remove(key),
            };
            update(&mut self.workloads_by_ns, ns.to_string(), key, op);
            if w.redirected || w.labels.get(crate::semantics::ambient::DATAPLANE_MODE) == Some("ambient") {
                match op {
                    Op::Add => self.ambient_opt_ins.insert(key.clone()),
                    Op::Remove => self.ambient_opt_ins.remove(key),
                };
            }
        }
        if key.kind == crate::model::Kind::Namespace
            && entry
                .object
                .labels
                .get(crate::semantics::ambient::DATAPLANE_MODE)
                .map(String::as_str)
                == Some("ambient")
        {
            match op {
                Op::Add => self.ambient_namespaces.insert(key.clone()),
                Op::Remove => self.ambient_namespaces.remove(key),
            };
        }
    }
}
