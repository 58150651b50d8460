//! Ambient mode checks (product.md §5 MG10xx), as istiod's ambient index
//! (`pilot/pkg/serviceregistry/ambient`: `authorization.go`, `waypoints.go`)
//! and istio-cni apply configuration to ambient pods.

use std::collections::BTreeMap;

use super::catalog;
use crate::finding::{pointer, Finding, Severity};
use crate::model::security::SecuritySpec;
use crate::model::{Kind, ObjKey};
use crate::semantics::ambient::{
    self, ambient_workloads, istio_match, waypoint_binding, Binding, Target, DATAPLANE_MODE, USE_WAYPOINT,
    WAYPOINT_CLASS,
};

/// The controller istiod's waypoint classes name.
const MESH_CONTROLLER: &str = "istio.io/mesh-controller";
use crate::view::{ClusterView, Entry, Parsed};

/// `/metadata/labels/<label>` as a JSON pointer.
fn label_pointer(label: &str) -> jsonptr::PointerBuf {
    crate::finding::ptr(&pointer("/metadata/labels"), [label])
}

/// The scope of a selector-based or namespace-wide policy: its namespace, or
/// every namespace from the root namespace.
fn scope<'a>(view: &ClusterView, ns: &'a str) -> Option<&'a str> {
    (ns != view.mesh().root_namespace).then_some(ns)
}

/// MG1004-MG1006 (a policy ztunnel enforces) and MG1008 (targetRefs).
pub fn check_authorization(entry: &Entry, spec: &SecuritySpec, view: &ClusterView, out: &mut Vec<Finding>) {
    let key = &entry.object.key;
    if !spec.target_refs.is_empty() {
        check_target_refs(entry, spec, view, out);
        return;
    }
    if key.kind != Kind::AuthorizationPolicy {
        return;
    }
    let empty = BTreeMap::new();
    let selector = spec.selector.as_ref().unwrap_or(&empty);
    let ns = scope(view, &key.namespace);
    let pods = ambient_workloads(view, ns, selector);
    if pods.is_empty() {
        return;
    }
    let action = spec.action.as_deref().unwrap_or("ALLOW");
    let who = format!(
        "it selects {} ambient workload(s) ({}), so ztunnel enforces it",
        pods.len(),
        super::join_at_most(pods.iter().map(|e| e.object.key.name.clone()), 3)
    );
    match action {
        "CUSTOM" | "AUDIT" => {
            out.push(Finding::new(
                &catalog::MG1006,
                key,
                pointer("/spec/action"),
                format!(
                    "{who}, and istiod sends no {action} policy to ztunnel (\"ztunnel does not support the {action} action\"): not applied to them; attach it to a waypoint with targetRefs"
                ),
            ));
        }
        "DENY" => {
            for (at, l7) in spec.rule_l7.iter().filter(|(_, l7)| !l7.is_empty()) {
                out.push(Finding::new(
                    &catalog::MG1006,
                    key,
                    at.clone(),
                    format!(
                        "{who}, which cannot see HTTP attributes ({}): istiod sends this DENY rule without them, so it denies every connection the rest of the rule matches (reset), requests the HTTP condition would have let through too; enforce it at a waypoint with targetRefs",
                        l7.join(", ")
                    ),
                ));
            }
        }
        _ => check_allow(entry, spec, view, &pods, &who, out),
    }
}

