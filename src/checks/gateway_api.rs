//! Kubernetes Gateway API objects, as istiod converts them
//! (`pilot/pkg/config/kube/gateway`, 1.30): route attachment per parentRef
//! (`referenceAllowed`, `createRouteStatus`), backends (`buildDestination`),
//! and Gateway classes. Findings go on the user's own fields.

use std::collections::BTreeMap;

use super::{catalog, join};
use crate::finding::Finding;
use crate::model::fields::child;
use crate::model::gateway_api::{
    AllowedNamespaces, BackendRef, K8sGatewaySpec, Listener, ListenerSetSpec, ParentRef, ReferenceGrantSpec, RouteSpec,
    GROUP,
};
use crate::model::proxy::ControlPlane;
use crate::model::{Kind, ObjKey};
use crate::semantics::host;
use crate::view::{ClusterView, Entry, Parsed};

/// The controllers of Istio's classes, and what istiod does with their Gateways.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Controller {
    /// `istio.io/gateway-controller` and `istio.io/eastwest-controller`:
    /// routes are converted for their listeners.
    Routes,
    /// `istio.io/mesh-controller` (waypoints) and `istio.io/unmanaged-gateway`
    /// (`istio-remote`): istiod converts no routes for them here.
    NoRoutes,
    /// Another controller's class: never judged.
    Other,
    /// No GatewayClass and no built-in class of that name.
    Unknown,
}

fn controller_of(name: &str) -> Controller {
    match name {
        "istio.io/gateway-controller" | "istio.io/eastwest-controller" => Controller::Routes,
        "istio.io/mesh-controller" | "istio.io/unmanaged-gateway" => Controller::NoRoutes,
        _ => Controller::Other,
    }
}

/// The controller of a class: its GatewayClass object, else Istio's built-in
/// classes (which exist without an object).
fn class_controller(view: &ClusterView, class: &str) -> Controller {
    if let Some(e) = view.get(&ObjKey::new(Kind::GatewayClass, "", class)) {
        if let Parsed::GatewayClass(gc) = &e.parsed {
            return controller_of(&gc.controller);
        }
    }
    match class {
        "istio" | "istio-east-west" => Controller::Routes,
        "istio-remote" | "istio-waypoint" => Controller::NoRoutes,
        _ => Controller::Unknown,
    }
}

pub fn check_gateway(entry: &Entry, gw: &K8sGatewaySpec, view: &ClusterView, out: &mut Vec<Finding>) {
    if class_controller(view, &gw.class) == Controller::Routes {
        for l in &gw.listeners {
            for problem in listener_problems(view, entry, l) {
                out.push(problem.finding);
            }
            if !l.kinds.is_empty() && listener_kinds(l).is_empty() {
                out.push(Finding::new(
                    &catalog::MG0926,
                    &entry.object.key,
                    child(&child(&l.pointer, "allowedRoutes"), "kinds"),
                    format!(
                        "listener {:?} ({}) allows only route kinds its protocol does not take ({}; istiod: InvalidRouteKinds): no route can attach to it",
                        l.name,
                        l.protocol,
                        join(l.kinds.iter().map(|(_, k)| k.as_str()))
                    ),
                ));
            }
        }
    }
    if !gw.class.is_empty() && class_controller(view, &gw.class) == Controller::Unknown {
        out.push(Finding::new(
            &catalog::MG0907,
            &entry.object.key,
            crate::finding::pointer("/spec/gatewayClassName"),
            format!(
                "gatewayClassName \"{}\" names no GatewayClass and no Istio built-in class (istio, istio-remote, istio-waypoint, istio-east-west): no controller programs this Gateway until that class exists",
                gw.class
            ),
        ));
    }
}

/// Whether the control planes that read an object handle a feature: `None`
/// when any of them is unknown (no control plane at all, or a version or flags
/// that cannot be read): absence of evidence is not a finding.
fn istiod_support(
    view: &ClusterView,
    entry: &Entry,
    supported: fn(&ControlPlane) -> Option<bool>,
) -> Option<Result<(), String>> {
    let rev = entry.object.labels.get("istio.io/rev");
    let readers: Vec<&ControlPlane> = view
        .control_plane_list()
        .into_iter()
        .filter(|cp| rev.is_none_or(|r| *r == cp.revision))
        .collect();
    if readers.is_empty() {
        return None;
    }
    let mut refused = Vec::new();
    for cp in readers {
        match supported(cp)? {
            true => return Some(Ok(())),
            false => refused.push(format!(
                "istiod {} (revision {})",
                cp.version.as_deref().unwrap_or("?"),
                cp.revision
            )),
        }
    }
    Some(Err(join(&refused)))
}

/// TCPRoute and TCP listeners: from 1.31, or with the alpha flag (1.28-1.30).
fn reads_tcp(cp: &ControlPlane) -> Option<bool> {
    let (major, minor) = cp.minor()?;
    if (major, minor) >= (1, 31) {
        return Some(true);
    }
    if (major, minor) < (1, 28) {
        return None;
    }
    cp.flag(ALPHA_FLAG)
}

