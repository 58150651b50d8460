//! Ambient mode as istiod and istio-cni apply it (product.md §4 "Ambient mode";
//! istiod's `pilot/pkg/serviceregistry/ambient`): which workloads ztunnel
//! captures, and which waypoint a Service, ServiceEntry or workload is bound to.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::model::gateway_api::{AllowedNamespaces, K8sGatewaySpec};
use crate::model::{Kind, ObjKey};
use crate::view::{ClusterView, Entry, Parsed};

pub const DATAPLANE_MODE: &str = "istio.io/dataplane-mode";
pub const USE_WAYPOINT: &str = "istio.io/use-waypoint";
pub const USE_WAYPOINT_NAMESPACE: &str = "istio.io/use-waypoint-namespace";
pub const WAYPOINT_FOR: &str = "istio.io/waypoint-for";
/// The class istiod deploys waypoints for.
pub const WAYPOINT_CLASS: &str = "istio-waypoint";

/// Istio's string match in AuthorizationPolicies (principals, namespaces,
/// paths, hosts): `*`, `prefix*`, `*suffix`, or exact.
pub fn istio_match(pattern: &str, value: &str) -> bool {
    if pattern == "*" {
        true
    } else if let Some(suffix) = pattern.strip_prefix('*') {
        value.ends_with(suffix)
    } else if let Some(prefix) = pattern.strip_suffix('*') {
        value.starts_with(prefix)
    } else {
        pattern == value
    }
}

/// Whether ztunnel captures this workload. A live Pod: istio-cni's
/// `ambient.istio.io/redirection: enabled` annotation, which is what istiod
/// reads. Otherwise (a manifest's template, a Pod not annotated yet) istio-cni's
/// rule: `istio.io/dataplane-mode: ambient` on the workload, or on its namespace
/// unless the workload says `none`; never with a sidecar.
pub fn is_ambient(view: &ClusterView, entry: &Entry) -> bool {
    let Some(w) = &entry.workload else { return false };
    if w.redirected {
        return true;
    }
    if entry.object.key.kind == Kind::Pod && !view.settings().file_mode && !view.predicts_ambient() {
        return false;
    }
    if has_sidecar(view, entry) || w.proxy.as_ref().is_some_and(|p| p.gateway) {
        return false;
    }
    match w.labels.get(DATAPLANE_MODE) {
        Some("ambient") => true,
        Some("none") => false,
        _ => namespace_label(view, &w.namespace, DATAPLANE_MODE) == Some("ambient"),
    }
}

/// One label of a namespace, without copying its labels.
fn namespace_label<'v>(view: &'v ClusterView, ns: &str, label: &str) -> Option<&'v str> {
    view.get(&ObjKey::new(Kind::Namespace, "", ns))
        .and_then(|e| e.object.labels.get(label))
        .map(String::as_str)
}

/// Whether the workload runs (or will run) a sidecar.
fn has_sidecar(view: &ClusterView, entry: &Entry) -> bool {
    use crate::model::proxy::Injection;
    let Some(w) = &entry.workload else { return false };
    match &w.proxy {
        None => false,
        Some(p) => match p.injection {
            Injection::Injected | Injection::Requested => true,
            Injection::IfNamespaceInjects => {
                namespace_label(view, &w.namespace, "istio.io/rev").is_some()
                    || namespace_label(view, &w.namespace, "istio-injection") == Some("enabled")
            }
        },
    }
}

/// What a binding is for: istiod checks a waypoint's `istio.io/waypoint-for`
/// against it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// A Service or ServiceEntry.
    Service,
    /// A Pod or WorkloadEntry.
    Workload,
}

/// A Gateway istiod treats as a waypoint (any Gateway with addresses: istiod's
/// `Waypoints` collection does not look at the class).
#[derive(Clone, Debug)]
pub struct Waypoint<'v> {
    pub entry: &'v Arc<Entry>,
    /// `istio.io/waypoint-for` of the Gateway, else its class, else `service`.
    pub traffic: String,
    pub class: String,
}

impl Waypoint<'_> {
    pub fn key(&self) -> &ObjKey {
        &self.entry.object.key
    }

    pub fn is_waypoint_class(&self) -> bool {
        self.class == WAYPOINT_CLASS
    }

    pub fn serves(&self, target: Target) -> bool {
        match target {
            Target::Service => matches!(self.traffic.as_str(), "service" | "all"),
            Target::Workload => matches!(self.traffic.as_str(), "workload" | "all"),
        }
    }
}

