//! What a check read of the view, as topics: the audit's dependency tracking.
//!
//! Every query of `ClusterView` names the topics its answer depends on; while a
//! check runs under [`recording`], those topics are collected. An object's
//! [`published`] topics are the ones whose answers its arrival, change or
//! departure can alter. So after a change, the objects to re-check are exactly
//! those that read a topic the change published: no check declares its
//! dependencies by hand, and a new query cannot forget to.
//!
//! Topics are coarse where that is cheap (any Gateway change is one topic) and
//! fine where churn is high (a Pod publishes its namespace and labels, so a
//! subset re-checks only when a workload carrying its first label moves).

use std::cell::RefCell;

use super::entry::{Entry, Parsed};
use crate::model::{Kind, ObjKey};
use crate::semantics::gateway_ref::GatewayRef;
use crate::semantics::host;

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Topic {
    /// One object by key (`get`, `gateway`, `virtual_service`).
    Object(ObjKey),
    /// A host (FQDN or literal wildcard): the registry entries providing it, the
    /// DestinationRules for it, the mesh VirtualServices declaring it and the
    /// VirtualServices routing to it.
    Host(String),
    /// The set of registry hosts as a whole (`any_registry_under`).
    Registry,
    /// VirtualServices naming Gateway (namespace, name).
    GatewayBinders(String, String),
    /// VirtualServices delegating to VirtualService (namespace, name).
    Delegators(String, String),
    /// Workloads of a namespace (`None`: any) carrying a label (`None`: any workload).
    Workloads(Option<String>, Option<(String, String)>),
    /// Services of a namespace.
    Services(String),
    /// Any Gateway's servers or selector.
    Gateways,
    Sidecars(String),
    PeerAuthentications(String),
    RequestAuthentications(String),
    AuthorizationPolicies(String),
    /// Objects whose `istio.io/use-waypoint` names Gateway (namespace, name).
    WaypointUsers(String, String),
    /// DestinationRules that turn TLS off.
    TlsDisablingRules,
    /// MeshConfig.
    Mesh,
    /// Which namespaces exist.
    Namespaces,
    /// ReferenceGrants of a namespace.
    ReferenceGrants(String),
    /// BackendTLSPolicies of a namespace.
    BackendTlsPolicies(String),
    /// ListenerSets naming Gateway API Gateway (namespace, name) as parent.
    ListenerSetsOf(String, String),
    /// Gateway API Gateways and ListenerSets naming Secret (namespace, name)
    /// as a listener certificate.
    CertificateUsers(String, String),
    /// Control planes, revision tags and the namespace labels injection follows.
    ControlPlanes,
    Nodes,
    /// Everything (a scan of all entries).
    All,
}

thread_local! {
    static RECORDING: RefCell<Option<Vec<Topic>>> = const { RefCell::new(None) };
}

/// Runs `f`, returning what it returned and the topics the view queries made
/// during it read (sorted, without duplicates). Nested recordings are not
/// supported: the inner one takes the reads.
pub fn recording<R>(f: impl FnOnce() -> R) -> (R, Vec<Topic>) {
    let outer = RECORDING.with(|r| r.replace(Some(Vec::new())));
    let out = f();
    let mut topics = RECORDING.with(|r| r.replace(outer)).unwrap_or_default();
    topics.sort_unstable();
    topics.dedup();
    (out, topics)
}

/// Notes a read; `topic` is built only while recording.
pub(super) fn read(topic: impl FnOnce() -> Topic) {
    RECORDING.with(|r| {
        if let Some(v) = r.borrow_mut().as_mut() {
            v.push(topic());
        }
    });
}

pub(super) fn read_workloads(namespace: Option<&str>, label: Option<(&String, &String)>) {
    read(|| {
        Topic::Workloads(
            namespace.map(str::to_string),
            label.map(|(k, v)| (k.clone(), v.clone())),
        )
    });
}

fn certificate_topics<'a>(
    listeners: &'a [crate::model::gateway_api::Listener],
    ns: &'a str,
) -> impl Iterator<Item = Topic> + 'a {
    listeners
        .iter()
        .flat_map(|l| &l.certificate_refs)
        .filter(|c| matches!(c.group.as_str(), "" | "core") && c.kind == "Secret")
        .map(move |c| Topic::CertificateUsers(c.namespace.as_deref().unwrap_or(ns).to_string(), c.name.clone()))
}