/// TLSRoute and TLS listeners: from 1.30, or with the alpha flag (1.28, 1.29).
fn reads_tls(cp: &ControlPlane) -> Option<bool> {
    let (major, minor) = cp.minor()?;
    if (major, minor) >= (1, 30) {
        return Some(true);
    }
    if (major, minor) < (1, 28) {
        return None;
    }
    cp.flag(ALPHA_FLAG)
}

const ALPHA_FLAG: &str = "PILOT_ENABLE_ALPHA_GATEWAY_API";

/// Why istiod does not program a listener.
struct ListenerProblem {
    finding: Finding,
    /// Only because a certificate Secret does not exist (yet).
    missing_secret_only: bool,
}

/// istiod's `buildListener` for an ingress-class Gateway: the protocol
/// (`listenerProtocolToIstio`) and, for a terminating TLS listener, its
/// certificates (`buildTLS`, `buildSecretReference`, ReferenceGrants).
fn listener_problems(view: &ClusterView, entry: &Entry, l: &Listener) -> Vec<ListenerProblem> {
    let key = &entry.object.key;
    let mut out = Vec::new();
    let protocol_at = child(&l.pointer, "protocol");
    let not_programmed = "not programmed: routes attached to it get no Envoy listener (connections refused, or 404 on a port other listeners share)";
    match l.protocol.as_str() {
        "HTTP" | "HTTPS" => {}
        "TCP" | "TLS" => {
            let check = if l.protocol == "TCP" { reads_tcp } else { reads_tls };
            if let Some(Err(who)) = istiod_support(view, entry, check) {
                out.push(ListenerProblem {
                    finding: Finding::new(
                        &catalog::MG0922,
                        key,
                        protocol_at.clone(),
                        format!(
                            "listener {:?}: {who} programs {} listeners only with {ALPHA_FLAG}=true (istiod: UnsupportedProtocol): {not_programmed}",
                            l.name, l.protocol
                        ),
                    ),
                    missing_secret_only: false,
                });
            }
        }
        other => {
            let upper = other.to_ascii_uppercase();
            let hint = if ["HTTP", "HTTPS", "TLS", "TCP"].contains(&upper.as_str()) {
                format!("; protocol names are case-sensitive: {upper}")
            } else if other == "HBONE" {
                "; HBONE is only for waypoint and east-west classes".to_string()
            } else {
                String::new()
            };
            out.push(ListenerProblem {
                finding: Finding::new(
                    &catalog::MG0922,
                    key,
                    protocol_at,
                    format!(
                        "listener {:?}: protocol {other:?} is not one istiod programs on an ingress Gateway (HTTP, HTTPS, TLS, TCP{hint}; istiod: UnsupportedProtocol): {not_programmed}",
                        l.name
                    ),
                ),
                missing_secret_only: false,
            });
        }
    }
    let terminates = l.has_tls && l.tls_mode.as_deref().is_none_or(|m| m == "Terminate");
    let istio_certs = matches!(
        l.tls_options
            .get("gateway.istio.io/tls-terminate-mode")
            .map(String::as_str),
        Some("ISTIO_SIMPLE" | "ISTIO_MUTUAL")
    );
    if terminates && !istio_certs && !l.certificate_refs.is_empty() {
        let refs_at = child(&child(&l.pointer, "tls"), "certificateRefs");
        if l.certificate_refs.len() > 2 {
            out.push(ListenerProblem {
                finding: Finding::new(
                    &catalog::MG0921,
                    key,
                    refs_at,
                    format!("listener {:?} has {} certificateRefs; istiod takes at most 2 (istiod: InvalidCertificateRef): {not_programmed}", l.name, l.certificate_refs.len()),
                ),
                missing_secret_only: false,
            });
            return out;
        }
        let gw_ns = key.namespace.as_str();
        let mut reasons = Vec::new();
        let mut missing_only = true;
        let mut usable = 0;
        let mut grant_namespaces = Vec::new();
        for c in &l.certificate_refs {
            let ns = c.namespace.as_deref().unwrap_or(gw_ns);
            if !(matches!(c.group.as_str(), "" | "core") && c.kind == "Secret") {
                reasons.push(format!("{} {}/{} is not a Secret", c.kind, ns, c.name));
                missing_only = false;
                continue;
            }
            if view.get(&ObjKey::new(Kind::Secret, ns, c.name.clone())).is_none() {
                reasons.push(format!("Secret {ns}/{} does not exist", c.name));
                continue;
            }
            if ns != gw_ns && !grant_allows(view, key.kind, gw_ns, ns, "", "Secret", &c.name) {
                reasons.push(format!(
                    "Secret {ns}/{} is in another namespace and no ReferenceGrant there lets {}s in {gw_ns} use it",
                    c.name, key.kind
                ));
                missing_only = false;
                grant_namespaces.push(ns.to_string());
                continue;
            }
            usable += 1;
        }
        if usable == 0 {
            let first = l.certificate_refs[0].pointer.clone();
            let finding = Finding::new(
                &catalog::MG0921,
                key,
                first,
                format!(
                    "listener {:?} has no usable certificate: {} (istiod: InvalidCertificateRef): {not_programmed}",
                    l.name,
                    join(&reasons)
                ),
            );
            // A missing grant may come in the same batch (after the Gateway).
            let finding = if grant_namespaces.is_empty() {
                finding
            } else {
                finding.with_referents_of(Kind::ReferenceGrant, grant_namespaces)
            };
            out.push(ListenerProblem {
                finding: if missing_only {
                    finding.with_severity(crate::finding::Severity::Warning)
                } else {
                    finding
                },
                missing_secret_only: missing_only,
            });
        }
    }
    out
}