/// Where `istio.io/use-waypoint` leads, as istiod's `fetchWaypointForTarget`.
#[derive(Clone, Debug)]
pub enum Binding<'v> {
    /// No label on the object or its namespace, or `none`.
    Unbound,
    Bound {
        waypoint: Waypoint<'v>,
        /// The label is on the namespace, not the object.
        inherited: bool,
    },
    /// The label names a waypoint istiod does not bind: traffic bypasses it.
    Failed {
        /// The waypoint named (`namespace/name`).
        named: ObjKey,
        inherited: bool,
        why: String,
        /// Only because the Gateway has no address yet (its deployment is
        /// starting): it binds once it has, so this is no error (a GitOps batch
        /// creates the waypoint and what uses it together).
        pending: bool,
    },
}

/// The waypoint the object (namespace `ns`, `labels`) binds to.
pub fn waypoint_binding<'v>(
    view: &'v ClusterView,
    ns: &str,
    labels: &BTreeMap<String, String>,
    target: Target,
) -> Binding<'v> {
    let (named, inherited) = match use_waypoint(labels, ns) {
        Some(None) => return Binding::Unbound,
        Some(Some(n)) => (n, false),
        None => match use_waypoint(&view.namespace_labels(ns), ns) {
            Some(Some(n)) => (n, true),
            _ => return Binding::Unbound,
        },
    };
    let failed = |why: String| Binding::Failed {
        named: named.clone(),
        inherited,
        why,
        pending: false,
    };
    let Some(waypoint) = waypoint(view, &named) else {
        if view.get(&named).is_some() {
            return Binding::Failed {
                named: named.clone(),
                inherited,
                why: format!(
                    "Gateway {} has no address yet (istiod binds a waypoint once its deployment runs)",
                    named.qualified_name()
                ),
                pending: true,
            };
        }
        return failed(format!("Gateway {} does not exist", named.qualified_name()));
    };
    if !admits(view, &waypoint, ns) {
        return failed(format!(
            "its HBONE listener's allowedRoutes does not admit namespace {ns} (istiod: AttachmentDenied)"
        ));
    }
    if !waypoint.serves(target) {
        // A workload that only inherits a service waypoint from its namespace
        // is simply not bound (istiod reports nothing).
        if inherited && target == Target::Workload {
            return Binding::Unbound;
        }
        return failed(format!(
            "its istio.io/waypoint-for is {:?}, which does not take {} traffic (istiod: UnsupportedTrafficType)",
            waypoint.traffic,
            match target {
                Target::Service => "service",
                Target::Workload => "workload",
            }
        ));
    }
    Binding::Bound { waypoint, inherited }
}

/// The waypoint (namespace, name) a Service, ServiceEntry or Namespace names
/// in `istio.io/use-waypoint` (not `none`): what the view indexes.
pub fn named_waypoint(entry: &Entry) -> Option<(String, String)> {
    let key = &entry.object.key;
    let ns = match key.kind {
        Kind::Service | Kind::ServiceEntry => key.namespace.as_str(),
        Kind::Namespace => key.name.as_str(),
        _ => return None,
    };
    let named = use_waypoint(&entry.object.labels, ns)??;
    Some((named.namespace, named.name))
}

/// `istio.io/use-waypoint` of an object: `None` without the label,
/// `Some(None)` for `none`, else the Gateway it names.
fn use_waypoint(labels: &BTreeMap<String, String>, ns: &str) -> Option<Option<ObjKey>> {
    let name = labels.get(USE_WAYPOINT)?;
    if name == "none" {
        return Some(None);
    }
    let wns = labels.get(USE_WAYPOINT_NAMESPACE).map_or(ns, String::as_str);
    Some(Some(ObjKey::new(Kind::K8sGateway, wns, name.clone())))
}

/// The Gateway `key` as a waypoint: it must exist and, live, have an address
/// (istiod's `gatewayToWaypointTransform` skips a Gateway without one).
pub fn waypoint<'v>(view: &'v ClusterView, key: &ObjKey) -> Option<Waypoint<'v>> {
    let entry = view.get(key)?;
    let Parsed::K8sGateway(spec) = &entry.parsed else {
        return None;
    };
    if !view.settings().file_mode && !spec.has_status_address {
        return None;
    }
    let class_labels = view
        .get(&ObjKey::new(Kind::GatewayClass, "", spec.class.clone()))
        .map(|c| c.object.labels.clone())
        .unwrap_or_default();
    let traffic = entry
        .object
        .labels
        .get(WAYPOINT_FOR)
        .or_else(|| class_labels.get(WAYPOINT_FOR))
        .cloned()
        .unwrap_or_else(|| "service".to_string());
    Some(Waypoint {
        entry,
        traffic,
        class: spec.class.clone(),
    })
}