fn check_allow(
    entry: &Entry,
    spec: &SecuritySpec,
    view: &ClusterView,
    pods: &[&std::sync::Arc<Entry>],
    who: &str,
    out: &mut Vec<Finding>,
) {
    let key = &entry.object.key;
    let dropped: Vec<_> = spec.rule_l7.iter().filter(|(_, l7)| !l7.is_empty()).collect();
    if dropped.len() < spec.rule_l7.len() {
        check_waypoint_identity(entry, spec, view, pods, who, out);
    }
    if dropped.is_empty() {
        return;
    }
    let all_dropped = dropped.len() == spec.rule_l7.len();
    // Pods another ALLOW with an L4-enforceable rule admits traffic to.
    let admitted_elsewhere = |pod: &Entry| {
        let Some(w) = &pod.workload else { return false };
        allow_policies_for(view, &w.namespace, &w.labels.to_map())
            .any(|(k, s)| k != *key && s.rule_l7.iter().any(|(_, l7)| l7.is_empty()))
    };
    let denied_all: Vec<_> = if all_dropped {
        pods.iter().filter(|p| !admitted_elsewhere(p)).collect()
    } else {
        Vec::new()
    };
    let names = |l7: &[String]| l7.join(", ");
    if !denied_all.is_empty() {
        let (at, l7) = dropped[0];
        out.push(Finding::new(
            &catalog::MG1004,
            key,
            at.clone(),
            format!(
                "{who}, which cannot see HTTP attributes: every rule of this ALLOW has some ({}), so istiod sends it with no rule left and ztunnel denies every connection to {} ({}): deny-all, connections reset; put HTTP rules on a waypoint with targetRefs",
                names(l7),
                if denied_all.len() == pods.len() { "them".to_string() } else { format!("{} of them", denied_all.len()) },
                super::join_at_most(denied_all.iter().map(|e| e.object.key.name.clone()), 3)
            ),
        )
        // Another ALLOW of the same batch may admit their traffic.
        .with_referents_of(Kind::AuthorizationPolicy, policy_namespaces(view, pods)));
        return;
    }
    for (at, l7) in dropped {
        out.push(Finding::new(
            &catalog::MG1005,
            key,
            at.clone(),
            format!(
                "{who}, which cannot see HTTP attributes ({}): istiod drops this rule, so the traffic only it allowed is denied",
                names(l7)
            ),
        ));
    }
}

/// MG1007: captured pods behind a waypoint whose ztunnel ALLOW policies admit
/// no connection from the waypoint's identity (istiod adds no implicit allow
/// unless `PILOT_AUTO_ALLOW_WAYPOINT_POLICY=true`): the waypoint forwards
/// every request to them, and ztunnel resets it.
fn check_waypoint_identity(
    entry: &Entry,
    spec: &SecuritySpec,
    view: &ClusterView,
    pods: &[&std::sync::Arc<Entry>],
    who: &str,
    out: &mut Vec<Finding>,
) {
    if view
        .control_plane_list()
        .iter()
        .any(|cp| cp.flag("PILOT_AUTO_ALLOW_WAYPOINT_POLICY") == Some(true))
    {
        return;
    }
    let key = &entry.object.key;
    let mut denied: BTreeMap<String, Vec<String>> = BTreeMap::new();
    // Per namespace, once: its Services bound to a waypoint (most are not).
    let mut bound_services: BTreeMap<&str, Vec<BoundService>> = BTreeMap::new();
    for pod in pods {
        let Some(w) = &pod.workload else { continue };
        let labels = w.labels.to_map();
        let services = bound_services
            .entry(w.namespace.as_str())
            .or_insert_with(|| waypoint_services(view, &w.namespace));
        let mut in_front: Vec<&ambient::Waypoint> = services
            .iter()
            .filter(|(sel, _)| crate::model::workload::labels_match(sel, &labels))
            .map(|(_, wp)| wp)
            .collect();
        let own = match waypoint_binding(view, &w.namespace, &labels, Target::Workload) {
            Binding::Bound { waypoint, .. } if waypoint.is_waypoint_class() => Some(waypoint),
            _ => None,
        };
        in_front.extend(own.as_ref());
        let mut seen = std::collections::BTreeSet::new();
        for waypoint in in_front {
            let wk = waypoint.key().clone();
            if !seen.insert(wk.clone()) {
                continue;
            }
            // This policy as reviewed, and the other ALLOWs for the pod.
            let admits = |s: &SecuritySpec, sa: &str| {
                s.rule_l7
                    .iter()
                    .zip(&s.rule_from)
                    .any(|((_, l7), from)| l7.is_empty() && rule_admits(from, &wk.namespace, sa))
            };
            let admitted = ambient::waypoint_identities(view, &wk).iter().any(|sa| {
                admits(spec, sa)
                    || allow_policies_for(view, &w.namespace, &labels).any(|(k, s)| k != *key && admits(s, sa))
            });
            if !admitted {
                denied
                    .entry(wk.qualified_name())
                    .or_default()
                    .push(pod.object.key.qualified_name());
            }
        }
    }
    for (waypoint, names) in denied {
        out.push(Finding::new(
            &catalog::MG1007,
            key,
            pointer("/spec/rules"),
            format!(
                "{who}, and {} sit behind waypoint {waypoint}, whose identity no ztunnel ALLOW rule for them admits (PILOT_AUTO_ALLOW_WAYPOINT_POLICY is not on): every request the waypoint forwards to them is reset; allow its service account or namespace",
                super::join_at_most(names, 3)
            ),
        )
        // Another ALLOW of the same batch may admit the waypoint.
        .with_referents_of(Kind::AuthorizationPolicy, policy_namespaces(view, pods)));
    }
}