pub fn check_reference_grant(entry: &Entry, grant: &ReferenceGrantSpec, view: &ClusterView, out: &mut Vec<Finding>) {
    for (i, (_, _, ns)) in grant.from.iter().enumerate() {
        if !ns.is_empty() && !view.namespace_exists(ns) {
            out.push(Finding::new(
                &catalog::MG0941,
                &entry.object.key,
                crate::model::fields::index(&crate::finding::pointer("/spec/from"), i).with_trailing_token("namespace"),
                format!("namespace {ns} does not exist: this entry permits nothing until it does"),
            ));
        }
    }
}

/// The separator of the Istio Gateways istiod generates per Gateway API listener:
/// `<gateway>~istio-autogenerated-k8s-gateway~<listener>` (istiod 1.28+).
const GENERATED_GATEWAY: &str = "~istio-autogenerated-k8s-gateway~";

/// For the name of a Gateway istiod generates from a Gateway API listener
/// (an Istio VirtualService may bind it): whether that listener exists and is
/// programmed. `None` for any other name.
pub(crate) fn generated_gateway_programmed(view: &ClusterView, namespace: &str, name: &str) -> Option<bool> {
    let (gateway, listener) = name.split_once(GENERATED_GATEWAY)?;
    let Some(e) = view.get(&ObjKey::new(Kind::K8sGateway, namespace, gateway)) else {
        return Some(false);
    };
    let Parsed::K8sGateway(spec) = &e.parsed else {
        return Some(false);
    };
    if class_controller(view, &spec.class) != Controller::Routes {
        return Some(false);
    }
    Some(
        spec.listeners
            .iter()
            .any(|l| l.name == listener && listener_problems(view, e, l).is_empty()),
    )
}

/// Why one listener does not take a parentRef (istiod's `ParentError` reasons,
/// ranked as `createRouteStatus` ranks them: NotAllowed first).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Denied {
    NotAllowed(String),
    NoHostname(String),
    NotAccepted(String),
}

/// Route kinds a listener takes (`generateSupportedKinds`).
fn listener_kinds(l: &Listener) -> Vec<(String, String)> {
    let supported: &[&str] = match l.protocol.as_str() {
        "HTTP" | "HTTPS" => &["HTTPRoute", "GRPCRoute"],
        "TCP" => &["TCPRoute"],
        "TLS" if l.tls_mode.as_deref() == Some("Terminate") => &["TLSRoute", "TCPRoute"],
        "TLS" => &["TLSRoute"],
        _ => &[],
    };
    supported
        .iter()
        .map(|k| (GROUP.to_string(), k.to_string()))
        .filter(|sk| l.kinds.is_empty() || l.kinds.contains(sk))
        .collect()
}

/// Whether two hostnames overlap, a leading `*` matching either way (istiod's
/// `host.Name.Matches`).
fn hostnames_overlap(a: &str, b: &str) -> bool {
    if a == "*" || b == "*" {
        return true;
    }
    match (a.strip_prefix('*'), b.strip_prefix('*')) {
        (None, None) => a.eq_ignore_ascii_case(b),
        (Some(sa), None) => b.to_ascii_lowercase().ends_with(&sa.to_ascii_lowercase()),
        (None, Some(sb)) => a.to_ascii_lowercase().ends_with(&sb.to_ascii_lowercase()),
        (Some(sa), Some(sb)) => {
            let (sa, sb) = (sa.to_ascii_lowercase(), sb.to_ascii_lowercase());
            sa.ends_with(&sb) || sb.ends_with(&sa)
        }
    }
}

