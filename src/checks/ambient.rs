//! Ambient mode checks (product.md §5 MG10xx), as istiod's ambient index
//! (`pilot/pkg/serviceregistry/ambient`: `authorization.go`, `waypoints.go`)
//! and istio-cni apply configuration to ambient pods.

use std::collections::BTreeMap;

use super::catalog;
use crate::finding::{pointer, Finding, Severity};
use crate::model::security::SecuritySpec;
use crate::model::{Kind, ObjKey};
use crate::semantics::ambient::{
    self, ambient_workloads, waypoint_binding, Binding, Target, DATAPLANE_MODE, USE_WAYPOINT, WAYPOINT_CLASS,
};
use crate::view::{ClusterView, Entry, Parsed};

/// `/metadata/labels/<label>` as a JSON pointer.
fn label_pointer(label: &str) -> jsonptr::PointerBuf {
    let mut p = pointer("/metadata/labels");
    p.push_back(label);
    p
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
    let pods: Vec<_> = ambient_workloads(view, ns, selector).collect();
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
        ));
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

/// The ALLOW AuthorizationPolicies without targetRefs that ztunnel applies to
/// a workload: namespace-wide in its namespace or the root namespace, or
/// selecting it from either.
fn allow_policies_for<'v>(
    view: &'v ClusterView,
    ns: &'v str,
    labels: &'v BTreeMap<String, String>,
) -> impl Iterator<Item = (ObjKey, &'v SecuritySpec)> + 'v {
    let root = view.mesh().root_namespace.clone();
    view.authorization_policies_in(ns)
        .chain(
            view.authorization_policies_in(&root)
                .filter(move |_| ns != root.as_str()),
        )
        .filter_map(move |e| {
            let Parsed::Security(s) = &e.parsed else { return None };
            let allow = s.action.as_deref().is_none_or(|a| a == "ALLOW");
            let applies = s.target_refs.is_empty()
                && s.selector
                    .as_ref()
                    .is_none_or(|sel| crate::model::workload::labels_match(sel, labels));
            (allow && applies).then(|| (e.object.key.clone(), &**s))
        })
}

/// MG1008: `targetRefs` that never attach (istiod's `policyattachment.go` and
/// the waypoint's policy selection).
fn check_target_refs(entry: &Entry, spec: &SecuritySpec, view: &ClusterView, out: &mut Vec<Finding>) {
    let key = &entry.object.key;
    let root = view.mesh().root_namespace.as_str();
    for r in &spec.target_refs {
        let ns = key.namespace.as_str();
        let why: Option<(String, Option<ObjKey>)> = match (r.group.as_str(), r.kind.as_str()) {
            ("gateway.networking.k8s.io", "GatewayClass") => {
                if r.name != WAYPOINT_CLASS {
                    Some((
                        format!(
                            "GatewayClass {} is not {WAYPOINT_CLASS}: only the waypoint class takes policies",
                            r.name
                        ),
                        None,
                    ))
                } else if ns != root {
                    Some((
                        format!("a GatewayClass target attaches only from the root namespace ({root}), not {ns}"),
                        None,
                    ))
                } else {
                    None
                }
            }
            ("gateway.networking.k8s.io", "Gateway") => {
                let gw = ObjKey::new(Kind::K8sGateway, ns, r.name.clone());
                view.get(&gw)
                    .is_none()
                    .then(|| (format!("Gateway {ns}/{} does not exist", r.name), Some(gw)))
            }
            ("" | "core", "Service") | ("networking.istio.io", "ServiceEntry") => {
                let kind = if r.kind == "Service" {
                    Kind::Service
                } else {
                    Kind::ServiceEntry
                };
                let target = ObjKey::new(kind, ns, r.name.clone());
                match view.get(&target) {
                    None => Some((format!("{} {ns}/{} does not exist", r.kind, r.name), Some(target))),
                    Some(t) => match waypoint_binding(view, ns, &t.object.labels, Target::Service) {
                        Binding::Bound { .. } => None,
                        Binding::Unbound => Some((
                            format!("{} {ns}/{} is bound to no waypoint (no istio.io/use-waypoint on it or its namespace), and a Service target applies only at its waypoint", r.kind, r.name),
                            None,
                        )),
                        Binding::Failed { named, why, .. } => Some((
                            format!("{} {ns}/{}'s waypoint {} is not bound: {why}", r.kind, r.name, named.qualified_name()),
                            Some(named),
                        )),
                    },
                }
            }
            _ => Some((
                format!(
                    "istiod attaches no policy to a {} target",
                    if r.group.is_empty() {
                        r.kind.clone()
                    } else {
                        format!("{}/{}", r.group, r.kind)
                    }
                ),
                None,
            )),
        };
        if let Some((why, referent)) = why {
            let f = Finding::new(
                &catalog::MG1008,
                key,
                r.pointer.clone(),
                format!("targetRefs {}: {why}: this policy is not applied there", r.name),
            );
            out.push(match referent {
                Some(k) => f.with_referent(k),
                None => f,
            });
        }
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
        Binding::Failed { named, inherited, why } if !inherited => {
            let depends = l7_dependents(view, entry);
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
            out.push(if l7_dependents(view, entry).is_empty() {
                f
            } else {
                f.with_severity(Severity::Error)
            });
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

#[cfg(test)]
mod tests {
    use crate::checks::testutil::{codes, view};
    use crate::finding::Finding;

    /// The MG10xx findings of a subject (other checks have their own tests).
    fn check_yaml(v: &crate::view::ClusterView, doc: &str) -> Vec<Finding> {
        let mut f = crate::checks::testutil::check_yaml(v, doc);
        f.retain(|f| f.code.starts_with("MG10"));
        f
    }
    use crate::finding::Severity;

    const AMBIENT_NS: &str =
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {istio.io/dataplane-mode: ambient}}\n";
    const SIDECAR_NS: &str =
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: legacy, labels: {istio-injection: enabled}}\n";
    const WEB_POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: web-1, namespace: shop, labels: {app: web}}\nspec:\n  serviceAccountName: web\n  containers: [{name: app, image: example/web:1}]\n";
    const WEB_SVC: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: shop}\nspec:\n  selector: {app: web}\n  ports: [{name: http, port: 80}]\n";
    const LEGACY_POD: &str = "apiVersion: v1\nkind: Pod\nmetadata: {name: web-1, namespace: legacy, labels: {app: web}}\nspec:\n  containers: [{name: app, image: example/web:1}, {name: istio-proxy, image: docker.io/istio/proxyv2:1.30.3}]\n";
    const WAYPOINT_CLASS: &str = "apiVersion: gateway.networking.k8s.io/v1\nkind: GatewayClass\nmetadata: {name: istio-waypoint}\nspec: {controllerName: istio.io/mesh-controller}\n";
    const WAYPOINT: &str = "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: waypoint, namespace: shop}\nspec:\n  gatewayClassName: istio-waypoint\n  listeners: [{name: mesh, port: 15008, protocol: HBONE}]\n";

    fn ap(ns: &str, body: &str) -> String {
        format!("apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: {{name: p, namespace: {ns}}}\nspec:\n{body}")
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(c, q)| (c.to_string(), q.to_string())).collect()
    }

    #[test]
    fn mg1004_an_l7_only_allow_at_ztunnel_is_a_deny_all() {
        let v = view(&[AMBIENT_NS, WEB_POD]);
        let l7 = ap("shop", "  selector: {matchLabels: {app: web}}\n  rules:\n  - to: [{operation: {methods: [GET]}}]\n  - from: [{source: {requestPrincipals: [\"*\"]}}]\n");
        let f = check_yaml(&v, &l7);
        assert_eq!(codes(&f), pairs(&[("MG1004", "/spec/rules/0")]));
        assert_eq!(f[0].severity, Severity::Error);
        assert!(
            f[0].message
                .contains("ztunnel denies every connection to them (web-1): deny-all, connections reset"),
            "{}",
            f[0].message
        );
        assert!(f[0].message.contains("(methods)"), "{}", f[0].message);
        // Another ALLOW with an L4 rule admits traffic: only those rules are lost.
        let other = ap(
            "shop",
            "  selector: {matchLabels: {app: web}}\n  rules:\n  - from: [{source: {namespaces: [front]}}]\n",
        )
        .replace("name: p,", "name: l4,");
        let f = check_yaml(&view(&[AMBIENT_NS, WEB_POD, &other]), &l7);
        assert_eq!(
            codes(&f),
            pairs(&[("MG1005", "/spec/rules/0"), ("MG1005", "/spec/rules/1")])
        );
        assert_eq!(f[0].severity, Severity::Warning);
        // Sidecar pods see HTTP: nothing to say; no rules at all is a deny-all by design.
        assert!(check_yaml(
            &view(&[SIDECAR_NS, LEGACY_POD]),
            &l7.replace("namespace: shop", "namespace: legacy")
        )
        .is_empty());
        assert!(check_yaml(&v, &ap("shop", "  selector: {matchLabels: {app: web}}\n")).is_empty());
        // A namespace-wide policy in the root namespace reaches ambient pods everywhere.
        let mesh_wide = ap("istio-system", "  rules:\n  - to: [{operation: {paths: [/health]}}]\n");
        assert_eq!(
            codes(&check_yaml(&v, &mesh_wide)),
            pairs(&[("MG1004", "/spec/rules/0")])
        );
        // L4 `when` keys are fine; other keys are HTTP.
        let when = |k: &str| {
            ap(
                "shop",
                &format!("  rules:\n  - when: [{{key: {k}, values: [\"x\"]}}]\n"),
            )
        };
        assert!(check_yaml(&v, &when("source.namespace")).is_empty());
        assert_eq!(
            codes(&check_yaml(&v, &when("\"request.headers[x-user]\""))),
            pairs(&[("MG1004", "/spec/rules/0")])
        );
    }

    #[test]
    fn mg1005_some_rules_l7() {
        let v = view(&[AMBIENT_NS, WEB_POD]);
        let mixed = ap(
            "shop",
            "  rules:\n  - from: [{source: {namespaces: [front]}}]\n  - to: [{operation: {hosts: [web.shop]}}]\n",
        );
        let f = check_yaml(&v, &mixed);
        assert_eq!(codes(&f), pairs(&[("MG1005", "/spec/rules/1")]));
        assert!(
            f[0].message.contains("(hosts): istiod drops this rule"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn mg1006_deny_with_l7_is_wider_and_custom_is_not_enforced() {
        let v = view(&[AMBIENT_NS, WEB_POD]);
        let deny = ap("shop", "  action: DENY\n  rules:\n  - from: [{source: {namespaces: [front]}}]\n    to: [{operation: {methods: [POST]}}]\n");
        let f = check_yaml(&v, &deny);
        assert_eq!(codes(&f), pairs(&[("MG1006", "/spec/rules/0")]));
        assert!(
            f[0].message
                .contains("denies every connection the rest of the rule matches"),
            "{}",
            f[0].message
        );
        let custom = ap(
            "shop",
            "  action: CUSTOM\n  provider: {name: ext-authz}\n  rules: [{}]\n",
        );
        let f = check_yaml(&v, &custom);
        assert_eq!(codes(&f), pairs(&[("MG1006", "/spec/action")]));
        assert!(
            f[0].message.contains("istiod sends no CUSTOM policy to ztunnel"),
            "{}",
            f[0].message
        );
        // At a waypoint (targetRefs) both are what the waypoint does: no MG1006.
        let at_waypoint = custom.replace(
            "  rules: [{}]\n",
            "  targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: waypoint}]\n  rules: [{}]\n",
        );
        assert!(check_yaml(&view(&[AMBIENT_NS, WEB_POD, WAYPOINT_CLASS, WAYPOINT]), &at_waypoint).is_empty());
    }

    #[test]
    fn mg1008_target_refs_that_never_attach() {
        let bound_svc = WEB_SVC.replace(
            "namespace: shop}",
            "namespace: shop, labels: {istio.io/use-waypoint: waypoint}}",
        );
        let v = view(&[AMBIENT_NS, WEB_POD, WAYPOINT_CLASS, WAYPOINT, &bound_svc]);
        let target = |ns: &str, r: &str| {
            ap(
                ns,
                &format!("  targetRefs: [{r}]\n  rules: [{{from: [{{source: {{namespaces: [front]}}}}]}}]\n"),
            )
        };
        let class = "{group: gateway.networking.k8s.io, kind: GatewayClass, name: istio-waypoint}";
        assert!(check_yaml(&v, &target("istio-system", class)).is_empty());
        let f = check_yaml(&v, &target("shop", class));
        assert_eq!(codes(&f), pairs(&[("MG1008", "/spec/targetRefs/0")]));
        assert!(
            f[0].message.contains("only from the root namespace (istio-system)"),
            "{}",
            f[0].message
        );
        let f = check_yaml(
            &v,
            &target(
                "istio-system",
                "{group: gateway.networking.k8s.io, kind: GatewayClass, name: istio}",
            ),
        );
        assert_eq!(codes(&f), pairs(&[("MG1008", "/spec/targetRefs/0")]));
        // A Service bound to a waypoint: attached; unbound or missing: not.
        let svc = "{group: \"\", kind: Service, name: web}";
        assert!(check_yaml(&v, &target("shop", svc)).is_empty());
        let unbound = view(&[AMBIENT_NS, WEB_POD, WEB_SVC]);
        let f = check_yaml(&unbound, &target("shop", svc));
        assert_eq!(codes(&f), pairs(&[("MG1008", "/spec/targetRefs/0")]));
        assert!(f[0].message.contains("bound to no waypoint"), "{}", f[0].message);
        let f = check_yaml(
            &v,
            &target("shop", "{group: gateway.networking.k8s.io, kind: Gateway, name: nope}"),
        );
        assert!(
            f[0].message.contains("Gateway shop/nope does not exist"),
            "{}",
            f[0].message
        );
        assert!(f[0].referent.is_some());
    }

    #[test]
    fn mg1001_mg1002_use_waypoint() {
        let labelled = |name: &str| {
            WEB_SVC.replace(
                "namespace: shop}",
                &format!("namespace: shop, labels: {{istio.io/use-waypoint: {name}}}}}"),
            )
        };
        let v = view(&[AMBIENT_NS, WAYPOINT_CLASS, WAYPOINT]);
        assert!(check_yaml(&v, &labelled("waypoint")).is_empty());
        let f = check_yaml(&v, &labelled("missing"));
        assert_eq!(
            codes(&f),
            pairs(&[("MG1001", "/metadata/labels/istio.io~1use-waypoint")])
        );
        assert_eq!(f[0].severity, Severity::Warning);
        // L7 configuration depends on it: an error.
        let policy = ap(
            "shop",
            "  targetRefs: [{group: \"\", kind: Service, name: web}]\n  rules: [{}]\n",
        );
        let f = check_yaml(
            &view(&[AMBIENT_NS, WAYPOINT_CLASS, WAYPOINT, &policy]),
            &labelled("missing"),
        );
        assert_eq!(f[0].severity, Severity::Error);
        assert!(
            f[0].message.contains("(AuthorizationPolicy shop/p depend on it)"),
            "{}",
            f[0].message
        );
        // waypoint-for: workload does not take a Service.
        let workload_only = WAYPOINT.replace(
            "namespace: shop}",
            "namespace: shop, labels: {istio.io/waypoint-for: workload}}",
        );
        let f = check_yaml(
            &view(&[AMBIENT_NS, WAYPOINT_CLASS, &workload_only]),
            &labelled("waypoint"),
        );
        assert!(f[0].message.contains("UnsupportedTrafficType"), "{}", f[0].message);
        // A waypoint in another namespace admitting only its own (Same).
        let other = "apiVersion: v1\nkind: Service\nmetadata: {name: api, namespace: other, labels: {istio.io/use-waypoint: waypoint, istio.io/use-waypoint-namespace: shop}}\nspec:\n  ports: [{port: 80}]\n";
        let f = check_yaml(&v, other);
        assert!(
            f[0].message
                .contains("does not admit namespace other (istiod: AttachmentDenied)"),
            "{}",
            f[0].message
        );
        let all = WAYPOINT.replace(
            "protocol: HBONE}",
            "protocol: HBONE, allowedRoutes: {namespaces: {from: All}}}",
        );
        assert!(check_yaml(&view(&[AMBIENT_NS, WAYPOINT_CLASS, &all]), other).is_empty());
        // An ingress Gateway named as a waypoint.
        let ingress = "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: {name: edge, namespace: shop}\nspec:\n  gatewayClassName: istio\n  listeners: [{name: http, port: 80, protocol: HTTP}]\n";
        let f = check_yaml(&view(&[AMBIENT_NS, ingress]), &labelled("edge"));
        assert_eq!(
            codes(&f),
            pairs(&[("MG1002", "/metadata/labels/istio.io~1use-waypoint")])
        );
    }

    #[test]
    fn mg1003_dataplane_mode_values() {
        let ns =
            |labels: &str| format!("apiVersion: v1\nkind: Namespace\nmetadata: {{name: shop, labels: {{{labels}}}}}\n");
        let v = view(&[]);
        assert!(check_yaml(&v, &ns("istio.io/dataplane-mode: ambient")).is_empty());
        let f = check_yaml(&v, &ns("istio.io/dataplane-mode: enabled"));
        assert_eq!(
            codes(&f),
            pairs(&[("MG1003", "/metadata/labels/istio.io~1dataplane-mode")])
        );
        assert!(
            f[0].message.contains("captures none of this namespace's pods"),
            "{}",
            f[0].message
        );
        let f = check_yaml(&v, &ns("istio.io/dataplane-mode: ambient, istio-injection: enabled"));
        assert!(
            f[0].message.contains("also injects sidecars (revision default)"),
            "{}",
            f[0].message
        );
    }

    #[test]
    fn mg1009_sidecar_only_configuration_on_ambient_pods() {
        let v = view(&[AMBIENT_NS, WEB_POD, SIDECAR_NS, LEGACY_POD]);
        let ef = |ns: &str| {
            format!("apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata: {{name: f, namespace: {ns}}}\nspec:\n  workloadSelector: {{labels: {{app: web}}}}\n  configPatches:\n  - applyTo: HTTP_FILTER\n    match: {{context: SIDECAR_INBOUND}}\n    patch: {{operation: INSERT_BEFORE, value: {{name: x}}}}\n")
        };
        let f: Vec<_> = check_yaml(&v, &ef("shop"))
            .into_iter()
            .filter(|f| f.code == "MG1009")
            .collect();
        assert_eq!(codes(&f), pairs(&[("MG1009", "/spec/workloadSelector")]));
        assert!(check_yaml(&v, &ef("legacy")).iter().all(|f| f.code != "MG1009"));
        let sidecar = "apiVersion: networking.istio.io/v1\nkind: Sidecar\nmetadata: {name: s, namespace: shop}\nspec:\n  workloadSelector: {labels: {app: web}}\n  egress: [{hosts: [\"./*\"]}]\n";
        assert_eq!(
            codes(&check_yaml(&v, sidecar)),
            pairs(&[("MG1009", "/spec/workloadSelector")])
        );
        let ra = "apiVersion: security.istio.io/v1\nkind: RequestAuthentication\nmetadata: {name: jwt, namespace: shop}\nspec:\n  selector: {matchLabels: {app: web}}\n  jwtRules: [{issuer: https://idp.example.com}]\n";
        assert_eq!(codes(&check_yaml(&v, ra)), pairs(&[("MG1009", "/spec/selector")]));
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