/// A Service's selector and the waypoint it is bound to.
type BoundService<'v> = (BTreeMap<String, String>, ambient::Waypoint<'v>);

/// The Services of a namespace bound to a ready waypoint of the waypoint
/// class (a Gateway of another class named as one is MG1002's case), with
/// their selectors: the waypoints in front of the workloads they select.
fn waypoint_services<'v>(view: &'v ClusterView, ns: &str) -> Vec<BoundService<'v>> {
    view.services_in(ns)
        .filter_map(|svc| {
            let Parsed::Service(s) = &svc.parsed else { return None };
            if s.selector.is_empty()
                || !svc.object.labels.contains_key(USE_WAYPOINT) && !namespace_names_waypoint(view, ns)
            {
                return None;
            }
            match waypoint_binding(view, ns, &svc.object.labels, Target::Service) {
                Binding::Bound { waypoint, .. } if waypoint.is_waypoint_class() => Some((s.selector.clone(), waypoint)),
                _ => None,
            }
        })
        .collect()
}

fn namespace_names_waypoint(view: &ClusterView, ns: &str) -> bool {
    view.get(&ObjKey::new(Kind::Namespace, "", ns))
        .is_some_and(|e| e.object.labels.contains_key(USE_WAYPOINT))
}

/// Whether an L4 rule's `from` admits connections from service account `sa`
/// of namespace `ns` (any trust domain; `not*` fields and IP blocks are not
/// held against it, so a doubt never reports).
fn rule_admits(from: &crate::model::security::RuleSources, ns: &str, sa: &str) -> bool {
    let Some(froms) = from else { return true };
    let identity = format!("ns/{ns}/sa/{sa}");
    froms.iter().any(|(principals, namespaces)| {
        let by_principal = principals.is_empty()
            || principals.iter().any(|p| {
                istio_match(p, &format!("cluster.local/{identity}"))
                    || p.split_once("/ns/")
                        .is_some_and(|(_, rest)| istio_match(&format!("ns/{rest}"), &identity))
            });
        let by_namespace = namespaces.is_empty() || namespaces.iter().any(|n| istio_match(n, ns));
        by_principal && by_namespace
    })
}

/// Where an AuthorizationPolicy for these pods can be: their namespaces and
/// the root namespace.
fn policy_namespaces(view: &ClusterView, pods: &[&std::sync::Arc<Entry>]) -> Vec<String> {
    let mut out: Vec<String> = pods.iter().map(|p| p.object.key.namespace.clone()).collect();
    out.push(view.mesh().root_namespace.clone());
    out.sort();
    out.dedup();
    out
}