/// The labels a namespace is selected by: its own, and the implicit
/// `kubernetes.io/metadata.name` (istiod's `toNamespaceSet`).
fn namespace_labels(view: &ClusterView, ns: &str) -> BTreeMap<String, String> {
    let mut labels: BTreeMap<String, String> = view
        .get(&ObjKey::new(Kind::Namespace, "", ns))
        .map(|e| {
            e.object
                .labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .unwrap_or_default();
    labels.insert("kubernetes.io/metadata.name".to_string(), ns.to_string());
    labels
}

/// istiod's `referenceAllowed` for one listener of a Gateway parent.
fn reference_allowed(
    view: &ClusterView,
    l: &Listener,
    gw_ns: &str,
    r: &ParentRef,
    route_kind: Kind,
    hostnames: &[String],
    route_ns: &str,
) -> Option<Denied> {
    if let Some(p) = r.port {
        if Some(p) != l.port {
            return Some(Denied::NotAccepted(format!("port {p} not found")));
        }
    }
    if let Some(s) = &r.section_name {
        if *s != l.name {
            return Some(Denied::NotAccepted(format!("sectionName {s:?} not found")));
        }
    }
    let listener_host = l.hostname.as_deref().unwrap_or("*");
    let host_matched = if hostnames.is_empty() {
        true
    } else {
        hostnames.iter().any(|h| hostnames_overlap(listener_host, h))
    };
    let namespace_allowed = match &l.namespaces {
        AllowedNamespaces::Same => route_ns == gw_ns,
        AllowedNamespaces::All => true,
        AllowedNamespaces::Selector(sel) => sel.matches(&namespace_labels(view, route_ns)),
        AllowedNamespaces::None => false,
    };
    if !(host_matched && namespace_allowed) {
        return Some(if host_matched {
            Denied::NotAllowed(format!(
                "listener {:?} does not admit namespace {route_ns} ({})",
                l.name,
                match &l.namespaces {
                    AllowedNamespaces::Same => format!("allowedRoutes.namespaces.from: Same, the Gateway's {gw_ns}"),
                    AllowedNamespaces::All => "All".to_string(),
                    AllowedNamespaces::Selector(_) => "its namespace selector does not match".to_string(),
                    AllowedNamespaces::None => "it admits none".to_string(),
                }
            ))
        } else {
            Denied::NoHostname(format!(
                "no hostname matches listener {:?} hostname {listener_host:?}",
                l.name
            ))
        });
    }
    let kinds = listener_kinds(l);
    if !kinds.iter().any(|(g, k)| g == GROUP && k == route_kind.as_str()) {
        return Some(Denied::NotAllowed(format!(
            "listener {:?} ({}) does not take {} (it takes {})",
            l.name,
            l.protocol,
            route_kind,
            if kinds.is_empty() {
                "no route kind".to_string()
            } else {
                join(kinds.iter().map(|(_, k)| k.as_str()))
            }
        )));
    }
    None
}

fn http_like(kind: Kind) -> bool {
    matches!(kind, Kind::HTTPRoute | Kind::GRPCRoute)
}

/// What a broken backend's traffic meets.
fn backend_consequence(kind: Kind) -> &'static str {
    if http_like(kind) {
        "its share of requests gets 500"
    } else {
        "its share of connections is closed"
    }
}

/// The parents istiod would convert this route for.
#[derive(Default)]
struct Parents {
    gateway: bool,
    mesh: bool,
}

pub fn check_route(entry: &Entry, route: &RouteSpec, view: &ClusterView, out: &mut Vec<Finding>) {
    let key = &entry.object.key;
    let support = match key.kind {
        Kind::TCPRoute => istiod_support(view, entry, reads_tcp),
        Kind::TLSRoute => istiod_support(view, entry, reads_tls),
        _ => None,
    };
    if let Some(Err(who)) = support {
        out.push(Finding::new(
            &catalog::MG0908,
            key,
            crate::finding::pointer("/kind"),
            format!(
                "{who} reads no {} without {ALPHA_FLAG}=true: this route is ignored whole (404 at its gateways, connections closed)",
                key.kind
            ),
        ));
        return;
    }
    if http_like(key.kind) {
        for rule in &route.rules {
            let message = if rule.backends == 0 && !rule.redirect {
                "this rule has no backendRefs and no redirect: its requests get 404 from istiod 1.30 (500 from 1.31)"
            } else if rule.backends > 0 && rule.zero_weight == rule.backends {
                "every backend of this rule has weight 0: its requests get 500"
            } else {
                continue;
            };
            out.push(Finding::new(
                &catalog::MG0917,
                key,
                rule.pointer.clone(),
                message.to_string(),
            ));
        }
    }
    let mut parents = Parents::default();
    for r in &route.parent_refs {
        match (r.group.as_str(), r.kind.as_str()) {
            (GROUP, "Gateway") => check_gateway_parent(entry, route, r, view, &mut parents, out),
            (GROUP, "ListenerSet") => check_listener_set_parent(entry, route, r, view, &mut parents, out),
            ("" | "core", "Service") => check_mesh_parent(entry, route, r, Kind::Service, view, &mut parents, out),
            ("networking.istio.io", "ServiceEntry") => {
                check_mesh_parent(entry, route, r, Kind::ServiceEntry, view, &mut parents, out)
            }
            // Another controller's parent kind (istiod ignores the reference).
            _ => {}
        }
    }
    if parents.gateway || parents.mesh {
        for b in &route.backends {
            check_backend(entry, b, parents.gateway, view, out);
        }
    }
}

fn check_gateway_parent(
    entry: &Entry,
    route: &RouteSpec,
    r: &ParentRef,
    view: &ClusterView,
    parents: &mut Parents,
    out: &mut Vec<Finding>,
) {
    let key = &entry.object.key;
    let gw_ns = r.namespace_or(&key.namespace);
    let gw_key = ObjKey::new(Kind::K8sGateway, gw_ns, r.name.clone());
    let Some(gw) = view.get(&gw_key) else {
        parents.gateway = true;
        out.push(
            Finding::new(
                &catalog::MG0901,
                key,
                child(&r.pointer, "name"),
                format!(
                    "parent Gateway {gw_ns}/{} not found: the route is attached to nothing there and istiod writes no status for it; \
                     requests for {} at that gateway get 404",
                    r.name,
                    hosts_text(&route.hostnames)
                ),
            )
            .with_referent(gw_key),
        );
        return;
    };
    let Parsed::K8sGateway(spec) = &gw.parsed else { return };
    if class_controller(view, &spec.class) != Controller::Routes {
        return;
    }
    parents.gateway = true;
    judge_listeners(entry, route, r, view, gw, &spec.listeners, ("Gateway", gw_key), out);
}

/// A parentRef to a ListenerSet: its listeners, once its Gateway accepts it.
fn check_listener_set_parent(
    entry: &Entry,
    route: &RouteSpec,
    r: &ParentRef,
    view: &ClusterView,
    parents: &mut Parents,
    out: &mut Vec<Finding>,
) {
    let key = &entry.object.key;
    let ns = r.namespace_or(&key.namespace);
    let set_key = ObjKey::new(Kind::ListenerSet, ns, r.name.clone());
    let (why, referent) = match view.get(&set_key) {
        None => ("not found".to_string(), set_key.clone()),
        Some(set) => {
            let Parsed::ListenerSet(spec) = &set.parsed else { return };
            match listener_set_state(view, ns, spec) {
                SetState::NotJudged => return,
                SetState::Refused(why, gw) => (format!("refused by its Gateway: {why} (MG0909)"), gw),
                SetState::Accepted => {
                    parents.gateway = true;
                    judge_listeners(
                        entry,
                        route,
                        r,
                        view,
                        set,
                        &spec.listeners,
                        ("ListenerSet", set_key),
                        out,
                    );
                    return;
                }
            }
        }
    };
    parents.gateway = true;
    out.push(
        Finding::new(
            &catalog::MG0901,
            key,
            child(&r.pointer, "name"),
            format!(
                "parent ListenerSet {ns}/{} {why}: the route is attached to nothing there and istiod writes no status for it; \
                 requests for {} there get 404",
                r.name,
                hosts_text(&route.hostnames)
            ),
        )
        .with_referent(referent),
    );
}

/// Whether a ListenerSet's parent Gateway takes it (istiod's
/// `ListenerSetCollection`: an Istio class that supports ListenerSets, and
/// `allowedListeners` admitting its namespace).
enum SetState {
    /// Not a Gateway of Istio's (or no Gateway parent kind): not judged.
    NotJudged,
    /// Refused: why, and the object that could fix it.
    Refused(String, ObjKey),
    Accepted,
}

fn listener_set_state(view: &ClusterView, ns: &str, spec: &ListenerSetSpec) -> SetState {
    let Some(parent) = &spec.parent else {
        return SetState::NotJudged;
    };
    if !(parent.group == GROUP && parent.kind == "Gateway") {
        return SetState::NotJudged;
    }
    let pns = parent.namespace_or(ns);
    let gw_key = ObjKey::new(Kind::K8sGateway, pns, parent.name.clone());
    let Some(gw) = view.get(&gw_key) else {
        return SetState::Refused(
            format!("its parent Gateway {pns}/{} does not exist", parent.name),
            gw_key,
        );
    };
    let Parsed::K8sGateway(gspec) = &gw.parsed else {
        return SetState::NotJudged;
    };
    match class_controller(view, &gspec.class) {
        Controller::Routes => {}
        Controller::NoRoutes => {
            return SetState::Refused(
                format!(
                    "Gateway {pns}/{} is of class {}, which takes no ListenerSets",
                    parent.name, gspec.class
                ),
                gw_key,
            )
        }
        _ => return SetState::NotJudged,
    }
    let admitted = match &gspec.allowed_listeners {
        None | Some(AllowedNamespaces::None) => false,
        Some(AllowedNamespaces::All) => true,
        Some(AllowedNamespaces::Same) => ns == pns,
        Some(AllowedNamespaces::Selector(sel)) => sel.matches(&namespace_labels(view, ns)),
    };
    if !admitted {
        return SetState::Refused(
            format!(
                "Gateway {pns}/{}'s spec.allowedListeners does not admit namespace {ns}",
                parent.name
            ),
            gw_key,
        );
    }
    SetState::Accepted
}

pub fn check_listener_set(entry: &Entry, spec: &ListenerSetSpec, view: &ClusterView, out: &mut Vec<Finding>) {
    let key = &entry.object.key;
    if let Some(Err(who)) = istiod_support(view, entry, reads_listener_set) {
        out.push(Finding::new(
            &catalog::MG0908,
            key,
            crate::finding::pointer("/kind"),
            format!("{who} reads no gateway.networking.k8s.io ListenerSet (from 1.30): it is ignored whole, and routes attached to it get 404"),
        ));
        return;
    }
    match listener_set_state(view, &key.namespace, spec) {
        SetState::NotJudged => {}
        SetState::Refused(why, gw) => out.push(
            Finding::new(
                &catalog::MG0909,
                key,
                crate::finding::pointer("/spec/parentRef"),
                format!("this ListenerSet is refused: {why}; none of its listeners is programmed, routes attached to it get 404"),
            )
            .with_referent(gw),
        ),
        SetState::Accepted => {
            for l in &spec.listeners {
                out.extend(listener_problems(view, entry, l).into_iter().map(|p| p.finding));
            }
        }
    }
}

/// ListenerSet (gateway.networking.k8s.io): from 1.30.
fn reads_listener_set(cp: &ControlPlane) -> Option<bool> {
    let (major, minor) = cp.minor()?;
    if (major, minor) < (1, 28) {
        return None;
    }
    Some((major, minor) >= (1, 30))
}

/// Attachment to the listeners of a Gateway or an accepted ListenerSet (the
/// parent istiod keys them by): MG0902-MG0906.
#[allow(clippy::too_many_arguments)]
fn judge_listeners(
    entry: &Entry,
    route: &RouteSpec,
    r: &ParentRef,
    view: &ClusterView,
    parent: &Entry,
    listeners: &[Listener],
    (parent_kind, gw_key): (&str, ObjKey),
    out: &mut Vec<Finding>,
) {
    let key = &entry.object.key;
    let gw_ns = gw_key.namespace.as_str();
    let results: Vec<Option<Denied>> = listeners
        .iter()
        .map(|l| reference_allowed(view, l, gw_ns, r, key.kind, &route.hostnames, &key.namespace))
        .collect();
    if results.is_empty() {
        return;
    }
    if results.iter().any(Option::is_none) {
        let accepted: Vec<&Listener> = listeners
            .iter()
            .zip(&results)
            .filter(|(_, r)| r.is_none())
            .map(|(l, _)| l)
            .collect();
        let problems: Vec<Vec<ListenerProblem>> = accepted.iter().map(|l| listener_problems(view, parent, l)).collect();
        if problems.iter().all(|p| !p.is_empty()) {
            let missing_only = problems.iter().flatten().all(|p| p.missing_secret_only);
            let why: Vec<String> = problems.iter().flatten().map(|p| p.finding.message.clone()).collect();
            let f = Finding::new(
                &catalog::MG0906,
                key,
                r.pointer.clone(),
                format!(
                    "every listener of {parent_kind} {gw_ns}/{} that accepts this route is not programmed ({}): istiod reports the route Accepted, \
                     but requests for {} there get no listener (connection refused, or 404 on a shared port)",
                    r.name,
                    join(&why),
                    hosts_text(&route.hostnames)
                ),
            )
            .with_referent(gw_key.clone());
            out.push(if missing_only {
                f.with_severity(crate::finding::Severity::Warning)
            } else {
                f
            });
            return;
        }
        check_isolation(
            entry,
            route,
            &accepted,
            listeners,
            &format!("{parent_kind} {gw_ns}/{}", r.name),
            out,
        );
        return;
    }
    let denials: Vec<Denied> = results.into_iter().flatten().collect();
    let worst = denials.iter().min().cloned();
    let reasons = |pick: fn(&Denied) -> Option<&String>| join(denials.iter().filter_map(pick));
    let gw_name = format!("{parent_kind} {gw_ns}/{}", r.name);
    let hosts = hosts_text(&route.hostnames);
    let f = match worst {
        Some(Denied::NotAllowed(_)) => Finding::new(
            &catalog::MG0903,
            key,
            r.pointer.clone(),
            format!(
                "no listener of {gw_name} admits this route: {} (istiod: NotAllowedByListeners); not attached, so requests for {hosts} there get 404",
                reasons(|d| match d {
                    Denied::NotAllowed(m) => Some(m),
                    _ => None,
                })
            ),
        ),
        Some(Denied::NoHostname(_)) => Finding::new(
            &catalog::MG0904,
            key,
            crate::finding::pointer("/spec/hostnames"),
            format!(
                "hostnames {} match no listener of {gw_name}: {} (istiod: NoMatchingListenerHostname); not attached, so they get 404 there",
                join(&route.hostnames),
                reasons(|d| match d {
                    Denied::NoHostname(m) => Some(m),
                    _ => None,
                })
            ),
        ),
        _ => {
            let (pointer, what) = match (&r.section_name, r.port) {
                (Some(s), _) => (child(&r.pointer, "sectionName"), format!("sectionName {s:?}")),
                (None, Some(p)) => (child(&r.pointer, "port"), format!("port {p}")),
                (None, None) => (r.pointer.clone(), "this reference".to_string()),
            };
            let names: Vec<String> = listeners
                .iter()
                .map(|l| format!("{} (port {})", l.name, l.port.map_or("?".to_string(), |p| p.to_string())))
                .collect();
            Finding::new(
                &catalog::MG0902,
                key,
                pointer,
                format!(
                    "{what} names no listener of {gw_name} (listeners: {}; istiod: NoMatchingParent): not attached, so requests for {hosts} there get 404",
                    join(&names)
                ),
            )
        }
    };
    // The Gateway's listeners decide: a batch may change them too.
    out.push(f.with_referent(gw_key));
}

/// istiod's `hostnameAllowedByIsolation`: whether `route_host` survives at
/// listener `ours`, given the other listeners of the Gateway on its port and
/// protocol (the listener that owns a host more specifically takes it).
fn isolated_by<'a>(route_host: &str, ours: &Listener, listeners: &'a [Listener]) -> Option<&'a Listener> {
    let our_host = ours.hostname.as_deref().unwrap_or("");
    if !our_host.is_empty() && !our_host.starts_with('*') {
        return None;
    }
    listeners
        .iter()
        .filter(|l| l.port == ours.port && l.protocol == ours.protocol && l.name != ours.name)
        .filter(|l| l.hostname.as_deref().unwrap_or("") != our_host)
        .find(|l| {
            let check = l.hostname.as_deref().unwrap_or("");
            our_host.len() <= check.len() && host_subset_of(route_host, check)
        })
}