/// istiod's `AllowsAttachmentFromNamespace`: the `allowedRoutes` of the HBONE
/// listener on 15008 (`Same` without one).
fn admits(view: &ClusterView, w: &Waypoint, ns: &str) -> bool {
    let Parsed::K8sGateway(spec) = &w.entry.parsed else {
        return false;
    };
    let wns = w.key().namespace.as_str();
    match hbone_namespaces(spec) {
        AllowedNamespaces::All => true,
        AllowedNamespaces::Selector(sel) => sel.matches(&view.namespace_labels(ns)),
        AllowedNamespaces::Same | AllowedNamespaces::None => ns == wns,
    }
}

fn hbone_namespaces(spec: &K8sGatewaySpec) -> AllowedNamespaces {
    spec.listeners
        .iter()
        .find(|l| l.protocol == "HBONE" && l.port == Some(15008))
        .map_or(AllowedNamespaces::Same, |l| l.namespaces.clone())
}

/// The ambient workloads a selector picks in `ns` (`None`: every namespace,
/// as the root namespace's policies reach; an empty selector: all of them),
/// through the indexes: a namespace's workloads, a label's, or where ambient
/// workloads can be — never a scan of every workload.
pub fn ambient_workloads<'v>(
    view: &'v ClusterView,
    ns: Option<&'v str>,
    selector: &'v BTreeMap<String, String>,
) -> Vec<&'v Arc<Entry>> {
    let candidates: Box<dyn Iterator<Item = &'v Arc<Entry>> + 'v> = match (ns, selector.is_empty()) {
        (_, false) => Box::new(view.workloads_matching(ns, selector)),
        (Some(ns), true) => Box::new(view.workloads_in(ns)),
        (None, true) => Box::new(view.ambient_candidates()),
    };
    let mut out: Vec<&Arc<Entry>> = candidates.filter(|e| is_ambient(view, e)).collect();
    out.sort_by(|a, b| a.object.key.cmp(&b.object.key));
    out.dedup_by(|a, b| a.object.key == b.object.key);
    out
}

/// The AuthorizationPolicies ztunnel enforces for a workload of namespace `ns`
/// with `labels`: without `targetRefs`, ALLOW or DENY (istiod sends ztunnel no
/// other action), namespace-wide or selecting it, in its namespace or the root
/// namespace.
pub fn ztunnel_policies<'v>(
    view: &'v ClusterView,
    ns: &'v str,
    labels: &'v BTreeMap<String, String>,
) -> impl Iterator<Item = (&'v Arc<Entry>, &'v crate::model::security::SecuritySpec)> + 'v {
    let root = view.mesh().root_namespace.as_str();
    view.authorization_policies_in(ns)
        .chain(view.authorization_policies_in(root).filter(move |_| ns != root))
        .filter_map(move |e| {
            let Parsed::Security(s) = &e.parsed else { return None };
            let applies = s.target_refs.is_empty()
                && matches!(s.action.as_deref().unwrap_or("ALLOW"), "ALLOW" | "DENY")
                && s.selector
                    .as_ref()
                    .is_none_or(|sel| crate::model::workload::labels_match(sel, labels));
            applies.then_some((e, &**s))
        })
}

/// The service accounts a waypoint's proxies run as: its Pods', else the
/// Gateway's name (istiod's deployment names the account after it).
pub fn waypoint_identities(view: &ClusterView, waypoint: &ObjKey) -> Vec<String> {
    let sel: BTreeMap<String, String> = [(
        "gateway.networking.k8s.io/gateway-name".to_string(),
        waypoint.name.clone(),
    )]
    .into();
    let mut sas: Vec<String> = view
        .workloads_matching(Some(&waypoint.namespace), &sel)
        .filter_map(|e| e.workload.as_ref()?.service_account.clone())
        .collect();
    if sas.is_empty() {
        sas.push(waypoint.name.clone());
    }
    sas.sort();
    sas.dedup();
    sas
}
