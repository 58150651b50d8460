//! Kubernetes Gateway API objects, as istiod converts them
//! (`pilot/pkg/config/kube/gateway`, 1.30): route attachment per parentRef
//! (`referenceAllowed`, `createRouteStatus`), backends (`buildDestination`),
//! and Gateway classes. Findings go on the user's own fields.

use std::sync::Arc;

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

mod attachment;
mod backends;
mod conflicts;
mod listeners;
mod policies;

use attachment::*;
use backends::*;
use conflicts::*;
use listeners::*;
pub(crate) use policies::check_backend_tls_policy;

pub(crate) use attachment::served_at;
pub(crate) use backends::{backend_refused, route_dropped};
pub(crate) use listeners::{generated_gateway_programmed, listener_set_programmed};

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
    let controller = class_controller(view, &gw.class);
    if controller == Controller::Routes {
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
    if !gw.class.is_empty() && controller == Controller::Unknown {
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
    let readers = readers(view, entry);
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

/// The control planes that read an object: those of its `istio.io/rev`, or all.
fn readers<'v>(view: &'v ClusterView, entry: &Entry) -> Vec<&'v ControlPlane> {
    let rev = entry.object.labels.get("istio.io/rev");
    view.control_plane_list()
        .into_iter()
        .filter(|cp| rev.is_none_or(|r| *r == cp.revision))
        .collect()
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
            let message = if rule.backends == 0 && rule.redirect.is_none() {
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

fn hosts_text(hostnames: &[String]) -> String {
    if hostnames.is_empty() {
        "its hosts".to_string()
    } else {
        join(hostnames)
    }
}

#[cfg(test)]
mod tests;