/// Whether every host `a` names is named by `b` (`host.Name.SubsetOf`).
fn host_subset_of(a: &str, b: &str) -> bool {
    if b.is_empty() {
        return false;
    }
    if b == "*" {
        return true;
    }
    match (a.strip_prefix('*'), b.strip_prefix('*')) {
        (_, None) => a.eq_ignore_ascii_case(b),
        (None, Some(sb)) => a.to_ascii_lowercase().ends_with(&sb.to_ascii_lowercase()),
        (Some(sa), Some(sb)) => sa.to_ascii_lowercase().ends_with(&sb.to_ascii_lowercase()),
    }
}

/// MG0905: hostnames dropped at every listener that accepts the route because a
/// more specific listener on the same port owns them.
fn check_isolation(
    entry: &Entry,
    route: &RouteSpec,
    accepted: &[&Listener],
    listeners: &[Listener],
    gw_name: &str,
    out: &mut Vec<Finding>,
) {
    for (i, h) in route.hostnames.iter().enumerate() {
        // Where the route's listener takes this host at all.
        let taking: Vec<&&Listener> = accepted
            .iter()
            .filter(|l| hostnames_overlap(l.hostname.as_deref().unwrap_or("*"), h))
            .collect();
        if taking.is_empty() {
            continue;
        }
        let owners: Vec<(&Listener, &Listener)> = taking
            .iter()
            .filter_map(|l| Some((**l, isolated_by(h, l, listeners)?)))
            .collect();
        if owners.len() < taking.len() {
            continue;
        }
        let pairs: Vec<String> = owners
            .iter()
            .map(|(ours, other)| {
                format!(
                    "listener {:?} owns it at {:?}'s port {}",
                    other.name,
                    ours.name,
                    ours.port.map_or("?".to_string(), |p| p.to_string())
                )
            })
            .collect();
        out.push(Finding::new(
            &catalog::MG0905,
            &entry.object.key,
            crate::model::fields::index(&crate::finding::pointer("/spec/hostnames"), i),
            format!(
                "hostname {h} is dropped by listener isolation at {gw_name}: {} (hostname {}), so its requests go to that listener's routes, not this route's, while istiod reports Accepted",
                join(&pairs),
                join(owners.iter().map(|(_, o)| o.hostname.as_deref().unwrap_or("none")))
            ),
        ));
    }
}