/// The ALLOW AuthorizationPolicies ztunnel enforces for a workload.
fn allow_policies_for<'v>(
    view: &'v ClusterView,
    ns: &'v str,
    labels: &'v BTreeMap<String, String>,
) -> impl Iterator<Item = (ObjKey, &'v SecuritySpec)> + 'v {
    ambient::ztunnel_policies(view, ns, labels)
        .filter(|(_, s)| s.action.as_deref().is_none_or(|a| a == "ALLOW"))
        .map(|(e, s)| (e.object.key.clone(), s))
}

/// MG1008: `targetRefs` that never attach (istiod's `policyattachment.go` and
/// the waypoint's policy selection).
fn check_target_refs(entry: &Entry, spec: &SecuritySpec, view: &ClusterView, out: &mut Vec<Finding>) {
    let key = &entry.object.key;
    let root = view.mesh().root_namespace.as_str();
    for r in &spec.target_refs {
        // istiod's WaypointPolicyStatusCollection: a target's own namespace, else the policy's.
        let ns = r.namespace.as_deref().unwrap_or(&key.namespace);
        let Some(NotAttached {
            why,
            referent,
            warns_only,
        }) = target_not_attached(view, root, &key.namespace, ns, r)
        else {
            continue;
        };
        let f = Finding::new(
            &catalog::MG1008,
            key,
            r.pointer.clone(),
            format!("targetRefs {}: {why}: this policy is not applied there", r.name),
        );
        let f = match referent {
            Some(k) => f.with_referent(k),
            None => f,
        };
        out.push(if warns_only {
            f.with_severity(Severity::Warning)
        } else {
            f
        });
    }
}

/// Why a `targetRefs` entry does not attach.
struct NotAttached {
    why: String,
    /// What another object of the batch could create.
    referent: Option<ObjKey>,
    /// A warning: the Service's waypoint only has no address yet (it binds
    /// once its deployment runs), or the attachment is decided at the waypoint
    /// (GatewayClass and Gateway targets, other kinds), which istiod's ambient
    /// index — what the oracle shows — does not carry.
    warns_only: bool,
}

fn target_not_attached(
    view: &ClusterView,
    root: &str,
    policy_ns: &str,
    ns: &str,
    r: &crate::model::security::TargetRef,
) -> Option<NotAttached> {
    // Service targets: the ambient index shows the Service without a waypoint.
    let plain = |why: String, referent: Option<ObjKey>| {
        Some(NotAttached {
            why,
            referent,
            warns_only: false,
        })
    };
    let at_waypoint = |why: String, referent: Option<ObjKey>| {
        Some(NotAttached {
            why,
            referent,
            warns_only: true,
        })
    };
    match (r.group.as_str(), r.kind.as_str()) {
        ("gateway.networking.k8s.io", "GatewayClass") => {
            if policy_ns != root {
                return at_waypoint(
                    format!("a GatewayClass target attaches only from the root namespace ({root}), not {policy_ns}"),
                    None,
                );
            }
            // The class must be the mesh controller's (istiod's built-in
            // `istio-waypoint` when no object says otherwise).
            let controller = match view
                .get(&ObjKey::new(Kind::GatewayClass, "", r.name.clone()))
                .map(|e| &e.parsed)
            {
                Some(Parsed::GatewayClass(c)) => Some(c.controller.clone()),
                _ if r.name == WAYPOINT_CLASS => Some(MESH_CONTROLLER.to_string()),
                _ => None,
            };
            match controller {
                Some(c) if c == MESH_CONTROLLER => None,
                Some(c) => at_waypoint(
                    format!(
                        "GatewayClass {} is of controller {c}, not the waypoints' ({MESH_CONTROLLER})",
                        r.name
                    ),
                    None,
                ),
                None => at_waypoint(format!("GatewayClass {} does not exist", r.name), None),
            }
        }
        ("gateway.networking.k8s.io", "Gateway") => {
            let gw = ObjKey::new(Kind::K8sGateway, ns, r.name.clone());
            if view.get(&gw).is_some() {
                return None;
            }
            at_waypoint(format!("Gateway {ns}/{} does not exist", r.name), Some(gw))
        }
        ("" | "core", "Service") | ("networking.istio.io", "ServiceEntry") => {
            let kind = if r.kind == "Service" {
                Kind::Service
            } else {
                Kind::ServiceEntry
            };
            let target = ObjKey::new(kind, ns, r.name.clone());
            let Some(t) = view.get(&target) else {
                return plain(format!("{} {ns}/{} does not exist", r.kind, r.name), Some(target));
            };
            match waypoint_binding(view, ns, &t.object.labels, Target::Service) {
                Binding::Bound { .. } => None,
                Binding::Unbound => plain(
                    format!(
                        "{} {ns}/{} is bound to no waypoint (no istio.io/use-waypoint on it or its namespace), and a Service target applies only at its waypoint",
                        r.kind, r.name
                    ),
                    // The same batch may label it.
                    Some(target),
                ),
                Binding::Failed { named, why, pending, .. } => Some(NotAttached {
                    why: format!("{} {ns}/{}'s waypoint {} is not bound: {why}", r.kind, r.name, named.qualified_name()),
                    referent: Some(named),
                    warns_only: pending,
                }),
            }
        }
        _ => at_waypoint(
            format!(
                "istiod attaches no policy to a {} target",
                if r.group.is_empty() {
                    r.kind.clone()
                } else {
                    format!("{}/{}", r.group, r.kind)
                }
            ),
            None,
        ),
    }
}

/// MG1009: sidecar-only configuration whose selector picks only ambient pods.
pub fn check_sidecar_only(
    entry: &Entry,
    selector: Option<&BTreeMap<String, String>>,
    view: &ClusterView,
    out: &mut Vec<Finding>,
) {
    let Some(selector) = selector.filter(|s| !s.is_empty()) else {
        return;
    };
    let key = &entry.object.key;
    let ns = scope(view, &key.namespace);
    let mut picked = view.workloads_matching(ns, selector).peekable();
    if picked.peek().is_none() {
        return;
    }
    let mut count = 0;
    for w in picked {
        if !ambient::is_ambient(view, w) {
            return;
        }
        count += 1;
    }
    let at = if key.kind == Kind::RequestAuthentication {
        "/spec/selector"
    } else {
        "/spec/workloadSelector"
    };
    out.push(Finding::new(
        &catalog::MG1009,
        key,
        pointer(at),
        format!(
            "its selector picks only ambient workloads ({count}), which run no sidecar: ztunnel reads no {}, so it is not applied{}",
            key.kind,
            if key.kind == Kind::RequestAuthentication {
                "; attach it to their waypoint with targetRefs"
            } else {
                ""
            }
        ),
    ));
}

/// MG1001/MG1002 on an object with `istio.io/use-waypoint` (a Service,
/// ServiceEntry, Namespace, Pod or WorkloadEntry), MG1003 on
/// `istio.io/dataplane-mode` (a Namespace or Pod).
pub fn check_labels(entry: &Entry, view: &ClusterView, out: &mut Vec<Finding>) {
    let key = &entry.object.key;
    // Most objects carry neither label: two lookups, no copy.
    let has = |k: &str| match &entry.workload {
        Some(w) if key.kind != Kind::WorkloadEntry => w.labels.get(k).is_some(),
        _ => entry.object.labels.contains_key(k),
    };
    if !has(DATAPLANE_MODE) && !has(USE_WAYPOINT) {
        return;
    }
    // A Pod's labels moved into its workload; a WorkloadEntry's own labels
    // (not its `spec.labels`) are what istiod reads.
    let labels: BTreeMap<String, String> = match &entry.workload {
        Some(w) if key.kind != Kind::WorkloadEntry => w.labels.to_map(),
        _ => entry.object.labels.clone(),
    };
    if let Some(mode) = labels.get(DATAPLANE_MODE) {
        check_dataplane_mode(entry, mode, &labels, out);
    }
    if !labels.contains_key(USE_WAYPOINT) {
        return;
    }
    let target = match key.kind {
        Kind::Service | Kind::ServiceEntry => Target::Service,
        Kind::Namespace => Target::Service,
        _ => Target::Workload,
    };
    let ns = if key.kind == Kind::Namespace {
        key.name.as_str()
    } else {
        key.namespace.as_str()
    };
    let at = label_pointer(USE_WAYPOINT);
    match waypoint_binding(view, ns, &labels, target) {
        Binding::Unbound => {}
        Binding::Bound { waypoint, .. } => {
            if !waypoint.is_waypoint_class() {
                out.push(Finding::new(
                    &catalog::MG1002,
                    key,
                    at,
                    format!(
                        "istio.io/use-waypoint names Gateway {}, of class {}, not {WAYPOINT_CLASS}: istiod binds it as a waypoint, and ztunnel's HBONE to its port 15008 fails",
                        waypoint.key().qualified_name(),
                        waypoint.class
                    ),
                ));
            }
        }
        Binding::Failed {
            named,
            inherited,
            why,
            pending,
        } if !inherited => {
            let depends = l7_dependents(view, entry);
            // An error when L7 configuration depends on the waypoint, unless it
            // is only starting (it binds once its deployment runs).
            let error = !depends.is_empty() && !pending;
            let f = Finding::new(
                &catalog::MG1001,
                key,
                at,
                format!(
                    "istio.io/use-waypoint names {}, which istiod does not bind: {why}: traffic bypasses the waypoint, so its L7 policies and routes are not applied{}",
                    named.qualified_name(),
                    if depends.is_empty() {
                        String::new()
                    } else {
                        format!(" ({} depend on it)", super::join_at_most(depends, 3))
                    }
                ),
            )
            .with_referent(named);
            out.push(if error { f.with_severity(Severity::Error) } else { f });
        }
        Binding::Failed { .. } => {}
    }
}

/// The L7 configuration that exists only at a Service's waypoint: targetRefs
/// policies naming it, mesh routes with it as parent.
fn l7_dependents(view: &ClusterView, entry: &Entry) -> Vec<String> {
    let key = &entry.object.key;
    if !matches!(key.kind, Kind::Service | Kind::ServiceEntry) {
        return Vec::new();
    }
    let mut out: Vec<String> = view
        .authorization_policies_in(&key.namespace)
        .chain(view.request_authentications_in(&key.namespace))
        .filter(|e| match &e.parsed {
            Parsed::Security(s) => s
                .target_refs
                .iter()
                .any(|r| r.name == key.name && r.kind == key.kind.as_str()),
            _ => false,
        })
        .map(|e| format!("{} {}", e.object.key.kind, e.object.key.qualified_name()))
        .collect();
    if key.kind == Kind::Service {
        out.extend(
            view.service_routes(&key.namespace, &key.name)
                .filter(|e| match &e.parsed {
                    Parsed::Route(r) => r.parent_refs.iter().any(|p| p.kind == "Service" && p.name == key.name),
                    _ => false,
                })
                .map(|e| format!("{} {}", e.object.key.kind, e.object.key.qualified_name())),
        );
    }
    out
}

fn check_dataplane_mode(entry: &Entry, mode: &str, labels: &BTreeMap<String, String>, out: &mut Vec<Finding>) {
    let key = &entry.object.key;
    let at = label_pointer(DATAPLANE_MODE);
    if !matches!(mode, "ambient" | "none") {
        let what = if key.kind == Kind::Namespace {
            "istio-cni captures none of this namespace's pods"
        } else {
            "istio-cni ignores it on a workload"
        };
        out.push(Finding::new(
            &catalog::MG1003,
            key,
            at,
            format!("istio.io/dataplane-mode {mode:?} is neither \"ambient\" nor \"none\": {what}"),
        ));
        return;
    }
    if key.kind == Kind::Namespace && mode == "ambient" {
        if let Some(rev) = crate::model::proxy::namespace_injection(labels) {
            out.push(Finding::new(
                &catalog::MG1003,
                key,
                at,
                format!(
                    "this namespace is ambient and also injects sidecars (revision {rev}): its injected pods keep their sidecars and ztunnel does not capture them"
                ),
            ));
        }
    }
}

/// What relabelling a Namespace's `istio.io/dataplane-mode` changes for the
/// policies that select its pods (product.md §3: a warning through the
/// upgrades entry): the MG1004, MG1006 and MG1009 findings the policies of the
/// namespace and the root namespace gain once istio-cni captures (or releases)
/// its pods. `before` judges capture by labels; `after` has the new Namespace.
pub fn relabel_findings(before: &ClusterView, after: &ClusterView, ns: &str) -> Vec<(ObjKey, Finding)> {
    let root = before.mesh().root_namespace.clone();
    let mut subjects: Vec<std::sync::Arc<Entry>> = before
        .authorization_policies_in(ns)
        .chain(before.request_authentications_in(ns))
        .chain(before.default_sidecars(ns))
        .chain(before.selecting_sidecars(ns))
        .cloned()
        .collect();
    if ns != root {
        subjects.extend(before.authorization_policies_in(&root).cloned());
    }
    let mut out = Vec::new();
    for e in subjects {
        let had: std::collections::BTreeSet<(&str, String)> = super::check(&e, before)
            .into_iter()
            .filter(|f| f.code.starts_with("MG10"))
            .map(|f| (f.code, f.message))
            .collect();
        for f in super::check(&e, after)
            .into_iter()
            .filter(|f| matches!(f.code, "MG1004" | "MG1006" | "MG1009") && !had.contains(&(f.code, f.message.clone())))
        {
            out.push((e.object.key.clone(), f));
        }
    }
    out
}

#[cfg(test)]
mod tests;