/// The topics whose answers `entry`'s presence in a view affects: publish them
/// for the old and the new version of a changed object. Mirrors the index walk.
pub fn published(entry: &Entry, domain: &str) -> Vec<Topic> {
    let key = &entry.object.key;
    let ns = key.namespace.as_str();
    let mut out = vec![Topic::Object(key.clone())];
    let provided = entry.provided_hosts(domain);
    if !provided.is_empty() {
        out.push(Topic::Registry);
    }
    out.extend(provided.into_iter().map(Topic::Host));
    match &entry.parsed {
        Parsed::Service(_) => out.push(Topic::Services(ns.to_string())),
        Parsed::DestinationRule(dr) => {
            out.push(Topic::TlsDisablingRules);
            if let Some(h) = &dr.host {
                out.push(Topic::Host(host::resolve(h, ns, domain).into_owned()));
            }
        }
        Parsed::VirtualService(vs) => {
            for g in vs.gateways.iter().chain(&vs.match_gateways) {
                if let GatewayRef::Named { namespace, name } = GatewayRef::parse(&g.value, ns) {
                    out.push(Topic::GatewayBinders(namespace, name));
                }
            }
            for d in &vs.delegates {
                let dns = d.namespace.clone().unwrap_or_else(|| ns.to_string());
                out.push(Topic::Delegators(dns, d.name.clone()));
            }
            for d in &vs.destinations {
                out.push(Topic::Host(host::resolve(&d.host, ns, domain).into_owned()));
            }
            for h in &vs.hosts {
                out.push(Topic::Host(host::resolve(&h.value, ns, domain).into_owned()));
            }
        }
        Parsed::Gateway(_) => out.push(Topic::Gateways),
        Parsed::Sidecar(_) => out.push(Topic::Sidecars(ns.to_string())),
        Parsed::Security(_) if key.kind == Kind::PeerAuthentication => {
            out.push(Topic::PeerAuthentications(ns.to_string()))
        }
        Parsed::Security(_) if key.kind == Kind::RequestAuthentication => {
            out.push(Topic::RequestAuthentications(ns.to_string()))
        }
        Parsed::Security(_) if key.kind == Kind::AuthorizationPolicy => {
            out.push(Topic::AuthorizationPolicies(ns.to_string()))
        }
        Parsed::MeshConfig(_) => out.push(Topic::Mesh),
        Parsed::ReferenceGrant(_) => out.push(Topic::ReferenceGrants(ns.to_string())),
        Parsed::BackendTlsPolicy(_) => out.push(Topic::BackendTlsPolicies(ns.to_string())),
        Parsed::ListenerSet(set) => {
            if let Some(p) = &set.parent {
                out.push(Topic::ListenerSetsOf(p.namespace_or(ns).to_string(), p.name.clone()));
            }
            out.extend(certificate_topics(&set.listeners, ns));
        }
        Parsed::K8sGateway(gw) => out.extend(certificate_topics(&gw.listeners, ns)),
        _ => {}
    }
    if let Some((wns, w)) = crate::semantics::ambient::named_waypoint(entry) {
        out.push(Topic::WaypointUsers(wns, w));
    }
    match key.kind {
        Kind::Namespace => out.extend([Topic::Namespaces, Topic::ControlPlanes]),
        Kind::Node => out.push(Topic::Nodes),
        Kind::MutatingWebhookConfiguration => out.push(Topic::ControlPlanes),
        _ => {}
    }
    if entry.control_plane.is_some() {
        out.push(Topic::ControlPlanes);
    }
    if let Some(w) = &entry.workload {
        for scope in [Some(w.namespace.clone()), None] {
            out.push(Topic::Workloads(scope.clone(), None));
            for (k, v) in w.labels.iter() {
                out.push(Topic::Workloads(scope.clone(), Some((k.to_string(), v.to_string()))));
            }
        }
    }
    out.push(Topic::All);
    out
}