fn hosts_text(hostnames: &[String]) -> String {
    if hostnames.is_empty() {
        "its hosts".to_string()
    } else {
        join(hostnames)
    }
}

fn check_mesh_parent(
    entry: &Entry,
    route: &RouteSpec,
    r: &ParentRef,
    kind: Kind,
    view: &ClusterView,
    parents: &mut Parents,
    out: &mut Vec<Finding>,
) {
    let key = &entry.object.key;
    parents.mesh = true;
    let pns = r.namespace_or(&key.namespace);
    let pkey = ObjKey::new(kind, pns, r.name.clone());
    let Some(parent) = view.get(&pkey) else {
        out.push(
            Finding::new(
                &catalog::MG0931,
                key,
                child(&r.pointer, "name"),
                format!(
                    "parent {kind} {pns}/{} not found: this route is not applied in the mesh, none of its rules apply (istiod: parent {} not found)",
                    r.name,
                    if kind == Kind::Service { "service" } else { "service entry" }
                ),
            )
            .with_referent(pkey),
        );
        return;
    };
    if let Some(p) = r.port {
        let ports = parent.ports();
        if !ports.is_empty() && !ports.contains(&p) {
            out.push(Finding::new(
                &catalog::MG0932,
                key,
                child(&r.pointer, "port"),
                format!(
                    "port {p} is not a port of {kind} {pns}/{} (ports: {}): istiod matches this route's rules on port {p}, which no request to it uses",
                    r.name,
                    join(ports.iter().map(u32::to_string))
                ),
            ));
        }
    }
    if http_like(key.kind) {
        if r.section_name.is_some() {
            out.push(Finding::new(
                &catalog::MG0933,
                key,
                child(&r.pointer, "sectionName"),
                format!(
                    "sectionName on a mesh parent ({kind} {pns}/{}) is ignored by istiod",
                    r.name
                ),
            ));
        }
        if !route.hostnames.is_empty() {
            out.push(Finding::new(
                &catalog::MG0933,
                key,
                crate::finding::pointer("/spec/hostnames"),
                format!(
                    "hostnames {} are ignored for the mesh parent {kind} {pns}/{}: istiod routes the parent's own host",
                    join(&route.hostnames),
                    r.name
                ),
            ));
        }
    }
}

/// Whether a ReferenceGrant in `to_ns` lets a route of `route_kind` in
/// `from_ns` refer to (`group`, `kind`, `name`) (`BackendAllowed`).
fn grant_allows(
    view: &ClusterView,
    route_kind: Kind,
    from_ns: &str,
    to_ns: &str,
    group: &str,
    kind: &str,
    name: &str,
) -> bool {
    view.reference_grants_in(to_ns).any(|g| {
        let Parsed::ReferenceGrant(spec) = &g.parsed else {
            return false;
        };
        spec.from
            .iter()
            .any(|(fg, fk, fns)| fg == GROUP && fk == route_kind.as_str() && fns == from_ns)
            && spec
                .to
                .iter()
                .any(|(tg, tk, tn)| tg == group && tk == kind && tn.as_deref().is_none_or(|n| n == name))
    })
}

fn check_backend(entry: &Entry, b: &BackendRef, enforce_grants: bool, view: &ClusterView, out: &mut Vec<Finding>) {
    let key = &entry.object.key;
    let route_ns = key.namespace.as_str();
    let ns = b.namespace.as_deref().unwrap_or(route_ns);
    let consequence = if b.mirror {
        "the mirror is dropped".to_string()
    } else {
        backend_consequence(key.kind).to_string()
    };
    // A broken mirror drops the mirror only (MG0916, a warning).
    let push = |out: &mut Vec<Finding>, f: Finding| {
        if b.mirror {
            let mut m = Finding::new(&catalog::MG0916, key, b.pointer.clone(), f.message);
            m.referent = f.referent;
            out.push(m);
        } else {
            out.push(f);
        }
    };
    let (group, kind) = (b.group.as_str(), b.kind.as_str());
    enum Target {
        Service,
        Hostname,
        ServiceImport,
    }
    let target = match (group, kind) {
        ("" | "core", "Service") => Target::Service,
        ("networking.istio.io", "Hostname") => Target::Hostname,
        ("multicluster.x-k8s.io", "ServiceImport") => Target::ServiceImport,
        ("inference.networking.k8s.io" | "inference.networking.x-k8s.io", "InferencePool") => return,
        _ => {
            push(
                out,
                Finding::new(
                    &catalog::MG0914,
                    key,
                    child(&b.pointer, "kind"),
                    format!(
                        "backend kind {:?} (group {:?}) is not one istiod supports (istiod: InvalidKind): {consequence}",
                        kind, group
                    ),
                ),
            );
            return;
        }
    };
    if enforce_grants && ns != route_ns {
        let grant_group = if group == "core" { "" } else { group };
        if !grant_allows(view, key.kind, route_ns, ns, grant_group, kind, &b.name) {
            push(
                out,
                Finding::new(
                    &catalog::MG0913,
                    key,
                    child(&b.pointer, "namespace"),
                    format!(
                        "backend {kind} {ns}/{} is in another namespace and no ReferenceGrant in {ns} lets {} in {route_ns} refer to it \
                         (istiod: RefNotPermitted): {consequence}",
                        b.name, key.kind
                    ),
                )
                .with_referents_of(Kind::ReferenceGrant, vec![ns.to_string()]),
            );
            return;
        }
    }
    // Invalid beyond resolution: istiod drops the whole route.
    let dropped = |why: String| {
        Finding::new(
            &catalog::MG0915,
            key,
            b.pointer.clone(),
            format!("{why}: istiod converts none of this route's rules (404 at its gateways, not applied in the mesh)"),
        )
    };
    match target {
        Target::Service | Target::ServiceImport => {
            if matches!(target, Target::Service) && b.name.contains('.') {
                out.push(dropped(format!(
                    "backend Service name {:?} has a dot: it must be the Service's name, not a hostname",
                    b.name
                )));
                return;
            }
            let svc_key = ObjKey::new(Kind::Service, ns, b.name.clone());
            let Some(svc) = view.get(&svc_key) else {
                let fqdn = host::service_fqdn(&b.name, ns, view.cluster_domain());
                push(
                    out,
                    Finding::new(
                        &catalog::MG0911,
                        key,
                        child(&b.pointer, "name"),
                        format!("backend Service {ns}/{} not found (istiod: BackendNotFound, backend({fqdn}) not found): {consequence}", b.name),
                    )
                    .with_referent(svc_key),
                );
                return;
            };
            let Some(port) = b.port else {
                out.push(dropped(format!("backend Service {ns}/{} has no port", b.name)));
                return;
            };
            let ports = svc.ports();
            if !ports.contains(&port) {
                let fqdn = host::service_fqdn(&b.name, ns, view.cluster_domain());
                push(
                    out,
                    Finding::new(
                        &catalog::MG0912,
                        key,
                        child(&b.pointer, "port"),
                        format!(
                            "port {port} is not a port of Service {ns}/{} (ports: {}): cluster outbound|{port}||{fqdn} does not exist, \
                             so {consequence}, while istiod reports ResolvedRefs True",
                            b.name,
                            if ports.is_empty() { "none".to_string() } else { join(ports.iter().map(u32::to_string)) }
                        ),
                    )
                    .with_referent(svc_key),
                );
            }
        }
        Target::Hostname => {
            if b.namespace.is_some() {
                out.push(dropped(format!("Hostname backend {:?} sets a namespace", b.name)));
                return;
            }
            let visible = view.registry(&b.name).any(|e| view.export_to(e).visible_to(route_ns));
            if !visible {
                push(
                    out,
                    Finding::new(
                        &catalog::MG0911,
                        key,
                        child(&b.pointer, "name"),
                        format!(
                            "backend host {} is declared by no ServiceEntry or Service visible to namespace {route_ns} (istiod: BackendNotFound): {consequence}",
                            b.name
                        ),
                    )
                    .with_referents_of(Kind::ServiceEntry, Vec::new()),
                );
                return;
            }
            if b.port.is_none() {
                out.push(dropped(format!("Hostname backend {:?} has no port", b.name)));
            }
        }
    }
}

#[cfg(test)]
mod tests;
